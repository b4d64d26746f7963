package bench_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jobhooks/jobhooks/shared/emulator"
)

// TestScriptsBench_MeasuresBothAndPrintsTheJSONLine runs scripts/bench as a user would, at a
// tiny size, and checks the report: every measured number present, every delivery verified.
// The numbers themselves are not asserted (this machine is shared); scripts/bench reports them.
func TestScriptsBench_MeasuresBothAndPrintsTheJSONLine(t *testing.T) {
	if _, err := exec.LookPath("gcloud"); err != nil {
		if os.Getenv(emulator.RequiredEnv) == "1" {
			t.Fatal(emulator.ErrNoGcloud)
		}
		t.Skip(emulator.ErrNoGcloud)
	}
	root, _ := filepath.Abs("../..")
	cmd := exec.Command(filepath.Join(root, "scripts/bench"), "--events", "20", "--webhooks", "3",
		"--ceiling", "60", "--warmup", "5", "--dir", t.TempDir(), "--json")
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
	if !strings.Contains(stderr.String(), "end to end") {
		t.Errorf("no progress bar on stderr:\n%s", stderr.String())
	}
}
