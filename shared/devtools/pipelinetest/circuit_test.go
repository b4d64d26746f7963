package pipelinetest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/topics"
)

// A webhook that has had no success for the breaker's time has its circuit opened: its pending
// deliveries are not POSTed one by one, but one probe per interval is; the probe's 2xx closes the
// circuit and every waiting delivery is then delivered, none lost and none counted as a failed
// attempt while it waited.
func TestCircuit_ADeadEndpointGetsOneProbePerIntervalAndTheBacklogDrainsWhenItRecovers(t *testing.T) {
	t.Parallel()
	const interval = 2 * time.Second
	start := time.Now().Add(-time.Minute)
	s := Start(t, Options{Configure: func(c *config.Config) {
		c.CacheTTL = time.Second
		c.BreakerAfter, c.MinProbeInterval, c.MaxProbeInterval = 2*time.Second, interval, interval
	}})
	// Many tasks wait at once: the emulator stops redelivering them after a few tries, as the
	// local stack's topics.Redeliver explains; it stands in for Pub/Sub.
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go topics.Redeliver(ctx, s.PubSub, start, time.Second)

	var healthy atomic.Bool
	var mu sync.Mutex
	var posts []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		posts = append(posts, time.Now())
		mu.Unlock()
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	postsIn := func(from, to time.Time) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, p := range posts {
			if !p.Before(from) && p.Before(to) {
				n++
			}
		}
		return n
	}
	s.AddWebhook(t, hook("acme", "dead", srv.URL))

	s.Publish(t, jobEvent("acme", "job-0", "batch.succeeded"), nil) // starts the failure streak
	Eventually(t, wait, "the first 503", func() bool { return postsIn(start, time.Now()) >= 1 })
	time.Sleep(3 * time.Second) // past the breaker's 2 s
	const backlog = 8
	opened := time.Now()
	for i := 1; i <= backlog; i++ {
		s.Publish(t, jobEvent("acme", fmt.Sprintf("job-%d", i), "batch.succeeded"), nil)
	}
	const watch = 10 * time.Second
	time.Sleep(watch)
	// One probe per interval, plus one for a probe claimed at the window's edge; without the
	// breaker, each of the nine deliveries is POSTed at every push (about every second here).
	if n, most := postsIn(opened, opened.Add(watch)), int(watch/interval)+2; n > most {
		t.Errorf("the dead endpoint got %d POSTs in %v with its circuit open, want at most %d (one probe per %v)", n, watch, most, interval)
	}
	for i := 1; i <= backlog; i++ {
		d, err := s.Store.GetDelivery(ctx, "acme", event.DeliveryID("acme", fmt.Sprintf("job-%d", i), "webhook:dead"))
		if err == nil && d.Attempts > 1+int(watch/interval) {
			t.Errorf("job-%d: %d attempts while its circuit was open", i, d.Attempts)
		}
	}

	healthy.Store(true)
	recovered := time.Now()
	for i := 0; i <= backlog; i++ {
		waitState(t, s, "acme", fmt.Sprintf("job-%d", i), "dead", store.Delivered)
	}
	t.Logf("POSTs: %d before the circuit opened, %d in the %v it was open, %d after the endpoint recovered (all %d delivered in %v)",
		postsIn(start, opened), postsIn(opened, opened.Add(watch)), watch, postsIn(recovered, time.Now()), backlog+1,
		time.Since(recovered).Round(100*time.Millisecond))
}

// The breaker opens on retryable failures only: an endpoint that refuses every delivery with a
// status it is not retried on (400) fails each with one POST already, so its deliveries are
// never held back waiting for a probe, however long it has been failing.
func TestCircuit_AnEndpointThatRefusesWithAFinalStatusIsNeverHeldBack(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Configure: func(c *config.Config) {
		c.CacheTTL = time.Second
		c.BreakerAfter, c.MinProbeInterval, c.MaxProbeInterval = 2*time.Second, time.Minute, time.Minute
	}})
	rcv := NewReceiver(t, Status(http.StatusBadRequest))
	s.AddWebhook(t, hook("acme", "strict", rcv.URL))
	s.Publish(t, jobEvent("acme", "job-0", "batch.succeeded"), nil) // starts the failure streak
	waitState(t, s, "acme", "job-0", "strict", store.Failed)
	time.Sleep(3 * time.Second) // past the breaker's 2 s
	for i := 1; i <= 3; i++ {
		s.Publish(t, jobEvent("acme", fmt.Sprintf("job-%d", i), "batch.succeeded"), nil)
	}
	for i := 1; i <= 3; i++ {
		if d := waitState(t, s, "acme", fmt.Sprintf("job-%d", i), "strict", store.Failed); d.Reason != "status_400" || d.Attempts != 1 {
			t.Errorf("job-%d: %s %s after %d attempts, want failed status_400 after its one POST", i, d.State, d.Reason, d.Attempts)
		}
	}
	if w, err := s.Store.GetWebhook(context.Background(), "acme", "strict"); err != nil || w.FailingSince.IsZero() || !w.RetryingSince.IsZero() {
		t.Errorf("webhook: failing since %v, retrying since %v (%v); want a failure streak and no retrying one", w.FailingSince, w.RetryingSince, err)
	}
}
