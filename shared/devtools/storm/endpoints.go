package storm

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// How an endpoint answered one request.
type answerKind int

const (
	answeredOK      answerKind = iota // 200: the delivery is received
	answeredStatus                    // a non-2xx status
	answeredReset                     // the connection was reset, no status
	answeredTimeout                   // no answer until the sender gave up
)

// answer is one request an endpoint got and what it did.
type answer struct {
	kind     answerKind
	status   int
	verified bool
	at       time.Time
}

// endpoint is one customer endpoint of the storm: its own listener on a fixed port, so that it
// can go away (connection refused) and come back at the same URL.
type endpoint struct {
	plan endpointPlan
	addr string
	// hold is how long a timeout answer keeps the request: well past the attempt timeout.
	hold time.Duration

	// received counts, over every endpoint, the pairs with a first accepted POST.
	received *atomic.Int64
	trap     *trap
	// published counts the events published so far that this endpoint's webhook subscribes to.
	published atomic.Int64

	mu       sync.Mutex
	rng      *rand.Rand
	verifier *standardwebhooks.Webhook
	srv      *http.Server
	answers  map[string][]answer // by webhook-id
	badSigs  int
	first410 time.Time
	// inFlight and mostInFlight count the requests the endpoint holds at once (Capped).
	inFlight, mostInFlight int
	outages                []outage

	// change is what happens to the webhook mid-storm, nil if nothing (incarnation.go); both
	// incarnations of a re-created webhook share it.
	change *change
}

type outage struct{ from, to time.Time }

func newEndpoint(p endpointPlan, seed uint64, attemptTimeout time.Duration, received *atomic.Int64, tr *trap) (*endpoint, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e := &endpoint{
		plan: p, addr: ln.Addr().String(), hold: 3 * attemptTimeout, received: received, trap: tr,
		rng: rand.New(rand.NewPCG(seed, uint64(p.Index))), answers: map[string][]answer{},
	}
	e.serve(ln)
	return e, nil
}

// startEndpoints listens for every endpoint of the plan, and for the new incarnation of each
// webhook that is re-created mid-storm, or the new URL of one whose URL is edited: a port of its
// own, answers drawn from a seed of its own.
func startEndpoints(p plan, opts Options, received *atomic.Int64, tr *trap) ([]*endpoint, func(), error) {
	var all []*endpoint
	stop := func() {
		for _, e := range all {
			e.stop()
		}
	}
	eps := make([]*endpoint, len(p.endpoints))
	for i, ep := range p.endpoints {
		e, err := newEndpoint(ep, opts.Seed, opts.AttemptTimeout, received, tr)
		if err != nil {
			stop()
			return nil, nil, err
		}
		eps[i], all = e, append(all, e)
		if ep.Change == "" {
			continue
		}
		e.change = &change{kind: ep.Change}
		if ep.Change == Recreated || ep.Change == URLEdited {
			next, err := newEndpoint(ep, opts.Seed^0x9e3779b97f4a7c15, opts.AttemptTimeout, received, tr)
			if err != nil {
				stop()
				return nil, nil, err
			}
			next.change, e.change.next, all = e.change, next, append(all, next)
		}
	}
	return eps, stop, nil
}

// URL is where the webhook points.
func (e *endpoint) URL() string { return "http://" + e.addr + "/hook" }

func (e *endpoint) serve(ln net.Listener) {
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	e.mu.Lock()
	e.srv = srv
	e.mu.Unlock()
	go srv.Serve(ln)
}

// goAway closes the listener and every open connection: the endpoint refuses connections.
func (e *endpoint) goAway() {
	e.mu.Lock()
	srv := e.srv
	e.srv = nil
	e.outages = append(e.outages, outage{from: time.Now()})
	e.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// comeBack listens on the same address again.
func (e *endpoint) comeBack() error {
	ln, err := net.Listen("tcp", e.addr)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.outages[len(e.outages)-1].to = time.Now()
	e.mu.Unlock()
	e.serve(ln)
	return nil
}

func (e *endpoint) stop() {
	e.mu.Lock()
	srv := e.srv
	e.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	id := r.Header.Get("webhook-id")
	e.mu.Lock()
	a, retryAfter := e.decide(id)
	var reply hostileBody
	if e.plan.Profile == Garbled || e.plan.Profile == GarbledGone {
		reply = hostile(e.rng)
	}
	a.at = time.Now()
	a.verified = err == nil && e.verifier != nil && e.verifier.Verify(body, r.Header) == nil
	if !a.verified {
		// A request that does not verify is refused like a careful receiver would: it is
		// not a delivery, and the storm fails on it.
		e.badSigs++
		a = answer{kind: answeredStatus, status: http.StatusUnauthorized, at: a.at}
	}
	if a.kind == answeredOK && !slices.ContainsFunc(e.answers[id], func(b answer) bool { return b.kind == answeredOK }) {
		e.received.Add(1)
	}
	e.answers[id] = append(e.answers[id], a)
	if a.kind == answeredStatus && a.status == http.StatusGone && e.first410.IsZero() {
		e.first410 = a.at
	}
	e.inFlight++
	e.mostInFlight = max(e.mostInFlight, e.inFlight)
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.inFlight--
		e.mu.Unlock()
	}()

	switch a.kind {
	case answeredOK:
		e.trap.hold()
		if e.plan.Profile == Capped {
			time.Sleep(50 * time.Millisecond) // a small receiver
		}
		writeReply(w, http.StatusOK, reply)
	case answeredStatus:
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		writeReply(w, a.status, reply)
	case answeredTimeout:
		select {
		case <-r.Context().Done():
		case <-time.After(e.hold):
		}
		drop(w, false)
	case answeredReset:
		drop(w, true)
	}
}

