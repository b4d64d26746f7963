// Package webhook is the static webhook a project registers: where to POST, which events, which
// extra headers, which status codes to retry on, its encrypted signing secrets and its health.
//
// It is plain data with the rules that belong to it; storage is the store package's job and
// decryption the secrets package's.
package webhook

import (
	"cmp"
	"regexp"
	"slices"
	"time"

	"github.com/jobhooks/jobhooks/shared/secrets"
)

// State of a webhook. Only ENABLED webhooks receive deliveries.
type State string

const (
	Enabled                       State = "ENABLED"
	Disabled                      State = "DISABLED"
	DisabledDueToFailedDeliveries State = "DISABLED_DUE_TO_FAILED_DELIVERIES"
)

// DefaultRetryCodes are the statuses retried when a webhook sets none (and for dynamic webhooks).
var DefaultRetryCodes = []int{408, 425, 429, 500, 502, 503, 504}

// Header is one extra request header sent with every delivery.
type Header struct {
	Key   string `firestore:"key" json:"key"`
	Value string `firestore:"value" json:"value"`
}

// Secret is one signing secret, stored encrypted. A zero ExpireTime never expires.
type Secret struct {
	Sealed     secrets.Sealed `firestore:"sealed"`
	Truncated  string         `firestore:"truncated"`
	CreateTime time.Time      `firestore:"create_time"`
	ExpireTime time.Time      `firestore:"expire_time"`
}

// Webhook is a project's registered endpoint.
type Webhook struct {
	Project              string    `firestore:"project"`
	ID                   string    `firestore:"id"`
	URL                  string    `firestore:"url"`
	DisplayName          string    `firestore:"display_name"`
	SubscribedEvents     []string  `firestore:"subscribed_events"`
	State                State     `firestore:"state"`
	RequestHeaders       []Header  `firestore:"request_headers"`
	StatusCodesToRetryOn []int     `firestore:"status_codes_to_retry_on"`
	Secrets              []Secret  `firestore:"secrets"`
	CreateTime           time.Time `firestore:"create_time"`
	UpdateTime           time.Time `firestore:"update_time"`
	// EnableTime is when the webhook last became enabled: its creation, or an enable after a
	// disable. It starts an incarnation: deliveries queued before it belonged to an earlier one
	// (a webhook deleted and re-created under the same id, or disabled meanwhile) and are
	// cancelled, never sent to this one. It is Firestore's commit time, never an instance's
	// clock: a write with it zero stamps it (serverTimestamp), and the times it is compared with
	// (a task's QueueTime, a copy's ReadTime) are Firestore's too, so no clock skew between the
	// API and Dispatch decides an incarnation. Zero on webhooks stored before it existed: see
	// IncarnationStart.
	EnableTime time.Time `firestore:"enable_time,serverTimestamp"`
	// FailingSince is the first failed attempt after the last success; zero while healthy. It is
	// written only when health changes, never per attempt (a hot document would throttle).
	FailingSince time.Time `firestore:"failing_since"`
	// RetryingSince is the first retryable failure (a status retried on, a timeout, a
	// connection error) after the last success; zero while healthy. The circuit breaker opens
	// on it, not on FailingSince: an endpoint that refuses with a status it is not retried on
	// fails each delivery with one POST already, and holding its deliveries back would only hide
	// its answers. Written only when it changes, like FailingSince.
	RetryingSince time.Time `firestore:"retrying_since"`
	// PausedUntil is the latest Retry-After its endpoint answered (a 429 or a retryable status
	// with Retry-After): no delivery to the webhook is POSTed before it, by any instance whose
	// cached copy shows it (shared/delivery/README.md, Decisions where the spec is silent).
	// Written only when it moves later, never per attempt.
	PausedUntil time.Time `firestore:"paused_until"`
	// MaxInFlight bounds the requests to the endpoint at once, across every instance; 0 leaves
	// only the deployment's cap per origin (shared/delivery/README.md, Throttle).
	MaxInFlight int `firestore:"max_in_flight"`
	// RateLimit bounds the deliveries started per second, across every instance; 0: none.
	RateLimit int `firestore:"rate_limit"`
	// AllowedInFlight is the in-flight bound the endpoint's 429s without Retry-After lowered
	// (halved each time, at least 1), growing back by one per run of successes; 0 while not
	// lowered. Written on those changes only, never per attempt.
	AllowedInFlight int `firestore:"allowed_in_flight"`
	// AllowedInFlightTime is when AllowedInFlight last changed: it changes at most once per
	// step (config.Config.InFlightStep), so a storm of 429s halves it once per step, not once
	// per answer.
	AllowedInFlightTime time.Time `firestore:"allowed_in_flight_time"`
	// DisabledReason says why the webhook was disabled automatically.
	DisabledReason string `firestore:"disabled_reason"`
	// PropagateTrace sends each attempt's W3C traceparent to the endpoint
	// (shared/tracing/README.md, Receivers). Off by default: a trace id can reveal how the sender
	// is built.
	PropagateTrace bool `firestore:"propagate_trace"`
	// ReadTime is when the store read this copy, by Firestore's clock; zero for a copy that was
	// not read from the store. Not stored.
	ReadTime time.Time `firestore:"-"`
	// WriteTime is when the copy's document was last written, by Firestore's clock, where the
	// store says (a health transaction's read); zero otherwise. Not stored.
	WriteTime time.Time `firestore:"-"`
}

