// Package deadletter is DeadLetter's domain: it records the final state of every message that
// reaches the dead-letter topic and logs it at ERROR.
//
// Four things arrive there: poison job events (kind=job_event, from Dispatch), requests of the
// management API that Dispatch refused (kind=request), deliveries whose retry window closed
// (kind=delivery, reason=window_exhausted, from Deliver), and messages
// Pub/Sub itself gave up on after the subscription's maximum delivery attempts (they carry the
// CloudPubSubDeadLetterSource* attributes). Recording is idempotent per message id.
package deadletter

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/request"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
	"github.com/jobhooks/jobhooks/shared/tracing"
)

// Kinds of dead letters.
const (
	KindJobEvent = "job_event"
	KindDelivery = "delivery"
	// KindRequest is a request of the management API that Dispatch refused (shared/request).
	KindRequest = "request"
)

// keep bounds how much of a dead letter's data is stored for diagnosis.
const keep = 4 << 10

// Service records dead letters. One per instance; safe for concurrent use.
type Service struct {
	Store *store.Store
	Log   *slog.Logger
	Now   func() time.Time
	// Hold is how long after its publish a window_exhausted dead letter waits (nacked) before it
	// is recorded, while its record still says exhausted: a copy of the task whose POST was in
	// flight when the window closed may yet record a 2xx, and a delivered delivery must not
	// alert. Zero records at once.
	Hold time.Duration
	// Tracer receives the handling's span; nil records none (shared/tracing).
	Tracer trace.TracerProvider
}

// HoldFor is the Hold of a deployment: one attempt timeout and the time to record it.
func HoldFor(cfg config.Config) time.Duration { return cfg.AttemptTimeout + config.AttemptMargin }

// errHeld nacks a dead letter that waits out Hold.
var errHeld = errors.New("deadletter: a copy of the task may still be mid-POST; recorded after the attempt timeout")

// Handle records one dead letter. The handling is a span of the trace the dead letter carries
// (of the Dispatch or Deliver that sent it, or of the task Pub/Sub gave up on), with its outcome
// and reason (shared/tracing/README.md, Spans).
func (s *Service) Handle(ctx context.Context, m pushmsg.Message) (err error) {
	ctx, span := tracing.StartHandling(ctx, tracing.Tracer(s.Tracer), "DeadLetter", m)
	defer func() { tracing.End(span, err) }()
	return s.handle(ctx, m)
}

func (s *Service) handle(ctx context.Context, m pushmsg.Message) error {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	d := store.DeadLetter{
		ID: m.MessageID, Kind: m.Attributes["kind"], Reason: m.Attributes["reason"],
		Project: m.Attributes["project"], EventID: m.Attributes["event_id"], DeliveryID: m.Attributes["delivery_id"],
		Source:          m.Attributes["CloudPubSubDeadLetterSourceSubscription"],
		SourceMessageID: m.Attributes["source_message_id"], Data: excerpt(m.Data), Time: now,
	}
	if d.Reason == "" && d.Source != "" {
		d.Reason = "max_delivery_attempts: Pub/Sub gave up after " +
			orUnknown(m.Attributes["CloudPubSubDeadLetterSourceDeliveryCount"]) + " deliveries"
	}
	t, taskErr := task.Decode(m.Data)
	if d.Kind == "" {
		d.Kind = KindJobEvent
		if taskErr == nil {
			d.Kind = KindDelivery
		}
	}
	level, message, outcome := slog.LevelError, "dead letter", OutcomeRecorded
	if d.Kind == KindDelivery && taskErr == nil {
		d.Project, d.EventID, d.DeliveryID, d.Webhook = t.Project, t.EventID, t.DeliveryID, t.Webhook
		delivered, err := s.closeDelivery(ctx, t, d.Reason, now)
		if err != nil {
			return err
		}
		if !delivered && (d.Reason == "window_exhausted" || d.Reason == "throttled") && now.Sub(m.PublishTime) < s.Hold {
			mark(ctx, d, OutcomeHeld)
			return pushmsg.Retry(errHeld)
		}
		if delivered {
			// A copy of the task that was mid-POST when the window closed got a 2xx and
			// recorded it: nothing was lost, so nothing alerts (the alert counts ERROR lines).
			level, message, outcome = slog.LevelWarn, "dead letter superseded: the delivery was delivered", OutcomeSuperseded
			d.Reason += " (superseded: delivered)"
		}
	}
	if d.Kind == KindRequest && d.Source != "" {
		// Pub/Sub gave up on a request (Dispatch kept failing on it): a resend's claimed series
		// will never be sent, so it ends failed rather than pending with no task.
		if r, err := request.Decode(m.Data); err == nil && r.Kind == request.Resend {
			if err := s.Store.FailClaimedSeries(ctx, r.Project, r.DeliveryID, r.Series, r.Claim, "resend_not_sent: "+d.Reason); err != nil {
				return err
			}
		}
	}
	if d.Kind == KindJobEvent && d.Project == "" {
		d.Project = m.Attributes["project"]
	}
	if err := s.Store.RecordDeadLetter(ctx, d); err != nil {
		return err
	}
	s.Log.Log(ctx, level, message, "kind", d.Kind, "reason", d.Reason, "project", d.Project,
		"event_id", d.EventID, "delivery_id", d.DeliveryID, "webhook", d.Webhook, "source", d.Source, "message_id", d.ID)
	mark(ctx, d, outcome)
	return nil
}

