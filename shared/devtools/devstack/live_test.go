package devstack

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/jobhooks/jobhooks/shared/devtools/emulator"
	"github.com/jobhooks/jobhooks/shared/jobevents"
)

// statusReceiver answers /ok with 204, /bad with 400, and /flaky with 503 the first time it
// sees a webhook-id and 204 after; it counts the statuses it answered.
type statusReceiver struct {
	base string
	mu   sync.Mutex
	seen map[string]bool
	sent map[int]int
}

func newStatusReceiver(t *testing.T) *statusReceiver {
	r := &statusReceiver{seen: map[string]bool{}, sent: map[int]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		defer r.mu.Unlock()
		status := http.StatusNoContent
		switch {
		case req.URL.Path == "/bad":
			status = http.StatusBadRequest
		case req.URL.Path == "/flaky" && !r.seen[req.Header.Get("webhook-id")]:
			r.seen[req.Header.Get("webhook-id")] = true
			status = http.StatusServiceUnavailable
		}
		r.sent[status]++
		w.WriteHeader(status)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	r.base = "http://" + ln.Addr().String()
	return r
}

func (r *statusReceiver) count(status int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent[status]
}

// publish publishes events through the stack's Pub/Sub emulator, as a job system would.
func publish(t *testing.T, d *devRun, events ...jobevents.Event) {
	t.Helper()
	t.Setenv(emulator.PubSub.HostEnv(), d.env[emulator.PubSub.HostEnv()])
	ctx := context.Background()
	client, err := pubsub.NewClient(ctx, GoogleProject)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	p := jobevents.NewPublisher(client, d.env["JOBHOOKS_JOB_EVENTS_TOPIC"])
	defer p.Stop()
	for _, e := range events {
		if _, err := p.Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
}

// TestScriptsDev_SummaryCountsWhatTheReceiverGot: the live summary's delivered, retries and
// failed are the 2xx, 503 and 400 a receiver answered, first attempts (Dispatch's) and retries
// (Deliver's) alike.
func TestScriptsDev_SummaryCountsWhatTheReceiverGot(t *testing.T) {
	emulator.NeedGcloud(t)
	d := startDev(t, t.TempDir())
	rcv := newStatusReceiver(t)
	for _, path := range []string{"ok", "flaky", "bad"} {
		if code, body := d.api(http.MethodPost, "/v1/projects/demo/webhooks?webhook_id="+path,
			`{"url":"`+rcv.base+"/"+path+`","subscribed_events":["batch.succeeded"]}`); code != http.StatusOK {
			t.Fatalf("create webhook %s: %d %s", path, code, body)
		}
	}
	const events = 3
	var batch []jobevents.Event
	for i := range events {
		batch = append(batch, jobevents.Event{ID: fmt.Sprintf("summary-%d", i), Project: Project, Type: "batch.succeeded"})
	}
	publish(t, d, batch...)
	// Each flaky target is retried once, by Deliver, about RedeliverEvery after its 503.
	for deadline := time.Now().Add(RedeliverEvery + time.Minute); rcv.count(http.StatusNoContent) < 2*events; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the receiver answered %d 2xx, want %d; summary %q", rcv.count(http.StatusNoContent), 2*events, d.summary())
		}
	}
	want := fmt.Sprintf("delivered %d · retries %d · failed %d · dead-lettered 0", rcv.count(http.StatusNoContent),
		rcv.count(http.StatusServiceUnavailable), rcv.count(http.StatusBadRequest))
	if want != "delivered 6 · retries 3 · failed 3 · dead-lettered 0" {
		t.Fatalf("the receiver answered %s; the test expects each event's three targets to answer once each way", want)
	}
	d.waitSummary(want, 10*time.Second)
}

// TestScriptsDev_SecureModeSuggestsHTTPSAndCountsABlockedTargetAsFailed: under --secure the
// banner suggests no http:// target (the API would refuse it), a per-request target on a
// loopback address is refused by the address guard and counted failed, and demo (whose
// receiver is local) is refused up front.
func TestScriptsDev_SecureModeSuggestsHTTPSAndCountsABlockedTargetAsFailed(t *testing.T) {
	emulator.NeedGcloud(t)
	root, _ := filepath.Abs("../../..")
	refused := exec.Command(filepath.Join(root, "scripts/dev"), "--secure", "--dir", t.TempDir(), "demo")
	refused.Dir = root
	if out, err := refused.CombinedOutput(); err == nil || !strings.Contains(string(out), "--secure refuses") {
		t.Errorf("scripts/dev --secure demo: %v\n%s", err, out)
	}

	d := startDev(t, t.TempDir(), "--secure")
	out := d.out.String()
	if strings.Contains(out, `"url":"http://`) || !strings.Contains(out, `"url":"https://`) {
		t.Errorf("the --secure banner suggests a target the API refuses:\n%s", out)
	}
	publish(t, d, jobevents.Event{ID: "blocked-1", Project: Project, Type: "batch.succeeded", URIs: []string{"https://127.0.0.1:9/hook"}})
	d.waitSummary("delivered 0 · retries 0 · failed 1 ·", 30*time.Second)
}
