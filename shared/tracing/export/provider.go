// Package export sends a function instance's spans somewhere: Cloud Trace in production, JSON
// lines under a directory on the local stack (README, Observability). Only the functions link
// it; a job system that only propagates a trace needs shared/tracing alone.
package export

import (
	"context"
	"fmt"
	"time"

	texporter "github.com/GoogleCloudPlatform/opentelemetry-operations-go/exporter/trace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Exporters a function instance can send its spans to.
const (
	// ExportCloudTrace sends spans to Cloud Trace (production).
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
	// GoogleProject receives the spans (Cloud Trace).
	GoogleProject string
	// Dir holds the span files (ExportFile); Service names this process's file in it.
	Dir, Service string
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
	switch o.Exporter {
	case ExportNone, "":
		return nil, nil
	case ExportCloudTrace:
		e, err := texporter.New(texporter.WithProjectID(o.GoogleProject), texporter.WithContext(context.WithoutCancel(ctx)))
		if err != nil {
			return nil, fmt.Errorf("export: cloud trace exporter: %w", err)
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
	return sdktrace.NewTracerProvider(sdktrace.WithSampler(Sampler(o.SampleRatio)), sdktrace.WithBatcher(exp, batch...)), nil
}
