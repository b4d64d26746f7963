// Package storm is the fault storm of shared/devtools/README.md, The fault storm: thousands of job
// events to dozens of endpoints that answer 5xx, time out, reset the connection, answer 429 with
// Retry-After, go away and come back, answer 410 or 400; one Deliver process killed with SIGKILL
// mid-run and restarted, and Dispatch killed and restarted twice while events are published
// (crash.go); Dispatch's and Deliver's store commits, transactions, reads and publishes failing a
// few percent of the time, half of them after the call succeeded (shared/devtools/faults); a retry
// window and a claim lease compressed so that the run ends in minutes.
//
// Some endpoints answer with hostile bodies — binary, Latin-1, cut mid-character at 4 KiB — which
// must be recorded like any other (bodies.go). A few webhooks are deleted and re-created at a new
// URL, or disabled and enabled again, mid-storm through the management API: the deliveries queued
// before must never reach the new incarnation (incarnation.go). With Edits, a few more have
// their URL or their subscribed events edited while their events are in flight (edits.go).
//
// Afterwards every (event, endpoint) pair must be received at least once with a valid
// signature and recorded delivered, or recorded final (failed, exhausted, cancelled) with a
// reason that matches what its endpoint did; a 410 endpoint's pairs dispatched after its webhook
// was disabled are not fanned out at all, and the event record shows it, as are a changed
// webhook's while it was deleted or disabled. No record may be left pending. Duplicates are
// counted, not forbidden, each put down to a crash, an injected fault, or neither (dupes.go).
//
// It starts a fresh local stack of its own under Options.Dir, as scripts/bench does, with the
// retry window, attempt timeout and cache TTL set in the environment the stack passes to the
// functions.
// Webhooks are created through the management API. Nacked messages are pushed again by the
// stack's stand-in for the redelivery the emulator stops doing (topics.Redeliver), every Kick.
package storm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/devtools/devstack"
	"github.com/jobhooks/jobhooks/shared/devtools/faults"
	"github.com/jobhooks/jobhooks/shared/store"
)

// Options configure a storm. Zero values take the defaults of scripts/storm.
type Options struct {
	Events    int
	Endpoints int // at most 100, the API's limit per project
	Seed      uint64
	// Window is the retry window (JOBHOOKS_RETRY_WINDOW); AttemptTimeout bounds one POST
	// (JOBHOOKS_ATTEMPT_TIMEOUT).
	Window         time.Duration
	AttemptTimeout time.Duration
	// CacheTTL is how long an instance caches a webhook (JOBHOOKS_CACHE_TTL), so how soon a
	// change through the API is seen everywhere. Compressed like the window (default 1 s): a
	// webhook deleted or disabled mid-storm stays so for the TTL and 1–2.5 s more, and that
	// should be less than a retry gap (Kick), so that deliveries pending before the change are
	// next tried after it.
	CacheTTL time.Duration
	// Rate is how many events are published per second at most; MaxBacklog holds publishing
	// back while that many deliveries that can succeed are not received yet: the emulator slows
	// down as its backlog grows, and a storm is about faults, not about the emulator's queue.
	Rate       int
	MaxBacklog int
	// Kick is how often the stack pushes nacked messages again (devstack.Options.Redeliver,
	// topics.Redeliver); 0 leaves redelivery to the emulator alone, which then stalls.
	Kick time.Duration
	// KillAt is the share of pairs received at which Deliver is killed (SIGKILL); Down is how
	// long it stays dead. KillAt < 0 kills nothing.
	KillAt float64
	Down   time.Duration
	// DispatchKills is how many times Dispatch is killed (SIGKILL) and restarted while the
	// events are published, spread evenly over them; negative kills none.
	DispatchKills int
	// StoreFaults, PublishFaults and ReadFaults are the shares of Dispatch's and Deliver's store
	// writes (commits, transactions), publishes and reads that fail (shared/devtools/faults);
	// negative: none. Their seed is Seed.
	StoreFaults, PublishFaults, ReadFaults float64
	// ClaimLease is how long a Dispatch claim holds (JOBHOOKS_CLAIM_LEASE): how soon a killed
	// Dispatch's events are taken over. The storm sets the function timeout to the least the
	// attempt timeout allows; the lease must be above it.
	ClaimLease time.Duration
	// Edits also edits webhooks' URLs and subscribed events mid-storm (edits.go).
	Edits bool
	// Settle bounds the wait, after the last event is published, for every pair to be settled.
	Settle time.Duration
	// Dir is the stack's state directory (wiped first).
	Dir string
	// Progress receives the stack's start-up and a progress line every few seconds.
	Progress io.Writer
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Events, 2000)
	def(&o.Endpoints, 30)
	def(&o.Rate, 100)
	def(&o.MaxBacklog, 1500)
	def(&o.DispatchKills, 2)
	for _, f := range []struct {
		v *float64
		d float64
	}{{&o.StoreFaults, 0.03}, {&o.PublishFaults, 0.03}, {&o.ReadFaults, 0.01}} {
		if *f.v == 0 {
			*f.v = f.d
		}
		*f.v = max(*f.v, 0)
	}
	for _, d := range []struct {
		v *time.Duration
		d time.Duration
	}{{&o.Window, 90 * time.Second}, {&o.AttemptTimeout, 500 * time.Millisecond}, {&o.Down, 3 * time.Second},
		{&o.CacheTTL, time.Second}} {
		if *d.v <= 0 {
			*d.v = d.d
		}
	}
	if o.ClaimLease <= 0 {
		o.ClaimLease = o.functionTimeout() + 4*time.Second
	}
	if o.Settle <= 0 {
		o.Settle = o.Window + 4*time.Minute
	}
	if o.KillAt == 0 {
		o.KillAt = 0.3
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}

