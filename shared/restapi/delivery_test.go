package restapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
	"github.com/jobhooks/jobhooks/shared/event"
)

// deliveryA is a delivery as Surface A shows it.
type deliveryA struct {
	Name         string `json:"name"`
	EventID      string `json:"event_id"`
	EventType    string `json:"event_type"`
	MessageID    string `json:"message_id"`
	State        string `json:"state"`
	Reason       string `json:"reason"`
	AttemptCount int    `json:"attempt_count"`
	CreateTime   string `json:"create_time"`
	Attempts     []struct {
		Number     int    `json:"number"`
		Series     int    `json:"series"`
		StatusCode int    `json:"status_code"`
		Outcome    string `json:"outcome"`
	} `json:"attempts"`
}

type deliveryPage struct {
	Deliveries    []deliveryA `json:"deliveries"`
	NextPageToken string      `json:"next_page_token"`
}

// waitDelivery polls GET delivery until it is in state.
func (c client) waitDelivery(name, state string) deliveryA {
	c.t.Helper()
	var d deliveryA
	pipelinetest.Eventually(c.t, wait, name+" "+state, func() bool {
		r := c.do("GET", "/v1/"+name, "")
		d = deliveryA{}
		return r.status == http.StatusOK && json.Unmarshal(r.body, &d) == nil && d.State == state
	})
	return d
}

func deliveryName(project, webhookID, eventID string) string {
	return "projects/" + project + "/webhooks/" + webhookID + "/deliveries/" + event.DeliveryID(project, eventID, "webhook:"+webhookID)
}

func TestPing_ArrivesThroughDispatchAndDeliverSignedWithTheWebhooksSecret(t *testing.T) {
	t.Parallel()
	_, c := env(t, pipelinetest.Options{})
	rcv := pipelinetest.NewReceiver(t, pipelinetest.OK)
	// Subscribed to something else: a ping goes to the webhook whatever it subscribes to.
	w := c.createA("pinged", rcv.URL)

	var p1, p2 struct {
		EventID  string `json:"event_id"`
		Delivery string `json:"delivery"`
	}
	c.do("POST", "/v1/projects/acme/webhooks/pinged:ping", "").ok(t, &p1)
	c.do("POST", "/v1/projects/acme/webhooks/pinged:ping", "{}").ok(t, &p2)
	if p1.EventID == p2.EventID || !strings.HasPrefix(p1.Delivery, w.Name+"/deliveries/dlv_") {
		t.Errorf("pings %+v and %+v: want distinct events and a delivery of the webhook", p1, p2)
	}
	pipelinetest.Eventually(t, wait, "two pings", func() bool { return rcv.Count() == 2 })

	wh, _ := standardwebhooks.NewWebhook(w.NewSigningSecret)
	ids := map[string]bool{}
	for _, r := range rcv.Requests() {
		if err := wh.Verify(r.Body, r.Header); err != nil {
			t.Errorf("ping does not verify: %v", err)
		}
		var body struct {
			Type string            `json:"type"`
			Data map[string]string `json:"data"`
		}
		if json.Unmarshal(r.Body, &body); body.Type != "webhook.ping" || body.Data["webhook"] != w.Name {
			t.Errorf("ping body = %s", r.Body)
		}
		ids[r.Header.Get("webhook-id")] = true
	}
	if len(ids) != 2 {
		t.Errorf("webhook-ids %v, want two distinct", ids)
	}
	d := c.waitDelivery(p1.Delivery, "DELIVERED")
	if d.EventType != "webhook.ping" || d.AttemptCount != 1 || len(d.Attempts) != 1 ||
		d.Attempts[0].StatusCode != 200 || d.Attempts[0].Outcome != "DELIVERED" || !ids[d.MessageID] {
		t.Errorf("ping delivery = %+v", d)
	}
}

