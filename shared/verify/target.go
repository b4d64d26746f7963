package verify

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// A per-request delivery is signed with the deployment's key, which every receiver of that
// deployment trusts: what stops one receiver from replaying a delivery it got to another is the
// target the delivery names — a JWT's aud, a v1a body's target_uri — checked against this
// endpoint's URL (shared/verify/README.md, Per-request deliveries name their receiver).

// targetOf returns the target_uri member of a v1a body, and whether it has one.
func targetOf(body []byte) (string, bool) {
	var b struct {
		TargetURI *string `json:"target_uri"`
	}
	if json.Unmarshal(body, &b) != nil || b.TargetURI == nil {
		return "", false
	}
	return *b.TargetURI, true
}

// checkTarget says why a per-request delivery naming target (what=aud or target_uri) is not for
// the endpoint at audience, or nil if it is.
func (v *Verifier) checkTarget(what, target string, named bool, audience string) error {
	switch {
	case v.opts.AnyTarget:
		return nil
	case audience == "":
		return fmt.Errorf("%w: a per-request delivery, and this verifier knows no URL of its own to check its %s against: set Options.Audience", ErrClaims, what)
	case !named:
		return fmt.Errorf("%w: the delivery names no %s, so it may be meant for another receiver", ErrClaims, what)
	case !SameURL(target, audience):
		return fmt.Errorf("%w: %s %q is not this endpoint, %q", ErrClaims, what, truncate(target), truncate(audience))
	}
	return nil
}

// RequestURL is the URL r was sent to, as a sender would have named it: https when the
// connection is TLS or a proxy in front says so (X-Forwarded-Proto), the Host header, and the
// path and query as received. The Host header is the client's word: behind a load balancer that
// routes by host name it is this endpoint's, but a server that answers every host name should set
// Options.Audience instead.
func RequestURL(r *http.Request) string {
	scheme := "http"
	if proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ","); r.TLS != nil || strings.EqualFold(strings.TrimSpace(proto), "https") {
		scheme = "https"
	}
	uri := r.RequestURI
	if uri == "" || !strings.HasPrefix(uri, "/") {
		uri = r.URL.RequestURI()
	}
	return scheme + "://" + r.Host + uri
}

// SameURL reports whether a and b name the same endpoint: scheme and host compared without regard
// to letter case, a default port the same as none, an empty path the same as "/", the path and
// query otherwise byte for byte.
func SameURL(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	if errA != nil || errB != nil || ua.Host == "" || ub.Host == "" {
		return false
	}
	return canonical(ua) == canonical(ub)
}

func canonical(u *url.URL) string {
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if port == "" || scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		port = ""
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + ":" + port + path + "?" + u.RawQuery
}
