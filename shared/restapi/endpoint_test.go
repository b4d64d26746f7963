package restapi_test

import (
	"context"
	"encoding/json"
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
