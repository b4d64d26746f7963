package pipelinetest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/pubsub/v2"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/deadletter"
	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/fanout"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// The delivery core's guarantees at its edges (shared/delivery/README.md, Guarantees): whatever an
// endpoint answers is recordable; nothing waits in Pub/Sub until its retention deletes it; failures
// before the POST count like failed attempts; a task belongs to one webhook incarnation; a success
// at the window's close stands; dead letters close only the live task.

// cutMidCharacter is longer than the 4 KiB the sender keeps, and its byte 4,096 is the second
// byte of "é": the kept excerpt ends inside a character.
var cutMidCharacter = append(bytes.Repeat([]byte("a"), 4095), []byte("é and more text after the cut")...)

func TestDeliver_AnyReplyBodyIsRecordable(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	latin1 := []byte("Fehler: \xdcbergr\xf6\xdfe") // ISO-8859-1, not UTF-8
	binary := []byte{0x00, 0xff, 0xfe, 0x80, 0xc3, 'o', 'k', 0xe2, 0x82}
	for _, c := range []struct {
		project string
		replies []Reply
		state   store.DeliveryState
		posts   int
	}{
		{"bin-ok", []Reply{{Status: 200, Body: binary}}, store.Delivered, 1},
		{"latin-ok", []Reply{{Status: 200, Body: latin1}}, store.Delivered, 1},
		{"cut-ok", []Reply{{Status: 200, Body: cutMidCharacter}}, store.Delivered, 1},
		{"bin-retry", []Reply{{Status: 503, Body: binary}, {Status: 200, Body: cutMidCharacter}}, store.Delivered, 2},
		{"latin-400", []Reply{{Status: 400, Body: latin1}}, store.Failed, 1},
		{"latin-gone", []Reply{{Status: 410, Body: latin1}}, store.Failed, 1},
	} {
		t.Run(c.project, func(t *testing.T) {
			t.Parallel()
			rcv := NewReceiver(t, c.replies[len(c.replies)-1], c.replies...)
			s.AddWebhook(t, hook(c.project, "wh", rcv.URL))
			s.Publish(t, jobEvent(c.project, "job-1", "batch.succeeded"), nil)
			d := waitState(t, s, c.project, "job-1", "wh", c.state)
			attempts, err := s.Store.ListAttempts(context.Background(), d)
			if err != nil {
				t.Fatal(err)
			}
			if d.Attempts != c.posts || len(attempts) != c.posts {
				t.Errorf("record %s after %d attempts (%d stored), want %d", d.State, d.Attempts, len(attempts), c.posts)
			}
			for _, a := range attempts {
				if !utf8.ValidString(a.ResponseBody) || a.ResponseBody == "" {
					t.Errorf("attempt %d stored %q: want a non-empty valid UTF-8 excerpt", a.Number, a.ResponseBody)
				}
			}
			time.Sleep(2 * time.Second) // a redelivery would POST again by now (1 s backoff)
			if rcv.Count() != c.posts {
				t.Errorf("the endpoint got %d POSTs, want %d: the reply kept its delivery from being recorded", rcv.Count(), c.posts)
			}
			if c.project == "latin-gone" {
				if w, _ := s.Store.GetWebhook(context.Background(), c.project, "wh"); w.State != webhook.DisabledDueToFailedDeliveries {
					t.Errorf("a 410 with a Latin-1 body left the webhook %s", w.State)
				}
			}
		})
	}
}

// old is a pushed copy of m whose message Pub/Sub published 21 hours ago: 3 hours before the
// subscription's retention would delete it unacknowledged.
func old(s *Stack, m pushmsg.Message) pushmsg.Message {
	m.PublishTime = s.Clock.Now().Add(-21 * time.Hour)
	return m
}

