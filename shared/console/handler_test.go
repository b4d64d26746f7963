package console_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/jobhooks/jobhooks/shared/console"
)

// TestHandler_ServesTheEmbeddedFilesUnderAStrictPolicy: every answer forbids inline script and
// style, other origins and framing; the pages reference no inline code; a deployment that
// names embedding origins gets exactly those as frame-ancestors.
func TestHandler_ServesTheEmbeddedFilesUnderAStrictPolicy(t *testing.T) {
	srv := httptest.NewServer(console.Handler(console.Options{JWKSURL: "https://jwks.example.com/.well-known/jwks.json"}))
	defer srv.Close()
	types := map[string]string{
		"/console/": "text/html", "/console/console.css": "text/css", "/console/settings.json": "application/json",
	}
	for _, src := range scripts(t, srv.URL+"/console/") {
		types["/console/"+src] = "text/javascript"
	}
	// The page names its icon, one of its own files (img-src 'self'): a browser asks for one and
	// would otherwise get a 404 at the origin's /favicon.ico.
	icon := iconTag.FindStringSubmatch(get(t, srv.URL+"/console/"))
	if icon == nil || strings.Contains(icon[1], "/") {
		t.Errorf("the page names no icon of its own: %v", icon)
	} else {
		types["/console/"+icon[1]] = "image/svg+xml"
	}
	for path, want := range types {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), want) {
			t.Errorf("%s: %d %s, want 200 %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), want)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s: the policy %q lacks %q", path, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: the policy allows something unsafe: %q", path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", path, resp.Header)
		}
		if path == "/console/" && (strings.Contains(string(body), "style=") || strings.Contains(string(body), "<script>") || strings.Contains(string(body), " on")) {
			t.Errorf("the page has inline script, style or handlers:\n%s", body)
		}
	}
	if resp, _ := http.Post(srv.URL+"/console/", "text/plain", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /console/ answered %d", resp.StatusCode)
	}
	framed := httptest.NewServer(console.Handler(console.Options{FrameAncestors: []string{"https://app.example.com"}}))
	defer framed.Close()
	resp, _ := http.Get(framed.URL + "/console/")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, "; frame-ancestors https://app.example.com") || resp.Header.Get("X-Frame-Options") != "" {
		t.Errorf("with an embedding origin: %q, X-Frame-Options %q", csp, resp.Header.Get("X-Frame-Options"))
	}
}

// iconTag is the page's <link rel="icon">.
var iconTag = regexp.MustCompile(`<link rel="icon" href="([^"]*)"`)

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// scriptTag is a <script> element of the console's page; src is empty for an inline one.
var scriptTag = regexp.MustCompile(`<script(?: src="([^"]*)")?[^>]*>`)

// scripts are the sources of the page's script elements, in order; an inline script fails the test.
func scripts(t *testing.T, page string) []string {
	t.Helper()
	resp, err := http.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out []string
	for _, m := range scriptTag.FindAllStringSubmatch(string(body), -1) {
		if m[1] == "" || strings.Contains(m[1], "/") {
			t.Errorf("%s: %s is inline or not one of the console's own files", page, m[0])
			continue
		}
		out = append(out, m[1])
	}
	if len(out) == 0 {
		t.Fatalf("%s loads no script:\n%s", page, body)
	}
	return out
}
