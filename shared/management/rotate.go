package management

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jobhooks/jobhooks/shared/secrets"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// Revocation says what happens to a webhook's previous secrets when a new one is made.
type Revocation int

const (
	// RevokeAfter24h keeps the previous secrets signing for RotationGrace (the default): receivers
	// verify with either secret while they switch, since every delivery carries a signature per
	// active secret, newest first.
	RevokeAfter24h Revocation = iota
	// RevokeImmediately drops the previous secrets at once, e.g. after a leak.
	RevokeImmediately
)

const (
	// RotationGrace is how long previous secrets keep signing after a RevokeAfter24h rotation.
	RotationGrace = 24 * time.Hour
	// MaxActiveSecrets bounds the secrets a webhook signs with: a few rotations in a row never
	// make every delivery carry a long tail of signatures (Svix keeps a handful too).
	MaxActiveSecrets = 5
)

// RotateSigningSecret gives a webhook a new signing secret and returns it (shown once). With
// RevokeAfter24h every unexpired previous secret expires RotationGrace from now, or earlier if it
// already would; with RevokeImmediately they are dropped. Expired secrets are dropped, and of the
// rest only the newest MaxActiveSecrets are kept.
func (s *Service) RotateSigningSecret(ctx context.Context, project, id string, how Revocation) (secrets.Secret, error) {
	if !ValidWebhookID(id) {
		return secrets.Secret{}, notFound(webhook.Name(project, id))
	}
	// Seal before the transaction: the ciphertext depends only on the webhook's name, and a
	// Secret Manager read has no place inside a Firestore transaction.
	sec, err := secrets.Generate()
	if err != nil {
		return secrets.Secret{}, err
	}
	sealed, err := s.Keyring.SealSecret(ctx, sec, webhook.Name(project, id))
	if err != nil {
		return secrets.Secret{}, err
	}
	now := s.now()
	_, err = s.Store.UpdateWebhook(ctx, project, id, func(w *webhook.Webhook) error {
		w.Secrets = rotate(w.Secrets, webhook.Secret{Sealed: sealed, Truncated: sec.Truncated(), CreateTime: now}, how, now)
		w.UpdateTime = now
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return secrets.Secret{}, notFound(webhook.Name(project, id))
	}
	if err != nil {
		return secrets.Secret{}, err
	}
	s.Log.InfoContext(ctx, "webhook signing secret rotated", "project", project, "webhook", id,
		"secret", sec.Truncated(), "previous_revoked_immediately", how == RevokeImmediately)
	return sec, nil
}

// rotate returns the secrets after adding next, newest first.
func rotate(old []webhook.Secret, next webhook.Secret, how Revocation, now time.Time) []webhook.Secret {
	out := []webhook.Secret{next}
	if how == RevokeAfter24h {
		until := now.Add(RotationGrace)
		for _, sec := range old {
			if !sec.ExpireTime.IsZero() && !now.Before(sec.ExpireTime) {
				continue // expired already
			}
			if sec.ExpireTime.IsZero() || sec.ExpireTime.After(until) {
				sec.ExpireTime = until
			}
			out = append(out, sec)
		}
	}
	slices.SortStableFunc(out, func(a, b webhook.Secret) int { return b.CreateTime.Compare(a.CreateTime) })
	if len(out) > MaxActiveSecrets {
		out = out[:MaxActiveSecrets]
	}
	return out
}