func TestDeliver_ATaskNearPubSubsRetentionIsRepublishedNotNacked(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	rcv := NewReceiver(t, OK, Status(503), Reply{Status: 429, Header: map[string]string{"Retry-After": "3600"}})
	s.AddWebhook(t, hook("acme", "wh", rcv.URL))
	proc := newProcess(t, s, nil)

	// A retryable answer to an old message: re-published as the next generation and acked.
	m := deliveryTask(t, "acme", "job-1", "wh")
	if err := proc.handle(proc.deliver().Handle, old(s, m)); err != nil {
		t.Fatalf("a 503 on a 21-hour-old message: %v; want it re-published and acknowledged", err)
	}
	if d := delivery(t, s, "acme", "job-1", "wh"); d.Generation != 1 || d.State != store.Pending {
		t.Fatalf("record %s at generation %d, want pending at generation 1", d.State, d.Generation)
	}
	// The re-published generation reaches the stack's Deliver through Pub/Sub: 429, Retry-After 1 h.
	Eventually(t, wait, "the re-published task's attempt recorded", func() bool {
		d := delivery(t, s, "acme", "job-1", "wh")
		return d.Attempts == 2 && !d.NextNotBefore.IsZero()
	})
	// An old copy that arrives before Retry-After's time is re-published too, without a POST.
	gen1 := deliveryTask(t, "acme", "job-1", "wh")
	gen1.Data = withGeneration(t, gen1.Data, 1)
	if err := proc.handle(proc.deliver().Handle, old(s, gen1)); err != nil {
		t.Fatalf("an old message before its Retry-After time: %v; want it re-published", err)
	}
	if rcv.Count() != 2 {
		t.Errorf("%d POSTs, want no new POST before Retry-After's time", rcv.Count())
	}
	// Retry-After's time has passed: generation 2 is delivered (handed over here rather than
	// waiting for the emulator, which redelivers a nacked message only for a while).
	s.Clock.Advance(time.Hour)
	gen2 := deliveryTask(t, "acme", "job-1", "wh")
	gen2.Data = withGeneration(t, gen2.Data, 2)
	if err := proc.handle(proc.deliver().Handle, gen2); err != nil {
		t.Fatalf("generation 2 after Retry-After's time: %v", err)
	}
	if d := delivery(t, s, "acme", "job-1", "wh"); d.State != store.Delivered || d.Generation != 2 || d.Attempts < 3 {
		t.Errorf("record %s at generation %d after %d attempts, want delivered at generation 2 after 3", d.State, d.Generation, d.Attempts)
	}
}

func withGeneration(t *testing.T, data []byte, gen int) []byte {
	t.Helper()
	tk, err := task.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	tk.Generation = gen
	return tk.Encode()
}

