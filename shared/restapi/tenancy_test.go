package restapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/pipelinetest"
)

// TestTenancy_AKeyOfAnotherProjectCanNeitherSeeNorTouchAnything runs every method with a key of
// project beta against project alpha's webhook and delivery. Each answer must be the 404 a
// missing resource gets — word for word the one for a project that does not exist — and
// afterwards alpha's webhook, deliveries and endpoint must be exactly as they were.
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
	alpha.waitDelivery(dname, "FAILED")
	before, _ := s.Store.GetWebhook(ctx, "alpha", "w")
	dBefore, _ := s.Store.GetDelivery(ctx, "alpha", dname[strings.LastIndex(dname, "/")+1:])

	beta := c.as(s.APIKey(t, "beta"))
	body := `{"url":"https://evil.example.com/","subscribed_events":["batch.succeeded"]}`
	replay := `{"start_time":"2000-01-01T00:00:00Z","end_time":"2100-01-01T00:00:00Z"}`
	for _, m := range []struct{ method, path, body string }{
		{"GET", "/v1/projects/{p}/webhooks", ""},
		{"POST", "/v1/projects/{p}/webhooks?webhook_id=intruder", body},
		{"GET", "/v1/projects/{p}/webhooks/w", ""},
		{"PATCH", "/v1/projects/{p}/webhooks/w", body},
		{"PATCH", "/v1/projects/{p}/webhooks/w?update_mask=state", `{"state":"DISABLED"}`},
		{"DELETE", "/v1/projects/{p}/webhooks/w", ""},
		{"POST", "/v1/projects/{p}/webhooks/w:ping", ""},
		{"POST", "/v1/projects/{p}/webhooks/w:rotateSigningSecret", `{"revocation_behavior":"REVOKE_PREVIOUS_SECRETS_IMMEDIATELY"}`},
		{"GET", "/v1/projects/{p}/webhooks/w/deliveries", ""},
		{"GET", "/v1/" + strings.Replace(dname, "alpha", "{p}", 1), ""},
		{"POST", "/v1/" + strings.Replace(dname, "alpha", "{p}", 1) + ":retry", ""},
		{"POST", "/v1/projects/{p}/webhooks/w:replay", replay},
	} {
		got := beta.do(m.method, strings.ReplaceAll(m.path, "{p}", "alpha"), m.body).fails(t, 404, "NOT_FOUND")
		nobody := beta.do(m.method, strings.ReplaceAll(m.path, "{p}", "nobody"), m.body).fails(t, 404, "NOT_FOUND")
		if got != strings.ReplaceAll(nobody, "nobody", "alpha") {
			t.Errorf("%s %s: %q differs from the answer for a project that does not exist (%q)", m.method, m.path, got, nobody)
		}
	}
	// Surface B works on the key's own project only: alpha's webhook is not there.
	for _, m := range [][3]string{{"GET", "/w", ""}, {"PATCH", "/w", `{"name":"x"}`}, {"DELETE", "/w", ""}, {"POST", "/w:ping", ""}, {"POST", "/w:rotateSigningSecret", "{}"}} {
		beta.do(m[0], "/v1beta/webhooks"+m[1], m[2]).fails(t, 404, "NOT_FOUND")
	}
	var list struct{ Webhooks []json.RawMessage }
	beta.do("GET", "/v1beta/webhooks", "").ok(t, &list)
	if len(list.Webhooks) != 0 {
		t.Errorf("beta lists %d webhooks", len(list.Webhooks))
	}

	// Nothing of alpha changed, nothing was sent.
	time.Sleep(2 * time.Second) // a ping, retry or replay would have arrived by now
	after, err := s.Store.GetWebhook(ctx, "alpha", "w")
	if err != nil || !after.UpdateTime.Equal(before.UpdateTime) || after.State != before.State || len(after.Secrets) != len(before.Secrets) ||
		after.URL != before.URL {
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
}

func alphaCreate(t *testing.T, alpha client, id string) {
	t.Helper()
	var w webhookA
	alpha.do("POST", "/v1/projects/alpha/webhooks?webhook_id="+id, `{"url":"https://a.example.com/h","subscribed_events":["batch.failed"]}`).ok(t, &w)
	watch(w.NewSigningSecret)
}
