package delivery

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/jobhooks/jobhooks/shared/sender"
	"github.com/jobhooks/jobhooks/shared/signing"
	"github.com/jobhooks/jobhooks/shared/task"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// TestHeaders_ARecordWrittenAroundTheAPICannotForgeTheSignatureOrTheFraming stores request
// headers the API refuses (a record written before a validation existed, or straight into
// Firestore) and sends the attempt to a real server. What arrives carries exactly one
// webhook-id, webhook-timestamp and webhook-signature, all Jobhooks' own, verifiable with the
// reference library; the body's framing, type and the sender's name are the client's; the
// webhook's harmless headers are there.
func TestHeaders_ARecordWrittenAroundTheAPICannotForgeTheSignatureOrTheFraming(t *testing.T) {
	key := bytes.Repeat([]byte{9}, 32)
	body := []byte(`{"type":"batch.succeeded","version":"v1","timestamp":"2026-11-28T10:00:00Z","data":{}}`)
	tk := task.Task{DeliveryID: "dlv_1", Project: "acme", EventID: "job-1", MessageID: "msg_genuine", Webhook: "w", Body: body}
	tg := target{static: true, signer: signing.NewHMAC(key), headers: []webhook.Header{
		{Key: "X-Team", Value: "data"},
		{Key: "Webhook-Signature", Value: "v1,Zm9yZ2Vk"},
		{Key: "webhook-signature", Value: "v1,Zm9yZ2Vk"},
		{Key: "WEBHOOK-ID", Value: "msg_forged"},
		{Key: "Webhook-Timestamp", Value: "1"},
		{Key: "Host", Value: "internal.example"},
		{Key: "Content-Length", Value: "3"},
		{Key: "Content-Type", Value: "text/plain"},
		{Key: "User-Agent", Value: "Forged/1"},
		{Key: "Transfer-Encoding", Value: "chunked"},
		{Key: "Connection", Value: "Upgrade"},
		{Key: "Upgrade", Value: "websocket"},
	}}

	var got *http.Request
	var gotBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, gotBody = r, must(io.ReadAll(r.Body))
	}))
	t.Cleanup(srv.Close)
	ts := time.Now().Unix()
	client := sender.New(sender.Options{AllowInsecureTargets: true, UserAgent: "Jobhooks/test"})
	if _, err := client.Post(context.Background(), srv.URL+"/hook", headers(tk, tg, ts), body); err != nil {
		t.Fatal(err)
	}

	want := map[string]string{
		"Webhook-Id": "msg_genuine", "Webhook-Timestamp": strconv.FormatInt(ts, 10),
		"Webhook-Signature": signing.NewHMAC(key).Sign("msg_genuine", ts, body),
		"Content-Type":      "application/json", "User-Agent": "Jobhooks/test", "X-Team": "data",
	}
	for name, v := range want {
		if vs := got.Header.Values(name); len(vs) != 1 || vs[0] != v {
			t.Errorf("%s arrived as %q, want only %q", name, vs, v)
		}
	}
	if got.Host != strings.TrimPrefix(srv.URL, "http://") || got.ContentLength != int64(len(body)) ||
		len(got.TransferEncoding) != 0 || !bytes.Equal(gotBody, body) || got.Header.Get("Upgrade") != "" {
		t.Errorf("framing changed: Host %q, Content-Length %d, Transfer-Encoding %q, Upgrade %q, body %q",
			got.Host, got.ContentLength, got.TransferEncoding, got.Header.Get("Upgrade"), gotBody)
	}
	wh, err := standardwebhooks.NewWebhookRaw(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(gotBody, got.Header); err != nil {
		t.Errorf("the reference library rejects the delivery: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
