package pipelinetest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/topics"
)

// A receiver's Retry-After holds for its whole endpoint, not only for the delivery that got it:
// the events that finish meanwhile are neither POSTed by Dispatch's first attempt nor by Deliver
// before it ends, no failed attempt is recorded for them, the API shows the pause, and every
// one is delivered once it is over.
func TestPause_ARetryAfterPausesTheWholeEndpoint(t *testing.T) {
	t.Parallel()
	const pause = 5 * time.Second
	start := time.Now().Add(-time.Minute)
	s := Start(t, Options{Configure: func(c *config.Config) { c.CacheTTL = time.Second }})
	// Four tasks wait at once: the emulator stops redelivering that many nacked messages after
	// a few tries, as the local stack's topics.Redeliver explains; it stands in for Pub/Sub.
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go topics.Redeliver(ctx, s.PubSub, start, time.Second)
	rcv := NewReceiver(t, OK, Reply{Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": "5"}})
	api := newManage(t, s, "acme")
	api.create("busy", rcv.URL)

	s.Publish(t, jobEvent("acme", "job-0", "batch.succeeded"), nil)
	Eventually(t, wait, "the 429", func() bool { return rcv.Count() == 1 })
	first := rcv.Requests()[0].At
	time.Sleep(1500 * time.Millisecond) // every cached copy of the webhook is read again
	_, body := api.do(http.MethodGet, api.webhooks+"/busy", "")
	var shown struct {
		PausedUntil time.Time `json:"paused_until"`
	}
	if err := json.Unmarshal([]byte(body), &shown); err != nil || shown.PausedUntil.Before(first.Add(pause-time.Second)) {
		t.Errorf("the API shows paused_until %v (%v), want about %v: %s", shown.PausedUntil, err, first.Add(pause), body)
	}
	for i := 1; i <= 3; i++ {
		s.Publish(t, jobEvent("acme", fmt.Sprintf("job-%d", i), "batch.succeeded"), nil)
	}
	for i := 0; i <= 3; i++ {
		d := waitState(t, s, "acme", fmt.Sprintf("job-%d", i), "busy", store.Delivered)
		if want := map[bool]int{true: 2, false: 1}[i == 0]; d.Attempts != want {
			t.Errorf("job-%d: %d attempts recorded, want %d: waiting for the pause is not a failed attempt", i, d.Attempts, want)
		}
	}
	for _, r := range rcv.Requests()[1:] {
		if r.At.Before(first.Add(pause)) {
			t.Errorf("a POST %v after the 429, inside its %v Retry-After", r.At.Sub(first).Round(time.Millisecond), pause)
		}
	}
	if n := rcv.Count(); n != 5 {
		t.Errorf("the endpoint got %d POSTs, want 5 (the 429, its retry, three events)", n)
	}

	// A new URL is a new endpoint: the old one's pause does not hold for it.
	if _, err := s.Store.PauseUntil(context.Background(), "acme", "busy", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	other := NewReceiver(t, OK)
	api.call(http.MethodPatch, api.webhooks+"/busy?update_mask=url", `{"url":"`+other.URL+`"}`)
	if w, _ := s.Store.GetWebhook(context.Background(), "acme", "busy"); !w.PausedUntil.IsZero() {
		t.Errorf("a URL change kept the old endpoint's pause until %v", w.PausedUntil)
	}
}
