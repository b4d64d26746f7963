package pipelinetest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/fanout"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
	"github.com/jobhooks/jobhooks/shared/topics"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// Crash points (shared/delivery/README.md, Guarantees): whichever step of Deliver or Dispatch a
// process dies at, Pub/Sub's redelivery of the same message ends in the right final state; no event
// is lost and an endpoint gets at most one duplicate POST. See crashpoint_test.go for how a crash
// is made.

// deliveryTask is the task Dispatch publishes for (event, static webhook), as a pushed message.
func deliveryTask(t *testing.T, project, eventID, webhookID string) pushmsg.Message {
	t.Helper()
	ev, err := event.Parse([]byte(jobEvent(project, eventID, "batch.succeeded")), nil)
	if err != nil {
		t.Fatal(err)
	}
	tk := task.Task{
		DeliveryID: event.DeliveryID(project, eventID, "webhook:"+webhookID), Project: project,
		EventID: eventID, EventType: ev.Type, EventTime: ev.Timestamp, MessageID: event.MessageID(project, eventID),
		Webhook: webhookID, Body: ev.Body(),
		// Queued now by Firestore's clock, which is this machine's for the emulator: after the
		// webhook's enable time, as Dispatch's claim would be.
		QueueTime: time.Now(),
	}
	return pushmsg.Message{Data: tk.Encode(), Attributes: tk.Attributes(), MessageID: "task-" + eventID}
}

// crashThenRedeliver pushes m to a process that dies at point, then to a fresh process, and
// returns the fresh process's result.
func crashThenRedeliver(t *testing.T, s *Stack, point crashPoint, m pushmsg.Message) error {
	t.Helper()
	crashed := newProcess(t, s, &point)
	crashed.handle(crashed.deliver().Handle, m)
	if !crashed.isCrashed() {
		t.Fatal("the handler never reached the crash point")
	}
	restarted := newProcess(t, s, nil)
	return restarted.handle(restarted.deliver().Handle, m)
}

var (
	afterRecordRead  = crashPoint{method: methodBatchGet, match: readOf("/deliveries/"), when: after}
	beforeRecordSave = crashPoint{method: methodCommit, match: writeOf("/deliveries/", ""), when: before}
	afterRecordSave  = crashPoint{method: methodCommit, match: writeOf("/deliveries/", ""), when: after}
)

func TestDeliver_CrashAtAnyStepEndsDeliveredWithAtMostOneDuplicatePOST(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		point crashPoint
		posts int
	}{
		{"after the record read", afterRecordRead, 1},
		{"after the POST, before the record write", beforeRecordSave, 2},
		{"after the record write, before the ack", afterRecordSave, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := Start(t, Options{})
			rcv := NewReceiver(t, OK)
			_, sec := s.AddWebhook(t, hook("acme", "wh", rcv.URL))
			m := deliveryTask(t, "acme", "job-1", "wh")

			if err := crashThenRedeliver(t, s, c.point, m); err != nil {
				t.Fatalf("the redelivery was not acknowledged: %v", err)
			}
			d := delivery(t, s, "acme", "job-1", "wh")
			if d.State != store.Delivered || d.Attempts != 1 {
				t.Errorf("record %s after %d attempts, want delivered after 1 (a crashed attempt is not recorded)", d.State, d.Attempts)
			}
			reqs := rcv.Requests()
			if len(reqs) != c.posts {
				t.Fatalf("the endpoint got %d POSTs, want %d", len(reqs), c.posts)
			}
			wh, _ := standardwebhooks.NewWebhook(sec.Reveal())
			for i, r := range reqs {
				if r.Header.Get("webhook-id") != event.MessageID("acme", "job-1") || wh.Verify(r.Body, r.Header) != nil {
					t.Errorf("POST %d: webhook-id %q does not identify the event or the signature does not verify", i+1, r.Header.Get("webhook-id"))
				}
			}
			// A further redelivery of the delivered task sends nothing.
			again := newProcess(t, s, nil)
			if err := again.handle(again.deliver().Handle, m); err != nil || rcv.Count() != c.posts {
				t.Errorf("another redelivery: %v, %d POSTs; want acked with no POST", err, rcv.Count())
			}
		})
	}
}

