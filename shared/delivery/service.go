// Package delivery is Deliver's domain: one delivery task in, at most one signed POST out, the
// outcome recorded, and the decision to acknowledge or redeliver the task (SPEC §4).
//
// Guarantees: a delivery whose record is final is never POSTed again (a redelivery after a lost
// ack sends nothing); a failure to record an attempt nacks the task, so a POST may repeat but
// an outcome is never lost; retries stop when the window closes, and the task is re-published
// before Pub/Sub's own delivery-attempt limit would dead-letter it.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jobhooks/jobhooks/shared/cache"
	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/retry"
	"github.com/jobhooks/jobhooks/shared/secrets"
	"github.com/jobhooks/jobhooks/shared/sender"
	"github.com/jobhooks/jobhooks/shared/signing"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
	"github.com/jobhooks/jobhooks/shared/topics"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// Signer produces the webhook-signature header of one attempt.
type Signer interface {
	Sign(msgID string, timestamp int64, body []byte) string
}

// Deps are the per-instance clients the service uses.
type Deps struct {
	Store     *store.Store
	Keyring   *secrets.Keyring
	Sender    *sender.Client
	Publisher *topics.Publisher
	Log       *slog.Logger
	// DynamicSigner signs deliveries to per-request URIs (v1a or jwt); nil until configured, in
	// which case dynamic tasks are retried rather than sent unsigned.
	DynamicSigner func(ctx context.Context, targetURL string) (Signer, error)
	// Now is the clock; time.Now when nil. Tests move it to close the retry window.
	Now func() time.Time
}

// Service handles delivery tasks. One per instance; safe for concurrent use.
type Service struct {
	Deps
	cfg      config.Config
	webhooks *cache.TTL[string, target]
}

// New builds the service.
func New(cfg config.Config, d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{Deps: d, cfg: cfg, webhooks: cache.New[string, target](cfg.CacheTTL, d.Now)}
}

// errNotYet nacks a task that arrived before its Retry-After time.
var errNotYet = errors.New("delivery: before the endpoint's Retry-After time")

// Handle processes one pushed task. Its result is turned into ack/nack by pushmsg.Respond.
func (s *Service) Handle(ctx context.Context, m pushmsg.Message) error {
	t, err := task.Decode(m.Data)
	if err != nil {
		return s.deadLetter(ctx, m.Data, task.Task{}, "malformed_task: "+err.Error())
	}
	now := s.Now()
	d, err := s.Store.GetDelivery(ctx, t.Project, t.DeliveryID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		d = newRecord(t, now)
	case err != nil:
		return err
	}

	if t.Series < d.Series || (t.Series == d.Series && t.Generation < d.Generation) {
		// A task superseded by a re-publication or a newer attempt series.
		s.logOutcome(ctx, t, d, "skipped", 0, 0, "superseded")
		return nil
	}
	if t.Series > d.Series {
		d = startSeries(d, t)
	}
	if d.State.Final() {
		if d.Reason == "gone" && !t.Dynamic() {
			if err := s.redoGone(ctx, t, d); err != nil {
				return err
			}
		}
		s.logOutcome(ctx, t, d, "skipped", 0, 0, "already "+string(d.State))
		return nil
	}
	if t.Generation > d.Generation {
		d.Generation, d.Receipts = t.Generation, 0
	}
	d.Receipts++
	if m.DeliveryAttempt > d.Receipts {
		d.Receipts = m.DeliveryAttempt
	}

	if !d.FirstAttemptTime.IsZero() && now.Sub(d.FirstAttemptTime) >= s.cfg.RetryWindow {
		return s.exhaust(ctx, t, d, now)
	}
	if now.Before(d.NextNotBefore) {
		if d.Receipts >= s.cfg.RepublishAfter {
			return s.republish(ctx, t, d)
		}
		if err := s.Store.PutDelivery(ctx, &d); err != nil {
			return stale(err)
		}
		return pushmsg.Retry(errNotYet)
	}

	tg, err := s.target(ctx, t)
	var cancel *cancelled
	switch {
	case errors.As(err, &cancel):
		return s.finish(ctx, t, d, store.Cancelled, cancel.reason, "cancelled", now)
	case errors.Is(err, secrets.ErrDecrypt) || errors.Is(err, secrets.ErrKEKVersionUnusable):
		// Fail closed: never send unsigned. Retrying cannot repair a ciphertext.
		return s.finish(ctx, t, d, store.Failed, "secret_unusable", "failed", now)
	case err != nil:
		return err
	}
	return s.attempt(ctx, t, d, tg, now)
}