func TestDispatch_AJobEventNearPubSubsRetentionIsRepublishedNotNacked(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	ctx := context.Background()
	rcv := NewReceiver(t, OK)
	s.AddWebhook(t, hook("acme", "wh", rcv.URL))
	data := jobEvent("acme", "job-1", "batch.succeeded")
	ev, err := event.Parse([]byte(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Another instance holds the event's claim: a plain redelivery would be nacked.
	rec := store.EventRecord{Project: "acme", ID: "job-1", Type: ev.Type, EventTime: ev.Timestamp, Body: ev.Body(),
		Deliveries: []string{event.DeliveryID("acme", "job-1", "webhook:wh")}}
	if _, err := s.Store.ClaimEvent(ctx, rec, fanout.ClaimLease, s.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	proc := newProcess(t, s, nil)
	m := pushmsg.Message{Data: []byte(data), Attributes: map[string]string{}, MessageID: "job-event-1"}
	if err := proc.handle(proc.dispatch().Handle, m); pushmsg.Acked(err) {
		t.Fatalf("a fresh job event claimed elsewhere was acknowledged: %v", err)
	}
	if err := proc.handle(proc.dispatch().Handle, old(s, m)); err != nil {
		t.Fatalf("a 21-hour-old job event claimed elsewhere: %v; want it re-published and acknowledged", err)
	}
	// Production's dead-letter policy gives up after 100 deliveries (about 16.5 h): at 90 the
	// event is re-published too (the push envelope counts deliveries; the emulator's does not).
	m.DeliveryAttempt = 90
	if err := proc.handle(proc.dispatch().Handle, m); err != nil {
		t.Fatalf("a job event at its 90th delivery, claimed elsewhere: %v; want it re-published and acknowledged", err)
	}
	// Once the claim's lease has run out, the event fans out once, whichever copy takes it over
	// (this one is handed over here; the re-published ones reach the stack through Pub/Sub).
	s.Clock.Advance(fanout.ClaimLease)
	if err := proc.handle(proc.dispatch().Handle, m); err != nil {
		t.Fatalf("the event after the lease: %v", err)
	}
	waitState(t, s, "acme", "job-1", "wh", store.Delivered)
	time.Sleep(2 * time.Second)
	if rcv.Count() != 1 {
		t.Errorf("the endpoint got %d POSTs, want 1 (two re-published copies fan out once)", rcv.Count())
	}
}

// A dynamic task handled by an instance with no signer fails before its POST, as a Secret
// Manager outage would.
func TestDeliver_ErrorsBeforeThePOSTStartTheWindowAndCountTowardRepublication(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Configure: func(c *config.Config) { c.RepublishAfter = 2 }})
	rcv := NewReceiver(t, OK)
	unsigned := newProcess(t, s, nil) // no dynamic signer
	dynamic := func(id string) pushmsg.Message {
		m := deliveryTask(t, "acme", id, "unused")
		tk, _ := task.Decode(m.Data)
		tk.Webhook, tk.URL = "", rcv.URL+"?"+id
		tk.DeliveryID = event.DeliveryID("acme", id, "uri:"+tk.URL)
		m.Data = tk.Encode()
		return m
	}
	record := func(m pushmsg.Message) store.Delivery {
		tk, _ := task.Decode(m.Data)
		d, err := s.Store.GetDelivery(context.Background(), "acme", tk.DeliveryID)
		if err != nil {
			t.Fatalf("no record after a receipt that failed before the POST: %v", err)
		}
		return d
	}

	m := dynamic("job-1")
	if err := unsigned.handle(unsigned.deliver().Handle, m); pushmsg.Acked(err) {
		t.Fatalf("a task that could not be signed was acknowledged: %v", err)
	}
	if d := record(m); d.Receipts != 1 || d.WindowStart.IsZero() || d.Attempts != 0 {
		t.Errorf("record: %d receipts, window from %v, %d attempts; want 1, started, 0", d.Receipts, d.WindowStart, d.Attempts)
	}
	if err := unsigned.handle(unsigned.deliver().Handle, m); err != nil {
		t.Fatalf("the second failing receipt (re-publication threshold 2): %v; want re-published and acknowledged", err)
	}
	// The next generation reaches the stack's Deliver, which can sign: delivered.
	tk, _ := task.Decode(m.Data)
	Eventually(t, wait, "the re-published task delivered", func() bool {
		d, _ := s.Store.GetDelivery(context.Background(), "acme", tk.DeliveryID)
		return d.State == store.Delivered && d.Generation == 1
	})

	// The window closes on failures before the POST too.
	m2 := dynamic("job-2")
	unsigned.handle(unsigned.deliver().Handle, m2)
	s.Clock.Advance(25 * time.Hour)
	if err := unsigned.handle(unsigned.deliver().Handle, m2); err != nil {
		t.Fatalf("after the window: %v; want exhausted and acknowledged", err)
	}
	if d := record(m2); d.State != store.Exhausted || d.Reason != "window_exhausted" {
		t.Errorf("record %s (%s), want exhausted (window_exhausted)", d.State, d.Reason)
	}
	if rcv.Count() != 1 {
		t.Errorf("the endpoint got %d POSTs, want 1 (the re-published job-1)", rcv.Count())
	}
}

func TestDeliver_ASuccessAtTheWindowsCloseIsRecordedDelivered(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	release := make(chan struct{})
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if posts.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		<-release
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { closeOnce(release) })
	s.AddWebhook(t, hook("acme", "wh", srv.URL))
	m := deliveryTask(t, "acme", "job-1", "wh")

	first, held, closing := newProcess(t, s, nil), newProcess(t, s, nil), newProcess(t, s, nil)
	if err := first.handle(first.deliver().Handle, m); pushmsg.Acked(err) {
		t.Fatalf("a 503 was acknowledged: %v", err)
	}
	s.Clock.Advance(testRetryGap) // the next push comes after the backoff
	result := make(chan error, 1)
	go func() { result <- held.handle(held.deliver().Handle, m) }()
	Eventually(t, wait, "the second copy's POST", func() bool { return posts.Load() == 2 })
	// The window closes while that POST is in flight: another copy exhausts the delivery.
	s.Clock.Advance(25 * time.Hour)
	if err := closing.handle(closing.deliver().Handle, m); err != nil {
		t.Fatalf("the copy after the window: %v", err)
	}
	closeOnce(release) // the endpoint answers 200
	if err := <-result; err != nil {
		t.Errorf("the copy whose POST got 200: %v; want acknowledged", err)
	}
	d := delivery(t, s, "acme", "job-1", "wh")
	if d.State != store.Delivered || d.Attempts != 2 {
		t.Errorf("record %s after %d attempts: want delivered after 2 (a 2xx beats the window's close)", d.State, d.Attempts)
	}
	var dls []store.DeadLetter
	Eventually(t, wait, "the dead letter recorded", func() bool {
		dls, _ = s.Store.FindDeadLetters(context.Background(), "delivery_id", d.ID)
		return len(dls) == 1
	})
	if got := delivery(t, s, "acme", "job-1", "wh"); got.State != store.Delivered {
		t.Errorf("DeadLetter turned the delivered record %s", got.State)
	}
}

