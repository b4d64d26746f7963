package restapi

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jobhooks/jobhooks/shared/apikeys"
	"github.com/jobhooks/jobhooks/shared/management"
	"github.com/jobhooks/jobhooks/shared/portal"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// Portal links (shared/restapi/README.md, Portal links): a signed, expiring token a platform hands
// its own customer instead of an API key. It arrives as Authorization: Bearer and reaches one
// project, perhaps only some of its webhooks, perhaps read only.

// scopeKey carries the caller's link scope in the request's context.
type scopeKey struct{}

func withScope(ctx context.Context, s *portal.Scope) context.Context {
	if s == nil {
		return ctx
	}
	return context.WithValue(ctx, scopeKey{}, s)
}

// linkScope is the scope of the caller's portal link; nil for an API key.
func linkScope(ctx context.Context) *portal.Scope {
	s, _ := ctx.Value(scopeKey{}).(*portal.Scope)
	return s
}

// bearer returns the token of an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// checkLink returns the scope of a portal-link token. The token is in no error and no log line.
func (h *Handler) checkLink(ctx context.Context, token string) (portal.Scope, error) {
	if h.Portal == nil {
		return portal.Scope{}, management.Errorf(management.Unauthenticated, "portal links are not accepted here; send an API key in x-goog-api-key")
	}
	s, err := h.Portal.Check(ctx, token)
	if errors.Is(err, portal.ErrInvalid) {
		return s, management.Errorf(management.Unauthenticated,
			"portal link not valid: it expired, was altered, or was not issued by this deployment; ask for a new link")
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "portal key unavailable", "error", err.Error())
		return s, management.Errorf(management.Unavailable, "the portal key could not be read; try again")
	}
	return s, h.linkAlive(ctx, s)
}

// linkAlive refuses a valid link whose issuing API key was revoked, or that the project's
// links were revoked after (management.Service.RevokePortalLinks); both are cached per
// instance for at most the cache TTL, as API keys are.
func (h *Handler) linkAlive(ctx context.Context, s portal.Scope) error {
	project, err := h.Auth.ProjectOfHash(ctx, s.KeyHash)
	if errors.Is(err, apikeys.ErrInvalid) || (err == nil && project != s.Project) {
		return management.Errorf(management.Unauthenticated,
			"portal link not valid: the API key that created it was revoked; ask for a new link")
	}
	if err != nil {
		return err
	}
	revoked, err := h.Service.PortalLinkRevoked(ctx, s.Project, s.Generation)
	if err != nil {
		return err
	}
	if revoked {
		return management.Errorf(management.Unauthenticated,
			"portal link not valid: the project's portal links were revoked; ask for a new link")
	}
	return nil
}

// linkAllows applies a portal link's scope to method m before it runs: a read-only link changes
// nothing, a link limited to some webhooks reaches no other (404, as for a missing one) and
// creates none, and no link creates links.
func linkAllows(ctx context.Context, r *http.Request, m method) error {
	s := linkScope(ctx)
	switch {
	case s == nil:
		return nil
	case strings.HasSuffix(m.Path, ":createPortalLink"):
		return management.Errorf(management.PermissionDenied, "a portal link cannot create portal links; use an API key")
	case strings.HasSuffix(m.Path, ":revokePortalLinks"):
		return management.Errorf(management.PermissionDenied, "a portal link cannot revoke portal links; use an API key")
	case s.ReadOnly && r.Method != http.MethodGet:
		return management.Errorf(management.PermissionDenied, "this portal link is read-only: it can look, not change")
	case len(s.Webhooks) == 0:
		return nil
	case strings.Contains(m.Path, "{webhook}") && !s.Allows(r.PathValue("webhook")):
		return management.NotFoundError(webhook.Name(s.Project, r.PathValue("webhook")))
	case !strings.Contains(m.Path, "{webhook}") && r.Method != http.MethodGet:
		return management.Errorf(management.PermissionDenied, "this portal link is limited to its webhooks: it cannot create one")
	}
	return nil
}

