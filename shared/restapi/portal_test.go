package restapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/apikeys"
	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
	"github.com/jobhooks/jobhooks/shared/portal"
)

// link creates a portal link with c's API key and returns its token (watched in the logs).
func (c client) link(path, body string) (token string, expire time.Time) {
	c.t.Helper()
	var out struct {
		URL        string `json:"url"`
		ExpireTime string `json:"expire_time"`
	}
	c.do("POST", path, body).ok(c.t, &out)
	base, token, ok := strings.Cut(out.URL, "#token=")
	if !ok || base != c.base+"/console/" {
		c.t.Fatalf("portal link %q is not %s/console/#token=...", out.URL, c.base)
	}
	pipelinetest.Logs.Watch(token)
	expire, _ = time.Parse(time.RFC3339, out.ExpireTime)
	return token, expire
}

// withLink sends a request with a portal link's token as Authorization: Bearer.
func (c client) withLink(token, method, path, body string) response {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequestWithContext(context.Background(), method, c.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, body: b}
}

// TestPortalLink_ReachesItsProjectOnlyAndExpires: a link made with acme's key lists and changes
// acme's webhooks through Authorization: Bearer, never another project's; it stops working
// when it expires, when altered, or when signed by a key this deployment does not hold — each a
// 401 in the API's error shape; and the token never appears in a log line (TestMain checks).
func TestPortalLink_ReachesItsProjectOnlyAndExpires(t *testing.T) {
	t.Parallel()
	s, c := env(t, pipelinetest.Options{})
	c.createA("one", "https://one.example.com/h")
	beta := c.as(s.APIKey(t, "beta"))
	beta.do("POST", "/v1/projects/beta/webhooks?webhook_id=secret-b", `{"url":"https://b.example.com/h","subscribed_events":["batch.succeeded"]}`).ok(t, nil)

	token, expire := c.link("/v1/projects/acme:createPortalLink", `{"ttl":"600s"}`)
	if d := expire.Sub(s.Clock.Now()); d < 590*time.Second || d > 601*time.Second {
		t.Errorf("expire_time is %s away, want 600s", d)
	}
	var list struct{ Webhooks []webhookA }
	c.withLink(token, "GET", "/v1/projects/acme/webhooks", "").ok(t, &list)
	if len(list.Webhooks) != 1 || list.Webhooks[0].Name != "projects/acme/webhooks/one" {
		t.Errorf("the link lists %+v, want acme's one webhook", list.Webhooks)
	}
	c.withLink(token, "PATCH", "/v1/projects/acme/webhooks/one?update_mask=display_name", `{"display_name":"Renamed"}`).ok(t, nil)
	c.withLink(token, "POST", "/v1/projects/acme/webhooks?webhook_id=two", `{"url":"https://two.example.com/h","subscribed_events":["batch.failed"]}`).ok(t, nil)
	// Project B is out of reach exactly as it is for acme's key.
	for _, p := range []string{"/v1/projects/beta/webhooks", "/v1/projects/beta/webhooks/secret-b"} {
		c.withLink(token, "GET", p, "").fails(t, 404, "NOT_FOUND")
	}
	var gemini struct{ Webhooks []struct{ ID string } }
	c.withLink(token, "GET", "/v1beta/webhooks", "").ok(t, &gemini)
	if len(gemini.Webhooks) != 2 {
		t.Errorf("Surface B with the link lists %+v, want acme's two", gemini.Webhooks)
	}
	// A link cannot mint links.
	c.withLink(token, "POST", "/v1/projects/acme:createPortalLink", "").fails(t, 403, "PERMISSION_DENIED", "API key")

	// Altered (payload and signature), foreign, and not a token at all: 401.
	parts := strings.Split(token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := strings.Replace(string(payload), `"sub":"acme"`, `"sub":"beta"`, 1)
	if forged == string(payload) {
		t.Fatalf("payload %s has no sub acme", payload)
	}
	sig := []byte(parts[2])
	sig[3] ^= 1
	other := portal.NewIssuer(portal.NewKeys(pipelinetest.SecretManagerClient(t), s.Config.GoogleProject, "another-deployments-key", portal.KeysOptions{}), nil)
	if err := other.Keys().Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	foreign, _, err := other.Issue(context.Background(), portal.Scope{Project: "acme", KeyHash: apikeys.Hash(c.key)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pipelinetest.Logs.Watch(foreign)
	for what, bad := range map[string]string{
		"altered payload":   parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2],
		"altered signature": parts[0] + "." + parts[1] + "." + string(sig),
		"foreign":           foreign,
		"not a token":       "jh_not-a-token",
	} {
		for _, p := range []string{"/v1/projects/acme/webhooks", "/v1/projects/beta/webhooks"} {
			if r := c.withLink(bad, "GET", p, ""); r.status != 401 {
				t.Errorf("%s token on %s: %d %s, want 401", what, p, r.status, r.body)
			}
		}
		c.withLink(bad, "GET", "/v1/projects/acme/webhooks", "").fails(t, 401, "UNAUTHENTICATED", "portal link")
	}

	s.Clock.Advance(601 * time.Second)
	c.withLink(token, "GET", "/v1/projects/acme/webhooks", "").fails(t, 401, "UNAUTHENTICATED", "expired")

	// The life of a link is bounded; the body is checked.
	c.do("POST", "/v1/projects/acme:createPortalLink", `{"ttl":"86401s"}`).fails(t, 400, "INVALID_ARGUMENT", "ttl")
	c.do("POST", "/v1/projects/acme:createPortalLink", `{"ttl":"1h"}`).fails(t, 400, "INVALID_ARGUMENT", "ttl")
	c.do("POST", "/v1/projects/acme:createPortalLink", `{"webhooks":["secret-b"]}`).fails(t, 400, "INVALID_ARGUMENT", "webhooks[0]")
	c.link("/v1/projects/acme:createPortalLink", `{"ttl":"86400s"}`)
	// Surface B: the key's project.
	token, _ = c.link("/v1/webhooks:createPortalLink", "")
	c.withLink(token, "GET", "/v1/projects/acme/webhooks/one", "").ok(t, nil)
}

// TestPortalLink_ReadOnlyChangesNothingAndAScopedLinkSeesOnlyItsWebhooks: every method that
// changes something answers 403 to a read-only link and changes nothing; a link limited to one
// webhook lists only that one, reaches no other (404), and creates none.
func TestPortalLink_ReadOnlyChangesNothingAndAScopedLinkSeesOnlyItsWebhooks(t *testing.T) {
	t.Parallel()
	s, c := env(t, pipelinetest.Options{})
	rcv := pipelinetest.NewReceiver(t, pipelinetest.Status(500), pipelinetest.Status(404))
	c.createA("seen", rcv.URL)
	c.createA("hidden", "https://hidden.example.com/h")
	s.Publish(t, jobEvent("acme", "job-ro", "batch.succeeded"), nil)
	dname := deliveryName("acme", "seen", "job-ro")
	c.waitDelivery(dname, "FAILED")
	before, _ := s.Store.GetWebhook(context.Background(), "acme", "seen")

	ro, _ := c.link("/v1/projects/acme:createPortalLink", `{"read_only":true}`)
	w := "/v1/projects/acme/webhooks/seen"
	for _, m := range []struct{ method, path, body string }{
		{"POST", "/v1/projects/acme/webhooks?webhook_id=new", `{"url":"https://n.example.com/h","subscribed_events":["batch.succeeded"]}`},
		{"PATCH", w + "?update_mask=state", `{"state":"DISABLED"}`},
		{"DELETE", w, ""},
		{"POST", w + ":ping", ""},
		{"POST", w + ":rotateSigningSecret", `{}`},
		{"POST", w + ":replay", `{"start_time":"2000-01-01T00:00:00Z","end_time":"2100-01-01T00:00:00Z"}`},
		{"POST", "/" + strings.TrimPrefix(dname, "projects/") + ":retry", ""},
		{"POST", "/v1beta/webhooks/seen:ping", ""},
		{"DELETE", "/v1/webhooks/seen", ""},
	} {
		path := m.path
		if strings.HasPrefix(path, "/acme/") {
			path = "/v1/projects" + path
		}
		c.withLink(ro, m.method, path, m.body).fails(t, 403, "PERMISSION_DENIED", "read-only")
	}
	c.withLink(ro, "GET", "/"+"v1/"+dname, "").ok(t, nil)
	c.withLink(ro, "GET", w+"/deliveries", "").ok(t, nil)
	time.Sleep(time.Second) // a ping, retry or replay would be on its way
	after, _ := s.Store.GetWebhook(context.Background(), "acme", "seen")
	if !after.UpdateTime.Equal(before.UpdateTime) || len(after.Secrets) != len(before.Secrets) || rcv.Count() != 1 {
		t.Errorf("a read-only link changed something: update %s→%s, %d secrets→%d, %d requests",
			before.UpdateTime, after.UpdateTime, len(before.Secrets), len(after.Secrets), rcv.Count())
	}

	scoped, _ := c.link("/v1/projects/acme:createPortalLink", `{"webhooks":["seen"]}`)
	var list struct {
		Webhooks      []webhookA
		NextPageToken string `json:"next_page_token"`
	}
	c.withLink(scoped, "GET", "/v1/projects/acme/webhooks?page_size=1", "").ok(t, &list)
	if len(list.Webhooks) != 1 || list.Webhooks[0].Name != "projects/acme/webhooks/seen" || list.NextPageToken != "" {
		t.Errorf("a link for seen lists %+v", list)
	}
	c.withLink(scoped, "GET", "/v1/projects/acme/webhooks/hidden", "").fails(t, 404, "NOT_FOUND")
	c.withLink(scoped, "GET", "/v1/projects/acme/webhooks/hidden/deliveries", "").fails(t, 404, "NOT_FOUND")
	c.withLink(scoped, "DELETE", "/v1beta/webhooks/hidden", "").fails(t, 404, "NOT_FOUND")
	c.withLink(scoped, "POST", "/v1/projects/acme/webhooks", `{"url":"https://n.example.com/h","subscribed_events":["batch.succeeded"]}`).
		fails(t, 403, "PERMISSION_DENIED", "its webhooks")
	c.withLink(scoped, "PATCH", w+"?update_mask=display_name", `{"display_name":"Seen"}`).ok(t, nil)
	var gemini struct{ Webhooks []json.RawMessage }
	c.withLink(scoped, "GET", "/v1/webhooks", "").ok(t, &gemini)
	if len(gemini.Webhooks) != 1 {
		t.Errorf("Surface B with a link for seen lists %d webhooks", len(gemini.Webhooks))
	}
}
