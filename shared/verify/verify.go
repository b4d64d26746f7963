// Package verify checks that a webhook request comes from Jobhooks and is fresh: the receiver's
// half of Standard Webhooks signing, for the three schemes Jobhooks sends (shared/verify/README.md).
//
//   - v1 (static webhooks): HMAC-SHA256 with the webhook's whsec_ secret. Give every secret that
//     may be in use (during a rotation, the old and the new one); any one matching accepts.
//   - v1a (dynamic webhooks): Ed25519 with the deployment's key, whose public half the JWKS
//     endpoint publishes. Give the JWKS URL.
//   - jwt (dynamic webhooks, jwt mode): webhook-signature is a JWT (RS256 or EdDSA) signed with a
//     key of the same JWKS; its iat/exp, aud, jti and body_sha256 claims are checked too.
//
// A per-request (v1a or jwt) delivery names the receiver it is for — the body's target_uri, the
// JWT's aud — and verifies only at that URL: Options.Audience, or the URL the request came to.
// Every receiver of a deployment trusts the same JWKS, so without this a receiver could replay a
// delivery it got to any other.
//
// A signature in one scheme never verifies as another: a v1a signature relabelled "v1" is
// checked as an HMAC and fails, and a verifier without secrets ignores v1 entries altogether.
// The webhook-timestamp must be within five minutes of the receiver's clock, so a captured
// request cannot be replayed later; deduplicate on webhook-id for the replays inside that window.
//
// The key set behind a JWKS URL is fetched on first use and cached for the max-age its server
// sends (five minutes for Jobhooks). A signature by a key the cache does not hold — after a key
// rotation — makes the verifier fetch the set again, but at most once per RefetchInterval (30 s)
// and only one fetch at a time, so requests with made-up key ids cannot make it hammer the JWKS
// endpoint. While a refresh fails, the keys already fetched stay in use.
//
// A Verifier is safe for concurrent use; create one per endpoint and keep it.
package verify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jobhooks/jobhooks/shared/signing"
)

// Every error a Verifier returns matches exactly one of these with errors.Is.
var (
	// ErrMissingHeader: webhook-id, webhook-timestamp or webhook-signature is absent.
	ErrMissingHeader = errors.New("verify: missing webhook header")
	// ErrBodyTooLarge: the body exceeds Options.MaxBodyBytes.
	ErrBodyTooLarge = errors.New("verify: body too large")
	// ErrTimestamp: webhook-timestamp (or a JWT's iat/exp) is malformed or outside the tolerance.
	ErrTimestamp = errors.New("verify: timestamp outside the tolerance")
	// ErrSignature: no signature verifies — the body or headers were changed, the key or secret
	// is not the sender's, or the scheme is not one this verifier accepts.
	ErrSignature = errors.New("verify: no valid signature")
	// ErrUnknownKey: a JWT names a key id the JWKS does not hold, even after a refetch (or a
	// refetch was not allowed yet).
	ErrUnknownKey = errors.New("verify: unknown signing key")
	// ErrClaims: a JWT is validly signed but not for this delivery: wrong aud, iss or jti.
	ErrClaims = errors.New("verify: token claims do not match")
	// ErrKeySetUnavailable: the JWKS could not be fetched and no key set is cached. Answer 5xx
	// so that Jobhooks retries.
	ErrKeySetUnavailable = errors.New("verify: key set unavailable")
)

// Options configure a Verifier. Secrets, JWKSURL or both must be set.
type Options struct {
	// Secrets are the whsec_ secrets of a static webhook (scheme v1), newest first or not.
	Secrets []string
	// JWKSURL is the Jobhooks deployment's JWKS (schemes v1a and jwt),
	// e.g. https://…/.well-known/jwks.json.
	JWKSURL string
	// Audience is the URL this endpoint is reached at, as the job's webhook_config names it. A
	// per-request delivery (v1a or jwt) names the receiver it is for — a v1a body's target_uri, a
	// JWT's aud — and verifies only where that is this URL, so that a receiver cannot replay a
	// delivery it got to another receiver of the same deployment. When empty, Request takes the
	// URL from the request (RequestURL), and Verify, which has no request, refuses per-request
	// deliveries. Static (v1) deliveries are bound by their webhook's own secret instead.
	Audience string
	// AnyTarget turns that check off: a per-request delivery meant for any receiver verifies
	// here. Only for a receiver that checks the target itself.
	AnyTarget bool
	// Issuer, when set, is the deployment's public base URL: a JWT's iss must equal it.
	Issuer string
	// Tolerance is how far webhook-timestamp may be from now; default 5 minutes.
	Tolerance time.Duration
	// MaxBodyBytes bounds the body Request reads; default 1 MiB.
	MaxBodyBytes int64
	// RefetchInterval is the least time between two fetches of the JWKS caused by signatures
	// no cached key verifies; default 30 s.
	RefetchInterval time.Duration
	// HTTPClient fetches the JWKS; default a client with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Defaults of Options.
const (
	DefaultTolerance       = 5 * time.Minute
	DefaultMaxBodyBytes    = 1 << 20
	DefaultRefetchInterval = 30 * time.Second
)

// maxEntries bounds the signatures of one header that are checked.
const maxEntries = 8

// Verifier verifies requests for one endpoint.
type Verifier struct {
	opts    Options
	secrets [][]byte
	keys    *keySet // nil without a JWKS URL
}

// New returns a Verifier. It fails on a malformed secret; it does not fetch the JWKS yet.
func New(opts Options) (*Verifier, error) {
	if len(opts.Secrets) == 0 && opts.JWKSURL == "" {
		return nil, errors.New("verify: give the webhook's secrets, a JWKS URL, or both")
	}
	if opts.Tolerance <= 0 {
		opts.Tolerance = DefaultTolerance
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.RefetchInterval <= 0 {
		opts.RefetchInterval = DefaultRefetchInterval
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	v := &Verifier{opts: opts}
	for i, s := range opts.Secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil || len(key) == 0 {
			return nil, fmt.Errorf("verify: secret %d is not whsec_ followed by standard base64", i+1)
		}
		v.secrets = append(v.secrets, key)
	}
	if opts.JWKSURL != "" {
		v.keys = newKeySet(opts)
	}
	return v, nil
}

// Request reads r's body (at most MaxBodyBytes) and verifies the request. It returns the raw
// body — the exact bytes that were signed, to parse as the event — and leaves r.Body readable
// again. On any error the body is not returned: nothing unverified should be acted on.
func (v *Verifier) Request(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, v.opts.MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the body: %w", ErrSignature, err)
	}
	if int64(len(body)) > v.opts.MaxBodyBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, v.opts.MaxBodyBytes)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	audience := v.opts.Audience
	if audience == "" {
		audience = RequestURL(r)
	}
	if err := v.verify(r.Context(), r.Header, body, audience); err != nil {
		return nil, err
	}
	return body, nil
}

