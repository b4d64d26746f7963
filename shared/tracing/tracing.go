// Package tracing carries one job event's trace from the job system's publish to every POST of
// every attempt (shared/tracing/README.md): the trace context travels in Pub/Sub message
// attributes as a W3C traceparent, Dispatch, Deliver and DeadLetter continue it, and their log
// lines name it.
//
// A job event's trace is continued from its `traceparent` attribute, or from
// `googclient_traceparent`, which the Pub/Sub Go client writes when its OpenTelemetry support is
// on; without either, Dispatch starts a trace. What Jobhooks publishes (delivery tasks, dead
// letters) carries the trace of the span that published it (topics.Publisher), so Deliver's
// retries, hours later, join the same trace. The API makes no span: a manual retry or replay
// carries the traceparent its delivery record kept from its creation (store.Delivery), which the
// publisher leaves as it is.
//
// Nothing here stores anything: the cost of a trace is a few attributes on messages already
// sent, and one field of a delivery record's first write.
package tracing

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Attribute names of the trace context on a Pub/Sub message.
const (
	// ParentAttribute is W3C Trace Context's traceparent, the name Jobhooks reads first and writes.
	ParentAttribute = "traceparent"
	// clientPrefix is what the Pub/Sub Go client puts before the propagator's keys when its
	// OpenTelemetry support injects them (its messageCarrier).
	clientPrefix = "googclient_"
)

// Name is the instrumentation name of Jobhooks' spans.
const Name = "github.com/jobhooks/jobhooks"

// Span attribute keys (shared/tracing/README.md, Spans). The attempt's keys follow OpenTelemetry's HTTP
// names where one exists.
const (
	KeyEventID    = "jobhooks.event_id"
	KeyProject    = "jobhooks.project"
	KeyEventType  = "jobhooks.event_type"
	KeyDeliveryID = "jobhooks.delivery_id"
	KeyWebhook    = "jobhooks.webhook"
	KeyAttempt    = "jobhooks.attempt"
	KeyOutcome    = "jobhooks.outcome"
	KeyReason     = "jobhooks.reason"
	KeyLatencyMS  = "jobhooks.latency_ms"
	KeyHost       = "server.address"
	KeyStatus     = "http.response.status_code"
	KeyMessageID  = "messaging.message.id"
	// KeyKind is a dead letter's kind: job_event or delivery.
	KeyKind = "jobhooks.dead_letter.kind"
)

var propagator = propagation.TraceContext{}

// FromAttributes returns ctx carrying the remote span context of a message's attributes: its
// traceparent, else the Pub/Sub client's prefixed one. ctx is returned as is when neither holds
// a valid one.
func FromAttributes(ctx context.Context, attrs map[string]string) context.Context {
	if attrs[ParentAttribute] != "" {
		return propagator.Extract(ctx, propagation.MapCarrier(attrs))
	}
	if attrs[clientPrefix+ParentAttribute] != "" {
		return propagator.Extract(ctx, prefixed(attrs))
	}
	return ctx
}

// ToAttributes writes the span context of ctx into attrs as traceparent (and tracestate), unless
// attrs already carry a traceparent: a message published again keeps the trace it came with.
func ToAttributes(ctx context.Context, attrs map[string]string) {
	if attrs == nil || attrs[ParentAttribute] != "" || !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	propagator.Inject(ctx, propagation.MapCarrier(attrs))
}

// Traceparent is the traceparent header value of ctx's span, or "" without a valid one.
func Traceparent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	var c parentOnly
	propagator.Inject(ctx, &c)
	return c.value
}

// parentOnly keeps the traceparent the propagator writes and nothing else: cheaper than a map
// for one value.
type parentOnly struct{ value string }

func (c *parentOnly) Get(string) string { return "" }
func (c *parentOnly) Keys() []string    { return nil }
func (c *parentOnly) Set(key, val string) {
	if key == ParentAttribute {
		c.value = val
	}
}

// prefixed reads the Pub/Sub client's googclient_-prefixed keys.
type prefixed map[string]string

func (p prefixed) Get(key string) string { return p[clientPrefix+key] }
func (p prefixed) Set(key, val string)   { p[clientPrefix+key] = val }
func (p prefixed) Keys() []string {
	out := make([]string, 0, len(p))
	for k := range p {
		out = append(out, k)
	}
	return out
}

// Tracer returns the tracer of tp, or one that records nothing when tp is nil. Spans of a
// nil provider still carry the remote parent's context, so log lines and published messages
// keep the trace id even when nothing is exported.
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return noop.NewTracerProvider().Tracer(Name)
	}
	return tp.Tracer(Name)
}
