package store

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// limitDoc is one project's use of one rate-limited action in the current fixed window,
// projects/{p}/limits/{action}. The management calls it counts (ping, retry, replay) come a few
// a minute, far below Firestore's write rate for one document.
type limitDoc struct {
	WindowStart time.Time `firestore:"window_start"`
	Count       int       `firestore:"count"`
}

// TakeLimit counts one use of action by project in the fixed window of length window holding
// now, across every instance (a transaction on one document). Once limit uses are counted it
// counts nothing more and returns how long until the window ends: the caller's Retry-After.
func (s *Store) TakeLimit(ctx context.Context, project, action string, limit int, window time.Duration, now time.Time) (time.Duration, error) {
	ref := s.project(project).Collection("limits").Doc(action)
	var wait time.Duration
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		wait = 0
		var d limitDoc
		snap, err := tx.Get(ref)
		switch {
		case status.Code(err) == codes.NotFound:
		case err != nil:
			return err
		default:
			if err := snap.DataTo(&d); err != nil {
				return err
			}
		}
		if end := d.WindowStart.Add(window); d.WindowStart.IsZero() || !now.Before(end) || now.Before(d.WindowStart) {
			d = limitDoc{WindowStart: now.Truncate(window)}
		}
		if d.Count >= limit {
			wait = d.WindowStart.Add(window).Sub(now)
			return nil
		}
		d.Count++
		return tx.Set(ref, d)
	})
	if err != nil {
		return 0, fmt.Errorf("store: rate limit %s of %s: %w", action, project, err)
	}
	return wait, nil
}

// CountPending counts a webhook's pending deliveries, up to limit (an aggregation over the
// automatic single-field indexes of webhook and state: no document is read).
func (s *Store) CountPending(ctx context.Context, project, webhookID string, limit int) (int, error) {
	q := s.deliveries(project).Where("webhook", "==", webhookID).Where("state", "==", string(Pending)).Limit(limit)
	n, err := countOf(ctx, q.NewAggregationQuery().WithCount("n"))
	if err != nil {
		return 0, fmt.Errorf("store: counting pending deliveries of %s/%s: %w", project, webhookID, err)
	}
	return n, nil
}

// countOf runs a count aggregation whose alias is "n".
func countOf(ctx context.Context, q *firestore.AggregationQuery) (int, error) {
	res, err := q.Get(ctx)
	if err != nil {
		return 0, err
	}
	n, ok := res["n"]
	if !ok {
		return 0, fmt.Errorf("store: the count aggregation answered no count")
	}
	switch v := n.(type) {
	case int64:
		return int(v), nil
	default:
		// The client returns the count as a protobuf Value.
		if pv, ok := v.(interface{ GetIntegerValue() int64 }); ok {
			return int(pv.GetIntegerValue()), nil
		}
		return 0, fmt.Errorf("store: a count is a %T", n)
	}
}
