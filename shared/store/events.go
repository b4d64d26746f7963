package store

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Event states. An event is claimed (dispatching) by one Dispatch while it makes the first
// attempts. When every target's first attempt ended final, the commit of their records is the
// last write (one hop's store budget: shared/delivery/README.md, One hop on the happy path): the
// record stays dispatching, with its planned deliveries, and is done because all of them are final.
// When some target needs a retry, the event is closed (dispatched) after its retry tasks are
// published.
const (
	EventDispatching = "dispatching"
	EventDispatched  = "dispatched"
)

// EventRecord is what Dispatch remembers of an event, so a duplicate publish fans out once.
type EventRecord struct {
	Project   string    `firestore:"project"`
	ID        string    `firestore:"id"`
	Type      string    `firestore:"type"`
	EventTime time.Time `firestore:"event_time"`
	State     string    `firestore:"state"`
	// ClaimTime is when a Dispatch instance took the event; a claim older than the lease is
	// abandoned (the instance crashed) and may be taken over.
	ClaimTime time.Time `firestore:"claim_time"`
	// Holder is a random token of the claim's holder: a claim whose create was written but
	// answered an error (the client library retries it, and the retry finds the document) is
	// recognised as the caller's own instead of waiting out the lease.
	Holder string `firestore:"holder"`
	// Deliveries are the delivery ids the event fans out to, planned when it is first claimed;
	// empty when nothing subscribed.
	Deliveries []string `firestore:"deliveries"`
	// Targets are the planned targets themselves, in the order of Deliveries: the key each
	// delivery id is derived from ("webhook:<id>" or "uri:<url>", event.DeliveryID). A take-over
	// finishes exactly these, whatever its own cache now says (shared/delivery/README.md, What
	// a crash at each step does). Absent on records older than the field.
	Targets []string `firestore:"targets"`
	// Body is the rendered notification, kept so a retry or replay re-sends the same bytes.
	Body    []byte `firestore:"body"`
	Dynamic bool   `firestore:"dynamic"`
	// CreateTime is when the event was first claimed, by the claiming instance's clock. The
	// queue time of its deliveries is the document's own creation time instead (EventClaim).
	CreateTime   time.Time `firestore:"create_time"`
	DispatchTime time.Time `firestore:"dispatch_time"`
	ExpireTime   time.Time `firestore:"expire_time"`
}

// Claim is the outcome of ClaimEvent.
type Claim int

const (
	// Claimed: this caller fans the event out.
	Claimed Claim = iota
	// AlreadyDispatched: a previous publish of the event was fanned out; do nothing.
	AlreadyDispatched
	// ClaimedElsewhere: another instance is fanning it out right now; try again later.
	ClaimedElsewhere
)

// EventClaim is a claim held on an event record.
type EventClaim struct {
	Outcome Claim
	// Version is the record's update time as the claim left it. The holder's later writes
	// (ReleaseEvent, MarkDispatched) are conditional on it, so a holder that was taken over
	// after its lease ran out cannot clear or close the new holder's claim.
	Version time.Time
	// CreateTime is when the event was first claimed, by Firestore's clock (the commit time of
	// the record's creation, as webhooks' enable times are): the time its deliveries were
	// queued, also after a take-over.
	CreateTime time.Time
	// Fresh is true when this claim created the event record: no delivery record of the event
	// can exist yet, so none needs reading. A take-over is not fresh.
	Fresh bool
	// Targets and Deliveries are the plan: those the claim was created with, also after a
	// take-over (EventRecord.Targets).
	Targets, Deliveries []string
}

func (s *Store) events(project string) *firestore.CollectionRef {
	return s.project(project).Collection("events")
}

// event is the document of the event a publisher named id (EventKey).
func (s *Store) event(project, id string) *firestore.DocumentRef {
	return s.events(project).Doc(EventKey(id))
}

