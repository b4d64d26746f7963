package pipelinetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/jobhooks/jobhooks/shared/deadletter"
	"github.com/jobhooks/jobhooks/shared/logging"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/topics"
	"github.com/jobhooks/jobhooks/shared/tracing"
	"github.com/jobhooks/jobhooks/shared/tracing/export"
)

// One trace per job event (shared/tracing/README.md), through the emulators with an in-memory span
// recorder: the job system's traceparent is continued, every attempt of the event is a span of
// its trace however many retries it takes, a dead-lettered delivery's last span says why, and
// every log line of the event names the trace.

// traced starts a stack whose functions record every span they end into the returned recorder.
func traced(t *testing.T, opts Options) (*Stack, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	opts.Tracer = sdktrace.NewTracerProvider(sdktrace.WithSampler(export.Sampler(1)), sdktrace.WithSpanProcessor(rec))
	return Start(t, opts), rec
}

var traceSeq atomic.Int64

// uniqueTrace returns a fresh trace id and span id, so no test reads another's lines.
func uniqueTrace() (trace.TraceID, trace.SpanID) {
	n := time.Now().UnixNano() + traceSeq.Add(1)
	var tid trace.TraceID
	var sid trace.SpanID
	for i := range 8 {
		tid[i], tid[8+i], sid[i] = byte(n>>(8*i)), 0x7a, byte(n>>(8*i))^0x5c
	}
	return tid, sid
}

// spansOf are the ended spans of trace id named name (a prefix: "POST" matches every attempt).
func spansOf(rec *tracetest.SpanRecorder, id trace.TraceID, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID() == id && strings.HasPrefix(s.Name(), name) {
			out = append(out, s)
		}
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, a := range s.Attributes() {
		if string(a.Key) == key {
			return a.Value.Emit()
		}
	}
	return ""
}

