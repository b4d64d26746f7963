package config

import (
	"strings"
	"testing"
)

// Settings that depend on each other are refused together, naming both, as terraform/settings.tf
// refuses them at plan time.
func TestLoad_RefusesSettingsThatContradictEachOther(t *testing.T) {
	for _, c := range []struct {
		name string
		env  map[string]string
		want string // "" = accepted
	}{
		{"the defaults", nil, ""},
		{"attempt timeout plus the recording margin reaches the function timeout",
			map[string]string{"JOBHOOKS_ATTEMPT_TIMEOUT": "45s", "JOBHOOKS_FUNCTION_TIMEOUT": "50s"}, "JOBHOOKS_FUNCTION_TIMEOUT (50s)"},
		{"an attempt well inside the function timeout",
			map[string]string{"JOBHOOKS_ATTEMPT_TIMEOUT": "30s", "JOBHOOKS_FUNCTION_TIMEOUT": "45s"}, ""},
		{"a record TTL shorter than the window plus a day",
			map[string]string{"JOBHOOKS_RETRY_WINDOW": "36h", "JOBHOOKS_RECORD_TTL": "48h"}, "JOBHOOKS_RECORD_TTL (48h0m0s)"},
		{"a record TTL of exactly the window plus a day",
			map[string]string{"JOBHOOKS_RETRY_WINDOW": "36h", "JOBHOOKS_RECORD_TTL": "60h"}, ""},
		{"re-publication too close to Pub/Sub's retention",
			map[string]string{"JOBHOOKS_REPUBLISH_AGE": "23h30m"}, "JOBHOOKS_REPUBLISH_AGE"},
		{"a malformed duration", map[string]string{"JOBHOOKS_FUNCTION_TIMEOUT": "soon"}, `JOBHOOKS_FUNCTION_TIMEOUT="soon"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("GOOGLE_CLOUD_PROJECT", "demo")
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			_, err := Load()
			switch {
			case c.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("Load() = %v, want an error naming %s", err, c.want)
			}
		})
	}
}

func TestLoad_ConsoleFrameAncestorsAreHTTPSOriginsOnly(t *testing.T) {
	t.Setenv("GOOGLE_CLOUD_PROJECT", "demo")
	t.Setenv("JOBHOOKS_CONSOLE_FRAME_ANCESTORS", "https://app.example.com, https://portal.example.com:8443")
	c, err := Load()
	if err != nil || len(c.ConsoleFrameAncestors) != 2 || c.ConsoleFrameAncestors[1] != "https://portal.example.com:8443" {
		t.Fatalf("Load = %q, %v", c.ConsoleFrameAncestors, err)
	}
	// Anything else could widen the console's Content-Security-Policy.
	for _, bad := range []string{"*", "http://app.example.com", "https://app.example.com/path", "https://a.example.com; script-src *", "'self'"} {
		t.Setenv("JOBHOOKS_CONSOLE_FRAME_ANCESTORS", bad)
		if _, err := Load(); err == nil {
			t.Errorf("JOBHOOKS_CONSOLE_FRAME_ANCESTORS=%q was accepted", bad)
		}
	}
}
