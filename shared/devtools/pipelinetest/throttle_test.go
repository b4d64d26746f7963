package pipelinetest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/topics"
)

// instances are several Dispatch and Deliver instances (separate clients, separate caches) fed
// by pull subscriptions on the stack's topics: each message goes to the next instance in turn,
// handled at once, and acked or nacked by what the handler answers, as a push would be. Pull
// and not push: the emulator keeps about two pushes in flight per subscription, which would
// bound the concurrency the throttle is there to bound.
type instances struct {
	dispatch, deliver []pushmsg.HandlerFunc
}

func (in instances) run(t *testing.T, s *Stack, ctx context.Context) {
	t.Helper()
	for _, lane := range []struct {
		topic, sub string
		handlers   []pushmsg.HandlerFunc
	}{
		{s.Config.JobEventsTopic, "job-events-pull", in.dispatch},
		{s.Config.DeliveriesTopic, "webhook-deliveries-pull", in.deliver},
		// Deliver tells the waiting lane by its subscription's name (after any prefix).
		{s.Config.WaitingTopic, "pull-" + topics.WaitingSubscription, in.deliver},
	} {
		name := "projects/" + s.Config.GoogleProject + "/subscriptions/" + lane.sub
		_, err := s.PubSub.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
			Name: name, Topic: "projects/" + s.Config.GoogleProject + "/topics/" + lane.topic, AckDeadlineSeconds: 60,
			RetryPolicy: &pubsubpb.RetryPolicy{MinimumBackoff: durationpb.New(time.Second), MaximumBackoff: durationpb.New(2 * time.Second)},
		})
		if err != nil {
			t.Fatalf("pull subscription: %v", err)
		}
		sub := s.PubSub.Subscriber(name)
		sub.ReceiveSettings.MaxOutstandingMessages = 200
		var next atomic.Int64
		handlers := lane.handlers
		go sub.Receive(ctx, func(ctx context.Context, msg *pubsub.Message) {
			m := pushmsg.Message{Data: msg.Data, Attributes: msg.Attributes, MessageID: msg.ID, PublishTime: msg.PublishTime, Subscription: name}
			if msg.DeliveryAttempt != nil {
				m.DeliveryAttempt = *msg.DeliveryAttempt
			}
			err := handlers[int(next.Add(1))%len(handlers)](ctx, m)
			if err == nil || pushmsg.Acked(err) {
				msg.Ack()
				return
			}
			msg.Nack()
		})
	}
}

// concurrency is a receiver that counts how many requests it holds at once and when each began.
type concurrency struct {
	mu     sync.Mutex
	now    int
	most   int
	starts []time.Time
	got    map[string]bool
}

func (c *concurrency) enter(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now++
	c.most = max(c.most, c.now)
	c.starts = append(c.starts, time.Now())
	if c.got == nil {
		c.got = map[string]bool{}
	}
	c.got[id] = true
}

func (c *concurrency) leave() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now--
}

