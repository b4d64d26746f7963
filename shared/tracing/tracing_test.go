package tracing

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestFromAttributes_ReadsTraceparentThenThePubSubClientsPrefixedOne(t *testing.T) {
	for name, attrs := range map[string]map[string]string{
		"traceparent":            {"traceparent": parent},
		"googclient_traceparent": {"googclient_traceparent": parent},
		"both, ours first":       {"traceparent": parent, "googclient_traceparent": "00-11111111111111111111111111111111-2222222222222222-01"},
	} {
		sc := trace.SpanContextFromContext(FromAttributes(context.Background(), attrs))
		if sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || sc.SpanID().String() != "00f067aa0ba902b7" || !sc.IsRemote() {
			t.Errorf("%s: got %v", name, sc)
		}
	}
	for _, bad := range []string{"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"} {
		if sc := trace.SpanContextFromContext(FromAttributes(context.Background(), map[string]string{"traceparent": bad})); sc.IsValid() {
			t.Errorf("traceparent %q gave a valid span context", bad)
		}
	}
}

func TestToAttributes_WritesTheSpanAndKeepsATraceparentAlreadyThere(t *testing.T) {
	ctx := FromAttributes(context.Background(), map[string]string{"traceparent": parent})
	attrs := map[string]string{"kind": "delivery"}
	ToAttributes(ctx, attrs)
	if attrs["traceparent"] != parent {
		t.Errorf("traceparent = %q, want %q", attrs["traceparent"], parent)
	}
	kept := map[string]string{"traceparent": "00-11111111111111111111111111111111-2222222222222222-00"}
	ToAttributes(ctx, kept)
	if kept["traceparent"] != "00-11111111111111111111111111111111-2222222222222222-00" {
		t.Errorf("a re-published message's traceparent was replaced: %q", kept["traceparent"])
	}
	none := map[string]string{}
	ToAttributes(context.Background(), none)
	if len(none) != 0 {
		t.Errorf("no span, yet attributes %v", none)
	}
}

func TestTraceparent_IsTheSpansHeaderValue(t *testing.T) {
	if got := Traceparent(FromAttributes(context.Background(), map[string]string{"traceparent": parent})); got != parent {
		t.Errorf("Traceparent = %q, want %q", got, parent)
	}
	if got := Traceparent(context.Background()); got != "" {
		t.Errorf("no span, yet traceparent %q", got)
	}
}
