package restapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/store"
)

// putDelivery stores a delivery record of webhook id directly, as Dispatch and Deliver would
// leave it.
func putDelivery(t *testing.T, s *pipelinetest.Stack, id, eventID string, state store.DeliveryState, waiting string) string {
	t.Helper()
	now := time.Now().UTC()
	d := store.Delivery{ID: event.DeliveryID("acme", eventID, "webhook:"+id), Project: "acme", EventID: eventID,
		EventType: "batch.succeeded", MessageID: event.MessageID("acme", eventID), Webhook: id, URL: "https://w.example.com/h",
		State: state, Waiting: waiting, EventTime: now, CreateTime: now}
	if state == store.Exhausted {
		d.Reason = "throttled"
	}
	if err := s.Store.PutDelivery(context.Background(), &d); err != nil {
		t.Fatal(err)
	}
	return d.ID
}

// What waits for an endpoint (shared/restapi/README.md, The management API): GET of one webhook
// counts its pending deliveries, a list does not (counting costs reads per webhook), and a
// pending delivery says what it waits for.
func TestEndpoint_GetCountsPendingDeliveries_AndADeliverySaysWhatItWaitsFor(t *testing.T) {
	t.Parallel()
	s, c := env(t, pipelinetest.Options{})
	c.createA("waits", "https://w.example.com/h")
	c.createA("idle", "https://i.example.com/h")
	throttled := putDelivery(t, s, "waits", "job-1", store.Pending, store.WaitThrottled)
	paused := putDelivery(t, s, "waits", "job-2", store.Pending, store.WaitPaused)
	plain := putDelivery(t, s, "waits", "job-3", store.Pending, "")
	ended := putDelivery(t, s, "waits", "job-4", store.Exhausted, store.WaitThrottled)
	putDelivery(t, s, "waits", "job-5", store.Delivered, "")

	var one struct {
		PendingDeliveries *int `json:"pending_deliveries"`
	}
	c.do("GET", "/v1/projects/acme/webhooks/waits", "").ok(t, &one)
	if one.PendingDeliveries == nil || *one.PendingDeliveries != 3 {
		t.Errorf("GET of the webhook shows pending_deliveries %v, want 3", one.PendingDeliveries)
	}
	c.do("GET", "/v1/projects/acme/webhooks/idle", "").ok(t, &one)
	if one.PendingDeliveries == nil || *one.PendingDeliveries != 0 {
		t.Errorf("GET of a webhook with nothing pending shows pending_deliveries %v, want 0 shown", one.PendingDeliveries)
	}
	var list struct{ Webhooks []map[string]json.RawMessage }
	c.do("GET", "/v1/projects/acme/webhooks", "").ok(t, &list)
	for _, w := range list.Webhooks {
		if _, ok := w["pending_deliveries"]; ok {
			t.Errorf("the list shows pending_deliveries: %s", w["name"])
		}
	}
	// Output only: sent back, it is ignored; named in an update_mask, refused.
	c.do("PATCH", "/v1/projects/acme/webhooks/waits", `{"display_name":"W","pending_deliveries":7}`).ok(t, nil)
	c.do("PATCH", "/v1/projects/acme/webhooks/waits?update_mask=pending_deliveries", `{"pending_deliveries":7}`).fails(t, 400, "INVALID_ARGUMENT", "output only")

	for id, want := range map[string]string{throttled: "THROTTLED", paused: "PAUSED", plain: "", ended: ""} {
		var d struct {
			Waiting string `json:"waiting"`
		}
		c.do("GET", "/v1/projects/acme/webhooks/waits/deliveries/"+id, "").ok(t, &d)
		if d.Waiting != want {
			t.Errorf("delivery %s shows waiting %q, want %q", id, d.Waiting, want)
		}
	}
	var page struct {
		Deliveries []struct {
			Name    string `json:"name"`
			Waiting string `json:"waiting"`
		}
	}
	c.do("GET", "/v1/projects/acme/webhooks/waits/deliveries?state=PENDING", "").ok(t, &page)
	seen := map[string]int{}
	for _, d := range page.Deliveries {
		seen[d.Waiting]++
	}
	if seen["THROTTLED"] != 1 || seen["PAUSED"] != 1 || seen[""] != 1 {
		t.Errorf("the list's pending deliveries wait for %v, want one THROTTLED, one PAUSED, one nothing", seen)
	}
}

