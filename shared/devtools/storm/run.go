package storm

import (
	"context"
	"fmt"
	"io"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/jobhooks/jobhooks/shared/devtools/devstack"
	"github.com/jobhooks/jobhooks/shared/jobevents"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/topics"
)

// run is the storm while it runs.
type run struct {
	opts     Options
	plan     plan
	eps      []*endpoint
	received *atomic.Int64
	trap     *trap
	began    time.Time
	progress io.Writer
	// crashes are the kills of Deliver and Dispatch: an attempt made just before has no record.
	crashes []crash
	// failed receives an error that ends the storm (a webhook change the API refused).
	failed   chan error
	timeline []string
	sent     int
	mu       sync.Mutex
}

func (r *run) note(format string, args ...any) {
	line := fmt.Sprintf("%6s  ", since(r.began, time.Now())) + fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.timeline = append(r.timeline, line)
	r.mu.Unlock()
	fmt.Fprintln(r.progress, line)
}

func since(t0, t time.Time) string { return t.Sub(t0).Round(time.Second).String() }

// publish sends every event at the configured rate.
func (r *run) publish(ctx context.Context, ps *pubsub.Client) error {
	pub := jobevents.NewPublisher(ps, topics.JobEvents)
	defer pub.Stop()
	tick := time.NewTicker(time.Second / time.Duration(r.opts.Rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	errs := make(chan error, len(r.plan.events))
	hopeful := 0 // pairs published that can be received
	seen, quiet := r.received.Load(), time.Now()
	for i, ev := range r.plan.events {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		// Pairs a webhook edit leaves out (deleted, disabled, moved) are hopeful yet never
		// received, so the hold gives up while nothing has arrived for a grace period: else a
		// storm with edits could wait for them for ever (seen at 2,000 events).
		for hopeful-int(r.received.Load()) >= r.opts.MaxBacklog && time.Since(quiet) < r.grace() {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
			if n := r.received.Load(); n != seen {
				seen, quiet = n, time.Now()
			}
		}
		for _, to := range r.plan.targets[i] {
			if !r.plan.endpoints[to].hopeless() {
				hopeful++
			}
			r.eps[to].published.Add(1)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := pub.Publish(ctx, jobevents.Event{
				ID: ev.ID, Project: devstack.Project, Type: ev.Type, Timestamp: time.Now(),
				Data: map[string]any{"id": "jobs/" + ev.ID, "output_file_uri": "gs://storm/" + ev.ID + ".jsonl"},
			})
			if err != nil {
				errs <- fmt.Errorf("publish %s: %w", ev.ID, err)
			}
		}()
		r.mu.Lock()
		r.sent++
		r.mu.Unlock()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// posts is the number of requests the endpoints got so far.
func (r *run) posts() (n int) {
	for _, e := range r.eps {
		e.mu.Lock()
		for _, as := range e.answers {
			n += len(as)
		}
		e.mu.Unlock()
	}
	return n
}

// watch reports progress, kills and restarts Deliver once KillAt of the pairs are received (or
// every event is out) and Dispatch DispatchKills times while the events are published, and
// returns once every pair is settled or the wait is over.
func (r *run) watch(ctx context.Context, published <-chan error, fns map[string]*functionProcess, st *store.Store) (bool, error) {
	deliverKilled, dispatchKills := r.opts.KillAt < 0, 0
	var publishedAt time.Time
	// Records left pending although their pair is received are normally final a moment later;
	// the storm waits until the set has not changed for a few redelivery rounds.
	var leftPending map[string]bool
	var leftSince time.Time
	byID := map[string]*endpoint{}
	for _, e := range r.eps {
		byID[e.plan.ID()] = e
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case err := <-r.failed:
			return false, err
		case err := <-published:
			if err != nil {
				return false, err
			}
			publishedAt = time.Now()
			r.note("all %d events published", len(r.plan.events))
			published = nil
		case <-tick.C:
		}
		got, posts, sent := int(r.received.Load()), r.posts(), r.sentCount()
		if !deliverKilled && (float64(got) >= r.opts.KillAt*float64(r.plan.pairs()) || !publishedAt.IsZero()) {
			deliverKilled = true
			if err := r.crash(ctx, fns["Deliver"], fmt.Sprintf("with %d of %d pairs received", got, r.plan.pairs())); err != nil {
				return false, err
			}
		}
		if dispatchKills < r.opts.DispatchKills && sent >= (dispatchKills+1)*len(r.plan.events)/(r.opts.DispatchKills+1) {
			dispatchKills++
			if err := r.crash(ctx, fns["Dispatch"], fmt.Sprintf("(%d of %d) with %d of %d events published", dispatchKills, r.opts.DispatchKills, sent, len(r.plan.events))); err != nil {
				return false, err
			}
		}
		if n%5 != 0 {
			continue
		}
		line := fmt.Sprintf("published %d/%d, received %d/%d pairs, %d POSTs", sent, len(r.plan.events), got, r.plan.pairs(), posts)
		if !publishedAt.IsZero() {
			pr, err := readProgress(ctx, st.Client(), devstack.Project, r.plan, byID, r.stuckAfter())
			if err != nil {
				return false, err
			}
			line += fmt.Sprintf("; %d delivery records, %d pending, %d stuck", pr.records, pr.pending+len(pr.leftPending), pr.stuck)
			if !maps.Equal(pr.leftPending, leftPending) {
				leftPending, leftSince = pr.leftPending, time.Now()
			}
			if pr.settled(r.plan) && (len(leftPending) == 0 || time.Since(leftSince) > r.grace()) {
				fmt.Fprintf(r.progress, "%6s  %s\n", since(r.began, time.Now()), line)
				r.note("every pair settled")
				return true, nil
			}
			if time.Since(publishedAt) > r.opts.Settle {
				r.note("gave up waiting after %s: %s", r.opts.Settle, line)
				return false, nil
			}
		}
		fmt.Fprintf(r.progress, "%6s  %s\n", since(r.began, time.Now()), line)
	}
}

// grace is how long the storm waits for something that should happen at the next redelivery.
func (r *run) grace() time.Duration { return max(3*r.opts.Kick, 30*time.Second) }

// stuckAfter is how long after its window began a delivery must be final: its window, the
// claim lease of a take-over, and the grace of a few redeliveries. A pending record older than
// that, or a planned delivery with no record, is left for good.
func (r *run) stuckAfter() time.Duration { return r.opts.Window + r.opts.ClaimLease + r.grace() }

func (r *run) sentCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent
}
