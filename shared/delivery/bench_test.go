package delivery

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/logging"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/retry"
	"github.com/jobhooks/jobhooks/shared/sender"
	"github.com/jobhooks/jobhooks/shared/signing"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// BenchmarkDeliver_OwnCPUPerSuccessfulDelivery measures what Deliver itself spends on one
// successful delivery of a 1 KiB body, without the network and the store (README, Targets the benchmarks report:
// ≤ 50 µs): decoding the push envelope and the task, building and signing the request headers,
// classifying the 200, folding it into the delivery and attempt records, and the attempt log line.
func BenchmarkDeliver_OwnCPUPerSuccessfulDelivery(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1024)
	tk := task.Task{
		DeliveryID: "dlv_0123456789abcdefghjkmnpqrs", Project: "acme", EventID: "job-1",
		EventType: "batch.succeeded", MessageID: "msg_0123456789abcdefghjkmnpqrs",
		EventTime: time.Now(), Webhook: "wh-1", Body: body,
	}
	env := []byte(`{"message":{"data":"` + base64.StdEncoding.EncodeToString(tk.Encode()) +
		`","attributes":{"kind":"delivery","project":"acme"},"messageId":"1234567890","publishTime":"2026-11-28T10:00:00Z"},"subscription":"projects/p/subscriptions/webhook-deliveries-deliver"}`)
	key := bytes.Repeat([]byte{7}, 32)
	tg := target{
		static: true, url: "https://receiver.example.com/hooks/jobhooks",
		headers:   []webhook.Header{{Key: "X-Team", Value: "data"}},
		retriesOn: webhook.Webhook{}.RetriesOn, signer: signing.NewHMAC(key),
	}
	s := &Service{Deps: Deps{Log: logging.New(io.Discard, nil), Now: time.Now}, cfg: config.Defaults()}
	resp := sender.Response{StatusCode: 200, Header: http.Header{}, Body: []byte("ok"), Latency: 3 * time.Millisecond}
	ctx := context.Background()

	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(env))
		m, err := pushmsg.Decode(r)
		if err != nil {
			b.Fatal(err)
		}
		t, err := task.Decode(m.Data)
		if err != nil {
			b.Fatal(err)
		}
		now := s.Now()
		_ = headers(t, tg, now.Unix())
		res := retry.Classify(now, resp.StatusCode, resp.Header, nil, tg.retriesOn)
		d, a := outcome{tg: tg, at: now, resp: resp, res: res}.fold(newRecord(t, now))
		if d.State != store.Delivered {
			b.Fatalf("state %s", d.State)
		}
		s.logOutcome(ctx, t, d, a.Outcome, resp.StatusCode, resp.Latency, res.Reason)
	}
}
