package bench

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/devtools/devstack"
	"github.com/jobhooks/jobhooks/shared/instance"
	"github.com/jobhooks/jobhooks/shared/jobevents"
	"github.com/jobhooks/jobhooks/shared/secrets"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/topics"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// The load scenarios (shared/devtools/README.md, Targets the benchmarks report; shared/delivery/README.md,
// Load) measure what one receiver gets and what it costs the others, on fresh local stacks that
// redeliver nacked messages as the local stack does:
//   - throttle: a burst to an endpoint with rate_limit 50 and max_in_flight 5, beside an
//     unthrottled endpoint subscribed to other events, measured alone first;
//   - dead: an endpoint that answers 503 to everything with 1,000 pending deliveries over a
//     compressed retry window, with the circuit breaker and without it ("today", before the
//     breaker), and a flaky endpoint's retry latency beside it and alone.
// The receivers count requests; they do not verify signatures (the burst benchmark does).

// LoadResult is what a load scenario measured.
type LoadResult struct {
	Scenario string          `json:"scenario"`
	Throttle *ThrottleResult `json:"throttle,omitempty"`
	Dead     *DeadResult     `json:"dead,omitempty"`
	Burst    *BurstResult    `json:"burst,omitempty"`
}

// ThrottleResult is the throttle scenario's numbers.
type ThrottleResult struct {
	Events, Delivered, MaxInFlight, RateLimit int
	MostInFlight                              int     `json:"most_in_flight"`
	MostInOneSecond                           int     `json:"most_in_one_second"`
	SustainedPerSecond                        float64 `json:"sustained_per_second"`
	OtherAlonePerSecond                       float64 `json:"other_alone_per_second"`
	OtherBesidePerSecond                      float64 `json:"other_beside_per_second"`
}

// DeadResult is the dead scenario's numbers.
type DeadResult struct {
	Pending                 int           `json:"pending"`
	Window                  time.Duration `json:"window_ns"`
	PostsWithBreaker        int           `json:"posts_with_breaker"`
	PostsWithoutBreaker     int           `json:"posts_without_breaker"`
	FlakyP50ms, FlakyP99ms  float64
	FlakyAloneP50ms         float64 `json:"flaky_alone_p50_ms"`
	FlakyAloneP99ms         float64 `json:"flaky_alone_p99_ms"`
	FlakyTodayP50ms         float64 `json:"flaky_today_p50_ms"`
	FlakyTodayP99ms         float64 `json:"flaky_today_p99_ms"`
	FlakyDelivered, Flakies int
	FlakyTodayDelivered     int `json:"flaky_today_delivered"`
	FlakyAloneDelivered     int `json:"flaky_alone_delivered"`
	// DeadFirstAttempts are the POSTs every pending delivery's first attempt makes, with or
	// without a breaker: the retries are the rest.
	DeadFirstAttempts int `json:"dead_first_attempts"`
}

func runLoad(ctx context.Context, opts Options) (Result, error) {
	res := Result{Load: &LoadResult{Scenario: opts.Load}}
	var err error
	switch opts.Load {
	case "throttle":
		res.Load.Throttle, err = runThrottle(ctx, opts)
	case "dead":
		res.Load.Dead, err = runDead(ctx, opts)
	case "burst":
		res.Load.Burst, err = runBurstLoad(ctx, opts)
	default:
		err = fmt.Errorf("unknown load scenario %q (throttle, dead or burst)", opts.Load)
	}
	return res, err
}

// endpoint counts what one path of the load receiver got.
type endpoint struct {
	mu        sync.Mutex
	now, most int
	posts     int
	starts    []time.Time
	first     map[string]time.Time // webhook-id → its first POST
	done      map[string]time.Time // webhook-id → its first 2xx
	answer    func(e *endpoint, id string) (status int, hold time.Duration)
}

func (e *endpoint) serve(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("webhook-id")
	now := time.Now()
	e.mu.Lock()
	e.now++
	e.most = max(e.most, e.now)
	e.posts++
	e.starts = append(e.starts, now)
	if _, ok := e.first[id]; !ok {
		e.first[id] = now
	}
	status, hold := e.answer(e, id)
	e.mu.Unlock()
	time.Sleep(hold)
	e.mu.Lock()
	e.now--
	if status < 300 {
		if _, ok := e.done[id]; !ok {
			e.done[id] = time.Now()
		}
	}
	e.mu.Unlock()
	w.WriteHeader(status)
}

