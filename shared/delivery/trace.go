package delivery

import (
	"context"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
	"github.com/jobhooks/jobhooks/shared/tracing"
)

// Spans of one delivery (README, Observability): Deliver's handling of a task is a child of the
// span that published the task (Dispatch's, or the Deliver that re-published it), and each POST
// is a child of the handling that made it, so every attempt of one event lands in one trace.

// noteTask names the task's event and delivery on Deliver's span.
func noteTask(span trace.Span, t task.Task) {
	if span.IsRecording() {
		span.SetAttributes(attribute.String(tracing.KeyEventID, t.EventID), attribute.String(tracing.KeyProject, t.Project),
			attribute.String(tracing.KeyDeliveryID, t.DeliveryID))
	}
}

// startAttempt starts the span of one POST to url ("" while the target is not known yet: the
// span then also covers what comes before the POST).
func (s *Service) startAttempt(ctx context.Context, t task.Task, url string) (context.Context, trace.Span) {
	return s.tracer.Start(ctx, spanName(url), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String(tracing.KeyDeliveryID, t.DeliveryID), attribute.String(tracing.KeyWebhook, t.Webhook)))
}

// markOutcome puts what the attempt log line says on the span: host, status, latency, outcome,
// attempt number and the reason (of a retry, a failure or an end without a POST). An outcome
// that is not a success or a skip sets the span's status to the error, so the Console shows it.
func markOutcome(span trace.Span, d store.Delivery, outcome string, status int, latency time.Duration, reason string) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(
		attribute.String(tracing.KeyHost, hostOf(d.URL)), attribute.Int(tracing.KeyAttempt, d.Attempts),
		attribute.String(tracing.KeyOutcome, outcome), attribute.Int64(tracing.KeyLatencyMS, latency.Milliseconds()),
	)
	if status > 0 {
		span.SetAttributes(attribute.Int(tracing.KeyStatus, status))
	}
	if reason != "" {
		span.SetAttributes(attribute.String(tracing.KeyReason, reason))
	}
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

// spanName names an attempt's span after its host.
func spanName(url string) string {
	if url == "" {
		return "POST"
	}
	return "POST " + hostOf(url)
}
