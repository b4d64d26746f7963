package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
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

// Indexes lists the composite indexes of every query below. Each that holds a time starts with
// the shard (layout.go): records created at one moment land in Shards ranges, not one.
var Indexes = []Index{
	{Collection: "deliveries", Fields: []string{"shard ASC", "webhook ASC", "create_time DESC"}, Query: "ListDeliveries"},
	{Collection: "deliveries", Fields: []string{"shard ASC", "webhook ASC", "state ASC", "create_time DESC"}, Query: "ListDeliveries with a state"},
	{Collection: "deliveries", Fields: []string{"shard ASC", "webhook ASC", "state ASC", "create_time ASC"}, Query: "FinishedDeliveriesBetween"},
	{Collection: "deliveries", Fields: []string{"shard ASC", "webhook ASC", "state ASC", "last_attempt_time DESC"}, Query: "LastSuccess"},
	{Collection: "deadletters", Fields: []string{"shard ASC", "project ASC", "time DESC"}, Query: "ListDeadLetters"},
	{Collection: "deadletters", Fields: []string{"shard ASC", "project ASC", "kind ASC", "time DESC"}, Query: "ListDeadLetters with a kind"},
}

// SingleFieldQuery is a query served by Firestore's automatic single-field indexes (equalities
// only, or one field's order): its fields must not be exempt from indexing. A time's automatic
// index is a hotspot at about 500 writes/s: one is used only where Why says the collection is
// written far below that.
type SingleFieldQuery struct {
	Collection string
	Fields     []string
	Query, Why string
}

// SingleFieldQueries lists the queries of this package that need no composite index.
var SingleFieldQueries = []SingleFieldQuery{
	{Collection: "webhooks", Fields: []string{"subscribed_events"}, Query: "ListSubscribedWebhooks"},
	{Collection: "webhooks", Fields: []string{"create_time"}, Query: "ListWebhooksPage",
		Why: "a webhook is created by a person or a deployment script, a few a second at most, and its create_time is never rewritten"},
	{Collection: "deliveries", Fields: []string{"webhook", "state"}, Query: "CountPending"},
	{Collection: "attempts", Fields: []string{"number"}, Query: "ListAttempts"},
	{Collection: "deadletters", Fields: []string{"lookup"}, Query: "FindDeadLetters"},
}

// ListDeliveries returns up to limit deliveries of a webhook, newest first, optionally of one
// state, starting after the delivery id `after` (a page token). It reads every shard from that
// position and merges them.
func (s *Store) ListDeliveries(ctx context.Context, project, webhookID string, state DeliveryState, limit int, after string) ([]Delivery, error) {
	var from *Delivery
	if after != "" {
		d, err := s.GetDelivery(ctx, project, after)
		if err != nil {
			return nil, fmt.Errorf("store: page token: %w", err)
		}
		from = &d
	}
	return s.deliveriesOfShards(ctx, limit, newestFirst, func(shard int) firestore.Query {
		q := s.deliveries(project).Where("shard", "==", shard).Where("webhook", "==", webhookID)
		if state != "" {
			q = q.Where("state", "==", string(state))
		}
		q = q.OrderBy("create_time", firestore.Desc).OrderBy(firestore.DocumentID, firestore.Desc).Limit(limit)
		if from != nil {
			q = q.StartAfter(from.CreateTime, from.ID)
		}
		return q
	})
}

// FinishedDeliveriesBetween returns the failed and exhausted deliveries of a webhook created in
// [start, end), oldest first: what a replay re-sends.
func (s *Store) FinishedDeliveriesBetween(ctx context.Context, project, webhookID string, start, end time.Time, limit int) ([]Delivery, error) {
	return s.deliveriesOfShards(ctx, limit, oldestFirst, func(shard int) firestore.Query {
		return s.deliveries(project).Where("shard", "==", shard).Where("webhook", "==", webhookID).
			Where("state", "in", []string{string(Failed), string(Exhausted)}).
			Where("create_time", ">=", start).Where("create_time", "<", end).
			OrderBy("create_time", firestore.Asc).OrderBy(firestore.DocumentID, firestore.Asc).Limit(limit)
	})
}

// LastSuccess returns the time of the latest successful delivery to a webhook after `after`, and
// whether there is one. Auto-disable asks it once, before disabling a webhook: a success seen by
// an instance whose cached copy of the webhook did not show the failure streak yet ended that
// streak without writing it (health is written on state changes only, never per delivery).
func (s *Store) LastSuccess(ctx context.Context, project, webhookID string, after time.Time) (time.Time, bool, error) {
	latest := func(a, b Delivery) int { return b.LastAttemptTime.Compare(a.LastAttemptTime) }
	ds, err := s.deliveriesOfShards(ctx, 1, latest, func(shard int) firestore.Query {
		return s.deliveries(project).Where("shard", "==", shard).Where("webhook", "==", webhookID).
			Where("state", "==", string(Delivered)).
			Where("last_attempt_time", ">", after).OrderBy("last_attempt_time", firestore.Desc).Limit(1)
	})
	if err != nil || len(ds) == 0 {
		return time.Time{}, false, err
	}
	return ds[0].LastAttemptTime, true, nil
}

func newestFirst(a, b Delivery) int {
	return cmp.Or(b.CreateTime.Compare(a.CreateTime), cmp.Compare(b.ID, a.ID))
}

func oldestFirst(a, b Delivery) int { return newestFirst(b, a) }

// mergeShards runs the query of every shard at once and returns the first limit results of all
// of them in order.
func mergeShards[T any](limit int, order func(a, b T) int, run func(shard int) ([]T, error)) ([]T, error) {
	parts := make([][]T, Shards)
	errs := make([]error, Shards)
	var wg sync.WaitGroup
	for shard := range Shards {
		wg.Go(func() { parts[shard], errs[shard] = run(shard) })
	}
	wg.Wait()
	var out []T
	for shard := range Shards {
		if errs[shard] != nil {
			return nil, errs[shard]
		}
		out = append(out, parts[shard]...)
	}
	slices.SortFunc(out, order)
	return out[:min(limit, len(out))], nil
}

// deliveriesOfShards merges the deliveries the query of each shard finds.
func (s *Store) deliveriesOfShards(ctx context.Context, limit int, order func(a, b Delivery) int, query func(shard int) firestore.Query) ([]Delivery, error) {
	return mergeShards(limit, order, func(shard int) ([]Delivery, error) { return s.queryDeliveries(ctx, query(shard)) })
}

func (s *Store) queryDeliveries(ctx context.Context, q firestore.Query) ([]Delivery, error) {
	snaps, err := q.Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("store: query deliveries: %w", err)
	}
	out := make([]Delivery, 0, len(snaps))
	for _, snap := range snaps {
		d, err := DecodeDelivery(snap)
		if err != nil {
			return nil, fmt.Errorf("store: decode delivery %s: %w", snap.Ref.ID, err)
		}
		out = append(out, d)
	}
	return out, nil
}
