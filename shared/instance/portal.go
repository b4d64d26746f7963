package instance

import (
	"context"
	"time"

	"github.com/jobhooks/jobhooks/shared/portal"
)

// Portal returns the issuer and checker of portal links, whose keys it reads from Secret
// Manager (cached for the configuration's CacheTTL), connecting on first use.
func (in *Instance) Portal(ctx context.Context) (*portal.Issuer, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.portal == nil {
		c, err := in.secretManagerLocked(ctx)
		if err != nil {
			return nil, err
		}
		keys := portal.NewKeys(c, in.Config.GoogleProject, in.Config.PortalKeySecret, portal.KeysOptions{
			CacheTTL: in.Config.CacheTTL, Now: func() time.Time { return in.Now() },
		})
		in.portal = portal.NewIssuer(keys, func() time.Time { return in.Now() })
	}
	return in.portal, nil
}
