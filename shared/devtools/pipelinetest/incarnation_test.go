package pipelinetest

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/config"
	deliveryservice "github.com/jobhooks/jobhooks/shared/delivery"
	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// manage calls the management API of the stack as a customer would.
type manage struct {
	t        *testing.T
	base     string
	key      string
	webhooks string
}

func newManage(t *testing.T, s *Stack, project string) manage {
	return manage{t: t, base: s.API(t), key: s.APIKey(t, project), webhooks: "/v1/projects/" + project + "/webhooks"}
}

func (m manage) call(method, path, body string) {
	m.t.Helper()
	if code, got := m.do(method, path, body); code >= 300 {
		m.t.Fatalf("%s %s: %d %s", method, path, code, got)
	}
}

// do makes one API call and returns its status and body.
func (m manage) do(method, path, body string) (int, string) {
	m.t.Helper()
	req, _ := http.NewRequest(method, m.base+path, strings.NewReader(body))
	req.Header.Set("x-goog-api-key", m.key)
	req.Header.Set("content-type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(got)
}

func (m manage) create(id, url string) {
	m.call(http.MethodPost, m.webhooks+"?webhook_id="+id, `{"url":"`+url+`","subscribed_events":["batch.succeeded"]}`)
}

func (m manage) setState(id, state string) {
	m.call(http.MethodPatch, m.webhooks+"/"+id+"?update_mask=state", `{"state":"`+state+`"}`)
}

// requestsFor counts the POSTs r got for one event (its webhook-id).
func requestsFor(r *Receiver, project, eventID string) int {
	n := 0
	for _, req := range r.Requests() {
		if req.Header.Get("webhook-id") == event.MessageID(project, eventID) {
			n++
		}
	}
	return n
}

func TestDeliver_ARecreatedWebhookNeverGetsTheOldOnesPendingRetries(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Configure: func(c *config.Config) { c.CacheTTL = time.Second }})
	api := newManage(t, s, "acme")
	before, after := NewReceiver(t, Status(503)), NewReceiver(t, OK)
	api.create("wh", before.URL)
	s.Publish(t, jobEvent("acme", "job-1", "batch.succeeded"), nil)
	Eventually(t, wait, "the first attempt", func() bool { return before.Count() >= 1 })

	// Deleted and re-created under the same id, with another URL and a new secret, at once.
	api.call(http.MethodDelete, api.webhooks+"/wh", "")
	api.create("wh", after.URL)
	d := waitState(t, s, "acme", "job-1", "wh", store.Cancelled)
	if !strings.HasPrefix(d.Reason, "webhook_") {
		t.Errorf("reason %q, want webhook_recreated (or webhook_deleted)", d.Reason)
	}
	// An event published after the re-creation is the new webhook's.
	s.Publish(t, jobEvent("acme", "job-2", "batch.succeeded"), nil)
	waitState(t, s, "acme", "job-2", "wh", store.Delivered)
	if n := requestsFor(after, "acme", "job-1"); n != 0 {
		t.Errorf("the re-created webhook got %d POSTs of an event pending for the old one", n)
	}
}

func TestDeliver_ADisableAndEnableShorterThanABackoffGapCancelsThePendingRetries(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Configure: func(c *config.Config) { c.CacheTTL = time.Second }})
	api := newManage(t, s, "acme")
	rcv := NewReceiver(t, Status(503))
	api.create("wh", rcv.URL)
	s.Publish(t, jobEvent("acme", "job-1", "batch.succeeded"), nil)
	Eventually(t, wait, "the first attempt", func() bool { return rcv.Count() >= 1 })

	api.setState("wh", "DISABLED")
	api.setState("wh", "ENABLED")
	d := waitState(t, s, "acme", "job-1", "wh", store.Cancelled)
	if d.Reason != "webhook_reenabled" && d.Reason != "webhook_disabled" {
		t.Errorf("reason %q, want webhook_reenabled (or webhook_disabled)", d.Reason)
	}
	posts := rcv.Count()
	time.Sleep(3 * time.Second)
	if rcv.Count() != posts {
		t.Errorf("POSTs went on after the delivery was cancelled: %d then %d", posts, rcv.Count())
	}
}

