package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/jobhooks/jobhooks/shared/pushmsg"
)

// KeyResult is the handling span's ack or nack, in pushmsg's words.
const KeyResult = "jobhooks.result"

// StartHandling starts the span of one push handling, named name (Dispatch, Deliver,
// DeadLetter): a child of the trace the message's attributes carry (FromAttributes), else the
// root of a new trace. pushmsg.Respond logs its line about the result under the span too
// (pushmsg.LogUnder), so every line of the handling names the trace. End it with End.
//
// The span gets the message id and attrs, those with an empty string value left out, in one
// call, and only if it records: most events are not sampled, and each call to add attributes
// to a recording span costs a lock and may grow its attribute slice.
func StartHandling(ctx context.Context, tr trace.Tracer, name string, m pushmsg.Message, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	ctx, span := tr.Start(FromAttributes(ctx, m.Attributes), name, consumer...)
	if span.IsRecording() {
		all := make([]attribute.KeyValue, 1, 1+len(attrs))
		all[0] = attribute.String(KeyMessageID, m.MessageID)
		for _, a := range attrs {
			if a.Value.Type() != attribute.STRING || a.Value.AsString() != "" {
				all = append(all, a)
			}
		}
		span.SetAttributes(all...)
	}
	pushmsg.LogUnder(ctx)
	return ctx, span
}

// Made once, not per span: each trace.WithSpanKind call and each variadic argument list
// passed to the SDK is an allocation.
var (
	consumer = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer)}
)

// End ends the span of one push handling with the handler's result, as pushmsg.Respond will
// read it: an ack with its reason (e.g. a dead letter), an expected nack (a retry), or an
// unexpected failure, which marks the span as an error. A plain ack, the common case, adds
// nothing: a handling span without jobhooks.result was acknowledged, and one call less to add
// attributes keeps the sampled path cheap.
func End(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		switch {
		case pushmsg.Acked(err):
			span.SetAttributes(attribute.String(KeyResult, "ack: "+err.Error()))
		case pushmsg.Expected(err):
			span.SetAttributes(attribute.String(KeyResult, "nack: "+err.Error()))
		default:
			span.SetAttributes(attribute.String(KeyResult, "nack"))
			span.SetStatus(codes.Error, err.Error())
		}
	}
	span.End()
}
