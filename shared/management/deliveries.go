package management

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"time"

	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/request"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/topics"
	"github.com/jobhooks/jobhooks/shared/tracing"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// DeliveryStates are the states a delivery list may be filtered by.
var DeliveryStates = []store.DeliveryState{store.Pending, store.Delivered, store.Failed, store.Exhausted, store.Cancelled}

// DeliveryName is a delivery's resource name, projects/{p}/webhooks/{w}/deliveries/{d}.
func DeliveryName(project, webhookID, deliveryID string) string {
	return webhook.Name(project, webhookID) + "/deliveries/" + deliveryID
}

// ListDeliveries returns a page of a webhook's deliveries, newest first, optionally only those in
// one state, and the token of the next page.
func (s *Service) ListDeliveries(ctx context.Context, project, webhookID string, state store.DeliveryState, page PageRequest) ([]store.Delivery, string, error) {
	if state != "" && !validDeliveryState(state) {
		return nil, "", invalid("state", "%q is not a delivery state (pending, delivered, failed, exhausted, cancelled)", truncate(string(state)))
	}
	size, err := page.size()
	if err != nil {
		return nil, "", err
	}
	if _, err := s.GetWebhook(ctx, project, webhookID); err != nil {
		return nil, "", err
	}
	want := pageToken{Kind: "deliveries", Project: project, Webhook: webhookID, State: string(state)}
	tok, err := decodeToken(page.Token, want)
	if err != nil {
		return nil, "", err
	}
	ds, err := s.Store.ListDeliveries(ctx, project, webhookID, state, size+1, tok.ID)
	if errors.Is(err, store.ErrNotFound) {
		// The page token's delivery has expired (record TTL) since the token was made.
		return nil, "", invalid("page_token", "has expired; list again from the first page")
	}
	if err != nil {
		return nil, "", err
	}
	if len(ds) <= size {
		return ds, "", nil
	}
	ds = ds[:size]
	want.ID = ds[size-1].ID
	return ds, want.encode(), nil
}

// MaxPendingCount is the most PendingDeliveries counts: a count aggregation is billed one read
// per 1,000 index entries, so one read of a webhook costs at most ten.
const MaxPendingCount = 10_000

// PendingDeliveries counts a webhook's pending deliveries, up to MaxPendingCount: what waits for
// its endpoint.
func (s *Service) PendingDeliveries(ctx context.Context, project, webhookID string) (int, error) {
	return s.Store.CountPending(ctx, project, webhookID, MaxPendingCount)
}

// GetDelivery reads one delivery of a webhook with its attempts, oldest first, and what they
// sent.
func (s *Service) GetDelivery(ctx context.Context, project, webhookID, deliveryID string) (DeliveryView, error) {
	w, d, err := s.delivery(ctx, project, webhookID, deliveryID)
	if err != nil {
		return DeliveryView{}, err
	}
	attempts, err := s.Store.ListAttempts(ctx, d)
	if err != nil {
		return DeliveryView{}, err
	}
	sent, err := s.sent(ctx, w, d)
	if err != nil {
		return DeliveryView{}, err
	}
	return DeliveryView{Record: d, Attempts: attempts, Sent: sent}, nil
}

// RetryDelivery sends a finished delivery again (delivered, failed, exhausted or cancelled): a
// new attempt series with the same body and the same webhook-id header, so a receiver that
// already processed it can tell. FAILED_PRECONDITION for a pending delivery (Deliver is still
// retrying it), a webhook that is not enabled, or an event whose body has expired.
func (s *Service) RetryDelivery(ctx context.Context, project, webhookID, deliveryID string) error {
	w, d, err := s.delivery(ctx, project, webhookID, deliveryID)
	if err != nil {
		return err
	}
	if !d.State.Final() {
		return Errorf(FailedPrecondition, "%s is still pending and is retried automatically; only a finished delivery can be retried",
			DeliveryName(project, webhookID, deliveryID))
	}
	if err := sendable(w); err != nil {
		return err
	}
	if err := s.notBusy(ctx, project, webhookID); err != nil {
		return err
	}
	if err := s.take(ctx, project, "retry", s.limits.retries, time.Minute); err != nil {
		return err
	}
	if err := s.bodyStored(ctx, d); err != nil {
		return err
	}
	claimed, err := s.claimSeries(ctx, d)
	if err != nil {
		return err
	}
	if err := s.Publisher.PublishRequests(ctx, []topics.Message{resendMessage(claimed)}); err != nil {
		s.unclaimSeries(ctx, d, claimed)
		return err
	}
	s.Log.InfoContext(ctx, "delivery retried", "project", project, "webhook", w.ID, "delivery_id", d.ID, "series", claimed.Series)
	return nil
}

