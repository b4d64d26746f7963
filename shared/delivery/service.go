// Package delivery is Deliver's domain: one delivery task in, at most one signed POST out, the
// outcome recorded, and the decision to acknowledge or redeliver the task
// (shared/delivery/README.md, Guarantees).
//
// Guarantees: a delivery whose record is final is never POSTed again (a redelivery after a lost
// ack sends nothing); a failure to record an attempt nacks the task, so a POST may repeat but
// an outcome is never lost; retries stop when the window closes, and the task is re-published
// before Pub/Sub's own delivery-attempt limit or its retention would end it; a task queued
// before its webhook was re-created or re-enabled is cancelled, never sent to the new one.
package delivery

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/jobhooks/jobhooks/shared/cache"
	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/secrets"
	"github.com/jobhooks/jobhooks/shared/sender"
	"github.com/jobhooks/jobhooks/shared/signing"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
	"github.com/jobhooks/jobhooks/shared/topics"
	"github.com/jobhooks/jobhooks/shared/tracing"
)

// Deps are the per-instance clients the service uses.
type Deps struct {
	Store     *store.Store
	Keyring   *secrets.Keyring
	Sender    *sender.Client
	Publisher *topics.Publisher
	Log       *slog.Logger
	// DynamicSigner signs deliveries to per-request URIs (v1a or jwt); nil until configured, in
	// which case dynamic tasks are retried rather than sent unsigned.
	DynamicSigner func(ctx context.Context, targetURL string) (signing.Signer, error)
	// Now is the clock; time.Now when nil. Tests move it to close the retry window.
	Now func() time.Time
	// Tracer receives the handling and attempt spans; nil records none (shared/tracing).
	Tracer trace.TracerProvider
}

// Service handles delivery tasks. One per instance; safe for concurrent use.
type Service struct {
	Deps
	cfg      config.Config
	webhooks *cache.TTL[string, target]
	pauses   pauses
	origins  origins
	health   health
	// inFlightTried is when this instance last asked to change an endpoint's lowered in-flight
	// bound (setInFlight), per project/webhook.
	inFlightTried sync.Map
	// busy is, per project/webhook, until when this instance asks the store for no slot: it
	// found every slot it tried held (throttle.go).
	busy   sync.Map
	tracer trace.Tracer
}

// New builds the service.
func New(cfg config.Config, d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	s := &Service{Deps: d, cfg: cfg, webhooks: cache.New[string, target](cfg.CacheTTL, d.Now), pauses: pauses{ttl: cfg.CacheTTL},
		origins: origins{limit: cfg.OriginMaxInFlight},
		tracer:  tracing.Tracer(d.Tracer)}
	s.health = health{write: s.writeHealth, wait: store.HealthEvery, failed: func(key string, err error) {
		s.Log.Error("webhook health not recorded", "webhook", key, "error", err.Error())
	}}
	return s
}

// errNotYet nacks a task that arrived before its next attempt's time: the endpoint's
// Retry-After, or the retry gap after a failed attempt (config.RetryGap).
var errNotYet = errors.New("delivery: before the next attempt's time (the endpoint's Retry-After, or the gap after a failed attempt)")

// Handle processes one pushed task. Its result is turned into ack/nack by pushmsg.Respond. The
// handling is a span of the event's trace, carried in the task's attributes.
func (s *Service) Handle(ctx context.Context, m pushmsg.Message) (err error) {
	t, decodeErr := task.Decode(m.Data)
	attrs := taskAttributes(t)
	ctx, span := tracing.StartHandling(ctx, s.tracer, "Deliver", m, attrs[:]...)
	defer func() { tracing.End(span, err) }()
	if decodeErr != nil {
		return s.deadLetter(ctx, m.Data, task.Task{}, "malformed_task: "+decodeErr.Error())
	}
	err = s.handle(ctx, m, t)
	var hb handedBack
	if pushmsg.Acked(err) || errors.As(err, &hb) {
		return err
	}
	// Every other nack (a record, dead letter or disable that could not be written) obeys the
	// same rule: the task is kept clear of Pub/Sub's retention and dead-letter limit.
	return s.later(ctx, m, t, nil, err)
}

