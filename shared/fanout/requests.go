package fanout

import (
	"context"
	"errors"
	"maps"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/jobhooks/jobhooks/shared/deadletter"
	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/request"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
	"github.com/jobhooks/jobhooks/shared/topics"
	"github.com/jobhooks/jobhooks/shared/tracing"
)

// The management API's requests (shared/request) reach Dispatch on their own subscription. The
// API may publish nothing else, so nothing it makes up is sent as it is: a ping's event is built
// here, and a delivery sent again is the one its record names, with the body its event record
// keeps, and only while the record holds the attempt series and claim the request names. A
// request that fails those checks is dead-lettered with its reason (shared/delivery/README.md,
// Security).

// isRequest reports whether m came from the requests subscription (its id, after any name
// prefix, is topics.RequestsSubscription). Pub/Sub sets the subscription, not the publisher.
func isRequest(m pushmsg.Message) bool {
	return strings.HasSuffix(m.Subscription, topics.RequestsSubscription)
}

func (s *Service) handleRequest(ctx context.Context, m pushmsg.Message) (err error) {
	ctx, span := tracing.StartHandling(ctx, s.tracer, "Dispatch", m)
	defer func() { tracing.End(span, err) }()
	r, err := request.Decode(m.Data)
	var inv *request.Invalid
	if errors.As(err, &inv) {
		return s.refuse(ctx, m, r, inv.Reason)
	}
	if r.Kind == request.Ping {
		// The ping's event goes the way of any job event, to the one webhook: claimed by its
		// id (a redelivered request fans out once), first attempt, records, retries.
		ping := m
		ping.Data = r.PingEvent()
		// No traceparent is carried over: the API sets none on a ping, and a publisher's would
		// choose the trace id a receiver sees (propagate_trace).
		ping.Attributes = map[string]string{"type": event.Ping, "project": r.Project, TargetWebhookAttribute: r.Webhook}
		return s.handle(ctx, ping)
	}
	return s.resend(ctx, m, r)
}

// resend publishes the task of the attempt series r names, built from the store.
func (s *Service) resend(ctx context.Context, m pushmsg.Message, r request.Request) error {
	d, err := s.Store.GetDelivery(ctx, r.Project, r.DeliveryID)
	if errors.Is(err, store.ErrNotFound) {
		return s.refuse(ctx, m, r, "no such delivery")
	}
	if err != nil {
		return err
	}
	switch {
	case d.Webhook == "":
		return s.refuse(ctx, m, r, "the delivery is to a per-request target, which is never sent again")
	case d.Series != r.Series || d.SeriesClaim != r.Claim:
		return s.refuse(ctx, m, r, "the delivery's record holds another attempt series or claim than the request names (a forged request, or one whose claim was undone)")
	case r.QueueTime.Before(d.CreateTime) || r.QueueTime.After(d.Version):
		// The claim was committed at queue_time, so the record's last write is no earlier.
		return s.refuse(ctx, m, r, "queue_time is not when the claim was committed")
	}
	ev, err := s.Store.GetEvent(ctx, d.Project, d.EventID)
	if errors.Is(err, store.ErrNotFound) || err == nil && len(ev.Body) == 0 {
		// The claim is real and the series will never be sent: it ends failed, with its reason,
		// rather than pending with no task.
		reason := "the body of event " + d.EventID + " is no longer stored"
		if err := s.Store.FailClaimedSeries(ctx, d.Project, d.ID, d.Series, d.SeriesClaim, "resend_refused: "+reason); err != nil {
			return err
		}
		return s.refuse(ctx, m, r, reason)
	}
	if err != nil {
		return err
	}
	t := task.Task{
		DeliveryID: d.ID, Project: d.Project, EventID: d.EventID, EventType: d.EventType,
		MessageID: d.MessageID, EventTime: d.EventTime, Webhook: d.Webhook, Body: ev.Body,
		Series: d.Series, QueueTime: r.QueueTime,
	}
	// The series is a child of the span the record was created under, in the event's trace, as
	// every series of the delivery is (shared/tracing/README.md, Spans); a record without one
	// starts a trace of its own in Deliver. This handling's span is not its parent: the context
	// the task is published with has none, or the publisher would put it on the message.
	attrs := t.Attributes()
	if d.Traceparent != "" {
		attrs[tracing.ParentAttribute] = d.Traceparent
	}
	noSpan := trace.ContextWithSpanContext(ctx, trace.SpanContext{})
	if err := s.Publisher.PublishDeliveries(noSpan, []topics.Message{{Data: t.Encode(), Attributes: attrs}}); err != nil {
		return err
	}
	s.Log.InfoContext(ctx, "delivery sent again", "project", d.Project, "webhook", d.Webhook, "delivery_id", d.ID, "series", d.Series)
	return nil
}

// refuse dead-letters a request that cannot be carried out, with its reason, and acks it.
func (s *Service) refuse(ctx context.Context, m pushmsg.Message, r request.Request, reason string) error {
	attrs := map[string]string{"kind": deadletter.KindRequest, "reason": "request refused: " + reason, "source_message_id": m.MessageID}
	if event.ValidProject(r.Project) {
		attrs["project"] = r.Project
	}
	if event.ValidDeliveryID(r.DeliveryID) {
		attrs["delivery_id"] = r.DeliveryID
	}
	if err := s.Publisher.PublishDeadLetter(ctx, topics.Message{Data: m.Data, Attributes: maps.Clone(attrs)}); err != nil {
		return err
	}
	s.Log.ErrorContext(ctx, "request refused and dead-lettered", "reason", reason, "project", attrs["project"],
		"delivery_id", attrs["delivery_id"], "kind", request.Truncate(r.Kind), "message_id", m.MessageID)
	return nil
}