// claimSeries writes the start of a new attempt series into d's record, conditional on the
// version read, before its request is published: of two retries of one delivery at once, one
// claims the series and the other is refused, so one series never has two tasks that could POST
// at the same moment. It returns the record as claimed: its Version, the claim's commit time by
// Firestore's clock as webhooks' incarnations are (webhook.Webhook.EnableTime), is when the
// series is queued. Deliver starts a series when a task's Series is above the record's.
func (s *Service) claimSeries(ctx context.Context, d store.Delivery) (store.Delivery, error) {
	claimed := d.StartSeries(d.Series+1, 0)
	claimed.SeriesClaim = rand.Text()
	err := s.Store.PutDelivery(ctx, &claimed)
	if err != nil {
		// A commit carried out but answered an error (the client library retries Unavailable,
		// and the retry meets the claim's own change as a conflict): no task would ever follow.
		if fresh, rerr := s.Store.GetDelivery(ctx, d.Project, d.ID); rerr == nil && fresh.SeriesClaim == claimed.SeriesClaim {
			claimed, err = fresh, nil
		}
	}
	if errors.Is(err, store.ErrConflict) {
		return claimed, Errorf(FailedPrecondition, "%s is being sent again already; it can be retried once that attempt series is finished",
			DeliveryName(d.Project, d.Webhook, d.ID))
	}
	return claimed, err
}

// unclaimSeries puts back the record of a series whose task could not be published, so it is not
// left pending with no task; unless Deliver or another call changed it meanwhile.
func (s *Service) unclaimSeries(ctx context.Context, d, claimed store.Delivery) {
	d.Version = claimed.Version
	if err := s.Store.PutDelivery(ctx, &d); err != nil {
		s.Log.ErrorContext(ctx, "delivery left pending without its task: its retry could not be published nor undone",
			"project", d.Project, "webhook", d.Webhook, "delivery_id", d.ID, "series", claimed.Series, "error", err.Error())
	}
}

// Replay re-sends every failed or exhausted delivery of a webhook created in [start, end), each
// as a new attempt series, and returns how many it queued. Deliveries whose event body has
// expired are skipped (and logged).
func (s *Service) Replay(ctx context.Context, project, webhookID string, start, end time.Time) (int, error) {
	switch {
	case start.IsZero():
		return 0, invalid("start_time", "is required")
	case end.IsZero():
		return 0, invalid("end_time", "is required")
	case !start.Before(end):
		return 0, invalid("end_time", "must be after start_time")
	}
	w, err := s.GetWebhook(ctx, project, webhookID)
	if err != nil {
		return 0, err
	}
	if err := sendable(w); err != nil {
		return 0, err
	}
	if err := s.notBusy(ctx, project, webhookID); err != nil {
		return 0, err
	}
	ds, err := s.Store.FinishedDeliveriesBetween(ctx, project, webhookID, start, end, s.maxReplay+1)
	if err != nil {
		return 0, err
	}
	if len(ds) > s.maxReplay {
		next := ds[s.maxReplay].CreateTime.UTC().Format(time.RFC3339Nano)
		return 0, invalid("end_time", "the range holds more than %d failed deliveries, the most one replay re-sends: replay up to end_time %s first, then from start_time %s",
			s.maxReplay, next, next)
	}
	if err := s.take(ctx, project, "replay", s.limits.replays, time.Hour); err != nil {
		return 0, err
	}
	var (
		msgs    []topics.Message
		before  []store.Delivery // the records as read, and as claimed for the replay
		claimed []store.Delivery
	)
	for _, d := range ds {
		err := s.bodyStored(ctx, d)
		var c store.Delivery
		if err == nil {
			c, err = s.claimSeries(ctx, d)
		}
		var e *Error
		if errors.As(err, &e) {
			s.Log.WarnContext(ctx, "delivery not replayed", "project", project, "webhook", webhookID, "delivery_id", d.ID, "reason", e.Message)
			continue
		}
		if err == nil {
			msgs, before, claimed = append(msgs, resendMessage(c)), append(before, d), append(claimed, c)
			continue
		}
		for i := range claimed {
			s.unclaimSeries(ctx, before[i], claimed[i])
		}
		return 0, err
	}
	if len(msgs) > 0 {
		if err := s.Publisher.PublishRequests(ctx, msgs); err != nil {
			for i := range claimed {
				s.unclaimSeries(ctx, before[i], claimed[i])
			}
			return 0, err
		}
	}
	s.Log.InfoContext(ctx, "deliveries replayed", "project", project, "webhook", webhookID,
		"queued", len(msgs), "found", len(ds), "start", start, "end", end)
	return len(msgs), nil
}

