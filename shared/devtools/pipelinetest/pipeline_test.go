package pipelinetest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

const wait = 30 * time.Second

func jobEvent(project, id, typ string) string {
	return fmt.Sprintf(`{"id":%q,"project":%q,"type":%q,"timestamp":"2026-11-28T10:00:00Z","data":{"id":"batches/%s","output_file_uri":"gs://bucket/out.jsonl"}}`,
		id, project, typ, id)
}

func hook(project, id, url string, events ...string) webhook.Webhook {
	if len(events) == 0 {
		events = []string{"batch.succeeded"}
	}
	return webhook.Webhook{Project: project, ID: id, URL: url, SubscribedEvents: events}
}

func delivery(t *testing.T, s *Stack, project, eventID, webhookID string) store.Delivery {
	t.Helper()
	d, err := s.Store.GetDelivery(context.Background(), project, event.DeliveryID(project, eventID, "webhook:"+webhookID))
	if err != nil {
		t.Fatalf("delivery record: %v", err)
	}
	return d
}

func waitState(t *testing.T, s *Stack, project, eventID, webhookID string, want store.DeliveryState) store.Delivery {
	t.Helper()
	var d store.Delivery
	Eventually(t, wait, "delivery "+string(want), func() bool {
		var err error
		d, err = s.Store.GetDelivery(context.Background(), project, event.DeliveryID(project, eventID, "webhook:"+webhookID))
		return err == nil && d.State == want
	})
	return d
}

func TestPipeline_PublishedEventArrivesSignedWithTheSpecBody(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	rcv := NewReceiver(t, OK)
	s.AddWebhook(t, hook("acme", "wh-1", rcv.URL, "batch.succeeded"))
	_, sec := s.AddWebhook(t, hook("acme", "wh-2", rcv.URL, "batch.succeeded"))
	_ = sec
	w1, _ := s.Store.GetWebhook(context.Background(), "acme", "wh-1")

	s.Publish(t, jobEvent("acme", "job-1", "batch.succeeded"), map[string]string{"type": "batch.succeeded", "project": "acme"})
	Eventually(t, wait, "two deliveries", func() bool { return rcv.Count() == 2 })

	want := `{"type":"batch.succeeded","version":"v1","timestamp":"2026-11-28T10:00:00Z","data":{"id":"batches/job-1","output_file_uri":"gs://bucket/out.jsonl"}}`
	for _, r := range rcv.Requests() {
		if string(r.Body) != want {
			t.Errorf("body\n got %s\nwant %s", r.Body, want)
		}
		if got := r.Header.Get("webhook-id"); got != event.MessageID("acme", "job-1") {
			t.Errorf("webhook-id = %q", got)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("content-type = %q", ct)
		}
		if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "Jobhooks/") {
			t.Errorf("user-agent = %q", ua)
		}
	}
	// Exactly one of the two requests verifies with each webhook's secret.
	verified := 0
	for _, id := range []string{"wh-1", "wh-2"} {
		w, _ := s.Store.GetWebhook(context.Background(), "acme", id)
		key, err := s.Keyring.Open(context.Background(), w.Secrets[0].Sealed, w.Name())
		if err != nil {
			t.Fatal(err)
		}
		wh, _ := standardwebhooks.NewWebhookRaw(key)
		for _, r := range rcv.Requests() {
			if wh.Verify(r.Body, r.Header) == nil {
				verified++
			}
		}
	}
	if verified != 2 {
		t.Errorf("%d request/secret pairs verified with the reference library, want 2", verified)
	}
	d := waitState(t, s, "acme", "job-1", w1.ID, store.Delivered)
	if d.Attempts != 1 || d.LastStatusCode != 200 {
		t.Errorf("record: attempts %d status %d", d.Attempts, d.LastStatusCode)
	}
}

func TestDeliver_RetriesOn503ThenDeliversWithTheSameIDAndFreshTimestamps(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	rcv := NewReceiver(t, OK, Status(503), Status(503))
	_, sec := s.AddWebhook(t, hook("acme", "flaky", rcv.URL))

	s.Publish(t, jobEvent("acme", "job-2", "batch.succeeded"), nil)
	d := waitState(t, s, "acme", "job-2", "flaky", store.Delivered)

	reqs := rcv.Requests()
	if len(reqs) != 3 || d.Attempts != 3 {
		t.Fatalf("got %d requests, %d recorded attempts; want 3 and 3", len(reqs), d.Attempts)
	}
	wh, _ := standardwebhooks.NewWebhook(sec.Reveal())
	for i, r := range reqs {
		if r.Header.Get("webhook-id") != reqs[0].Header.Get("webhook-id") {
			t.Errorf("attempt %d changed webhook-id", i+1)
		}
		if err := wh.Verify(r.Body, r.Header); err != nil {
			t.Errorf("attempt %d does not verify: %v", i+1, err)
		}
	}
	ts := func(r Request) int64 { n, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64); return n }
	if ts(reqs[2]) <= ts(reqs[0]) {
		t.Errorf("timestamps not fresh: %d then %d", ts(reqs[0]), ts(reqs[2]))
	}
	attempts, err := s.Store.ListAttempts(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range attempts {
		got = append(got, fmt.Sprintf("%d:%d:%s", a.Number, a.StatusCode, a.Outcome))
	}
	if strings.Join(got, " ") != "1:503:retry 2:503:retry 3:200:delivered" {
		t.Errorf("attempt records = %v", got)
	}
	if !strings.Contains(attempts[0].ResponseBody, "Service Unavailable") {
		t.Errorf("response body not recorded: %q", attempts[0].ResponseBody)
	}
}

