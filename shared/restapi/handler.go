// Package restapi is the management API over HTTP (shared/restapi/README.md, The management API):
// one router, API-key authentication, and two thin JSON codecs over the management service —
// Surface A, resource-style, under /v1/projects/{project}/webhooks, and Surface B, the Gemini
// WebhookService wire format, under /v1beta/webhooks and /v1/webhooks.
//
// Its promises:
//   - Every answer is JSON; every error is {"error":{"code","message","status"}} with a google.rpc
//     status, so Google client libraries raise the matching exception.
//   - No request reaches the service without a valid API key or portal link (401 otherwise), and
//     a key or link reaches only its own project: a Surface A path naming another project is answered 404 exactly as a
//     missing resource would be, revealing nothing about that project.
//   - Request bodies above 1 MiB are refused with 400 before they are parsed.
//   - API keys, signing secrets and request bodies are never logged; a request's log line holds
//     its method, path (never the query), status and latency. A key in the query string (?key=)
//     is refused: Cloud Run's own request log keeps the whole URL. A portal link travels in a
//     header or in the console's URL fragment, which browsers never send.
//   - A portal link reaches only its project and, when it names some, its webhooks (others
//     answer 404); a read-only link changes nothing (403 before the service is called). It
//     stops working when the API key that created it is revoked, or the project's links are
//     (:revokePortalLinks), within the cache TTL.
package restapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/jobhooks/jobhooks/shared/apikeys"
	"github.com/jobhooks/jobhooks/shared/management"
	"github.com/jobhooks/jobhooks/shared/portal"
)

// Options are what the handler serves with.
type Options struct {
	// Service and Auth serve the API's methods. Without them (the function could not build its
	// clients yet) the router still answers: unknown paths 404, every method 503.
	Service *management.Service
	Auth    *apikeys.Authenticator
	// Portal checks portal-link tokens (Authorization: Bearer) and issues them
	// (:createPortalLink). Without it only API keys are accepted.
	Portal *portal.Issuer
	// Console serves the web console under /console/ (shared/restapi/README.md, Console); nil: no
	// console.
	Console http.Handler
	Log     *slog.Logger
	// Now is the clock (which secrets are still active); time.Now when nil.
	Now func() time.Time
}

// Handler is the API's http.Handler. Safe for concurrent use.
type Handler struct {
	Options
}

// New builds the handler; its routes are the table of Routes.
func New(o Options) *Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Handler{Options: o}
}

// ServeHTTP routes one request and logs it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	if isConsolePath(r.URL.Path) && h.Console != nil {
		h.Console.ServeHTTP(rec, r)
	} else if m, ok := route(r); ok {
		h.serveRoute(rec, r, m)
	} else {
		h.fail(rec, r, noRoute(r))
	}
	level := slog.LevelInfo
	if rec.status >= 500 {
		level = slog.LevelError
	}
	h.Log.Log(r.Context(), level, "api request", "method", r.Method, "path", r.URL.Path,
		"status_code", rec.status, "latency_ms", time.Since(start).Milliseconds())
}

// recorder remembers the status written.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// noRoute is the answer to a path or method this API does not have.
func noRoute(r *http.Request) error {
	return management.Errorf(management.NotFound, "%s %s is not a method of this API", r.Method, r.URL.Path)
}

// authenticate returns the project of the request's API key (x-goog-api-key), or of its portal
// link (Authorization: Bearer) with the link's scope.
func (h *Handler) authenticate(r *http.Request) (string, *portal.Scope, error) {
	if r.URL.Query().Has("key") {
		// Google APIs accept ?key=, but Cloud Run's request log (httpRequest.requestUrl) keeps the
		// query, readable by anyone with logging.viewer: refused even beside a valid header, so a
		// client that sends it learns at once (shared/restapi/README.md, The management API).
		return "", nil, management.Errorf(management.Unauthenticated,
			"API keys are not accepted in the query string (?key=): the platform's request log keeps URLs. "+
				"Send the key in the x-goog-api-key header, and revoke this one: it is in a log now")
	}
	if token, ok := bearer(r); ok {
		s, err := h.checkLink(r.Context(), token)
		if err != nil {
			return "", nil, err
		}
		return s.Project, &s, nil
	}
	project, err := h.authenticateKey(r)
	return project, nil, err
}

// authenticateKey returns the project of the request's API key.
func (h *Handler) authenticateKey(r *http.Request) (string, error) {
	key := r.Header.Get("x-goog-api-key")
	if key == "" {
		return "", management.Errorf(management.Unauthenticated,
			"this API needs an API key: send it in the x-goog-api-key header")
	}
	project, err := h.Auth.Project(r.Context(), key)
	if errors.Is(err, apikeys.ErrInvalid) {
		return "", management.Errorf(management.Unauthenticated, "API key not valid: it is unknown or was revoked")
	}
	return project, err
}

// endpoint is one method of the API, for the project of the caller's key.
type endpoint func(ctx context.Context, r *http.Request, project string) (any, error)

// serve authenticates, runs fn and writes its result as JSON with 200.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, fn endpoint) {
	if h.Service == nil || h.Auth == nil {
		WriteError(w, management.Errorf(management.Unavailable, "the API is starting; try again"), nil)
		return
	}
	project, scope, err := h.authenticate(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	r = r.WithContext(withScope(r.Context(), scope))
	out, err := fn(r.Context(), r, project)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// errorBody is google.rpc.Status as Google's JSON APIs send it.
type errorBody struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	} `json:"error"`
}

// fail writes err in the google.rpc shape. An error that is not the service's own is logged and
// answered without its detail.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := management.AsError(err)
	var own *management.Error
	if !errors.As(err, &own) {
		h.Log.ErrorContext(r.Context(), "api request failed", "method", r.Method, "path", r.URL.Path, "error", err.Error())
	}
	WriteError(w, e, renamerFor(r))
}

// WriteError writes e as {"error":{"code","message","status"}}; rename maps Surface A field names
// to the surface's own (nil keeps them).
func WriteError(w http.ResponseWriter, e *management.Error, rename func(string) string) {
	var body errorBody
	body.Error.Code = e.Code.HTTPStatus()
	body.Error.Message = e.Text(rename)
	body.Error.Status = string(e.Code)
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	writeJSON(w, body.Error.Code, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":500,"message":"internal error","status":"INTERNAL"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
