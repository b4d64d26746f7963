package signingkey

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobhooks/jobhooks/shared/secrets"
)

// The ways reading the keys fails, besides ErrBadKey.
var (
	// ErrUnavailable: Secret Manager could not be read now. Retry later.
	ErrUnavailable = errors.New("signingkey: Secret Manager unavailable")
	// ErrNoKey: the secret is missing, has no enabled version, or none for the algorithm the
	// deployment signs with. An operator runs `scripts/signing-key init`.
	ErrNoKey = errors.New("signingkey: no enabled signing key")
)

// Defaults of Options.
const (
	DefaultCacheTTL     = 30 * time.Second
	DefaultFetchTimeout = 10 * time.Second
	// ListEvery is how often at most a Source that publishes its public set lists the versions
	// while that set is unchanged (each listing at a random point within ±20 % of it): changes
	// made through the Source (Ensure, Rotate, Retire) publish the set, and every instance sees
	// a new published version within CacheTTL and lists then; this bounds how late one made in
	// the Console is seen.
	ListEvery = 10 * time.Minute
)

// Options tunes a Source; the zero value is right for production.
type Options struct {
	// CacheTTL bounds how long a read key set is used; default DefaultCacheTTL. A key added or
	// disabled shows in signatures and in the JWKS within it.
	CacheTTL time.Duration
	// FetchTimeout bounds one reading of the key set; default DefaultFetchTimeout.
	FetchTimeout time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// PublicSecretID names the secret that Ensure, Rotate and Retire publish the public key set
	// to (config.SigningJWKSSecret; see Publish). Empty publishes nothing.
	PublicSecretID string
}

// Source reads the signing keys of one Secret Manager secret. Create one per instance and share
// it: its cache keeps Secret Manager reads to one listing per TTL. Safe for concurrent use.
type Source struct {
	client        *secretmanager.Client
	googleProject string
	secretID      string
	secretName    string
	publicID      string
	publicName    string // "" when nothing is published
	ttl           time.Duration
	fetchTimeout  time.Duration
	now           func() time.Time

	flights singleflight.Group

	mu        sync.Mutex
	set       *Set
	byVersion map[string]Key // parsed keys of the versions enabled at the last listing
	// published is the version of the public set read just before the last listing, and relist
	// when the next listing is due however the public set stands.
	published string
	relist    time.Time
}

// Set is the enabled keys at one reading, newest first. It is immutable.
type Set struct {
	Keys []Key
	// Read is when the set was read from Secret Manager.
	Read time.Time
}

// Newest returns the newest key for alg.
func (s *Set) Newest(alg string) (Key, bool) {
	for _, k := range s.Keys {
		if k.Algorithm == alg {
			return k, true
		}
	}
	return Key{}, false
}

// For returns every key for alg, newest first.
func (s *Set) For(alg string) []Key {
	var out []Key
	for _, k := range s.Keys {
		if k.Algorithm == alg {
			out = append(out, k)
		}
	}
	return out
}

// JWKS is the public key set: every enabled key's public half, newest first. Nothing private.
func (s *Set) JWKS() jose.JSONWebKeySet {
	out := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(s.Keys))}
	for _, k := range s.Keys {
		out.Keys = append(out.Keys, k.PublicJWK())
	}
	return out
}