func TestDeadLetter_OnlyTheLiveTaskClosesItsRecord(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	ctx := context.Background()
	rcv := NewReceiver(t, Status(503))
	s.AddWebhook(t, hook("acme", "wh", rcv.URL))
	dlt := s.PubSub.Publisher(s.Config.DeadLetterTopic)
	t.Cleanup(dlt.Stop)
	gaveUp := func(m pushmsg.Message) {
		t.Helper()
		// As Pub/Sub forwards a message it gave up on after its maximum delivery attempts.
		_, err := dlt.Publish(ctx, &pubsub.Message{Data: m.Data, Attributes: map[string]string{
			"CloudPubSubDeadLetterSourceSubscription":  "projects/p/subscriptions/webhook-deliveries-deliver",
			"CloudPubSubDeadLetterSourceDeliveryCount": "100",
		}}).Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
	}
	recorded := func(id string, n int) {
		t.Helper()
		Eventually(t, wait, "the dead letters recorded", func() bool {
			dls, _ := s.Store.FindDeadLetters(ctx, "delivery_id", id)
			return len(dls) == n
		})
	}

	// Generation 0 was re-published as generation 1, which is still being retried.
	m := deliveryTask(t, "acme", "job-1", "wh")
	d := store.Delivery{ID: event.DeliveryID("acme", "job-1", "webhook:wh"), Project: "acme", EventID: "job-1",
		Webhook: "wh", State: store.Pending, Generation: 1, CreateTime: s.Clock.Now(), WindowStart: s.Clock.Now()}
	if err := s.Store.PutDelivery(ctx, &d); err != nil {
		t.Fatal(err)
	}
	gaveUp(m)
	recorded(d.ID, 1)
	if got := delivery(t, s, "acme", "job-1", "wh"); got.State != store.Pending {
		t.Fatalf("Pub/Sub giving up on generation 0 closed the record of live generation 1: %s", got.State)
	}
	m.Data = withGeneration(t, m.Data, 1)
	gaveUp(m)
	recorded(d.ID, 2)
	if got := delivery(t, s, "acme", "job-1", "wh"); got.State != store.Exhausted || !strings.HasPrefix(got.Reason, "max_delivery_attempts") {
		t.Errorf("Pub/Sub giving up on the live generation: record %s (%s), want exhausted (max_delivery_attempts)", got.State, got.Reason)
	}

	// A record the dead letter creates carries the task's series and generation.
	m2 := deliveryTask(t, "acme", "job-2", "wh")
	tk, _ := task.Decode(m2.Data)
	tk.Series, tk.Generation = 2, 3
	m2.Data = tk.Encode()
	gaveUp(m2)
	recorded(tk.DeliveryID, 1)
	if got := delivery(t, s, "acme", "job-2", "wh"); got.Series != 2 || got.Generation != 3 || got.State != store.Exhausted {
		t.Errorf("created record: %s, series %d, generation %d; want exhausted, 2, 3", got.State, got.Series, got.Generation)
	}
}

func TestDispatch_PoisonEventsKeepTheirProjectAndIDsFirestoreReservesArePoison(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	valid := jobEvent("acme", "job-1", "batch.succeeded")
	cases := map[string]struct {
		data   string
		attrs  map[string]string
		reason string
	}{
		"by attribute": {`{{{`, map[string]string{"project": "acme"}, "not valid JSON"},
		"by body":      {`{"id":"bad id!","project":"acme","type":"batch.succeeded","timestamp":"2026-11-28T10:00:00Z","data":{}}`, nil, "id"},
		// Firestore reserves __.*__ ids: the event's record could never be written.
		"reserved id": {`{"id":"__abc__","project":"acme","type":"batch.succeeded","timestamp":"2026-11-28T10:00:00Z","data":{}}`, nil, "id"},
		"target a/b":  {valid, map[string]string{fanout.TargetWebhookAttribute: "a/b"}, fanout.TargetWebhookAttribute},
	}
	ids := map[string]string{}
	for name, c := range cases {
		ids[name] = s.Publish(t, c.data, c.attrs)
	}
	for name, id := range ids {
		var dls []store.DeadLetter
		Eventually(t, wait, "the poison event's dead letter ("+name+")", func() bool {
			dls, _ = s.Store.FindDeadLetters(context.Background(), "source_message_id", id)
			return len(dls) == 1
		})
		if dls[0].Project != "acme" || !strings.Contains(dls[0].Reason, cases[name].reason) {
			t.Errorf("%s: dead letter project %q reason %q, want acme and a reason naming %s", name, dls[0].Project, dls[0].Reason, cases[name].reason)
		}
	}
}