// listWebhooks is a page of the project's webhooks; for a link limited to some webhooks, those
// of them that exist, in one page.
func (h *Handler) listWebhooks(ctx context.Context, project string, page management.PageRequest) ([]webhook.Webhook, string, error) {
	s := linkScope(ctx)
	if s == nil || len(s.Webhooks) == 0 {
		return h.Service.ListWebhooks(ctx, project, page)
	}
	ids := slices.Sorted(slices.Values(s.Webhooks))
	var out []webhook.Webhook
	for _, id := range slices.Compact(ids) {
		w, err := h.Service.GetWebhook(ctx, project, id)
		var e *management.Error
		if errors.As(err, &e) && e.Code == management.NotFound {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		out = append(out, w)
	}
	return out, "", nil
}

type portalLinkRequest struct {
	Webhooks []string `json:"webhooks"`
	ReadOnly bool     `json:"read_only"`
	TTL      string   `json:"ttl"`
}

type portalLinkResponse struct {
	URL        string `json:"url"`
	ExpireTime string `json:"expire_time"`
}

// defaultLinkTTL is a link's life when the request names none.
const defaultLinkTTL = time.Hour

// durationPattern is google.protobuf.Duration's JSON form: seconds with up to nine decimals and an s.
var durationPattern = regexp.MustCompile(`^[0-9]{1,9}(\.[0-9]{1,9})?s$`)

// createPortalLink serves :createPortalLink on both surfaces: a console URL whose fragment holds
// a token for the key's project.
func (h *Handler) createPortalLink(ctx context.Context, r *http.Request, project string) (any, error) {
	if h.Portal == nil {
		return nil, management.Errorf(management.Unavailable, "portal links are not configured on this deployment")
	}
	in, ttl, err := decodePortalLink(r)
	if err != nil {
		return nil, err
	}
	for i, id := range in.Webhooks {
		if _, err := h.Service.GetWebhook(ctx, project, id); err != nil {
			var e *management.Error
			if errors.As(err, &e) && e.Code == management.NotFound {
				return nil, badRequest("webhooks[%d]: project %s has no webhook %q", i, project, truncate(id))
			}
			return nil, err
		}
	}
	gen, err := h.Service.PortalLinkGeneration(ctx, project)
	if err != nil {
		return nil, err
	}
	// The caller authenticated with this header: a link cannot reach this method (linkAllows).
	token, expire, err := h.Portal.Issue(ctx, portal.Scope{
		Project: project, Webhooks: in.Webhooks, ReadOnly: in.ReadOnly,
		KeyHash: apikeys.Hash(r.Header.Get("x-goog-api-key")), Generation: gen,
	}, ttl)
	if err != nil {
		return nil, err
	}
	return portalLinkResponse{URL: consoleURL(r) + "#token=" + token, ExpireTime: ts(expire)}, nil
}

// revokePortalLinks serves :revokePortalLinks: every portal link of the project issued until
// now stops working (at once on this instance, within the cache TTL on the others).
func (h *Handler) revokePortalLinks(ctx context.Context, r *http.Request, project string) (any, error) {
	if _, err := readObject(r, &struct{}{}, true); err != nil {
		return nil, err
	}
	if err := h.Service.RevokePortalLinks(ctx, project); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// decodePortalLink reads a :createPortalLink request and the life of the link it asks for.
func decodePortalLink(r *http.Request) (portalLinkRequest, time.Duration, error) {
	var in portalLinkRequest
	if _, err := readObject(r, &in, true); err != nil {
		return portalLinkRequest{}, 0, err
	}
	ttl := defaultLinkTTL
	if in.TTL != "" {
		d, err := time.ParseDuration(in.TTL)
		if !durationPattern.MatchString(in.TTL) || err != nil || d <= 0 || d > portal.MaxTTL {
			return portalLinkRequest{}, 0, badRequest("ttl: %q is not a duration like \"3600s\" between 1s and %.0fs (24 h)", truncate(in.TTL), portal.MaxTTL.Seconds())
		}
		ttl = d
	}
	if len(in.Webhooks) > portal.MaxWebhooks {
		return portalLinkRequest{}, 0, badRequest("webhooks: %d webhooks, at most %d per link", len(in.Webhooks), portal.MaxWebhooks)
	}
	return in, ttl, nil
}

// consoleURL is the console's address as the caller reached this API: the scheme the load
// balancer saw (X-Forwarded-Proto, as Cloud Run sets it) and the Host.
func consoleURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ","); p == "https" || p == "http" {
		scheme = p
	}
	return scheme + "://" + r.Host + "/console/"
}

// isConsolePath reports whether path is the console's (shared/restapi/README.md, Console).
func isConsolePath(path string) bool {
	return path == "/console" || strings.HasPrefix(path, "/console/")
}
