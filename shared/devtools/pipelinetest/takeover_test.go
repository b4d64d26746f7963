package pipelinetest

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/jobhooks/jobhooks/shared/fanout"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// A take-over keeps the plan (shared/delivery/README.md, What a crash at each step does): the targets planned at an event's first claim
// are its targets, whatever the cache of the instance that takes it over says.

// recordsCommit matches the commit of an event's delivery records.
var recordsCommit = writeOf("/deliveries/", "")

// dispatchOn hands m to a Dispatch service of proc, as a push would, and returns its result.
func dispatchOn(proc *process, d *fanout.Service, m pushmsg.Message) error {
	return proc.handle(d.Handle, m)
}

func eventMessage(project, id string) pushmsg.Message {
	return pushmsg.Message{Data: []byte(jobEvent(project, id, "batch.succeeded")), Attributes: map[string]string{}, MessageID: "m-" + id}
}

// Instance X plans A and B and POSTs both; B answers 503; the commit of their records fails, so X
// releases the claim. Instance Y, whose cache was filled before B existed, takes the event over:
// it must finish B too, not only what its own cache lists.
func TestDispatch_ATakeOverFinishesTheFirstClaimsPlanNotWhatItsOwnCacheLists(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	a, b := NewReceiver(t, OK), NewReceiver(t, OK, Status(503))
	s.AddWebhook(t, hook("acme", "a", a.URL))

	y := newProcess(t, s, nil)
	yd := y.dispatch()
	if err := dispatchOn(y, yd, eventMessage("acme", "job-0")); err != nil {
		t.Fatalf("job-0 (fills Y's cache with A only): %v", err)
	}
	s.AddWebhook(t, hook("acme", "b", b.URL))

	x := newProcess(t, s, nil)
	x.inject(fault{method: methodCommit, match: recordsCommit, when: before, code: codes.DeadlineExceeded, times: 1})
	if err := dispatchOn(x, x.dispatch(), eventMessage("acme", "job-1")); pushmsg.Acked(err) {
		t.Fatal("X acknowledged an event whose records it could not commit")
	}
	if a.Count() != 2 || b.Count() != 1 {
		t.Fatalf("before the take-over: A got %d POSTs (job-0, job-1), B %d; want 2 and 1", a.Count(), b.Count())
	}
	if err := dispatchOn(y, yd, eventMessage("acme", "job-1")); err != nil {
		t.Fatalf("Y's take-over: %v", err)
	}
	// B's second POST answers 200: the take-over attempted it (no record), or Deliver retried it.
	waitState(t, s, "acme", "job-1", "b", store.Delivered)
	waitState(t, s, "acme", "job-1", "a", store.Delivered)
	rec, err := s.Store.GetEvent(context.Background(), "acme", "job-1")
	if done, _ := s.Store.EventDone(context.Background(), rec); err != nil || !done || len(rec.Deliveries) != 2 {
		t.Errorf("event %s (done %v) with deliveries %v, %v; want done with both", rec.State, done, rec.Deliveries, err)
	}
}

// X commits the records (A delivered, B pending after a 503) and dies before it publishes B's
// task; the user then deletes B. The take-over must not close the event with B left pending for
// good: it queues B's task, which Deliver ends cancelled with its reason.
func TestDispatch_ATakeOverQueuesAPendingTargetWhoseWebhookWasDeletedAndItEndsCancelled(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	a, b := NewReceiver(t, OK), NewReceiver(t, OK, Status(503))
	s.AddWebhook(t, hook("acme", "a", a.URL))
	s.AddWebhook(t, hook("acme", "b", b.URL))

	x := newProcess(t, s, &crashPoint{method: methodPublish, match: publishTo("webhook-deliveries"), when: before})
	dispatchOn(x, x.dispatch(), eventMessage("acme", "job-1"))
	if !x.isCrashed() {
		t.Fatal("X never reached the publish of B's task")
	}
	if d := delivery(t, s, "acme", "job-1", "b"); d.State != store.Pending {
		t.Fatalf("B's record %s, want pending", d.State)
	}
	if err := s.Store.DeleteWebhook(context.Background(), "acme", "b"); err != nil {
		t.Fatal(err)
	}
	s.Clock.Advance(fanout.ClaimLease) // X's claim runs out
	y := newProcess(t, s, nil)
	if err := dispatchOn(y, y.dispatch(), eventMessage("acme", "job-1")); err != nil {
		t.Fatalf("the take-over: %v", err)
	}
	d := waitState(t, s, "acme", "job-1", "b", store.Cancelled)
	if d.Reason != "webhook_deleted" {
		t.Errorf("B's record cancelled for %q, want webhook_deleted", d.Reason)
	}
	if a.Count() != 1 || b.Count() != 1 {
		t.Errorf("A got %d POSTs and B %d, want 1 each", a.Count(), b.Count())
	}
}

