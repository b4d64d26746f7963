package storm

import (
	"context"
	"fmt"
	"slices"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// progress is how far the stack has come, mostly from count queries (cheap for the emulator,
// which the storm must not slow down by reading every record while it works).
type progress struct {
	dispatched  int // events recorded dispatched
	records     int // delivery records
	goneRecords int // records of the gone endpoints, whose later pairs are never fanned out
	// pending are the pending records whose pair is not received yet; leftPending those whose
	// pair is received (normally final a moment later).
	pending     int
	leftPending map[string]bool
}

func readProgress(ctx context.Context, fs *firestore.Client, project string, p plan, eps map[string]*endpoint) (progress, error) {
	pr := progress{leftPending: map[string]bool{}}
	root := fs.Collection("projects").Doc(project)
	deliveries := root.Collection("deliveries")
	var err error
	if pr.dispatched, err = countOf(ctx, root.Collection("events").Where("state", "==", store.EventDispatched)); err != nil {
		return pr, err
	}
	if pr.records, err = countOf(ctx, deliveries.Query); err != nil {
		return pr, err
	}
	for _, ep := range p.endpoints {
		if ep.Profile != Gone {
			continue
		}
		n, err := countOf(ctx, deliveries.Where("webhook", "==", ep.ID()))
		if err != nil {
			return pr, err
		}
		pr.goneRecords += n
	}
	pending, err := deliveries.Where("state", "==", string(store.Pending)).Select("event_id", "webhook").Documents(ctx).GetAll()
	if err != nil {
		return pr, err
	}
	for _, snap := range pending {
		var d store.Delivery
		if err := snap.DataTo(&d); err != nil {
			return pr, err
		}
		if ep := eps[d.Webhook]; ep != nil && ep.accepted(event.MessageID(project, d.EventID)) {
			pr.leftPending[snap.Ref.ID] = true
		} else {
			pr.pending++
		}
	}
	return pr, nil
}

// settled: every event is dispatched, every pair that must have a record has one (a gone
// endpoint's pairs dispatched after its webhook was disabled have none), and no record is
// pending but those of received pairs.
func (pr progress) settled(p plan) bool {
	notGone := 0
	for _, to := range p.targets {
		for _, ep := range to {
			if p.endpoints[ep].Profile != Gone {
				notGone++
			}
		}
	}
	return pr.dispatched == len(p.events) && pr.pending == 0 && pr.records-pr.goneRecords == notGone
}

// eventState is the part of an event record the check needs.
type eventState struct {
	State        string    `firestore:"state"`
	Deliveries   []string  `firestore:"deliveries"`
	DispatchTime time.Time `firestore:"dispatch_time"`
}

// check reads every record once and judges every pair.
func check(ctx context.Context, st *store.Store, project string, p plan, eps []*endpoint, res *Result) error {
	fs := st.Client()
	root := fs.Collection("projects").Doc(project)
	snaps, err := root.Collection("deliveries").Documents(ctx).GetAll()
	if err != nil {
		return fmt.Errorf("read delivery records: %w", err)
	}
	records := make(map[string]store.Delivery, len(snaps))
	for _, s := range snaps {
		var d store.Delivery
		if err := s.DataTo(&d); err != nil {
			return err
		}
		records[d.ID] = d
	}
	res.Records = len(records)
	snaps, err = root.Collection("events").Select("state", "deliveries", "dispatch_time").Documents(ctx).GetAll()
	if err != nil {
		return fmt.Errorf("read event records: %w", err)
	}
	events := map[string]eventState{}
	for _, s := range snaps {
		var e eventState
		if err := s.DataTo(&e); err != nil {
			return err
		}
		events[s.Ref.ID] = e
	}
	hooks, err := st.ListWebhooks(ctx, project)
	if err != nil {
		return err
	}
	state := map[string]webhook.State{}
	for _, w := range hooks {
		state[w.ID] = w.State
	}
	if res.DeadLetters, err = countOf(ctx, fs.Collection("deadletters").Where("kind", "==", "delivery").Where("project", "==", project)); err != nil {
		return err
	}

	for i, ev := range p.events {
		msgID := event.MessageID(project, ev.ID)
		for _, idx := range p.targets[i] {
			ep := eps[idx]
			answers := ep.log(msgID)
			id := event.DeliveryID(project, ev.ID, "webhook:"+ep.plan.ID())
			rec, recorded := records[id]
			outcome, ok := judge(ep, answers, rec, recorded, state[ep.plan.ID()], events[ev.ID], id)
			if outcome == outLost && !res.Settled {
				outcome = outUnsettled // still on its way when the storm stopped waiting
			}
			res.add(ep.plan.Profile, outcome, ok, answers)
			if !ok {
				res.problem(fmt.Sprintf("%s → %s: %s (record %s %s, %d attempts; endpoint answered %s)",
					ev.ID, ep.plan.ID(), outcome, rec.State, rec.Reason, rec.Attempts, describe(answers)))
			}
		}
	}
	for _, ep := range eps {
		res.BadSignatures += ep.badSigs
	}
	return nil
}

// Outcomes of a pair, as the table shows them.
const (
	outReceived    = "received"
	outNotTargeted = "not fanned out: webhook disabled by its 410 before the event"
	outLost        = "LOST"
	outUnsettled   = "not settled in time"
	// outReceivedLeftPending: the endpoint accepted a POST, but the record stayed pending and
	// nothing finishes it any more.
	outReceivedLeftPending = "received, but its record was left pending"
)

// judge decides what became of one pair and whether that agrees with what its endpoint did.
func judge(ep *endpoint, answers []answer, rec store.Delivery, recorded bool, hook webhook.State, ev eventState, id string) (string, bool) {
	received := slices.ContainsFunc(answers, func(a answer) bool { return a.kind == answeredOK && a.verified })
	switch {
	case received && recorded && rec.State == store.Pending:
		return outReceivedLeftPending, false
	case received:
		return outReceived, true
	case recorded && rec.State == store.Delivered:
		return "recorded delivered but never accepted by the endpoint", false
	case recorded && rec.State.Final():
		outcome := string(rec.State) + " " + rec.Reason
		return outcome, agrees(ep, answers, rec)
	case !recorded && ep.plan.Profile == Gone && hook != webhook.Enabled && ev.State == store.EventDispatched &&
		!slices.Contains(ev.Deliveries, id) && ep.first410Before(ev.DispatchTime):
		return outNotTargeted, true
	}
	return outLost, false
}

// agrees says whether a final failure is what the endpoint's behaviour must lead to.
func agrees(ep *endpoint, answers []answer, rec store.Delivery) bool {
	gave := func(status int) bool {
		return slices.ContainsFunc(answers, func(a answer) bool { return a.kind == answeredStatus && a.status == status })
	}
	p := ep.plan.Profile
	switch {
	case rec.State == store.Failed && rec.Reason == "gone":
		return gave(410)
	case rec.State == store.Cancelled && rec.Reason == "webhook_disabled_due_to_failed_deliveries":
		return p == Gone && ep.first410Before(time.Now())
	case rec.State == store.Failed && rec.Reason == "status_400":
		return gave(400)
	case rec.State == store.Exhausted && rec.Reason == "window_exhausted":
		// Every attempt of the window failed; the last one recorded is something the endpoint did.
		switch p {
		case Unavailable:
			return rec.LastStatusCode == 503
		case Hanging:
			return rec.LastStatusCode == 0
		case Flaky, Throttled, Flapping:
			return rec.LastStatusCode == 0 || gave(rec.LastStatusCode)
		}
	}
	return false
}

// accepted reports whether the endpoint accepted a POST of delivery id.
func (e *endpoint) accepted(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.ContainsFunc(e.answers[id], func(a answer) bool { return a.kind == answeredOK })
}

func (e *endpoint) first410Before(t time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return !e.first410.IsZero() && e.first410.Before(t)
}

func countOf(ctx context.Context, q firestore.Query) (int, error) {
	res, err := q.NewAggregationQuery().WithCount("n").Get(ctx)
	if err != nil {
		return 0, err
	}
	v, _ := res["n"].(*firestorepb.Value)
	return int(v.GetIntegerValue()), nil
}

func describe(answers []answer) string {
	if len(answers) == 0 {
		return "nothing (no request arrived)"
	}
	s := ""
	for i, a := range answers {
		if i > 0 {
			s += ","
		}
		switch a.kind {
		case answeredOK:
			s += "200"
		case answeredStatus:
			s += fmt.Sprint(a.status)
		case answeredReset:
			s += "reset"
		case answeredTimeout:
			s += "timeout"
		}
	}
	return s
}