// Health is written on changes only, judged on a cached copy of the webhook: an instance whose
// copy predates a failure streak delivers without ending the streak. Auto-disable must still
// see that success.
func TestDeliver_ASuccessSeenByAStaleInstanceStopsTheAutoDisable(t *testing.T) {
	t.Parallel()
	const disableAfter = 25 * time.Second
	s := Start(t, Options{Configure: func(c *config.Config) { c.AutoDisableAfter = disableAfter }}) // cache TTL 30 s
	ctx := context.Background()
	rcv := NewReceiver(t, Status(500), OK, Status(500), OK)
	s.AddWebhook(t, hook("acme", "wh", rcv.URL))
	// One Deliver service each, so that each keeps its own cache of the webhook.
	stale, fresh := newProcess(t, s, nil).deliver(), newProcess(t, s, nil).deliver()
	handle := func(svc *deliveryservice.Service, m pushmsg.Message) { svc.Handle(context.Background(), m) }

	handle(stale, deliveryTask(t, "acme", "job-1", "wh")) // 200: caches a healthy copy
	handle(fresh, deliveryTask(t, "acme", "job-2", "wh")) // 500: the streak begins
	// The webhook was written (created) less than store.HealthEvery ago: the streak's start may
	// be held back and written a second later.
	var streak time.Time
	for deadline := time.Now().Add(3 * store.HealthEvery); streak.IsZero() && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		w, _ := s.Store.GetWebhook(ctx, "acme", "wh")
		streak = w.FailingSince
	}
	if streak.IsZero() {
		t.Fatal("no failure streak recorded")
	}
	time.Sleep(10 * time.Second)
	handle(stale, deliveryTask(t, "acme", "job-3", "wh")) // 200, seen on the stale copy
	if d := delivery(t, s, "acme", "job-3", "wh"); d.State != store.Delivered {
		t.Fatalf("job-3: %s", d.State)
	}
	time.Sleep(time.Until(streak.Add(disableAfter + time.Second)))
	handle(fresh, deliveryTask(t, "acme", "job-4", "wh")) // 500, past the streak's limit
	w, _ := s.Store.GetWebhook(ctx, "acme", "wh")
	if w.State != webhook.Enabled {
		t.Fatalf("webhook %s (%s) although it delivered job-3 %s ago", w.State, w.DisabledReason, disableAfter-10*time.Second)
	}
	if !w.FailingSince.After(streak) {
		t.Errorf("failing since %v, want the streak restarted after the success", w.FailingSince)
	}
}

// The user moves a webhook to a new URL because the old endpoint is going away. An instance
// whose cached copy (up to one TTL old) still has the old URL sends a retry there, and the old
// endpoint answers 410: that 410 is the old URL's, and must not disable the webhook the new URL
// now serves (it would cancel the new URL's pending deliveries and drop its next events).
func TestDeliver_A410FromTheURLAWebhookHasLeftDoesNotDisableIt(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{NoPush: true})
	api := newManage(t, s, "acme")
	old, moved := NewReceiver(t, Status(http.StatusGone), OK), NewReceiver(t, OK)
	api.create("wh", old.URL)
	stale := newProcess(t, s, nil).deliver()
	stale.Handle(context.Background(), deliveryTask(t, "acme", "job-1", "wh")) // 200: caches the old URL

	api.call(http.MethodPatch, api.webhooks+"/wh?update_mask=url", `{"url":"`+moved.URL+`"}`)
	stale.Handle(context.Background(), deliveryTask(t, "acme", "job-2", "wh")) // the old URL, within the TTL: 410
	if old.Count() != 2 {
		t.Fatalf("the old URL got %d POSTs, want 2 (job-1, then job-2 from the stale copy)", old.Count())
	}
	if w, err := s.Store.GetWebhook(context.Background(), "acme", "wh"); err != nil || w.State != webhook.Enabled {
		t.Fatalf("webhook %s (%s), %v: disabled by the 410 of a URL it no longer has", w.State, w.DisabledReason, err)
	}
	// A redelivery of the task finds the record final on a 410 and repairs a disable that did not
	// happen; it must not disable the moved webhook either.
	newProcess(t, s, nil).deliver().Handle(context.Background(), deliveryTask(t, "acme", "job-2", "wh"))
	if w, _ := s.Store.GetWebhook(context.Background(), "acme", "wh"); w.State != webhook.Enabled {
		t.Errorf("webhook %s (%s) after the redelivery's repair, want enabled", w.State, w.DisabledReason)
	}
}
