package restapi_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/genai"
	"google.golang.org/genai/interactions/models/apierrors"
	"google.golang.org/genai/interactions/models/operations"
	"google.golang.org/genai/interactions/models/webhooks"

	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
	"github.com/jobhooks/jobhooks/shared/secrets"
)

// webhookB is a webhook in the Gemini WebhookService wire format.
type webhookB struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	URI              string   `json:"uri"`
	SubscribedEvents []string `json:"subscribed_events"`
	State            string   `json:"state"`
	SigningSecrets   []struct {
		TruncatedSecret string `json:"truncated_secret"`
		ExpireTime      string `json:"expire_time"`
	} `json:"signing_secrets"`
	NewSigningSecret string `json:"new_signing_secret"`
	CreateTime       string `json:"create_time"`
	UpdateTime       string `json:"update_time"`
}

// TestGemini_PingUnderV1betaAndV1_IsADeliveryTheConsoleFollows: Surface B's ping answers {}, as
// the Gemini API's does, and accepts what the console sends (a portal link as well as a key); the
// ping is a delivery like any other, which Surface A's delivery list, the console's view, shows
// until it is delivered.
func TestGemini_PingUnderV1betaAndV1_IsADeliveryTheConsoleFollows(t *testing.T) {
	t.Parallel()
	_, c := env(t, pipelinetest.Options{})
	rcv := pipelinetest.NewReceiver(t, pipelinetest.OK)
	c.createA("gem", rcv.URL)
	link, _ := c.link("/v1/projects/acme:createPortalLink", `{"webhooks":["gem"]}`)

	for _, r := range []response{
		c.do("POST", "/v1beta/webhooks/gem:ping", ""),
		c.withLink(link, "POST", "/v1/webhooks/gem:ping", ""),
	} {
		if r.ok(t, nil); strings.TrimSpace(string(r.body)) != "{}" {
			t.Errorf("ping answered %s, want {}", r.body)
		}
	}
	pipelinetest.Eventually(t, wait, "two pings delivered", func() bool {
		var page deliveryPage
		c.withLink(link, "GET", "/v1/projects/acme/webhooks/gem/deliveries?state=DELIVERED", "").ok(t, &page)
		return len(page.Deliveries) == 2 && page.Deliveries[0].EventType == "webhook.ping" && page.Deliveries[1].EventType == "webhook.ping"
	})
	if n := rcv.Count(); n != 2 {
		t.Errorf("the receiver got %d requests, want the two pings", n)
	}
}

