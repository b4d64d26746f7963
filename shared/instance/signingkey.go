package instance

import (
	"context"
	"time"

	"github.com/jobhooks/jobhooks/shared/signingkey"
)

// SigningKeys returns the dynamic-webhook signing keys (Secret Manager), connecting on first use.
// The key set is cached for the configuration's CacheTTL.
func (in *Instance) SigningKeys(ctx context.Context) (*signingkey.Source, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.signingKeysLocked(ctx)
}

func (in *Instance) signingKeysLocked(ctx context.Context) (*signingkey.Source, error) {
	if in.signingKeys == nil {
		c, err := in.secretManagerLocked(ctx)
		if err != nil {
			return nil, err
		}
		src, err := signingkey.New(c, in.Config.GoogleProject, in.Config.SigningKeySecret, signingkey.Options{
			CacheTTL: in.Config.CacheTTL, Now: func() time.Time { return in.Now() },
			PublicSecretID: in.Config.SigningJWKSSecret,
		})
		if err != nil {
			return nil, err
		}
		in.signingKeys = src
	}
	return in.signingKeys, nil
}

// DynamicSigners returns the signers of dynamic deliveries in the configured signing mode.
func (in *Instance) DynamicSigners(ctx context.Context) (*signingkey.Signers, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.signers == nil {
		src, err := in.signingKeysLocked(ctx)
		if err != nil {
			return nil, err
		}
		s, err := signingkey.NewSigners(src, in.Config)
		if err != nil {
			return nil, err
		}
		in.signers = s
	}
	return in.signers, nil
}

// PublicSigningKeys returns the published public key set of the signing keys (Secret Manager),
// connecting on first use: all the JWKS function reads. Cached for the configuration's CacheTTL.
func (in *Instance) PublicSigningKeys(ctx context.Context) (*signingkey.PublicSource, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.publicKeys == nil {
		c, err := in.secretManagerLocked(ctx)
		if err != nil {
			return nil, err
		}
		src, err := signingkey.NewPublic(c, in.Config.GoogleProject, in.Config.SigningJWKSSecret, signingkey.Options{
			CacheTTL: in.Config.CacheTTL, Now: func() time.Time { return in.Now() },
		})
		if err != nil {
			return nil, err
		}
		in.publicKeys = src
	}
	return in.publicKeys, nil
}
