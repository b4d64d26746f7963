package pipelinetest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// SPEC §13: one event to 1,000 endpoints works, its records committed in batches (Firestore
// takes at most 500 writes a commit), every endpoint POSTed once, every record delivered.
func TestScale_AnEventToAThousandEndpointsIsDeliveredInBatchedCommits(t *testing.T) {
	t.Parallel()
	const n = 1000
	s := Start(t, Options{NoPush: true, Configure: func(c *config.Config) {
		c.OriginMaxInFlight = 0 // the 1,000 endpoints share this test's one origin
		c.FirstAttemptBudget = 30 * time.Second
	}})
	var mu sync.Mutex
	got := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.URL.Path]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	for i := range n {
		s.AddWebhook(t, hook("wide", fmt.Sprintf("wh-%04d", i), fmt.Sprintf("%s/%04d", srv.URL, i)))
	}
	proc := newProcess(t, s, nil)
	dispatch := proc.dispatch()
	proc.ops.take()
	start := time.Now()
	if err := proc.handle(dispatch.Handle, pushmsg.Message{Data: []byte(jobEvent("wide", "job-wide", "batch.succeeded")), MessageID: "m-wide"}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	c := proc.ops.take()
	if len(got) != n {
		t.Fatalf("%d of %d endpoints were POSTed", len(got), n)
	}
	for path, k := range got {
		if k != 1 {
			t.Errorf("%s got %d POSTs, want 1", path, k)
		}
	}
	ds, err := s.Store.GetDeliveries(context.Background(), "wide", deliveryIDs(t, s, "wide", "job-wide"))
	if err != nil {
		t.Fatal(err)
	}
	delivered := 0
	for _, d := range ds {
		if d.State == store.Delivered && d.Attempts == 1 {
			delivered++
		}
	}
	if delivered != n {
		t.Errorf("%d of %d records delivered at the first attempt", delivered, n)
	}
	// The claim, then the 1,000 records in commits of at most 400 writes.
	if c.Commits > 4 || c.Writes != n+1 {
		t.Errorf("%d commits, %d writes; want the claim and %d records in at most 3 more commits", c.Commits, c.Writes, n)
	}
	t.Logf("one event to %d endpoints: %v in Dispatch, %d commits, %d writes, %d reads", n, took.Round(time.Millisecond), c.Commits, c.Writes, c.Reads)
}

// deliveryIDs are the deliveries an event's record planned.
func deliveryIDs(t *testing.T, s *Stack, project, eventID string) []string {
	t.Helper()
	rec, err := s.Store.GetEvent(context.Background(), project, eventID)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Deliveries
}

