package delivery

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/jobhooks/jobhooks/shared/retry"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
	"github.com/jobhooks/jobhooks/shared/tracing"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// First is one target of an event whose first attempt Dispatch makes.
type First struct {
	Task task.Task
	// Webhook is the static target's webhook as Dispatch read it at Read (so the attempt reads
	// it again only if the cache holds no copy); nil for a dynamic target, or for one the
	// attempt is to read itself (a take-over's).
	Webhook *webhook.Webhook
	Read    time.Time
}

// Round is the first attempts of one event: the records to commit, then the tasks to publish for
// the targets that need a retry. Dispatch commits and publishes; Settle finishes the round.
type Round struct {
	firsts []firstResult
}

// firstResult is what the round did for one target.
type firstResult struct {
	task   task.Task
	step   firstStep
	rec    store.Delivery
	out    *outcome // the attempt, when a POST was made
	att    store.Attempt
	retry  bool   // a delivery task must be published
	wait   bool   // ... to the waiting lane: its endpoint held it back
	reason string // why no POST was made, when none was
	span   trace.Span
}

// Records are the delivery records the round wrote to, with their new attempts, in target order.
func (r *Round) Records() []store.Recorded {
	var out []store.Recorded
	for i := range r.firsts {
		f := &r.firsts[i]
		if f.step != attemptFirst {
			continue
		}
		rec := store.Recorded{Delivery: &f.rec}
		if f.out != nil {
			rec.Attempt = &f.att
		}
		out = append(out, rec)
	}
	return out
}

// Retries are the tasks to publish to the deliveries topic once the records are committed: one
// per target whose first attempt asks for a retry, or that a previous holder of the event left
// pending.
func (r *Round) Retries() []task.Task { return r.queued(false) }

// Waits are the tasks to publish to the waiting topic: the targets whose endpoint held them back
// without a POST (no free slot, a pause), shared/delivery/README.md, Isolation.
func (r *Round) Waits() []task.Task { return r.queued(true) }

func (r *Round) queued(wait bool) []task.Task {
	var out []task.Task
	for _, f := range r.firsts {
		if f.retry && f.wait == wait {
			out = append(out, f.task)
		}
	}
	return out
}

// Final reports whether the round leaves nothing to do after its commit but logging: no retry
// task to publish and no webhook to disable. Dispatch then closes the event in the same commit.
func (r *Round) Final() bool {
	for _, f := range r.firsts {
		if f.retry || (f.out != nil && f.out.res.Verdict == retry.Gone && f.out.tg.static) {
			return false
		}
	}
	return true
}

// Counts says how the round's targets ended: delivered, retrying, failed (final otherwise).
func (r *Round) Counts() (delivered, retrying, other int) {
	for _, f := range r.firsts {
		switch {
		case f.retry:
			retrying++
		case f.rec.State == store.Delivered:
			delivered++
		default:
			other++
		}
	}
	return delivered, retrying, other
}

// FirstAttempts makes the first attempt of every target of one event, in parallel (at most
// FirstAttemptConcurrency at once) and within FirstAttemptBudget: an endpoint still answering
// when the budget runs out is cancelled and its attempt recorded as a timeout, to be retried by
// Deliver, so a hanging endpoint never holds the event's other targets or the next events.
// existing holds the targets' records when the event was claimed before (a take-over); on a
// fresh claim it is nil and nothing is read. Nothing is written here: Dispatch commits
// Records, publishes Retries, then calls Settle.
func (s *Service) FirstAttempts(ctx context.Context, firsts []First, existing map[string]store.Delivery) (*Round, error) {
	r := &Round{firsts: make([]firstResult, len(firsts))}
	budget, cancel := context.WithTimeout(ctx, s.cfg.FirstAttemptBudget)
	defer cancel()
	sem := make(chan struct{}, s.cfg.FirstAttemptConcurrency)
	var (
		wg   sync.WaitGroup
		errs []error // of the finished targets' repairs; a first attempt has no error to return
	)
	// The new records are created under Dispatch's span, which they keep (store.Delivery).
	traceparent := tracing.Traceparent(ctx)
	for i, f := range firsts {
		d, found := existing[f.Task.DeliveryID]
		res := &r.firsts[i]
		*res = firstResult{task: f.Task, step: firstFor(d, found), rec: d}
		switch res.step {
		case leaveFinished:
			if err := s.settled(ctx, f.Task, d); err != nil {
				errs = append(errs, err)
			}
			continue
		case queueRetry:
			res.retry = true
			res.task.Generation = d.Generation
			continue
		case leaveToItsTask:
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			s.first(ctx, budget, f, traceparent, res)
		}()
	}
	wg.Wait()
	return r, errors.Join(errs...)
}