// The only target answers 410; Dispatch commits its record, then fails to disable the webhook (the
// disable's commit fails, or the process dies before it). The redelivery must not take the event
// for done because its one record is final: it repairs the disable.
func TestDispatch_ADisableAfterA410ThatDidNotHappenIsRepairedByTheRedelivery(t *testing.T) {
	t.Parallel()
	disable := writeOf("/webhooks/", "state")
	for _, c := range []struct {
		name  string
		crash *crashPoint
		fault *fault
	}{
		{name: "the disable's commit fails", fault: &fault{method: methodCommit, match: disable, when: before, code: codes.DeadlineExceeded}},
		{name: "the process dies after the record's commit", crash: &crashPoint{method: methodCommit, match: recordsCommit, when: after}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := Start(t, Options{})
			rcv := NewReceiver(t, Status(410))
			s.AddWebhook(t, hook("acme", "gone", rcv.URL))

			x := newProcess(t, s, c.crash)
			if c.fault != nil {
				x.inject(*c.fault)
			}
			if err := dispatchOn(x, x.dispatch(), eventMessage("acme", "job-1")); pushmsg.Acked(err) && !x.isCrashed() {
				t.Fatal("an event whose 410 did not disable its webhook was acknowledged")
			}
			if w, _ := s.Store.GetWebhook(context.Background(), "acme", "gone"); w.State != webhook.Enabled {
				t.Fatalf("webhook %s before the redelivery, want still enabled", w.State)
			}
			s.Clock.Advance(fanout.ClaimLease)
			y := newProcess(t, s, nil)
			if err := dispatchOn(y, y.dispatch(), eventMessage("acme", "job-1")); err != nil {
				t.Fatalf("the redelivery: %v", err)
			}
			w, err := s.Store.GetWebhook(context.Background(), "acme", "gone")
			if err != nil || w.State != webhook.DisabledDueToFailedDeliveries {
				t.Fatalf("webhook %s, %v; want %s", w.State, err, webhook.DisabledDueToFailedDeliveries)
			}
			if rcv.Count() != 1 {
				t.Errorf("the endpoint got %d POSTs, want 1", rcv.Count())
			}
			rec, _ := s.Store.GetEvent(context.Background(), "acme", "job-1")
			if done, _ := s.Store.EventDone(context.Background(), rec); !done {
				t.Errorf("event %s, want done after the repair", rec.State)
			}
		})
	}
}