// attempt makes one POST, records it and decides what comes next.
func (s *Service) attempt(ctx context.Context, t task.Task, d store.Delivery, tg target, now time.Time) error {
	resp, postErr := s.Sender.Post(ctx, tg.url, headers(t, tg, now.Unix()), t.Body)
	res := retry.Classify(s.Now(), resp.StatusCode, resp.Header, postErr, tg.retriesOn)
	d, a := conclude(d, tg, now, resp, postErr, res)
	if err := s.Store.RecordAttempt(ctx, &d, a); err != nil {
		return stale(err)
	}
	s.logOutcome(ctx, t, d, a.Outcome, resp.StatusCode, resp.Latency, res.Reason)
	if tg.static {
		s.noteHealth(ctx, t, tg, res, now)
	}
	if res.Verdict != retry.Again {
		return nil
	}
	if d.Receipts >= s.cfg.RepublishAfter {
		return s.republish(ctx, t, d)
	}
	return pushmsg.Retry(fmt.Errorf("delivery: attempt %d: %s", d.Attempts, res.Reason))
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

// conclude folds one attempt's result into the delivery record and returns the attempt record.
func conclude(d store.Delivery, tg target, now time.Time, resp sender.Response, postErr error, res retry.Result) (store.Delivery, store.Attempt) {
	d.Attempts++
	d.URL = tg.url
	if d.FirstAttemptTime.IsZero() {
		d.FirstAttemptTime = now
	}
	d.LastAttemptTime, d.LastStatusCode, d.LastLatencyMS = now, resp.StatusCode, resp.Latency.Milliseconds()
	d.LastError, d.NextNotBefore = "", time.Time{}
	if postErr != nil {
		d.LastError = postErr.Error()
	}
	outcome := "retry"
	switch res.Verdict {
	case retry.Delivered:
		d.State, d.Reason, outcome = store.Delivered, "", "delivered"
	case retry.Gone, retry.Failed:
		d.State, d.Reason, outcome = store.Failed, res.Reason, "failed"
	case retry.Again:
		d.NextNotBefore = res.NotBefore
	}
	return d, store.Attempt{
		Number: d.Attempts, Series: d.Series, Time: now, URL: tg.url, StatusCode: resp.StatusCode,
		LatencyMS: d.LastLatencyMS, Outcome: outcome, Error: d.LastError, ResponseBody: string(resp.Body),
	}
}

// finish records a final state reached without an attempt (cancelled, unusable secret).
func (s *Service) finish(ctx context.Context, t task.Task, d store.Delivery, st store.DeliveryState, reason, outcome string, now time.Time) error {
	d.State, d.Reason = st, reason
	if err := s.Store.PutDelivery(ctx, &d); err != nil {
		return stale(err)
	}
	s.logOutcome(ctx, t, d, outcome, 0, 0, reason)
	return nil
}

// exhaust ends a delivery whose retry window has closed: dead-lettered first (so a crash before
// the record write repeats the dead letter rather than losing it), then recorded, then acked.
func (s *Service) exhaust(ctx context.Context, t task.Task, d store.Delivery, now time.Time) error {
	if err := s.deadLetter(ctx, t.Encode(), t, "window_exhausted"); !pushmsg.Acked(err) {
		return err
	}
	return s.finish(ctx, t, d, store.Exhausted, "window_exhausted", "exhausted", now)
}

// republish sends the task again as the next generation and acks this one, keeping the task
// clear of the subscription's 100-delivery dead-letter limit while the window is open. The new
// message is published before the record moves on, so a crash in between leaves two live
// messages (a possible duplicate POST), never none.
func (s *Service) republish(ctx context.Context, t task.Task, d store.Delivery) error {
	next := t
	next.Generation = t.Generation + 1
	if err := s.Publisher.PublishDeliveries(ctx, []topics.Message{{Data: next.Encode(), Attributes: next.Attributes()}}); err != nil {
		return err
	}
	d.Generation, d.Receipts = next.Generation, 0
	if err := s.Store.PutDelivery(ctx, &d); err != nil {
		return stale(err)
	}
	s.Log.InfoContext(ctx, "delivery re-published", "delivery_id", t.DeliveryID, "generation", next.Generation)
	return nil
}

// deadLetter publishes a delivery to the dead-letter topic and acks.
func (s *Service) deadLetter(ctx context.Context, data []byte, t task.Task, reason string) error {
	attrs := map[string]string{"kind": "delivery", "reason": reason}
	if t.DeliveryID != "" {
		attrs["project"], attrs["delivery_id"], attrs["event_id"] = t.Project, t.DeliveryID, t.EventID
	}
	if err := s.Publisher.PublishDeadLetter(ctx, topics.Message{Data: data, Attributes: attrs}); err != nil {
		return err
	}
	return pushmsg.Ack(errors.New("dead-lettered: " + reason))
}

// redoGone disables the webhook of a delivery that ended on a 410, if a crash between the
// record write and the disable lost the latter: nothing else would ever disable it. A change
// made to the webhook after the 410 (re-enabled through the API) stands.
func (s *Service) redoGone(ctx context.Context, t task.Task, d store.Delivery) error {
	w, err := s.Store.GetWebhook(ctx, t.Project, t.Webhook)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if w.State != webhook.Enabled || !w.UpdateTime.Before(d.LastAttemptTime) {
		return nil
	}
	s.webhooks.Forget(t.Project + "/" + t.Webhook)
	return s.Store.DisableForFailures(ctx, t.Project, t.Webhook, "endpoint answered 410 Gone", d.LastAttemptTime)
}

// stale nacks a write refused because the record changed after this copy of the task read it:
// another copy (Pub/Sub pushes a message twice now and then) or DeadLetter wrote it. The
// redelivery reads it afresh and acks at once if it is final; a POST this copy made is at most a
// duplicate, and an outcome it saw is attempted again rather than lost.
func stale(err error) error {
	if errors.Is(err, store.ErrConflict) {
		return pushmsg.Retry(err)
	}
	return err
}

func newRecord(t task.Task, now time.Time) store.Delivery {
	return store.Delivery{
		ID: t.DeliveryID, Project: t.Project, EventID: t.EventID, EventType: t.EventType,
		MessageID: t.MessageID, Webhook: t.Webhook, URL: t.URL, State: store.Pending,
		Generation: t.Generation, Series: t.Series, EventTime: t.EventTime, CreateTime: now,
	}
}

// startSeries resets a record for a new attempt series (replay or manual retry).
func startSeries(d store.Delivery, t task.Task) store.Delivery {
	d.State, d.Reason, d.Series, d.Generation, d.Receipts = store.Pending, "", t.Series, t.Generation, 0
	d.FirstAttemptTime, d.NextNotBefore = time.Time{}, time.Time{}
	return d
}

// logOutcome writes the attempt line of SPEC §7.
func (s *Service) logOutcome(ctx context.Context, t task.Task, d store.Delivery, outcome string, status int, latency time.Duration, reason string) {
	attrs := []any{
		"event_id", t.EventID, "delivery_id", t.DeliveryID, "project", t.Project, "webhook", t.Webhook,
		"target_host", hostOf(d.URL), "attempt", d.Attempts, "status_code", status,
		"latency_ms", latency.Milliseconds(), "outcome", outcome, "reason", reason,
	}
	if outcome == "delivered" && !t.EventTime.IsZero() {
		attrs = append(attrs, "e2e_latency_ms", s.Now().Sub(t.EventTime).Milliseconds())
	}
	level := slog.LevelInfo
	if outcome == "failed" || outcome == "exhausted" {
		level = slog.LevelWarn
	}
	s.Log.Log(ctx, level, "delivery attempt", attrs...)
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}