// waitSpans waits for n ended spans of the trace named name, in the order they started.
func waitSpans(t *testing.T, rec *tracetest.SpanRecorder, id trace.TraceID, name string, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	var got []sdktrace.ReadOnlySpan
	Eventually(t, wait, fmt.Sprintf("%d %q spans", n, name), func() bool {
		got = spansOf(rec, id, name)
		return len(got) >= n
	})
	slices.SortFunc(got, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	return got
}

// dispatchOf waits for Dispatch's span of event id.
func dispatchOf(t *testing.T, rec *tracetest.SpanRecorder, eventID string) sdktrace.ReadOnlySpan {
	t.Helper()
	var dispatch sdktrace.ReadOnlySpan
	Eventually(t, wait, "Dispatch's span of "+eventID, func() bool {
		for _, sp := range rec.Ended() {
			if sp.Name() == "Dispatch" && attr(sp, tracing.KeyEventID) == eventID {
				dispatch = sp
			}
		}
		return dispatch != nil
	})
	return dispatch
}

func TestTrace_APublishedTraceparentIsTheParentOfDispatchsSpanAndReachesOnlyOptedInReceivers(t *testing.T) {
	t.Parallel()
	s, rec := traced(t, Options{})
	plain, optIn := NewReceiver(t, OK), NewReceiver(t, OK)
	s.AddWebhook(t, hook("acme", "plain", plain.URL))
	w := hook("acme", "opted-in", optIn.URL)
	w.PropagateTrace = true
	s.AddWebhook(t, w)

	for _, key := range []string{"traceparent", "googclient_traceparent"} { // the latter: the Pub/Sub Go client's OpenTelemetry support
		tid, sid := uniqueTrace()
		id := "job-" + strings.ReplaceAll(key, "_", "-")
		s.Publish(t, jobEvent("acme", id, "batch.succeeded"), map[string]string{key: "00-" + tid.String() + "-" + sid.String() + "-01"})
		waitState(t, s, "acme", id, "opted-in", store.Delivered)

		dispatch := waitSpans(t, rec, tid, "Dispatch", 1)[0]
		if dispatch.Parent().SpanID() != sid || !dispatch.Parent().IsRemote() {
			t.Errorf("%s: Dispatch's parent is %s, want the published span %s", key, dispatch.Parent().SpanID(), sid)
		}
		if attr(dispatch, tracing.KeyEventID) != id {
			t.Errorf("%s: Dispatch span's event id = %q", key, attr(dispatch, tracing.KeyEventID))
		}
		posts := waitSpans(t, rec, tid, "POST", 2)
		for _, p := range posts {
			if p.Parent().SpanID() != dispatch.SpanContext().SpanID() {
				t.Errorf("%s: attempt %s is not a child of Dispatch", key, p.Name())
			}
		}
		last := func(r *Receiver) string { reqs := r.Requests(); return reqs[len(reqs)-1].Header.Get("traceparent") }
		if got := last(optIn); !strings.HasPrefix(got, "00-"+tid.String()+"-") {
			t.Errorf("%s: the opted-in receiver got traceparent %q, want one of trace %s", key, got, tid)
		}
		if got := last(plain); got != "" {
			t.Errorf("%s: a receiver that did not opt in got traceparent %q", key, got)
		}
	}
}

func TestTrace_AnEventRetriedTwiceIsOneTraceWithThreeAttemptSpansAndEveryLogLineNamesIt(t *testing.T) {
	t.Parallel()
	s, rec := traced(t, Options{})
	rcv := NewReceiver(t, OK, Status(503), Status(503))
	s.AddWebhook(t, hook("acme", "flaky", rcv.URL))
	eventID := fmt.Sprintf("job-retried-%d", time.Now().UnixNano())

	s.Publish(t, jobEvent("acme", eventID, "batch.succeeded"), nil) // no traceparent: Dispatch starts the trace
	d := waitState(t, s, "acme", eventID, "flaky", store.Delivered)

	dispatch := dispatchOf(t, rec, eventID)
	tid := dispatch.SpanContext().TraceID()
	if dispatch.Parent().IsValid() {
		t.Errorf("Dispatch's span has parent %s; an event published without a trace starts one", dispatch.Parent().SpanID())
	}
	posts := waitSpans(t, rec, tid, "POST", 3)
	var got []string
	for _, p := range posts {
		got = append(got, fmt.Sprintf("%s:%s:%s:%s", attr(p, tracing.KeyAttempt), attr(p, tracing.KeyStatus), attr(p, tracing.KeyOutcome), attr(p, tracing.KeyReason)))
		if attr(p, tracing.KeyHost) == "" || attr(p, tracing.KeyLatencyMS) == "" {
			t.Errorf("attempt span %s lacks host or latency", p.Name())
		}
	}
	if want := "1:503:retry:status_503 2:503:retry:status_503 3:200:delivered:ok"; strings.Join(got, " ") != want {
		t.Errorf("attempt spans (number:status:outcome:reason) = %v, want %s", got, want)
	}
	if posts[0].Status().Code != codes.Error || posts[2].Status().Code == codes.Error {
		t.Errorf("span status: first attempt %v, last %v; want an error for the 503, none for the 200", posts[0].Status(), posts[2].Status())
	}
	for _, dl := range waitSpans(t, rec, tid, "Deliver", 2) {
		if dl.Parent().SpanID() != dispatch.SpanContext().SpanID() {
			t.Errorf("a retry's Deliver span has parent %s, want Dispatch's %s: the task carries Dispatch's trace", dl.Parent().SpanID(), dispatch.SpanContext().SpanID())
		}
	}
	if d.Attempts != 3 {
		t.Errorf("record: %d attempts, want 3", d.Attempts)
	}

	// Every line of the event (its event id, or its delivery id) names the trace and a span of it.
	spanIDs := map[string]bool{}
	for _, sp := range spansOf(rec, tid, "") {
		spanIDs[sp.SpanContext().SpanID().String()] = true
	}
	wantTrace := "projects/" + s.Config.GoogleProject + "/traces/" + tid.String()
	n := 0
	for _, l := range Logs.Lines() {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil || (m["event_id"] != eventID && m["delivery_id"] != d.ID) {
			continue
		}
		n++
		if m[logging.TraceField] != wantTrace {
			t.Errorf("log line %q: trace %v, want %s", m["message"], m[logging.TraceField], wantTrace)
		}
		if sp, _ := m[logging.SpanField].(string); !spanIDs[sp] {
			t.Errorf("log line %q: span %q is not a span of the trace", m["message"], sp)
		}
	}
	if n < 4 { // three attempt lines and "job event dispatched"
		t.Errorf("%d log lines of the event, want at least 4", n)
	}
}

func TestTrace_ADeadLetteredDeliverysLastSpansSayWhyAndEveryLineOfTheirHandlingsNamesTheTrace(t *testing.T) {
	t.Parallel()
	s, rec := traced(t, Options{})
	rcv := NewReceiver(t, Status(503))
	s.AddWebhook(t, hook("acme", "down", rcv.URL))
	eventID := fmt.Sprintf("job-dead-%d", time.Now().UnixNano())

	// No traceparent: Dispatch starts the trace, and every later handling joins it.
	s.Publish(t, jobEvent("acme", eventID, "batch.succeeded"), nil)
	Eventually(t, wait, "first attempt", func() bool { return rcv.Count() >= 1 })
	s.Clock.Advance(25 * time.Hour)
	waitState(t, s, "acme", eventID, "down", store.Exhausted)
	tid := dispatchOf(t, rec, eventID).SpanContext().TraceID()

	var final sdktrace.ReadOnlySpan
	Eventually(t, wait, "the span that exhausted the delivery", func() bool {
		for _, sp := range spansOf(rec, tid, "Deliver") {
			if attr(sp, tracing.KeyOutcome) == "exhausted" {
				final = sp
			}
		}
		return final != nil
	})
	if attr(final, tracing.KeyReason) != "window_exhausted" || final.Status().Code != codes.Error ||
		!strings.Contains(final.Status().Description, "window_exhausted") {
		t.Errorf("final span: reason %q, status %v; want window_exhausted as an error", attr(final, tracing.KeyReason), final.Status())
	}
	for _, sp := range spansOf(rec, tid, "") {
		if sp.EndTime().After(final.EndTime()) && strings.HasPrefix(sp.Name(), "POST") {
			t.Errorf("an attempt span %s ended after the delivery was exhausted", sp.Name())
		}
	}

	// DeadLetter's handling is a child of the Deliver that sent the dead letter, and says why.
	var dead sdktrace.ReadOnlySpan
	Eventually(t, wait, "DeadLetter's span that recorded the dead letter", func() bool {
		for _, sp := range spansOf(rec, tid, "DeadLetter") {
			if attr(sp, tracing.KeyOutcome) == deadletter.OutcomeRecorded {
				dead = sp
			}
		}
		return dead != nil
	})
	if dead.Parent().SpanID() != final.SpanContext().SpanID() {
		t.Errorf("DeadLetter's parent is %s, want the Deliver that exhausted the delivery (%s)", dead.Parent().SpanID(), final.SpanContext().SpanID())
	}
	if attr(dead, tracing.KeyReason) != "window_exhausted" || attr(dead, tracing.KeyKind) != deadletter.KindDelivery ||
		attr(dead, tracing.KeyEventID) != eventID || dead.Status().Code != codes.Error {
		t.Errorf("DeadLetter span: reason %q, kind %q, event %q, status %v; want window_exhausted, delivery, %s, an error",
			attr(dead, tracing.KeyReason), attr(dead, tracing.KeyKind), attr(dead, tracing.KeyEventID), dead.Status(), eventID)
	}

	// Every line of each handling of the trace names it and the handling's span.
	spans := map[string]map[string]bool{} // message id → span ids of its handlings
	for _, sp := range spansOf(rec, tid, "") {
		if id := attr(sp, tracing.KeyMessageID); id != "" {
			if spans[id] == nil {
				spans[id] = map[string]bool{}
			}
			spans[id][sp.SpanContext().SpanID().String()] = true
		}
	}
	wantTrace := "projects/" + s.Config.GoogleProject + "/traces/" + tid.String()
	seen := map[string]bool{}
	for _, l := range s.Lines() {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil {
			continue
		}
		id, _ := m["message_id"].(string)
		if spans[id] == nil {
			continue
		}
		msg, _ := m["message"].(string)
		seen[msg] = true
		if sp, _ := m[logging.SpanField].(string); m[logging.TraceField] != wantTrace || !spans[id][sp] {
			t.Errorf("log line %q of message %s: trace %v span %v, want %s and a span of that message's handling", msg, id, m[logging.TraceField], sp, wantTrace)
		}
	}
	if !seen["dead letter"] {
		t.Errorf("lines of the trace's handlings: %v; want DeadLetter's dead letter among them", seen)
	}
}

func TestTrace_TheLineAboutAFailedHandlingNamesTheTraceDispatchStarted(t *testing.T) {
	t.Parallel()
	s, rec := traced(t, Options{})
	rcv := NewReceiver(t, Status(503))
	s.AddWebhook(t, hook("acme", "down", rcv.URL))
	// Pub/Sub loses the deliveries topic: Dispatch cannot publish the retry task and fails, so
	// pushmsg.Respond logs "handler failed" and nacks.
	topic := "projects/" + s.Config.GoogleProject + "/topics/" + topics.Deliveries
	if err := s.PubSub.TopicAdminClient.DeleteTopic(context.Background(), &pubsubpb.DeleteTopicRequest{Topic: topic}); err != nil {
		t.Fatal(err)
	}
	eventID := fmt.Sprintf("job-unpublished-%d", time.Now().UnixNano())
	msgID := s.Publish(t, jobEvent("acme", eventID, "batch.succeeded"), nil) // no traceparent: Dispatch starts the trace

	var lines int
	Eventually(t, wait, "a handler failed line of the event's message", func() bool {
		traces := map[string]string{} // span id → trace id of each failed Dispatch of the message
		for _, sp := range rec.Ended() {
			if sp.Name() == "Dispatch" && attr(sp, tracing.KeyMessageID) == msgID && sp.Status().Code == codes.Error {
				traces[sp.SpanContext().SpanID().String()] = sp.SpanContext().TraceID().String()
			}
		}
		lines = 0
		for _, l := range s.Lines() {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) != nil || m["message_id"] != msgID || m["message"] != "handler failed; Pub/Sub will redeliver" {
				continue
			}
			lines++
			span, _ := m[logging.SpanField].(string)
			if traces[span] == "" || m[logging.TraceField] != "projects/"+s.Config.GoogleProject+"/traces/"+traces[span] {
				// The span ends before Respond logs: a line without a failed Dispatch span of
				// its trace is the bug, not a race.
				t.Fatalf("line %s names trace %v span %q; want the trace of a failed Dispatch span of message %s (%v)", m["message"], m[logging.TraceField], span, msgID, traces)
			}
		}
		return lines > 0
	})
}