func TestRetry_ResendsAFinishedDeliveryWithTheSameWebhookID(t *testing.T) {
	t.Parallel()
	s, c := env(t, pipelinetest.Options{})
	rcv := pipelinetest.NewReceiver(t, pipelinetest.OK, pipelinetest.Status(404))
	c.createA("fixed-later", rcv.URL)
	// Created up front: Dispatch caches a project's webhook list for up to 30 s.
	busy := pipelinetest.NewReceiver(t, pipelinetest.Status(503))
	var b webhookA
	c.do("POST", "/v1/projects/acme/webhooks?webhook_id=busy", `{"url":`+quote(busy.URL)+`,"subscribed_events":["batch.failed"]}`).ok(t, &b)
	watch(b.NewSigningSecret)
	s.Publish(t, jobEvent("acme", "job-r1", "batch.succeeded"), nil)
	name := deliveryName("acme", "fixed-later", "job-r1")
	d := c.waitDelivery(name, "FAILED")
	if d.Reason != "status_404" || d.AttemptCount != 1 {
		t.Fatalf("before retry: %+v", d)
	}

	if r := c.do("POST", "/v1/"+name+":retry", "").ok(t, nil); strings.TrimSpace(string(r.body)) != "{}" {
		t.Errorf("retry answered %s", r.body)
	}
	d = c.waitDelivery(name, "DELIVERED")
	reqs := rcv.Requests()
	if len(reqs) != 2 || reqs[1].Header.Get("webhook-id") != reqs[0].Header.Get("webhook-id") || string(reqs[1].Body) != string(reqs[0].Body) {
		t.Fatalf("%d requests; the retry must repeat the webhook-id and the body", len(reqs))
	}
	if len(d.Attempts) != 2 || d.Attempts[1].Series != 1 || d.Attempts[1].Outcome != "DELIVERED" {
		t.Errorf("attempts after retry = %+v", d.Attempts)
	}

	// A pending delivery is retried by Deliver already.
	s.Publish(t, jobEvent("acme", "job-r2", "batch.failed"), nil)
	pending := deliveryName("acme", "busy", "job-r2")
	c.waitDelivery(pending, "PENDING")
	c.do("POST", "/v1/"+pending+":retry", "").fails(t, 400, "FAILED_PRECONDITION", "pending")
	// A delivery is only found under its own webhook, and a disabled webhook is not sent to.
	c.do("POST", "/v1/"+strings.Replace(name, "fixed-later", "busy", 1)+":retry", "").fails(t, 404, "NOT_FOUND")
	c.do("GET", "/v1/projects/acme/webhooks/busy/deliveries/dlv_nothere", "").fails(t, 404, "NOT_FOUND")
	c.do("PATCH", "/v1/projects/acme/webhooks/fixed-later", `{"state":"DISABLED"}`).ok(t, nil)
	c.do("POST", "/v1/"+name+":retry", "").fails(t, 400, "FAILED_PRECONDITION", "disabled")
}

func TestReplay_ARangeOverTheLimitIsRefusedWithWhereToSplitIt(t *testing.T) {
	t.Parallel()
	s, c := env(t, pipelinetest.Options{Configure: func(cfg *config.Config) { cfg.MaxReplay = 2 }})
	rcv := pipelinetest.NewReceiver(t, pipelinetest.Status(404))
	c.createA("capped", rcv.URL)
	start := s.Clock.Now().Add(-time.Second)
	for i := range 3 {
		id := fmt.Sprintf("job-c%d", i)
		s.Publish(t, jobEvent("acme", id, "batch.succeeded"), nil)
		c.waitDelivery(deliveryName("acme", "capped", id), "FAILED")
	}
	end := s.Clock.Now().Add(time.Second)
	replay := func(from, to string) response {
		return c.do("POST", "/v1/projects/acme/webhooks/capped:replay", `{"start_time":"`+from+`","end_time":"`+to+`"}`)
	}
	all := replay(start.UTC().Format(time.RFC3339Nano), end.UTC().Format(time.RFC3339Nano))
	all.fails(t, 400, "INVALID_ARGUMENT", "more than 2 failed deliveries")
	var e struct {
		Error struct{ Message string } `json:"error"`
	}
	if err := json.Unmarshal(all.body, &e); err != nil {
		t.Fatal(err)
	}
	split := regexp.MustCompile(`end_time (\S+) first`).FindStringSubmatch(e.Error.Message)
	if split == nil {
		t.Fatalf("message %q names no time to split at", e.Error.Message)
	}
	if n := rcv.Count(); n != 3 {
		t.Fatalf("a refused replay sent something: %d requests, want the 3 first attempts", n)
	}
	var out struct {
		QueuedCount int `json:"queued_count"`
	}
	replay(start.UTC().Format(time.RFC3339Nano), split[1]).ok(t, &out)
	first := out.QueuedCount
	replay(split[1], end.UTC().Format(time.RFC3339Nano)).ok(t, &out)
	if first != 2 || out.QueuedCount != 1 {
		t.Errorf("the two halves queued %d and %d, want 2 and 1", first, out.QueuedCount)
	}
}

