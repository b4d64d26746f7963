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