// Verify checks the webhook headers h against body. A per-request delivery verifies only if it
// names Options.Audience as its target: without Audience, use Request.
func (v *Verifier) Verify(ctx context.Context, h http.Header, body []byte) error {
	return v.verify(ctx, h, body, v.opts.Audience)
}

// verify checks h against body for the endpoint at audience.
func (v *Verifier) verify(ctx context.Context, h http.Header, body []byte, audience string) error {
	id, tsText, sig := h.Get(signing.HeaderID), h.Get(signing.HeaderTimestamp), h.Get(signing.HeaderSignature)
	if id == "" || tsText == "" || sig == "" {
		return fmt.Errorf("%w: webhook-id, webhook-timestamp and webhook-signature are all required", ErrMissingHeader)
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: webhook-timestamp %q is not Unix seconds", ErrTimestamp, truncate(tsText))
	}
	now := v.opts.Now()
	if d := now.Sub(time.Unix(ts, 0)); d > v.opts.Tolerance || d < -v.opts.Tolerance {
		return fmt.Errorf("%w: webhook-timestamp is %s from now, more than %s", ErrTimestamp, d.Round(time.Second), v.opts.Tolerance)
	}
	if isJWT(sig) {
		if v.keys == nil {
			return fmt.Errorf("%w: a JWT arrived, but this verifier has no JWKS URL", ErrSignature)
		}
		return v.verifyJWT(ctx, id, sig, body, now, audience)
	}
	var v1, v1a [][]byte
	entries := strings.Fields(sig)
	// Jobhooks sends one signature per live key, two during a rotation. Checking only the first
	// few keeps a forged header of thousands of entries from costing thousands of verifications.
	for _, entry := range entries[:min(len(entries), maxEntries)] {
		scheme, b64, ok := strings.Cut(entry, ",")
		raw, err := base64.StdEncoding.DecodeString(b64)
		if !ok || err != nil {
			continue // a malformed entry is skipped; others may still verify
		}
		switch scheme {
		case "v1":
			v1 = append(v1, raw)
		case "v1a":
			v1a = append(v1a, raw)
		}
	}
	content := signing.AppendContent(nil, id, ts, body)
	if len(v.secrets) > 0 && len(v1) > 0 && v.verifyHMAC(content, v1) {
		return nil
	}
	if v.keys != nil && len(v1a) > 0 {
		if err := v.verifyEd25519(ctx, content, v1a); err != nil {
			return err
		}
		target, named := targetOf(body)
		return v.checkTarget("target_uri", target, named, audience)
	}
	switch {
	case len(v1) == 0 && len(v1a) == 0:
		return fmt.Errorf("%w: webhook-signature holds no v1 or v1a entry", ErrSignature)
	case len(v1) == 0:
		return fmt.Errorf("%w: only v1a (JWKS) signatures, and this verifier has no JWKS URL", ErrSignature)
	case len(v.secrets) == 0:
		return fmt.Errorf("%w: only v1 (static secret) signatures, and this verifier has no secret", ErrSignature)
	default:
		return fmt.Errorf("%w: no v1 signature matches any of the %d secrets", ErrSignature, len(v.secrets))
	}
}

// verifyHMAC reports whether any v1 signature matches any secret, comparing in constant time.
func (v *Verifier) verifyHMAC(content []byte, sigs [][]byte) bool {
	ok := false
	for _, key := range v.secrets {
		mac := hmac.New(sha256.New, key)
		mac.Write(content)
		want := mac.Sum(nil)
		for _, s := range sigs {
			// Every pair is compared (no early exit): timing reveals nothing about which matched.
			if hmac.Equal(want, s) {
				ok = true
			}
		}
	}
	return ok
}

// StatusCode is the status a receiver answers a failed verification with: 503 when the key set
// could not be fetched (Jobhooks retries), 413 for an oversized body, 401 otherwise (final).
func StatusCode(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrKeySetUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge
	default:
		return http.StatusUnauthorized
	}
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