// mostInOneSecond is the most requests that began within any one second.
func (c *concurrency) mostInOneSecond() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	most := 0
	for i, from := range c.starts {
		n := 0
		for _, at := range c.starts[i:] {
			if at.Sub(from) < time.Second {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// A throttled webhook's max_in_flight and rate_limit hold across three Dispatch and three Deliver
// instances at once, and a slot held by an instance that dies mid-POST comes back when its lease
// runs out: every event is delivered, the receiver never holds more than max_in_flight requests
// nor sees more than rate_limit begin in one second, and waiting for a slot records no attempt.
func TestThrottle_ThreeDispatchAndThreeDeliverInstancesShareOneEndpointsLimitAndADeadHoldersSlotComesBack(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{NoPush: true, Configure: func(c *config.Config) {
		c.AttemptTimeout = 2 * time.Second // a dead holder's lease: 2 s + the 10 s recording margin
		c.FirstAttemptBudget = 2 * time.Second
		c.SlotWait = 2 * time.Second
		c.CacheTTL = time.Second
	}})
	const maxInFlight, rate, events = 3, 20, 40
	var rc concurrency
	hang := make(chan struct{})
	var hangOnce sync.Once
	hanging := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get("webhook-id")
		rc.enter(id)
		defer rc.leave()
		if strings.Contains(string(body), "batches/job-hang") {
			first := false
			hangOnce.Do(func() { first = true })
			if first {
				close(hanging)
				select { // the instance dies while this POST is open, and its connection goes with it
				case <-hang:
				case <-r.Context().Done():
				}
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(hang) })
	w := hook("acme", "small", srv.URL)
	w.MaxInFlight, w.RateLimit = maxInFlight, rate
	s.AddWebhook(t, w)
	one := hook("acme", "one", srv.URL+"/one", "batch.failed")
	one.MaxInFlight = 1
	s.AddWebhook(t, one)

	// An instance takes the only slot of "one" for job-hang and dies while its POST is open: the
	// slot is held until its lease ends, and Pub/Sub redelivers the task to the others.
	dead := newProcess(t, s, nil)
	hung := deliveryTask(t, "acme", "job-hang", "one")
	go dead.handle(dead.deliver().Handle, hung)
	select {
	case <-hanging:
	case <-time.After(wait):
		t.Fatal("the dying instance never POSTed")
	}
	dead.die()
	died := time.Now()
	lease := s.Config.AttemptTimeout + config.AttemptMargin

	var in instances
	for range 3 {
		p := newProcess(t, s, nil)
		in.dispatch = append(in.dispatch, p.dispatch().Handle)
		in.deliver = append(in.deliver, p.deliver().Handle)
	}
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	in.run(t, s, ctx)
	// The dead instance's task comes back as Pub/Sub would redeliver it.
	if err := s.Publisher.PublishDeliveries(ctx, publishedTask(t, hung)); err != nil {
		t.Fatal(err)
	}
	for i := range events {
		s.Publish(t, jobEvent("acme", fmt.Sprintf("job-%d", i), "batch.succeeded"), nil)
	}
	s.Publish(t, jobEvent("acme", "job-failed", "batch.failed"), nil)

	ids := []string{}
	for i := range events {
		ids = append(ids, fmt.Sprintf("job-%d", i))
	}
	Eventually(t, 2*time.Minute, "every event delivered", func() bool {
		for _, id := range ids {
			d, err := s.Store.GetDelivery(ctx, "acme", event.DeliveryID("acme", id, "webhook:small"))
			if err != nil || d.State != store.Delivered {
				return false
			}
		}
		return true
	})
	// The dead holder's slot of "one" comes back when its lease ends, not before.
	var freed time.Time
	for _, id := range []string{"job-hang", "job-failed"} {
		d := waitState(t, s, "acme", id, "one", store.Delivered)
		if d.LastAttemptTime.Before(died.Add(lease - time.Second)) {
			t.Errorf("%s was POSTed %v after the holder died, before its slot's %v lease ended", id, d.LastAttemptTime.Sub(died), lease)
		}
		freed = latest(freed, d.LastAttemptTime)
	}
	if rc.most > maxInFlight {
		t.Errorf("the receiver held %d requests at once, want at most max_in_flight %d", rc.most, maxInFlight)
	}
	if n := rc.mostInOneSecond(); n > rate {
		t.Errorf("%d requests began within one second, want at most rate_limit %d", n, rate)
	}
	for _, id := range ids {
		if d := delivery(t, s, "acme", id, "small"); d.Attempts != 1 {
			t.Errorf("%s: %d attempts, want 1: waiting for a slot is not an attempt", id, d.Attempts)
		}
	}
	wh, err := s.Store.GetWebhook(ctx, "acme", "small")
	if err != nil {
		t.Fatal(err)
	}
	if !wh.FailingSince.IsZero() {
		t.Errorf("waiting started a failure streak at %v", wh.FailingSince)
	}
	t.Logf("%d events through 3+3 instances: at most %d in flight, %d begun in one second; the dead holder's slot came back %v after it died",
		events, rc.most, rc.mostInOneSecond(), freed.Sub(died).Round(100*time.Millisecond))
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// publishedTask is a pushed task as a message to publish again.
func publishedTask(t *testing.T, m pushmsg.Message) []topics.Message {
	t.Helper()
	return []topics.Message{{Data: m.Data, Attributes: m.Attributes}}
}

// A 429 without Retry-After is the receiver asking for less: the endpoint's in-flight bound is
// halved for every instance (from its max_in_flight 8 to 4), recorded on the webhook, and the
// burst that follows never has more than 4 in flight; a step of successes later it grows back
// by one. Waiting for the lowered bound records no attempt.
func TestThrottle_A429WithoutRetryAfterHalvesTheEndpointsInFlightAndSuccessesGrowItBack(t *testing.T) {
	t.Parallel()
	const step = time.Hour // the test moves the clock across it
	s := Start(t, Options{NoPush: true, Configure: func(c *config.Config) {
		c.CacheTTL = time.Second
		c.SlotWait = 2 * time.Second
		c.InFlightStep = step
	}})
	var rc concurrency
	var answered atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if answered.Add(1) == 1 {
			w.WriteHeader(http.StatusTooManyRequests) // no Retry-After
			return
		}
		rc.enter(r.Header.Get("webhook-id"))
		defer rc.leave()
		time.Sleep(100 * time.Millisecond)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	w := hook("acme", "busy", srv.URL)
	w.MaxInFlight = 8
	s.AddWebhook(t, w)

	var in instances
	for range 3 {
		p := newProcess(t, s, nil)
		in.dispatch = append(in.dispatch, p.dispatch().Handle)
		in.deliver = append(in.deliver, p.deliver().Handle)
	}
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	in.run(t, s, ctx)

	s.Publish(t, jobEvent("acme", "job-first", "batch.succeeded"), nil)
	Eventually(t, wait, "the 429 to lower the bound", func() bool {
		wh, err := s.Store.GetWebhook(ctx, "acme", "busy")
		return err == nil && wh.AllowedInFlight == 4
	})
	time.Sleep(2 * time.Second) // every instance's cached copy is read again (cache TTL 1 s)
	const events = 30
	for i := range events {
		s.Publish(t, jobEvent("acme", fmt.Sprintf("job-%d", i), "batch.succeeded"), nil)
	}
	for i := range events {
		waitState(t, s, "acme", fmt.Sprintf("job-%d", i), "busy", store.Delivered)
	}
	if rc.most > 4 {
		t.Errorf("after a 429 halved the bound to 4, the receiver held %d requests at once", rc.most)
	}
	for i := range events {
		if d := delivery(t, s, "acme", fmt.Sprintf("job-%d", i), "busy"); d.Attempts != 1 {
			t.Errorf("job-%d: %d attempts, want 1: waiting for the lowered bound is not an attempt", i, d.Attempts)
		}
	}

	s.Clock.Advance(step) // a step of successes: the next one grows the bound by one
	s.Publish(t, jobEvent("acme", "job-later", "batch.succeeded"), nil)
	waitState(t, s, "acme", "job-later", "busy", store.Delivered)
	Eventually(t, wait, "the bound to grow back by one", func() bool {
		wh, err := s.Store.GetWebhook(ctx, "acme", "busy")
		return err == nil && wh.AllowedInFlight == 5
	})
	t.Logf("at most %d in flight after the 429 lowered the bound to 4 (max_in_flight 8)", rc.most)
}
