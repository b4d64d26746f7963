package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/devtools/devstack"
	"github.com/jobhooks/jobhooks/shared/instance"
	"github.com/jobhooks/jobhooks/shared/jobevents"
	"github.com/jobhooks/jobhooks/shared/secrets"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/topics"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

type endToEnd struct {
	deliveries, duplicates int
	perSecond              float64
	latencies              []float64
	// publishLag is how late the latest publish started after its scheduled time (paced only).
	publishLag time.Duration
}

// measureEndToEnd registers m webhooks of project pointing at a verifying receiver, publishes n
// events in a burst and waits for n×m verified POSTs.
func measureEndToEnd(ctx context.Context, project string, n, m int, progressOut io.Writer) (endToEnd, error) {
	r, err := openRig(ctx, project, n, m)
	if err != nil {
		return endToEnd{}, err
	}
	defer r.close()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.publish(ctx, r.event(i)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return endToEnd{}, err
	}
	return r.finish(ctx, project+" end to end", start, n*m, time.Duration(n*m)*50*time.Millisecond+2*time.Minute, progressOut)
}

// rig is a verifying receiver behind m webhooks of one project, and a publisher of job events.
type rig struct {
	project string
	rcv     *receiver
	srv     *http.Server
	client  *pubsub.Client
	pub     *jobevents.Publisher
}

func openRig(ctx context.Context, project string, n, m int) (*rig, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// The verifiers are set before the first event is published, hence before any request.
	r := &rig{project: project, rcv: &receiver{seen: map[string]bool{}, got: make(chan struct{}, n*m*2)}}
	if r.rcv.verifiers, err = addWebhooks(ctx, project, "http://"+ln.Addr().String(), m); err != nil {
		ln.Close()
		return nil, err
	}
	r.srv = &http.Server{Handler: r.rcv}
	go r.srv.Serve(ln)
	if r.client, err = pubsub.NewClient(ctx, devstack.GoogleProject); err != nil {
		r.srv.Close()
		return nil, err
	}
	r.pub = jobevents.NewPublisher(r.client, topics.JobEvents)
	return r, nil
}

// event is job event i, stamped now: the receiver measures its latency from this timestamp,
// which the body repeats exactly as published (shared/verify/README.md, What a receiver gets).
func (r *rig) event(i int) jobevents.Event {
	return jobevents.Event{
		ID: "bench-" + strconv.Itoa(i), Project: r.project, Type: "batch.succeeded", Timestamp: time.Now(),
		Data: map[string]any{"id": "batches/" + strconv.Itoa(i), "output_file_uri": "gs://bench/out.jsonl"},
	}
}

// publish returns once Pub/Sub has stored the event.
func (r *rig) publish(ctx context.Context, e jobevents.Event) error {
	_, err := r.pub.Publish(ctx, e)
	return err
}

// finish waits for total verified POSTs and reports the rate from start to the last of them.
func (r *rig) finish(ctx context.Context, label string, start time.Time, total int, wait time.Duration, progressOut io.Writer) (endToEnd, error) {
	timeout := time.After(wait)
	for i := range total {
		select {
		case <-r.rcv.got:
			progress(progressOut, label, i+1, total)
		case <-timeout:
			return endToEnd{}, fmt.Errorf("only %d of %d deliveries verified in time (%d rejected)", i, total, r.rcv.rejected())
		case <-ctx.Done():
			return endToEnd{}, ctx.Err()
		}
	}
	r.rcv.mu.Lock()
	defer r.rcv.mu.Unlock()
	if r.rcv.bad > 0 {
		return endToEnd{}, fmt.Errorf("%d requests failed verification", r.rcv.bad)
	}
	return endToEnd{
		deliveries: total, duplicates: r.rcv.dups,
		perSecond: float64(total) / r.rcv.last.Sub(start).Seconds(), latencies: r.rcv.latencies,
	}, nil
}

func (r *rig) close() {
	r.pub.Stop()
	r.client.Close()
	r.srv.Close()
}

// receiver verifies every POST with its webhook's secret (path /w/<i>) and measures latency from
// the event's timestamp.
type receiver struct {
	verifiers []*standardwebhooks.Webhook
	got       chan struct{}

	mu        sync.Mutex
	seen      map[string]bool
	latencies []float64
	last      time.Time
	dups, bad int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	now := time.Now()
	i, err := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/w/"))
	if err != nil || i < 0 || i >= len(r.verifiers) || r.verifiers[i].Verify(body, req.Header) != nil {
		r.mu.Lock()
		r.bad++
		r.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var payload struct {
		Timestamp time.Time `json:"timestamp"`
	}
	_ = json.Unmarshal(body, &payload)
	key := req.Header.Get("webhook-id") + req.URL.Path
	r.mu.Lock()
	dup := r.seen[key]
	r.seen[key] = true
	if dup {
		r.dups++
	} else {
		r.latencies = append(r.latencies, float64(now.Sub(payload.Timestamp).Microseconds())/1000)
		r.last = now
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
	if !dup {
		r.got <- struct{}{}
	}
}

func (r *receiver) rejected() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bad
}

// addWebhooks registers m webhooks of the project, base/w/<i>, with fresh secrets sealed as the
// API does.
func addWebhooks(ctx context.Context, project, base string, m int) ([]*standardwebhooks.Webhook, error) {
	st, err := store.Open(ctx, devstack.GoogleProject, "(default)", time.Hour)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	sm, err := secretmanager.NewClient(ctx, instance.SecretManagerOptions()...)
	if err != nil {
		return nil, err
	}
	defer sm.Close()
	kr, err := secrets.NewKeyring(sm, devstack.GoogleProject, config.Defaults().KEKSecret, secrets.KeyringOptions{})
	if err != nil {
		return nil, err
	}
	var out []*standardwebhooks.Webhook
	for i := range m {
		sec, err := secrets.Generate()
		if err != nil {
			return nil, err
		}
		w := webhook.Webhook{
			Project: project, ID: "bench-" + strconv.Itoa(i), URL: base + "/w/" + strconv.Itoa(i),
			SubscribedEvents: []string{"batch.succeeded"}, State: webhook.Enabled,
			CreateTime: time.Now(), UpdateTime: time.Now(),
		}
		sealed, err := kr.SealSecret(ctx, sec, w.Name())
		if err != nil {
			return nil, err
		}
		w.Secrets = []webhook.Secret{{Sealed: sealed, Truncated: sec.Truncated(), CreateTime: time.Now()}}
		if err := st.PutWebhook(ctx, w); err != nil {
			return nil, err
		}
		v, err := standardwebhooks.NewWebhook(sec.Reveal())
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
