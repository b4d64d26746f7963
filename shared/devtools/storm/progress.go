package storm

import (
	"context"

	"cloud.google.com/go/firestore"

	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/store"
)

// progress is how far the stack has come, mostly from count queries (cheap for the emulator,
// which the storm must not slow down by reading every record while it works).
type progress struct {
	dispatched int // events recorded dispatched
	records    int // delivery records
	// fannedOut are the deliveries the dispatched events were fanned out to, each of which must
	// get a record; -1 until the cheaper conditions of settled hold (it reads every event record).
	fannedOut int
	// pending are the pending records whose pair is not received yet; leftPending those whose
	// pair is received (normally final a moment later).
	pending     int
	leftPending map[string]bool
}

func readProgress(ctx context.Context, fs *firestore.Client, project string, p plan, eps map[string]*endpoint) (progress, error) {
	pr := progress{fannedOut: -1, leftPending: map[string]bool{}}
	root := fs.Collection("projects").Doc(project)
	deliveries := root.Collection("deliveries")
	var err error
	// An event is claimed with its planned deliveries; it is done when all have final records
	// (checked below through records and pending).
	if pr.dispatched, err = countOf(ctx, root.Collection("events").Query); err != nil {
		return pr, err
	}
	if pr.records, err = countOf(ctx, deliveries.Query); err != nil {
		return pr, err
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
	if pr.dispatched < len(p.events) || pr.pending > 0 {
		return pr, nil
	}
	// Not every pair is fanned out: a webhook disabled by a 410, deleted or disabled through the
	// API is left out of the events dispatched meanwhile. The events' own lists say which are.
	events, err := root.Collection("events").Select("deliveries").Documents(ctx).GetAll()
	if err != nil {
		return pr, err
	}
	pr.fannedOut = 0
	for _, snap := range events {
		var e eventState
		if err := snap.DataTo(&e); err != nil {
			return pr, err
		}
		pr.fannedOut += len(e.Deliveries)
	}
	return pr, nil
}

// settled: every event is dispatched, every delivery it was fanned out to has a record, and no
// record is pending but those of received pairs.
func (pr progress) settled(p plan) bool {
	return pr.dispatched == len(p.events) && pr.pending == 0 && pr.records == pr.fannedOut
}
