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
	// Duplicates are 200-answered POSTs of a pair after its first.
	Duplicates    int `json:"duplicates"`
	BadSignatures int `json:"signature_failures"`
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
		r.Unrecorded == 0 && r.PendingRecords == 0 && r.ToNewIncarnation == 0
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
	row("duplicates (200-answered POSTs after the first)", r.Duplicates, "")
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
	row("requests that failed signature verification (must be 0)", r.BadSignatures, "")
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
		for _, k := range []Profile{p, kind(p, Recreated), kind(p, Reenabled)} {
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