func TestGemini_EveryMethodInTheWireFormatUnderV1betaAndV1(t *testing.T) {
	t.Parallel()
	_, c := env(t, pipelinetest.Options{})
	for _, v := range []string{"/v1beta", "/v1"} {
		var w webhookB
		c.do("POST", v+"/webhooks", `{"name":"My batch hook","uri":"https://a.example.com/gemini","subscribed_events":["batch.succeeded","batch.failed"]}`).ok(t, &w)
		watch(w.NewSigningSecret)
		if _, err := secrets.Parse(w.NewSigningSecret); err != nil || w.ID == "" || w.Name != "My batch hook" ||
			w.URI != "https://a.example.com/gemini" || w.State != "enabled" || len(w.SigningSecrets) != 1 || w.CreateTime == "" {
			t.Fatalf("%s create = %+v (%v)", v, w, err)
		}
		item := v + "/webhooks/" + w.ID

		var got webhookB
		c.do("GET", item, "").ok(t, &got)
		if got.ID != w.ID || got.NewSigningSecret != "" || got.URI != w.URI {
			t.Errorf("%s get = %+v", v, got)
		}
		// The same webhook through Surface A: one service, two codecs.
		var a webhookA
		c.do("GET", "/v1/projects/acme/webhooks/"+w.ID, "").ok(t, &a)
		if a.URL != w.URI || a.DisplayName != w.Name || a.State != "ENABLED" {
			t.Errorf("%s: surface A shows %+v", v, a)
		}

		c.do("PATCH", item+"?update_mask=name", `{"name":"Renamed","uri":"https://ignored.example.com/"}`).ok(t, &got)
		if got.Name != "Renamed" || got.URI != w.URI {
			t.Errorf("%s mask name: %+v", v, got)
		}
		c.do("PATCH", item, `{"state":"disabled"}`).ok(t, &got)
		if got.State != "disabled" || got.Name != "Renamed" {
			t.Errorf("%s no mask: %+v", v, got)
		}
		c.do("POST", item+":ping", "").fails(t, 400, "FAILED_PRECONDITION", "not enabled")
		c.do("PATCH", item+"?update_mask=state", `{"state":"enabled"}`).ok(t, &got)
		c.do("PATCH", item, `{"state":"disabled_due_to_failed_deliveries"}`).fails(t, 400, "INVALID_ARGUMENT", "state")
		c.do("PATCH", item, `{"state":"paused"}`).fails(t, 400, "INVALID_ARGUMENT", "state", "enabled")
		c.do("PATCH", item+"?update_mask=id", `{}`).fails(t, 400, "INVALID_ARGUMENT", "id", "output only")
		c.do("PATCH", item+"?update_mask=url", `{}`).fails(t, 400, "INVALID_ARGUMENT", "url")
		// Service errors use this surface's field names.
		c.do("PATCH", item, `{"uri":"ftp://a.example.com/"}`).fails(t, 400, "INVALID_ARGUMENT", "uri:")
		c.do("PATCH", item, `{"name":"`+strings.Repeat("x", 300)+`"}`).fails(t, 400, "INVALID_ARGUMENT", "name:")

		for _, body := range []string{"", "{}", "null"} {
			if r := c.do("POST", item+":ping", body).ok(t, nil); strings.TrimSpace(string(r.body)) != "{}" {
				t.Errorf("%s ping answered %s", v, r.body)
			}
		}
		c.do("POST", item+":ping", `{"colour":"blue"}`).fails(t, 400, "INVALID_ARGUMENT", "colour")

		var rot struct{ Secret string }
		c.do("POST", item+":rotateSigningSecret", `{"revocation_behavior":"revoke_previous_secrets_immediately"}`).ok(t, &rot)
		watch(rot.Secret)
		sec, err := secrets.Parse(rot.Secret)
		if err != nil {
			t.Fatalf("%s rotate: %v", v, err)
		}
		c.do("GET", item, "").ok(t, &got)
		if len(got.SigningSecrets) != 1 || got.SigningSecrets[0].TruncatedSecret != sec.Truncated() {
			t.Errorf("%s after an immediate rotation: %+v", v, got.SigningSecrets)
		}
		c.do("POST", item+":rotateSigningSecret", `{"revocation_behavior":"sometime"}`).fails(t, 400, "INVALID_ARGUMENT", "revocation_behavior")

		if r := c.do("DELETE", item, "").ok(t, nil); strings.TrimSpace(string(r.body)) != "{}" {
			t.Errorf("%s delete answered %s", v, r.body)
		}
		c.do("GET", item, "").fails(t, 404, "NOT_FOUND")
		c.do("POST", v+"/webhooks", `{"uri":"https://a.example.com/","subscribed_events":[]}`).fails(t, 400, "INVALID_ARGUMENT", "subscribed_events")
	}
}

func TestGemini_ListPagesWithPageSizeAndPageToken(t *testing.T) {
	t.Parallel()
	_, c := env(t, pipelinetest.Options{})
	for i := range 3 {
		c.createA(fmt.Sprintf("g%d", i), "https://a.example.com/g")
	}
	var ids []string
	token := ""
	for pages := 1; ; pages++ {
		var p struct {
			Webhooks      []webhookB `json:"webhooks"`
			NextPageToken string     `json:"next_page_token"`
		}
		c.do("GET", "/v1beta/webhooks?page_size=2&page_token="+token, "").ok(t, &p)
		for _, w := range p.Webhooks {
			ids = append(ids, w.ID)
		}
		if token = p.NextPageToken; token == "" {
			if pages != 2 {
				t.Errorf("%d pages, want 2", pages)
			}
			break
		}
	}
	if fmt.Sprint(ids) != "[g0 g1 g2]" {
		t.Errorf("ids = %v", ids)
	}
}

