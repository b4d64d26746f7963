package storm

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Result is what a storm found. Every count named "must be 0" in the table must be zero.
type Result struct {
	Settings  string `json:"settings"`
	Events    int    `json:"events"`
	Endpoints int    `json:"endpoints"`
	// Pairs are the (event, endpoint) deliveries the plan implies: every endpoint whose webhook
	// subscribes to the event's type.
	Pairs   int `json:"pairs"`
	Records int `json:"delivery_records"`
	// Received pairs got at least one POST that verified and was answered 200.
	Received int `json:"received"`
	POSTs    int `json:"posts"`
	// Duplicates are 200-answered POSTs of a pair after its first; each is put down to a crash,
	// an injected fault, or neither (dupes.go).
	Duplicates      int `json:"duplicates"`
	DuplicatesCrash int `json:"duplicates_after_a_crash"`
	DuplicatesFault int `json:"duplicates_after_a_fault"`
	DuplicatesOther int `json:"duplicates_otherwise"`
	// Crashes are the SIGKILLs of Deliver and Dispatch; FaultsInjected the store and publish
	// failures injected into them, and Faults their counts by function, call and code.
	Crashes        int      `json:"crashes"`
	FaultsInjected int      `json:"faults_injected"`
	Faults         []string `json:"faults,omitempty"`
	// LateAfterEdit are the POSTs to a webhook's old URL, and the pairs of an unsubscribed
	// webhook fanned out, later than a cache TTL (and an attempt) after the edit (edits.go).
	LateAfterEdit int `json:"late_after_edit"`
	BadSignatures int `json:"signature_failures"`
	// MostInFlightCapped is the most requests a capped endpoint held at once: at most its
	// max_in_flight (CappedInFlight).
	MostInFlightCapped int `json:"most_in_flight_capped"`
	// Final counts the pairs not received, by final state and reason (and those a disabled
	// webhook was no longer fanned out to).
	Final map[string]int `json:"final"`
	// Lost pairs were neither received nor recorded final; Mismatched were recorded final with a
	// reason their endpoint's behaviour cannot explain.
	Lost      int `json:"lost"`
	Unsettled int `json:"unsettled"`
	// LeftPending pairs were received, but their record stayed pending with nothing left to
	// finish it: a record-keeping bug, not a loss. Unrecorded pairs were answered by their
	// endpoint, received or not, but no record was ever written (a reply that cannot be stored).
	LeftPending int `json:"received_left_pending"`
	Unrecorded  int `json:"answered_unrecorded"`
	// PendingRecords are the delivery records still pending when the storm ended; once it has
	// settled, nothing will finish them.
	PendingRecords int `json:"pending_records"`
	// ToNewIncarnation are the POSTs a re-created or re-enabled webhook got of deliveries queued
	// before it began; ReceivedByNew are the pairs it received that were queued after.
	ToNewIncarnation int                     `json:"posts_to_new_incarnation"`
	ReceivedByNew    int                     `json:"received_by_new_incarnation"`
	Mismatched       int                     `json:"reason_mismatches"`
	Problems         []string                `json:"problems,omitempty"`
	ByProfile        map[Profile]*ProfileRow `json:"by_profile"`
	DeadLetters      int                     `json:"dead_letters"`
	Timeline         []string                `json:"timeline"`
	Settled          bool                    `json:"settled"`
	Duration         time.Duration           `json:"duration_ns"`

	shown map[string]int // problems kept, by webhook and outcome
}

// ProfileRow sums the pairs of the endpoints of one profile.
type ProfileRow struct {
	Endpoints  int `json:"endpoints"`
	Pairs      int `json:"pairs"`
	Received   int `json:"received"`
	Final      int `json:"final"`
	Duplicates int `json:"duplicates"`
	Lost       int `json:"lost"`
	// Reasons counts the final pairs by state and reason, as Result.Final does for all.
	Reasons map[string]int `json:"final_by_reason,omitempty"`
}

// OK reports whether the storm lost nothing and every final failure matched its endpoint.
func (r Result) OK() bool {
	return r.Settled && r.Lost == 0 && r.Mismatched == 0 && r.BadSignatures == 0 && r.LeftPending == 0 &&
		r.Unrecorded == 0 && r.PendingRecords == 0 && r.ToNewIncarnation == 0 && r.LateAfterEdit == 0 &&
		r.MostInFlightCapped <= CappedInFlight
}

// Per10k is n per 10,000 pairs received.
func (r Result) Per10k(n int) float64 {
	if r.Received == 0 {
		return 0
	}
	return float64(n) * 10000 / float64(r.Received)
}

func (r *Result) add(p Profile, outcome string, ok bool, answers []answer) {
	row := r.ByProfile[p]
	row.Pairs++
	r.POSTs += len(answers)
	accepted := 0
	for _, a := range answers {
		if a.kind == answeredOK && a.verified {
			accepted++
		}
	}
	if accepted > 1 {
		r.Duplicates += accepted - 1
		row.Duplicates += accepted - 1
	}
	switch {
	case outcome == outReceived:
		r.Received++
		row.Received++
	case outcome == outReceivedLeftPending:
		r.Received++
		row.Received++
		r.LeftPending++
	case outcome == outAnsweredUnrecorded:
		if accepted > 0 {
			r.Received++
			row.Received++
		} else {
			row.Lost++
		}
		r.Unrecorded++
	case outcome == outToNewIncarnation:
		// Counted by its POSTs, in ToNewIncarnation.
		row.Lost++
	case ok:
		r.Final[outcome]++
		row.Final++
		if row.Reasons == nil {
			row.Reasons = map[string]int{}
		}
		row.Reasons[outcome]++
	case outcome == outUnsettled:
		r.Unsettled++
		row.Lost++
	case outcome == outLost || outcome == outDeliveredNotAccepted:
		r.Lost++
		row.Lost++
	default:
		r.Mismatched++
		row.Lost++
	}
}

