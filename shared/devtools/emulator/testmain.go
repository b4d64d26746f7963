package emulator

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// RequiredEnv, when "1", turns a missing emulator into a failure instead of a skip. CI sets it.
const RequiredEnv = "JOBHOOKS_REQUIRE_EMULATORS"

// shortSkip is why integration tests skip under -short: the emulators are JVMs that take
// seconds to start, and `go test -short ./...` is the quick run (shared/devtools/README.md, Running
// the tests).
const shortSkip = "-short: emulator-backed tests run without it (CI runs everything)"

// unavailable says why the integration tests of this test binary cannot run ("" when they can).
var unavailable string

// Main is the TestMain of a package with integration tests: it starts one emulator of each kind
// (unless its host variable is already set), runs the tests, and stops what it started. Under
// -short it starts none and Need skips.
//
//	func TestMain(m *testing.M) { os.Exit(emulator.Main(m, emulator.PubSub, emulator.Firestore)) }
func Main(m *testing.M, kinds ...Kind) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	if testing.Short() {
		unavailable = shortSkip
		return m.Run()
	}
	var started []*Emulator
	defer func() {
		for _, e := range started {
			e.Stop()
		}
	}()
	for _, k := range kinds {
		if os.Getenv(k.HostEnv()) != "" {
			continue
		}
		e, err := Start(context.Background(), k, Options{})
		if err != nil {
			unavailable = fmt.Sprintf("%s emulator unavailable: %v", k, err)
			if os.Getenv(RequiredEnv) == "1" {
				fmt.Fprintf(os.Stderr, "FAIL: %s (%s=1 requires every emulator)\n", unavailable, RequiredEnv)
				return 1
			}
			fmt.Fprintf(os.Stderr, "integration tests will skip: %s\n", unavailable)
			break
		}
		started = append(started, e)
		os.Setenv(k.HostEnv(), e.Host)
	}
	return m.Run()
}

// Need skips the test under -short and when the emulators could not start (locally, without
// gcloud), and fails it when they are required (CI) but missing.
func Need(t testing.TB) {
	t.Helper()
	switch {
	case unavailable == "":
	case unavailable == shortSkip:
		t.Skip(shortSkip)
	case os.Getenv(RequiredEnv) == "1":
		t.Fatalf("%s", unavailable)
	default:
		t.Skipf("skipping integration test: %s", unavailable)
	}
}

// NeedGcloud is Need for a test that starts emulators of its own (a whole local stack through
// scripts/dev, the storm, the benchmark): it skips under -short, and without gcloud it skips,
// or fails when RequiredEnv=1.
func NeedGcloud(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip(shortSkip)
	}
	if _, err := exec.LookPath("gcloud"); err != nil {
		if os.Getenv(RequiredEnv) == "1" {
			t.Fatal(ErrNoGcloud)
		}
		t.Skip(ErrNoGcloud)
	}
}
