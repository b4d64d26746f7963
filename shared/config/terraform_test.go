package config

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Terraform deploys every function with the environment of local.function_env in
// terraform/functions.tf. A variable it sets that Load does not read is a setting that silently
// does nothing (a typo, or a renamed variable); one Load reads that Terraform does not set keeps
// its default in production, which must be a decision written down here.

const functionsTF = "../../terraform/functions.tf"

// setByThePlatform are set in function_env for the platform, not for Load.
var setByThePlatform = map[string]string{
	"LOG_EXECUTION_ID": "declared so that a plan does not show the platform's own value as a change",
}

// defaultInProduction are read by Load but not deployed by Terraform: their defaults are the
// production values (shared/restapi/README.md, Limits and rules; shared/delivery/README.md, One hop
// on the happy path), and the local stack and the tests set them where they need another.
var defaultInProduction = map[string]string{
	EnvFirstAttemptConcurrency: "32 first attempts of one event at once",
	EnvMaxReplay:               "1,000 deliveries per replay",
	EnvPingsPerMinute:          "10 pings per minute per project",
	EnvRetriesPerMinute:        "60 retries per minute per project",
	EnvReplaysPerHour:          "5 replays per hour per project",
	EnvMaxPendingResends:       "1,000 pending deliveries of a webhook stop its retries and replays",
	EnvClaimLease:              "2 minutes; only the fault storm shortens it (shared/devtools/storm)",
	EnvBreakerAfter:            "5 minutes without a success open a circuit; the load benchmark compresses it",
	EnvSlotWait:                "10 s that Deliver holds a push waiting for a free slot",
	EnvTraceDir:                "used only by the file exporter of the local stack; production exports to Cloud Trace",
}

func TestTerraform_SetsOnlyVariablesLoadReads(t *testing.T) {
	r := &reader{}
	_, _ = load(r)
	read := r.names
	set := functionEnv(t)

	for _, name := range set {
		if _, ok := setByThePlatform[name]; ok {
			continue
		}
		if !slices.Contains(read, name) {
			t.Errorf("terraform/functions.tf sets %s, which config.Load does not read", name)
		}
	}
	for _, name := range read {
		_, keep := defaultInProduction[name]
		switch deployed := slices.Contains(set, name); {
		case !deployed && !keep:
			t.Errorf("config.Load reads %s, which terraform/functions.tf does not set (set it there, or add it to defaultInProduction with the reason)", name)
		case deployed && keep:
			t.Errorf("%s is in defaultInProduction, but terraform/functions.tf sets it", name)
		}
	}
}

var envEntry = regexp.MustCompile(`^([A-Z][A-Z0-9_]*)\s*=`)

// functionEnv returns the names assigned in the `function_env = { ... }` map of functions.tf.
func functionEnv(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.FromSlash(functionsTF))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		names  []string
		in     bool
		closed bool
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case !in && strings.HasPrefix(line, "function_env") && strings.HasSuffix(line, "{"):
			in = true
		case in && line == "}":
			in, closed = false, true
		case in && line != "" && !strings.HasPrefix(line, "#"):
			m := envEntry.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("functions.tf: %q in function_env is not `NAME = value`", line)
			}
			names = append(names, m[1])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if !closed || len(names) == 0 {
		t.Fatal("terraform/functions.tf has no function_env map")
	}
	return names
}
