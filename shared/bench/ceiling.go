package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/jobhooks/jobhooks/shared/devstack"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/store"
)

type ceiling struct {
	perSecond, p50 float64
}

// measureCeiling pushes n messages through a bare push subscription to an endpoint that runs work
// (nil: nothing) and answers 204: with no work, the most one hop of the emulator can do, against
// which Jobhooks' two hops are compared.
func measureCeiling(ctx context.Context, name string, n int, work func(ctx context.Context, i int) error, progressOut io.Writer) (ceiling, error) {
	var mu sync.Mutex
	var latencies []float64
	var last time.Time
	got := make(chan struct{}, n)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		mu.Lock()
		latencies = append(latencies, float64(now.UnixNano()-sent)/1e6)
		last = now
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		got <- struct{}{}
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return ceiling{}, err
	}
	go srv.Serve(ln)
	defer srv.Close()

	client, err := pubsub.NewClient(ctx, devstack.GoogleProject)
	if err != nil {
		return ceiling{}, err
	}
	defer client.Close()
	topic := "projects/" + devstack.GoogleProject + "/topics/" + name + "-ceiling"
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		return ceiling{}, fmt.Errorf("create topic: %w", err)
	}
	if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: "projects/" + devstack.GoogleProject + "/subscriptions/" + name + "-ceiling", Topic: topic,
		PushConfig: &pubsubpb.PushConfig{PushEndpoint: "http://" + ln.Addr().String() + "/"}, AckDeadlineSeconds: 60,
	}); err != nil {
		return ceiling{}, fmt.Errorf("create subscription: %w", err)
	}
	pub := client.Publisher(name + "-ceiling")
	pub.PublishSettings.DelayThreshold = time.Millisecond
	defer pub.Stop()

	start := time.Now()
	results := make([]*pubsub.PublishResult, n)
	for i := range n {
		results[i] = pub.Publish(ctx, &pubsub.Message{
			Data:       []byte(`{"n":` + strconv.Itoa(i) + `}`),
			Attributes: map[string]string{"sent": strconv.FormatInt(time.Now().UnixNano(), 10), "n": strconv.Itoa(i)},
		})
	}
	for _, r := range results {
		if _, err := r.Get(ctx); err != nil {
			return ceiling{}, err
		}
	}
	timeout := time.After(time.Duration(n)*20*time.Millisecond + time.Minute)
	for i := range n {
		select {
		case <-got:
			progress(progressOut, name+" ceiling", i+1, n)
		case <-timeout:
			return ceiling{}, fmt.Errorf("only %d of %d messages pushed in time", i, n)
		case <-ctx.Done():
			return ceiling{}, ctx.Err()
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return ceiling{perSecond: float64(n) / last.Sub(start).Seconds(), p50: percentile(latencies, 50)}, nil
}

// storeWork is the store work of one first-try delivery, through the store package as Deliver
// does it: read the record (absent), then create it with its attempt in one commit.
func storeWork(st *store.Store) func(ctx context.Context, i int) error {
	return func(ctx context.Context, i int) error {
		id := "dlv_bound_" + strconv.Itoa(i)
		if _, err := st.GetDelivery(ctx, "bound", id); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("read: %v", err)
		}
		now := time.Now()
		d := store.Delivery{
			ID: id, Project: "bound", EventID: "e" + strconv.Itoa(i), EventType: "batch.succeeded",
			MessageID: "msg_bound", Webhook: "bound", URL: "http://127.0.0.1/", State: store.Delivered,
			Attempts: 1, CreateTime: now, FirstAttemptTime: now, LastAttemptTime: now, LastStatusCode: 204,
		}
		return st.RecordAttempt(ctx, &d, store.Attempt{Number: 1, Time: now, URL: d.URL, StatusCode: 204, Outcome: "delivered"})
	}
}