// A webhook's per-type copy in Dispatch's cache may be up to one TTL old when the per-webhook
// cache misses; the target built from it must not then be cached for a whole TTL more. A URL
// changed through the API shows in every delivery queued more than one TTL after the change.
func TestDispatch_AWebhookChangeShowsWithinOneCacheTTLNotTwo(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	before, after := NewReceiver(t, OK, Status(503)), NewReceiver(t, OK)
	s.AddWebhook(t, hook("acme", "wh", before.URL))
	ttl := s.Config.CacheTTL

	proc := newProcess(t, s, nil)
	d := proc.dispatch()
	// job-1 fills both caches; its 503 (the first failure) makes the per-webhook cache forget.
	dispatchOn(proc, d, eventMessage("acme", "job-1"))
	s.Clock.Advance(ttl * 2 / 3)
	if _, err := s.Store.UpdateWebhook(context.Background(), "acme", "wh", func(w *webhook.Webhook) error {
		w.URL, w.UpdateTime = after.URL, s.Clock.Now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// job-2 comes before the per-type copy expires: the old URL is still right within the TTL,
	// and its 200 leaves the target it refilled in the cache.
	s.Clock.Advance(ttl / 6)
	dispatchOn(proc, d, eventMessage("acme", "job-2"))
	// job-3 comes more than one TTL after the change was read nowhere yet: it must see it.
	s.Clock.Advance(ttl/6 + time.Second)
	if err := dispatchOn(proc, d, eventMessage("acme", "job-3")); err != nil {
		t.Fatalf("job-3: %v", err)
	}
	if requestsFor(after, "acme", "job-3") == 1 {
		return
	}
	t.Errorf("job-3, queued %s after the URL change and %s after the webhook was read, went to the old URL (old: %d POSTs, new: %d)",
		ttl/3+time.Second, ttl+time.Second, before.Count(), after.Count())
}

// Every nack of Deliver obeys the retention rule (shared/delivery/README.md, Guarantees), not only a
// failed attempt's: a record, dead letter or disable that cannot be written on an old message
// re-publishes the task instead of leaving it to be deleted by Pub/Sub's retention. And when the
// record cannot even be read, Pub/Sub's own delivery count decides, so its dead-letter policy
// never takes a task whose window is open.
func TestDeliver_EveryNackOfAnOldOrOftenDeliveredTaskRepublishesIt(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		// closeWindow makes a first handling, then closes the retry window, so the next
		// handling exhausts the delivery.
		closeWindow bool
		fault       fault
		message     func(*Stack, pushmsg.Message) pushmsg.Message
	}{
		{name: "the attempt's record write fails on an old message",
			fault: fault{method: methodCommit, match: recordsCommit, when: before, code: codes.DeadlineExceeded, times: 1}, message: old},
		{name: "the exhausted record's write fails on an old message", closeWindow: true,
			fault: fault{method: methodCommit, match: recordsCommit, when: before, code: codes.DeadlineExceeded, times: 1}, message: old},
		{name: "the record cannot be read and Pub/Sub has delivered it 90 times",
			fault:   fault{method: methodBatchGet, match: readOf("/deliveries/"), when: before, code: codes.FailedPrecondition, times: 1},
			message: func(_ *Stack, m pushmsg.Message) pushmsg.Message { m.DeliveryAttempt = 90; return m }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := Start(t, Options{})
			rcv := NewReceiver(t, OK, Status(503))
			s.AddWebhook(t, hook("acme", "wh", rcv.URL))
			proc := newProcess(t, s, nil)
			m := deliveryTask(t, "acme", "job-1", "wh")
			want := store.Delivered
			if c.closeWindow {
				if err := proc.handle(proc.deliver().Handle, m); pushmsg.Acked(err) {
					t.Fatalf("a 503: %v, want a nack", err)
				}
				s.Clock.Advance(s.Config.RetryWindow)
				want = store.Exhausted
			}
			proc.inject(c.fault)
			if err := proc.handle(proc.deliver().Handle, c.message(s, m)); err != nil {
				t.Fatalf("%v; want the task re-published and this message acknowledged", err)
			}
			// The next generation reaches the stack's Deliver through Pub/Sub and ends the delivery.
			Eventually(t, wait, "the re-published task handled", func() bool {
				d, err := s.Store.GetDelivery(context.Background(), "acme", m.Attributes["delivery_id"])
				return err == nil && d.State == want && d.Generation == 1
			})
		})
	}
}

// The event claim's create is written but answered Unavailable; the client library retries it and
// finds the document. The claim is the caller's own: the event is fanned out now, not nacked
// until the lease of a claim nobody else holds runs out.
func TestDispatch_AClaimWrittenButAnsweredAnErrorIsTheCallersOwn(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	rcv := NewReceiver(t, OK)
	s.AddWebhook(t, hook("acme", "wh", rcv.URL))
	proc := newProcess(t, s, nil)
	proc.inject(fault{method: methodCommit, match: createOf("/events/"), when: after, code: codes.Unavailable, times: 1})
	if err := dispatchOn(proc, proc.dispatch(), eventMessage("acme", "job-1")); err != nil {
		t.Fatalf("%v; want the event fanned out at once", err)
	}
	if d := delivery(t, s, "acme", "job-1", "wh"); d.State != store.Delivered || rcv.Count() != 1 {
		t.Errorf("record %s after %d POSTs, want delivered after 1", d.State, rcv.Count())
	}
}
