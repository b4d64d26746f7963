// Package deadletter is DeadLetter's domain: it records the final state of every message that
// reaches the dead-letter topic and logs it at ERROR.
//
// Three things arrive there: poison job events (kind=job_event, from Dispatch), deliveries whose
// retry window closed (kind=delivery, reason=window_exhausted, from Deliver), and messages
// Pub/Sub itself gave up on after the subscription's maximum delivery attempts (they carry the
// CloudPubSubDeadLetterSource* attributes). Recording is idempotent per message id.
package deadletter

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
)

// Kinds of dead letters.
const (
	KindJobEvent = "job_event"
	KindDelivery = "delivery"
)

// keep bounds how much of a dead letter's data is stored for diagnosis.
const keep = 4 << 10

// Service records dead letters. One per instance; safe for concurrent use.
type Service struct {
	Store *store.Store
	Log   *slog.Logger
	Now   func() time.Time
}

// Handle records one dead letter.
func (s *Service) Handle(ctx context.Context, m pushmsg.Message) error {
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
	if d.Kind == KindDelivery && taskErr == nil {
		d.Project, d.EventID, d.DeliveryID = t.Project, t.EventID, t.DeliveryID
		if err := s.closeDelivery(ctx, t, d.Reason, now); err != nil {
			return err
		}
	}
	if d.Kind == KindJobEvent && d.Project == "" {
		d.Project = m.Attributes["project"]
	}
	if err := s.Store.RecordDeadLetter(ctx, d); err != nil {
		return err
	}
	s.Log.ErrorContext(ctx, "dead letter", "kind", d.Kind, "reason", d.Reason, "project", d.Project,
		"event_id", d.EventID, "delivery_id", d.DeliveryID, "source", d.Source, "message_id", d.ID)
	return nil
}

// closeDelivery makes the delivery's record final, unless it already is (Deliver records
// exhausted deliveries itself before dead-lettering them).
func (s *Service) closeDelivery(ctx context.Context, t task.Task, reason string, now time.Time) error {
	rec, err := s.Store.GetDelivery(ctx, t.Project, t.DeliveryID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		rec = store.Delivery{
			ID: t.DeliveryID, Project: t.Project, EventID: t.EventID, EventType: t.EventType,
			MessageID: t.MessageID, Webhook: t.Webhook, URL: t.URL, EventTime: t.EventTime, CreateTime: now,
		}
	case err != nil:
		return err
	case rec.State.Final():
		return nil
	}
	if t.Series < rec.Series {
		return nil // an older series; the current one is still running
	}
	rec.State, rec.Reason = store.Exhausted, reason
	if err := s.Store.PutDelivery(ctx, &rec); errors.Is(err, store.ErrConflict) {
		// Deliver wrote the record meanwhile: the redelivery reads it afresh.
		return pushmsg.Retry(err)
	} else if err != nil {
		return err
	}
	return nil
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
