package restapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
	"github.com/jobhooks/jobhooks/shared/restapi"
)

// tenancyCase is one API method as a key of project beta calls it against project alpha: the
// route's method and path template, the query and the body.
type tenancyCase struct{ method, template, query, body string }

// TestTenancy_AKeyOfAnotherProjectCanNeitherSeeNorTouchAnything runs every method of the API
// with a key of project beta against project alpha's webhook and delivery. On Surface A each
// answer must be the 404 a missing resource gets — word for word the one for a project that
// does not exist. Surface B works on the key's own project only: alpha's webhook is not there,
// and what beta lists or creates is beta's. Afterwards alpha's webhook, deliveries and endpoint
// must be exactly as they were. A method added to the router without a case here fails the test.
func TestTenancy_AKeyOfAnotherProjectCanNeitherSeeNorTouchAnything(t *testing.T) {
	t.Parallel()
	s, c := env(t, pipelinetest.Options{})
	ctx := context.Background()
	rcv := pipelinetest.NewReceiver(t, pipelinetest.OK, pipelinetest.Status(404))
	alpha := c.as(s.APIKey(t, "alpha"))
	var w webhookA
	alpha.do("POST", "/v1/projects/alpha/webhooks?webhook_id=w", `{"url":`+quote(rcv.URL)+`,"subscribed_events":["batch.succeeded"]}`).ok(t, &w)
	watch(w.NewSigningSecret)
	s.Publish(t, jobEvent("alpha", "job-a", "batch.succeeded"), nil)
	dname := deliveryName("alpha", "w", "job-a")
	deliveryID := dname[strings.LastIndex(dname, "/")+1:]
	alpha.waitDelivery(dname, "FAILED")
	before, _ := s.Store.GetWebhook(ctx, "alpha", "w")
	dBefore, _ := s.Store.GetDelivery(ctx, "alpha", deliveryID)

	beta := c.as(s.APIKey(t, "beta"))
	body := `{"url":"https://evil.example.com/","subscribed_events":["batch.succeeded"]}`
	replay := `{"start_time":"2000-01-01T00:00:00Z","end_time":"2100-01-01T00:00:00Z"}`
	const (
		collection = "/v1/projects/{project}/webhooks"
		item       = collection + "/{webhook}"
	)
	surfaceA := []tenancyCase{
		{"GET", collection, "", ""},
		{"GET", collection, "?page_size=1000", ""},
		{"POST", collection, "?webhook_id=intruder", body},
		{"GET", item, "", ""},
		{"PATCH", item, "", body},
		{"PATCH", item, "?update_mask=state", `{"state":"DISABLED"}`},
		{"PATCH", item, "?update_mask=*", body},
		{"DELETE", item, "", ""},
		{"POST", item + ":ping", "", ""},
		{"POST", item + ":rotateSigningSecret", "", `{"revocation_behavior":"REVOKE_PREVIOUS_SECRETS_IMMEDIATELY"}`},
		{"POST", item + ":replay", "", replay},
		{"GET", item + "/deliveries", "", ""},
		{"GET", item + "/deliveries", "?state=FAILED", ""},
		{"GET", item + "/deliveries/{delivery}", "", ""},
		{"POST", item + "/deliveries/{delivery}:retry", "", ""},
		{"GET", "/v1/projects/{project}/deadLetters", "", ""},
		{"GET", "/v1/projects/{project}/deadLetters", "?kind=job_event&page_size=1000", ""},
		{"POST", "/v1/projects/{project}:createPortalLink", "", `{"read_only":true}`},
		{"POST", "/v1/projects/{project}:revokePortalLinks", "", ""},
	}
	path := func(c tenancyCase, project string) string {
		return strings.NewReplacer("{project}", project, "{webhook}", "w", "{delivery}", deliveryID).Replace(c.template) + c.query
	}
	for _, m := range surfaceA {
		got := beta.do(m.method, path(m, "alpha"), m.body).fails(t, 404, "NOT_FOUND")
		nobody := beta.do(m.method, path(m, "nobody"), m.body).fails(t, 404, "NOT_FOUND")
		if got != strings.ReplaceAll(nobody, "nobody", "alpha") {
			t.Errorf("%s %s: %q differs from the answer for a project that does not exist (%q)", m.method, m.template, got, nobody)
		}
		// A key in ?key= is refused before anything is looked up, for every project alike.
		beta.as("").do(m.method, path(m, "alpha")+sep(m.query)+"key="+beta.key, m.body).fails(t, 401, "UNAUTHENTICATED")
	}
	// Paths that spell alpha's resources around beta's project never reach them.
	for _, p := range []string{
		"/v1/projects/beta/../alpha/webhooks/w", "/v1/projects/beta/webhooks/..%2F..%2Falpha%2Fwebhooks%2Fw",
		"/v1/projects/alpha%2Fwebhooks%2Fw", "/v1/projects/beta/webhooks/w/../../../alpha/webhooks/w",
		"/v1/projects/ALPHA/webhooks/w", "/v1/projects/alpha/webhooks/W", "/v1beta/webhooks/..%2Fprojects%2Falpha%2Fwebhooks%2Fw",
	} {
		beta.do("GET", p, "").fails(t, 404, "NOT_FOUND")
	}

	var surfaceB []tenancyCase
	for _, v := range []string{"/v1beta", "/v1"} {
		surfaceB = append(surfaceB,
			tenancyCase{"GET", v + "/webhooks/{webhook}", "", ""},
			tenancyCase{"PATCH", v + "/webhooks/{webhook}", "", `{"name":"x"}`},
			tenancyCase{"PATCH", v + "/webhooks/{webhook}", "?update_mask=state", `{"state":"disabled"}`},
			tenancyCase{"DELETE", v + "/webhooks/{webhook}", "", ""},
			tenancyCase{"POST", v + "/webhooks/{webhook}:ping", "", ""},
			tenancyCase{"POST", v + "/webhooks/{webhook}:rotateSigningSecret", "", "{}"},
		)
		for _, m := range surfaceB[len(surfaceB)-6:] {
			beta.do(m.method, path(m, ""), m.body).fails(t, 404, "NOT_FOUND")
		}
		var list struct{ Webhooks []json.RawMessage }
		beta.do("GET", v+"/webhooks?page_size=1000", "").ok(t, &list)
		if len(list.Webhooks) != 0 {
			t.Errorf("beta lists %d webhooks under %s", len(list.Webhooks), v)
		}
		surfaceB = append(surfaceB, tenancyCase{"GET", v + "/webhooks", "", ""})
	}
	// What beta creates is beta's: Surface B has no project to name, Surface A refuses a name
	// in another project.
	var created struct {
		ID     string `json:"id"`
		Secret string `json:"new_signing_secret"`
	}
	beta.do("POST", "/v1beta/webhooks", `{"uri":"https://b.example.com/h","subscribed_events":["batch.succeeded"]}`).ok(t, &created)
	watch(created.Secret)
	surfaceB = append(surfaceB, tenancyCase{"POST", "/v1beta/webhooks", "", ""}, tenancyCase{"POST", "/v1/webhooks", "", ""})
	// A link beta creates is beta's, and names none of alpha's webhooks.
	beta.do("POST", "/v1/webhooks:createPortalLink", `{"webhooks":["w"]}`).fails(t, 400, "INVALID_ARGUMENT", "webhooks[0]")
	surfaceB = append(surfaceB, tenancyCase{"POST", "/v1/webhooks:createPortalLink", "", ""})
	if _, err := s.Store.GetWebhook(ctx, "beta", created.ID); err != nil {
		t.Errorf("beta's Surface B webhook is not in beta: %v", err)
	}
	beta.do("POST", "/v1/projects/beta/webhooks", `{"name":"projects/alpha/webhooks/intruder","url":"https://b.example.com/h","subscribed_events":["batch.succeeded"]}`).
		fails(t, 400, "INVALID_ARGUMENT", "name")

	// Every method the router serves was tried above.
	for _, r := range restapi.Routes() {
		covered := false
		for _, m := range append(surfaceA, surfaceB...) {
			covered = covered || m.method == r.Method && m.template == r.Path
		}
		if !covered {
			t.Errorf("%s %s has no tenancy case", r.Method, r.Path)
		}
	}

	// Nothing of alpha changed, nothing was sent.
	time.Sleep(2 * time.Second) // a ping, retry or replay would have arrived by now
	after, err := s.Store.GetWebhook(ctx, "alpha", "w")
	if err != nil || !after.UpdateTime.Equal(before.UpdateTime) || after.State != before.State || len(after.Secrets) != len(before.Secrets) ||
		after.URL != before.URL || after.DisplayName != before.DisplayName {
		t.Errorf("alpha's webhook changed: %+v (%v)", after, err)
	}
	dAfter, _ := s.Store.GetDelivery(ctx, "alpha", dBefore.ID)
	if dAfter.Series != dBefore.Series || dAfter.Attempts != dBefore.Attempts || rcv.Count() != 1 {
		t.Errorf("alpha's delivery was re-sent: series %d→%d, %d requests", dBefore.Series, dAfter.Series, rcv.Count())
	}
	var alphaList struct{ Webhooks []webhookA }
	alpha.do("GET", "/v1/projects/alpha/webhooks", "").ok(t, &alphaList)
	if len(alphaList.Webhooks) != 1 {
		t.Errorf("alpha has %d webhooks, want 1", len(alphaList.Webhooks))
	}
	// A page token of alpha's list does not page beta's.
	alphaCreate(t, alpha, "w2")
	var page struct {
		NextPageToken string `json:"next_page_token"`
	}
	alpha.do("GET", "/v1/projects/alpha/webhooks?page_size=1", "").ok(t, &page)
	beta.do("GET", "/v1/projects/beta/webhooks?page_token="+page.NextPageToken, "").fails(t, 400, "INVALID_ARGUMENT", "page_token")
	beta.do("GET", "/v1beta/webhooks?page_token="+page.NextPageToken, "").fails(t, 400, "INVALID_ARGUMENT", "page_token")
}

// sep is the separator before one more query parameter.
func sep(query string) string {
	if query == "" {
		return "?"
	}
	return "&"
}

func alphaCreate(t *testing.T, alpha client, id string) {
	t.Helper()
	var w webhookA
	alpha.do("POST", "/v1/projects/alpha/webhooks?webhook_id="+id, `{"url":"https://a.example.com/h","subscribed_events":["batch.failed"]}`).ok(t, &w)
	watch(w.NewSigningSecret)
}
