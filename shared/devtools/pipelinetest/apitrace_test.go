package pipelinetest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/topics"
	"github.com/jobhooks/jobhooks/shared/tracing"
)

// A manual retry or a replay through the management API, hours after the event, joins the
// event's trace (shared/tracing/README.md, Spans): the delivery record keeps the traceparent of the
// span it was created under, Dispatch's, and the API puts it on the task it publishes, without a
// span of its own.

// deliverSpan waits for the ended Deliver span, in any trace, that handled delivery id.
func deliverSpan(t *testing.T, rec *tracetest.SpanRecorder, id string) sdktrace.ReadOnlySpan {
	t.Helper()
	var got sdktrace.ReadOnlySpan
	Eventually(t, wait, "the Deliver span of "+id, func() bool {
		for _, sp := range rec.Ended() {
			if sp.Name() == "Deliver" && attr(sp, tracing.KeyDeliveryID) == id {
				got = sp
			}
		}
		return got != nil
	})
	return got
}

// postUnder waits for the attempt span whose parent is span and returns it.
func postUnder(t *testing.T, rec *tracetest.SpanRecorder, span sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan {
	t.Helper()
	var got sdktrace.ReadOnlySpan
	Eventually(t, wait, "the attempt span under "+span.Name(), func() bool {
		for _, sp := range spansOf(rec, span.SpanContext().TraceID(), "POST") {
			if sp.Parent().SpanID() == span.SpanContext().SpanID() {
				got = sp
			}
		}
		return got != nil
	})
	return got
}

// traceparentOf is the W3C traceparent of span, as the record stores it.
func traceparentOf(span trace.SpanContext) string {
	return "00-" + span.TraceID().String() + "-" + span.SpanID().String() + "-" + span.TraceFlags().String()
}

func TestTrace_AManualRetryAndAReplayThroughTheAPIAreChildrenOfDispatchInTheEventsTrace(t *testing.T) {
	t.Parallel()
	s, rec := traced(t, Options{})
	api := newManage(t, s, "acme")
	retried, replayed := NewReceiver(t, OK, Status(400)), NewReceiver(t, OK, Status(400))
	s.AddWebhook(t, hook("acme", "retried", retried.URL))
	s.AddWebhook(t, hook("acme", "replayed", replayed.URL))
	tid, sid := uniqueTrace()
	start := s.Clock.Now().Add(-time.Second)
	s.Publish(t, jobEvent("acme", "job-1", "batch.succeeded"), map[string]string{"traceparent": "00-" + tid.String() + "-" + sid.String() + "-01"})
	a := waitState(t, s, "acme", "job-1", "retried", store.Failed)
	b := waitState(t, s, "acme", "job-1", "replayed", store.Failed)

	dispatch := waitSpans(t, rec, tid, "Dispatch", 1)[0]
	want := traceparentOf(dispatch.SpanContext())
	if a.Traceparent != want || b.Traceparent != want {
		t.Fatalf("records keep traceparents %q and %q, want Dispatch's span %q", a.Traceparent, b.Traceparent, want)
	}

	// Hours later, from the console.
	s.Clock.Advance(3 * time.Hour)
	api.call(http.MethodPost, api.webhooks+"/retried/deliveries/"+a.ID+":retry", "")
	api.call(http.MethodPost, api.webhooks+"/replayed:replay",
		`{"start_time":"`+start.UTC().Format(time.RFC3339Nano)+`","end_time":"`+s.Clock.Now().UTC().Format(time.RFC3339Nano)+`"}`)
	for _, d := range []store.Delivery{a, b} {
		got := waitState(t, s, "acme", "job-1", d.Webhook, store.Delivered)
		deliver := deliverSpan(t, rec, d.ID)
		if deliver.SpanContext().TraceID() != tid || deliver.Parent().SpanID() != dispatch.SpanContext().SpanID() || !deliver.Parent().IsRemote() {
			t.Errorf("%s: Deliver span in trace %s under %s, want trace %s under Dispatch's span %s",
				d.Webhook, deliver.SpanContext().TraceID(), deliver.Parent().SpanID(), tid, dispatch.SpanContext().SpanID())
		}
		if !deliver.SpanContext().IsSampled() {
			t.Errorf("%s: Deliver span not sampled; the event's trace was", d.Webhook)
		}
		post := postUnder(t, rec, deliver)
		if attr(post, tracing.KeyOutcome) != "delivered" || attr(post, tracing.KeyAttempt) != "2" {
			t.Errorf("%s: attempt span %s says %s #%s, want delivered #2", d.Webhook, post.Name(), attr(post, tracing.KeyOutcome), attr(post, tracing.KeyAttempt))
		}
		if got.Traceparent != want {
			t.Errorf("%s: after the new series the record keeps %q, want %q", d.Webhook, got.Traceparent, want)
		}
	}
}

func TestTrace_ARecordWithoutATraceparentIsStillRetriedInATraceOfItsOwn(t *testing.T) {
	t.Parallel()
	s, rec := traced(t, Options{})
	api := newManage(t, s, "acme")
	rcv := NewReceiver(t, OK, Status(400))
	s.AddWebhook(t, hook("acme", "old", rcv.URL))
	s.Publish(t, jobEvent("acme", "job-old", "batch.succeeded"), nil)
	d := waitState(t, s, "acme", "job-old", "old", store.Failed)
	tid := dispatchOf(t, rec, "job-old").SpanContext().TraceID()

	// As a record written before the field existed.
	ref := s.Store.Client().Collection("projects").Doc("acme").Collection("deliveries").Doc(d.ID)
	if _, err := ref.Update(context.Background(), []firestore.Update{{Path: "traceparent", Value: firestore.Delete}}); err != nil {
		t.Fatal(err)
	}

	api.call(http.MethodPost, api.webhooks+"/old/deliveries/"+d.ID+":retry", "")
	got := waitState(t, s, "acme", "job-old", "old", store.Delivered)
	deliver := deliverSpan(t, rec, d.ID)
	if deliver.SpanContext().TraceID() == tid || deliver.Parent().IsValid() {
		t.Errorf("Deliver span in trace %s under %s; want a new trace's root (the event's is %s)",
			deliver.SpanContext().TraceID(), deliver.Parent().SpanID(), tid)
	}
	if post := postUnder(t, rec, deliver); attr(post, tracing.KeyOutcome) != "delivered" {
		t.Errorf("the retry's attempt span says %s, want delivered", attr(post, tracing.KeyOutcome))
	}
	if got.Traceparent != "" {
		t.Errorf("the record gained traceparent %q; only a record's creation writes it", got.Traceparent)
	}
}

func TestTrace_ARecordDeliverCreatesKeepsDeliversSpan(t *testing.T) {
	t.Parallel()
	s, rec := traced(t, Options{})
	rcv := NewReceiver(t, OK)
	s.AddWebhook(t, hook("acme", "direct", rcv.URL))
	// A task whose record does not exist yet: Deliver creates it under its handling's span.
	m := deliveryTask(t, "acme", "job-direct", "direct")
	tid, sid := uniqueTrace()
	m.Attributes["traceparent"] = "00-" + tid.String() + "-" + sid.String() + "-01"
	if err := s.Publisher.PublishDeliveries(context.Background(), []topics.Message{{Data: m.Data, Attributes: m.Attributes}}); err != nil {
		t.Fatal(err)
	}
	d := waitState(t, s, "acme", "job-direct", "direct", store.Delivered)
	deliver := deliverSpan(t, rec, d.ID)
	if deliver.Parent().SpanID() != sid {
		t.Fatalf("Deliver's parent is %s, want the task's %s", deliver.Parent().SpanID(), sid)
	}
	if want := traceparentOf(deliver.SpanContext()); d.Traceparent != want {
		t.Errorf("the record Deliver created keeps %q, want its handling's span %q", d.Traceparent, want)
	}
}