func TestReplay_ResendsTheFailedDeliveriesOfATimeRange(t *testing.T) {
	t.Parallel()
	s, c := env(t, pipelinetest.Options{})
	rcv := pipelinetest.NewReceiver(t, pipelinetest.OK, pipelinetest.Status(404), pipelinetest.Status(404))
	c.createA("replayed", rcv.URL)
	start := s.Clock.Now().Add(-time.Second)
	for i, state := range []string{"FAILED", "FAILED", "DELIVERED"} {
		id := fmt.Sprintf("job-p%d", i)
		s.Publish(t, jobEvent("acme", id, "batch.succeeded"), nil)
		c.waitDelivery(deliveryName("acme", "replayed", id), state)
	}
	end := s.Clock.Now().Add(time.Second)

	// Newest first, across pages, and filtered by state.
	list := "/v1/projects/acme/webhooks/replayed/deliveries"
	var p1, p2, failed deliveryPage
	c.do("GET", list+"?page_size=2", "").ok(t, &p1)
	c.do("GET", list+"?page_size=2&page_token="+p1.NextPageToken, "").ok(t, &p2)
	var order []string
	for _, d := range append(p1.Deliveries, p2.Deliveries...) {
		order = append(order, d.EventID)
	}
	if fmt.Sprint(order) != "[job-p2 job-p1 job-p0]" || p2.NextPageToken != "" {
		t.Errorf("deliveries listed %v (next %q), want newest first", order, p2.NextPageToken)
	}
	c.do("GET", list+"?state=FAILED", "").ok(t, &failed)
	if len(failed.Deliveries) != 2 || failed.Deliveries[0].State != "FAILED" {
		t.Errorf("state=FAILED listed %+v", failed.Deliveries)
	}
	c.do("GET", list+"?state=failed&page_token="+p1.NextPageToken, "").fails(t, 400, "INVALID_ARGUMENT", "page_token")
	c.do("GET", list+"?state=LOST", "").fails(t, 400, "INVALID_ARGUMENT", "state")

	replay := func(from, to time.Time) response {
		return c.do("POST", "/v1/projects/acme/webhooks/replayed:replay",
			`{"start_time":"`+from.UTC().Format(time.RFC3339Nano)+`","end_time":"`+to.UTC().Format(time.RFC3339Nano)+`"}`)
	}
	var none struct {
		QueuedCount int `json:"queued_count"`
	}
	replay(start.Add(-time.Hour), start).ok(t, &none)
	if none.QueuedCount != 0 {
		t.Errorf("a range before the deliveries queued %d", none.QueuedCount)
	}
	var out struct {
		QueuedCount int `json:"queued_count"`
	}
	replay(start, end).ok(t, &out)
	if out.QueuedCount != 2 {
		t.Fatalf("queued_count = %d, want 2", out.QueuedCount)
	}
	for i := range 2 {
		c.waitDelivery(deliveryName("acme", "replayed", fmt.Sprintf("job-p%d", i)), "DELIVERED")
	}
	reqs := rcv.Requests()
	if len(reqs) != 5 {
		t.Fatalf("%d requests, want 3 then 2 replayed", len(reqs))
	}
	first := map[string]bool{reqs[0].Header.Get("webhook-id"): true, reqs[1].Header.Get("webhook-id"): true}
	if !first[reqs[3].Header.Get("webhook-id")] || !first[reqs[4].Header.Get("webhook-id")] {
		t.Errorf("replayed requests carry new webhook-ids")
	}
	replay(start, end).ok(t, &out)
	if out.QueuedCount != 0 {
		t.Errorf("a second replay queued %d; nothing is failed any more", out.QueuedCount)
	}

	c.do("POST", "/v1/projects/acme/webhooks/replayed:replay", `{"start_time":"2026-01-02T00:00:00Z"}`).fails(t, 400, "INVALID_ARGUMENT", "end_time")
	c.do("POST", "/v1/projects/acme/webhooks/replayed:replay", `{"start_time":"2026-01-02T00:00:00Z","end_time":"2026-01-01T00:00:00Z"}`).
		fails(t, 400, "INVALID_ARGUMENT", "end_time")
	c.do("POST", "/v1/projects/acme/webhooks/replayed:replay", `{"start_time":"yesterday","end_time":"2026-01-01T00:00:00Z"}`).
		fails(t, 400, "INVALID_ARGUMENT", "start_time")
}
