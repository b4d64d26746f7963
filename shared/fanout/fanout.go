// Package fanout is Dispatch's domain: one job event in, the first attempt to every target made
// at once, one delivery task out per target that needs a retry (shared/delivery/README.md, One hop
// on the happy path).
//
// Guarantees: an invalid event is dead-lettered with its reason and acknowledged, never retried;
// a valid event is acknowledged only once every target's record is committed and every retry
// task published; the same event id published twice fans out once (the event record is claimed
// with create-if-absent, which records the plan); a crash or failure mid fan-out leads to a
// take-over that finishes exactly that plan, whatever its own cache says: it reads the records
// and skips the targets already finished, so a POST may repeat but no planned target is left
// out or left pending without a task.
package fanout

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/jobhooks/jobhooks/shared/cache"
	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/delivery"
	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
	"github.com/jobhooks/jobhooks/shared/topics"
	"github.com/jobhooks/jobhooks/shared/tracing"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// ClaimLease is how long a Dispatch instance holds an event it is fanning out; past it another
// instance may take over (the holder crashed). It exceeds the first-attempt budget plus the
// commit and the publish timeout. The configuration may shorten it (config.ClaimLease).
const ClaimLease = config.DefaultClaimLease

// Deps are the per-instance clients the service uses.
type Deps struct {
	Store *store.Store
	// Delivery makes the first attempts: the same library Deliver retries with.
	Delivery  *delivery.Service
	Publisher *topics.Publisher
	Log       *slog.Logger
	Now       func() time.Time
	// Tracer receives the event's span; nil records none (shared/tracing).
	Tracer trace.TracerProvider
}

// Service fans job events out. One per instance; safe for concurrent use.
type Service struct {
	Deps
	cfg    config.Config
	tracer trace.Tracer
	// webhooks caches, per project and event type, the webhooks subscribed to it: Dispatch
	// reads them for every event, and a change through the API must show within the cache TTL.
	webhooks *cache.TTL[string, subscribed]
}

// subscribed are the webhooks subscribed to one event type, as read at read.
type subscribed struct {
	hooks []webhook.Webhook
	read  time.Time
}

// New builds the service.
func New(cfg config.Config, d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{Deps: d, cfg: cfg, webhooks: cache.New[string, subscribed](cfg.CacheTTL, d.Now), tracer: tracing.Tracer(d.Tracer)}
}

var errClaimed = errors.New("fanout: event is being dispatched by another instance")

// Handle processes one pushed job event, or one request of the management API when it comes from
// the requests subscription (see handleRequest). Its result is turned into ack/nack by pushmsg.Respond.
// An event that must wait (the store or Pub/Sub failing, another instance holding its claim) is
// nacked, unless its message is old enough for Pub/Sub's retention to delete it unacked: then it
// is published again and acked (see republish).
//
// The handling is the event's span (shared/tracing/README.md, Spans): a child of the job system's
// traceparent when the message carries one, else the root of a new trace. The first attempts
// are its children, and the retry tasks carry it to Deliver.
func (s *Service) Handle(ctx context.Context, m pushmsg.Message) (err error) {
	if isRequest(m) {
		return s.handleRequest(ctx, m)
	}
	ctx, span := tracing.StartHandling(ctx, s.tracer, "Dispatch", m)
	defer func() { tracing.End(span, err) }()
	err = s.handle(ctx, m)
	if !pushmsg.Acked(err) && (s.tooOld(m) || m.DeliveryAttempt >= s.cfg.RepublishAfter) {
		// Before Pub/Sub's retention deletes the event, or its dead-letter policy (100
		// deliveries, about 16.5 h at the longest backoff) gives up on a valid one.
		return s.republish(ctx, m, err)
	}
	return err
}

