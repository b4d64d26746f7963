package storm

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/jobhooks/jobhooks/shared/devtools/devstack"
	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// eventState is the part of an event record the check needs. create_time is when the event was
// first fanned out: when its deliveries count as queued.
type eventState struct {
	ID           string    `firestore:"id"`
	State        string    `firestore:"state"`
	Deliveries   []string  `firestore:"deliveries"`
	CreateTime   time.Time `firestore:"create_time"`
	DispatchTime time.Time `firestore:"dispatch_time"`
}

// listed reports whether the event's deliveries are listed: planned at its first claim. A
// take-over keeps that plan (shared/delivery/README.md), so a pair left out of the list is
// excused only if its webhook may already have been left out when the event was first claimed:
// the check judges by the first claim's time (create_time), never by the close's.
func (e eventState) listed() bool { return !e.CreateTime.IsZero() }

// storedEvent is an event document as the store lays it out: the record in e
// (shared/store/README.md, Data model).
type storedEvent struct {
	E eventState `firestore:"e"`
}

// eventFields are the stored paths of eventState.
var eventFields = []string{"e.id", "e.state", "e.deliveries", "e.create_time", "e.dispatch_time"}

// pair is what is known of one (event, endpoint) pair once the storm is over.
type pair struct {
	ep       *endpoint
	answers  []answer // of every incarnation of the webhook, in time order
	rec      store.Delivery
	recorded bool
	hook     webhook.State // the webhook's state at the end
	ev       eventState
	id       string // the delivery id
	msgID    string
	// toNew are the POSTs that reached a new incarnation of the webhook although the delivery
	// was queued before it began (incarnation.go).
	toNew int
	// crashes are the kills of Deliver and Dispatch; faulted says an injected failure touched
	// the delivery or its event: either may leave an attempt unrecorded.
	crashes []crash
	faulted bool
}

func (p pair) received() bool {
	return slices.ContainsFunc(p.answers, func(a answer) bool { return a.kind == answeredOK && a.verified })
}