// functionTimeout is the least function timeout the attempt timeout allows (config's cross-check).
func (o Options) functionTimeout() time.Duration {
	return o.AttemptTimeout + config.AttemptMargin + time.Second
}

func (o Options) faults() faults.Spec {
	return faults.Spec{Functions: []string{"Dispatch", "Deliver"}, Store: o.StoreFaults, Publish: o.PublishFaults, Reads: o.ReadFaults, Seed: o.Seed}
}

// Run starts a fresh stack, runs the storm, checks every pair and stops the stack.
func Run(ctx context.Context, opts Options) (Result, error) {
	opts = opts.withDefaults()
	began := time.Now()
	p := newPlan(opts.Events, opts.Endpoints, opts.Seed, opts.Edits)
	res := Result{
		Events: opts.Events, Endpoints: opts.Endpoints, Pairs: p.pairs(), Final: map[string]int{}, ByProfile: map[Profile]*ProfileRow{},
		Settings: fmt.Sprintf("%d events → %d endpoints (seed %d), %d/s; retry window %s, attempt timeout %s, cache TTL %s, claim lease %s, "+
			"redelivery kick every %s; Dispatch killed %d times; faults %s; webhook edits %v",
			opts.Events, opts.Endpoints, opts.Seed, opts.Rate, opts.Window, opts.AttemptTimeout, opts.CacheTTL, opts.ClaimLease,
			kickText(opts.Kick), max(opts.DispatchKills, 0), opts.faults(), opts.Edits),
	}
	for _, ep := range p.endpoints {
		if res.ByProfile[ep.Kind()] == nil {
			res.ByProfile[ep.Kind()] = &ProfileRow{}
		}
		res.ByProfile[ep.Kind()].Endpoints++
	}
	if opts.Endpoints > 100 {
		return res, errors.New("storm: at most 100 endpoints (the API's limit of webhooks per project)")
	}

	// The stack hands this process's environment to the functions it starts.
	os.Setenv(config.EnvRetryWindow, opts.Window.String())
	os.Setenv(config.EnvAttemptTimeout, opts.AttemptTimeout.String())
	os.Setenv(config.EnvCacheTTL, opts.CacheTTL.String())
	os.Setenv(config.EnvFunctionTimeout, opts.functionTimeout().String())
	os.Setenv(config.EnvClaimLease, opts.ClaimLease.String())
	os.Setenv(faults.EnvFaults, opts.faults().String())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	env, stopStack, err := startStack(ctx, opts)
	if err != nil {
		return res, err
	}
	defer stopStack()

	ps, err := pubsub.NewClient(ctx, devstack.GoogleProject)
	if err != nil {
		return res, err
	}
	defer ps.Close()
	st, err := store.Open(ctx, devstack.GoogleProject, "(default)", time.Hour)
	if err != nil {
		return res, err
	}
	defer st.Close()

	received, tr := new(atomic.Int64), newTrap()
	eps, stopEndpoints, err := startEndpoints(p, opts, received, tr)
	if err != nil {
		return res, err
	}
	defer stopEndpoints()
	api := newAPI(env[devstack.EnvAPIURL], env[devstack.EnvAPIKey], devstack.Project)
	if err := api.createWebhooks(ctx, eps); err != nil {
		return res, err
	}
	deliver, err := findFunction(ctx, opts.Dir, "Deliver", "webhook-deliveries-deliver", ps)
	if err != nil {
		return res, err
	}
	defer deliver.stop()
	dispatch, err := findFunction(ctx, opts.Dir, "Dispatch", "job-events-dispatch", ps)
	if err != nil {
		return res, err
	}
	defer dispatch.stop()

	r := &run{opts: opts, plan: p, eps: eps, received: received, trap: tr, began: time.Now(), progress: opts.Progress,
		failed: make(chan error, len(eps))}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	publishing := time.Duration(opts.Events) * time.Second / time.Duration(opts.Rate)
	var changing sync.WaitGroup
	for _, e := range eps {
		go e.flap(runCtx, publishing+20*time.Second)
		if e.change != nil {
			changing.Go(func() {
				if err := r.changeWebhook(runCtx, api, e, publishing); err != nil {
					r.failed <- err
				}
			})
		}
	}
	published := make(chan error, 1)
	go func() { published <- r.publish(runCtx, ps) }()

	res.Settled, err = r.watch(ctx, published, map[string]*functionProcess{"Deliver": deliver, "Dispatch": dispatch}, st)
	stopRun()
	changing.Wait()
	r.note("storm ended; checking every pair")
	res.Timeline = r.timeline
	if err != nil {
		return res, err
	}
	for _, e := range eps {
		e.mu.Lock()
		for _, o := range e.outages {
			if !o.to.IsZero() {
				res.Timeline = append(res.Timeline, fmt.Sprintf("%6s  endpoint %s went away, back at %s", since(r.began, o.from), e.plan.ID(), since(r.began, o.to)))
			}
		}
		e.mu.Unlock()
	}
	sort.Strings(res.Timeline) // each line starts with its right-aligned time
	if err := r.check(ctx, st, &res); err != nil {
		return res, err
	}
	res.Duration = time.Since(began)
	return res, nil
}