// bodyStored answers FAILED_PRECONDITION when d's event body has expired: it could not be sent
// again (Dispatch reads it from the same record when it carries out the request).
func (s *Service) bodyStored(ctx context.Context, d store.Delivery) error {
	ev, err := s.Store.GetEvent(ctx, d.Project, d.EventID)
	if errors.Is(err, store.ErrNotFound) || err == nil && len(ev.Body) == 0 {
		return Errorf(FailedPrecondition, "the body of event %s is no longer stored; it cannot be sent again", d.EventID)
	}
	return err
}

// resendMessage is the request that sends claimed, a delivery's record as its new series was
// claimed, again. It carries the traceparent the record keeps, so Dispatch's handling of the
// request and Deliver's of the series are children of the span the record was created under, in
// the event's trace, sampled as the event was (shared/tracing/README.md, Spans): the publisher
// keeps a traceparent a message has, and the API makes no span of its own. A record without one
// (older than the field) is sent as before, and Dispatch starts a trace.
func resendMessage(claimed store.Delivery) topics.Message {
	r := request.Request{Kind: request.Resend, Project: claimed.Project, DeliveryID: claimed.ID,
		Series: claimed.Series, Claim: claimed.SeriesClaim, QueueTime: claimed.Version}
	attrs := r.Attributes()
	if claimed.Traceparent != "" {
		attrs[tracing.ParentAttribute] = claimed.Traceparent
	}
	return topics.Message{Data: r.Encode(), Attributes: attrs}
}

// delivery reads a webhook and one of its deliveries; NOT_FOUND unless both exist and belong
// together.
func (s *Service) delivery(ctx context.Context, project, webhookID, deliveryID string) (webhook.Webhook, store.Delivery, error) {
	w, err := s.GetWebhook(ctx, project, webhookID)
	if err != nil {
		return w, store.Delivery{}, err
	}
	if !event.ValidDeliveryID(deliveryID) {
		return w, store.Delivery{}, notFound(DeliveryName(project, webhookID, deliveryID))
	}
	d, err := s.Store.GetDelivery(ctx, project, deliveryID)
	if errors.Is(err, store.ErrNotFound) || err == nil && d.Webhook != webhookID {
		return w, store.Delivery{}, notFound(DeliveryName(project, webhookID, deliveryID))
	}
	return w, d, err
}

// sendable refuses to re-send to a webhook that is not enabled: Deliver would only cancel it.
func sendable(w webhook.Webhook) error {
	if w.State != webhook.Enabled {
		return Errorf(FailedPrecondition, "%s is %s; enable it before sending to it again", w.Name(), stateWord(w.State))
	}
	return nil
}

func validDeliveryState(st store.DeliveryState) bool { return slices.Contains(DeliveryStates, st) }

func stateWord(st webhook.State) string {
	if st == webhook.DisabledDueToFailedDeliveries {
		return "disabled after failed deliveries"
	}
	return "disabled"
}
