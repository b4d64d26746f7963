// Package export sends a function instance's spans somewhere: Cloud Trace in production, through
// Google Cloud's Telemetry (OTLP) API; JSON lines under a directory on the local stack
// (shared/tracing/README.md, Export). Only the functions link it; a job system that only propagates
// a trace needs shared/tracing alone.
package export

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"golang.org/x/oauth2"
)

// Exporters a function instance can send its spans to.
const (
	// ExportCloudTrace sends spans to Cloud Trace (production) through the Telemetry API over
	// OTLP. The name is the backend's, not the protocol's: it kept its meaning when the
	// deprecated Cloud Trace exporter was replaced.
	ExportCloudTrace = "cloudtrace"
	// ExportFile appends spans as JSON lines to a file of Options.Dir (the local stack).
	ExportFile = "file"
	// ExportNone records nothing; log lines and messages still carry the trace context.
	ExportNone = "none"
)

// Options configure a function instance's tracer provider.
type Options struct {
	// Exporter is one of ExportCloudTrace, ExportFile, ExportNone.
	Exporter string
	// SampleRatio is the share of traces sampled among those that did not arrive sampled.
	SampleRatio float64
	// GoogleProject receives the spans (Cloud Trace); it is the resource's gcp.project_id.
	GoogleProject string
	// Service is the resource's service.name, and names this process's file in Dir.
	Service string
	// Dir holds the span files (ExportFile).
	Dir string

	// telemetryAPI and tokens replace TelemetryAPI and Application Default Credentials; only
	// this package's tests set them.
	telemetryAPI string
	tokens       oauth2.TokenSource
}

// Sampler samples every trace that arrived sampled, and ratio of the rest: traces that arrived
// unsampled and traces Jobhooks starts. The ratio is decided on the trace id, so Dispatch and
// every later Deliver of one event decide alike even without the parent's flag.
func Sampler(ratio float64) sdktrace.Sampler {
	rest := sdktrace.TraceIDRatioBased(ratio)
	return sdktrace.ParentBased(rest, sdktrace.WithRemoteParentNotSampled(rest))
}

// NewProvider builds the instance's tracer provider; nil for ExportNone. Spans are exported in
// batches off the request path; Shutdown flushes them.
func NewProvider(ctx context.Context, o Options) (*sdktrace.TracerProvider, error) {
	var (
		exp   sdktrace.SpanExporter
		batch []sdktrace.BatchSpanProcessorOption
	)
	res, err := newResource(o)
	if err != nil {
		return nil, err
	}
	switch o.Exporter {
	case ExportNone, "":
		return nil, nil
	case ExportCloudTrace:
		e, err := newTelemetryExporter(ctx, o)
		if err != nil {
			return nil, err
		}
		exp = e
	case ExportFile:
		e, err := NewFileExporter(o.Dir, o.Service)
		if err != nil {
			return nil, err
		}
		// A developer reads the waterfall right after publishing.
		exp, batch = e, []sdktrace.BatchSpanProcessorOption{sdktrace.WithBatchTimeout(200 * time.Millisecond)}
	default:
		return nil, fmt.Errorf("export: unknown exporter %q", o.Exporter)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithSampler(Sampler(o.SampleRatio)), sdktrace.WithBatcher(exp, batch...),
		sdktrace.WithResource(res)), nil
}

// newResource describes the process on every span it exports: the SDK's defaults (and
// OTEL_RESOURCE_ATTRIBUTES), service.name, and gcp.project_id, which the Telemetry API requires
// to know the project the spans belong to.
func newResource(o Options) (*resource.Resource, error) {
	attrs := []attribute.KeyValue{semconv.ServiceName(o.Service)}
	if o.GoogleProject != "" {
		attrs = append(attrs, attribute.String("gcp.project_id", o.GoogleProject))
	}
	r, err := resource.Merge(resource.Default(), resource.NewSchemaless(attrs...))
	if err != nil {
		return nil, fmt.Errorf("export: resource: %w", err)
	}
	return r, nil
}

// LogErrors sends OpenTelemetry's own errors (an export that failed, a span dropped) to log,
// as JSON lines of the function's log, instead of the SDK's default: plain text on stderr,
// which Cloud Logging shows as unparsed lines. The handler is process-wide.
func LogErrors(log *slog.Logger) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing: span export failed", "error", err.Error())
	}))
}