var (
	projectIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.:-]*[a-z0-9]$`)
	secretIDPattern  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	versionPattern   = regexp.MustCompile(`^[1-9][0-9]{0,18}$`)
)

// New returns a Source of secret secretID in Google Cloud project googleProject. It does not
// contact Secret Manager; the first Keys does.
func New(client *secretmanager.Client, googleProject, secretID string, opts Options) (*Source, error) {
	if client == nil {
		return nil, errors.New("signingkey: New needs a Secret Manager client")
	}
	if !projectIDPattern.MatchString(googleProject) {
		return nil, fmt.Errorf("signingkey: %q is not a Google Cloud project id", googleProject)
	}
	if !secretIDPattern.MatchString(secretID) {
		return nil, fmt.Errorf("signingkey: %q is not a Secret Manager secret id", secretID)
	}
	if opts.PublicSecretID != "" && (!secretIDPattern.MatchString(opts.PublicSecretID) || opts.PublicSecretID == secretID) {
		return nil, fmt.Errorf("signingkey: %q is not a Secret Manager secret id apart from the private keys'", opts.PublicSecretID)
	}
	s := &Source{
		client: client, googleProject: googleProject, secretID: secretID,
		secretName: "projects/" + googleProject + "/secrets/" + secretID,
		ttl:        opts.CacheTTL, fetchTimeout: opts.FetchTimeout, now: opts.Now,
		byVersion: map[string]Key{},
	}
	if opts.PublicSecretID != "" {
		s.publicID, s.publicName = opts.PublicSecretID, "projects/"+googleProject+"/secrets/"+opts.PublicSecretID
	}
	if s.ttl <= 0 {
		s.ttl = DefaultCacheTTL
	}
	if s.fetchTimeout <= 0 {
		s.fetchTimeout = DefaultFetchTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// SecretName is projects/{project}/secrets/{secret}.
func (s *Source) SecretName() string { return s.secretName }

// Keys returns the enabled keys, from the cache when it is younger than the TTL. Concurrent
// callers that miss share one reading, which runs on its own deadline: one impatient caller
// does not fail the others.
func (s *Source) Keys(ctx context.Context) (*Set, error) {
	return sharedRead(ctx, &s.flights, s.cached, s.read, s.fetchTimeout, s.secretName)
}

// sharedRead returns cached() while it is fresh (non-nil); otherwise one read shared by every
// concurrent caller that missed, on a deadline of its own, so that one impatient caller does
// not fail the others. A caller whose context ends first gets ErrUnavailable.
func sharedRead[T any](ctx context.Context, flights *singleflight.Group, cached func() *T,
	read func(context.Context) (*T, error), timeout time.Duration, name string) (*T, error) {
	if v := cached(); v != nil {
		return v, nil
	}
	ch := flights.DoChan("keys", func() (any, error) {
		if v := cached(); v != nil {
			return v, nil
		}
		readCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		return read(readCtx)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*T), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: reading %s: %w", ErrUnavailable, name, context.Cause(ctx))
	}
}

// Forget drops the cached set, so the next Keys reads Secret Manager (after this process
// rotated or retired a key).
func (s *Source) Forget() {
	s.mu.Lock()
	s.set = nil
	s.mu.Unlock()
}

func (s *Source) cached() *Set {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set != nil && s.now().Sub(s.set.Read) < s.ttl {
		return s.set
	}
	return nil
}

// read returns the enabled keys once the cached set is older than the TTL. Secret Manager allows
// a project 600 read requests (gets and lists) a minute, which listing every TTL on each
// instance would exhaust at 300 instances, but 90,000 accesses: so while the published public
// set is the version it was at the last listing, and that listing is not older than ListEvery,
// the set is kept with one access instead (terraform/README.md, Scale: what a busy tenant hits first). A listing that
// fails while a set is known keeps that set, tried again after the TTL: at a rotation every
// instance lists within one TTL, and those refused by the quota list in the minutes after.
func (s *Source) read(ctx context.Context) (*Set, error) {
	s.mu.Lock()
	old, published, relist := s.set, s.published, s.relist
	s.mu.Unlock()
	now := s.now()
	version := ""
	if s.publicName != "" {
		version = s.publishedVersion(ctx)
		if old != nil && version != "" && version == published && now.Before(relist) {
			return s.keep(old, now), nil
		}
	}
	set, err := s.list(ctx)
	switch {
	case err == nil:
		s.mu.Lock()
		s.published = version
		s.relist = now.Add(time.Duration(float64(ListEvery) * (0.8 + 0.4*rand.Float64())))
		s.mu.Unlock()
		return set, nil
	case old != nil && errors.Is(err, ErrUnavailable):
		return s.keep(old, now), nil
	}
	return nil, err
}

// keep serves old again for a TTL from now.
func (s *Source) keep(old *Set, now time.Time) *Set {
	set := &Set{Keys: old.Keys, Read: now}
	s.mu.Lock()
	s.set = set
	s.mu.Unlock()
	return set
}

// publishedVersion is the version number of the public set's latest version, "" when it cannot
// be read (then the caller lists).
func (s *Source) publishedVersion(ctx context.Context) string {
	resp, err := s.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: s.publicName + "/versions/latest"})
	if err != nil {
		return ""
	}
	_, n, _ := strings.Cut(resp.GetName(), "/versions/")
	return n
}

// list lists the enabled versions and parses each, reusing keys parsed at earlier readings.
func (s *Source) list(ctx context.Context) (*Set, error) {
	versions, err := s.enabledVersions(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	known := s.byVersion
	s.mu.Unlock()
	set := &Set{Read: s.now()}
	current := make(map[string]Key, len(versions))
	for _, v := range versions {
		k, ok := known[v.number]
		if !ok {
			k, err = s.access(ctx, v)
			if errors.Is(err, errGone) {
				continue // disabled or destroyed since the listing
			}
			if err != nil {
				return nil, err
			}
		}
		current[v.number] = k
		set.Keys = append(set.Keys, k)
	}
	if len(set.Keys) == 0 {
		return nil, fmt.Errorf("%w: %s has no enabled version (run scripts/signing-key init)", ErrNoKey, s.secretName)
	}
	s.mu.Lock()
	// Keys of versions no longer enabled are dropped here: a retired key leaves memory too.
	s.byVersion, s.set = current, set
	s.mu.Unlock()
	return set, nil
}

// version is one listed version.
type version struct {
	number  string
	created time.Time
}

// errGone: a listed version was disabled or destroyed before it was read.
var errGone = errors.New("signingkey: version no longer enabled")

// enabledVersions lists the enabled versions, newest (highest number) first.
func (s *Source) enabledVersions(ctx context.Context) ([]version, error) {
	it := s.client.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{
		Parent: s.secretName, Filter: "state:ENABLED",
	})
	var out []version
	for {
		v, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if status.Code(err) == codes.NotFound {
			return nil, fmt.Errorf("%w: secret %s does not exist (run scripts/signing-key init)", ErrNoKey, s.secretName)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: listing versions of %s: %w", ErrUnavailable, s.secretName, err)
		}
		_, n, _ := strings.Cut(v.GetName(), "/versions/")
		if v.GetState() != secretmanagerpb.SecretVersion_ENABLED || !versionPattern.MatchString(n) {
			continue
		}
		out = append(out, version{number: n, created: v.GetCreateTime().AsTime()})
	}
	slices.SortFunc(out, func(a, b version) int {
		x, _ := strconv.ParseUint(a.number, 10, 64)
		y, _ := strconv.ParseUint(b.number, 10, 64)
		switch {
		case x > y:
			return -1
		case x < y:
			return 1
		}
		return 0
	})
	return out, nil
}

// access reads and parses one version.
func (s *Source) access(ctx context.Context, v version) (Key, error) {
	name := s.secretName + "/versions/" + v.number
	resp, err := s.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name})
	switch status.Code(err) {
	case codes.OK:
	case codes.NotFound, codes.FailedPrecondition:
		return Key{}, errGone
	default:
		return Key{}, fmt.Errorf("%w: reading %s: %w", ErrUnavailable, name, err)
	}
	data := resp.GetPayload().GetData()
	defer clear(data)
	if secrets.Corrupted(resp.GetPayload()) {
		return Key{}, fmt.Errorf("%w: %s arrived corrupted (checksum mismatch)", ErrUnavailable, name)
	}
	k, err := Parse(data)
	if err != nil {
		return Key{}, fmt.Errorf("version %s of %s: %w (disable that version)", v.number, s.secretName, err)
	}
	k.Version, k.Created = v.number, v.created
	return k, nil
}