func TestDeliver_StatusNotInRetryListFailsAfterOneAttempt(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	rcv := NewReceiver(t, Status(404))
	w := hook("acme", "strict", rcv.URL)
	w.StatusCodesToRetryOn = []int{500}
	s.AddWebhook(t, w)

	s.Publish(t, jobEvent("acme", "job-3", "batch.succeeded"), nil)
	d := waitState(t, s, "acme", "job-3", "strict", store.Failed)
	time.Sleep(2 * time.Second) // a retry would come within the 1 s backoff
	if rcv.Count() != 1 || d.Attempts != 1 || d.Reason != "status_404" {
		t.Errorf("requests %d, attempts %d, reason %q; want 1, 1, status_404", rcv.Count(), d.Attempts, d.Reason)
	}
}

func TestDeliver_410DisablesTheWebhook(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	rcv := NewReceiver(t, Status(410))
	s.AddWebhook(t, hook("acme", "gone", rcv.URL))

	s.Publish(t, jobEvent("acme", "job-4", "batch.succeeded"), nil)
	d := waitState(t, s, "acme", "job-4", "gone", store.Failed)
	if d.Reason != "gone" {
		t.Errorf("reason = %q", d.Reason)
	}
	Eventually(t, wait, "webhook disabled", func() bool {
		w, _ := s.Store.GetWebhook(context.Background(), "acme", "gone")
		return w.State == webhook.DisabledDueToFailedDeliveries && strings.Contains(w.DisabledReason, "410")
	})
}

func TestDeliver_HonoursRetryAfter(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	rcv := NewReceiver(t, OK, Reply{Status: 429, Header: map[string]string{"Retry-After": "4"}})
	s.AddWebhook(t, hook("acme", "busy", rcv.URL))

	s.Publish(t, jobEvent("acme", "job-5", "batch.succeeded"), nil)
	d := waitState(t, s, "acme", "job-5", "busy", store.Delivered)
	reqs := rcv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if gap := reqs[1].At.Sub(reqs[0].At); gap < 4*time.Second {
		t.Errorf("second attempt %s after the first, before Retry-After's 4 s", gap)
	}
	// Redeliveries inside the Retry-After time were nacked without a POST.
	if d.Receipts <= d.Attempts {
		t.Errorf("receipts %d, attempts %d: expected early redeliveries that sent nothing", d.Receipts, d.Attempts)
	}
}

func TestDeliver_WindowExhaustionDeadLettersAndAcks(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	rcv := NewReceiver(t, Status(503))
	s.AddWebhook(t, hook("acme", "down", rcv.URL))

	s.Publish(t, jobEvent("acme", "job-6", "batch.succeeded"), nil)
	Eventually(t, wait, "first attempt", func() bool { return rcv.Count() >= 1 })
	s.Clock.Advance(25 * time.Hour)
	d := waitState(t, s, "acme", "job-6", "down", store.Exhausted)
	if d.Reason != "window_exhausted" {
		t.Errorf("reason = %q", d.Reason)
	}
	var dls []store.DeadLetter
	Eventually(t, wait, "dead letter recorded", func() bool {
		dls, _ = s.Store.FindDeadLetters(context.Background(), "delivery_id", d.ID)
		return len(dls) > 0
	})
	if dls[0].Kind != "delivery" || dls[0].Reason != "window_exhausted" {
		t.Errorf("dead letter = %+v", dls[0])
	}
	n := rcv.Count()
	time.Sleep(3 * time.Second)
	if rcv.Count() != n {
		t.Errorf("requests continued after exhaustion: %d then %d", n, rcv.Count())
	}
}

func TestDeliver_RepublishesBeforePubSubsDeadLetterLimit(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Configure: func(c *config.Config) { c.RepublishAfter = 2 }})
	rcv := NewReceiver(t, OK, Status(503), Status(503), Status(503))
	s.AddWebhook(t, hook("acme", "slow", rcv.URL))

	s.Publish(t, jobEvent("acme", "job-10", "batch.succeeded"), nil)
	d := waitState(t, s, "acme", "job-10", "slow", store.Delivered)
	if d.Generation < 1 || d.Attempts != 4 {
		t.Errorf("generation %d, attempts %d: want a re-published task and 4 attempts", d.Generation, d.Attempts)
	}
	time.Sleep(2 * time.Second)
	if rcv.Count() != 4 {
		t.Errorf("endpoint received %d requests, want 4", rcv.Count())
	}
}

