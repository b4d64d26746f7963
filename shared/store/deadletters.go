package store

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
)

// DeadLetter is the record of a message that reached the dead-letter topic.
type DeadLetter struct {
	// ID is the dead-letter message's Pub/Sub id, so a redelivered dead letter is recorded once.
	ID string `firestore:"id"`
	// Kind is job_event or delivery.
	Kind   string `firestore:"kind"`
	Reason string `firestore:"reason"`
	// Project, EventID, DeliveryID and Webhook are empty when the message did not carry them
	// validly (a poison event has no delivery nor webhook; one may have no readable project).
	Project    string `firestore:"project"`
	EventID    string `firestore:"event_id"`
	DeliveryID string `firestore:"delivery_id"`
	Webhook    string `firestore:"webhook"`
	// Source is the subscription Pub/Sub dead-lettered the message from, when it did.
	Source string `firestore:"source"`
	// SourceMessageID is the id of the original message (a poison job event's).
	SourceMessageID string `firestore:"source_message_id"`
	// Data is the start of the message data, for diagnosis (job events carry ids and links only).
	Data       string    `firestore:"data"`
	Time       time.Time `firestore:"time"`
	ExpireTime time.Time `firestore:"expire_time"`
}

// RecordDeadLetter stores a dead letter (idempotent per message id).
func (s *Store) RecordDeadLetter(ctx context.Context, d DeadLetter) error {
	d.ExpireTime = s.expiry(d.Time)
	if _, err := s.fs.Collection("deadletters").Doc(deadLetterKey(d.ID)).Set(ctx, deadLetterDocOf(d)); err != nil {
		return fmt.Errorf("store: record dead letter %s: %w", d.ID, err)
	}
	return nil
}

// GetDeadLetter reads a dead letter by message id.
func (s *Store) GetDeadLetter(ctx context.Context, id string) (DeadLetter, error) {
	snap, err := s.fs.Collection("deadletters").Doc(deadLetterKey(id)).Get(ctx)
	if err != nil {
		return DeadLetter{}, notFound(err, "dead letter "+id)
	}
	d, err := decodeDeadLetter(snap)
	if err != nil {
		return d, fmt.Errorf("store: decode dead letter %s: %w", id, err)
	}
	return d, nil
}

// FindDeadLetters returns the dead letters whose field (delivery_id, event_id or
// source_message_id) equals value.
func (s *Store) FindDeadLetters(ctx context.Context, field, value string) ([]DeadLetter, error) {
	switch field {
	case "delivery_id", "event_id", "source_message_id":
	default:
		return nil, fmt.Errorf("store: dead letters cannot be found by %q", field)
	}
	snaps, err := s.fs.Collection("deadletters").Where("lookup", "array-contains", lookupKey(field, value)).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("store: find dead letters by %s: %w", field, err)
	}
	out := make([]DeadLetter, 0, len(snaps))
	for _, snap := range snaps {
		d, err := decodeDeadLetter(snap)
		if err != nil {
			return nil, fmt.Errorf("store: decode dead letter %s: %w", snap.Ref.ID, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// DeadLetterCursor is where a page of dead letters ends: the last one's time and id.
type DeadLetterCursor struct {
	Time time.Time
	ID   string
}

// ListDeadLetters returns up to limit dead letters of a project, newest first (ties by document id),
// optionally of one kind, starting after the cursor. A dead letter without a project (a poison
// event whose project could not be read) is listed by none. A cursor holds values, not a
// document: the collection is every project's, and a document cursor would read one.
func (s *Store) ListDeadLetters(ctx context.Context, project, kind string, limit int, after DeadLetterCursor) ([]DeadLetter, error) {
	return mergeShards(limit, func(a, b DeadLetter) int {
		return cmp.Or(b.Time.Compare(a.Time), cmp.Compare(deadLetterKey(b.ID), deadLetterKey(a.ID)))
	}, func(shard int) ([]DeadLetter, error) {
		q := s.fs.Collection("deadletters").Where("shard", "==", shard).Where("project", "==", project)
		if kind != "" {
			q = q.Where("kind", "==", kind)
		}
		q = q.OrderBy("time", firestore.Desc).OrderBy(firestore.DocumentID, firestore.Desc).Limit(limit)
		if after.ID != "" {
			q = q.StartAfter(after.Time, deadLetterKey(after.ID))
		}
		snaps, err := q.Documents(ctx).GetAll()
		if err != nil {
			return nil, fmt.Errorf("store: list dead letters of %s: %w", project, err)
		}
		out := make([]DeadLetter, 0, len(snaps))
		for _, snap := range snaps {
			d, err := decodeDeadLetter(snap)
			if err != nil {
				return nil, fmt.Errorf("store: decode dead letter %s: %w", snap.Ref.ID, err)
			}
			out = append(out, d)
		}
		return out, nil
	})
}