// ClaimEvent takes the event for fan-out; rec carries the planned deliveries. Firestore's
// create-if-absent makes exactly one of several concurrent callers win. An event already
// claimed is done (AlreadyDispatched) if it was closed or if every planned delivery has a final
// record; otherwise a claim older than lease is taken over, so a crash mid fan-out delays the
// event by at most the lease.
func (s *Store) ClaimEvent(ctx context.Context, rec EventRecord, lease time.Duration, now time.Time) (EventClaim, error) {
	rec.State, rec.ClaimTime, rec.CreateTime, rec.ExpireTime = EventDispatching, now, now, s.expiry(now)
	rec.Holder = rand.Text()
	ref := s.event(rec.Project, rec.ID)
	res, err := ref.Create(ctx, eventDoc{ExpireTime: rec.ExpireTime, E: rec})
	if err == nil {
		return EventClaim{Outcome: Claimed, Version: res.UpdateTime, CreateTime: res.UpdateTime, Fresh: true,
			Targets: rec.Targets, Deliveries: rec.Deliveries}, nil
	}
	if status.Code(err) != codes.AlreadyExists {
		return EventClaim{}, fmt.Errorf("store: claim event %s/%s: %w", rec.Project, rec.ID, err)
	}
	snap, err := ref.Get(ctx)
	if err != nil {
		return EventClaim{}, fmt.Errorf("store: read event %s/%s: %w", rec.Project, rec.ID, err)
	}
	old, err := DecodeEvent(snap)
	if err != nil {
		return EventClaim{}, fmt.Errorf("store: decode event %s/%s: %w", rec.Project, rec.ID, err)
	}
	if old.State == EventDispatched {
		return EventClaim{Outcome: AlreadyDispatched}, nil
	}
	if old.Holder == rec.Holder {
		// This call's own create, written though its first answer was an error.
		return EventClaim{Outcome: Claimed, Version: snap.UpdateTime, CreateTime: snap.CreateTime, Fresh: true,
			Targets: old.Targets, Deliveries: old.Deliveries}, nil
	}
	if done, err := s.allFinal(ctx, rec.Project, old.Deliveries); err != nil || done {
		return EventClaim{Outcome: AlreadyDispatched}, err
	}
	if now.Sub(old.ClaimTime) < lease {
		return EventClaim{Outcome: ClaimedElsewhere}, nil
	}
	// Take over an abandoned claim, unless someone else just did (the precondition).
	res, err = ref.Update(ctx, []firestore.Update{{Path: "e.claim_time", Value: now}, {Path: "e.holder", Value: rec.Holder}},
		firestore.LastUpdateTime(snap.UpdateTime))
	if status.Code(err) == codes.FailedPrecondition {
		return EventClaim{Outcome: ClaimedElsewhere}, nil
	}
	if err != nil {
		return EventClaim{}, fmt.Errorf("store: take over event %s/%s: %w", rec.Project, rec.ID, err)
	}
	return EventClaim{Outcome: Claimed, Version: res.UpdateTime, CreateTime: snap.CreateTime,
		Targets: old.Targets, Deliveries: old.Deliveries}, nil
}

// allFinal reports whether every one of the deliveries has a final record that leaves nothing
// to finish (true for none). A static webhook's 410 is final for the delivery, but Dispatch
// closes such an event only once the webhook is disabled: until then a take-over must run, to
// repair a disable that failed (shared/delivery/finish.go, settled).
func (s *Store) allFinal(ctx context.Context, project string, ids []string) (bool, error) {
	if len(ids) == 0 {
		return true, nil
	}
	recs, err := s.GetDeliveries(ctx, project, ids)
	if err != nil {
		return false, err
	}
	for _, id := range ids {
		if d, ok := recs[id]; !ok || !d.State.Final() || d.Gone() {
			return false, nil
		}
	}
	return true, nil
}

// EventDone reports whether an event's fan-out is over: closed, or every planned delivery final.
func (s *Store) EventDone(ctx context.Context, rec EventRecord) (bool, error) {
	if rec.State == EventDispatched {
		return true, nil
	}
	return s.allFinal(ctx, rec.Project, rec.Deliveries)
}

// ReleaseEvent gives a claim up at once (publishing failed), so the redelivery need not wait out
// the lease. ErrConflict if the claim was taken over meanwhile: the new holder's stands.
func (s *Store) ReleaseEvent(ctx context.Context, project, id string, claim EventClaim) error {
	_, err := s.event(project, id).Update(ctx, []firestore.Update{{Path: "e.claim_time", Value: time.Time{}}},
		firestore.LastUpdateTime(claim.Version))
	if err != nil {
		return notFound(conflict(err), "release event "+project+"/"+id)
	}
	return nil
}

// markDispatched adds to b the write that closes the event record, conditional on the claim.
func (s *Store) markDispatched(b *firestore.WriteBatch, project, id string, claim EventClaim, at time.Time) {
	b.Update(s.event(project, id), []firestore.Update{
		{Path: "e.state", Value: EventDispatched},
		{Path: "e.dispatch_time", Value: at},
	}, firestore.LastUpdateTime(claim.Version))
}

// MarkDispatched records that every task of the event was published. ErrConflict if the claim
// was taken over meanwhile: the new holder publishes the tasks again and closes the record.
func (s *Store) MarkDispatched(ctx context.Context, project, id string, claim EventClaim, at time.Time) error {
	b := s.fs.Batch()
	s.markDispatched(b, project, id, claim, at)
	if _, err := b.Commit(ctx); err != nil {
		return notFound(conflict(err), "mark event dispatched "+project+"/"+id)
	}
	return nil
}

// GetEvent reads an event record.
func (s *Store) GetEvent(ctx context.Context, project, id string) (EventRecord, error) {
	snap, err := s.event(project, id).Get(ctx)
	if err != nil {
		return EventRecord{}, notFound(err, "event "+project+"/"+id)
	}
	r, err := DecodeEvent(snap)
	if err != nil {
		return r, fmt.Errorf("store: decode event %s/%s: %w", project, id, err)
	}
	return r, nil
}
