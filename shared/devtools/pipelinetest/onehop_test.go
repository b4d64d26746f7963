package pipelinetest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
	"github.com/jobhooks/jobhooks/shared/topics"
)

// hanging is an endpoint that never answers: it holds every request until the client gives up
// (and counts those) or the test ends.
func hanging(t *testing.T) (url string, abandoned *atomic.Int64) {
	abandoned = &atomic.Int64{}
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server notices a client gone only once the body is read
		select {
		case <-r.Context().Done():
			abandoned.Add(1)
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: Close waits for the handlers
	return srv.URL + "/hook", abandoned
}

// The first-attempt budget (shared/delivery/README.md, One hop on the happy path): an endpoint that
// hangs is cut off when the budget runs out, though its own attempt timeout is ten minutes. Its
// attempt is recorded as a timeout and handed to Deliver as a task; the event's other target is
// delivered and the event handled, so Dispatch moves on to the next event.
func TestDispatch_AHangingEndpointIsCutOffByTheFirstAttemptBudgetAndRetried(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{NoPush: true, Configure: func(c *config.Config) {
		c.AttemptTimeout, c.FunctionTimeout, c.FirstAttemptBudget = 10*time.Minute, 15*time.Minute, time.Second
	}})
	hangURL, abandoned := hanging(t)
	ok := NewReceiver(t, OK)
	s.AddWebhook(t, hook("acme", "hangs", hangURL))
	s.AddWebhook(t, hook("acme", "fine", ok.URL))
	proc := newProcess(t, s, nil)
	dispatch := proc.dispatch()

	handled := make(chan error, 2)
	go func() {
		for _, id := range []string{"job-1", "job-2"} {
			m := pushmsg.Message{Data: []byte(jobEvent("acme", id, "batch.succeeded")), MessageID: id}
			handled <- proc.handle(dispatch.Handle, m)
		}
	}()
	for range 2 {
		select {
		case err := <-handled:
			if err != nil {
				t.Fatalf("the event was not acknowledged: %v", err)
			}
		case <-time.After(wait):
			t.Fatal("Dispatch is still waiting for the hanging endpoint: the budget did not cut it off")
		}
	}

	Eventually(t, wait, "the hanging endpoint sees both requests abandoned", func() bool { return abandoned.Load() == 2 })
	if ok.Count() != 2 {
		t.Errorf("the fine endpoint got %d POSTs, want 2", ok.Count())
	}
	for _, id := range []string{"job-1", "job-2"} {
		if d := delivery(t, s, "acme", id, "fine"); d.State != store.Delivered {
			t.Errorf("%s to the fine endpoint: %s", id, d.State)
		}
		d := delivery(t, s, "acme", id, "hangs")
		attempts, err := s.Store.ListAttempts(context.Background(), d)
		if err != nil || d.State != store.Pending || len(attempts) != 1 || attempts[0].Outcome != "retry" || d.LastStatusCode != 0 {
			t.Errorf("%s to the hanging endpoint: %s, attempts %+v (%v); want pending after one timed-out attempt", id, d.State, attempts, err)
		}
	}
	tasks := proc.ops.drain(topics.Deliveries)
	if len(tasks) != 2 {
		t.Fatalf("%d delivery tasks published, want one per event for the hanging endpoint", len(tasks))
	}
	for _, m := range tasks {
		tk, err := task.Decode(m.Data)
		if err != nil || tk.Webhook != "hangs" {
			t.Errorf("task %+v (%v), want one for the hanging webhook", tk, err)
		}
	}
}

// With one first attempt at a time, a target whose turn comes after the budget ran out is not
// POSTed by Dispatch at all: its record is left pending without an attempt and its task is
// published, so Deliver makes its first attempt.
func TestDispatch_ATargetLeftWaitingPastTheBudgetIsHandedToDeliverWithoutAnAttempt(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{NoPush: true, Configure: func(c *config.Config) {
		c.AttemptTimeout, c.FunctionTimeout, c.FirstAttemptBudget = 10*time.Minute, 15*time.Minute, time.Second
		c.FirstAttemptConcurrency = 1
	}})
	hangURL, _ := hanging(t)
	fine := NewReceiver(t, OK)
	s.AddWebhook(t, hook("acme", "a-hangs", hangURL)) // listed first: webhooks are read in id order
	s.AddWebhook(t, hook("acme", "b-fine", fine.URL))
	proc := newProcess(t, s, nil)
	m := pushmsg.Message{Data: []byte(jobEvent("acme", "job-1", "batch.succeeded")), MessageID: "job-1"}
	if err := proc.handle(proc.dispatch().Handle, m); err != nil {
		t.Fatalf("the event was not acknowledged: %v", err)
	}
	if fine.Count() != 0 {
		t.Errorf("the waiting target got %d POSTs from Dispatch, want 0", fine.Count())
	}
	if d := delivery(t, s, "acme", "job-1", "b-fine"); d.State != store.Pending || d.Attempts != 0 || d.WindowStart.IsZero() {
		t.Errorf("the waiting target's record: %s, %d attempts, window from %v; want pending, 0, set", d.State, d.Attempts, d.WindowStart)
	}
	if tasks := proc.ops.drain(topics.Deliveries); len(tasks) != 2 {
		t.Errorf("%d tasks published, want 2 (the cut-off target and the waiting one)", len(tasks))
	}
}
