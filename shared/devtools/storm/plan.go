package storm

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// Profile is how one endpoint of the storm behaves, and so which outcome its deliveries may end in.
type Profile string

const (
	// Healthy answers 200: every delivery must arrive.
	Healthy Profile = "healthy"
	// Flaky answers at random 200, 500/502/503, a connection reset, a timeout, or 429 with
	// Retry-After: deliveries arrive, or are exhausted if every attempt in the window failed.
	Flaky Profile = "flaky"
	// Throttled answers a delivery's first request 429 with Retry-After (seconds or an HTTP
	// date), then 200.
	Throttled Profile = "throttled"
	// Flapping answers 200, but its listener goes away twice for several seconds and comes back.
	Flapping Profile = "flapping"
	// Gone answers 410: the first one disables the webhook; later deliveries are cancelled or
	// not fanned out at all.
	Gone Profile = "gone"
	// Unavailable answers 503 always: deliveries are exhausted when the window closes.
	Unavailable Profile = "unavailable"
	// Rejecting answers 400, a status not retried: deliveries fail at once.
	Rejecting Profile = "rejecting"
	// Hanging never answers within the attempt timeout: deliveries are exhausted.
	Hanging Profile = "hanging"
	// Garbled answers a delivery's first request 500/502/503 half of the time, then 200, every
	// answer with a hostile body (bodies.go): binary, Latin-1, or cut mid-character at 4 KiB.
	// Each delivery must end delivered, its 5xx attempt recorded.
	Garbled Profile = "garbled"
	// GarbledGone answers 410 with a hostile body: it must disable the webhook as Gone does.
	GarbledGone Profile = "garbled-gone"
	// Capped is a small receiver behind a webhook with max_in_flight CappedInFlight: it takes
	// 50 ms per request, and answers a fifth of first requests 429 without Retry-After (the
	// in-flight bound halves, then grows back). It must never hold more than CappedInFlight
	// requests at once; a delivery that never got a slot may end exhausted, throttled.
	Capped Profile = "capped"
)

// CappedInFlight is the capped endpoint's max_in_flight.
const CappedInFlight = 3

// profiles is every profile, in the order the report lists them.
var profiles = []Profile{Healthy, Flaky, Throttled, Flapping, Gone, Unavailable, Rejecting, Hanging, Garbled, GarbledGone, Capped}

// Change is what happens to an endpoint's webhook mid-storm through the management API
// (incarnation.go).
type Change string

const (
	// Recreated: the webhook is deleted and created again under the same id, pointing at a new
	// listener, with a new secret.
	Recreated Change = "re-created"
	// Reenabled: the webhook is disabled and enabled again a moment later.
	Reenabled Change = "re-enabled"
	// URLEdited: the webhook's URL is changed to another listener of the endpoint, with the same
	// secret. A delivery may reach either URL; a POST to the old one well after the change is late.
	URLEdited Change = "url-edited"
	// Unsubscribed: the webhook's subscribed events are changed to a type the storm never
	// publishes. Deliveries planned before stay due: they must be delivered or end final.
	Unsubscribed Change = "unsubscribed"
)

// unusedType is what an Unsubscribed webhook subscribes to instead.
const unusedType = "storm.unsubscribed"

// eventTypes are the types the storm publishes, with their weights (per mille). The endpoints whose every
// delivery fails for the whole window subscribe to the rare ones: the emulator pushes only about
// two requests at a time per subscription, and an attempt that times out holds one of them for
// the attempt timeout.
var eventTypes = []struct {
	name   string
	weight int
}{
	{"batch.succeeded", 400}, {"video.generated", 250}, {"batch.failed", 150},
	{"interaction.completed", 150}, {"batch.expired", 45}, {"batch.cancelled", 5},
}

// common are the types regular endpoints subscribe to.
var common = []string{"batch.succeeded", "video.generated", "batch.failed", "interaction.completed"}

// special endpoints come first, each on the type that keeps its cost bounded.
var special = []endpointPlan{
	{Profile: Gone, Events: []string{"batch.failed"}},
	{Profile: Unavailable, Events: []string{"batch.expired"}},
	{Profile: Rejecting, Events: []string{"interaction.completed"}},
	{Profile: Hanging, Events: []string{"batch.cancelled"}},
	{Profile: GarbledGone, Events: []string{"batch.failed"}},
	{Profile: Garbled}, // a common type, drawn like a regular endpoint's
}

// regular is the cycle of profiles of the other endpoints.
var regular = []Profile{Healthy, Flaky, Throttled, Healthy, Flaky, Flapping, Healthy, Flaky, Throttled, Capped}

