// Package signingkey keeps the deployment's asymmetric signing key in Secret Manager: the private
// keys that sign dynamic (per-request) webhooks, and whose public halves the JWKS function
// publishes (shared/verify/README.md, Signature schemes).
//
// One secret holds the key; each version is one key, stored as a PKCS#8 PEM private key
// ("-----BEGIN PRIVATE KEY-----", what `openssl genpkey` writes): Ed25519 for v1a and for jwt
// mode with EdDSA, RSA (2048 bits or more) for jwt mode with RS256. Every enabled version is a
// live key. The newest enabled version signs; while an older one is still enabled (a rotation in
// progress) v1a deliveries carry a signature from each, newest first, so that receivers whose
// cached key set holds only the old key keep verifying. A key's id (kid) is its RFC 7638 JWK
// thumbprint: stable, derived from the public key alone, the same wherever it is computed.
//
// Keys are read once per instance and cache TTL: a Source lists the enabled versions at most
// once per TTL and reads each version's payload once (a version's data never changes), and
// forgets a key as soon as its version is no longer enabled. Secret Manager's `latest` alias is
// not used: it names the newest version whatever its state.
package signingkey

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/signing"
)

// Algorithms a key signs with: EdDSA (Ed25519 keys; v1a and jwt mode) or RS256 (RSA keys; jwt mode).
const (
	EdDSA = signing.EdDSA
	RS256 = signing.RS256
)

// RSABits is the size of the RSA keys Generate makes; Parse accepts no smaller.
const RSABits = 2048

// Algorithm is the algorithm the deployment's mode signs with: EdDSA for v1a, the configured JWT
// algorithm for jwt mode.
func Algorithm(cfg config.Config) string {
	if cfg.SigningMode == config.SigningModeJWT {
		return cfg.JWTAlgorithm
	}
	return EdDSA
}

// Key is one enabled version of the signing key. It holds the private key, and never prints it.
type Key struct {
	// ID is the kid: the RFC 7638 thumbprint (SHA-256, unpadded base64url) of the public key.
	ID string
	// Algorithm is EdDSA or RS256, fixed by the key's type.
	Algorithm string
	// Version is the Secret Manager version number, e.g. "3"; empty for a key not stored yet.
	Version string
	// Created is when the version was added.
	Created time.Time

	private crypto.Signer
}

// String names the key without its material; GoString too, so that no %v or %#v prints it.
func (k Key) String() string {
	return fmt.Sprintf("%s key %s (version %s)", k.Algorithm, k.ID, k.Version)
}

// GoString is String.
func (k Key) GoString() string { return k.String() }

// Public returns the public key.
func (k Key) Public() crypto.PublicKey { return k.private.Public() }

// PublicJWK is the key as the JWKS publishes it: public half, kid, alg and use "sig".
func (k Key) PublicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.private.Public(), KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"}
}

// Generate makes a new private key for alg.
func Generate(alg string) (crypto.Signer, error) {
	switch alg {
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case RS256:
		return rsa.GenerateKey(rand.Reader, RSABits)
	default:
		return nil, fmt.Errorf("signingkey: unknown algorithm %q (want %s or %s)", alg, EdDSA, RS256)
	}
}

// Marshal encodes a private key as the payload of a version: PKCS#8 PEM.
func Marshal(priv crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("signingkey: encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ErrBadKey means an enabled version does not hold a usable key: not PKCS#8 PEM, an unsupported
// type, or an RSA key under 2048 bits. An operator disables that version.
var ErrBadKey = errors.New("signingkey: unusable key")

// Parse reads a version's payload into a Key (without Version and Created).
func Parse(payload []byte) (Key, error) {
	block, rest := pem.Decode(payload)
	if block == nil || block.Type != "PRIVATE KEY" {
		return Key{}, fmt.Errorf("%w: not a PEM \"PRIVATE KEY\" (PKCS#8) block", ErrBadKey)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return Key{}, fmt.Errorf("%w: data after the PEM block", ErrBadKey)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	return FromPrivate(parsed)
}

// FromPrivate makes a Key of a private key, deriving its algorithm and kid.
func FromPrivate(priv any) (Key, error) {
	var k Key
	switch p := priv.(type) {
	case ed25519.PrivateKey:
		k = Key{Algorithm: EdDSA, private: p}
	case *rsa.PrivateKey:
		if p.N.BitLen() < RSABits {
			return Key{}, fmt.Errorf("%w: RSA key of %d bits, want at least %d", ErrBadKey, p.N.BitLen(), RSABits)
		}
		k = Key{Algorithm: RS256, private: p}
	default:
		return Key{}, fmt.Errorf("%w: %T is neither Ed25519 nor RSA", ErrBadKey, priv)
	}
	id, err := Thumbprint(k.private.Public())
	if err != nil {
		return Key{}, err
	}
	k.ID = id
	return k, nil
}

// Thumbprint is the RFC 7638 JWK thumbprint of a public key (SHA-256, unpadded base64url).
func Thumbprint(pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("%w: thumbprint: %w", ErrBadKey, err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}
