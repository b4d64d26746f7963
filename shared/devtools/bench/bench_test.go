package bench_test

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jobhooks/jobhooks/shared/devtools/emulator"
)

// TestScriptsBench_MeasuresBothAndPrintsTheJSONLine runs scripts/bench as a user would, at a
// tiny size, and checks the report: every measured number present, every delivery verified.
// The numbers themselves are not asserted (this machine is shared); scripts/bench reports them.
func TestScriptsBench_MeasuresBothAndPrintsTheJSONLine(t *testing.T) {
	res, stderr := runScriptsBench(t, "--events", "20", "--webhooks", "3", "--ceiling", "60", "--warmup", "5")
	for _, k := range []string{"deliveries_per_second", "p50_ms", "p90_ms", "p99_ms", "ceiling_deliveries_per_second",
		"ratio", "cpu_seconds_per_1000", "peak_rss_mb", "store_bound_deliveries_per_second", "machine_busy"} {
		if v, ok := res[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v, want a positive number", k, res[k])
		}
	}
	if res["deliveries"] != float64(60) {
		t.Errorf("deliveries = %v, want 20 × 3 = 60", res["deliveries"])
	}
	if byProc, _ := res["cpu_seconds_per_1000_by_process"].(map[string]any); byProc["Deliver"] == nil || byProc["firestore-emulator"] == nil {
		t.Errorf("CPU by process %v: want Deliver and the Firestore emulator", byProc)
	}
	if _, ok := res["paced"]; ok {
		t.Errorf("the burst mode's JSON carries the paced mode's object: %v", res["paced"])
	}
	if !strings.Contains(stderr, "end to end") {
		t.Errorf("no progress bar on stderr:\n%s", stderr)
	}
}

// TestScriptsBench_PacedDeliversEveryEventAndComparesWithTheBareHop runs the paced mode briefly
// (20 events/s for 2 s to one webhook) through the real stack: every event is delivered and
// verified, and both latency series are sane percentiles. Their values are not asserted.
func TestScriptsBench_PacedDeliversEveryEventAndComparesWithTheBareHop(t *testing.T) {
	res, stderr := runScriptsBench(t, "--rate", "20", "--duration", "2s", "--warmup", "5")
	if res["events"] != float64(40) || res["webhooks"] != float64(1) || res["deliveries"] != float64(40) {
		t.Errorf("events %v × webhooks %v = deliveries %v, want 40 × 1 = 40 (20/s for 2 s, one webhook by default)",
			res["events"], res["webhooks"], res["deliveries"])
	}
	paced, _ := res["paced"].(map[string]any)
	if paced == nil {
		t.Fatalf("no paced object in the JSON line: %v", res)
	}
	if paced["rate_per_second"] != float64(20) || paced["duration_seconds"] != float64(2) || paced["bare_messages"] != float64(40) {
		t.Errorf("paced %v: want rate 20, duration 2 s, 40 bare messages", paced)
	}
	saneOrder(t, "Jobhooks", res["p50_ms"], res["p90_ms"], res["p99_ms"])
	saneOrder(t, "bare hop", paced["bare_p50_ms"], paced["bare_p90_ms"], paced["bare_p99_ms"])
	for _, k := range []string{"p50_ratio_to_bare", "p99_ratio_to_bare", "bare_machine_busy"} {
		if v, ok := paced[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v, want a positive number", k, paced[k])
		}
	}
	if v, ok := paced["publish_lag_max_ms"].(float64); !ok || v < 0 {
		t.Errorf("publish_lag_max_ms = %v, want a number ≥ 0", paced["publish_lag_max_ms"])
	}
	if !strings.Contains(stderr, "paced bare hop") || !strings.Contains(stderr, "paced end to end") {
		t.Errorf("no progress bars of the bare hop and of Jobhooks on stderr:\n%s", stderr)
	}
}

// saneOrder fails unless 0 < p50 ≤ p90 ≤ p99.
func saneOrder(t *testing.T, what string, p50, p90, p99 any) {
	t.Helper()
	a, okA := p50.(float64)
	b, okB := p90.(float64)
	c, okC := p99.(float64)
	if !okA || !okB || !okC || a <= 0 || a > b || b > c {
		t.Errorf("%s latencies p50 %v, p90 %v, p99 %v: want 0 < p50 ≤ p90 ≤ p99", what, p50, p90, p99)
	}
}

// runScriptsBench runs scripts/bench as a user would, with --json and a state directory of its
// own, and returns the JSON object of its last stdout line and its stderr. It starts a whole
// local stack, so it skips under -short.
func runScriptsBench(t *testing.T, args ...string) (map[string]any, string) {
	t.Helper()
	emulator.NeedGcloud(t)
	root, _ := filepath.Abs("../../..")
	cmd := exec.Command(filepath.Join(root, "scripts/bench"), append(args, "--dir", t.TempDir(), "--json")...)
	cmd.Dir = root
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/bench: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var res map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last line is not one JSON object: %v\n%s", err, out)
	}
	return res, stderr.String()
}