func TestTrace_APoisonEventsDeadLetterIsHandledInItsTrace(t *testing.T) {
	t.Parallel()
	s, rec := traced(t, Options{})
	tid, sid := uniqueTrace()
	s.Publish(t, `{{{`, map[string]string{"project": "acme", "traceparent": "00-" + tid.String() + "-" + sid.String() + "-01"})

	dispatch := waitSpans(t, rec, tid, "Dispatch", 1)[0]
	dead := waitSpans(t, rec, tid, "DeadLetter", 1)[0]
	if dead.Parent().SpanID() != dispatch.SpanContext().SpanID() {
		t.Errorf("DeadLetter's parent is %s, want Dispatch's %s, which dead-lettered the event", dead.Parent().SpanID(), dispatch.SpanContext().SpanID())
	}
	if attr(dead, tracing.KeyOutcome) != deadletter.OutcomeRecorded || attr(dead, tracing.KeyKind) != deadletter.KindJobEvent ||
		!strings.Contains(attr(dead, tracing.KeyReason), "not valid JSON") || attr(dead, tracing.KeyProject) != "acme" {
		t.Errorf("DeadLetter span: outcome %q, kind %q, reason %q, project %q; want %s, %s, the parse error, acme",
			attr(dead, tracing.KeyOutcome), attr(dead, tracing.KeyKind), attr(dead, tracing.KeyReason), attr(dead, tracing.KeyProject),
			deadletter.OutcomeRecorded, deadletter.KindJobEvent)
	}
}
