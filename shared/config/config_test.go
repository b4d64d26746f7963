package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

// clearEnv unsets (sets empty, which Load treats as unset) every variable Load reads, so that a
// developer's sourced .dev/env does not leak into the cases.
func clearEnv(t *testing.T) {
	t.Helper()
	r := &reader{}
	_, _ = load(r)
	for _, name := range append(r.names, envGCPProject, envGcloudProject) {
		t.Setenv(name, "")
	}
}

type loadCase struct {
	name string
	env  map[string]string
	want []string // substrings of the error; none = accepted
}

func runLoadCases(t *testing.T, cases []loadCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(EnvGoogleProject, "demo")
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			_, err := Load()
			if len(c.want) == 0 {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			for _, w := range c.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Load() = %v, want an error naming %s", err, w)
				}
			}
		})
	}
}

// Settings that depend on each other are refused together, naming both, as terraform/settings.tf
// refuses them at plan time.
func TestLoad_RefusesSettingsThatContradictEachOther(t *testing.T) {
	runLoadCases(t, []loadCase{
		{"the defaults", nil, nil},
		{"attempt timeout plus the recording margin reaches the function timeout",
			map[string]string{EnvAttemptTimeout: "45s", EnvFunctionTimeout: "50s"}, []string{"JOBHOOKS_ATTEMPT_TIMEOUT (45s)", "JOBHOOKS_FUNCTION_TIMEOUT (50s)"}},
		{"an attempt well inside the function timeout",
			map[string]string{EnvAttemptTimeout: "30s", EnvFunctionTimeout: "45s"}, nil},
		{"a first-attempt budget longer than an attempt",
			map[string]string{EnvFirstAttemptBudget: "20s"}, []string{"JOBHOOKS_FIRST_ATTEMPT_BUDGET (20s)", "JOBHOOKS_ATTEMPT_TIMEOUT (15s)"}},
		{"a claim lease a live holder could outlast",
			map[string]string{EnvClaimLease: "60s"}, []string{"JOBHOOKS_CLAIM_LEASE (1m0s)", "JOBHOOKS_FUNCTION_TIMEOUT (1m0s)"}},
		{"the storm's short claim lease above its short function timeout",
			map[string]string{EnvAttemptTimeout: "500ms", EnvFunctionTimeout: "11s", EnvClaimLease: "15s"}, nil},
		{"a shorter attempt timeout with the default budget",
			map[string]string{EnvAttemptTimeout: "2s"}, nil},
		{"a record TTL shorter than the window plus a day",
			map[string]string{EnvRetryWindow: "36h", EnvRecordTTL: "48h"}, []string{"JOBHOOKS_RECORD_TTL (48h0m0s)", "JOBHOOKS_RETRY_WINDOW (36h0m0s)"}},
		{"a record TTL of exactly the window plus a day",
			map[string]string{EnvRetryWindow: "36h", EnvRecordTTL: "60h"}, nil},
		{"re-publication too close to Pub/Sub's retention",
			map[string]string{EnvRepublishAge: "23h30m"}, []string{"JOBHOOKS_REPUBLISH_AGE (23h30m0s)"}},
		{"jwt mode without a public base URL",
			map[string]string{EnvSigningMode: SigningModeJWT}, []string{"JOBHOOKS_SIGNING_MODE=jwt needs JOBHOOKS_PUBLIC_BASE_URL"}},
		{"jwt mode with its issuer",
			map[string]string{EnvSigningMode: SigningModeJWT, EnvPublicBaseURL: "https://hooks.example.com"}, nil},
	})
}