func (s *Service) handle(ctx context.Context, m pushmsg.Message) error {
	ev, err := event.Parse(m.Data, m.Attributes)
	var inv *event.Invalid
	if errors.As(err, &inv) {
		return s.poison(ctx, m, inv.Reason)
	}
	if err != nil {
		return err
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(attribute.String(tracing.KeyEventID, ev.ID), attribute.String(tracing.KeyProject, ev.Project),
			attribute.String(tracing.KeyEventType, ev.Type))
	}
	if tw, ok := m.Attributes[TargetWebhookAttribute]; ok && !webhook.ValidID(tw) {
		return s.poison(ctx, m, "attribute "+TargetWebhookAttribute+" is not a webhook id")
	}
	// The targets are planned before the claim, so that the claim records the plan: a fresh
	// claim queues the deliveries, and a take-over finishes exactly that plan.
	now, targetWebhook := s.Now(), m.Attributes[TargetWebhookAttribute]
	firsts, err := s.targets(ctx, ev, targetWebhook, time.Time{})
	if err != nil {
		return err
	}
	claim, err := s.Store.ClaimEvent(ctx, store.EventRecord{
		Project: ev.Project, ID: ev.ID, Type: ev.Type, EventTime: ev.Timestamp, Body: ev.Body(),
		Deliveries: deliveryIDs(firsts), Targets: targetKeys(firsts), Dynamic: ev.WebhookConfig != nil,
	}, s.cfg.ClaimLease, now)
	switch {
	case err != nil:
		return err
	case claim.Outcome == store.AlreadyDispatched:
		s.Log.InfoContext(ctx, "duplicate job event ignored", "event_id", ev.ID, "project", ev.Project)
		return nil
	case claim.Outcome == store.ClaimedElsewhere:
		return pushmsg.Retry(errClaimed)
	}

	if claim.Fresh {
		// Queued now, by Firestore's clock, as webhooks' incarnations are (webhook.Webhook.EnableTime).
		for i := range firsts {
			firsts[i].Task.QueueTime = claim.CreateTime
		}
	} else {
		// A take-over: the deliveries were planned and queued when the event was first claimed.
		if firsts, err = s.planned(ctx, ev, claim, targetWebhook); err != nil {
			return s.release(ctx, ev, claim, err)
		}
	}
	round, err := s.attempt(ctx, ev, claim, firsts)
	if err != nil {
		return s.release(ctx, ev, claim, err)
	}
	delivered, retrying, other := round.Counts()
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(attribute.Int("jobhooks.targets", len(firsts)), attribute.Int("jobhooks.delivered", delivered),
			attribute.Int("jobhooks.retrying", retrying), attribute.Bool("jobhooks.take_over", !claim.Fresh))
	}
	// An event whose every target was delivered at the first try says nothing its attempt lines do
	// not (one per target, with the event id and outcome): at INFO it would be a second LogEntry
	// per event, about 1 KB in Cloud Logging (terraform/README.md, What it costs per million
	// deliveries). Anything else (no target, a retry, a final failure, a take-over) stays at INFO.
	level := slog.LevelInfo
	if len(firsts) > 0 && delivered == len(firsts) && claim.Fresh {
		level = slog.LevelDebug
	}
	s.Log.Log(ctx, level, "job event dispatched", "event_id", ev.ID, "project", ev.Project, "type", ev.Type,
		"targets", len(firsts), "delivered", delivered, "retrying", retrying, "final_otherwise", other,
		"dynamic", ev.WebhookConfig != nil, "take_over", !claim.Fresh)
	return nil
}

// attempt makes the first attempts of a claimed event and records them (shared/delivery/README.md,
// One hop on the happy path). When every target ended final, the commit of their records is the
// last write: the event is done because its planned deliveries are all final (store.ClaimEvent);
// a take-over closes it in the same commit. Otherwise the records are committed, the retry tasks
// published, and the event closed after them, so that a crash at any step leaves the event open
// for a take-over, which finishes the same plan: it reads the records and skips what is
// finished. A conflict means the claim was taken over meanwhile (this instance outlived its
// lease): nothing of the commit was written, and the redelivery finds the event done or claimed.
func (s *Service) attempt(ctx context.Context, ev event.JobEvent, claim store.EventClaim, firsts []delivery.First) (*delivery.Round, error) {
	ids := deliveryIDs(firsts)
	var existing map[string]store.Delivery
	if !claim.Fresh && len(ids) > 0 {
		var err error
		if existing, err = s.Store.GetDeliveries(ctx, ev.Project, ids); err != nil {
			return nil, err
		}
	}
	round, err := s.Delivery.FirstAttempts(ctx, firsts, existing)
	if err != nil {
		return nil, err
	}
	closing := &store.Dispatched{At: s.Now()}
	var done *store.Dispatched
	if round.Final() && !claim.Fresh {
		done = closing
	}
	if err := s.Store.CommitDispatch(ctx, ev.Project, ev.ID, claim, round.Records(), done); err != nil {
		return nil, stale(err)
	}
	if err := s.Delivery.Settle(ctx, round); err != nil {
		return nil, err
	}
	if round.Final() {
		return round, nil
	}
	if err := s.Publisher.PublishDeliveries(ctx, messages(round.Retries())); err != nil {
		return nil, err
	}
	if err := s.Publisher.PublishWaiting(ctx, messages(round.Waits())); err != nil {
		return nil, err
	}
	if err := s.Store.MarkDispatched(ctx, ev.Project, ev.ID, claim, closing.At); err != nil {
		// The tasks are out; a redelivery (or the take-over) publishes them again under the
		// same ids, which Deliver deduplicates.
		return nil, stale(err)
	}
	return round, nil
}

