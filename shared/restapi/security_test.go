package restapi_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/apikeys"
	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
	"github.com/jobhooks/jobhooks/shared/portal"
	"github.com/jobhooks/jobhooks/shared/store"
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

// A portal link's kid names a version of the portal key. Made-up kids are free to send, so they
// must be free to refuse: only a kid in the cached list of enabled versions is read from Secret
// Manager, and a kid the list lacks has the list read again at most once per refresh interval
// (shared/delivery/README.md, Security). A version another instance adds is still found.
func TestPortalLink_ForgedKidsCostNoSecretManagerRead(t *testing.T) {
	t.Parallel()
	s, c := env(t, pipelinetest.Options{})
	token, _ := c.link("/v1/projects/acme:createPortalLink", "")
	c.withLink(token, "GET", "/v1/projects/acme/webhooks", "").ok(t, nil)

	p := s.Config.GoogleProject
	access, list := pipelinetest.Calls.SecretManager(p, "AccessSecretVersion"), pipelinetest.Calls.SecretManager(p, "ListSecretVersions")
	start := time.Now()
	const forged = 200
	for i := range forged {
		header := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"alg":"HS256","kid":"%d","typ":"JWT"}`, 1000+i))
		claims := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"acme","exp":4102444800,"iat":1}`))
		c.withLink(header+"."+claims+".c2lnbmF0dXJl", "GET", "/v1/projects/acme/webhooks", "").fails(t, 401, "UNAUTHENTICATED", "portal link")
	}
	if n := pipelinetest.Calls.SecretManager(p, "AccessSecretVersion") - access; n != 0 {
		t.Errorf("%d forged kids made %d AccessSecretVersion calls, want none", forged, n)
	}
	// One list call per refresh interval at most, however long the loop took.
	if n, most := pipelinetest.Calls.SecretManager(p, "ListSecretVersions")-list, 1+int(time.Since(start)/portal.DefaultRefreshInterval); n > most {
		t.Errorf("%d forged kids made %d ListSecretVersions calls, want at most %d", forged, n, most)
	}
	c.withLink(token, "GET", "/v1/projects/acme/webhooks", "").ok(t, nil)

	// A version added elsewhere signs links this instance accepts once its list is read again.
	other := portal.NewIssuer(portal.NewKeys(pipelinetest.SecretManagerClient(t), p, s.Config.PortalKeySecret, portal.KeysOptions{Now: s.Clock.Now}), s.Clock.Now)
	if _, err := other.Keys().Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	newer, _, err := other.Issue(context.Background(), portal.Scope{Project: "acme", KeyHash: apikeys.Hash(c.key)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pipelinetest.Logs.Watch(newer)
	s.Clock.Advance(portal.DefaultRefreshInterval + time.Second)
	c.withLink(newer, "GET", "/v1/projects/acme/webhooks", "").ok(t, nil)
}

// An unknown key that looks like a key costs one store read per instance per short window, not
// one per request: the miss is remembered for apikeys.MissTTL (shared/delivery/README.md,
// Security). A key created meanwhile works once that window has passed.
func TestAPI_UnknownKeysCostOneStoreReadPerWindow(t *testing.T) {
	t.Parallel()
	s, c := env(t, pipelinetest.Options{})
	unknown := c.as(apikeys.Prefix + strings.Repeat("A", 43))
	pipelinetest.Logs.Watch(unknown.key)
	p := s.Config.GoogleProject
	before := pipelinetest.Calls.FirestoreReads(p, "apikeys")
	for range 50 {
		unknown.do("GET", "/v1/projects/acme/webhooks", "").fails(t, 401, "UNAUTHENTICATED")
	}
	if n := pipelinetest.Calls.FirestoreReads(p, "apikeys") - before; n != 1 {
		t.Errorf("50 requests with one unknown key read %d API key documents, want 1", n)
	}
	s.Clock.Advance(apikeys.MissTTL)
	unknown.do("GET", "/v1/projects/acme/webhooks", "").fails(t, 401, "UNAUTHENTICATED")
	if n := pipelinetest.Calls.FirestoreReads(p, "apikeys") - before; n != 2 {
		t.Errorf("after the miss expired: %d API key documents read, want 2", n)
	}

	// A key asked for before it existed works once the miss has expired.
	if err := s.Store.CreateAPIKey(context.Background(), store.APIKey{Hash: apikeys.Hash(unknown.key), Project: "acme", CreateTime: s.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	unknown.do("GET", "/v1/projects/acme/webhooks", "").fails(t, 401, "UNAUTHENTICATED")
	s.Clock.Advance(apikeys.MissTTL)
	unknown.do("GET", "/v1/projects/acme/webhooks", "").ok(t, nil)
}

// A portal link names the API key that issued it and dies with it: once the key is revoked,
// every link it made answers 401 within the key cache's TTL, while links of the project's other
// keys keep working. :revokePortalLinks ends every link of one project made until then (at once
// on the instance that answered it, within the cache TTL on the others), and no other project's;
// links made afterwards work. A link cannot revoke links (shared/restapi/README.md, Portal links).
func TestPortalLink_DiesWithItsKeyAndWithTheProjectsRevocation(t *testing.T) {
	t.Parallel()
	s, c := env(t, pipelinetest.Options{})
	second := c.as(s.APIKey(t, "acme"))
	beta := c.as(s.APIKey(t, "beta"))
	kept, _ := c.link("/v1/projects/acme:createPortalLink", "")
	doomed, _ := second.link("/v1/projects/acme:createPortalLink", "")
	second.withLink(doomed, "GET", "/v1/projects/acme/webhooks", "").ok(t, nil)

	if err := apikeys.Revoke(context.Background(), s.Store, second.key); err != nil {
		t.Fatal(err)
	}
	s.Clock.Advance(apikeys.MaxTTL)
	c.withLink(doomed, "GET", "/v1/projects/acme/webhooks", "").fails(t, 401, "UNAUTHENTICATED", "revoked")
	c.withLink(kept, "GET", "/v1/projects/acme/webhooks", "").ok(t, nil)

	// Per-project revocation. Another instance has the project's links checked, and cached.
	other := c
	other.base = s.API(t)
	other.withLink(kept, "GET", "/v1/projects/acme/webhooks", "").ok(t, nil)
	betaLink, _ := beta.link("/v1/projects/beta:createPortalLink", "")
	c.withLink(kept, "POST", "/v1/projects/acme:revokePortalLinks", "").fails(t, 403, "PERMISSION_DENIED", "API key")
	c.do("POST", "/v1/projects/acme:revokePortalLinks", "").ok(t, nil)
	c.withLink(kept, "GET", "/v1/projects/acme/webhooks", "").fails(t, 401, "UNAUTHENTICATED", "revoked")
	s.Clock.Advance(apikeys.MaxTTL)
	other.withLink(kept, "GET", "/v1/projects/acme/webhooks", "").fails(t, 401, "UNAUTHENTICATED", "revoked")
	beta.withLink(betaLink, "GET", "/v1/projects/beta/webhooks", "").ok(t, nil)
	fresh, _ := c.link("/v1/projects/acme:createPortalLink", "")
	c.withLink(fresh, "GET", "/v1/projects/acme/webhooks", "").ok(t, nil)
	other.withLink(fresh, "GET", "/v1/projects/acme/webhooks", "").ok(t, nil)
	// Another project's key cannot revoke acme's links: the same 404 as any other of acme's methods.
	beta.do("POST", "/v1/projects/acme:revokePortalLinks", "").fails(t, 404, "NOT_FOUND")
	c.withLink(fresh, "GET", "/v1/projects/acme/webhooks", "").ok(t, nil)
}
