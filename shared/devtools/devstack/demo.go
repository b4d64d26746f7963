package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/jobhooks/jobhooks/shared/jobevents"
	"github.com/jobhooks/jobhooks/shared/topics"
	"github.com/jobhooks/jobhooks/shared/verify"
)

// demo shows the product working: a receiver that verifies every request with the receiver
// library, a webhook created through the API, sample job events of several types (one with a
// per-request webhook_config), and a feed of what arrived and verified.
func demo(ctx context.Context, out io.Writer, env map[string]string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	secret, err := createDemoWebhook(ctx, env, base+"/static")
	if err != nil {
		return err
	}
	static, err := verify.New(verify.Options{Secrets: []string{secret}})
	if err != nil {
		return err
	}
	dynamic, err := verify.New(verify.Options{JWKSURL: env[EnvJWKSURL]})
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, kind := static, "static webhook, v1 (HMAC)"
		if r.URL.Path == "/dynamic" {
			v, kind = dynamic, "per-request webhook, verified with the JWKS"
		}
		body, err := v.Request(r)
		if err != nil {
			fmt.Fprintf(out, "\r✗ rejected %s: %v\n", r.URL.Path, err)
			http.Error(w, err.Error(), verify.StatusCode(err))
			return
		}
		var p struct {
			Type string `json:"type"`
			Data any    `json:"data"`
		}
		_ = json.Unmarshal(body, &p)
		data, _ := json.Marshal(p.Data)
		fmt.Fprintf(out, "\r✓ %-22s %s  %s\n    %s\n", p.Type, r.Header.Get("webhook-id"), kind, data)
		w.WriteHeader(http.StatusNoContent)
	})}
	go srv.Serve(ln)
	go func() { <-ctx.Done(); srv.Close() }()

	client, err := pubsub.NewClient(ctx, GoogleProject)
	if err != nil {
		return err
	}
	pub := jobevents.NewPublisher(client, topics.JobEvents)
	defer func() { pub.Stop(); client.Close() }()
	run := time.Now().Format("150405")
	events := []jobevents.Event{
		{Type: "batch.succeeded", Data: map[string]any{"id": "batches/demo-" + run, "output_file_uri": "gs://demo/out.jsonl"}},
		{Type: "video.generated", Data: map[string]any{"id": "videos/demo-" + run, "output_file_uri": "gs://demo/v.mp4", "file_name": "v.mp4"}},
		{Type: "batch.failed", Data: map[string]any{"id": "batches/demo-f-" + run, "error_code": "RESOURCE_EXHAUSTED", "error_message": "quota"}},
		{Type: "interaction.completed", Data: map[string]any{"id": "interactions/demo-" + run},
			URIs: []string{base + "/dynamic"}, UserMetadata: map[string]any{"session": "demo"}},
	}
	fmt.Fprintf(out, "demo: webhook projects/%s/webhooks/demo → %s/static; publishing %d job events…\n", Project, base, len(events))
	for i, e := range events {
		e.ID, e.Project, e.Timestamp = fmt.Sprintf("demo-%s-%d", run, i), Project, time.Now()
		if _, err := pub.Publish(ctx, e); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "demo: the deliveries stay in the console, under webhook demo (the portal link above signs you in)\n")
	return nil
}

// createDemoWebhook creates (or re-creates) the demo webhook through the API and returns its secret.
func createDemoWebhook(ctx context.Context, env map[string]string, url string) (string, error) {
	api := env[EnvAPIURL] + "/v1/projects/" + Project + "/webhooks"
	call := func(method, path, body string) (int, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, method, api+path, strings.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("x-goog-api-key", env[EnvAPIKey])
		req.Header.Set("content-type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b, nil
	}
	if _, _, err := call(http.MethodDelete, "/demo", ""); err != nil {
		return "", err
	}
	body, _ := json.Marshal(map[string]any{
		"url": url, "display_name": "scripts/dev demo",
		"subscribed_events": []string{"batch.succeeded", "batch.failed", "video.generated"},
	})
	code, resp, err := call(http.MethodPost, "?webhook_id=demo", string(body))
	if err != nil {
		return "", err
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("create demo webhook: %d %s", code, bytes.TrimSpace(resp))
	}
	var created struct {
		Secret string `json:"new_signing_secret"`
	}
	if err := json.Unmarshal(resp, &created); err != nil || created.Secret == "" {
		return "", fmt.Errorf("create demo webhook: no signing secret in the answer")
	}
	return created.Secret, nil
}

// portalLink asks the API for a 24-hour console link to project demo, as a platform would for
// its customer (shared/restapi/README.md, Portal links).
func portalLink(ctx context.Context, env map[string]string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, env["JOBHOOKS_API_URL"]+"/v1/projects/"+Project+":createPortalLink",
		strings.NewReader(`{"ttl":"86400s"}`))
	if err != nil {
		return "", err
	}
	req.Header.Set("x-goog-api-key", env["JOBHOOKS_API_KEY"])
	req.Header.Set("content-type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		URL string `json:"url"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.URL == "" {
		return "", fmt.Errorf("createPortalLink answered %d", resp.StatusCode)
	}
	return out.URL, nil
}
