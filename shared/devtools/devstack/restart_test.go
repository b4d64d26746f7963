package devstack

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/devtools/emulator"
)

// TestScriptsDev_KeepsWebhooksAndTheKeyAcrossARestart: what a developer made on the local stack
// is there after a SIGTERM and a start on the same directory, with the same API key in DIR/env;
// --fresh starts over.
func TestScriptsDev_KeepsWebhooksAndTheKeyAcrossARestart(t *testing.T) {
	emulator.NeedGcloud(t)
	dir := t.TempDir()
	first := startDev(t, dir)
	if code, body := first.api(http.MethodPost, "/v1/projects/demo/webhooks?webhook_id=kept",
		`{"url":"http://127.0.0.1:9/hook","subscribed_events":["batch.succeeded"]}`); code != http.StatusOK {
		t.Fatalf("create webhook: %d %s", code, body)
	}
	// How long the stop takes is logged, not asserted (no timing assertions on a shared machine).
	t.Logf("stopped in %s", first.stop().Round(10*time.Millisecond))

	second := startDev(t, dir)
	if second.env[EnvAPIKey] != first.env[EnvAPIKey] {
		t.Errorf("the restarted stack has a new API key")
	}
	if code, body := second.api(http.MethodGet, "/v1/projects/demo/webhooks/kept", ""); code != http.StatusOK || !strings.Contains(body, `"url":"http://127.0.0.1:9/hook"`) {
		t.Errorf("after a restart, GET webhooks/kept: %d %s", code, body)
	}
	second.stop()

	fresh := startDev(t, dir, "--fresh")
	if fresh.env[EnvAPIKey] == first.env[EnvAPIKey] {
		t.Errorf("--fresh kept the API key")
	}
	if code, _ := fresh.api(http.MethodGet, "/v1/projects/demo/webhooks/kept", ""); code != http.StatusNotFound {
		t.Errorf("after --fresh, GET webhooks/kept: %d, want 404", code)
	}
}