func (s *Service) handle(ctx context.Context, m pushmsg.Message, t task.Task) error {
	now := s.Now()
	d, err := s.Store.GetDelivery(ctx, t.Project, t.DeliveryID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Created under this handling's span, which the record keeps (store.Delivery).
		d = newRecord(t, now)
		d.Traceparent = tracing.Traceparent(ctx)
	case err != nil:
		// Nothing can be recorded; the task is still kept clear of Pub/Sub's retention.
		return s.later(ctx, m, t, nil, err)
	}

	st, d := receive(t, d, now, m.DeliveryAttempt, s.cfg.RetryWindow)
	switch st {
	case superseded:
		s.logOutcome(ctx, t, d, "skipped", 0, 0, "superseded")
		return nil
	case settled:
		return s.settled(ctx, t, d)
	case exhaust:
		return s.exhaust(ctx, t, d)
	case wait:
		return s.receipt(ctx, m, t, d, pushmsg.Retry(errNotYet))
	}

	tg, err := s.target(ctx, t, nil, time.Time{})
	if err != nil {
		if st, reason := beforePost(err); st != "" {
			return s.finish(ctx, t, d, st, reason)
		}
		// A webhook read, Secret Manager or a signer failed before the POST: the receipt counts
		// toward re-publication and the window as a failed attempt would.
		return s.receipt(ctx, m, t, d, err)
	}
	until, err := s.gate(ctx, t, tg, now)
	if err != nil {
		return s.receipt(ctx, m, t, d, err)
	}
	if !until.IsZero() {
		// The endpoint is paused (a Retry-After, or an open circuit until its next probe): no
		// POST, no failed attempt. The delivery's own next attempt time is left alone: the
		// pause may end sooner (a probe's 2xx), and the next push asks the gate again.
		d.Waiting = store.WaitPaused
		s.logWait(ctx, t, d, "paused")
		return s.hold(ctx, m, t, d, pushmsg.Retry(errPaused))
	}
	key := t.Project + "/" + t.Webhook
	noted := s.pauses.until(key, now) // a probe's own claim, if this delivery is the probe
	p, ok, err := s.waitPlace(ctx, t, tg, s.cfg.SlotWait)
	if err != nil {
		return s.receipt(ctx, m, t, d, err)
	}
	if !ok {
		// Waiting is not failing: no attempt, no health streak; the window keeps running.
		d.Waiting = store.WaitThrottled
		s.logWait(ctx, t, d, "throttled")
		return s.hold(ctx, m, t, d, pushmsg.Retry(errThrottled))
	}
	if until := s.pauses.until(key, s.Now()); until.After(noted) {
		// The endpoint was paused while this push waited for its slot (this instance learnt of
		// it: a Retry-After, or another delivery's probe claimed).
		s.give(ctx, t, p)
		d.Waiting = store.WaitPaused
		s.logWait(ctx, t, d, "paused")
		return s.hold(ctx, m, t, d, pushmsg.Retry(errPaused))
	}
	return s.attempt(ctx, m, t, d, tg, p)
}

// receipt records a receipt that made no attempt (its count and the window's start), then
// leaves the task for later.
func (s *Service) receipt(ctx context.Context, m pushmsg.Message, t task.Task, d store.Delivery, cause error) error {
	if err := s.Store.PutDelivery(ctx, &d); err != nil {
		return s.later(ctx, m, t, nil, stale(err))
	}
	return s.later(ctx, m, t, &d, cause)
}

// hold leaves a task whose endpoint holds it back (no free slot, a pause) for later, its receipt
// recorded. On the waiting lane it is handed back as any task is; from the deliveries lane it
// moves to the waiting lane at once, re-published there as the next generation and this push
// acked, so that its waits nack only the waiting subscription (shared/delivery/README.md, Isolation).
func (s *Service) hold(ctx context.Context, m pushmsg.Message, t task.Task, d store.Delivery, cause error) error {
	if onWaitingLane(m) {
		return s.receipt(ctx, m, t, d, cause)
	}
	if err := s.republish(ctx, t, &d, true); err != nil {
		return handedBack{errors.Join(cause, err)}
	}
	return nil
}

// onWaitingLane reports whether m was pushed by the waiting subscription (after any name prefix).
func onWaitingLane(m pushmsg.Message) bool {
	return strings.HasSuffix(m.Subscription, "/"+topics.WaitingSubscription) || strings.HasSuffix(m.Subscription, "-"+topics.WaitingSubscription)
}

// later hands the task back to Pub/Sub for another try: a nack with cause, or a re-publication
// (handBackFor). d is nil when the record could not be read or written: the receipts are then
// Pub/Sub's own count, which production sends with a dead-letter policy.
func (s *Service) later(ctx context.Context, m pushmsg.Message, t task.Task, d *store.Delivery, cause error) error {
	age, receipts := time.Duration(-1), m.DeliveryAttempt
	if !m.PublishTime.IsZero() {
		age = s.Now().Sub(m.PublishTime)
	}
	if d != nil {
		receipts = max(receipts, d.Receipts)
	}
	if handBackFor(age, receipts, s.cfg) == nack {
		return handedBack{cause}
	}
	if err := s.republish(ctx, t, d, onWaitingLane(m)); err != nil {
		return handedBack{errors.Join(cause, err)}
	}
	return nil
}

// handedBack is a nack that later decided: Handle does not decide it again.
type handedBack struct{ error }

