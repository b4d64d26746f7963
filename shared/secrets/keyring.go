package secrets

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"golang.org/x/sync/singleflight"
)

// The three ways Seal and Open fail. Each error returned by a Keyring matches exactly one of them
// with errors.Is, except misuse (an empty associated data, a zero Secret), which matches none.
var (
	// ErrUnavailable: Secret Manager could not be read now (unreachable, timed out, overloaded,
	// permission denied, the caller's context ended). Nothing is wrong with the data: retry later.
	ErrUnavailable = errors.New("secrets: Secret Manager unavailable")
	// ErrKEKVersionUnusable: the KEK version needed does not exist, is disabled or destroyed, or is
	// not a 32-byte key; or, for Seal, the KEK secret has no enabled version. Retrying does not
	// help until an operator acts.
	ErrKEKVersionUnusable = errors.New("secrets: key-encryption key version unusable")
	// ErrDecrypt: the ciphertext does not authenticate under its KEK version and associated data —
	// it was tampered with, belongs to another webhook, or is truncated. Final.
	ErrDecrypt = errors.New("secrets: sealed secret does not decrypt")
)

// Sealed is a secret encrypted for storage. It is safe to store and to log: it reveals nothing
// without the KEK.
type Sealed struct {
	// KEKVersion is the number of the KEK version that sealed Ciphertext, e.g. "3".
	KEKVersion string `firestore:"kek_version"`
	// Ciphertext is a 12-byte random nonce followed by the AES-256-GCM sealed plaintext and tag.
	Ciphertext []byte `firestore:"ciphertext"`
}

const (
	kekSize   = 32 // AES-256
	nonceSize = 12 // GCM's standard nonce
	tagSize   = 16

	// DefaultCacheTTL bounds how long a KEK read from Secret Manager is used without reading it
	// again (shared/delivery/README.md, Guarantees: changes take effect everywhere within 30 s).
	DefaultCacheTTL = 30 * time.Second
	// DefaultFetchTimeout bounds one read of Secret Manager, retries included.
	DefaultFetchTimeout = 10 * time.Second
)

// KeyringOptions tunes a Keyring; the zero value is right for production.
type KeyringOptions struct {
	// CacheTTL is the longest a KEK is used after it was read; default DefaultCacheTTL. A negative
	// value turns the cache off: every Seal and Open reads Secret Manager.
	CacheTTL time.Duration
	// FetchTimeout bounds one Secret Manager read; default DefaultFetchTimeout. A read is shared by
	// the concurrent callers that need it and is not cut short when one of them gives up.
	FetchTimeout time.Duration
}

// Keyring seals and opens secrets with the key-encryption keys held in one Secret Manager secret.
// Create one per instance and share it: its cache is what keeps Secret Manager reads rare.
type Keyring struct {
	client        *secretmanager.Client
	googleProject string
	kekSecretID   string
	secretName    string // projects/{project}/secrets/{secret}
	ttl           time.Duration
	fetchTimeout  time.Duration
	now           func() time.Time // replaced by tests

	flights singleflight.Group

	mu        sync.Mutex
	latest    *kek            // the newest enabled version, as last resolved
	byVersion map[string]*kek // every version read, by number
}

// kek is one KEK version ready to use. The raw key bytes are not kept; only the cipher is.
type kek struct {
	version string
	aead    cipher.AEAD
	fetched time.Time
}

