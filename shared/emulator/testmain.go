package emulator

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// RequiredEnv, when "1", turns a missing emulator into a failure instead of a skip. CI sets it.
const RequiredEnv = "JOBHOOKS_REQUIRE_EMULATORS"

// unavailable says why the integration tests of this test binary cannot run ("" when they can).
var unavailable string

// Main is the TestMain of a package with integration tests: it starts one emulator of each kind
// (unless its host variable is already set), runs the tests, and stops what it started.
//
//	func TestMain(m *testing.M) { os.Exit(emulator.Main(m, emulator.PubSub, emulator.Firestore)) }
func Main(m *testing.M, kinds ...Kind) int {
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

// Need skips the test when the emulators could not start (locally, without gcloud) and fails it
// when they are required (CI).
func Need(t testing.TB) {
	t.Helper()
	if unavailable == "" {
		return
	}
	if os.Getenv(RequiredEnv) == "1" {
		t.Fatalf("%s", unavailable)
	}
	t.Skipf("skipping integration test: %s", unavailable)
}