// problem keeps the first few unexplained pairs for the report: three of each endpoint and
// outcome, so that one endpoint's failures do not hide another's.
func (r *Result) problem(webhook, outcome, s string) {
	key := webhook + "\x00" + outcome
	if r.shown == nil {
		r.shown = map[string]int{}
	}
	if r.shown[key] < 3 && len(r.Problems) < 30 {
		r.shown[key]++
		r.Problems = append(r.Problems, s)
	}
}

// Table is the human-readable report.
func (r Result) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fault storm: %s\n", r.Settings)
	for _, t := range r.Timeline {
		fmt.Fprintf(&b, "  %s\n", t)
	}
	row := func(label string, n int, extra string) { fmt.Fprintf(&b, "%-58s %7d%s\n", label, n, extra) }
	b.WriteString("\n")
	row("events", r.Events, "")
	row("deliveries (event × subscribed endpoint)", r.Pairs, fmt.Sprintf("   %d delivery records, %d POSTs", r.Records, r.POSTs))
	row("received (signature verified, answered 200)", r.Received, "")
	row("duplicates (200-answered POSTs after the first)", r.Duplicates, fmt.Sprintf("   %.1f per 10k received", r.Per10k(r.Duplicates)))
	row("  just after a crash (the POST before it came just before a kill)", r.DuplicatesCrash, fmt.Sprintf("   %.1f per 10k", r.Per10k(r.DuplicatesCrash)))
	row("  else after an injected fault on its delivery or event", r.DuplicatesFault, fmt.Sprintf("   %.1f per 10k", r.Per10k(r.DuplicatesFault)))
	row("  neither (goal: at most 1 per 10k)", r.DuplicatesOther, fmt.Sprintf("   %.1f per 10k", r.Per10k(r.DuplicatesOther)))
	row("lost (must be 0)", r.Lost, "")
	if r.Unsettled > 0 {
		row("not settled when the storm stopped waiting (must be 0)", r.Unsettled, "")
	}
	row("final failures whose reason does not match (must be 0)", r.Mismatched, "")
	row("received, but the record left pending for good (must be 0)", r.LeftPending, "")
	row("answered, but never recorded (must be 0)", r.Unrecorded, "")
	row("records left pending for good (must be 0)", r.PendingRecords, "")
	row("POSTs to a new incarnation, queued before it (must be 0)", r.ToNewIncarnation, "")
	row("received by a new incarnation, queued after it", r.ReceivedByNew, "")
	row("old URL or events followed a cache TTL after an edit (must be 0)", r.LateAfterEdit, "")
	row("requests that failed signature verification (must be 0)", r.BadSignatures, "")
	row(fmt.Sprintf("most requests a capped endpoint held at once (max_in_flight %d)", CappedInFlight), r.MostInFlightCapped, "")
	total := 0
	for _, n := range r.Final {
		total += n
	}
	row("final failures, by reason", total, "")
	reasons := make([]string, 0, len(r.Final))
	for k := range r.Final {
		reasons = append(reasons, k)
	}
	sort.Strings(reasons)
	for _, k := range reasons {
		row("  "+k, r.Final[k], "")
	}
	row("dead letters recorded for deliveries", r.DeadLetters, "")
	row("crashes (SIGKILL of Deliver or Dispatch, then a restart)", r.Crashes, "")
	row("store and publish failures injected into Dispatch and Deliver", r.FaultsInjected, "")
	for _, f := range r.Faults {
		fmt.Fprintf(&b, "  %s\n", f)
	}
	fmt.Fprintf(&b, "\n%-22s %9s %7s %9s %6s %10s %5s\n", "profile", "endpoints", "pairs", "received", "final", "duplicates", "lost")
	for _, p := range r.kinds() {
		x := r.ByProfile[p]
		fmt.Fprintf(&b, "%-22s %9d %7d %9d %6d %10d %5d\n", p, x.Endpoints, x.Pairs, x.Received, x.Final, x.Duplicates, x.Lost)
	}
	if !r.Settled {
		fmt.Fprintf(&b, "\nNOT SETTLED when the storm stopped waiting: %d deliveries still on their way, %d answered but never recorded.\n",
			r.Unsettled, r.Unrecorded)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "  problem: %s\n", p)
	}
	fmt.Fprintf(&b, "\ntook %s\n", r.Duration.Round(time.Second))
	return b.String()
}

// kinds are the report's rows: each profile, then the same profile with a webhook change.
func (r Result) kinds() []Profile {
	var out []Profile
	for _, p := range profiles {
		for _, k := range []Profile{p, kind(p, Recreated), kind(p, Reenabled), kind(p, URLEdited), kind(p, Unsubscribed)} {
			if x := r.ByProfile[k]; x != nil && x.Endpoints > 0 {
				out = append(out, k)
			}
		}
	}
	return out
}

// JSON is the one-line machine-readable report.
func (r Result) JSON() string {
	b, _ := json.Marshal(r)
	return string(b)
}
