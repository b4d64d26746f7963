package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobhooks/jobhooks/shared/webhook"
)

// ErrLimit is returned when a project already holds as many webhooks as it may.
var ErrLimit = errors.New("limit reached")

// CreateWebhookWithin stores a new webhook unless its id is taken in the project
// (ErrAlreadyExists) or the project already has max webhooks (ErrLimit). The count and the
// create run in one transaction, so concurrent creates cannot overshoot the limit.
func (s *Store) CreateWebhookWithin(ctx context.Context, w webhook.Webhook, max int) error {
	col := s.webhooks(w.Project)
	ref := col.Doc(w.ID)
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		_, err := tx.Get(ref)
		switch {
		case err == nil:
			return ErrAlreadyExists
		case status.Code(err) != codes.NotFound:
			return err
		}
		// A count aggregation: billed one read per 1,000 webhooks counted, not one per webhook.
		n, err := countOf(ctx, col.NewAggregationQuery().WithCount("n").Transaction(tx))
		if err != nil {
			return err
		}
		if n >= max {
			return ErrLimit
		}
		return tx.Create(ref, w)
	})
	if err != nil {
		return fmt.Errorf("store: create webhook %s: %w", w.Name(), err)
	}
	return nil
}

// UpdateWebhook reads a webhook, lets change modify it, and writes it back, in one transaction,
// so that a health change written meanwhile by Deliver is not overwritten with a stale copy.
// change may run more than once (Firestore retries contended transactions) and must depend only
// on its argument; an error it returns aborts the update and is returned unwrapped.
// ErrNotFound if the webhook does not exist.
func (s *Store) UpdateWebhook(ctx context.Context, project, id string, change func(*webhook.Webhook) error) (webhook.Webhook, error) {
	ref := s.webhooks(project).Doc(id)
	var out webhook.Webhook
	var changeErr error
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		w, err := txWebhook(tx, ref)
		if err != nil {
			return err
		}
		if changeErr = change(&w); changeErr != nil {
			return changeErr
		}
		out = w
		return tx.Set(ref, w)
	})
	if changeErr != nil {
		return out, changeErr
	}
	if err != nil {
		return out, notFound(err, "update webhook "+webhook.Name(project, id))
	}
	return out, nil
}

// DeleteWebhook removes a webhook; ErrNotFound if it does not exist. Its delivery records stay
// (they expire with their TTL); its pending deliveries are cancelled by Deliver.
func (s *Store) DeleteWebhook(ctx context.Context, project, id string) error {
	// In a transaction, so that the commit is retried when it meets the lock of a webhook-health
	// transaction on the same document (Firestore answers Aborted; a plain write is not retried).
	ref := s.webhooks(project).Doc(id)
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		return tx.Delete(ref, firestore.Exists)
	})
	if err != nil {
		return notFound(err, "delete webhook "+webhook.Name(project, id))
	}
	return nil
}

// WebhookCursor is the position after which a page of webhooks starts: the last webhook of the
// previous page. The zero cursor starts at the beginning.
type WebhookCursor struct {
	CreateTime time.Time
	ID         string
}

// ListWebhooksPage returns up to limit webhooks of a project in creation order (ties by id),
// starting after the cursor. The order uses the automatic single-field index of create_time;
// a cursor holds values, not a document, so deleting the last webhook of a page does not break
// the next page.
func (s *Store) ListWebhooksPage(ctx context.Context, project string, limit int, after WebhookCursor) ([]webhook.Webhook, error) {
	q := s.webhooks(project).OrderBy("create_time", firestore.Asc).OrderBy(firestore.DocumentID, firestore.Asc).Limit(limit)
	if after.ID != "" {
		q = q.StartAfter(after.CreateTime, after.ID)
	}
	snaps, err := q.Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("store: list webhooks of %s: %w", project, err)
	}
	out := make([]webhook.Webhook, 0, len(snaps))
	for _, snap := range snaps {
		var w webhook.Webhook
		if err := snap.DataTo(&w); err != nil {
			return nil, fmt.Errorf("store: decode webhook %s: %w", snap.Ref.Path, err)
		}
		out = append(out, w)
	}
	return out, nil
}
