package restapi_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
)

// Cloud Run's request log keeps the whole URL, query included, for anyone with logging.viewer:
// a key in ?key= would be in a log line whatever this API logs itself (shared/restapi/README.md,
// The management API). It is refused, with or without a header beside it.
func TestAPI_KeysInTheQueryStringAreRefused(t *testing.T) {
	t.Parallel()
	_, c := env(t, pipelinetest.Options{})
	for _, path := range []string{"/v1/projects/acme/webhooks", "/v1beta/webhooks", "/v1/webhooks"} {
		c.as("").do("GET", path+"?key="+c.key, "").fails(t, 401, "UNAUTHENTICATED", "x-goog-api-key", "query")
		c.do("GET", path+"?page_size=5&key="+c.key, "").fails(t, 401, "UNAUTHENTICATED", "x-goog-api-key")
		c.do("GET", path, "").ok(t, nil)
	}
}

// A page token is the caller's input: one crafted to name a document id with a "/" (or any id
// the list never hands out) is a 400, never a store error answered 500 and logged at ERROR.
func TestAPI_CraftedPageTokensAre400AndLogNoError(t *testing.T) {
	t.Parallel()
	s, c := env(t, pipelinetest.Options{})
	c.createA("w", "https://example.com/hook")
	token := func(json string) string { return base64.RawURLEncoding.EncodeToString([]byte(json)) }
	for _, tc := range []struct{ path, json string }{
		{"/v1/projects/acme/webhooks", `{"k":"webhooks","p":"acme","t":"2026-01-01T00:00:00Z","i":"a/b"}`},
		{"/v1/projects/acme/webhooks", `{"k":"webhooks","p":"acme","i":"__x__"}`},
		{"/v1/projects/acme/webhooks", `{"k":"webhooks","p":"acme","i":"` + strings.Repeat("x", 2000) + `"}`},
		{"/v1beta/webhooks", `{"k":"webhooks","p":"acme","i":"../../apikeys/x"}`},
		{"/v1/projects/acme/webhooks/w/deliveries", `{"k":"deliveries","p":"acme","w":"w","i":"a/b/c"}`},
		{"/v1/projects/acme/webhooks/w/deliveries", `{"k":"deliveries","p":"acme","w":"w","i":".."}`},
		{"/v1/projects/acme/webhooks/w/deliveries", `{"k":"deliveries","p":"acme","w":"w","i":"dlv_` + strings.Repeat("A", 30) + `"}`},
	} {
		c.do("GET", tc.path+"?page_token="+token(tc.json), "").fails(t, 400, "INVALID_ARGUMENT", "page_token")
	}
	for _, l := range s.Lines() {
		if strings.Contains(l, `"severity":"ERROR"`) {
			t.Errorf("a crafted page token logged an error: %.300s", l)
		}
	}
}
