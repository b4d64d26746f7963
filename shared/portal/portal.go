// Package portal issues and checks portal links: signed, expiring tokens that open the console
// (shared/restapi/README.md, Portal links) for one project without handing over an API key.
//
// A token is a compact JWS (HS256) whose key is a version of a Secret Manager secret
// (jobhooks-portal-key, 32 random bytes per version, created like the KEK); its kid header is
// that version's number. Its promises:
//   - A token names exactly one project, optionally a list of webhooks, and whether it is read
//     only; nothing else in a request can widen that scope.
//   - It names the API key that issued it (the key's SHA-256, claim kh) and the project's
//     portal-link generation when it was issued (claim gen), so that the caller can refuse it
//     once that key is revoked or the project's links are (shared/restapi/portal.go). A token
//     without kh is not valid: it could not die with its key.
//   - It expires at most MaxTTL after it was issued; an expired, tampered, malformed or foreign
//     token (signed by a key this deployment does not hold, or by a disabled version) is
//     ErrInvalid, and the error never carries the token.
//   - A kid that is not in the cached list of enabled versions is ErrInvalid without a Secret
//     Manager read (Keys): forging tokens costs the deployment nothing.
//   - Tokens are signed with the newest enabled key version and checked against the version
//     they name, so adding a version (scripts/portal-key rotate) keeps earlier links working
//     until they expire, and disabling a version revokes every link it signed within the cache
//     TTL.
//   - Safe for concurrent use; keys are cached per instance for at most the cache TTL.
package portal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// MaxTTL is the longest a link lives.
const MaxTTL = 24 * time.Hour

// MaxWebhooks is how many webhooks one link may name.
const MaxWebhooks = 100

// issuer and audience pin a token to this use: a JWS signed for anything else never opens the console.
const (
	issuer   = "jobhooks"
	audience = "jobhooks-console"
)

// ErrInvalid is every reason a token is refused: expired, tampered, malformed or foreign.
var ErrInvalid = errors.New("portal: link not valid")

// Scope is what a link grants.
type Scope struct {
	// Project is the one project the link reaches.
	Project string
	// Webhooks, when not empty, are the only webhooks of Project the link reaches.
	Webhooks []string
	// ReadOnly links cannot change anything.
	ReadOnly bool
	// Expire is when the link stops working.
	Expire time.Time
	// KeyHash is the SHA-256 (apikeys.Hash) of the API key that issued the link: the link dies
	// with that key. The hash of a 256-bit random key reveals nothing of it, and it is not a
	// credential: only the key itself authenticates.
	KeyHash string
	// Generation is the project's portal-link generation when the link was issued: revoking the
	// project's links raises it, and ends every link of an earlier one.
	Generation int64
}

// keyHashPattern is apikeys.Hash's form.
var keyHashPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Allows reports whether the scope reaches webhook id of its project.
func (s Scope) Allows(id string) bool {
	return len(s.Webhooks) == 0 || slices.Contains(s.Webhooks, id)
}

// claims are the token's payload.
type claims struct {
	jwt.Claims
	Webhooks []string `json:"webhooks,omitempty"`
	ReadOnly bool     `json:"read_only,omitempty"`
	KeyHash  string   `json:"kh"`
	Gen      int64    `json:"gen,omitempty"`
}

// Issuer signs and checks links. One per instance.
type Issuer struct {
	keys *Keys
	now  func() time.Time
}

// NewIssuer returns an issuer over keys; now is the clock (time.Now when nil).
func NewIssuer(keys *Keys, now func() time.Time) *Issuer {
	if now == nil {
		now = time.Now
	}
	return &Issuer{keys: keys, now: now}
}

// Issue signs a token for s, valid for ttl (at most MaxTTL), and returns it with its expiry.
func (i *Issuer) Issue(ctx context.Context, s Scope, ttl time.Duration) (string, time.Time, error) {
	if !event.ValidProject(s.Project) {
		return "", time.Time{}, fmt.Errorf("portal: project %q is not a project name", s.Project)
	}
	if ttl <= 0 || ttl > MaxTTL {
		return "", time.Time{}, fmt.Errorf("portal: ttl %s is not within (0, %s]", ttl, MaxTTL)
	}
	if len(s.Webhooks) > MaxWebhooks {
		return "", time.Time{}, fmt.Errorf("portal: %d webhooks, at most %d", len(s.Webhooks), MaxWebhooks)
	}
	if !keyHashPattern.MatchString(s.KeyHash) || s.Generation < 0 {
		return "", time.Time{}, errors.New("portal: a link needs the hash of the API key that issues it")
	}
	k, err := i.keys.latest(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: k.secret},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), k.version))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("portal: signer: %w", err)
	}
	now := i.now().UTC().Truncate(time.Second)
	expire := now.Add(ttl)
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	c := claims{
		Claims: jwt.Claims{
			Issuer: issuer, Audience: jwt.Audience{audience}, Subject: s.Project, ID: hex.EncodeToString(id),
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(expire),
		},
		Webhooks: s.Webhooks, ReadOnly: s.ReadOnly, KeyHash: s.KeyHash, Gen: s.Generation,
	}
	tok, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("portal: sign: %w", err)
	}
	return tok, expire, nil
}

// Check returns the scope of a valid token: ErrInvalid for an expired, tampered, malformed or
// foreign one; another error when the key cannot be read (worth retrying).
func (i *Issuer) Check(ctx context.Context, token string) (Scope, error) {
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.HS256})
	if err != nil || len(tok.Headers) != 1 || !versionPattern.MatchString(tok.Headers[0].KeyID) {
		return Scope{}, ErrInvalid
	}
	k, err := i.keys.version(ctx, tok.Headers[0].KeyID)
	if errors.Is(err, errNoSuchVersion) {
		return Scope{}, ErrInvalid
	}
	if err != nil {
		return Scope{}, err
	}
	var c claims
	if err := tok.Claims(k.secret, &c); err != nil {
		return Scope{}, ErrInvalid
	}
	now := i.now()
	// No leeway: the API that checks is the one that issued, on the same clocks.
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: issuer, AnyAudience: jwt.Audience{audience}, Time: now}, 0); err != nil {
		return Scope{}, ErrInvalid
	}
	if c.Expiry == nil || c.IssuedAt == nil || c.Expiry.Time().Sub(c.IssuedAt.Time()) > MaxTTL ||
		!event.ValidProject(c.Subject) || len(c.Webhooks) > MaxWebhooks ||
		!keyHashPattern.MatchString(c.KeyHash) || c.Gen < 0 {
		// A link made before links named their issuing key cannot die with it: not valid.
		return Scope{}, ErrInvalid
	}
	for _, w := range c.Webhooks {
		if !webhook.ValidID(w) {
			return Scope{}, ErrInvalid
		}
	}
	return Scope{
		Project: c.Subject, Webhooks: c.Webhooks, ReadOnly: c.ReadOnly, Expire: c.Expiry.Time(),
		KeyHash: c.KeyHash, Generation: c.Gen,
	}, nil
}

// Keys returns the keys the issuer signs with, for Ensure and Rotate.
func (i *Issuer) Keys() *Keys { return i.keys }
