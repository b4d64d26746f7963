package delivery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/retry"
	"github.com/jobhooks/jobhooks/shared/sender"
	"github.com/jobhooks/jobhooks/shared/signing"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
)

// attempt makes one POST, records it and decides what comes next.
// It holds p, its place under the throttle, until the POST returns.
func (s *Service) attempt(ctx context.Context, m pushmsg.Message, t task.Task, d store.Delivery, tg target, p place) error {
	give := s.giveOnce(ctx, t, &p)
	defer give() // whatever happens before the POST returns
	ctx, span := s.startAttempt(ctx, tg.spanName)
	defer span.End()
	now := s.Now()
	p.taken = now // a rate limit's hold runs from the POST's start
	h := headers(t, tg, now.Unix())
	propagate(ctx, tg, h)
	resp, postErr := s.Sender.Post(ctx, tg.url, h, t.Body)
	give()
	o := outcome{tg: tg, at: now, resp: resp, postErr: postErr, gap: s.cfg.RetryGap,
		res: retry.Classify(s.Now(), resp.StatusCode, resp.Header, postErr, tg.retriesOn)}
	rec, kept, err := s.record(ctx, d, o)
	if err != nil {
		// Pub/Sub redelivers the task; the span still says what the POST got.
		markOutcome(span, t, tg.host, d.Attempts+1, "retry", resp.StatusCode, resp.Latency, "not_recorded")
		return err
	}
	d = rec
	if !kept {
		s.logOutcome(ctx, t, d, "skipped", resp.StatusCode, resp.Latency, "recorded meanwhile as "+string(d.State))
		return nil
	}
	s.logOutcome(ctx, t, d, o.word(), resp.StatusCode, resp.Latency, o.res.Reason)
	if tg.static {
		if err := s.noteHealth(ctx, t, tg, o.res, now); err != nil {
			return err
		}
	}
	if o.res.Verdict != retry.Again {
		return nil
	}
	return s.later(ctx, m, t, &d, pushmsg.Retry(fmt.Errorf("delivery: attempt %d: %s", d.Attempts, o.res.Reason)))
}

// record writes the attempt into the record d was read as. If the record changed meanwhile
// (another copy of the task recorded first, or the window closed on it), the attempt is folded
// into the record as it is now: a success always stands — the POST was answered 2xx, so the
// delivery is delivered even if the record had turned exhausted or cancelled meanwhile — and any
// other outcome is dropped when the record has become final (kept is false). A second conflict
// nacks: the redelivery reads the record afresh.
func (s *Service) record(ctx context.Context, d store.Delivery, o outcome) (store.Delivery, bool, error) {
	rec, a := o.fold(d)
	err := s.Store.RecordAttempt(ctx, &rec, a)
	if !errors.Is(err, store.ErrConflict) {
		return rec, err == nil, stale(err)
	}
	fresh, err := s.Store.GetDelivery(ctx, d.Project, d.ID)
	if err != nil {
		return d, false, err
	}
	delivered := o.res.Verdict == retry.Delivered
	switch {
	case fresh.Series < d.Series:
		// This copy started a new series on a record that another writer changed in its old
		// one: the redelivery starts the series afresh.
		return d, false, pushmsg.Retry(fmt.Errorf("delivery: series %d not recorded: %w", d.Series, store.ErrConflict))
	case fresh.Series > d.Series, fresh.State.Final() && (!delivered || fresh.State == store.Delivered):
		return fresh, false, nil
	}
	rec, a = o.fold(fresh)
	if err := s.Store.RecordAttempt(ctx, &rec, a); err != nil {
		return rec, false, stale(err)
	}
	return rec, true, nil
}

// outcome is one attempt's result, before it is recorded.
type outcome struct {
	tg      target
	at      time.Time
	resp    sender.Response
	postErr error
	res     retry.Result
	// gap is the least time until the next attempt after one to retry (config.RetryGap).
	gap time.Duration
}

// word is the outcome field of the attempt's log line and record.
func (o outcome) word() string {
	switch o.res.Verdict {
	case retry.Delivered:
		return "delivered"
	case retry.Gone, retry.Failed:
		return "failed"
	}
	return "retry"
}

// fold adds the attempt to the delivery record d and returns the record and the attempt record.
func (o outcome) fold(d store.Delivery) (store.Delivery, store.Attempt) {
	d.Attempts++
	d.URL = o.tg.url
	if d.FirstAttemptTime.IsZero() {
		d.FirstAttemptTime = o.at
	}
	d.LastAttemptTime, d.LastStatusCode, d.LastLatencyMS = o.at, o.resp.StatusCode, o.resp.Latency.Milliseconds()
	d.LastError, d.NextNotBefore, d.Waiting = "", time.Time{}, ""
	if o.postErr != nil {
		d.LastError = strings.ToValidUTF8(o.postErr.Error(), "\uFFFD")
	}
	switch o.res.Verdict {
	case retry.Delivered:
		d.State, d.Reason = store.Delivered, ""
	case retry.Gone, retry.Failed:
		d.State, d.Reason = store.Failed, o.res.Reason
	case retry.Again:
		// The endpoint's Retry-After, and never sooner than the gap: an early push of the task
		// must not POST a failing endpoint twice in one backoff.
		d.NextNotBefore = o.res.NotBefore
		if next := o.at.Add(o.resp.Latency + o.gap); next.After(d.NextNotBefore) { // from the answer
			d.NextNotBefore = next
		}
	}
	return d, store.Attempt{
		Number: d.Attempts, Series: d.Series, Time: o.at, URL: o.tg.url, StatusCode: o.resp.StatusCode,
		LatencyMS: d.LastLatencyMS, Outcome: o.word(), Error: d.LastError, ResponseBody: o.resp.Excerpt(),
	}
}

// headers are the request headers of one attempt: the webhook's own, then the signature
// headers. The API never lets a webhook set a webhook-* header; one stored around it (in any
// letter case, or with "_", which CGI-style receivers read as "-") is dropped here, so that a
// receiver never sees a second webhook-id, -timestamp or -signature beside Jobhooks' own.
func headers(t task.Task, tg target, ts int64) http.Header {
	h := make(http.Header, len(tg.headers)+3)
	for _, rh := range tg.headers {
		if strings.HasPrefix(strings.ReplaceAll(strings.ToLower(rh.Key), "_", "-"), "webhook-") {
			continue
		}
		h.Add(rh.Key, rh.Value)
	}
	h[signing.HeaderID] = []string{t.MessageID}
	h[signing.HeaderTimestamp] = []string{strconv.FormatInt(ts, 10)}
	h[signing.HeaderSignature] = []string{tg.signer.Sign(t.MessageID, ts, t.Body)}
	return h
}
