package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/jobhooks/jobhooks/shared/logging"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
)

// The line pushmsg.Respond writes about a handling's result ("acknowledged", "handler failed")
// names the handling's trace like the handler's own lines, also when the handling started the
// trace itself (a job event published without a traceparent).
func TestStartHandling_RespondsLineNamesTheHandlingsTrace(t *testing.T) {
	for name, c := range map[string]struct {
		attrs string // the pushed message's attributes
		err   error
		line  string
	}{
		"Dispatch starts the trace, then fails":  {`{}`, errors.New("firestore down"), "handler failed; Pub/Sub will redeliver"},
		"Deliver continues the trace, then acks": {`{"traceparent":"` + parent + `"}`, pushmsg.Ack(errors.New("dead-lettered: window_exhausted")), "acknowledged"},
		"a dead letter's unexpected failure too": {`{"googclient_traceparent":"` + parent + `"}`, errors.New("x"), "handler failed; Pub/Sub will redeliver"},
	} {
		rec := tracetest.NewSpanRecorder()
		tr := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer(Name)
		var buf bytes.Buffer
		log := logging.NewForProject(&buf, slog.LevelInfo, "p")
		h := pushmsg.Handler(log, func(ctx context.Context, m pushmsg.Message) (err error) {
			ctx, span := StartHandling(ctx, tr, "Dispatch", m)
			defer func() { End(span, err) }()
			log.InfoContext(ctx, "handling")
			return c.err
		})
		body := `{"message":{"data":"e30=","attributes":` + c.attrs + `,"messageId":"42"},"subscription":"s"}`
		h(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body)))

		spans := rec.Ended()
		if len(spans) != 1 {
			t.Fatalf("%s: %d spans, want 1", name, len(spans))
		}
		sc := spans[0].SpanContext()
		if c.attrs != `{}` && sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Errorf("%s: span of trace %s, want the message's", name, sc.TraceID())
		}
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, m["message"].(string))
			if m[logging.TraceField] != "projects/p/traces/"+sc.TraceID().String() || m[logging.SpanField] != sc.SpanID().String() {
				t.Errorf("%s: line %q has trace %v span %v, want the handling's %s %s",
					name, m["message"], m[logging.TraceField], m[logging.SpanField], sc.TraceID(), sc.SpanID())
			}
		}
		if strings.Join(lines, ", ") != "handling, "+c.line {
			t.Errorf("%s: lines %q, want the handler's and %q", name, lines, c.line)
		}
	}
}