// first makes one target's first attempt into res, whose new record keeps traceparent, the
// event's span. The POST runs under budget; what comes after it does not. The attempt's span
// ends with the attempt; Settle logs under it.
func (s *Service) first(ctx, budget context.Context, f First, traceparent string, res *firstResult) {
	ctx, res.span = s.startAttempt(ctx, "POST")
	defer res.span.End()
	now := s.Now()
	res.rec = newRecord(f.Task, now)
	res.rec.WindowStart, res.rec.Traceparent = now, traceparent
	tg, err := s.target(ctx, f.Task, f.Webhook, f.Read)
	if err != nil {
		word := "retry"
		if st, reason := beforePost(err); st != "" {
			res.rec.State, res.rec.Reason, res.reason = st, reason, reason
			word = finalWord(st)
		} else {
			// Deliver tries again; the window runs from now.
			res.retry, res.reason = true, "before_post: "+err.Error()
		}
		markOutcome(res.span, f.Task, hostOf(res.rec.URL), res.rec.Attempts, word, 0, 0, res.reason)
		return
	}
	if budget.Err() != nil {
		// The budget ran out while this target waited for its turn: no POST, Deliver makes it.
		res.retry, res.reason = true, "first_attempt_budget_spent"
		markOutcome(res.span, f.Task, tg.host, res.rec.Attempts, "retry", 0, 0, res.reason)
		return
	}
	if until, err := s.gate(ctx, f.Task, tg, now); err != nil || !until.IsZero() {
		// The endpoint is paused (a Retry-After, or an open circuit until its next probe), or
		// the probe could not be claimed: no POST, Deliver makes it.
		res.retry, res.reason, res.wait, res.rec.Waiting = true, "endpoint_paused", true, store.WaitPaused
		if err != nil {
			res.reason, res.wait, res.rec.Waiting = "before_post: "+err.Error(), false, ""
		}
		markOutcome(res.span, f.Task, tg.host, res.rec.Attempts, "retry", 0, 0, res.reason)
		return
	}
	p, ok, err := s.take(ctx, f.Task, tg, now)
	if ok && budget.Err() != nil {
		// The budget ran out while the slot was taken: no POST, Deliver makes it.
		s.give(ctx, f.Task, p)
		res.retry, res.reason = true, "first_attempt_budget_spent"
		markOutcome(res.span, f.Task, tg.host, res.rec.Attempts, "retry", 0, 0, res.reason)
		return
	}
	if err != nil || !ok {
		// No free slot (or the store failing to say): Dispatch does not wait, Deliver makes the
		// attempt once a slot is free. Waiting is not failing.
		res.retry, res.reason, res.rec.Waiting, res.wait = true, store.WaitThrottled, store.WaitThrottled, true
		if err != nil {
			res.reason, res.rec.Waiting, res.wait = "before_post: "+err.Error(), "", false
		}
		markOutcome(res.span, f.Task, tg.host, res.rec.Attempts, "retry", 0, 0, res.reason)
		return
	}
	give := s.giveOnce(ctx, f.Task, &p)
	defer give()
	res.span.SetName(tg.spanName)
	p.taken = s.Now() // a rate limit's hold runs from the POST's start
	h := headers(f.Task, tg, now.Unix())
	propagate(ctx, tg, h)
	// A POST cut short by the budget is a timeout (sender.ErrTimeout), retried by Deliver.
	resp, postErr := s.Sender.Post(budget, tg.url, h, f.Task.Body)
	give()
	o := outcome{tg: tg, at: now, resp: resp, postErr: postErr, gap: s.cfg.RetryGap,
		res: retry.Classify(s.Now(), resp.StatusCode, resp.Header, postErr, tg.retriesOn)}
	res.rec, res.att = o.fold(res.rec)
	res.out = &o
	res.retry = needsTask(o.res.Verdict)
	markOutcome(res.span, f.Task, tg.host, res.rec.Attempts, o.word(), resp.StatusCode, resp.Latency, o.res.Reason)
}

// Settle finishes a round whose records are committed: the attempt log lines, and the health of
// each static webhook (shared/delivery/README.md, Guarantees: auto-disable). It fails only when a
// webhook that answered 410 could not be disabled: Dispatch then leaves the event open, and the
// take-over finds the record final and disables it (settled).
func (s *Service) Settle(ctx context.Context, r *Round) error {
	var errs []error
	for _, f := range r.firsts {
		if f.step != attemptFirst {
			continue
		}
		ctx := trace.ContextWithSpan(ctx, f.span) // the line joins the attempt's span
		if f.out == nil {
			word := "retry"
			if f.rec.State.Final() {
				word = finalWord(f.rec.State)
			}
			s.logOutcome(ctx, f.task, f.rec, word, 0, 0, f.reason)
			continue
		}
		o := f.out
		s.logOutcome(ctx, f.task, f.rec, o.word(), o.resp.StatusCode, o.resp.Latency, o.res.Reason)
		if o.tg.static {
			errs = append(errs, s.noteHealth(ctx, f.task, o.tg, o.res, o.at))
		}
	}
	return errors.Join(errs...)
}
