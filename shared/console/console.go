// Package console serves the web console (shared/restapi/README.md, Console): static HTML, CSS and
// JavaScript embedded in the binary, with no build step and nothing fetched from elsewhere. The
// console talks only to the management API beside it, so it can do nothing the API would not let
// its caller do.
//
// Its promises:
//   - Every answer carries a strict Content-Security-Policy: scripts, styles and requests from
//     this origin only, no inline script or style, no plugins, and no framing unless the
//     deployment names the origins that may embed the portal.
//   - It serves the embedded files and nothing else; it never reads a credential. The console
//     keeps an API key in session storage and a portal link's token arrives in the URL fragment,
//     which browsers do not send to servers, so neither reaches a request line or a log.
package console

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var files embed.FS

// Options are what the console is served with.
type Options struct {
	// FrameAncestors are the origins that may embed the console (https://host[:port]); none by
	// default. The caller validates them (config.Load does).
	FrameAncestors []string
	// JWKSURL is shown on the verify page; empty when the deployment did not say.
	JWKSURL string
}

// Handler serves the console under /console/.
func Handler(o Options) http.Handler {
	static, _ := fs.Sub(files, "static")
	fileServer := http.StripPrefix("/console/", http.FileServerFS(static))
	settings, _ := json.Marshal(map[string]string{"jwks_url": o.JWKSURL})
	csp := policy(o.FrameAncestors)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if len(o.FrameAncestors) == 0 {
			h.Set("X-Frame-Options", "DENY") // for browsers older than frame-ancestors
		}
		switch {
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		case r.URL.Path == "/console":
			http.Redirect(w, r, "console/", http.StatusMovedPermanently) // relative: the API may sit under a path prefix
		case r.URL.Path == "/console/settings.json":
			h.Set("Content-Type", "application/json; charset=utf-8")
			h.Set("Cache-Control", "no-cache")
			_, _ = w.Write(settings)
		default:
			// Revalidated on every load, so a deployment's new console is used at once.
			h.Set("Cache-Control", "no-cache")
			fileServer.ServeHTTP(w, r)
		}
	})
}

// policy is the Content-Security-Policy of every answer.
func policy(frameAncestors []string) string {
	ancestors := "'none'"
	if len(frameAncestors) > 0 {
		ancestors = strings.Join(frameAncestors, " ")
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self'",
		"connect-src 'self'",
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors " + ancestors,
	}, "; ")
}
