// Package apikeys issues, revokes and checks the API keys of the management API
// (shared/restapi/README.md, The management API).
//
// A key is "jh_" followed by the unpadded base64url of 32 random bytes. It belongs to exactly
// one project. Only its SHA-256 hash is stored (store.APIKey, apikeys/{hash}): the key itself is
// shown once, to the operator who creates it, and never stored, logged or put in an error.
//
// An [Authenticator] caches each valid key's project per instance for at most its TTL (30 s by
// default, never more): a revoked key stops working everywhere within that time. A well-formed
// key the store does not have is remembered as unknown for MissTTL (5 s), so repeating one
// costs at most one store read per instance in that time, not one per request
// (shared/delivery/README.md, Security); a new key therefore works within 5 s on an instance
// that was asked for it before it existed, and at once on the others.
package apikeys

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jobhooks/jobhooks/shared/cache"
	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/store"
)

// Prefix starts every key, so a leaked key is recognisable (secret scanners, log review).
const Prefix = "jh_"

// keyBytes is the entropy of a key.
const keyBytes = 32

// MaxTTL is the longest a key's project is cached (shared/delivery/README.md, Guarantees: changes
// take effect within 30 s).
const MaxTTL = 30 * time.Second

// MissTTL is how long an instance remembers that a well-formed key is unknown. The entries last
// so briefly that the memory they take is bounded by the request rate times MissTTL.
const MissTTL = 5 * time.Second

// ErrInvalid is returned for a key that is malformed, unknown or revoked. It never carries the key.
var ErrInvalid = errors.New("apikeys: API key not valid")

// Hash is the stored form of a key: lower-case hex SHA-256.
func Hash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// wellFormed reports whether key has the shape of a key this package issues. It spares the
// store a read for strings that cannot be keys.
func wellFormed(key string) bool {
	rest, ok := strings.CutPrefix(key, Prefix)
	if !ok || len(rest) != base64.RawURLEncoding.EncodedLen(keyBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	return err == nil
}

// Create issues a new key for project and stores its hash. The returned key is the only copy.
func Create(ctx context.Context, st *store.Store, project string, now time.Time) (string, error) {
	if !event.ValidProject(project) {
		return "", fmt.Errorf("apikeys: project %q must match [a-z][a-z0-9-]{0,62}", project)
	}
	raw := make([]byte, keyBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("apikeys: generate: %w", err)
	}
	key := Prefix + base64.RawURLEncoding.EncodeToString(raw)
	if err := st.CreateAPIKey(ctx, store.APIKey{Hash: Hash(key), Project: project, CreateTime: now.UTC()}); err != nil {
		return "", fmt.Errorf("apikeys: %w", err)
	}
	return key, nil
}

// Revoke deletes a key. ErrInvalid if no such key is stored.
func Revoke(ctx context.Context, st *store.Store, key string) error {
	err := st.DeleteAPIKey(ctx, Hash(strings.TrimSpace(key)))
	if errors.Is(err, store.ErrNotFound) {
		return ErrInvalid
	}
	if err != nil {
		return fmt.Errorf("apikeys: revoke: %w", err)
	}
	return nil
}

// Authenticator resolves keys to projects. One per instance; safe for concurrent use.
type Authenticator struct {
	store *store.Store
	// projects caches valid keys, by hash: the map never holds a key.
	projects *cache.TTL[string, string]
	// unknown holds the hashes of well-formed keys the store did not have, for MissTTL.
	unknown *cache.TTL[string, struct{}]
}

// NewAuthenticator returns an authenticator caching for ttl, capped at MaxTTL. now is the clock
// (time.Now when nil).
func NewAuthenticator(st *store.Store, ttl time.Duration, now func() time.Time) *Authenticator {
	if ttl <= 0 || ttl > MaxTTL {
		ttl = MaxTTL
	}
	return &Authenticator{
		store:    st,
		projects: cache.New[string, string](ttl, now),
		unknown:  cache.New[string, struct{}](min(ttl, MissTTL), now),
	}
}

// Project returns the project key belongs to: ErrInvalid for a malformed, unknown or revoked
// key, another error when the store cannot be read.
func (a *Authenticator) Project(ctx context.Context, key string) (string, error) {
	if !wellFormed(key) {
		return "", ErrInvalid
	}
	return a.ProjectOfHash(ctx, Hash(key))
}

// ProjectOfHash is Project for the key whose Hash is hash, cached alike: a portal link names
// the key that issued it this way, and dies with it.
func (a *Authenticator) ProjectOfHash(ctx context.Context, hash string) (string, error) {
	if _, ok := a.unknown.Peek(hash); ok {
		return "", ErrInvalid
	}
	return a.projects.Get(hash, func() (string, error) {
		k, err := a.store.GetAPIKey(ctx, hash)
		if errors.Is(err, store.ErrNotFound) {
			a.unknown.Put(hash, struct{}{})
			return "", ErrInvalid
		}
		if err != nil {
			return "", fmt.Errorf("apikeys: look up key: %w", err)
		}
		return k.Project, nil
	})
}