func messages(tasks []task.Task) []topics.Message {
	msgs := make([]topics.Message, 0, len(tasks))
	for _, t := range tasks {
		msgs = append(msgs, topics.Message{Data: t.Encode(), Attributes: t.Attributes()})
	}
	return msgs
}

func deliveryIDs(firsts []delivery.First) []string {
	ids := make([]string, len(firsts))
	for i, f := range firsts {
		ids[i] = f.Task.DeliveryID
	}
	return ids
}

// Target keys name a planned target in the event record: its delivery id is derived from the
// key (event.DeliveryID), and a take-over rebuilds the target from it.
const (
	keyWebhook = "webhook:"
	keyURI     = "uri:"
)

func targetKeys(firsts []delivery.First) []string {
	keys := make([]string, len(firsts))
	for i, f := range firsts {
		keys[i] = keyWebhook + f.Task.Webhook
		if f.Task.Dynamic() {
			keys[i] = keyURI + f.Task.URL
		}
	}
	return keys
}

// planned are the targets of the first claim's plan, queued when the event was first claimed
// (shared/delivery/README.md, What a crash at each step does), whatever this instance's cache says now: a
// static target's webhook is read by its attempt, so one deleted, disabled or re-created since
// is recorded cancelled with its reason, and one created since is not a target. A record
// written before the plan was kept has no target keys: its targets are planned again.
func (s *Service) planned(ctx context.Context, ev event.JobEvent, claim store.EventClaim, targetWebhook string) ([]delivery.First, error) {
	if len(claim.Targets) != len(claim.Deliveries) {
		return s.targets(ctx, ev, targetWebhook, claim.CreateTime)
	}
	base := baseTask(ev, claim.CreateTime)
	out := make([]delivery.First, len(claim.Targets))
	for i, key := range claim.Targets {
		t := base
		t.DeliveryID = claim.Deliveries[i]
		if id, ok := strings.CutPrefix(key, keyWebhook); ok {
			t.Webhook = id
		} else {
			t.URL = strings.TrimPrefix(key, keyURI)
			t.Body = event.TargetBody(base.Body, t.URL)
		}
		out[i] = delivery.First{Task: t}
	}
	return out, nil
}

func baseTask(ev event.JobEvent, queued time.Time) task.Task {
	return task.Task{
		Project: ev.Project, EventID: ev.ID, EventType: ev.Type, EventTime: ev.Timestamp,
		MessageID: event.MessageID(ev.Project, ev.ID), Body: ev.Body(), QueueTime: queued,
	}
}

// stale nacks a write refused because the claim was taken over: the new holder finishes.
func stale(err error) error {
	if errors.Is(err, store.ErrConflict) {
		return pushmsg.Retry(err)
	}
	return err
}

// TargetWebhookAttribute, set on a job event, sends it to that one webhook of the event's project
// whatever its subscriptions: a ping request uses it (shared/request). A disabled webhook still
// gets nothing.
const TargetWebhookAttribute = "target_webhook"

// targets are the event's targets, each with its task: the per-request URIs when the event
// carries a webhook_config, the one webhook named by the target attribute, otherwise every
// enabled webhook of the project subscribed to the type. queued is when the event was first
// claimed, for a record older than its plan; zero when planning before a fresh claim, which
// queues the event after every webhook listed became enabled.
func (s *Service) targets(ctx context.Context, ev event.JobEvent, targetWebhook string, queued time.Time) ([]delivery.First, error) {
	base := baseTask(ev, queued)
	var out []delivery.First
	if ev.WebhookConfig != nil {
		for _, uri := range ev.WebhookConfig.URIs {
			t := base
			t.URL, t.Body = uri, event.TargetBody(base.Body, uri)
			t.DeliveryID = event.DeliveryID(ev.Project, ev.ID, keyURI+uri)
			out = append(out, delivery.First{Task: t})
		}
		return out, nil
	}
	sub, err := s.candidates(ctx, ev.Project, ev.Type, targetWebhook)
	if err != nil {
		return nil, err
	}
	for _, w := range sub.hooks {
		wanted := w.Subscribes(ev.Type)
		if targetWebhook != "" {
			wanted = w.ID == targetWebhook
		}
		if w.State != webhook.Enabled || !wanted || !queued.IsZero() && !w.Owns(queued) {
			// A webhook created or re-enabled after the event was first queued (a fan-out
			// delayed by failures) does not get it: it belongs to the webhook's earlier life.
			continue
		}
		t := base
		t.Webhook = w.ID
		t.DeliveryID = event.DeliveryID(ev.Project, ev.ID, keyWebhook+w.ID)
		out = append(out, delivery.First{Task: t, Webhook: &w, Read: sub.read})
	}
	return out, nil
}

