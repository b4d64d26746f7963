package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobhooks/jobhooks/shared/webhook"
)

func (s *Store) webhooks(project string) *firestore.CollectionRef {
	return s.project(project).Collection("webhooks")
}

// CreateWebhook stores a new webhook; ErrAlreadyExists if its id is taken in the project.
func (s *Store) CreateWebhook(ctx context.Context, w webhook.Webhook) error {
	_, err := s.webhooks(w.Project).Doc(w.ID).Create(ctx, w)
	if status.Code(err) == codes.AlreadyExists {
		return fmt.Errorf("store: webhook %s: %w", w.Name(), ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("store: create webhook %s: %w", w.Name(), err)
	}
	return nil
}

// PutWebhook writes a webhook whole (create or replace).
func (s *Store) PutWebhook(ctx context.Context, w webhook.Webhook) error {
	if _, err := s.webhooks(w.Project).Doc(w.ID).Set(ctx, w); err != nil {
		return fmt.Errorf("store: put webhook %s: %w", w.Name(), err)
	}
	return nil
}

// GetWebhook reads one webhook; ErrNotFound if it does not exist in the project.
func (s *Store) GetWebhook(ctx context.Context, project, id string) (webhook.Webhook, error) {
	var w webhook.Webhook
	snap, err := s.webhooks(project).Doc(id).Get(ctx)
	if err != nil {
		return w, notFound(err, "webhook "+webhook.Name(project, id))
	}
	if err := snap.DataTo(&w); err != nil {
		return w, fmt.Errorf("store: decode webhook %s: %w", webhook.Name(project, id), err)
	}
	w.ReadTime = snap.ReadTime
	return w, nil
}

// ListWebhooks reads every webhook of a project (at most a few hundred: the API caps the count).
func (s *Store) ListWebhooks(ctx context.Context, project string) ([]webhook.Webhook, error) {
	it := s.webhooks(project).Documents(ctx)
	defer it.Stop()
	var out []webhook.Webhook
	for {
		snap, err := it.Next()
		if err == iterator.Done {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("store: list webhooks of %s: %w", project, err)
		}
		var w webhook.Webhook
		if err := snap.DataTo(&w); err != nil {
			return nil, fmt.Errorf("store: decode webhook %s: %w", snap.Ref.Path, err)
		}
		w.ReadTime = snap.ReadTime
		out = append(out, w)
	}
}

// ListSubscribedWebhooks reads the webhooks of a project subscribed to eventType, whatever
// their state (an array-contains query on the automatic single-field index).
func (s *Store) ListSubscribedWebhooks(ctx context.Context, project, eventType string) ([]webhook.Webhook, error) {
	snaps, err := s.webhooks(project).Where("subscribed_events", "array-contains", eventType).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("store: list webhooks of %s subscribed to %s: %w", project, eventType, err)
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

// MarkFailing records the start of a failure streak at `at`, unless one is already recorded.
// It returns the streak's start as stored.
func (s *Store) MarkFailing(ctx context.Context, project, id string, at time.Time) (time.Time, error) {
	return s.WriteHealth(ctx, project, id, time.Time{}, at, false)
}

// MarkRetrying records a retryable failure at `at`: it starts the failure streak if none is
// running, and the retrying streak the circuit breaker opens on (webhook.RetryingSince). It
// returns the failure streak's start.
func (s *Store) MarkRetrying(ctx context.Context, project, id string, at time.Time) (time.Time, error) {
	return s.WriteHealth(ctx, project, id, time.Time{}, at, true)
}

// WriteHealth changes a webhook's streaks in one transaction (and so one write at most): a
// success at okAt ends a failure streak that began no later than it (a streak that began after
// it, failures another instance saw after the success, is left alone: erasing it would postpone
// the auto-disable), and ends a pause too (an open circuit's wait for its next probe, or a
// Retry-After: the endpoint answers); then a failure at failAt starts the failure streak if none
// is running, and the retrying streak if it was retryable. Either time may be zero. It returns the
// failure streak's start as stored. Callers write only on health changes, never per attempt
// (shared/delivery/health.go); a write to a document written less than HealthEvery ago is not
// made: ErrDebounced.
func (s *Store) WriteHealth(ctx context.Context, project, id string, okAt, failAt time.Time, retrying bool) (time.Time, error) {
	ref := s.webhooks(project).Doc(id)
	var since time.Time
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		w, err := txWebhook(tx, ref)
		if err != nil {
			return err
		}
		since = w.FailingSince
		retryingSince, endPause := w.RetryingSince, false
		if !okAt.IsZero() && !since.IsZero() && !since.After(okAt) {
			since, retryingSince, endPause = time.Time{}, time.Time{}, !w.PausedUntil.IsZero()
		}
		if !failAt.IsZero() {
			if since.IsZero() {
				since = failAt
			}
			if retrying && retryingSince.IsZero() {
				retryingSince = failAt
			}
		}
		var updates []firestore.Update
		if !since.Equal(w.FailingSince) {
			updates = append(updates, firestore.Update{Path: "failing_since", Value: since})
		}
		if !retryingSince.Equal(w.RetryingSince) {
			updates = append(updates, firestore.Update{Path: "retrying_since", Value: retryingSince})
		}
		if endPause {
			updates = append(updates, firestore.Update{Path: "paused_until", Value: time.Time{}})
		}
		if len(updates) == 0 {
			return nil
		}
		if err := debounced(w); err != nil {
			return err
		}
		return tx.Update(ref, updates)
	})
	if err != nil {
		return since, notFound(err, "webhook health "+webhook.Name(project, id))
	}
	return since, nil
}