// idPattern is AIP-122's resource id: lower-case letters, digits and hyphens, starting with a
// letter and not ending with a hyphen, at most 63 characters.
var idPattern = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidID reports whether id may name a webhook.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// Name is the webhook's resource name, projects/{project}/webhooks/{id}: the associated data of
// its encrypted secrets, so a ciphertext cannot be moved to another webhook.
func (w Webhook) Name() string { return Name(w.Project, w.ID) }

// Name builds a webhook resource name.
func Name(project, id string) string { return "projects/" + project + "/webhooks/" + id }

// Subscribes reports whether the webhook wants events of type t.
func (w Webhook) Subscribes(t string) bool { return slices.Contains(w.SubscribedEvents, t) }

// IncarnationStart is when the current incarnation began: EnableTime, or CreateTime for a
// webhook stored before EnableTime existed.
func (w Webhook) IncarnationStart() time.Time {
	if w.EnableTime.IsZero() {
		return w.CreateTime
	}
	return w.EnableTime
}

// Owns reports whether a delivery queued at queued belongs to the current incarnation. A
// delivery with no queue time (a task from before queue times existed) belongs to it only if
// the webhook has not been re-created or re-enabled since EnableTime was introduced.
func (w Webhook) Owns(queued time.Time) bool {
	return !queued.Before(w.IncarnationStart()) || queued.IsZero() && w.EnableTime.IsZero()
}

// RetriesOn reports whether status is retried for this webhook.
func (w Webhook) RetriesOn(status int) bool {
	codes := w.StatusCodesToRetryOn
	if len(codes) == 0 {
		codes = DefaultRetryCodes
	}
	return slices.Contains(codes, status)
}

// Throttle is how the endpoint's in-flight slots are kept (shared/delivery/README.md,
// Throttle): slots is how many requests may be in flight at once (0: no throttle), and hold the
// least time between two deliveries starting on the same slot. The webhook's own slots are
// min(max_in_flight, rate_limit) (or either alone): never more than the rate, or a burst could
// start them all within one second. Each may start k = rate_limit / slots times a second
// (rounded down), so it is held ceil(1 s / k) from its start: no half-open second holds more
// than k starts per slot, slots × k ≤ rate_limit. A 429's lowering (AllowedInFlight) only
// narrows the slots tried, never the hold, so an instance whose cached copy is not lowered yet
// still keeps the rate.
func (w Webhook) Throttle() (slots int, hold time.Duration) {
	own := w.ownSlots()
	slots = own
	if w.AllowedInFlight > 0 && (slots == 0 || w.AllowedInFlight < slots) {
		slots = w.AllowedInFlight
	}
	if w.RateLimit > 0 {
		k := time.Duration(w.RateLimit / own)
		hold = (time.Second + k - 1) / k
	}
	return slots, hold
}

