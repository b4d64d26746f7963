package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestNew_WritesCloudLoggingFieldNames(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelDebug)
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1")
	ctx := WithTrace(r.Context(), r, "my-project")

	log.ErrorContext(ctx, "dead letter", "kind", "job_event")
	log.WarnContext(ctx, "careful")
	log.Debug("details")

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", len(lines), buf.String())
	}
	var first map[string]any
	if err := json.Unmarshal(lines[0], &first); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"severity":                     "ERROR",
		"message":                      "dead letter",
		"kind":                         "job_event",
		"logging.googleapis.com/trace": "projects/my-project/traces/105445aa7843bc8bf206b12000100000",
	}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("%s = %v, want %v", k, first[k], v)
		}
	}
	if _, ok := first["time"]; !ok {
		t.Error("no time field")
	}
	for i, sev := range []string{"ERROR", "WARNING", "DEBUG"} {
		var m map[string]any
		_ = json.Unmarshal(lines[i], &m)
		if m["severity"] != sev {
			t.Errorf("line %d severity = %v, want %s", i, m["severity"], sev)
		}
	}
}

func TestWithTrace_ReadsTraceparentAndIgnoresGarbage(t *testing.T) {
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if got := traceID(r); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("traceparent: got %q", got)
	}
	r = httptest.NewRequest("POST", "/", nil)
	r.Header.Set("X-Cloud-Trace-Context", `"><script>/1`)
	if got := traceID(r); got != "" {
		t.Errorf("garbage trace header accepted: %q", got)
	}
}

func TestNewForProject_ALineLoggedInASpanNamesItsTraceAndSpan(t *testing.T) {
	var buf bytes.Buffer
	log := NewForProject(&buf, slog.LevelInfo, "my-project")
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	// The request's own trace header loses to the span: the line belongs to the event's trace.
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1")
	log.InfoContext(WithTrace(ctx, r, "my-project"), "delivery attempt")

	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m[TraceField] != "projects/my-project/traces/4bf92f3577b34da6a3ce929d0e0e4736" || m[SpanField] != "00f067aa0ba902b7" || m[SampledField] != true {
		t.Errorf("trace fields = %v, %v, %v", m[TraceField], m[SpanField], m[SampledField])
	}
}