// PauseUntil records that a webhook's endpoint asked for nothing before until (its Retry-After),
// unless a later pause is recorded already. It returns the pause as stored. Called only when the
// cached copy shows an earlier pause, so the transaction runs once per Retry-After that moves the
// pause, not per attempt.
func (s *Store) PauseUntil(ctx context.Context, project, id string, until time.Time) (time.Time, error) {
	ref := s.webhooks(project).Doc(id)
	stored := until
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		w, err := txWebhook(tx, ref)
		if err != nil {
			return err
		}
		if !w.PausedUntil.Before(until) {
			stored = w.PausedUntil
			return nil
		}
		stored = until
		return tx.Update(ref, []firestore.Update{{Path: "paused_until", Value: until}})
	})
	if err != nil {
		return stored, notFound(err, "pause webhook "+webhook.Name(project, id))
	}
	return stored, nil
}

// ClaimProbe claims the probe of a webhook whose circuit is open: unless the stored copy is
// paused past now (another instance claimed it, or a Retry-After), paused_until moves to next and
// probe is true. A webhook whose streak ended meanwhile is not written (probe true, until zero).
// Otherwise probe is false and until is the stored pause to wait for.
func (s *Store) ClaimProbe(ctx context.Context, project, id string, now, next time.Time) (probe bool, until time.Time, err error) {
	ref := s.webhooks(project).Doc(id)
	err = s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		w, err := txWebhook(tx, ref)
		if err != nil {
			return err
		}
		switch {
		case w.PausedUntil.After(now):
			probe, until = false, w.PausedUntil
			return nil
		case w.RetryingSince.IsZero():
			probe, until = true, time.Time{}
			return nil
		}
		probe, until = true, next
		return tx.Update(ref, []firestore.Update{{Path: "paused_until", Value: next}})
	})
	if err != nil {
		return false, time.Time{}, notFound(err, "claim the probe of webhook "+webhook.Name(project, id))
	}
	return probe, until, nil
}

// MarkHealthy ends the failure streak of a webhook after a success at `at` (WriteHealth).
func (s *Store) MarkHealthy(ctx context.Context, project, id string, at time.Time) error {
	_, err := s.WriteHealth(ctx, project, id, at, time.Time{}, false)
	return err
}

// RestartStreak moves the start of a webhook's failure streak forward to `from` (the latest
// success, found after the streak had begun), if the streak began before it.
func (s *Store) RestartStreak(ctx context.Context, project, id string, from time.Time) error {
	return s.setStreak(ctx, project, id, func(since time.Time) (time.Time, bool) {
		return from, !since.IsZero() && since.Before(from)
	})
}

// setStreak rewrites failing_since in a transaction when change says so. It runs on health
// changes only, never per delivery, so the transaction is rare on any one webhook.
func (s *Store) setStreak(ctx context.Context, project, id string, change func(since time.Time) (time.Time, bool)) error {
	ref := s.webhooks(project).Doc(id)
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		w, err := txWebhook(tx, ref)
		if err != nil {
			return err
		}
		next, ok := change(w.FailingSince)
		if !ok {
			return nil
		}
		updates := []firestore.Update{{Path: "failing_since", Value: next}}
		// The retrying streak ends with the failure streak, and never starts before it.
		switch {
		case next.IsZero() && !w.RetryingSince.IsZero():
			updates = append(updates, firestore.Update{Path: "retrying_since", Value: time.Time{}})
		case !next.IsZero() && !w.RetryingSince.IsZero() && w.RetryingSince.Before(next):
			updates = append(updates, firestore.Update{Path: "retrying_since", Value: next})
		}
		return tx.Update(ref, updates)
	})
	if err != nil {
		return notFound(err, "webhook health "+webhook.Name(project, id))
	}
	return nil
}