// ownSlots is min(max_in_flight, rate_limit), either alone, or 0 with neither.
func (w Webhook) ownSlots() int {
	switch {
	case w.RateLimit == 0:
		return w.MaxInFlight
	case w.MaxInFlight == 0:
		return w.RateLimit
	}
	return min(w.MaxInFlight, w.RateLimit)
}

// LoweringStart is where a webhook without a throttle of its own starts when its first 429
// without Retry-After halves the requests allowed in flight.
const LoweringStart = 100

// Lowered is the in-flight bound after a 429 without Retry-After at now: half the current one,
// at least 1. ok is false while the last change is less than step old: one halving per step
// however many 429s come in it.
func (w Webhook) Lowered(now time.Time, step time.Duration) (allowed int, ok bool) {
	if now.Sub(w.AllowedInFlightTime) < step {
		return w.AllowedInFlight, false
	}
	current := w.AllowedInFlight
	if current == 0 {
		current = cmp.Or(w.ownSlots(), LoweringStart)
	}
	return max(1, current/2), true
}

// Regrown is the in-flight bound after a success at now, growing back by one per step of
// successes; 0 once it is back at the webhook's own (no longer lowered). ok is false when
// nothing changes.
func (w Webhook) Regrown(now time.Time, step time.Duration) (allowed int, ok bool) {
	if w.AllowedInFlight == 0 || now.Sub(w.AllowedInFlightTime) < step {
		return w.AllowedInFlight, false
	}
	if top := cmp.Or(w.ownSlots(), LoweringStart); w.AllowedInFlight+1 >= top {
		return 0, true
	}
	return w.AllowedInFlight + 1, true
}

// EndpointState is what holds deliveries to a webhook's endpoint back, as the API and the console
// show it (shared/delivery/README.md, Throttle; Circuit breaker).
type EndpointState string

const (
	// EndpointOK: nothing but the webhook's own throttle.
	EndpointOK EndpointState = "OK"
	// EndpointThrottled: its 429s without Retry-After lowered the requests allowed in flight.
	EndpointThrottled EndpointState = "THROTTLED"
	// EndpointPaused: its Retry-After (or the next probe's time) has not come.
	EndpointPaused EndpointState = "PAUSED"
	// EndpointCircuitOpen: no success for breakerAfter; one probe per interval is sent.
	EndpointCircuitOpen EndpointState = "CIRCUIT_OPEN"
)

// CircuitOpen reports whether the endpoint's attempts have failed in a way that is retried
// (RetryingSince), without a success, for breakerAfter.
func (w Webhook) CircuitOpen(now time.Time, breakerAfter time.Duration) bool {
	return !w.RetryingSince.IsZero() && now.Sub(w.RetryingSince) >= breakerAfter
}

// EndpointState is the endpoint's state at now.
func (w Webhook) EndpointState(now time.Time, breakerAfter time.Duration) EndpointState {
	switch {
	case w.CircuitOpen(now, breakerAfter):
		return EndpointCircuitOpen
	case w.PausedUntil.After(now):
		return EndpointPaused
	case w.AllowedInFlight > 0:
		return EndpointThrottled
	}
	return EndpointOK
}

// ActiveSecrets are the secrets that sign at time now, newest first (shared/verify/README.md,
// Signature schemes: during a rotation's grace period every unexpired secret signs).
func (w Webhook) ActiveSecrets(now time.Time) []Secret {
	var out []Secret
	for _, s := range w.Secrets {
		if s.ExpireTime.IsZero() || now.Before(s.ExpireTime) {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b Secret) int { return b.CreateTime.Compare(a.CreateTime) })
	return out
}
