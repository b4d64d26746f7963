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
)

// createWebhooks registers one webhook per endpoint through the management API, as a customer
// would, and hands each endpoint the signing secret the API shows once.
func createWebhooks(ctx context.Context, apiURL, apiKey, project string, eps []*endpoint) error {
	client := &http.Client{Timeout: 30 * time.Second}
	for _, e := range eps {
		body, _ := json.Marshal(map[string]any{
			"url": e.URL(), "display_name": "storm " + string(e.plan.Profile), "subscribed_events": e.plan.Events,
		})
		u := apiURL + "/v1/projects/" + url.PathEscape(project) + "/webhooks?webhook_id=" + url.QueryEscape(e.plan.ID())
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("content-type", "application/json")
		req.Header.Set("x-goog-api-key", apiKey)
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("create webhook %s: %w", e.plan.ID(), err)
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("create webhook %s: %s: %s", e.plan.ID(), resp.Status, raw)
		}
		var created struct {
			NewSigningSecret string `json:"new_signing_secret"`
		}
		if err := json.Unmarshal(raw, &created); err != nil || created.NewSigningSecret == "" {
			return fmt.Errorf("create webhook %s: no signing secret in the answer", e.plan.ID())
		}
		if err := e.setSecret(created.NewSigningSecret); err != nil {
			return fmt.Errorf("webhook %s: %w", e.plan.ID(), err)
		}
	}
	return nil
}
