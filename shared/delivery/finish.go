package delivery

import (
	"context"
	"errors"

	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
	"github.com/jobhooks/jobhooks/shared/topics"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// reasonWindow is the reason of a delivery whose retry window closed.
const reasonWindow = "window_exhausted"

// reasonThrottled is the reason of a delivery whose window closed while it waited for a slot.
const reasonThrottled = "throttled"

// finish records a final state reached without an attempt (cancelled, unusable secret).
func (s *Service) finish(ctx context.Context, t task.Task, d store.Delivery, st store.DeliveryState, reason string) error {
	d.State, d.Reason = st, reason
	if err := s.Store.PutDelivery(ctx, &d); err != nil {
		return stale(err)
	}
	s.logOutcome(ctx, t, d, finalWord(st), 0, 0, reason)
	return nil
}

// finalWord is the outcome word of a final state reached without an attempt.
func finalWord(st store.DeliveryState) string {
	if st == store.Cancelled {
		return "cancelled"
	}
	return "failed"
}

// exhaust ends a delivery whose retry window has closed: recorded exhausted first, then
// dead-lettered, then acked. The record comes first so that the write is conditional on what
// this copy read: a copy of the task that got a 2xx meanwhile either recorded first (this write
// conflicts, and the redelivery finds the delivery delivered: no dead letter) or records after
// (its success overrides the exhausted state, see record). A crash between the two writes is
// repaired by the redelivery (settled): an exhausted record not yet marked dead-lettered.
func (s *Service) exhaust(ctx context.Context, t task.Task, d store.Delivery) error {
	d.State, d.Reason = store.Exhausted, reasonWindow
	if d.Waiting == store.WaitThrottled {
		// It waited for a slot until the window closed (shared/delivery/README.md, Throttle).
		d.Reason = reasonThrottled
	}
	if err := s.Store.PutDelivery(ctx, &d); err != nil {
		return stale(err)
	}
	s.logOutcome(ctx, t, d, "exhausted", 0, 0, d.Reason)
	return s.sendDeadLetter(ctx, t, d)
}

// sendDeadLetter publishes an exhausted delivery's dead letter and marks the record. A crash or
// a failed mark after the publish repeats the dead letter at the next redelivery: a dead letter
// may be recorded twice, never lost.
func (s *Service) sendDeadLetter(ctx context.Context, t task.Task, d store.Delivery) error {
	if err := s.deadLetter(ctx, t.Encode(), t, d.Reason); !pushmsg.Acked(err) {
		return err
	}
	d.DeadLettered = true
	if err := s.Store.PutDelivery(ctx, &d); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	return nil
}

// settled handles a task whose delivery is final already: nothing is sent. It finishes what a
// crash may have cut short after the final record was written — the dead letter of an exhausted
// delivery, the disable of a webhook that answered 410 — and acks.
func (s *Service) settled(ctx context.Context, t task.Task, d store.Delivery) error {
	switch {
	case d.State == store.Exhausted && d.Reason == reasonWindow && !d.DeadLettered:
		if err := s.sendDeadLetter(ctx, t, d); !pushmsg.Acked(err) {
			return err
		}
	case d.Gone():
		if err := s.redoGone(ctx, t, d); err != nil {
			return err
		}
	}
	s.logOutcome(ctx, t, d, "skipped", 0, 0, "already "+string(d.State))
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
// made to the webhook after the 410 (re-enabled through the API, or moved to another URL than
// the one that answered it) stands.
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
	return s.Store.DisableGone(ctx, t.Project, t.Webhook, d.URL, t.QueueTime, d.LastAttemptTime)
}