// redeliverEvery turns Kick into devstack.Options.Redeliver, where zero is the default.
func redeliverEvery(kick time.Duration) time.Duration {
	if kick <= 0 {
		return -1
	}
	return kick
}

func kickText(d time.Duration) string {
	if d <= 0 {
		return "never (the emulator's own redelivery)"
	}
	return d.String()
}

// startStack runs a fresh local stack until ctx ends; its output reaches Progress until it is ready.
func startStack(ctx context.Context, opts Options) (map[string]string, func(), error) {
	ready := make(chan map[string]string, 1)
	stackErr := make(chan error, 1)
	out := &untilReady{w: opts.Progress}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		stackErr <- devstack.Run(ctx, devstack.Options{
			Dir: opts.Dir, Fresh: true, Out: out, Redeliver: redeliverEvery(opts.Kick),
			Ready: func(env map[string]string) { out.mute(); ready <- env },
		})
	}()
	select {
	case env := <-ready:
		return env, func() { cancel(); <-stackErr }, nil
	case err := <-stackErr:
		cancel()
		return nil, nil, fmt.Errorf("local stack: %w", err)
	}
}

// untilReady passes the stack's output on until the stack is ready, then drops its live summary.
type untilReady struct {
	mu    sync.Mutex
	w     io.Writer
	muted bool
}

func (u *untilReady) Write(p []byte) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.muted {
		u.w.Write(p)
	}
	return len(p), nil
}

func (u *untilReady) mute() { u.mu.Lock(); u.muted = true; u.mu.Unlock() }