func TestDeliver_CrashAroundA410EndsFailedGoneAndTheWebhookDisabled(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		point crashPoint
		posts int
	}{
		{"after the POST, before the record write", beforeRecordSave, 2},
		{"after the record write, before the webhook is disabled", afterRecordSave, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := Start(t, Options{})
			rcv := NewReceiver(t, Status(410))
			s.AddWebhook(t, hook("acme", "gone", rcv.URL))

			if err := crashThenRedeliver(t, s, c.point, deliveryTask(t, "acme", "job-1", "gone")); err != nil {
				t.Fatalf("the redelivery was not acknowledged: %v", err)
			}
			if d := delivery(t, s, "acme", "job-1", "gone"); d.State != store.Failed || d.Reason != "gone" {
				t.Errorf("record %s (%s), want failed (gone)", d.State, d.Reason)
			}
			if rcv.Count() != c.posts {
				t.Errorf("the endpoint got %d POSTs, want %d", rcv.Count(), c.posts)
			}
			// The disable is a write after the record; the redelivery of a record that ended
			// on a 410 makes sure it happened.
			w, err := s.Store.GetWebhook(context.Background(), "acme", "gone")
			if err != nil || w.State != webhook.DisabledDueToFailedDeliveries {
				t.Fatalf("webhook %s, %v; want %s", w.State, err, webhook.DisabledDueToFailedDeliveries)
			}
			posts := rcv.Count()
			last := newProcess(t, s, nil)
			last.handle(last.deliver().Handle, deliveryTask(t, "acme", "job-3", "gone"))
			if d := delivery(t, s, "acme", "job-3", "gone"); d.State != store.Cancelled || rcv.Count() != posts {
				t.Errorf("a delivery to the disabled webhook: record %s, %d new POSTs; want cancelled, none", d.State, rcv.Count()-posts)
			}
		})
	}
}

func TestDeliver_CrashAroundTheDeadLetterStillEndsExhaustedAndDeadLettered(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		point func(s *Stack) crashPoint
	}{
		{"after the exhausted record, before the dead letter", func(*Stack) crashPoint {
			return crashPoint{method: methodCommit, match: writeOf("/deliveries/", "state"), when: after}
		}},
		{"after the dead letter, before it is marked on the record", func(s *Stack) crashPoint {
			return crashPoint{method: methodPublish, match: publishTo(s.Config.DeadLetterTopic), when: after}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := Start(t, Options{})
			rcv := NewReceiver(t, Status(503))
			s.AddWebhook(t, hook("acme", "down", rcv.URL))
			m := deliveryTask(t, "acme", "job-1", "down")

			first := newProcess(t, s, nil)
			if err := first.handle(first.deliver().Handle, m); pushmsg.Acked(err) {
				t.Fatalf("a 503 was acknowledged: %v", err)
			}
			s.Clock.Advance(25 * time.Hour) // past the retry window
			if err := crashThenRedeliver(t, s, c.point(s), m); !pushmsg.Acked(err) {
				t.Fatalf("the redelivery after the window was not acknowledged: %v", err)
			}
			d := delivery(t, s, "acme", "job-1", "down")
			if d.State != store.Exhausted || d.Reason != "window_exhausted" || !d.DeadLettered || rcv.Count() != 1 {
				t.Errorf("record %s (%s), dead-lettered %v, %d POSTs; want exhausted (window_exhausted), dead-lettered, only the first POST",
					d.State, d.Reason, d.DeadLettered, rcv.Count())
			}
			// The dead letter may be published twice (once by the crashed process); never zero times.
			Eventually(t, wait, "the dead letter recorded", func() bool {
				dls, _ := s.Store.FindDeadLetters(context.Background(), "delivery_id", d.ID)
				return len(dls) >= 1
			})
			if got := delivery(t, s, "acme", "job-1", "down"); got.State != store.Exhausted {
				t.Errorf("after DeadLetter recorded it, the record is %s", got.State)
			}
		})
	}
}