// What a delivery sent (shared/restapi/README.md, What a delivery sent): GET of one delivery
// shows the body and the headers the endpoint got, the webhook's own header values and the
// signature redacted, and says when the body has expired instead of failing.
func TestDelivery_ShowsWhatWasSent_WithTheWebhooksHeaderValuesRedacted(t *testing.T) {
	t.Parallel()
	s, c := env(t, pipelinetest.Options{})
	const token = "Bearer tok-do-not-show-4711"
	rcv := pipelinetest.NewReceiver(t, pipelinetest.OK)
	c.createA("sent", rcv.URL, `,"request_headers":[{"key":"Authorization","value":"`+token+`"},{"key":"X-Team","value":"team-secret-42"}]`)
	s.Publish(t, jobEvent("acme", "job-sent", "batch.succeeded"), nil)
	name := deliveryName("acme", "sent", "job-sent")
	c.waitDelivery(name, "DELIVERED")
	got := rcv.Requests()[0]

	type shown struct {
		Request struct {
			Body        string `json:"body"`
			BodyExpired bool   `json:"body_expired"`
			Headers     []struct {
				Name     string `json:"name"`
				Value    string `json:"value"`
				Redacted bool   `json:"redacted"`
			} `json:"headers"`
		} `json:"request"`
	}
	var d shown
	r := c.do("GET", "/v1/"+name, "").ok(t, &d)
	if strings.Contains(string(r.body), "tok-do-not-show") || strings.Contains(string(r.body), "team-secret") {
		t.Errorf("the delivery shows a header value of the webhook's own: %s", r.body)
	}
	if d.Request.Body != string(got.Body) || d.Request.BodyExpired {
		t.Errorf("the delivery shows body %q (expired %v), want what the endpoint got: %s", d.Request.Body, d.Request.BodyExpired, got.Body)
	}
	values := map[string]string{}
	var names []string
	for _, h := range d.Request.Headers {
		values[strings.ToLower(h.Name)] = h.Value
		names = append(names, h.Name)
		if h.Redacted != (h.Name == "Authorization" || h.Name == "X-Team" || h.Name == "webhook-signature") {
			t.Errorf("header %s: redacted %v", h.Name, h.Redacted)
		}
	}
	for _, h := range []string{"content-type", "user-agent", "webhook-id", "webhook-timestamp"} {
		if values[h] != got.Header.Get(h) {
			t.Errorf("%s is shown as %q; the endpoint got %q", h, values[h], got.Header.Get(h))
		}
	}
	if values["authorization"] != "••••" || values["x-team"] != "••••" {
		t.Errorf("the webhook's own headers show %q and %q, want their names only", values["authorization"], values["x-team"])
	}
	if sig := values["webhook-signature"]; sig != "v1,…" || !strings.HasPrefix(got.Header.Get("webhook-signature"), "v1,") {
		t.Errorf("webhook-signature is shown as %q (sent %q): want the scheme of its one signature, shortened", sig, got.Header.Get("webhook-signature"))
	}
	if strings.Join(names, " ") != "content-type user-agent Authorization X-Team webhook-id webhook-timestamp webhook-signature" {
		t.Errorf("the headers are shown in the order %q", names)
	}

	// The event's record expires (the record TTL): the delivery says so and still answers.
	if _, err := s.Store.Client().Doc("projects/acme/events/" + store.EventKey("job-sent")).Delete(context.Background()); err != nil {
		t.Fatal(err)
	}
	d = shown{}
	c.do("GET", "/v1/"+name, "").ok(t, &d)
	if !d.Request.BodyExpired || d.Request.Body != "" || len(d.Request.Headers) == 0 {
		t.Errorf("after the body expired the delivery shows %+v, want body_expired and the headers", d.Request)
	}
}
