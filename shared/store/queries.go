package store

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
)

// Index is a composite index a query of this package needs. Terraform declares exactly these
// (terraform/firestore.tf); a test keeps the two lists equal. Fields are "path ASC|DESC".
type Index struct {
	Collection string
	Fields     []string
	// Query says which method runs the query, for the reader of a failing test.
	Query string
}

// Indexes lists the composite indexes of every query below.
var Indexes = []Index{
	{Collection: "deliveries", Fields: []string{"webhook ASC", "create_time DESC"}, Query: "ListDeliveries"},
	{Collection: "deliveries", Fields: []string{"webhook ASC", "state ASC", "create_time DESC"}, Query: "ListDeliveries with a state"},
	{Collection: "deliveries", Fields: []string{"webhook ASC", "state ASC", "create_time ASC"}, Query: "FinishedDeliveriesBetween"},
	{Collection: "deliveries", Fields: []string{"webhook ASC", "state ASC", "last_attempt_time DESC"}, Query: "LastSuccess"},
	{Collection: "deadletters", Fields: []string{"project ASC", "time DESC"}, Query: "ListDeadLetters"},
	{Collection: "deadletters", Fields: []string{"project ASC", "kind ASC", "time DESC"}, Query: "ListDeadLetters with a kind"},
}

// ListDeliveries returns up to limit deliveries of a webhook, newest first, optionally of one
// state, starting after the delivery id `after` (a page token).
func (s *Store) ListDeliveries(ctx context.Context, project, webhookID string, state DeliveryState, limit int, after string) ([]Delivery, error) {
	q := s.deliveries(project).Where("webhook", "==", webhookID)
	if state != "" {
		q = q.Where("state", "==", string(state))
	}
	q = q.OrderBy("create_time", firestore.Desc).OrderBy(firestore.DocumentID, firestore.Desc).Limit(limit)
	if after != "" {
		snap, err := s.deliveries(project).Doc(after).Get(ctx)
		if err != nil {
			return nil, notFound(err, "page token delivery "+after)
		}
		q = q.StartAfter(snap)
	}
	return s.queryDeliveries(ctx, q)
}

// FinishedDeliveriesBetween returns the failed and exhausted deliveries of a webhook created in
// [start, end), oldest first: what a replay re-sends.
func (s *Store) FinishedDeliveriesBetween(ctx context.Context, project, webhookID string, start, end time.Time, limit int) ([]Delivery, error) {
	q := s.deliveries(project).Where("webhook", "==", webhookID).
		Where("state", "in", []string{string(Failed), string(Exhausted)}).
		Where("create_time", ">=", start).Where("create_time", "<", end).
		OrderBy("create_time", firestore.Asc).Limit(limit)
	return s.queryDeliveries(ctx, q)
}

// LastSuccess returns the time of the latest successful delivery to a webhook after `after`, and
// whether there is one. Auto-disable asks it once, before disabling a webhook: a success seen by
// an instance whose cached copy of the webhook did not show the failure streak yet ended that
// streak without writing it (health is written on state changes only, never per delivery).
func (s *Store) LastSuccess(ctx context.Context, project, webhookID string, after time.Time) (time.Time, bool, error) {
	q := s.deliveries(project).Where("webhook", "==", webhookID).Where("state", "==", string(Delivered)).
		Where("last_attempt_time", ">", after).OrderBy("last_attempt_time", firestore.Desc).Limit(1)
	ds, err := s.queryDeliveries(ctx, q)
	if err != nil || len(ds) == 0 {
		return time.Time{}, false, err
	}
	return ds[0].LastAttemptTime, true, nil
}

func (s *Store) queryDeliveries(ctx context.Context, q firestore.Query) ([]Delivery, error) {
	snaps, err := q.Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("store: query deliveries: %w", err)
	}
	out := make([]Delivery, 0, len(snaps))
	for _, snap := range snaps {
		var d Delivery
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("store: decode delivery %s: %w", snap.Ref.ID, err)
		}
		d.Version = snap.UpdateTime
		out = append(out, d)
	}
	return out, nil
}