// Dispatch's crash points (shared/delivery/README.md, What a crash at each step does). Scenario
// "ok": three endpoints answer 200 at once, so the records and the closing of the event are one
// commit. Scenario "retry": the third answers 503 first, so the records are committed, its task
// published, and the event closed after it. Whatever step the process dies at, the redelivery (a
// take-over once the dead process's lease runs out) reaches every endpoint, and only a crash
// between the POSTs and their commit repeats a POST: once per endpoint.
func TestDispatch_CrashAtAnyStepReachesEveryTargetWithAtMostOneDuplicate(t *testing.T) {
	t.Parallel()
	eventClose := writeOf("/events/", "e.state") // the record is inside e (shared/store/README.md, Data model)
	records := writeOf("/deliveries/", "")
	for _, c := range []struct {
		name  string
		point crashPoint
		// retry makes the third endpoint answer 503 first.
		retry bool
		// claimed: the dead process left the event claimed, so a redelivery within the lease is
		// nacked. before: POSTs the endpoints got before the redelivery.
		claimed  bool
		before   int
		posts    [3]int
		attempts [3]int
	}{
		{"ok: after the event claim", crashPoint{method: methodCommit, match: createOf("/events/"), when: after}, false, true, 0, [3]int{1, 1, 1}, [3]int{1, 1, 1}},
		{"ok: after the webhook read, before the claim", crashPoint{method: methodQuery, when: after}, false, false, 0, [3]int{1, 1, 1}, [3]int{1, 1, 1}},
		{"ok: after the POSTs, before their commit", crashPoint{method: methodCommit, match: records, when: before}, false, true, 3, [3]int{2, 2, 2}, [3]int{1, 1, 1}},
		{"ok: after the commit, before the ack", crashPoint{method: methodCommit, match: records, when: after}, false, false, 3, [3]int{1, 1, 1}, [3]int{1, 1, 1}},
		{"retry: after the records' commit, before the task publish", crashPoint{method: methodCommit, match: records, when: after}, true, true, 3, [3]int{1, 1, 2}, [3]int{1, 1, 2}},
		// The task out delivered the last target: every planned record is final, the event done.
		{"retry: after the task publish, before the event close", crashPoint{method: methodPublish, match: publishTo(topics.Deliveries), when: after}, true, false, 4, [3]int{1, 1, 2}, [3]int{1, 1, 2}},
		{"retry: after the event close, before the ack", crashPoint{method: methodCommit, match: eventClose, when: after}, true, false, 4, [3]int{1, 1, 2}, [3]int{1, 1, 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := Start(t, Options{})
			third := NewReceiver(t, OK)
			if c.retry {
				third = NewReceiver(t, OK, Status(503))
			}
			rcvs := []*Receiver{NewReceiver(t, OK), NewReceiver(t, OK), third}
			for i, r := range rcvs {
				s.AddWebhook(t, hook("acme", "wh-"+string(rune('a'+i)), r.URL))
			}
			posts := func() (n int) {
				for _, r := range rcvs {
					n += r.Count()
				}
				return n
			}
			m := pushmsg.Message{Data: []byte(jobEvent("acme", "job-1", "batch.succeeded")), MessageID: "event-1"}

			crashed := newProcess(t, s, &c.point)
			crashed.handle(crashed.dispatch().Handle, m)
			if !crashed.isCrashed() {
				t.Fatal("the handler never reached the crash point")
			}
			// Let what the dead process got out be delivered, so that the assertions below are
			// exact; a redelivery racing it could make one more duplicate POST.
			Eventually(t, wait, "what the dead process got out delivered", func() bool { return posts() == c.before })

			restarted := newProcess(t, s, nil)
			err := restarted.handle(restarted.dispatch().Handle, m)
			if c.claimed {
				if pushmsg.Acked(err) {
					t.Fatalf("a redelivery within the dead process's claim was acknowledged")
				}
				s.Clock.Advance(fanout.ClaimLease) // the lease of the dead process's claim runs out
				err = restarted.handle(restarted.dispatch().Handle, m)
			}
			if err != nil {
				t.Fatalf("the redelivery was not acknowledged: %v", err)
			}
			for i := range rcvs {
				d := waitState(t, s, "acme", "job-1", "wh-"+string(rune('a'+i)), store.Delivered)
				if d.Attempts != c.attempts[i] {
					t.Errorf("delivery %d: %d attempts, want %d", i, d.Attempts, c.attempts[i])
				}
			}
			time.Sleep(2 * time.Second) // a duplicate would come within this
			for i, r := range rcvs {
				if r.Count() != c.posts[i] {
					t.Errorf("endpoint %d got %d POSTs, want %d", i, r.Count(), c.posts[i])
				}
			}
			rec, err := s.Store.GetEvent(context.Background(), "acme", "job-1")
			done, _ := s.Store.EventDone(context.Background(), rec)
			if err != nil || !done || len(rec.Deliveries) != 3 {
				t.Errorf("event record %s (done: %v) with %d deliveries (%v), want done with 3", rec.State, done, len(rec.Deliveries), err)
			}
			// A duplicate publish of the event now is acknowledged without a POST.
			if err := restarted.handle(restarted.dispatch().Handle, m); err != nil {
				t.Errorf("a duplicate after the fan-out: %v", err)
			}
		})
	}
}

func TestDeliver_TwoCopiesOfATaskAtOnceNeverUndoTheDelivery(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	// Pub/Sub may push one message twice at once. The first copy's POST is held until the
	// second copy has delivered the task, then answered 503.
	release := make(chan struct{})
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if posts.Add(1) == 1 {
			<-release
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { closeOnce(release) })
	s.AddWebhook(t, hook("acme", "wh", srv.URL))
	m := deliveryTask(t, "acme", "job-1", "wh")

	first, second := newProcess(t, s, nil), newProcess(t, s, nil)
	held := make(chan error, 1)
	go func() { held <- first.handle(first.deliver().Handle, m) }()
	Eventually(t, wait, "the first copy's POST", func() bool { return posts.Load() == 1 })
	if err := second.handle(second.deliver().Handle, m); err != nil {
		t.Fatalf("the second copy was not acknowledged: %v", err)
	}
	// Pub/Sub takes the second copy's ack for the message: nothing redelivers it after this.
	closeOnce(release)
	<-held
	if d := delivery(t, s, "acme", "job-1", "wh"); d.State != store.Delivered {
		t.Errorf("record %s after %d attempts: the first copy's late 503 overwrote the delivery, and no copy of the task is left to finish it", d.State, d.Attempts)
	}
}

func closeOnce(c chan struct{}) {
	select {
	case <-c:
	default:
		close(c)
	}
}
