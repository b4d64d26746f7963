package pipelinetest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
	"github.com/jobhooks/jobhooks/shared/topics"
)

// tap is a pull subscription on one topic that collects what is published there.
type tap struct {
	mu   sync.Mutex
	msgs []*pubsub.Message
}

func newTap(t *testing.T, s *Stack, topic string) *tap {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	name := "projects/" + s.Config.GoogleProject + "/subscriptions/tap-" + topic
	if _, err := s.PubSub.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: name, Topic: "projects/" + s.Config.GoogleProject + "/topics/" + topic, AckDeadlineSeconds: 60,
	}); err != nil {
		t.Fatalf("tap: %v", err)
	}
	tp := &tap{}
	go s.PubSub.Subscriber(name).Receive(ctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		tp.mu.Lock()
		tp.msgs = append(tp.msgs, m)
		tp.mu.Unlock()
	})
	return tp
}

// tasks are the delivery tasks the tap saw for one delivery.
func (tp *tap) tasks(t *testing.T, deliveryID string) []task.Task {
	t.Helper()
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var out []task.Task
	for _, m := range tp.msgs {
		tk, err := task.Decode(m.Data)
		if err != nil {
			t.Fatalf("a task that does not decode: %v", err)
		}
		if tk.DeliveryID == deliveryID {
			out = append(out, tk)
		}
	}
	return out
}

// A task whose endpoint holds it back leaves the shared deliveries subscription (Pub/Sub slows a
// push subscription that nacks much, for every endpoint's retries): Dispatch queues it on the
// waiting topic instead, Deliver moves one that reaches it on the deliveries lane there at once
// (a new generation, the push acked), and on the waiting lane it is nacked there and nothing
// more is published.
func TestIsolation_AHeldBackTaskLeavesTheDeliveriesSubscriptionAndWaitsOnItsOwn(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{NoPush: true})
	w := hook("acme", "held", "http://127.0.0.1:1/never") // nothing is POSTed to it
	w.PausedUntil = time.Now().Add(time.Hour)
	s.AddWebhook(t, w)
	deliveries, waiting := newTap(t, s, s.Config.DeliveriesTopic), newTap(t, s, s.Config.WaitingTopic)
	proc := newProcess(t, s, nil)
	sub := func(name string) string { return "projects/" + s.Config.GoogleProject + "/subscriptions/" + name }

	// Dispatch: the first attempt finds the endpoint paused and queues the task on the waiting lane.
	ev := pushmsg.Message{Data: []byte(jobEvent("acme", "job-1", "batch.succeeded")), MessageID: "ev-1",
		PublishTime: time.Now(), Subscription: sub("job-events-dispatch")}
	if err := proc.handle(proc.dispatch().Handle, ev); err != nil {
		t.Fatalf("Dispatch: %v", err)
	}
	first := deliveryTask(t, "acme", "job-1", "held")
	var dt task.Task
	dt, _ = task.Decode(first.Data)
	Eventually(t, wait, "the first attempt's task on the waiting topic", func() bool { return len(waiting.tasks(t, dt.DeliveryID)) == 1 })

	// Deliver, from the deliveries lane: the task moves to the waiting lane, and the push is acked.
	m := deliveryTask(t, "acme", "job-2", "held")
	m.Subscription = sub("webhook-deliveries-deliver")
	tk, _ := task.Decode(m.Data)
	if err := proc.handle(proc.deliver().Handle, m); err != nil && !pushmsg.Acked(err) {
		t.Fatalf("Deliver on the deliveries lane answered %v, want an ack: the task moved to the waiting lane", err)
	}
	Eventually(t, wait, "the moved task on the waiting topic", func() bool { return len(waiting.tasks(t, tk.DeliveryID)) == 1 })
	moved := waiting.tasks(t, tk.DeliveryID)[0]
	if moved.Generation != tk.Generation+1 {
		t.Errorf("the moved task is generation %d, want %d: the acked push's copy must be superseded", moved.Generation, tk.Generation+1)
	}
	d, err := s.Store.GetDelivery(context.Background(), "acme", tk.DeliveryID)
	if err != nil || d.Attempts != 0 || d.Waiting != store.WaitPaused || d.Generation != moved.Generation {
		t.Errorf("record after the move: %+v (%v), want no attempt, waiting paused, generation %d", d, err, moved.Generation)
	}

	// Deliver, from the waiting lane: still held back, so nacked there; nothing is published.
	again := pushmsg.Message{Data: moved.Encode(), Attributes: moved.Attributes(), MessageID: "moved-2", PublishTime: time.Now(),
		Subscription: sub("staging-" + topics.WaitingSubscription)}
	if err := proc.handle(proc.deliver().Handle, again); err == nil || pushmsg.Acked(err) {
		t.Errorf("Deliver on the waiting lane answered %v, want a nack: the task waits there", err)
	}
	time.Sleep(time.Second) // what a publish would take to reach the taps
	if n := len(waiting.tasks(t, tk.DeliveryID)); n != 1 {
		t.Errorf("the waiting lane's nack published %d more tasks", n-1)
	}
	// Each wait is a line the held-back metric counts (terraform/monitoring.tf).
	waits := 0
	for _, l := range Logs.Lines() {
		if strings.Contains(l, `"message":"delivery waits"`) && strings.Contains(l, tk.DeliveryID) && strings.Contains(l, `"reason":"paused"`) {
			waits++
		}
	}
	if waits != 2 {
		t.Errorf("%d delivery waits lines with reason paused for %s, want 2 (one per push)", waits, tk.DeliveryID)
	}
	for _, id := range []string{dt.DeliveryID, tk.DeliveryID} {
		if n := len(deliveries.tasks(t, id)); n != 0 {
			t.Errorf("%s: %d tasks on the deliveries topic, want none: a held-back task must not wait there", id, n)
		}
	}
}
