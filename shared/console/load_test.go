package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/chromedp/chromedp"

	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/store"
)

// TestConsole_Load drives what the console shows of a receiver's protection
// (shared/delivery/README.md, Load: what one receiver gets, and what it costs everyone): a
// webhook's throttle in its form, its endpoint's state, what waits for it, and what a delivery
// sent. The subtests share one stack and one browser and run in order.
func TestConsole_Load(t *testing.T) {
	chromiumPath(t)
	s := pipelinetest.Start(t, pipelinetest.Options{})
	base := s.API(t)
	key := s.APIKey(t, "acme")
	b := startBrowser(t)
	api(t, base, key, "POST", "/v1/projects/acme/webhooks?webhook_id=small",
		`{"display_name":"Small receiver","url":"https://small.example.com/h","subscribed_events":["batch.succeeded"]}`, nil)

	t.Run("TheFormSetsTheThrottle_SendsItOnlyWhenChanged_AndShowsTheAPIsErrorBesideTheField", func(t *testing.T) {
		tb := b.tab(t)
		tb.run("open link", chromedp.Navigate(link(t, base, key, "acme", "")), chromedp.WaitVisible(chromedp.CSS("#webhooks")))
		tb.run("edit", tb.hash("#/webhooks/small/edit"), chromedp.WaitVisible(chromedp.CSS("#max-in-flight")))
		if got := value(tb, "max_in_flight", chromedp.Value(chromedp.CSS("#max-in-flight"))); got != "0" {
			t.Errorf("a webhook without a throttle shows max_in_flight %q, want 0", got)
		}
		if hint := tb.text("#throttle"); !strings.Contains(hint, "0: none of its own") || !strings.Contains(hint, "per second") {
			t.Errorf("the throttle's hints read %q", hint)
		}
		tb.run("set the throttle", chromedp.SetValue(chromedp.CSS("#max-in-flight"), "5"), chromedp.SetValue(chromedp.CSS("#rate-limit"), "50"),
			chromedp.Click(chromedp.CSS("#webhook-form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#webhook-title")))
		var w struct {
			MaxInFlight int `json:"max_in_flight"`
			RateLimit   int `json:"rate_limit"`
		}
		api(t, base, key, "GET", "/v1/projects/acme/webhooks/small", "", &w)
		if w.MaxInFlight != 5 || w.RateLimit != 50 {
			t.Errorf("after saving, the API has max_in_flight %d and rate_limit %d, want 5 and 50", w.MaxInFlight, w.RateLimit)
		}
		if facts := tb.waitText(".facts", "Throttle", 10*time.Second); !strings.Contains(facts, "5 at once") || !strings.Contains(facts, "50 per second") {
			t.Errorf("the webhook's page shows %q, want its throttle", facts)
		}
		tb.run("reload the form", tb.hash("#/webhooks/small/edit"), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#rate-limit")))
		if m, r := value(tb, "max", chromedp.Value(chromedp.CSS("#max-in-flight"))), value(tb, "rate", chromedp.Value(chromedp.CSS("#rate-limit"))); m != "5" || r != "50" {
			t.Errorf("the reloaded form shows max_in_flight %q and rate_limit %q, want 5 and 50", m, r)
		}
		tb.shot("throttle-form", desktop)
		// A change of the name alone sends no throttle field.
		tb.run("rename", chromedp.SetValue(chromedp.CSS("#display-name"), "Small receiver 2"),
			chromedp.Click(chromedp.CSS("#webhook-form button[type=submit]")))
		tb.waitText("#webhook-title", "Small receiver 2", 10*time.Second)
		patches := tb.requested("update_mask=")
		if len(patches) != 2 || !strings.Contains(patches[0], "max_in_flight,rate_limit") ||
			strings.Contains(patches[1], "max_in_flight") || strings.Contains(patches[1], "rate_limit") {
			t.Errorf("the form's updates were %q: want the throttle in the first mask only", patches)
		}
		tb.run("edit again", tb.hash("#/webhooks/small/edit"), chromedp.WaitVisible(chromedp.CSS("#max-in-flight")))
		tb.run("too many", chromedp.SetValue(chromedp.CSS("#max-in-flight"), "501"),
			chromedp.Click(chromedp.CSS("#webhook-form button[type=submit]")))
		msg := tb.waitText("#max-in-flight-error", "max_in_flight", 10*time.Second)
		if !strings.Contains(msg, "500") {
			t.Errorf("beside max_in_flight the form says %q, want the API's error naming the limit", msg)
		}
		if n := tb.count("#rate-limit-error"); n != 0 {
			t.Error("the error is shown beside rate_limit too")
		}
		tb.shot("throttle-error", desktop)
		api(t, base, key, "GET", "/v1/projects/acme/webhooks/small", "", &w)
		if w.MaxInFlight != 5 {
			t.Errorf("a refused update changed max_in_flight to %d", w.MaxInFlight)
		}
	})

	t.Run("TheEndpointsStateIsABadge_WhatWaitsForItIsCounted_AndADeliverySaysWhatItWaitsFor", func(t *testing.T) {
		// Each webhook's store document set as Deliver leaves it (shared/restapi/throttle_test.go does
		// the same): lowered by 429s, paused by a Retry-After, failing for an hour (circuit open).
		ctx := context.Background()
		pausedUntil := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
		failingSince := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
		for id, updates := range map[string][]firestore.Update{
			"lowered": {{Path: "allowed_in_flight", Value: 2}},
			"paused":  {{Path: "paused_until", Value: pausedUntil}},
			// Failing with retryable answers for an hour: the circuit opens on retrying_since.
			"broken": {{Path: "failing_since", Value: failingSince}, {Path: "retrying_since", Value: failingSince}},
		} {
			api(t, base, key, "POST", "/v1/projects/acme/webhooks?webhook_id="+id,
				`{"url":"https://`+id+`.example.com/h","subscribed_events":["batch.succeeded"],"max_in_flight":4}`, nil)
			if _, err := s.Store.Client().Doc("projects/acme/webhooks/"+id).Update(ctx, updates); err != nil {
				t.Fatal(err)
			}
		}
		throttled := putDelivery(t, s, "lowered", "job-t", store.WaitThrottled)
		paused := putDelivery(t, s, "paused", "job-p1", store.WaitPaused)
		putDelivery(t, s, "paused", "job-p2", store.WaitPaused)

		tb := b.tab(t)
		tb.run("open link", chromedp.Navigate(link(t, base, key, "acme", "")), chromedp.WaitVisible(chromedp.CSS("#webhooks")))
		for id, want := range map[string]string{"lowered": "throttled", "paused": "paused until", "broken": "circuit open failing since"} {
			row := tb.waitText(`#webhooks tr[data-webhook="`+id+`"]`, want, 10*time.Second)
			if id == "lowered" && !strings.Contains(row, "2 in flight") {
				t.Errorf("the list's row of lowered reads %q, want its allowed_in_flight", row)
			}
		}
		if row := tb.text(`#webhooks tr[data-webhook="small"]`); strings.Contains(row, "paused") || strings.Contains(row, "throttled") || strings.Contains(row, "circuit") {
			t.Errorf("an endpoint that is ok reads %q in the list", row)
		}
		for id, want := range map[string]string{"paused": ts(pausedUntil), "broken": ts(failingSince)} {
			got := eval[string](tb, `document.querySelector('#webhooks tr[data-webhook="`+id+`"] .endpoint time')?.getAttribute("datetime") || ""`)
			if !sameTime(got, want) {
				t.Errorf("the list shows %s's time as %q, want %s", id, got, want)
			}
		}
		tb.shot("endpoint-states")

		tb.run("paused", tb.hash("#/webhooks/paused"), chromedp.WaitVisible(chromedp.CSS("#endpoint-state")))
		if got := tb.text("#endpoint-state"); !strings.Contains(got, "paused until") {
			t.Errorf("the paused webhook's page says %q", got)
		}
		if got := tb.waitText("#pending", "2 pending deliveries", 10*time.Second); got == "" {
			t.Error("no pending count")
		}
		row := tb.waitText(`#delivery-list tr[data-delivery="`+paused+`"]`, "endpoint paused", 10*time.Second)
		if !strings.Contains(row, "pending") {
			t.Errorf("the paused delivery's row reads %q", row)
		}
		tb.shot("endpoint-paused", desktop)
		tb.run("broken", tb.hash("#/webhooks/broken"), chromedp.WaitVisible(chromedp.CSS("#endpoint-state")))
		if got := tb.waitText("#endpoint-state", "circuit open", 10*time.Second); !strings.Contains(got, "failing since") {
			t.Errorf("the broken webhook's page says %q", got)
		}
		if got := tb.waitText("#pending", "no pending", 10*time.Second); got == "" {
			t.Error("no pending count")
		}
		tb.run("throttled delivery", tb.hash("#/webhooks/lowered/deliveries/"+throttled), chromedp.WaitVisible(chromedp.CSS("#waiting")))
		if got := tb.text("#waiting"); !strings.Contains(got, "waiting for a slot") {
			t.Errorf("the throttled delivery's page says %q", got)
		}
		tb.shot("delivery-waiting", desktop)
	})

	t.Run("ADeliveryShowsWhatWasSent_TheBodyAndHeaders_NoneOfTheWebhooksHeaderValues", func(t *testing.T) {
		const token = "Bearer console-tok-never-shown-9137"
		rcv := pipelinetest.NewReceiver(t, pipelinetest.OK)
		api(t, base, key, "POST", "/v1/projects/acme/webhooks?webhook_id=sent",
			`{"url":`+quote(rcv.URL)+`,"subscribed_events":["batch.succeeded"],"request_headers":[{"key":"Authorization","value":"`+token+`"},{"key":"X-Tenant","value":"tenant-value-5521"}]}`, nil)
		s.Publish(t, `{"id":"job-sent","project":"acme","type":"batch.succeeded","timestamp":"2026-11-28T10:00:00Z","data":{"id":"batches/job-sent","note":`+quote(hostile)+`}}`, nil)
		waitDelivered(t, base, key, "sent", 1)
		got := rcv.Requests()[0]
		var ds struct{ Deliveries []struct{ Name string } }
		api(t, base, key, "GET", "/v1/projects/acme/webhooks/sent/deliveries", "", &ds)
		did := ds.Deliveries[0].Name[strings.LastIndex(ds.Deliveries[0].Name, "/")+1:]

		tb := b.tab(t)
		tb.run("open link", chromedp.Navigate(link(t, base, key, "acme", `{"read_only":true}`)), chromedp.WaitVisible(chromedp.CSS("#webhooks")))
		tb.run("delivery", tb.hash("#/webhooks/sent/deliveries/"+did), chromedp.WaitVisible(chromedp.CSS("#sent-body")))
		body := tb.text("#sent-body")
		// Pretty-printed, and the hostile markup in the event's data as literal text.
		for _, want := range []string{`"type": "batch.succeeded"`, `"id": "batches/job-sent"`, `"note": "<script>alert(\"xss\")</script><img src=`} {
			if !strings.Contains(body, want) {
				t.Errorf("the body shown reads %q, lacking %q", body, want)
			}
		}
		for _, h := range []string{"content-type", "user-agent", "webhook-id", "webhook-timestamp"} {
			row := tb.text(`#sent-headers tr[data-header="` + h + `"] td`)
			if row != got.Header.Get(h) {
				t.Errorf("%s is shown as %q; the endpoint got %q", h, row, got.Header.Get(h))
			}
		}
		sig := tb.text(`#sent-headers tr[data-header="webhook-signature"] td`)
		if !strings.HasPrefix(sig, "v1,…") || strings.Contains(sig, got.Header.Get("webhook-signature")[3:]) {
			t.Errorf("webhook-signature is shown as %q: want the scheme, shortened", sig)
		}
		for _, h := range []string{"authorization", "x-tenant"} {
			if row := tb.text(`#sent-headers tr[data-header="` + h + `"] td`); !strings.HasPrefix(row, "••••") {
				t.Errorf("the webhook's own header %s is shown as %q", h, row)
			}
		}
		// Nowhere in the page, as text or in the markup.
		html := eval[string](tb, `document.documentElement.outerHTML`)
		for _, secret := range []string{"console-tok-never-shown", "tenant-value-5521"} {
			if strings.Contains(tb.body(), secret) || strings.Contains(html, secret) {
				t.Errorf("the page shows the webhook's header value %q", secret)
			}
		}
		if n := tb.count("main img, main script"); n != 0 {
			t.Errorf("%d img or script elements were created from the body", n)
		}
		tb.shot("delivery-sent")

		// Once the event's record has expired, the page says so.
		if _, err := s.Store.Client().Doc("projects/acme/events/" + store.EventKey("job-sent")).Delete(context.Background()); err != nil {
			t.Fatal(err)
		}
		tb.run("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#sent-headers")))
		if msg := tb.text("#sent-body-expired"); !strings.Contains(msg, "no longer stored") {
			t.Errorf("an expired body reads %q", msg)
		}
	})
}

// putDelivery stores a pending delivery record of webhook id directly, as Deliver leaves one that
// waits without an attempt.
func putDelivery(t *testing.T, s *pipelinetest.Stack, id, eventID, waiting string) string {
	t.Helper()
	now := time.Now().UTC()
	d := store.Delivery{ID: event.DeliveryID("acme", eventID, "webhook:"+id), Project: "acme", EventID: eventID,
		EventType: "batch.succeeded", MessageID: event.MessageID("acme", eventID), Webhook: id,
		URL: "https://" + id + ".example.com/h", State: store.Pending, Waiting: waiting, EventTime: now, CreateTime: now}
	if err := s.Store.PutDelivery(context.Background(), &d); err != nil {
		t.Fatal(err)
	}
	return d.ID
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// sameTime compares two RFC 3339 times.
func sameTime(a, b string) bool {
	ta, errA := time.Parse(time.RFC3339Nano, a)
	tb, errB := time.Parse(time.RFC3339Nano, b)
	return errA == nil && errB == nil && ta.Equal(tb)
}
