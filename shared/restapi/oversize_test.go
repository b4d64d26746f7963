package restapi_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
)

// TestAPI_EveryBodyOver1MiBIsA400AndChangesNothing sends a body one byte over 1 MiB to every
// method that reads one, on both surfaces, with and without a Content-Length: each is a 400 that
// says so, and the webhook is as it was. A body of exactly 1 MiB is still read.
func TestAPI_EveryBodyOver1MiBIsA400AndChangesNothing(t *testing.T) {
	t.Parallel()
	s, c := env(t, pipelinetest.Options{})
	c.createA("w", "https://a.example.com/h")
	var g struct {
		ID     string `json:"id"`
		Secret string `json:"new_signing_secret"`
	}
	c.do("POST", "/v1beta/webhooks", `{"uri":"https://a.example.com/g","subscribed_events":["batch.succeeded"]}`).ok(t, &g)
	watch(g.Secret)
	before, _ := s.Store.GetWebhook(context.Background(), "acme", "w")

	const limit = 1 << 20
	pad := func(n int) string { // a JSON object of exactly n bytes
		return `{"display_name":"` + strings.Repeat("a", n-len(`{"display_name":""}`)) + `"}`
	}
	over := pad(limit + 1)
	for _, m := range [][2]string{
		{"POST", "/v1/projects/acme/webhooks"},
		{"PATCH", "/v1/projects/acme/webhooks/w"},
		{"POST", "/v1/projects/acme/webhooks/w:ping"},
		{"POST", "/v1/projects/acme/webhooks/w:rotateSigningSecret"},
		{"POST", "/v1/projects/acme/webhooks/w:replay"},
		{"POST", "/v1/projects/acme/webhooks/w/deliveries/dlv_x:retry"},
		{"POST", "/v1beta/webhooks"},
		{"PATCH", "/v1beta/webhooks/" + g.ID},
		{"POST", "/v1beta/webhooks/" + g.ID + ":ping"},
		{"POST", "/v1beta/webhooks/" + g.ID + ":rotateSigningSecret"},
		{"POST", "/v1/webhooks"},
		{"PATCH", "/v1/webhooks/" + g.ID},
	} {
		c.do(m[0], m[1], over).fails(t, 400, "INVALID_ARGUMENT", "1 MiB")
		// Chunked: the size is unknown until the body has been read.
		req, _ := http.NewRequest(m[0], c.base+m[1], io.MultiReader(strings.NewReader(over)))
		req.Header.Set("x-goog-api-key", c.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), "1 MiB") {
			t.Errorf("%s %s chunked: %d %s", m[0], m[1], resp.StatusCode, b)
		}
	}
	after, _ := s.Store.GetWebhook(context.Background(), "acme", "w")
	if !after.UpdateTime.Equal(before.UpdateTime) || len(after.Secrets) != len(before.Secrets) {
		t.Errorf("an oversized request changed the webhook")
	}

	// Exactly 1 MiB is read and judged on its content: here, a display name far too long.
	if msg := c.do("PATCH", "/v1/projects/acme/webhooks/w", pad(limit)).fails(t, 400, "INVALID_ARGUMENT", "display_name"); strings.Contains(msg, "1 MiB") {
		t.Errorf("a body of exactly 1 MiB was refused for its size: %s", msg)
	}
}
