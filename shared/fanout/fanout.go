// Package fanout is Dispatch's domain: one job event in, one delivery task out per target
// (SPEC §1–3).
//
// Guarantees: an invalid event is dead-lettered with its reason and acknowledged, never retried;
// a valid event is acknowledged only once every task is published; the same event id published
// twice fans out once (the event record is claimed with create-if-absent); a crash mid fan-out
// leads to a redelivery that publishes the tasks again under the same delivery ids, which
// Deliver deduplicates by record.
package fanout

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jobhooks/jobhooks/shared/cache"
	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
	"github.com/jobhooks/jobhooks/shared/topics"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// ClaimLease is how long a Dispatch instance holds an event it is fanning out; past it another
// instance may take over (the holder crashed). It exceeds the publish timeout.
const ClaimLease = 2 * time.Minute

// Deps are the per-instance clients the service uses.
type Deps struct {
	Store     *store.Store
	Publisher *topics.Publisher
	Log       *slog.Logger
	Now       func() time.Time
}

// Service fans job events out. One per instance; safe for concurrent use.
type Service struct {
	Deps
	// webhooks caches each project's webhook list: Dispatch reads it for every event, and a
	// change through the API must show within the cache TTL (SPEC §4).
	webhooks *cache.TTL[string, []webhook.Webhook]
}

// New builds the service.
func New(cfg config.Config, d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{Deps: d, webhooks: cache.New[string, []webhook.Webhook](cfg.CacheTTL, d.Now)}
}

var errClaimed = errors.New("fanout: event is being dispatched by another instance")

// Handle processes one pushed job event. Its result is turned into ack/nack by pushmsg.Respond.
func (s *Service) Handle(ctx context.Context, m pushmsg.Message) error {
	ev, err := event.Parse(m.Data, m.Attributes)
	var inv *event.Invalid
	if errors.As(err, &inv) {
		return s.poison(ctx, m, inv.Reason)
	}
	if err != nil {
		return err
	}
	now := s.Now()
	claim, err := s.Store.ClaimEvent(ctx, store.EventRecord{
		Project: ev.Project, ID: ev.ID, Type: ev.Type, EventTime: ev.Timestamp, Body: ev.Body(),
	}, ClaimLease, now)
	switch {
	case err != nil:
		return err
	case claim == store.AlreadyDispatched:
		s.Log.InfoContext(ctx, "duplicate job event ignored", "event_id", ev.ID, "project", ev.Project)
		return nil
	case claim == store.ClaimedElsewhere:
		return pushmsg.Retry(errClaimed)
	}

	tasks, err := s.tasks(ctx, ev, m.Attributes[TargetWebhookAttribute])
	if err != nil {
		return s.release(ctx, ev, err)
	}
	msgs := make([]topics.Message, len(tasks))
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		msgs[i] = topics.Message{Data: t.Encode(), Attributes: t.Attributes()}
		ids[i] = t.DeliveryID
	}
	if err := s.Publisher.PublishDeliveries(ctx, msgs); err != nil {
		return s.release(ctx, ev, err)
	}
	if err := s.Store.MarkDispatched(ctx, ev.Project, ev.ID, ids, ev.WebhookConfig != nil, s.Now()); err != nil {
		// The tasks are out; a redelivery re-publishes them under the same ids, which Deliver
		// deduplicates. Nack so the record is written.
		return err
	}
	s.Log.InfoContext(ctx, "job event dispatched", "event_id", ev.ID, "project", ev.Project,
		"type", ev.Type, "targets", len(tasks), "dynamic", ev.WebhookConfig != nil)
	return nil
}

// TargetWebhookAttribute, set on a job event, sends it to that one webhook of the event's project
// whatever its subscriptions: the API's ping uses it. A disabled webhook still gets nothing.
const TargetWebhookAttribute = "target_webhook"

// tasks builds one task per target: the per-request URIs when the event carries a
// webhook_config, the one webhook named by the target attribute, otherwise every enabled webhook
// of the project subscribed to the type.
func (s *Service) tasks(ctx context.Context, ev event.JobEvent, targetWebhook string) ([]task.Task, error) {
	body := ev.Body()
	base := task.Task{
		Project: ev.Project, EventID: ev.ID, EventType: ev.Type, EventTime: ev.Timestamp,
		MessageID: event.MessageID(ev.Project, ev.ID), Body: body,
	}
	var out []task.Task
	if ev.WebhookConfig != nil {
		for _, uri := range ev.WebhookConfig.URIs {
			t := base
			t.URL = uri
			t.DeliveryID = event.DeliveryID(ev.Project, ev.ID, "uri:"+uri)
			out = append(out, t)
		}
		return out, nil
	}
	hooks, err := s.candidates(ctx, ev.Project, targetWebhook)
	if err != nil {
		return nil, err
	}
	for _, w := range hooks {
		wanted := w.Subscribes(ev.Type)
		if targetWebhook != "" {
			wanted = w.ID == targetWebhook
		}
		if w.State != webhook.Enabled || !wanted {
			continue
		}
		t := base
		t.Webhook = w.ID
		t.DeliveryID = event.DeliveryID(ev.Project, ev.ID, "webhook:"+w.ID)
		out = append(out, t)
	}
	return out, nil
}

// candidates are the webhooks an event may go to: the project's list (cached), or the one
// targeted webhook read fresh, so a ping right after creating a webhook finds it.
func (s *Service) candidates(ctx context.Context, project, targetWebhook string) ([]webhook.Webhook, error) {
	if targetWebhook == "" {
		return s.webhooks.Get(project, func() ([]webhook.Webhook, error) { return s.Store.ListWebhooks(ctx, project) })
	}
	w, err := s.Store.GetWebhook(ctx, project, targetWebhook)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []webhook.Webhook{w}, nil
}

// release gives the claim up and nacks, so the redelivery fans out without waiting for the lease.
func (s *Service) release(ctx context.Context, ev event.JobEvent, cause error) error {
	if err := s.Store.ReleaseEvent(ctx, ev.Project, ev.ID); err != nil {
		s.Log.WarnContext(ctx, "event claim not released; redelivery waits for the lease",
			"event_id", ev.ID, "project", ev.Project, "error", err.Error())
	}
	return cause
}

// poison dead-letters an invalid event with its reason and acks it: it can never succeed. If the
// dead letter cannot be published the event is nacked, so it is not lost.
func (s *Service) poison(ctx context.Context, m pushmsg.Message, reason string) error {
	attrs := map[string]string{"kind": "job_event", "reason": reason, "source_message_id": m.MessageID}
	if err := s.Publisher.PublishDeadLetter(ctx, topics.Message{Data: m.Data, Attributes: attrs}); err != nil {
		return err
	}
	s.Log.ErrorContext(ctx, "poison job event dead-lettered", "reason", reason, "message_id", m.MessageID)
	return nil
}