// Every value Load cannot use is refused, naming the variable and, when malformed, the value.
func TestLoad_RefusesEveryMalformedOrOutOfRangeValue(t *testing.T) {
	runLoadCases(t, []loadCase{
		{"a malformed duration", map[string]string{EnvFunctionTimeout: "soon"}, []string{`JOBHOOKS_FUNCTION_TIMEOUT="soon" is not a positive duration`}},
		{"a negative duration", map[string]string{EnvRetryWindow: "-1h"}, []string{`JOBHOOKS_RETRY_WINDOW="-1h" is not a positive duration`}},
		{"a malformed boolean", map[string]string{EnvAllowInsecureTargets: "maybe"}, []string{`JOBHOOKS_ALLOW_INSECURE_TARGETS="maybe" is not a boolean`}},
		{"a malformed integer", map[string]string{EnvMaxReplay: "lots"}, []string{`JOBHOOKS_MAX_REPLAY="lots" is not an integer`}},
		{"an unknown signing mode", map[string]string{EnvSigningMode: "v2"}, []string{`JOBHOOKS_SIGNING_MODE="v2" is not one of v1a, jwt`}},
		{"an unknown JWT algorithm", map[string]string{EnvJWTAlgorithm: "HS256"}, []string{`JOBHOOKS_JWT_ALGORITHM="HS256" is not one of RS256, EdDSA`}},
		{"a cache TTL over 30 s", map[string]string{EnvCacheTTL: "31s"}, []string{"JOBHOOKS_CACHE_TTL must be at most 30s"}},
		{"a cache TTL of 30 s", map[string]string{EnvCacheTTL: "30s"}, nil},
		{"re-publishing after 0 deliveries", map[string]string{EnvRepublishAfter: "0"}, []string{"JOBHOOKS_REPUBLISH_AFTER must be between 1 and 99"}},
		{"re-publishing at the dead-letter limit", map[string]string{EnvRepublishAfter: "100"}, []string{"JOBHOOKS_REPUBLISH_AFTER must be between 1 and 99"}},
		{"re-publishing after 99 deliveries", map[string]string{EnvRepublishAfter: "99"}, nil},
		{"no webhook per project", map[string]string{EnvMaxWebhooksPerProject: "0"}, []string{"JOBHOOKS_MAX_WEBHOOKS_PER_PROJECT must be between 1 and 10000"}},
		{"more webhooks per project than an event record lists", map[string]string{EnvMaxWebhooksPerProject: "10001"}, []string{"JOBHOOKS_MAX_WEBHOOKS_PER_PROJECT must be between 1 and 10000"}},
		{"no first attempt at once", map[string]string{EnvFirstAttemptConcurrency: "0"}, []string{"JOBHOOKS_FIRST_ATTEMPT_CONCURRENCY must be at least 1"}},
		{"a replay of nothing", map[string]string{EnvMaxReplay: "0"}, []string{"JOBHOOKS_MAX_REPLAY must be at least 1"}},
		{"everything wrong at once is reported at once",
			map[string]string{EnvCacheTTL: "1m", EnvMaxReplay: "0", EnvSigningMode: "v2"},
			[]string{"JOBHOOKS_CACHE_TTL", "JOBHOOKS_MAX_REPLAY", "JOBHOOKS_SIGNING_MODE"}},
	})
}

func TestLoad_NeedsAGoogleProjectAndTakesTheOlderRuntimesNames(t *testing.T) {
	clearEnv(t)
	if _, err := Load(); err == nil || !strings.Contains(err.Error(), "GOOGLE_CLOUD_PROJECT is not set") {
		t.Errorf("without a project: Load() = %v, want GOOGLE_CLOUD_PROJECT is not set", err)
	}
	t.Setenv(envGcloudProject, "from-gcloud")
	if c, err := Load(); err != nil || c.GoogleProject != "from-gcloud" {
		t.Errorf("with GCLOUD_PROJECT: project %q, %v", c.GoogleProject, err)
	}
	t.Setenv(envGCPProject, "from-gcp")
	if c, err := Load(); err != nil || c.GoogleProject != "from-gcp" {
		t.Errorf("with GCP_PROJECT too: project %q, %v; GCP_PROJECT comes first", c.GoogleProject, err)
	}
	t.Setenv(EnvGoogleProject, "demo")
	if c, err := Load(); err != nil || c.GoogleProject != "demo" {
		t.Errorf("with GOOGLE_CLOUD_PROJECT: project %q, %v; it wins", c.GoogleProject, err)
	}
}

// The budget follows a shorter attempt timeout unless it is set, and an empty variable is unset.
func TestLoad_TheDefaultFirstAttemptBudgetIsAtMostAnAttempt(t *testing.T) {
	for _, budget := range []string{"unset", ""} {
		clearEnv(t)
		t.Setenv(EnvGoogleProject, "demo")
		t.Setenv(EnvAttemptTimeout, "2s")
		if budget == "unset" {
			os.Unsetenv(EnvFirstAttemptBudget) // clearEnv's t.Setenv restores it after the test
		}
		c, err := Load()
		if err != nil || c.FirstAttemptBudget != 2*time.Second {
			t.Errorf("budget %s: FirstAttemptBudget %s, %v; want 2s", budget, c.FirstAttemptBudget, err)
		}
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
