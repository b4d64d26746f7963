package verify

import (
	"context"
	"crypto/subtle"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/jobhooks/jobhooks/shared/signing"
)

// expiryLeeway absorbs clock skew between Jobhooks and the receiver when checking exp.
const expiryLeeway = time.Minute

// isJWT tells a compact JWS from a list of "scheme,signature" entries.
func isJWT(sig string) bool {
	return !strings.ContainsAny(sig, ", ") && strings.Count(sig, ".") == 2
}

// verifyJWT checks a jwt-mode signature: the token's signature by the JWKS key its kid names,
// then its claims against this request.
func (v *Verifier) verifyJWT(ctx context.Context, msgID, token string, body []byte, now time.Time, audience string) error {
	// Only the algorithms Jobhooks signs with: never "none", never an HMAC keyed with a public key.
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.EdDSA})
	if err != nil {
		return fmt.Errorf("%w: not a JWT Jobhooks signs: %w", ErrSignature, err)
	}
	if len(tok.Headers) != 1 || tok.Headers[0].KeyID == "" {
		return fmt.Errorf("%w: the JWT header names no kid", ErrSignature)
	}
	hdr := tok.Headers[0]
	key, err := v.keyFor(ctx, hdr.KeyID)
	if err != nil {
		return err
	}
	if key.Algorithm != "" && key.Algorithm != hdr.Algorithm {
		return fmt.Errorf("%w: key %s is for %s, the token says %s", ErrSignature, hdr.KeyID, key.Algorithm, hdr.Algorithm)
	}
	var c signing.JWTClaims
	if err := tok.Claims(key.Key, &c); err != nil {
		return fmt.Errorf("%w: %w", ErrSignature, err)
	}
	iat := time.Unix(c.IssuedAt, 0)
	if d := now.Sub(iat); d > v.opts.Tolerance || d < -v.opts.Tolerance {
		return fmt.Errorf("%w: the JWT was issued %s from now", ErrTimestamp, d.Round(time.Second))
	}
	if exp := time.Unix(c.Expiry, 0); c.Expiry == 0 || now.After(exp.Add(expiryLeeway)) {
		return fmt.Errorf("%w: the JWT expired at %s", ErrTimestamp, exp.UTC().Format(time.RFC3339))
	}
	if subtle.ConstantTimeCompare([]byte(c.BodySHA256), []byte(signing.BodyHash(body))) != 1 {
		return fmt.Errorf("%w: the body does not match the JWT's body_sha256", ErrSignature)
	}
	switch {
	case c.ID != msgID:
		return fmt.Errorf("%w: jti %q is not the webhook-id %q", ErrClaims, truncate(c.ID), truncate(msgID))
	case v.opts.Issuer != "" && c.Issuer != v.opts.Issuer:
		return fmt.Errorf("%w: iss %q is not %q", ErrClaims, truncate(c.Issuer), v.opts.Issuer)
	}
	return v.checkTarget("aud", c.Audience, c.Audience != "", audience)
}

// keyFor returns the JWKS key with kid, refetching the set (bounded) when the cache lacks it.
func (v *Verifier) keyFor(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	keys, err := v.keys.current(ctx)
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	if k, ok := keys.byKID[kid]; ok {
		return k, nil
	}
	if fresh, ok := v.keys.refetch(ctx, keys); ok {
		if k, ok := fresh.byKID[kid]; ok {
			return k, nil
		}
	}
	return jose.JSONWebKey{}, fmt.Errorf("%w: kid %q is not in the JWKS", ErrUnknownKey, truncate(kid))
}