// candidates are the webhooks an event may go to: those of the project subscribed to its type
// (cached per type: a miss reads only them, not every webhook of the project), or the one
// targeted webhook read fresh, so a ping right after creating a webhook finds it.
func (s *Service) candidates(ctx context.Context, project, eventType, targetWebhook string) (subscribed, error) {
	if targetWebhook == "" {
		return s.webhooks.Get(project+"/"+eventType, func() (subscribed, error) {
			read := s.Now()
			hooks, err := s.Store.ListSubscribedWebhooks(ctx, project, eventType)
			return subscribed{hooks: hooks, read: read}, err
		})
	}
	read := s.Now()
	w, err := s.Store.GetWebhook(ctx, project, targetWebhook)
	if errors.Is(err, store.ErrNotFound) {
		return subscribed{read: read}, nil
	}
	if err != nil {
		return subscribed{}, err
	}
	return subscribed{hooks: []webhook.Webhook{w}, read: read}, nil
}

// release gives the claim up and nacks, so the redelivery fans out without waiting for the lease.
func (s *Service) release(ctx context.Context, ev event.JobEvent, claim store.EventClaim, cause error) error {
	if err := s.Store.ReleaseEvent(ctx, ev.Project, ev.ID, claim); err != nil {
		s.Log.WarnContext(ctx, "event claim not released; redelivery waits for the lease",
			"event_id", ev.ID, "project", ev.Project, "error", err.Error())
	}
	return cause
}

// poison dead-letters an invalid event with its reason and acks it: it can never succeed. If the
// dead letter cannot be published the event is nacked, so it is not lost. The dead letter and
// the log line carry the event id and project the bytes hold, when valid, so that a search by
// jsonPayload.event_id or by project finds the event (shared/restapi/README.md, Dead letters).
func (s *Service) poison(ctx context.Context, m pushmsg.Message, reason string) error {
	id, project := event.Carried(m.Data)
	if p := m.Attributes["project"]; event.ValidProject(p) {
		// Operators find a tenant's poison events by project; an invalid one is not repeated.
		project = p
	}
	attrs := map[string]string{"kind": "job_event", "reason": reason, "source_message_id": m.MessageID}
	if project != "" {
		attrs["project"] = project
	}
	if id != "" {
		attrs["event_id"] = id
	}
	if err := s.Publisher.PublishDeadLetter(ctx, topics.Message{Data: m.Data, Attributes: attrs}); err != nil {
		return err
	}
	s.Log.ErrorContext(ctx, "poison job event dead-lettered", "reason", reason, "event_id", id, "project", project,
		"message_id", m.MessageID)
	return nil
}

// republish publishes a job event again as a new message and acks the old one: Pub/Sub deletes
// a message left unacked for its subscription's retention (24 h) without dead-lettering it, so
// an event that keeps failing must not grow that old (config.RepublishAge, 20 h). The event id
// is unchanged, so the new message fans out at most once like any duplicate publish. If the
// publish fails the old message is nacked: it is kept for the hours of retention left.
func (s *Service) republish(ctx context.Context, m pushmsg.Message, cause error) error {
	attrs := make(map[string]string, len(m.Attributes)+1)
	for k, v := range m.Attributes {
		attrs[k] = v
	}
	attrs[RepublishedAttribute] = m.MessageID
	if _, err := s.Publisher.PublishJobEvent(ctx, topics.Message{Data: m.Data, Attributes: attrs}); err != nil {
		return errors.Join(cause, err)
	}
	s.Log.WarnContext(ctx, "job event re-published before Pub/Sub's retention ends", "message_id", m.MessageID,
		"age", s.Now().Sub(m.PublishTime).Round(time.Second).String(), "cause", cause.Error())
	return nil
}

// RepublishedAttribute, on a job event Dispatch published again, names the message it replaces.
const RepublishedAttribute = "jobhooks_republished_from"

// tooOld reports whether m is old enough to be re-published (its publish time is unknown only
// in hand-made pushes).
func (s *Service) tooOld(m pushmsg.Message) bool {
	return !m.PublishTime.IsZero() && s.Now().Sub(m.PublishTime) >= s.cfg.RepublishAge
}