func (e *endpoint) delivered() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.done)
}

func (e *endpoint) postsSoFar() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.posts
}

// mostInOneSecond is the most requests begun within any one second.
func (e *endpoint) mostInOneSecond() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := slices.Clone(e.starts)
	slices.SortFunc(s, func(a, b time.Time) int { return a.Compare(b) })
	most, j := 0, 0
	for i := range s {
		for s[i].Sub(s[j]) >= time.Second {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}

// span is from the first POST to the last first 2xx.
func (e *endpoint) span() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	var first, last time.Time
	for _, t := range e.first {
		if first.IsZero() || t.Before(first) {
			first = t
		}
	}
	for _, t := range e.done {
		if t.After(last) {
			last = t
		}
	}
	return last.Sub(first)
}

// retryLatencies are, per delivery, the time from its first POST to its first 2xx, in ms; a
// delivery not delivered by now counts the time until now, a lower bound, so that the slowest
// are not left out.
func (e *endpoint) retryLatencies() []float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []float64
	for id, first := range e.first {
		d, ok := e.done[id]
		if !ok {
			d = time.Now()
		}
		out = append(out, ms(d.Sub(first)))
	}
	return out
}

// loadRig is a receiver with named endpoints, webhooks pointing at them, and a publisher.
type loadRig struct {
	project string
	eps     map[string]*endpoint
	srv     *http.Server
	base    string
	client  *pubsub.Client
	pub     *jobevents.Publisher
}

func openLoadRig(ctx context.Context, project string, answers map[string]func(e *endpoint, id string) (int, time.Duration)) (*loadRig, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &loadRig{project: project, eps: map[string]*endpoint{}, base: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	for name, a := range answers {
		e := &endpoint{first: map[string]time.Time{}, done: map[string]time.Time{}, answer: a}
		r.eps[name] = e
		mux.HandleFunc("/"+name, e.serve)
	}
	r.srv = &http.Server{Handler: mux}
	go r.srv.Serve(ln)
	if r.client, err = pubsub.NewClient(ctx, devstack.GoogleProject); err != nil {
		r.srv.Close()
		return nil, err
	}
	r.pub = jobevents.NewPublisher(r.client, topics.JobEvents)
	return r, nil
}

func (r *loadRig) close() {
	r.pub.Stop()
	r.client.Close()
	r.srv.Close()
}

// hook is a webhook of the rig's project to one of its endpoints.
func (r *loadRig) hook(name, eventType string, maxInFlight, rateLimit int) webhook.Webhook {
	return webhook.Webhook{Project: r.project, ID: name, URL: r.base + "/" + name, SubscribedEvents: []string{eventType},
		State: webhook.Enabled, MaxInFlight: maxInFlight, RateLimit: rateLimit}
}

// publish publishes n events of type typ with ids prefix-0..n-1, all at once.
func (r *loadRig) publish(ctx context.Context, prefix, typ string, n int) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.pub.Publish(ctx, jobevents.Event{ID: prefix + "-" + strconv.Itoa(i), Project: r.project, Type: typ,
				Timestamp: time.Now(), Data: map[string]any{"id": "batches/" + strconv.Itoa(i)}})
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// waitFor waits until e has delivered n, or until d passes.
func waitFor(ctx context.Context, e *endpoint, n int, d time.Duration) {
	deadline := time.Now().Add(d)
	for e.delivered() < n && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
	}
}

// putWebhooks stores webhooks with fresh sealed secrets, as the API does.
func putWebhooks(ctx context.Context, hooks ...webhook.Webhook) error {
	st, err := store.Open(ctx, devstack.GoogleProject, "(default)", time.Hour)
	if err != nil {
		return err
	}
	defer st.Close()
	sm, err := secretmanager.NewClient(ctx, instance.SecretManagerOptions()...)
	if err != nil {
		return err
	}
	defer sm.Close()
	kr, err := secrets.NewKeyring(sm, devstack.GoogleProject, config.Defaults().KEKSecret, secrets.KeyringOptions{})
	if err != nil {
		return err
	}
	for _, w := range hooks {
		sec, err := secrets.Generate()
		if err != nil {
			return err
		}
		w.CreateTime, w.UpdateTime = time.Now(), time.Now()
		sealed, err := kr.SealSecret(ctx, sec, w.Name())
		if err != nil {
			return err
		}
		w.Secrets = []webhook.Secret{{Sealed: sealed, Truncated: sec.Truncated(), CreateTime: time.Now()}}
		if err := st.PutWebhook(ctx, w); err != nil {
			return err
		}
	}
	return nil
}

