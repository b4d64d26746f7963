package signingkey

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/signing"
)

// Signers signs dynamic deliveries with the current keys, in the deployment's mode: v1a with
// every enabled Ed25519 key, newest first; jwt with the newest key of the JWT algorithm alone
// (one JWS carries one signature; receivers refetch the JWKS on an unknown kid). The signing
// objects are rebuilt only when the key set changes. Safe for concurrent use.
type Signers struct {
	keys   *Source
	mode   string
	alg    string
	issuer string

	mu  sync.Mutex
	set *Set // the set v1a and jwt were built from
	v1a *signing.Ed25519
	jwt *signing.JWT
}

// NewSigners returns the signers of cfg's mode (SigningMode, JWTAlgorithm, PublicBaseURL) over keys.
func NewSigners(keys *Source, cfg config.Config) (*Signers, error) {
	s := &Signers{keys: keys, mode: cfg.SigningMode, alg: Algorithm(cfg), issuer: cfg.PublicBaseURL}
	switch {
	case s.mode == config.SigningModeV1a:
	case s.mode == config.SigningModeJWT && s.issuer == "":
		return nil, fmt.Errorf("signingkey: jwt mode needs the public base URL as the issuer")
	case s.mode == config.SigningModeJWT && (s.alg == EdDSA || s.alg == RS256):
	default:
		return nil, fmt.Errorf("signingkey: signing mode %q with algorithm %q is not supported", s.mode, s.alg)
	}
	return s, nil
}

// For returns the signer of deliveries to targetURL (the jwt audience).
func (s *Signers) For(ctx context.Context, targetURL string) (signing.Signer, error) {
	set, err := s.keys.Keys(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if set != s.set {
		if err := s.build(set); err != nil {
			return nil, err
		}
	}
	if s.mode == config.SigningModeJWT {
		return s.jwt.For(targetURL), nil
	}
	return s.v1a, nil
}

// build makes the signing objects of set; called with mu held.
func (s *Signers) build(set *Set) error {
	keys := set.For(s.alg)
	if len(keys) == 0 {
		return fmt.Errorf("%w: none of the %d enabled keys of %s is an %s key, which %s mode signs with (run scripts/signing-key rotate --alg %s)",
			ErrNoKey, len(set.Keys), s.keys.SecretName(), s.alg, s.mode, s.alg)
	}
	switch s.mode {
	case config.SigningModeJWT:
		j, err := signing.NewJWT(keys[0].private, s.alg, keys[0].ID, s.issuer)
		if err != nil {
			return err
		}
		s.jwt = j
	default:
		privs := make([]ed25519.PrivateKey, len(keys))
		for i, k := range keys {
			privs[i] = k.private.(ed25519.PrivateKey)
		}
		s.v1a = signing.NewEd25519(privs...)
	}
	s.set = set
	return nil
}