// Outcomes of a dead letter's handling, on its span (jobhooks.outcome).
const (
	// OutcomeRecorded: recorded and logged at ERROR; the span is an error.
	OutcomeRecorded = "dead_lettered"
	// OutcomeSuperseded: recorded, but the delivery was delivered meanwhile; nothing alerts.
	OutcomeSuperseded = "superseded"
	// OutcomeHeld: nacked until a copy of the task still mid-POST has had its chance (Hold).
	OutcomeHeld = "held"
)

// mark puts the dead letter and the handling's outcome on its span. A dead letter recorded as
// such is an error, so Trace Explorer shows it with the failed attempts before it.
func mark(ctx context.Context, d store.DeadLetter, outcome string) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{attribute.String(tracing.KeyOutcome, outcome), attribute.String(tracing.KeyReason, d.Reason),
		attribute.String(tracing.KeyKind, d.Kind)}
	for k, v := range map[string]string{tracing.KeyProject: d.Project, tracing.KeyEventID: d.EventID, tracing.KeyDeliveryID: d.DeliveryID} {
		if v != "" { // a poison event may name no project, and has no delivery
			attrs = append(attrs, attribute.String(k, v))
		}
	}
	span.SetAttributes(attrs...)
	if outcome == OutcomeRecorded {
		span.SetStatus(codes.Error, outcome+": "+d.Reason)
	}
}

// closeDelivery makes the delivery's record final, if the dead-lettered task is the live one:
// the record's current attempt series and generation. Deliver records exhausted deliveries
// itself before dead-lettering them (the record is final here already); what this closes is a
// task Pub/Sub gave up on. An older generation (re-published since) or series (retried or
// replayed since) leaves the record to the task that superseded it.
//
// It reports whether the delivery's record says delivered.
func (s *Service) closeDelivery(ctx context.Context, t task.Task, reason string, now time.Time) (bool, error) {
	rec, err := s.Store.GetDelivery(ctx, t.Project, t.DeliveryID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		rec = store.Delivery{
			ID: t.DeliveryID, Project: t.Project, EventID: t.EventID, EventType: t.EventType,
			MessageID: t.MessageID, Webhook: t.Webhook, URL: t.URL, EventTime: t.EventTime, CreateTime: now,
			Series: t.Series, Generation: t.Generation,
			Traceparent: tracing.Traceparent(ctx), // created under this handling's span (store.Delivery)
		}
	case err != nil:
		return false, err
	case rec.State == store.Delivered:
		return true, nil
	case t.Series < rec.Series || t.Series == rec.Series && t.Generation < rec.Generation:
		return false, nil // superseded; the live task is still running
	case t.Series == rec.Series && rec.State.Final():
		return false, nil
	}
	if t.Series > rec.Series {
		// Pub/Sub gave up on a retry or replay before Deliver ever recorded its series.
		rec.Series, rec.Generation = t.Series, t.Generation
	}
	rec.State, rec.Reason = store.Exhausted, reason
	if err := s.Store.PutDelivery(ctx, &rec); errors.Is(err, store.ErrConflict) {
		// Deliver wrote the record meanwhile: the redelivery reads it afresh.
		return false, pushmsg.Retry(err)
	} else if err != nil {
		return false, err
	}
	return false, nil
}

// excerpt keeps the start of the data as valid UTF-8 text.
func excerpt(b []byte) string {
	if len(b) > keep {
		b = b[:keep]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown number of"
	}
	return s
}
