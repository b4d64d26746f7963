package storm

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/store"
)

// progress is how far the stack has come, mostly from count queries (cheap for the emulator,
// which the storm must not slow down by reading every record while it works).
type progress struct {
	dispatched int // events recorded dispatched
	records    int // delivery records
	// missing are the deliveries planned by the events' records that have no record of their
	// own yet; -1 until the cheaper conditions of settled hold (it reads every event record).
	missing int
	// pending are the pending records whose pair is not received yet; leftPending those whose
	// pair is received (normally final a moment later).
	pending     int
	leftPending map[string]bool
	// stuck are the pending records and missing records that nothing will finish any more:
	// their window and a take-over's lease are long over. The check judges their pairs.
	stuck int
}

// pendingRecord is the part of a pending record progress reads.
// The store keeps the fields no query uses inside d (shared/store/README.md, Data model).
type pendingRecord struct {
	Webhook         string    `firestore:"webhook"`
	CreateTime      time.Time `firestore:"create_time"`
	LastAttemptTime time.Time `firestore:"last_attempt_time"`
	D               struct {
		EventID     string    `firestore:"event_id"`
		WindowStart time.Time `firestore:"window_start"`
	} `firestore:"d"`
}

func readProgress(ctx context.Context, fs *firestore.Client, project string, p plan, eps map[string]*endpoint, stuckAfter time.Duration) (progress, error) {
	pr := progress{missing: -1, leftPending: map[string]bool{}}
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
	pending, err := deliveries.Where("state", "==", string(store.Pending)).
		Select("d.event_id", "webhook", "create_time", "d.window_start", "last_attempt_time").Documents(ctx).GetAll()
	if err != nil {
		return pr, err
	}
	for _, snap := range pending {
		var d pendingRecord
		if err := snap.DataTo(&d); err != nil {
			return pr, err
		}
		switch {
		case time.Since(latest(d.CreateTime, d.D.WindowStart, d.LastAttemptTime)) > stuckAfter:
			pr.stuck++
		case eps[d.Webhook] != nil && eps[d.Webhook].accepted(event.MessageID(project, d.D.EventID)):
			pr.leftPending[snap.Ref.ID] = true
		default:
			pr.pending++
		}
	}
	if pr.dispatched < len(p.events) || pr.pending > 0 {
		return pr, nil
	}
	// Not every pair is fanned out: a webhook disabled by a 410, deleted, disabled or
	// unsubscribed through the API is left out of the events dispatched meanwhile. The events'
	// own lists say which are.
	recorded := map[string]bool{}
	refs, err := deliveries.Select().Documents(ctx).GetAll()
	if err != nil {
		return pr, err
	}
	for _, r := range refs {
		recorded[r.Ref.ID] = true
	}
	events, err := root.Collection("events").Select(eventFields...).Documents(ctx).GetAll()
	if err != nil {
		return pr, err
	}
	pr.missing = 0
	for _, snap := range events {
		var stored storedEvent
		if err := snap.DataTo(&stored); err != nil {
			return pr, err
		}
		e := stored.E
		for _, id := range e.Deliveries {
			switch {
			case recorded[id]:
			case time.Since(e.CreateTime) > stuckAfter:
				pr.stuck++
			default:
				pr.missing++
			}
		}
	}
	return pr, nil
}

func latest(ts ...time.Time) time.Time {
	var l time.Time
	for _, t := range ts {
		if t.After(l) {
			l = t
		}
	}
	return l
}

// settled: every event is dispatched, every delivery it was fanned out to has a record (or
// never will), and no record is pending but those of received pairs and those left for good.
func (pr progress) settled(p plan) bool {
	return pr.dispatched == len(p.events) && pr.pending == 0 && pr.missing == 0
}
