package signingkey

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobhooks/jobhooks/shared/secrets"
)

// The public key set is published beside the private keys: a second secret whose newest version
// is the JWKS document of every enabled key. The JWKS function, public and unauthenticated, may
// read only that secret, so a flaw in it cannot leak a private key (terraform/README.md, What
// was decided, and why). Ensure, Rotate and Retire publish it whenever a Source has a PublicSecretID.

// PublicSet is a published key set: public keys only.
type PublicSet struct {
	JWKS jose.JSONWebKeySet
	// Read is when the set was read from Secret Manager.
	Read time.Time
}

// Public returns the set's public half.
func (s *Set) Public() *PublicSet { return &PublicSet{JWKS: s.JWKS(), Read: s.Read} }

// Publish writes the current key set's public half as the newest version of the public secret,
// creating the secret if missing; it adds no version when the newest already holds that
// document. A Source without a PublicSecretID publishes nothing.
func (s *Source) Publish(ctx context.Context) error {
	if s.publicName == "" {
		return nil
	}
	s.Forget()
	set, err := s.Keys(ctx)
	if err != nil {
		return err
	}
	doc, err := json.Marshal(set.JWKS())
	if err != nil {
		return fmt.Errorf("signingkey: render the JWKS: %w", err)
	}
	if err := secrets.EnsureSecret(ctx, s.client, s.googleProject, s.publicID, "signing-jwks"); err != nil {
		return err
	}
	latest, err := s.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: s.publicName + "/versions/latest"})
	if err == nil && bytes.Equal(latest.GetPayload().GetData(), doc) {
		return nil
	}
	if _, err := secrets.AddVersion(ctx, s.client, s.publicName, doc); err != nil {
		return fmt.Errorf("signingkey: publish the public keys to %s (run scripts/signing-key init to retry): %w", s.publicName, err)
	}
	return nil
}

// PublicSource reads the published key set (the newest version of the public secret). It needs
// only roles/secretmanager.secretAccessor on that secret. Safe for concurrent use; one reading
// per TTL.
type PublicSource struct {
	client       *secretmanager.Client
	name         string
	ttl          time.Duration
	fetchTimeout time.Duration
	now          func() time.Time

	flights singleflight.Group
	mu      sync.Mutex
	set     *PublicSet
}

// NewPublic returns a PublicSource of secret secretID in project googleProject; opts as for New.
func NewPublic(client *secretmanager.Client, googleProject, secretID string, opts Options) (*PublicSource, error) {
	if client == nil {
		return nil, errors.New("signingkey: NewPublic needs a Secret Manager client")
	}
	if !projectIDPattern.MatchString(googleProject) {
		return nil, fmt.Errorf("signingkey: %q is not a Google Cloud project id", googleProject)
	}
	if !secretIDPattern.MatchString(secretID) {
		return nil, fmt.Errorf("signingkey: %q is not a Secret Manager secret id", secretID)
	}
	p := &PublicSource{
		client: client, name: "projects/" + googleProject + "/secrets/" + secretID,
		ttl: opts.CacheTTL, fetchTimeout: opts.FetchTimeout, now: opts.Now,
	}
	if p.ttl <= 0 {
		p.ttl = DefaultCacheTTL
	}
	if p.fetchTimeout <= 0 {
		p.fetchTimeout = DefaultFetchTimeout
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p, nil
}

// Keys returns the published set, from the cache when it is younger than the TTL.
func (p *PublicSource) Keys(ctx context.Context) (*PublicSet, error) {
	return sharedRead(ctx, &p.flights, p.cached, p.read, p.fetchTimeout, p.name)
}

func (p *PublicSource) cached() *PublicSet {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.set != nil && p.now().Sub(p.set.Read) < p.ttl {
		return p.set
	}
	return nil
}

func (p *PublicSource) read(ctx context.Context) (*PublicSet, error) {
	resp, err := p.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: p.name + "/versions/latest"})
	switch status.Code(err) {
	case codes.OK:
	case codes.NotFound, codes.FailedPrecondition:
		return nil, fmt.Errorf("%w: %s has no enabled version (run scripts/signing-key init)", ErrNoKey, p.name)
	default:
		return nil, fmt.Errorf("%w: reading %s: %w", ErrUnavailable, p.name, err)
	}
	data := resp.GetPayload().GetData()
	if secrets.Corrupted(resp.GetPayload()) {
		return nil, fmt.Errorf("%w: %s arrived corrupted (checksum mismatch)", ErrUnavailable, p.name)
	}
	set := &PublicSet{Read: p.now()}
	if err := json.Unmarshal(data, &set.JWKS); err != nil {
		return nil, fmt.Errorf("%w: %s is not a JWKS document: %w", ErrBadKey, p.name, err)
	}
	for _, k := range set.JWKS.Keys {
		// Refuse rather than serve: a private key in this secret was put there by mistake.
		if !k.IsPublic() {
			return nil, fmt.Errorf("%w: %s holds a private key (kid %q); publish again with scripts/signing-key init", ErrBadKey, p.name, k.KeyID)
		}
	}
	p.mu.Lock()
	p.set = set
	p.mu.Unlock()
	return set, nil
}
