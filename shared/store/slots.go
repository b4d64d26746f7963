package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobhooks/jobhooks/shared/webhook"
)

// slotDoc is one in-flight slot of a throttled webhook, projects/{p}/webhooks/{id}/slots/{i}
// (shared/delivery/README.md, Throttle). A slot is taken by creating it, or by updating one
// whose busy_until has passed; it is given back by deleting it, or by moving busy_until to the
// least time before it may be taken again (a rate limit). A holder that dies leaves busy_until
// at its lease's end, so the slot comes back by itself. Each slot is its own document: no one
// document is written per delivery.
type slotDoc struct {
	Holder    string    `firestore:"holder"`
	BusyUntil time.Time `firestore:"busy_until"`
	// ExpireTime lets Firestore's TTL policy delete slots of webhooks that are gone.
	ExpireTime time.Time `firestore:"expire_time"`
}

// Slot is a slot held by the caller, to give back with ReleaseSlot.
type Slot struct {
	ref     *firestore.DocumentRef
	version time.Time // the update time of the caller's write: a release never touches a slot taken over since
}

// Index is the slot's number, for log lines.
func (s Slot) Index() string { return s.ref.ID }

func (s *Store) slots(project, webhookID string) *firestore.CollectionRef {
	return s.webhooks(project).Doc(webhookID).Collection("slots")
}

// TakeSlot tries to take one of the n slots of a webhook for holder until lease, trying tries
// slots from first on (wrapping around). ok is false when every slot tried is busy.
func (s *Store) TakeSlot(ctx context.Context, project, webhookID string, n, first, tries int, holder string, now, lease time.Time) (slot Slot, ok bool, err error) {
	doc := slotDoc{Holder: holder, BusyUntil: lease, ExpireTime: lease.Add(time.Hour)}
	for k := range min(tries, n) {
		ref := s.slots(project, webhookID).Doc(strconv.Itoa((first + k) % n))
		wr, err := ref.Create(ctx, doc)
		if err == nil {
			return Slot{ref: ref, version: wr.UpdateTime}, true, nil
		}
		if status.Code(err) != codes.AlreadyExists {
			return Slot{}, false, fmt.Errorf("store: take a slot of %s: %w", webhook.Name(project, webhookID), err)
		}
		snap, err := ref.Get(ctx)
		if status.Code(err) == codes.NotFound {
			continue // given back meanwhile: another delivery is about to take it
		}
		if err != nil {
			return Slot{}, false, fmt.Errorf("store: read a slot of %s: %w", webhook.Name(project, webhookID), err)
		}
		var held slotDoc
		if err := snap.DataTo(&held); err != nil {
			return Slot{}, false, fmt.Errorf("store: slot %s: %w", ref.Path, err)
		}
		if held.BusyUntil.After(now) {
			continue
		}
		// Its holder gave it back with a rate's hold that has passed, or died and its lease ran
		// out: take it over, unless someone else did first.
		wr, err = ref.Update(ctx, []firestore.Update{
			{Path: "holder", Value: doc.Holder}, {Path: "busy_until", Value: doc.BusyUntil}, {Path: "expire_time", Value: doc.ExpireTime},
		}, firestore.LastUpdateTime(snap.UpdateTime))
		switch status.Code(err) {
		case codes.OK:
		case codes.FailedPrecondition, codes.NotFound:
			continue // another delivery took it first
		default:
			return Slot{}, false, fmt.Errorf("store: take over a slot of %s: %w", webhook.Name(project, webhookID), err)
		}
		return Slot{ref: ref, version: wr.UpdateTime}, true, nil
	}
	return Slot{}, false, nil
}

// ReleaseSlot gives a slot back: it is free at once when until is not after now, else busy
// until then (a rate limit's hold). A slot whose lease ran out and that another delivery took
// over is left to that one.
func (s *Store) ReleaseSlot(ctx context.Context, slot Slot, now, until time.Time) error {
	var err error
	if !until.After(now) {
		_, err = slot.ref.Delete(ctx, firestore.LastUpdateTime(slot.version))
	} else {
		_, err = slot.ref.Update(ctx, []firestore.Update{{Path: "busy_until", Value: until}}, firestore.LastUpdateTime(slot.version))
	}
	switch status.Code(err) {
	case codes.OK, codes.NotFound, codes.FailedPrecondition:
		return nil
	}
	return fmt.Errorf("store: give back slot %s: %w", slot.ref.Path, err)
}
