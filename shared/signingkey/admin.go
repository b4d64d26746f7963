package signingkey

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/jobhooks/jobhooks/shared/secrets"
)

// The operator's operations: Ensure, Rotate and Retire. Production runs them through
// scripts/signing-key; tests and the local stack call Ensure directly.

// Ensure makes the secret usable for alg: it creates the secret (automatic replication) if it is
// missing and adds a key for alg if no enabled version holds one, and publishes the public key
// set (Publish). It returns the newest key for alg. Idempotent; two callers racing may each add a key, which is harmless (both are published
// and the newest signs).
func (s *Source) Ensure(ctx context.Context, alg string) (Key, error) {
	if err := secrets.EnsureSecret(ctx, s.client, s.googleProject, s.secretID, "signing-key"); err != nil {
		return Key{}, err
	}
	s.Forget()
	set, err := s.Keys(ctx)
	if err != nil && !errors.Is(err, ErrNoKey) {
		return Key{}, err
	}
	if set != nil {
		if k, ok := set.Newest(alg); ok {
			// Publishing again repairs a publication that failed after an earlier rotation.
			return k, s.Publish(ctx)
		}
	}
	return s.Rotate(ctx, alg)
}

// Rotate adds a new key for alg as the newest version and returns it. From then on (within the
// cache TTL of each instance) v1a deliveries carry its signature first and the older keys'
// after it, jwt deliveries are signed with it alone, and the JWKS publishes it.
func (s *Source) Rotate(ctx context.Context, alg string) (Key, error) {
	priv, err := Generate(alg)
	if err != nil {
		return Key{}, err
	}
	k, err := FromPrivate(priv)
	if err != nil {
		return Key{}, err
	}
	payload, err := Marshal(priv)
	if err != nil {
		return Key{}, err
	}
	defer clear(payload)
	v, err := secrets.AddVersion(ctx, s.client, s.secretName, payload)
	if err != nil {
		return Key{}, err
	}
	_, k.Version, _ = strings.Cut(v.GetName(), "/versions/")
	k.Created = v.GetCreateTime().AsTime()
	s.Forget()
	return k, s.Publish(ctx)
}

// ErrTooSoon: Retire was asked to disable the older keys while the newest is younger than the
// minimum age, so receivers may not have fetched it yet.
var ErrTooSoon = errors.New("signingkey: the newest key is too young to retire the others")

// RetireOptions tune Retire.
type RetireOptions struct {
	// MinAge is how old the newest key must be before the others are disabled: long enough for
	// every receiver's cached JWKS to have picked it up. Zero skips the check.
	MinAge time.Duration
}

// Retire disables every enabled version but the newest and returns the keys it disabled. The
// versions are disabled, not destroyed: an operator can enable one again. Deliveries stop
// carrying their signatures and the JWKS stops publishing them within the cache TTL.
func (s *Source) Retire(ctx context.Context, opts RetireOptions) ([]Key, error) {
	s.Forget()
	set, err := s.Keys(ctx)
	if err != nil {
		return nil, err
	}
	newest := set.Keys[0]
	if age := s.now().Sub(newest.Created); opts.MinAge > 0 && age < opts.MinAge {
		return nil, fmt.Errorf("%w: %s was added %s ago; wait until it is %s old", ErrTooSoon, newest, age.Round(time.Second), opts.MinAge)
	}
	var retired []Key
	for _, k := range set.Keys[1:] {
		_, err := s.client.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{
			Name: s.secretName + "/versions/" + k.Version,
		})
		if err != nil {
			s.Forget()
			return retired, fmt.Errorf("signingkey: disable version %s of %s: %w", k.Version, s.secretName, err)
		}
		retired = append(retired, k)
	}
	s.Forget()
	return retired, s.Publish(ctx)
}
