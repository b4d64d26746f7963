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
	"github.com/jobhooks/jobhooks/shared/devstack"
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
}

// measureEndToEnd registers m webhooks of project pointing at a verifying receiver, publishes n
// events in a burst and waits for n×m verified POSTs.
func measureEndToEnd(ctx context.Context, project string, n, m int, progressOut io.Writer) (endToEnd, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return endToEnd{}, err
	}
	// The verifiers are set before the first event is published, hence before any request.
	rcv := &receiver{seen: map[string]bool{}, got: make(chan struct{}, n*m*2)}
	if rcv.verifiers, err = addWebhooks(ctx, project, "http://"+ln.Addr().String(), m); err != nil {
		return endToEnd{}, err
	}
	srv := &http.Server{Handler: rcv}
	go srv.Serve(ln)
	defer srv.Close()

	client, err := pubsub.NewClient(ctx, devstack.GoogleProject)
	if err != nil {
		return endToEnd{}, err
	}
	defer client.Close()
	pub := jobevents.NewPublisher(client, topics.JobEvents)
	defer pub.Stop()

	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := pub.Publish(ctx, jobevents.Event{
				ID: "bench-" + strconv.Itoa(i), Project: project, Type: "batch.succeeded", Timestamp: time.Now(),
				Data: map[string]any{"id": "batches/" + strconv.Itoa(i), "output_file_uri": "gs://bench/out.jsonl"},
			})
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return endToEnd{}, err
	}
	total := n * m
	timeout := time.After(time.Duration(total)*50*time.Millisecond + 2*time.Minute)
	for i := range total {
		select {
		case <-rcv.got:
			progress(progressOut, project+" end to end", i+1, total)
		case <-timeout:
			return endToEnd{}, fmt.Errorf("only %d of %d deliveries verified in time (%d rejected)", i, total, rcv.rejected())
		case <-ctx.Done():
			return endToEnd{}, ctx.Err()
		}
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.bad > 0 {
		return endToEnd{}, fmt.Errorf("%d requests failed verification", rcv.bad)
	}
	return endToEnd{
		deliveries: total, duplicates: rcv.dups,
		perSecond: float64(total) / rcv.last.Sub(start).Seconds(), latencies: rcv.latencies,
	}, nil
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