// TestGemini_OfficialGoSDKWorksUnchanged points google.golang.org/genai at the API and runs
// every webhook method through it.
func TestGemini_OfficialGoSDKWorksUnchanged(t *testing.T) {
	t.Parallel()
	_, c := env(t, pipelinetest.Options{})
	rcv := pipelinetest.NewReceiver(t, pipelinetest.OK)
	ctx := context.Background()
	for i, version := range []string{"", "v1"} { // "" is the SDK's default, v1beta
		client, err := genai.NewClient(ctx, &genai.ClientConfig{
			APIKey: c.key, Backend: genai.BackendGeminiAPI,
			HTTPOptions: genai.HTTPOptions{BaseURL: c.base, APIVersion: version},
		})
		if err != nil {
			t.Fatal(err)
		}
		created, err := client.Webhooks.Create(ctx, operations.CreateWebhookRequest{Body: webhooks.WebhookInput{
			Name:             genai.Ptr("SDK hook"),
			URI:              rcv.URL,
			SubscribedEvents: []webhooks.WebhookSubscribedEvent{webhooks.WebhookSubscribedEventBatchSucceeded},
		}})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		w := created.Webhook
		watch(*w.NewSigningSecret)
		if w.ID == nil || *w.Name != "SDK hook" || w.State == nil || *w.State != webhooks.WebhookStateEnabled ||
			!strings.HasPrefix(*w.NewSigningSecret, "whsec_") || w.CreateTime == nil || time.Since(*w.CreateTime) > time.Minute {
			t.Fatalf("create = %+v", w)
		}
		id := *w.ID

		got, err := client.Webhooks.Get(ctx, operations.GetWebhookRequest{ID: id})
		if err != nil || got.Webhook.URI != rcv.URL || len(got.Webhook.SigningSecrets) != 1 {
			t.Fatalf("get = %+v, %v", got, err)
		}
		list, err := client.Webhooks.List(ctx, operations.ListWebhooksRequest{PageSize: genai.Ptr(10)})
		if err != nil || len(list.WebhookListResponse.Webhooks) == 0 {
			t.Fatalf("list = %+v, %v", list, err)
		}
		updated, err := client.Webhooks.Update(ctx, operations.UpdateWebhookRequest{
			ID: id, UpdateMask: genai.Ptr("subscribed_events"),
			Body: webhooks.WebhookUpdate{SubscribedEvents: []webhooks.WebhookUpdateSubscribedEvent{webhooks.WebhookUpdateSubscribedEventVideoGenerated}},
		})
		if err != nil || fmt.Sprint(updated.Webhook.SubscribedEvents) != "[video.generated]" {
			t.Fatalf("update = %+v, %v", updated, err)
		}
		if _, err := client.Webhooks.Ping(ctx, operations.PingWebhookRequest{ID: id}); err != nil {
			t.Fatalf("ping: %v", err)
		}
		// The ping goes through Dispatch and Deliver to the receiver.
		pipelinetest.Eventually(t, wait, "ping delivered", func() bool { return rcv.Count() == i+1 })
		rotated, err := client.Webhooks.RotateSigningSecret(ctx, operations.RotateSigningSecretRequest{
			ID: id, Body: webhooks.RotateSigningSecretRequest{RevocationBehavior: webhooks.RevocationBehaviorRevokePreviousSecretsAfterH24.ToPointer()},
		})
		if err != nil || rotated.WebhookRotateSigningSecretResponse.Secret == nil {
			t.Fatalf("rotate = %+v, %v", rotated, err)
		}
		watch(*rotated.WebhookRotateSigningSecretResponse.Secret)
		got, _ = client.Webhooks.Get(ctx, operations.GetWebhookRequest{ID: id})
		if n := len(got.Webhook.SigningSecrets); n != 2 || got.Webhook.SigningSecrets[1].ExpireTime == nil {
			t.Errorf("after a 24h rotation: %d secrets %+v, want 2, the old one expiring", n, got.Webhook.SigningSecrets)
		}
		if _, err := client.Webhooks.Delete(ctx, operations.DeleteWebhookRequest{ID: id}); err != nil {
			t.Fatalf("delete: %v", err)
		}
		_, err = client.Webhooks.Get(ctx, operations.GetWebhookRequest{ID: id})
		var apiErr *apierrors.APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || !strings.Contains(apiErr.Body, "NOT_FOUND") {
			t.Errorf("get after delete: %v", err)
		}
	}
}
