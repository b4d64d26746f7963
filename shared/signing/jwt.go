package signing

import (
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// JWTLifetime is how long a delivery token is valid after its iat (shared/verify/README.md,
// Signature schemes: exp = iat + 5 min).
const JWTLifetime = 5 * time.Minute

// JWT algorithms of jwt mode.
const (
	RS256 = "RS256"
	EdDSA = "EdDSA"
)

// JWTClaims are the claims of a jwt-mode delivery token, in the order they are serialised.
type JWTClaims struct {
	// Issuer is the deployment's public base URL.
	Issuer string `json:"iss"`
	// Audience is the target URI the delivery is POSTed to.
	Audience string `json:"aud"`
	// IssuedAt is the webhook-timestamp of the attempt, in Unix seconds.
	IssuedAt int64 `json:"iat"`
	// Expiry is IssuedAt plus JWTLifetime.
	Expiry int64 `json:"exp"`
	// ID is the webhook-id: the same for every attempt and endpoint of one event.
	ID string `json:"jti"`
	// BodySHA256 is the unpadded base64url SHA-256 of the body, binding the token to it.
	BodySHA256 string `json:"body_sha256"`
}

// BodyHash is the body_sha256 claim of body.
func BodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// JWT signs dynamic deliveries as compact JWS tokens (jwt mode): one token per attempt, signed
// with one key, whose kid the header names. Safe for concurrent use.
type JWT struct {
	signer jose.Signer
	issuer string
}

// NewJWT returns a token signer for key (an *rsa.PrivateKey for RS256, an ed25519.PrivateKey for
// EdDSA) published in the JWKS under kid. issuer is the deployment's public base URL. It signs a
// trial token, so that a key go-jose cannot use fails here rather than on a delivery.
func NewJWT(key crypto.Signer, alg, kid, issuer string) (*JWT, error) {
	if alg != RS256 && alg != EdDSA {
		return nil, fmt.Errorf("signing: JWT algorithm %q is neither %s nor %s", alg, RS256, EdDSA)
	}
	if kid == "" || issuer == "" {
		return nil, errors.New("signing: a JWT signer needs a key id and an issuer")
	}
	s, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return nil, fmt.Errorf("signing: JWT signer for key %s: %w", kid, err)
	}
	j := &JWT{signer: s, issuer: issuer}
	if _, err := j.Token("https://example.com/", "msg_trial", 0, nil); err != nil {
		return nil, err
	}
	return j, nil
}

// Token returns the compact JWS of one attempt to audience.
func (j *JWT) Token(audience, msgID string, timestamp int64, body []byte) (string, error) {
	payload, err := json.Marshal(JWTClaims{
		Issuer: j.issuer, Audience: audience, IssuedAt: timestamp,
		Expiry: timestamp + int64(JWTLifetime/time.Second), ID: msgID, BodySHA256: BodyHash(body),
	})
	if err != nil {
		return "", fmt.Errorf("signing: JWT claims: %w", err)
	}
	jws, err := j.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("signing: JWT: %w", err)
	}
	return jws.CompactSerialize()
}

// For returns the Signer of deliveries to audience, the target URI: the token's aud claim.
func (j *JWT) For(audience string) JWTFor { return JWTFor{jwt: j, audience: audience} }

// JWTFor signs the attempts to one target URI.
type JWTFor struct {
	jwt      *JWT
	audience string
}

// Sign returns the webhook-signature header value: the compact JWS. Signing with a key NewJWT
// accepted does not fail (the randomness source of crypto/rand never fails, and RS256 and EdDSA
// are deterministic otherwise); if it ever did, the empty value fails verification at the
// receiver, visibly, rather than anything being sent that looks signed.
func (s JWTFor) Sign(msgID string, timestamp int64, body []byte) string {
	tok, _ := s.jwt.Token(s.audience, msgID, timestamp, body)
	return tok
}