var (
	projectIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.:-]*[a-z0-9]$`)
	secretIDPattern  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	versionPattern   = regexp.MustCompile(`^[1-9][0-9]{0,18}$`)
)

// NewKeyring returns a Keyring for the KEK secret kekSecret of Google Cloud project googleProject.
// It does not contact Secret Manager; the first Seal or Open does.
func NewKeyring(client *secretmanager.Client, googleProject, kekSecret string, opts KeyringOptions) (*Keyring, error) {
	if client == nil {
		return nil, errors.New("secrets: NewKeyring needs a Secret Manager client")
	}
	if !projectIDPattern.MatchString(googleProject) {
		return nil, fmt.Errorf("secrets: %q is not a Google Cloud project id", googleProject)
	}
	if !secretIDPattern.MatchString(kekSecret) {
		return nil, fmt.Errorf("secrets: %q is not a Secret Manager secret id", kekSecret)
	}
	k := &Keyring{
		client:        client,
		googleProject: googleProject,
		kekSecretID:   kekSecret,
		secretName:    "projects/" + googleProject + "/secrets/" + kekSecret,
		ttl:           opts.CacheTTL,
		fetchTimeout:  opts.FetchTimeout,
		now:           time.Now,
		byVersion:     map[string]*kek{},
	}
	if k.ttl == 0 {
		k.ttl = DefaultCacheTTL
	}
	if k.fetchTimeout <= 0 {
		k.fetchTimeout = DefaultFetchTimeout
	}
	return k, nil
}

// Seal encrypts plaintext under the newest enabled KEK version, bound to aad, the resource name of
// the webhook the secret belongs to (projects/{p}/webhooks/{id}).
func (k *Keyring) Seal(ctx context.Context, plaintext []byte, aad string) (Sealed, error) {
	if aad == "" {
		return Sealed{}, errors.New("secrets: seal needs the webhook's resource name as associated data")
	}
	key, err := k.latestKEK(ctx)
	if err != nil {
		return Sealed{}, err
	}
	// Random nonces are safe here: a KEK seals one secret per webhook and rotation, far below
	// GCM's limit of 2^32 random nonces per key.
	out := make([]byte, nonceSize, nonceSize+len(plaintext)+tagSize)
	_, _ = rand.Read(out) // crypto/rand.Read never fails
	return Sealed{KEKVersion: key.version, Ciphertext: key.aead.Seal(out, out, plaintext, []byte(aad))}, nil
}

// Open decrypts s with the KEK version it records, checking that it was sealed for aad.
func (k *Keyring) Open(ctx context.Context, s Sealed, aad string) ([]byte, error) {
	if !versionPattern.MatchString(s.KEKVersion) {
		return nil, fmt.Errorf("%w: sealed secret of %s names KEK version %q, not a version number", ErrKEKVersionUnusable, aad, s.KEKVersion)
	}
	if len(s.Ciphertext) < nonceSize+tagSize || aad == "" {
		return nil, fmt.Errorf("%w: sealed secret of %s is truncated or has no associated data", ErrDecrypt, aad)
	}
	key, err := k.versionKEK(ctx, s.KEKVersion)
	if err != nil {
		return nil, err
	}
	plaintext, err := key.aead.Open(nil, s.Ciphertext[:nonceSize], s.Ciphertext[nonceSize:], []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("%w: sealed secret of %s with KEK version %s", ErrDecrypt, aad, s.KEKVersion)
	}
	return plaintext, nil
}

// SealSecret seals a webhook signing secret for the webhook named webhook.
func (k *Keyring) SealSecret(ctx context.Context, s Secret, webhook string) (Sealed, error) {
	if s.IsZero() {
		return Sealed{}, errors.New("secrets: cannot seal an empty signing secret")
	}
	return k.Seal(ctx, s.key, webhook)
}

// OpenSecret opens a webhook signing secret sealed by SealSecret for the webhook named webhook.
func (k *Keyring) OpenSecret(ctx context.Context, sealed Sealed, webhook string) (Secret, error) {
	key, err := k.Open(ctx, sealed, webhook)
	if err != nil {
		return Secret{}, err
	}
	if len(key) != SecretSize {
		clear(key)
		return Secret{}, fmt.Errorf("%w: sealed value of %s is not a %d-byte signing secret", ErrDecrypt, webhook, SecretSize)
	}
	return Secret{key: key}, nil
}

// fresh reports whether a cached KEK may still be used.
func (k *Keyring) fresh(e *kek) bool {
	return e != nil && k.ttl > 0 && k.now().Sub(e.fetched) < k.ttl
}

// latestKey is the cache and flight key of the newest enabled version; other keys are version
// numbers, which never collide with it.
const latestKey = "latest"

func (k *Keyring) latestKEK(ctx context.Context) (*kek, error) {
	return k.get(ctx, latestKey, k.readLatest)
}

func (k *Keyring) versionKEK(ctx context.Context, version string) (*kek, error) {
	return k.get(ctx, version, func(ctx context.Context) (*kek, error) {
		return k.readVersion(ctx, version)
	})
}

// cached returns the fresh cache entry for key, or nil.
func (k *Keyring) cached(key string) *kek {
	k.mu.Lock()
	defer k.mu.Unlock()
	e := k.byVersion[key]
	if key == latestKey {
		e = k.latest
	}
	if e == nil || k.ttl < 0 || k.now().Sub(e.fetched) >= k.ttl {
		return nil
	}
	return e
}

// get returns the KEK for key from the cache, or reads it once for all concurrent callers that
// miss it. The read runs on its own deadline, detached from any single caller's cancellation, so
// one impatient caller cannot fail the others; each caller still stops waiting when its ctx ends.
func (k *Keyring) get(ctx context.Context, key string, read func(context.Context) (*kek, error)) (*kek, error) {
	if e := k.cached(key); e != nil {
		return e, nil
	}
	if ctx.Err() != nil {
		// Decided here, not by the select below: a read that ends at once would race the
		// context's end there, and a caller that has given up must not start one.
		return nil, fmt.Errorf("%w: reading KEK %s: %w", ErrUnavailable, k.secretName, context.Cause(ctx))
	}
	ch := k.flights.DoChan(key, func() (any, error) {
		// A read that ended between the lookup above and DoChan has filled the cache already.
		if e := k.cached(key); e != nil {
			return e, nil
		}
		readCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.fetchTimeout)
		defer cancel()
		e, err := read(readCtx)
		k.store(key, e, err)
		return e, err
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*kek), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: reading KEK %s: %w", ErrUnavailable, k.secretName, context.Cause(ctx))
	}
}

// store caches a read KEK, or forgets a version that turned out unusable so that its key does not
// linger in memory. A transient failure leaves the cache as it is: entries expire on their own.
func (k *Keyring) store(key string, e *kek, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case err == nil && k.ttl < 0: // caching is off: keep no key material around
	case err == nil:
		k.byVersion[e.version] = e
		if key == latestKey {
			k.latest = e
		}
	case errors.Is(err, ErrKEKVersionUnusable) && key == latestKey:
		k.latest = nil
	case errors.Is(err, ErrKEKVersionUnusable):
		delete(k.byVersion, key)
	}
}

// forgetLatest makes the next Seal resolve the newest version again.
func (k *Keyring) forgetLatest() {
	k.mu.Lock()
	k.latest = nil
	k.mu.Unlock()
}