// SetAllowedInFlight rewrites a webhook's lowered in-flight bound (webhook.AllowedInFlight) in a
// transaction, as change decides from the stored copy: a 429 halves it, successes grow it back.
// It returns the bound as stored. Runs at most once per step (config.Config.InFlightStep) per
// webhook for each instance, never per delivery.
func (s *Store) SetAllowedInFlight(ctx context.Context, project, id string, at time.Time, change func(webhook.Webhook) (int, bool)) (int, error) {
	ref := s.webhooks(project).Doc(id)
	var stored int
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		w, err := txWebhook(tx, ref)
		if err != nil {
			return err
		}
		n, ok := change(w)
		stored = n
		if !ok || n == w.AllowedInFlight {
			stored = w.AllowedInFlight
			return nil
		}
		return tx.Update(ref, []firestore.Update{{Path: "allowed_in_flight", Value: n}, {Path: "allowed_in_flight_time", Value: at}})
	})
	if err != nil {
		return stored, notFound(err, "set the in-flight bound of webhook "+webhook.Name(project, id))
	}
	return stored, nil
}

// DisableForFailures moves an enabled webhook to DISABLED_DUE_TO_FAILED_DELIVERIES with a reason.
// A webhook that is no longer enabled is left as it is.
func (s *Store) DisableForFailures(ctx context.Context, project, id, reason string, at time.Time) error {
	return s.disable(ctx, project, id, reason, at, nil)
}

// DisableAfterStreak is DisableForFailures for the auto-disable: it disables only if the
// webhook's failure streak is still the one that began at streak. A user who fixed the webhook
// meanwhile (a new URL, a re-enable: both reset the streak) is not overruled by an instance
// whose cached copy still shows the old streak.
func (s *Store) DisableAfterStreak(ctx context.Context, project, id, reason string, streak, at time.Time) error {
	return s.disable(ctx, project, id, reason, at, &streak)
}

// DisableGone is DisableForFailures for a 410 Gone answered by url to a delivery queued at
// queued: it disables only if the webhook still has that URL and is still the incarnation the
// delivery was queued for. A copy cached by an instance (up to one TTL old) may send to a URL the
// user has since left, often because that endpoint was going away; its 410 is not the new URL's.
func (s *Store) DisableGone(ctx context.Context, project, id, url string, queued, at time.Time) error {
	return s.disableIf(ctx, project, id, "endpoint answered 410 Gone", at, func(w webhook.Webhook) bool {
		return w.URL == url && w.Owns(queued)
	})
}

func (s *Store) disable(ctx context.Context, project, id, reason string, at time.Time, streak *time.Time) error {
	return s.disableIf(ctx, project, id, reason, at, func(w webhook.Webhook) bool {
		return streak == nil || w.FailingSince.Equal(*streak)
	})
}

// disableIf disables the webhook if it is enabled and still holds for it as it is now.
func (s *Store) disableIf(ctx context.Context, project, id, reason string, at time.Time, still func(webhook.Webhook) bool) error {
	ref := s.webhooks(project).Doc(id)
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		w, err := txWebhook(tx, ref)
		if err != nil {
			return err
		}
		if w.State != webhook.Enabled || !still(w) {
			return nil
		}
		return tx.Update(ref, []firestore.Update{
			{Path: "state", Value: string(webhook.DisabledDueToFailedDeliveries)},
			{Path: "disabled_reason", Value: reason},
			{Path: "update_time", Value: at},
		})
	})
	if err != nil {
		return notFound(err, "disable webhook "+webhook.Name(project, id))
	}
	return nil
}

// txWebhook reads a webhook inside a transaction.
func txWebhook(tx *firestore.Transaction, ref *firestore.DocumentRef) (webhook.Webhook, error) {
	var w webhook.Webhook
	snap, err := tx.Get(ref)
	if err != nil {
		return w, err
	}
	w.ReadTime, w.WriteTime = snap.ReadTime, snap.UpdateTime
	return w, snap.DataTo(&w)
}

// HealthEvery is how often at most a webhook's health (its failure and retrying streaks) is
// written, across every instance: Firestore sustains about one write a second on one document,
// and a flapping endpoint seen by a hundred instances would otherwise have each of them write
// its every flip.
const HealthEvery = time.Second

// ErrDebounced is a health write not made because the webhook's document was written less than
// HealthEvery ago; the caller keeps the change and writes it after (shared/delivery/health.go).
var ErrDebounced = errors.New("the webhook was written less than a second ago")

// debounced says whether w, read in a transaction, was written too recently for a health write.
// Both times are Firestore's: no instance's clock decides.
func debounced(w webhook.Webhook) error {
	if w.ReadTime.Sub(w.WriteTime) < HealthEvery {
		return ErrDebounced
	}
	return nil
}