// check reads every record once and judges every pair.
func (r *run) check(ctx context.Context, st *store.Store, res *Result) error {
	project, fs := devstack.Project, st.Client()
	root := fs.Collection("projects").Doc(project)
	snaps, err := root.Collection("deliveries").Documents(ctx).GetAll()
	if err != nil {
		return fmt.Errorf("read delivery records: %w", err)
	}
	records := make(map[string]store.Delivery, len(snaps))
	for _, s := range snaps {
		d, err := store.DecodeDelivery(s)
		if err != nil {
			return err
		}
		records[d.ID] = d
	}
	res.Records = len(records)
	if res.PendingRecords, err = countOf(ctx, root.Collection("deliveries").Where("state", "==", string(store.Pending))); err != nil {
		return err
	}
	snaps, err = root.Collection("events").Select(eventFields...).Documents(ctx).GetAll()
	if err != nil {
		return fmt.Errorf("read event records: %w", err)
	}
	events := map[string]eventState{}
	for _, s := range snaps {
		var e storedEvent
		if err := s.DataTo(&e); err != nil {
			return err
		}
		events[e.E.ID] = e.E
	}
	hooks, err := st.ListWebhooks(ctx, project)
	if err != nil {
		return err
	}
	state := map[string]webhook.State{}
	for _, w := range hooks {
		state[w.ID] = w.State
	}
	r.incarnationsByCommit(hooks)
	if res.DeadLetters, err = countOf(ctx, fs.Collection("deadletters").Where("kind", "==", "delivery").Where("project", "==", project)); err != nil {
		return err
	}

	inj, err := readInjected(r.opts.Dir)
	if err != nil {
		return err
	}
	res.Faults, res.FaultsInjected, res.Crashes = inj.lines(), inj.total, len(r.crashes)
	seen := r.opts.CacheTTL + time.Second
	for i, ev := range r.plan.events {
		msgID := event.MessageID(project, ev.ID)
		for _, idx := range r.plan.targets[i] {
			ep := r.eps[idx]
			p := pair{ep: ep, answers: ep.allAnswers(msgID), hook: state[ep.plan.ID()], ev: events[ev.ID], msgID: msgID,
				id: event.DeliveryID(project, ev.ID, "webhook:"+ep.plan.ID()), crashes: r.crashes}
			p.faulted = inj.deliveries[p.id] || inj.events[ev.ID]
			p.rec, p.recorded = records[p.id]
			crashed, faulted, other := duplicateCauses(p, r.crashes, r.opts.AttemptTimeout, p.faulted)
			res.DuplicatesCrash, res.DuplicatesFault, res.DuplicatesOther = res.DuplicatesCrash+crashed, res.DuplicatesFault+faulted, res.DuplicatesOther+other
			res.LateAfterEdit += ep.change.late(p, seen+r.opts.AttemptTimeout)
			toNew := ep.change.toNewIncarnation(ep, msgID, p.ev.CreateTime)
			p.toNew = len(toNew)
			res.ToNewIncarnation += p.toNew
			if ep.change.receivedByNew(ep, msgID, p.ev.CreateTime) {
				res.ReceivedByNew++
			}
			outcome, ok := judge(p)
			if ep.change != nil {
				outcome, ok = judgeChange(p, seen)
			}
			if outcome == outLost && !res.Settled {
				outcome = outUnsettled // still on its way when the storm stopped waiting
			}
			res.add(ep.plan.Kind(), outcome, ok, p.answers)
			if !ok {
				line := fmt.Sprintf("%s → %s: %s (record %s %s, %d attempts; event queued at %s; endpoint answered %s",
					ev.ID, ep.plan.ID(), outcome, p.rec.State, p.rec.Reason, p.rec.Attempts, since(r.began, p.ev.CreateTime), describe(r.began, p.answers))
				if ep.change != nil && !ep.change.to.IsZero() {
					line += fmt.Sprintf("; webhook %s at %s", ep.change.kind, since(r.began, ep.change.to))
				}
				res.problem(ep.plan.ID(), outcome, line+")")
			}
		}
	}
	for _, ep := range r.eps {
		if ep.plan.Profile == Capped {
			ep.mu.Lock()
			res.MostInFlightCapped = max(res.MostInFlightCapped, ep.mostInFlight)
			ep.mu.Unlock()
		}
		res.BadSignatures += ep.badSigs
		if ep.change != nil && ep.change.next != nil {
			res.BadSignatures += ep.change.next.badSigs
		}
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
	// outAnsweredUnrecorded: the endpoint answered, but no record was ever written — what a
	// reply that cannot be stored leads to: the POST is made again and again.
	outAnsweredUnrecorded   = "answered, but never recorded"
	outDeliveredNotAccepted = "recorded delivered but never accepted by the endpoint"
	// outRetryUnrecorded: a garbled endpoint answered 5xx first, but the record shows one attempt.
	outRetryUnrecorded = "delivered, but its 5xx attempt is not recorded"
)

// judge decides what became of one pair and whether that agrees with what its endpoint did.
func judge(p pair) (string, bool) {
	rec := p.rec
	switch {
	case !p.recorded && len(p.answers) > 0:
		return outAnsweredUnrecorded, false
	case p.received():
		return p.judgeReceived()
	case p.recorded && rec.State == store.Delivered:
		return outDeliveredNotAccepted, false
	case p.recorded && rec.State.Final():
		return string(rec.State) + " " + rec.Reason, agrees(p)
	case !p.recorded && p.ep.plan.isGone() && p.hook != webhook.Enabled && p.ev.listed() &&
		!slices.Contains(p.ev.Deliveries, p.id) && p.ep.first410Before(p.ev.CreateTime.Add(planSlack)):
		return outNotTargeted, true
	}
	return outLost, false
}

// judgeReceived decides a pair the endpoint accepted: its record must say so.
func (p pair) judgeReceived() (string, bool) {
	switch {
	case p.rec.State == store.Pending:
		return outReceivedLeftPending, false
	case p.ep.plan.Profile == Garbled && p.retryUnrecorded():
		return outRetryUnrecorded, false
	}
	return outReceived, true
}

// retryUnrecorded: a garbled endpoint answered a delivery's first POST 5xx with a hostile body,
// a later one 200, yet the record counts one attempt. Excused: two copies of the task POSTed at
// once (Pub/Sub may push a message twice; the slower copy's record write loses), a 5xx just
// before Deliver or Dispatch was killed (the process died before recording it), and a delivery
// whose record write, or whose event's, an injected fault failed.
func (p pair) retryUnrecorded() bool {
	first := p.answers[0]
	if first.status < 500 || p.rec.Attempts >= 2 {
		return false
	}
	i := slices.IndexFunc(p.answers, func(a answer) bool { return a.kind == answeredOK && a.verified })
	if i < 0 || p.answers[i].at.Sub(first.at) < time.Second {
		return false
	}
	return !p.faulted && !slices.ContainsFunc(p.crashes, func(c crash) bool {
		return !first.at.Before(c.from.Add(-2*time.Second)) && !first.at.After(c.to)
	})
}

// agrees says whether a final failure is what the endpoint's behaviour must lead to.
func agrees(p pair) bool {
	gave := func(status int) bool {
		return slices.ContainsFunc(p.answers, func(a answer) bool { return a.kind == answeredStatus && a.status == status })
	}
	rec, ep := p.rec, p.ep
	switch {
	case rec.State == store.Failed && rec.Reason == "gone":
		// A 410 disables the webhook, whatever body came with it.
		return gave(410) && p.hook == webhook.DisabledDueToFailedDeliveries
	case rec.State == store.Cancelled && rec.Reason == "webhook_disabled_due_to_failed_deliveries":
		return ep.plan.isGone() && ep.first410Before(time.Now())
	case rec.State == store.Failed && rec.Reason == "status_400":
		return gave(400)
	case rec.State == store.Exhausted && rec.Reason == "window_exhausted":
		// Every attempt of the window failed; the last one recorded is something the endpoint did.
		switch ep.plan.Profile {
		case Unavailable:
			// Or never attempted: its circuit was open, and no probe fell in the delivery's window.
			return rec.LastStatusCode == 503 || rec.Attempts == 0 && rec.Waiting == store.WaitPaused
		case Hanging:
			return rec.LastStatusCode == 0
		case Flaky, Throttled, Flapping, Garbled, Capped:
			return rec.LastStatusCode == 0 || gave(rec.LastStatusCode)
		}
	case rec.State == store.Exhausted && rec.Reason == "throttled":
		// It waited for a slot until the window closed: only a throttled webhook's may.
		return ep.plan.Profile == Capped
	}
	return false
}

// accepted reports whether the endpoint, or its webhook's new incarnation, accepted a POST of
// delivery id.
func (e *endpoint) accepted(id string) bool {
	return slices.ContainsFunc(e.allAnswers(id), func(a answer) bool { return a.kind == answeredOK })
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

// describe lists what an endpoint answered, each with its time since the storm began; of a long
// list, the first few and the last.
func describe(began time.Time, answers []answer) string {
	if len(answers) == 0 {
		return "nothing (no request arrived)"
	}
	parts := make([]string, len(answers))
	for i, a := range answers {
		if i >= 4 && i < len(answers)-1 {
			if i == 4 {
				parts[i] = fmt.Sprintf("… %d more", len(answers)-5)
			}
			continue
		}
		switch a.kind {
		case answeredOK:
			parts[i] = "200"
		case answeredStatus:
			parts[i] = fmt.Sprint(a.status)
		case answeredReset:
			parts[i] = "reset"
		case answeredTimeout:
			parts[i] = "timeout"
		}
		parts[i] += " at " + a.at.Sub(began).Round(100*time.Millisecond).String()
	}
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), ", ")
}