func (h handedBack) Unwrap() error { return h.error }

// republish sends the task again as the next generation, to the waiting lane or the deliveries
// lane, and acks this one. The new message is
// published before the record moves on, so a crash in between leaves two live messages (a
// possible duplicate POST), never none. d may be nil (the store is failing): the new generation
// then supersedes this one when it is first handled.
func (s *Service) republish(ctx context.Context, t task.Task, d *store.Delivery, waiting bool) error {
	next := t
	next.Generation = t.Generation + 1
	publish, lane := s.Publisher.PublishDeliveries, "deliveries"
	if waiting {
		publish, lane = s.Publisher.PublishWaiting, "waiting"
	}
	if err := publish(ctx, []topics.Message{{Data: next.Encode(), Attributes: next.Attributes()}}); err != nil {
		return err
	}
	s.Log.InfoContext(ctx, "delivery re-published", "delivery_id", t.DeliveryID, "generation", next.Generation, "lane", lane)
	if d == nil {
		return nil
	}
	d.Generation, d.Receipts = next.Generation, 0
	if err := s.Store.PutDelivery(ctx, d); err != nil && !errors.Is(err, store.ErrConflict) {
		// The new generation is out and supersedes this one by its number alone; a record
		// changed meanwhile (a conflict) is the other writer's to keep.
		s.Log.WarnContext(ctx, "re-published delivery's generation not recorded", "delivery_id", t.DeliveryID, "error", err.Error())
	}
	return nil
}

// stale marks a write refused because the record changed after this copy of the task read it:
// another copy (Pub/Sub pushes a message twice now and then) or DeadLetter wrote it. The
// redelivery reads it afresh and acks at once if it is final.
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

// logOutcome writes the attempt line of shared/tracing/README.md, Logs join the trace.
func (s *Service) logOutcome(ctx context.Context, t task.Task, d store.Delivery, outcome string, status int, latency time.Duration, reason string) {
	host := hostOf(d.URL)
	level := slog.LevelInfo
	if outcome == "failed" || outcome == "exhausted" {
		level = slog.LevelWarn
	}
	// Attrs, not key-value pairs: no value is boxed, and the array stays on the stack.
	attrs := [...]slog.Attr{
		slog.String("event_id", t.EventID), slog.String("delivery_id", t.DeliveryID), slog.String("project", t.Project),
		slog.String("webhook", t.Webhook), slog.String("target_host", host), slog.Int("attempt", d.Attempts),
		slog.Int("status_code", status), slog.Int64("latency_ms", latency.Milliseconds()),
		slog.String("outcome", outcome), slog.String("reason", reason), {},
	}
	n := len(attrs) - 1
	if outcome == "delivered" && !t.EventTime.IsZero() {
		attrs[n] = slog.Int64("e2e_latency_ms", s.Now().Sub(t.EventTime).Milliseconds())
		n++
	}
	s.Log.LogAttrs(ctx, level, "delivery attempt", attrs[:n]...)
	markOutcome(trace.SpanFromContext(ctx), t, host, d.Attempts, outcome, status, latency, reason)
}

// logWait writes the line of a receipt that waited for its endpoint without an attempt: the
// log-based metric of waiting deliveries counts them by reason (throttled, paused).
func (s *Service) logWait(ctx context.Context, t task.Task, d store.Delivery, reason string) {
	s.Log.InfoContext(ctx, "delivery waits", "delivery_id", t.DeliveryID, "project", t.Project, "webhook", t.Webhook,
		"target_host", hostOf(d.URL), "outcome", "waiting", "reason", reason, "receipts", d.Receipts)
}

// hostOf is the host (and port) of a target's URL as url.Parse reads it, "" where url.Parse
// refuses the URL. The plain http(s)://name[:port]/... that webhook URLs are is read without
// url.Parse's allocations; anything else (IPv6 brackets, user info, percent escapes, control
// bytes) is left to url.Parse.
func hostOf(raw string) string {
	rest, ok := strings.CutPrefix(raw, "https://")
	if !ok {
		rest, ok = strings.CutPrefix(raw, "http://")
	}
	if ok && plainURL(rest) {
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		if host := rest[:end]; plainHost(host) {
			return host
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// plainURL reports whether rest has no byte url.Parse could refuse or unescape: no control
// byte, no '%', nothing outside ASCII.
func plainURL(rest string) bool {
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c <= ' ' || c >= 0x7f || c == '%' {
			return false
		}
	}
	return true
}

// plainHost reports whether host is a name of letters, digits, dots and dashes, with an
// optional port of digits after one colon.
func plainHost(host string) bool {
	name, port, _ := strings.Cut(host, ":")
	if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != "" {
		return false
	}
	return strings.Trim(port, "0123456789") == ""
}

func firstNonZero(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}
