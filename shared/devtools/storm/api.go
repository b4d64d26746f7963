package storm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/jobhooks/jobhooks/shared/webhook"
)

// api is the management API as a customer uses it: resource style, one API key
// (shared/restapi/README.md, The management API).
type api struct {
	url, key, project string
	client            *http.Client
}

func newAPI(apiURL, apiKey, project string) *api {
	return &api{url: apiURL, key: apiKey, project: project, client: &http.Client{Timeout: 30 * time.Second}}
}

// webhookAnswer is what the API answers about a webhook, as far as the storm needs it.
type webhookAnswer struct {
	NewSigningSecret string    `json:"new_signing_secret"`
	CreateTime       time.Time `json:"create_time"`
	UpdateTime       time.Time `json:"update_time"`
}

// createWebhooks registers one webhook per endpoint, as a customer would, and hands each
// endpoint the signing secret the API shows once.
func (a *api) createWebhooks(ctx context.Context, eps []*endpoint) error {
	for _, e := range eps {
		created, err := a.create(ctx, e)
		if err != nil {
			return err
		}
		if c := e.change; c != nil && c.kind == URLEdited {
			// The other URL of the same webhook verifies with the same secret.
			if err := c.next.setSecret(created.NewSigningSecret); err != nil {
				return err
			}
		}
	}
	return nil
}

// create registers the endpoint's webhook at its URL and gives the endpoint the new secret.
func (a *api) create(ctx context.Context, e *endpoint) (webhookAnswer, error) {
	fields := map[string]any{
		"url": e.URL(), "display_name": "storm " + string(e.plan.Kind()), "subscribed_events": e.plan.Events,
	}
	if e.plan.Profile == Capped {
		fields["max_in_flight"] = CappedInFlight
	}
	body, _ := json.Marshal(fields)
	var created webhookAnswer
	if err := a.do(ctx, http.MethodPost, "?webhook_id="+url.QueryEscape(e.plan.ID()), body, &created); err != nil {
		return created, fmt.Errorf("create webhook %s: %w", e.plan.ID(), err)
	}
	if created.NewSigningSecret == "" {
		return created, fmt.Errorf("create webhook %s: no signing secret in the answer", e.plan.ID())
	}
	if err := e.setSecret(created.NewSigningSecret); err != nil {
		return created, fmt.Errorf("webhook %s: %w", e.plan.ID(), err)
	}
	return created, nil
}

func (a *api) delete(ctx context.Context, id string) error {
	if err := a.do(ctx, http.MethodDelete, "/"+url.PathEscape(id), nil, nil); err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	return nil
}

// setState disables or enables a webhook; the answer's update_time is when the change took effect.
func (a *api) setState(ctx context.Context, id string, st webhook.State) (webhookAnswer, error) {
	return a.patch(ctx, id, "state", st)
}

// patch changes one field of a webhook (its update mask) to value.
func (a *api) patch(ctx context.Context, id, field string, value any) (webhookAnswer, error) {
	body, _ := json.Marshal(map[string]any{field: value})
	var updated webhookAnswer
	if err := a.do(ctx, http.MethodPatch, "/"+url.PathEscape(id)+"?update_mask="+field, body, &updated); err != nil {
		return updated, fmt.Errorf("set webhook %s %s to %v: %w", id, field, value, err)
	}
	return updated, nil
}

// do sends one request to the project's webhooks collection (path follows it) and decodes a
// 2xx answer into out.
func (a *api) do(ctx context.Context, method, path string, body []byte, out any) error {
	u := a.url + "/v1/projects/" + url.PathEscape(a.project) + "/webhooks" + path
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("content-type", "application/json")
	}
	req.Header.Set("x-goog-api-key", a.key)
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s", resp.Status, raw)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}
