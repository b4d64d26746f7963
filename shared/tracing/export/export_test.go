package export

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/jobhooks/jobhooks/shared/logging"
	"github.com/jobhooks/jobhooks/shared/tracing"
)

const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestSampler_KeepsSampledParentsAndTheRatioOfTheRest(t *testing.T) {
	s := Sampler(0)
	sampled := trace.ContextWithRemoteSpanContext(context.Background(), trace.SpanContextFromContext(tracing.FromAttributes(context.Background(), map[string]string{"traceparent": parent})))
	unsampled := tracing.FromAttributes(context.Background(), map[string]string{"traceparent": parent[:len(parent)-2] + "00"})
	tid := trace.SpanContextFromContext(sampled).TraceID()
	decide := func(ctx context.Context) sdktrace.SamplingDecision {
		return s.ShouldSample(sdktrace.SamplingParameters{ParentContext: ctx, TraceID: tid, Name: "Dispatch"}).Decision
	}
	if decide(sampled) != sdktrace.RecordAndSample {
		t.Error("a trace that arrived sampled was not sampled")
	}
	if decide(unsampled) != sdktrace.Drop || decide(context.Background()) != sdktrace.Drop {
		t.Error("ratio 0 sampled a trace that did not arrive sampled")
	}
	all := Sampler(1)
	if all.ShouldSample(sdktrace.SamplingParameters{ParentContext: unsampled, TraceID: tid}).Decision != sdktrace.RecordAndSample {
		t.Error("ratio 1 dropped an unsampled parent's trace")
	}
}

func TestLogErrors_AFailedExportIsAJSONLineOfTheFunctionsLog(t *testing.T) {
	var buf bytes.Buffer
	LogErrors(logging.New(&buf, nil))
	t.Cleanup(func() { LogErrors(slog.New(slog.DiscardHandler)) })
	otel.Handle(errors.New("traces export: 503 Service Unavailable"))
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %q", buf.String())
	}
	if line["severity"] != "WARNING" || line["error"] != "traces export: 503 Service Unavailable" {
		t.Errorf("line %v", line)
	}
}
