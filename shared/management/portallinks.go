package management

import (
	"context"
)

// Portal links (shared/restapi/README.md, Portal links) carry their project's portal-link
// generation from when they were issued; revoking the project's links raises it, and a link of
// an earlier generation is refused. An instance caches each project's generation for at most
// the cache TTL, so a revocation takes effect at once on the instance that made it and within
// that time on the others.

// PortalLinkGeneration is the project's current portal-link generation, read from the store
// (for a link being issued: it must not be born revoked).
func (s *Service) PortalLinkGeneration(ctx context.Context, project string) (int64, error) {
	return s.Store.PortalLinkGeneration(ctx, project)
}

// PortalLinkRevoked reports whether a link of project issued at generation gen is revoked. The
// project's generation is cached.
func (s *Service) PortalLinkRevoked(ctx context.Context, project string, gen int64) (bool, error) {
	current, err := s.linkGenerations.Get(project, func() (int64, error) {
		return s.Store.PortalLinkGeneration(ctx, project)
	})
	if err != nil {
		return false, err
	}
	return gen < current, nil
}

// RevokePortalLinks ends every portal link of project issued until now; links issued afterwards
// work.
func (s *Service) RevokePortalLinks(ctx context.Context, project string) error {
	if _, err := s.Store.BumpPortalLinkGeneration(ctx, project); err != nil {
		return err
	}
	s.linkGenerations.Forget(project) // this instance refuses the old links at once
	s.Log.InfoContext(ctx, "portal links revoked", "project", project)
	return nil
}
