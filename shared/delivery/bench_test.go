package delivery

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/logging"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/retry"
	"github.com/jobhooks/jobhooks/shared/sender"
	"github.com/jobhooks/jobhooks/shared/signing"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
	"github.com/jobhooks/jobhooks/shared/tracing"
	"github.com/jobhooks/jobhooks/shared/tracing/export"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// BenchmarkDeliver_OwnCPUPerSuccessfulDelivery measures what Deliver itself spends on one
// successful delivery of a 1 KiB body, without the network and the store
// (shared/devtools/README.md, Targets the benchmarks report: ≤ 50 µs): decoding the push envelope
// and the task, building and signing the request headers, classifying the 200, folding it into the
// delivery and attempt records, and the attempt log line. "sampled" adds what tracing costs
// (shared/tracing/README.md, Cost): the trace context read from the task's attributes, the handling
// and attempt spans, sampled, with their attributes, the receiver's traceparent, and the spans
// handed to the batch span processor, as in production, whose exporter discards them; "unsampled"
// is the same event left out by the sampler (90 % of the events that did not arrive sampled).
// cpu-ns/op is the process's CPU per delivery, on every thread: it includes the garbage collector's
// and the batch processor's goroutines.
func BenchmarkDeliver_OwnCPUPerSuccessfulDelivery(b *testing.B) {
	b.Run("untraced", func(b *testing.B) { benchDeliver(b, nil, "01") })
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(export.Sampler(0.1)), sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Run("sampled", func(b *testing.B) { benchDeliver(b, tp, "01") })
	b.Run("unsampled", func(b *testing.B) { benchDeliver(b, tp, "00") })
}

// cpuTime is the CPU the process has used so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchDeliver(b *testing.B, tp *sdktrace.TracerProvider, flags string) {
	body := bytes.Repeat([]byte("x"), 1024)
	tk := task.Task{
		DeliveryID: "dlv_0123456789abcdefghjkmnpqrs", Project: "acme", EventID: "job-1",
		EventType: "batch.succeeded", MessageID: "msg_0123456789abcdefghjkmnpqrs",
		EventTime: time.Now(), Webhook: "wh-1", Body: body,
	}
	// The parent's flags decide: 01 is sampled; with 00, this trace id is outside the 10 %.
	env := []byte(`{"message":{"data":"` + base64.StdEncoding.EncodeToString(tk.Encode()) +
		`","attributes":{"kind":"delivery","project":"acme","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-` + flags + `"},"messageId":"1234567890","publishTime":"2026-11-28T10:00:00Z"},"subscription":"projects/p/subscriptions/webhook-deliveries-deliver"}`)
	key := bytes.Repeat([]byte{7}, 32)
	tg := withHost(target{
		static: true, url: "https://receiver.example.com/hooks/jobhooks",
		headers:   []webhook.Header{{Key: "X-Team", Value: "data"}},
		retriesOn: webhook.Webhook{}.RetriesOn, signer: signing.NewHMAC(key), propagateTrace: tp != nil,
	})
	var provider trace.TracerProvider
	if tp != nil {
		provider = tp
	}
	s := New(config.Defaults(), Deps{Log: logging.NewForProject(io.Discard, nil, "p"), Now: time.Now, Tracer: provider})
	resp := sender.Response{StatusCode: 200, Header: http.Header{}, Body: []byte("ok"), Latency: 3 * time.Millisecond}

	ctx := context.Background()
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		// As the server hands it over: httptest.NewRequest would add its own work, a request
		// parsed from text into a fresh 4 KiB reader, which a server's connection reuses.
		r, _ := http.NewRequestWithContext(ctx, http.MethodPost, "/", bytes.NewReader(env))
		m, err := pushmsg.Decode(r)
		if err != nil {
			b.Fatal(err)
		}
		t, err := task.Decode(m.Data)
		if err != nil {
			b.Fatal(err)
		}
		attrs := taskAttributes(t)
		ctx, span := tracing.StartHandling(r.Context(), s.tracer, "Deliver", m, attrs[:]...)
		actx, aspan := s.startAttempt(ctx, tg.spanName)
		now := s.Now()
		h := headers(t, tg, now.Unix())
		propagate(actx, tg, h)
		res := retry.Classify(now, resp.StatusCode, resp.Header, nil, tg.retriesOn)
		d, a := outcome{tg: tg, at: now, resp: resp, res: res}.fold(newRecord(t, now))
		if d.State != store.Delivered {
			b.Fatalf("state %s", d.State)
		}
		s.logOutcome(actx, t, d, a.Outcome, resp.StatusCode, resp.Latency, res.Reason)
		aspan.End()
		tracing.End(span, nil)
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}