// SPEC §13: planning an event is one indexed read per (project, type) per cache period, however
// many webhooks the project has: 10,000 webhooks of which one is subscribed cost Dispatch one
// document read for the first event and none for the next; and the 10,001st webhook is refused
// by a count, not by reading 10,000 documents.
func TestScale_TenThousandWebhooksOneSubscribedPlanWithOneRead(t *testing.T) {
	t.Parallel()
	const n = 10000
	s := Start(t, Options{NoPush: true})
	rcv := NewReceiver(t, OK)
	s.AddWebhook(t, hook("many", "subscribed", rcv.URL))
	ctx := context.Background()
	fs, now := s.Store.Client(), s.Clock.Now()
	for from := 1; from < n; from += 400 {
		b := fs.Batch()
		for i := from; i < min(from+400, n); i++ {
			id := fmt.Sprintf("other-%05d", i)
			b.Set(fs.Doc("projects/many/webhooks/"+id), webhook.Webhook{Project: "many", ID: id, URL: "https://example.com/" + id,
				SubscribedEvents: []string{"video.generated"}, State: webhook.Enabled, CreateTime: now, UpdateTime: now})
		}
		if _, err := b.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	proc := newProcess(t, s, nil)
	dispatch := proc.dispatch()
	var reads []int
	for _, id := range []string{"job-a", "job-b"} {
		proc.ops.take()
		if err := proc.handle(dispatch.Handle, pushmsg.Message{Data: []byte(jobEvent("many", id, "batch.succeeded")), MessageID: id}); err != nil {
			t.Fatal(err)
		}
		reads = append(reads, proc.ops.take().Reads)
	}
	if rcv.Count() != 2 {
		t.Errorf("the subscribed webhook got %d POSTs, want 2", rcv.Count())
	}
	if reads[0] != 1 || reads[1] != 0 {
		t.Errorf("Dispatch read %v documents for two events; want [1 0]: the subscribed webhook, then the cache", reads)
	}
	err := proc.store.CreateWebhookWithin(ctx, webhook.Webhook{Project: "many", ID: "one-too-many", CreateTime: now}, n)
	if !errors.Is(err, store.ErrLimit) {
		t.Errorf("the %d-th webhook with a cap of %d: %v, want ErrLimit", n+1, n, err)
	}
	c := proc.ops.take()
	if c.Reads > 20 || c.Writes != 0 {
		t.Errorf("refusing the %d-th webhook cost %d reads and %d writes; want a count (about one read per 1,000) and none", n+1, c.Reads, c.Writes)
	}
	t.Logf("10,000 webhooks, one subscribed: Dispatch reads %v for two events; refusing one more: %d reads", reads, c.Reads)
}

// SPEC §13: no document is written more than about once a second on a hot path. An endpoint
// that flaps (every other answer a 500) seen by three instances at once: each instance's
// cached copy says healthy or failing, and each flip would write the webhook's health. Written
// at most once a second across the three, and the streak is not lost: when the endpoint stays
// down, its failure streak is recorded.
func TestScale_AFlappingEndpointsHealthIsWrittenAtMostOnceASecondAcrossInstances(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{NoPush: true, Configure: func(c *config.Config) { c.CacheTTL = 200 * time.Millisecond }})
	var mu sync.Mutex
	n, down := 0, false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		fail := down || n%2 == 0
		mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	s.AddWebhook(t, hook("flap", "flappy", srv.URL))
	time.Sleep(store.HealthEvery) // the webhook's creation is a write too

	type instance struct {
		proc     *process
		dispatch pushmsg.HandlerFunc
	}
	var ins []instance
	for range 3 {
		p := newProcess(t, s, nil)
		ins = append(ins, instance{p, p.dispatch().Handle})
	}
	send := func(round, events int) {
		var wg sync.WaitGroup
		for i := range events {
			in := ins[i%len(ins)]
			id := fmt.Sprintf("job-%d-%d", round, i)
			wg.Go(func() {
				in.proc.handle(in.dispatch, pushmsg.Message{Data: []byte(jobEvent("flap", id, "batch.succeeded")), MessageID: id})
			})
		}
		wg.Wait()
	}
	start := time.Now()
	for round := range 8 {
		send(round, 30)
		time.Sleep(250 * time.Millisecond)
	}
	mu.Lock()
	down = true
	mu.Unlock()
	send(8, 6)
	Eventually(t, wait, "the streak of the endpoint that stayed down", func() bool {
		w, err := s.Store.GetWebhook(context.Background(), "flap", "flappy")
		return err == nil && !w.FailingSince.IsZero() && !w.RetryingSince.IsZero()
	})
	took := time.Since(start)
	writes := 0
	for _, in := range ins {
		for _, doc := range in.proc.ops.take().Docs {
			if strings.HasSuffix(doc, "/webhooks/flappy") {
				writes++
			}
		}
	}
	if most := int(took/store.HealthEvery) + 1; writes > most || writes == 0 {
		t.Errorf("%d writes of the webhook in %v by 3 instances; want between 1 and %d (once a second at most)", writes, took.Round(time.Millisecond), most)
	}
	t.Logf("a flapping endpoint, 246 deliveries over 3 instances: %d health writes in %v", writes, took.Round(time.Millisecond))
}
