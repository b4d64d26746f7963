package pipelinetest

import (
	"net/http"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/topics"
)

// Instances' clocks differ. Which incarnation of a webhook a delivery belongs to
// (shared/delivery/README.md, Guarantees) is decided on Firestore's clock alone: the webhook's enable time is a commit time,
// and so is the event's queue time. Here Dispatch's clock is ten minutes off the API's.
func TestDispatch_ClockSkewBetweenTheAPIAndDispatchDecidesNoIncarnation(t *testing.T) {
	t.Parallel()
	const skew = 10 * time.Minute

	t.Run("Dispatch behind: a webhook just created still gets the event", func(t *testing.T) {
		t.Parallel()
		s := Start(t, Options{NoPush: true})
		rcv := NewReceiver(t, OK)
		newManage(t, s, "acme").create("wh", rcv.URL)
		x := newProcess(t, s, nil)
		x.skew = -skew
		if err := dispatchOn(x, x.dispatch(), eventMessage("acme", "job-1")); err != nil {
			t.Fatal(err)
		}
		if rcv.Count() != 1 {
			t.Errorf("the webhook got %d POSTs, want 1: an instance behind the API's clock took it for newer than the event", rcv.Count())
		}
	})

	t.Run("Dispatch ahead: a retry pending before a disable and enable is cancelled", func(t *testing.T) {
		t.Parallel()
		s := Start(t, Options{NoPush: true})
		rcv := NewReceiver(t, OK, Status(503))
		api := newManage(t, s, "acme")
		api.create("wh", rcv.URL)
		x := newProcess(t, s, nil)
		x.skew = skew
		if err := dispatchOn(x, x.dispatch(), eventMessage("acme", "job-1")); err != nil {
			t.Fatal(err)
		}
		tasks := x.ops.drain(topics.Deliveries)
		if len(tasks) != 1 {
			t.Fatalf("%d retry tasks published, want 1", len(tasks))
		}
		api.setState("wh", "DISABLED")
		api.setState("wh", "ENABLED")
		if code, _ := api.do(http.MethodGet, api.webhooks+"/wh", ""); code != http.StatusOK {
			t.Fatalf("get webhook: %d", code)
		}
		y := newProcess(t, s, nil)
		// The retry comes after the backoff, by the clock of x that recorded the failed attempt.
		s.Clock.Advance(skew + testRetryGap)
		m := pushmsg.Message{Data: tasks[0].Data, Attributes: tasks[0].Attributes, MessageID: "task-1"}
		if err := y.handle(y.deliver().Handle, m); err != nil {
			t.Fatal(err)
		}
		if d := delivery(t, s, "acme", "job-1", "wh"); d.State != store.Cancelled || d.Reason != "webhook_reenabled" || rcv.Count() != 1 {
			t.Errorf("record %s (%s) after %d POSTs, want cancelled (webhook_reenabled) after 1: the retry reached the new incarnation",
				d.State, d.Reason, rcv.Count())
		}
	})
}