func TestDeliver_AutoDisablesAfter72HoursOfFailures(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Configure: func(c *config.Config) { c.CacheTTL = time.Second }})
	rcv := NewReceiver(t, Status(500))
	s.AddWebhook(t, hook("acme", "dying", rcv.URL))

	s.Publish(t, jobEvent("acme", "job-11", "batch.succeeded"), nil)
	Eventually(t, wait, "failure streak recorded", func() bool {
		w, _ := s.Store.GetWebhook(context.Background(), "acme", "dying")
		return !w.FailingSince.IsZero()
	})
	s.Clock.Advance(73 * time.Hour)
	s.Publish(t, jobEvent("acme", "job-12", "batch.succeeded"), nil)
	Eventually(t, wait, "webhook auto-disabled", func() bool {
		w, _ := s.Store.GetWebhook(context.Background(), "acme", "dying")
		return w.State == webhook.DisabledDueToFailedDeliveries
	})
	// Pending deliveries of a disabled webhook are cancelled.
	d := waitState(t, s, "acme", "job-12", "dying", store.Cancelled)
	if !strings.Contains(d.Reason, "disabled") {
		t.Errorf("reason = %q", d.Reason)
	}
}

func TestDeliver_SuccessAfterFailuresResetsHealth(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	rcv := NewReceiver(t, OK, Status(500))
	s.AddWebhook(t, hook("acme", "recovering", rcv.URL))
	s.Publish(t, jobEvent("acme", "job-13", "batch.succeeded"), nil)
	waitState(t, s, "acme", "job-13", "recovering", store.Delivered)
	Eventually(t, wait, "health reset", func() bool {
		w, _ := s.Store.GetWebhook(context.Background(), "acme", "recovering")
		return w.FailingSince.IsZero() && w.State == webhook.Enabled
	})
}

func TestSecrets_CiphertextIsNotTheSecretAndAWrongKEKVersionFailsClosed(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	rcv := NewReceiver(t, OK)
	w, sec := s.AddWebhook(t, hook("acme", "sealed", rcv.URL))

	raw, err := s.Store.Client().Doc("projects/acme/webhooks/sealed").Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(raw.Data())
	for _, form := range []string{sec.Reveal(), sec.Reveal()[6:], string(sec.Bytes())} {
		if strings.Contains(string(doc), form) || strings.Contains(fmt.Sprint(raw.Data()), form) {
			t.Fatalf("the stored webhook contains its secret")
		}
	}

	w.Secrets[0].Sealed.KEKVersion = "99"
	if err := s.Store.PutWebhook(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	s.Publish(t, jobEvent("acme", "job-14", "batch.succeeded"), nil)
	d := waitState(t, s, "acme", "job-14", "sealed", store.Failed)
	if d.Reason != "secret_unusable" || rcv.Count() != 0 {
		t.Errorf("reason %q, %d requests: want secret_unusable and nothing sent", d.Reason, rcv.Count())
	}
}

func TestDeliver_DeletedWebhookCancelsItsPendingDelivery(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Configure: func(c *config.Config) { c.CacheTTL = time.Second }})
	rcv := NewReceiver(t, Status(503))
	s.AddWebhook(t, hook("acme", "doomed", rcv.URL))
	s.Publish(t, jobEvent("acme", "job-15", "batch.succeeded"), nil)
	Eventually(t, wait, "first attempt", func() bool { return rcv.Count() >= 1 })
	if _, err := s.Store.Client().Doc("projects/acme/webhooks/doomed").Delete(context.Background()); err != nil {
		t.Fatal(err)
	}
	d := waitState(t, s, "acme", "job-15", "doomed", store.Cancelled)
	if d.Reason != "webhook_deleted" {
		t.Errorf("reason = %q", d.Reason)
	}
}

func TestLogs_EveryAttemptLineHasTheSpecFields(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	rcv := NewReceiver(t, OK)
	s.AddWebhook(t, hook("logco", "logged", rcv.URL))
	s.Publish(t, jobEvent("logco", "job-16", "batch.succeeded"), nil)
	waitState(t, s, "logco", "job-16", "logged", store.Delivered)

	// Deliver logs the attempt just after recording it: wait for the line, not only the record.
	var line map[string]any
	Eventually(t, wait, "the attempt log line", func() bool {
		for _, l := range Logs.Lines() {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["message"] == "delivery attempt" && m["project"] == "logco" {
				line = m
			}
		}
		return line != nil
	})
	for _, f := range []string{"severity", "time", "event_id", "delivery_id", "project", "webhook", "target_host", "attempt", "status_code", "latency_ms", "outcome", "e2e_latency_ms"} {
		if _, ok := line[f]; !ok {
			t.Errorf("attempt line lacks %q: %v", f, line)
		}
	}
	if line["outcome"] != "delivered" || line["status_code"] != float64(http.StatusOK) {
		t.Errorf("line = %v", line)
	}
}
