package delivery

import (
	"context"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/jobhooks/jobhooks/shared/task"
	"github.com/jobhooks/jobhooks/shared/tracing"
)

// Spans of one delivery (shared/tracing/README.md, Spans): Deliver's handling of a task is a child
// of the span that published the task (Dispatch's, or the Deliver that re-published it), and each
// POST is a child of the handling that made it, so every attempt of one event lands in one trace.

// taskAttributes name the task's event and delivery on Deliver's span (none of a task whose
// header did not parse; those it named of one that failed its checks: tracing.StartHandling
// leaves empty values out).
func taskAttributes(t task.Task) [3]attribute.KeyValue {
	return [3]attribute.KeyValue{attribute.String(tracing.KeyEventID, t.EventID), attribute.String(tracing.KeyProject, t.Project),
		attribute.String(tracing.KeyDeliveryID, t.DeliveryID)}
}

// client starts an attempt's span; made once, as each trace.WithSpanKind call allocates.
var client = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}

// startAttempt starts the span of one POST, named name: the target's spanName, or "POST" while
// the target is not known yet (the span then also covers what comes before the POST). It gets
// its attributes from markOutcome, in one call: each call to add attributes to a span may grow
// its attribute slice.
func (s *Service) startAttempt(ctx context.Context, name string) (context.Context, trace.Span) {
	return s.tracer.Start(ctx, name, client...)
}

// markOutcome puts what the attempt log line says on the span: the delivery, webhook, host,
// status, latency, outcome, attempt number and the reason (of a retry, a failure or an end
// without a POST). An outcome that is not a success or a skip sets the span's status to the
// error, so the Console shows it. Its attributes are built only for a span that records: most
// events are not sampled.
func markOutcome(span trace.Span, t task.Task, host string, attempt int, outcome string, status int, latency time.Duration, reason string) {
	if !span.IsRecording() {
		return
	}
	attrs := make([]attribute.KeyValue, 6, 8)
	attrs[0], attrs[1] = attribute.String(tracing.KeyDeliveryID, t.DeliveryID), attribute.String(tracing.KeyWebhook, t.Webhook)
	attrs[2], attrs[3] = attribute.String(tracing.KeyHost, host), attribute.Int(tracing.KeyAttempt, attempt)
	attrs[4], attrs[5] = attribute.String(tracing.KeyOutcome, outcome), attribute.Int64(tracing.KeyLatencyMS, latency.Milliseconds())
	if status > 0 {
		attrs = append(attrs, attribute.Int(tracing.KeyStatus, status))
	}
	if reason != "" {
		attrs = append(attrs, attribute.String(tracing.KeyReason, reason))
	}
	span.SetAttributes(attrs...)
	switch outcome {
	case "retry", "failed", "exhausted":
		span.SetStatus(codes.Error, outcome+": "+reason)
	}
}

// propagate adds the attempt's traceparent to a POST whose webhook opted in (propagate_trace):
// off by default, since a trace id can reveal how a sender is built.
func propagate(ctx context.Context, tg target, h http.Header) {
	if !tg.propagateTrace {
		return
	}
	if tp := tracing.Traceparent(ctx); tp != "" {
		h.Set(tracing.ParentAttribute, tp)
	}
}

// spanName names the span of an attempt to host.
func spanName(host string) string { return "POST " + host }