// A fan-out delayed by failures (the event claimed, then released) goes only to the webhooks
// that were enabled when the event was first queued: a webhook created since would only get a
// task that Deliver cancels.
func TestDispatch_AWebhookCreatedAfterTheEventWasQueuedDoesNotGetIt(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	ctx := context.Background()
	data := jobEvent("acme", "job-1", "batch.succeeded")
	ev, _ := event.Parse([]byte(data), nil)
	rec := store.EventRecord{Project: "acme", ID: "job-1", Type: ev.Type, EventTime: ev.Timestamp, Body: ev.Body()}
	claim, err := s.Store.ClaimEvent(ctx, rec, fanout.ClaimLease, s.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Store.ReleaseEvent(ctx, "acme", "job-1", claim); err != nil { // its publish failed
		t.Fatal(err)
	}
	later := NewReceiver(t, OK)
	s.AddWebhook(t, hook("acme", "later", later.URL))
	proc := newProcess(t, s, nil)
	if err := proc.handle(proc.dispatch().Handle, pushmsg.Message{Data: []byte(data), Attributes: map[string]string{}, MessageID: "m1"}); err != nil {
		t.Fatalf("the redelivered event: %v", err)
	}
	got, _ := s.Store.GetEvent(ctx, "acme", "job-1")
	if done, _ := s.Store.EventDone(ctx, got); !done || len(got.Deliveries) != 0 {
		t.Errorf("event %s (done: %v) with deliveries %v, want dispatched to none", got.State, done, got.Deliveries)
	}
}

// A window_exhausted dead letter waits out one attempt (nacked) while its record says exhausted:
// a copy mid-POST may still record a 2xx. One whose delivery was delivered is recorded as
// superseded at once, below the alert's ERROR level.
func TestDeadLetter_AWindowExhaustedDeadLetterWaitsOutTheAttemptAndASupersededOneDoesNotAlert(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	ctx := context.Background()
	dl := &deadletter.Service{Store: s.Store, Log: newProcess(t, s, nil).logger(), Now: s.Clock.Now, Hold: time.Minute}
	m := deliveryTask(t, "acme", "job-1", "wh")
	id := event.DeliveryID("acme", "job-1", "webhook:wh")
	d := store.Delivery{ID: id, Project: "acme", EventID: "job-1", Webhook: "wh", State: store.Exhausted,
		Reason: "window_exhausted", DeadLettered: true, CreateTime: s.Clock.Now()}
	if err := s.Store.PutDelivery(ctx, &d); err != nil {
		t.Fatal(err)
	}
	// The log collector is shared by every test of the binary: this letter's id is its own.
	letterID := fmt.Sprintf("dl-superseded-%d", time.Now().UnixNano())
	letter := pushmsg.Message{Data: m.Data, MessageID: letterID, PublishTime: s.Clock.Now(),
		Attributes: map[string]string{"kind": "delivery", "reason": "window_exhausted", "delivery_id": id}}
	if err := dl.Handle(ctx, letter); pushmsg.Acked(err) {
		t.Fatalf("a fresh window_exhausted dead letter was recorded at once: %v", err)
	}
	d.State, d.Reason = store.Delivered, "" // the in-flight copy got its 2xx
	if err := s.Store.PutDelivery(ctx, &d); err != nil {
		t.Fatal(err)
	}
	if err := dl.Handle(ctx, letter); err != nil {
		t.Fatalf("the dead letter of a delivered delivery: %v", err)
	}
	dls, _ := s.Store.FindDeadLetters(ctx, "delivery_id", id)
	if len(dls) != 1 || !strings.Contains(dls[0].Reason, "superseded") {
		t.Errorf("dead letters %+v, want one marked superseded", dls)
	}
	for _, line := range Logs.Lines() {
		if strings.Contains(line, `"message_id":"`+letterID+`"`) && strings.Contains(line, `"severity":"ERROR"`) {
			t.Errorf("a superseded dead letter logged at ERROR (the alert counts those): %s", line)
		}
	}
}