// withStack runs fn on a fresh local stack started with env set, which redelivers nacked
// messages every 10 s as the local stack does.
func withStack(ctx context.Context, opts Options, env map[string]string, fn func() error) error {
	for k, v := range env {
		os.Setenv(k, v)
		defer os.Unsetenv(k)
	}
	opts.redeliver = devstack.RedeliverEvery
	stop, err := startStack(ctx, opts)
	if err != nil {
		return err
	}
	defer stop()
	return fn()
}

func ok(status int) func(*endpoint, string) (int, time.Duration) {
	return func(*endpoint, string) (int, time.Duration) { return status, 0 }
}

func runThrottle(ctx context.Context, opts Options) (*ThrottleResult, error) {
	const events, others, maxInFlight, rate = 2000, 1000, 5, 50
	res := &ThrottleResult{Events: events, MaxInFlight: maxInFlight, RateLimit: rate}
	err := withStack(ctx, opts, nil, func() error {
		r, err := openLoadRig(ctx, "loadthrottle", map[string]func(*endpoint, string) (int, time.Duration){
			// A small receiver: 20 ms per request.
			"small": func(*endpoint, string) (int, time.Duration) { return http.StatusOK, 20 * time.Millisecond },
			"other": ok(http.StatusNoContent),
		})
		if err != nil {
			return err
		}
		defer r.close()
		if err := putWebhooks(ctx, r.hook("small", "batch.succeeded", maxInFlight, rate), r.hook("other", "batch.failed", 0, 0)); err != nil {
			return err
		}
		other := r.eps["other"]
		start := time.Now()
		if err := r.publish(ctx, "alone", "batch.failed", others); err != nil {
			return err
		}
		waitFor(ctx, other, others, 5*time.Minute)
		res.OtherAlonePerSecond = float64(other.delivered()) / time.Since(start).Seconds()
		fmt.Fprintf(opts.Progress, "unthrottled alone: %d in %v\n", other.delivered(), time.Since(start).Round(time.Millisecond))

		start = time.Now()
		done := make(chan error, 2)
		go func() { done <- r.publish(ctx, "burst", "batch.succeeded", events) }()
		go func() { done <- r.publish(ctx, "beside", "batch.failed", others) }()
		for range 2 {
			if err := <-done; err != nil {
				return err
			}
		}
		waitFor(ctx, other, 2*others, 5*time.Minute)
		res.OtherBesidePerSecond = float64(other.delivered()-others) / time.Since(start).Seconds()
		small := r.eps["small"]
		waitFor(ctx, small, events, 10*time.Minute)
		res.Delivered = small.delivered()
		res.SustainedPerSecond = float64(res.Delivered) / small.span().Seconds()
		res.MostInFlight, res.MostInOneSecond = small.most, small.mostInOneSecond()
		return nil
	})
	return res, err
}

