package restapi

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/jobhooks/jobhooks/shared/management"
)

// Route is one method of the API: an HTTP method and a path template spelled as the OpenAPI
// document spells it. A {wildcard} is one whole path segment, except that the last segment may
// end in a custom method after its wildcard, as Google's APIs spell them ("{webhook}:ping",
// AIP-136); a ServeMux pattern cannot express that, hence this table.
type Route struct {
	Method string
	Path   string
}

// Routes lists every method the API serves, Surface A first. The router is built from this very
// table, so the list cannot drift from what is served; the OpenAPI test holds the document
// (shared/contracts/openapi.json) equal to it.
func Routes() []Route {
	out := make([]Route, len(methods))
	for i, m := range methods {
		out[i] = m.Route
	}
	return out
}

// method is a Route and the endpoint that serves it.
type method struct {
	Route
	serve func(h *Handler, ctx context.Context, r *http.Request, project string) (any, error)
}

const (
	resourceCollectionPath = "/v1/projects/{project}/webhooks"
	resourceWebhookPath    = resourceCollectionPath + "/{webhook}"
)

var methods = append([]method{
	{Route{http.MethodGet, resourceCollectionPath}, resourceSurface.list},
	{Route{http.MethodPost, resourceCollectionPath}, resourceSurface.create},
	{Route{http.MethodGet, resourceWebhookPath}, resourceSurface.get},
	{Route{http.MethodPatch, resourceWebhookPath}, resourceSurface.update},
	{Route{http.MethodDelete, resourceWebhookPath}, (*Handler).deleteWebhook},
	{Route{http.MethodPost, resourceWebhookPath + ":ping"}, (*Handler).pingResource},
	{Route{http.MethodPost, resourceWebhookPath + ":rotateSigningSecret"}, (*Handler).rotate},
	{Route{http.MethodPost, resourceWebhookPath + ":replay"}, (*Handler).replay},
	{Route{http.MethodGet, resourceWebhookPath + "/deliveries"}, (*Handler).listDeliveries},
	{Route{http.MethodGet, resourceWebhookPath + "/deliveries/{delivery}"}, (*Handler).getDelivery},
	{Route{http.MethodPost, resourceWebhookPath + "/deliveries/{delivery}:retry"}, (*Handler).retryDelivery},
	{Route{http.MethodGet, "/v1/projects/{project}/deadLetters"}, (*Handler).listDeadLetters},
	{Route{http.MethodPost, "/v1/projects/{project}:createPortalLink"}, (*Handler).createPortalLink},
	{Route{http.MethodPost, "/v1/projects/{project}:revokePortalLinks"}, (*Handler).revokePortalLinks},
}, append(append(geminiMethods("/v1beta"), geminiMethods("/v1")...),
	method{Route{http.MethodPost, "/v1/webhooks:createPortalLink"}, (*Handler).createPortalLink})...)

// geminiMethods are Surface B's methods under one version prefix: current Gemini SDKs call
// /v1beta or /v1 depending on their version.
func geminiMethods(version string) []method {
	collection := version + "/webhooks"
	item := collection + "/{webhook}"
	return []method{
		{Route{http.MethodGet, collection}, geminiSurface.list},
		{Route{http.MethodPost, collection}, geminiSurface.create},
		{Route{http.MethodGet, item}, geminiSurface.get},
		{Route{http.MethodPatch, item}, geminiSurface.update},
		{Route{http.MethodDelete, item}, (*Handler).deleteWebhook},
		{Route{http.MethodPost, item + ":ping"}, (*Handler).pingGemini},
		{Route{http.MethodPost, item + ":rotateSigningSecret"}, (*Handler).rotate},
	}
}

// route finds the method of r and sets its wildcards as r's path values. A method that exists
// on the path with another HTTP method is not found either: this API answers both with its JSON
// 404, never ServeMux's plain-text 405.
func route(r *http.Request) (method, bool) {
	segments, ok := pathSegments(r.URL)
	if !ok {
		return method{}, false
	}
	for _, m := range methods {
		if m.Method != r.Method {
			continue
		}
		if values, ok := match(m.Path, segments); ok {
			for name, v := range values {
				r.SetPathValue(name, v)
			}
			return m, true
		}
	}
	return method{}, false
}

// pathSegments splits the escaped path and unescapes each segment on its own, so an escaped
// "/" (%2F) stays inside its segment, where no wildcard accepts it.
func pathSegments(u *url.URL) ([]string, bool) {
	raw := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
	for i, s := range raw {
		v, err := url.PathUnescape(s)
		if err != nil {
			return nil, false
		}
		raw[i] = v
	}
	return raw, true
}

// match matches a path template against unescaped segments. A wildcard's value is never empty
// and never holds "/" or ":"; ":" separates a custom method.
func match(template string, segments []string) (map[string]string, bool) {
	parts := strings.Split(strings.TrimPrefix(template, "/"), "/")
	if len(parts) != len(segments) {
		return nil, false
	}
	values := map[string]string{}
	for i, p := range parts {
		seg := segments[i]
		if !strings.HasPrefix(p, "{") {
			if p != seg {
				return nil, false
			}
			continue
		}
		name, verb, _ := strings.Cut(strings.TrimPrefix(p, "{"), "}")
		if verb != "" {
			var ok bool
			if seg, ok = strings.CutSuffix(seg, verb); !ok {
				return nil, false
			}
		}
		if seg == "" || strings.ContainsAny(seg, "/:") {
			return nil, false
		}
		values[name] = seg
	}
	return values, true
}

// serveRoute runs m for r. A path naming a project (Surface A) is served only to a key of that
// project: any other key gets the NOT_FOUND a missing resource gets, revealing nothing.
func (h *Handler) serveRoute(w http.ResponseWriter, r *http.Request, m method) {
	h.serve(w, r, func(ctx context.Context, r *http.Request, project string) (any, error) {
		if p := r.PathValue("project"); strings.Contains(m.Path, "{project}") && p != project {
			return nil, management.NotFoundError(resourceName(r.URL))
		}
		if err := linkAllows(ctx, r, m); err != nil {
			return nil, err
		}
		return m.serve(h, ctx, r, project)
	})
}

// resourceName is the resource a Surface A path names: the path after /v1/ without its custom
// method, e.g. projects/p/webhooks/w/deliveries/d.
func resourceName(u *url.URL) string {
	segments, _ := pathSegments(u)
	name := strings.Join(segments[1:], "/")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	return name
}