// endpointPlan is what one endpoint does and which event types its webhook subscribes to.
type endpointPlan struct {
	Index   int
	Profile Profile
	Events  []string
	// Change, if set, happens to the webhook at ChangeAt (a share of the publishing time) and
	// lasts the cache TTL and Pause: deleted until re-created, or disabled until enabled again.
	Change   Change
	ChangeAt float64
	Pause    time.Duration
}

// ID is the webhook id of the endpoint.
func (p endpointPlan) ID() string { return "storm-" + strconv.Itoa(p.Index) + "-" + string(p.Profile) }

// Kind names the endpoint's row in the report: its profile, and its change if it has one.
func (p endpointPlan) Kind() Profile { return kind(p.Profile, p.Change) }

func kind(p Profile, c Change) Profile {
	if c == "" {
		return p
	}
	return p + ", " + Profile(c)
}

// eventPlan is one job event to publish.
type eventPlan struct {
	ID   string
	Type string
}

// plan is the whole storm, fixed by its seed.
type plan struct {
	endpoints []endpointPlan
	events    []eventPlan
	// targets[i] are the endpoints event i goes to (its type is subscribed).
	targets [][]int
}

// newPlan draws the storm from its seed; edits adds webhooks whose URL or events change.
func newPlan(events, endpoints int, seed uint64, edits bool) plan {
	rng := rand.New(rand.NewPCG(seed, 0x5707))
	var p plan
	for i := range endpoints {
		var ep endpointPlan
		if i < len(special) && endpoints >= 2*len(special) {
			ep = special[i]
		} else {
			ep = endpointPlan{Profile: regular[i%len(regular)]}
		}
		if len(ep.Events) == 0 {
			ep.Events = []string{common[rng.IntN(len(common))]}
			if rng.IntN(4) == 0 {
				if second := common[rng.IntN(len(common))]; second != ep.Events[0] {
					ep.Events = append(ep.Events, second)
				}
			}
		}
		ep.Index = i
		p.endpoints = append(p.endpoints, ep)
	}
	p.pickChanges(rng, edits)
	total := 0
	for _, t := range eventTypes {
		total += t.weight
	}
	for i := range events {
		n, typ := rng.IntN(total), ""
		for _, t := range eventTypes {
			if n -= t.weight; n < 0 {
				typ = t.name
				break
			}
		}
		p.events = append(p.events, eventPlan{ID: "storm-" + strconv.Itoa(i), Type: typ})
		var to []int
		for _, ep := range p.endpoints {
			if slices.Contains(ep.Events, typ) {
				to = append(to, ep.Index)
			}
		}
		p.targets = append(p.targets, to)
	}
	return p
}

// pickChanges chooses, by the seed, the endpoints whose webhook is re-created or re-enabled
// mid-storm (and, with edits, whose URL or events are edited): a few among those that answer a
// delivery's first request with a retryable failure (throttled, flaky), so that each has
// deliveries pending when its webhook changes — the ones the change must cancel, or must not.
// One of each at least, then one more of each per 30 endpoints.
func (p *plan) pickChanges(rng *rand.Rand, edits bool) {
	kinds := []Change{Recreated, Reenabled}
	if edits {
		kinds = append(kinds, URLEdited, Unsubscribed)
	}
	var candidates []int
	for _, ep := range p.endpoints {
		if ep.Profile == Throttled || ep.Profile == Flaky {
			candidates = append(candidates, ep.Index)
		}
	}
	rng.Shuffle(len(candidates), func(i, j int) { candidates[i], candidates[j] = candidates[j], candidates[i] })
	each := 1 + len(p.endpoints)/30
	for n, idx := range candidates {
		if n >= len(kinds)*each {
			break
		}
		ep := &p.endpoints[idx]
		ep.Change = kinds[n%len(kinds)]
		// Early enough that events keep coming after the change. The change lasts longer than
		// the cache TTL, so that every instance sees the webhook gone or disabled, and, with the
		// storm's defaults, less than a retry gap, so that a delivery pending before may next be
		// tried after it.
		ep.ChangeAt = 0.15 + 0.25*rng.Float64()
		ep.Pause = time.Second + time.Duration(rng.Int64N(int64(1500*time.Millisecond)))
	}
}

// hopeless reports whether no delivery to the endpoint can ever be received.
func (p endpointPlan) hopeless() bool {
	switch p.Profile {
	case Gone, Unavailable, Rejecting, Hanging, GarbledGone:
		return true
	}
	return false
}

// isGone reports whether the endpoint answers 410, so disables its webhook.
func (p endpointPlan) isGone() bool { return p.Profile == Gone || p.Profile == GarbledGone }

// pairs is the number of (event, endpoint) pairs the storm must account for.
func (p plan) pairs() int {
	n := 0
	for _, to := range p.targets {
		n += len(to)
	}
	return n
}