func runDead(ctx context.Context, opts Options) (*DeadResult, error) {
	const pending, flakies = 1000, 30
	// The window is compressed from 24 h, and the breaker's time with it, from 5 min to 1 min:
	// still well above a flaky endpoint's retry (about 10 s here), so only the dead one opens.
	window, breaker := cmp.Or(opts.Window, 4*time.Minute), "60s"
	res := &DeadResult{Pending: pending, Window: window, Flakies: flakies, DeadFirstAttempts: pending}
	// A flaky endpoint answers 503 to a delivery's first POST and 200 to its retry.
	flaky := func(e *endpoint, id string) (int, time.Duration) {
		if e.first[id].Equal(e.starts[len(e.starts)-1]) {
			return http.StatusServiceUnavailable, 0
		}
		return http.StatusOK, 0
	}
	phase := func(breaker string, withDead bool) (posts int, latencies []float64, delivered int, err error) {
		env := map[string]string{config.EnvRetryWindow: window.String(), config.EnvBreakerAfter: breaker}
		err = withStack(ctx, opts, env, func() error {
			r, err := openLoadRig(ctx, "loaddead", map[string]func(*endpoint, string) (int, time.Duration){
				"dead": ok(http.StatusServiceUnavailable), "flaky": flaky,
			})
			if err != nil {
				return err
			}
			defer r.close()
			if err := putWebhooks(ctx, r.hook("dead", "batch.failed", 0, 0), r.hook("flaky", "batch.succeeded", 0, 0)); err != nil {
				return err
			}
			start := time.Now()
			if withDead {
				if err := r.publish(ctx, "dead", "batch.failed", pending); err != nil {
					return err
				}
			}
			// Flaky deliveries spread evenly across the first 60 % of the window (one every 5 s in
			// the default 4 minutes): each has time for its retry.
			for i := range flakies {
				if err := r.publish(ctx, "flaky-"+strconv.Itoa(i), "batch.succeeded", 1); err != nil {
					return err
				}
				time.Sleep(window * 6 / 10 / flakies)
			}
			waitFor(ctx, r.eps["flaky"], flakies, time.Until(start.Add(window+30*time.Second)))
			time.Sleep(time.Until(start.Add(window + 30*time.Second)))
			posts, latencies = r.eps["dead"].postsSoFar(), r.eps["flaky"].retryLatencies()
			delivered = r.eps["flaky"].delivered()
			fmt.Fprintf(opts.Progress, "breaker after %s, dead endpoint %v: %d POSTs to it, %d of %d flaky delivered\n", breaker, withDead, posts, delivered, flakies)
			return nil
		})
		return posts, latencies, delivered, err
	}
	posts, lat, n, err := phase(breaker, true)
	if err != nil {
		return res, err
	}
	res.PostsWithBreaker, res.FlakyP50ms, res.FlakyP99ms, res.FlakyDelivered = posts, percentile(lat, 50), percentile(lat, 99), n
	if posts, lat, n, err = phase("1000h", true); err != nil {
		return res, err
	}
	res.PostsWithoutBreaker, res.FlakyTodayP50ms, res.FlakyTodayP99ms, res.FlakyTodayDelivered = posts, percentile(lat, 50), percentile(lat, 99), n
	if _, lat, n, err = phase(breaker, false); err != nil {
		return res, err
	}
	res.FlakyAloneP50ms, res.FlakyAloneP99ms, res.FlakyAloneDelivered = percentile(lat, 50), percentile(lat, 99), n
	return res, nil
}

func (l LoadResult) table() string {
	switch {
	case l.Burst != nil:
		return l.Burst.table()
	case l.Throttle != nil:
		t := l.Throttle
		return fmt.Sprintf(`throttled endpoint         %d events, rate_limit %d, max_in_flight %d: %d delivered (lost %d)
  most in flight           %d
  most begun in 1 s        %d
  sustained                %.1f deliveries/s
unthrottled endpoint       %.0f deliveries/s alone, %.0f beside the burst (%.0f %%)
`, t.Events, t.RateLimit, t.MaxInFlight, t.Delivered, t.Events-t.Delivered, t.MostInFlight, t.MostInOneSecond, t.SustainedPerSecond,
			t.OtherAlonePerSecond, t.OtherBesidePerSecond, 100*t.OtherBesidePerSecond/max(t.OtherAlonePerSecond, 1e-9))
	case l.Dead != nil:
		d := l.Dead
		retries := func(posts int) float64 { return float64(max(posts-d.DeadFirstAttempts, 1)) }
		return fmt.Sprintf(`dead endpoint              %d pending deliveries, %v window
  POSTs it got             %d with the breaker, %d without (%.1f× fewer)
  retries among them       %d with the breaker, %d without (%.1f× fewer; the first attempts are %d either way)
flaky endpoint (503, then 200), first POST → first 2xx, %d deliveries (one not delivered counts until the end)
  beside the dead one      p50 %.0f ms · p99 %.0f ms (%d delivered)
  beside it, no breaker    p50 %.0f ms · p99 %.0f ms (%d delivered)
  alone                    p50 %.0f ms · p99 %.0f ms (%d delivered)
`, d.Pending, d.Window, d.PostsWithBreaker, d.PostsWithoutBreaker, float64(d.PostsWithoutBreaker)/max(float64(d.PostsWithBreaker), 1),
			d.PostsWithBreaker-d.DeadFirstAttempts, d.PostsWithoutBreaker-d.DeadFirstAttempts,
			retries(d.PostsWithoutBreaker)/retries(d.PostsWithBreaker), d.DeadFirstAttempts,
			d.Flakies, d.FlakyP50ms, d.FlakyP99ms, d.FlakyDelivered, d.FlakyTodayP50ms, d.FlakyTodayP99ms, d.FlakyTodayDelivered,
			d.FlakyAloneP50ms, d.FlakyAloneP99ms, d.FlakyAloneDelivered)
	}
	return ""
}