// writeReply answers status, with the endpoint's hostile body if it sends one.
func writeReply(w http.ResponseWriter, status int, reply hostileBody) {
	if reply.data != nil {
		w.Header().Set("Content-Type", reply.contentType)
	}
	w.WriteHeader(status)
	w.Write(reply.data)
}

// drop closes the connection without an answer; reset sends a TCP RST instead of a FIN.
func drop(w http.ResponseWriter, reset bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok && reset {
		_ = tcp.SetLinger(0)
	}
	conn.Close()
}

// decide picks the answer to a request for delivery id; called with mu held.
func (e *endpoint) decide(id string) (answer, string) {
	status := func(code int) answer { return answer{kind: answeredStatus, status: code} }
	switch e.plan.Profile {
	case Gone, GarbledGone:
		return status(http.StatusGone), ""
	case Unavailable:
		return status(http.StatusServiceUnavailable), ""
	case Rejecting:
		return status(http.StatusBadRequest), ""
	case Hanging:
		return answer{kind: answeredTimeout}, ""
	case Throttled:
		if len(e.answers[id]) == 0 {
			return status(http.StatusTooManyRequests), e.retryAfter()
		}
	case Capped:
		if len(e.answers[id]) == 0 && e.rng.IntN(5) == 0 {
			return status(http.StatusTooManyRequests), "" // slow down, with no time given
		}
	case Garbled:
		if len(e.answers[id]) == 0 && e.rng.IntN(2) == 0 {
			return status([]int{500, 502, 503}[e.rng.IntN(3)]), ""
		}
	case Flaky:
		switch n := e.rng.IntN(100); {
		case n < 20:
			return status([]int{500, 502, 503}[e.rng.IntN(3)]), ""
		case n < 30:
			return answer{kind: answeredReset}, ""
		case n < 42:
			return status(http.StatusTooManyRequests), e.retryAfter()
		case n < 44:
			return answer{kind: answeredTimeout}, ""
		}
	}
	return answer{kind: answeredOK}, ""
}

// retryAfter is 1–4 seconds, as delay-seconds or, one time in three, as an HTTP date.
func (e *endpoint) retryAfter() string {
	secs := 1 + e.rng.IntN(4)
	if e.rng.IntN(3) == 0 {
		return time.Now().Add(time.Duration(secs+1) * time.Second).UTC().Format(http.TimeFormat)
	}
	return strconv.Itoa(secs)
}

// flap takes a flapping endpoint away twice during the first span of the run, for 5–20 s each.
func (e *endpoint) flap(ctx context.Context, span time.Duration) {
	if e.plan.Profile != Flapping {
		return
	}
	for range 2 {
		e.mu.Lock()
		wait := time.Duration(e.rng.Int64N(int64(span/2) + 1))
		down := 5*time.Second + time.Duration(e.rng.Int64N(int64(15*time.Second)))
		e.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		e.goAway()
		select {
		case <-ctx.Done():
		case <-time.After(down):
		}
		// The port is ours until now; if it was taken meanwhile, the endpoint stays away and
		// its deliveries are exhausted, which the check accepts for a flapping endpoint.
		_ = e.comeBack()
	}
}

// setSecret sets the signing secret the endpoint verifies every request with.
func (e *endpoint) setSecret(secret string) error {
	v, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.verifier = v
	e.mu.Unlock()
	return nil
}

// log returns a copy of the answers to delivery id.
func (e *endpoint) log(id string) []answer {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]answer(nil), e.answers[id]...)
}
