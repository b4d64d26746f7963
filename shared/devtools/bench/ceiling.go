package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/jobhooks/jobhooks/shared/devtools/devstack"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/store"
)

type ceiling struct {
	perSecond, p50 float64
	latencies      []float64
	// publishLag is how late the latest publish started after its scheduled time (paced only).
	publishLag time.Duration
}

// measureCeiling pushes n messages through a bare push subscription to an endpoint that runs work
// (nil: nothing) and answers 204: with no work, the most one hop of the emulator can do, against
// which Jobhooks' two hops are compared.
func measureCeiling(ctx context.Context, name string, n int, work func(ctx context.Context, i int) error, progressOut io.Writer) (ceiling, error) {
	h, err := openBareHop(ctx, name, n, work)
	if err != nil {
		return ceiling{}, err
	}
	defer h.close()
	start := time.Now()
	results := make([]*pubsub.PublishResult, n)
	for i := range n {
		results[i] = h.publish(ctx, i)
	}
	return h.finish(ctx, name+" ceiling", start, results, time.Duration(n)*20*time.Millisecond+time.Minute, progressOut)
}

// bareHop is one push subscription of its own, on the stack's Pub/Sub emulator, to a local
// endpoint. Each message carries its publish time ("sent"); the endpoint measures from it.
type bareHop struct {
	srv    *http.Server
	client *pubsub.Client
	pub    *pubsub.Publisher
	got    chan struct{}

	mu        sync.Mutex
	latencies []float64
	last      time.Time
}

// openBareHop creates topic and subscription NAME-ceiling, pushing to an endpoint that runs work
// (nil: nothing) and answers 204, for at most n messages.
func openBareHop(ctx context.Context, name string, n int, work func(ctx context.Context, i int) error) (*bareHop, error) {
	h := &bareHop{got: make(chan struct{}, n)}
	h.srv = &http.Server{Handler: h.handler(work)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go h.srv.Serve(ln)
	if h.client, err = pubsub.NewClient(ctx, devstack.GoogleProject); err != nil {
		h.srv.Close()
		return nil, err
	}
	topic := "projects/" + devstack.GoogleProject + "/topics/" + name + "-ceiling"
	if _, err := h.client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		h.close()
		return nil, fmt.Errorf("create topic: %w", err)
	}
	if _, err := h.client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: "projects/" + devstack.GoogleProject + "/subscriptions/" + name + "-ceiling", Topic: topic,
		PushConfig: &pubsubpb.PushConfig{PushEndpoint: "http://" + ln.Addr().String() + "/"}, AckDeadlineSeconds: 60,
	}); err != nil {
		h.close()
		return nil, fmt.Errorf("create subscription: %w", err)
	}
	h.pub = h.client.Publisher(name + "-ceiling")
	h.pub.PublishSettings.DelayThreshold = time.Millisecond
	return h, nil
}

func (h *bareHop) handler(work func(ctx context.Context, i int) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m, err := pushmsg.Decode(r)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if work != nil {
			i, _ := strconv.Atoi(m.Attributes["n"])
			if err := work(r.Context(), i); err != nil {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
		}
		now := time.Now()
		sent, _ := strconv.ParseInt(m.Attributes["sent"], 10, 64)
		h.mu.Lock()
		h.latencies = append(h.latencies, float64(now.UnixNano()-sent)/1e6)
		h.last = now
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		h.got <- struct{}{}
	}
}

// publish sends message i stamped with the time of this call; it does not wait for the server.
func (h *bareHop) publish(ctx context.Context, i int) *pubsub.PublishResult {
	return h.pub.Publish(ctx, &pubsub.Message{
		Data:       []byte(`{"n":` + strconv.Itoa(i) + `}`),
		Attributes: map[string]string{"sent": strconv.FormatInt(time.Now().UnixNano(), 10), "n": strconv.Itoa(i)},
	})
}

// finish waits until Pub/Sub has stored every published message and the endpoint has received
// all of them, and reports the rate from start to the last receipt.
func (h *bareHop) finish(ctx context.Context, label string, start time.Time, results []*pubsub.PublishResult, wait time.Duration, progressOut io.Writer) (ceiling, error) {
	n := len(results)
	for _, r := range results {
		if _, err := r.Get(ctx); err != nil {
			return ceiling{}, err
		}
	}
	timeout := time.After(wait)
	for i := range n {
		select {
		case <-h.got:
			progress(progressOut, label, i+1, n)
		case <-timeout:
			return ceiling{}, fmt.Errorf("only %d of %d messages pushed in time", i, n)
		case <-ctx.Done():
			return ceiling{}, ctx.Err()
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return ceiling{perSecond: float64(n) / h.last.Sub(start).Seconds(), p50: percentile(h.latencies, 50), latencies: h.latencies}, nil
}

func (h *bareHop) close() {
	if h.pub != nil {
		h.pub.Stop()
	}
	h.client.Close()
	h.srv.Close()
}

// storeWork is the store work of one event delivered on its first try to one endpoint, through
// the store package as Dispatch does it (shared/delivery/README.md, One hop on the happy path):
// claim the event record, then commit the delivery's record with its attempt inside.
func storeWork(st *store.Store) func(ctx context.Context, i int) error {
	return func(ctx context.Context, i int) error {
		id := "dlv_bound_" + strconv.Itoa(i)
		now := time.Now()
		claim, err := st.ClaimEvent(ctx, store.EventRecord{Project: "bound", ID: "e" + strconv.Itoa(i), Type: "batch.succeeded",
			Deliveries: []string{id}}, time.Minute, now)
		if err != nil || claim.Outcome != store.Claimed {
			return fmt.Errorf("claim: %v (%v)", claim.Outcome, err)
		}
		d := store.Delivery{
			ID: id, Project: "bound", EventID: "e" + strconv.Itoa(i), EventType: "batch.succeeded",
			MessageID: "msg_bound", Webhook: "bound", URL: "http://127.0.0.1/", State: store.Delivered,
			Attempts: 1, CreateTime: now, WindowStart: now, FirstAttemptTime: now, LastAttemptTime: now, LastStatusCode: 204,
		}
		a := store.Attempt{Number: 1, Time: now, URL: d.URL, StatusCode: 204, Outcome: "delivered"}
		return st.CommitDispatch(ctx, "bound", "e"+strconv.Itoa(i), claim, []store.Recorded{{Delivery: &d, Attempt: &a}}, nil)
	}
}
