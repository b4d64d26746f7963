package storm_test

import (
	"context"
	"flag"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/devtools/emulator"
	"github.com/jobhooks/jobhooks/shared/devtools/storm"
)

// TestFaultStorm runs a brief storm — 300 events to a dozen endpoints, a 20 s retry window,
// Deliver killed once and Dispatch twice, 3 % of their commits, transactions and publishes
// failing (half after the call succeeded), replies with hostile bodies, one webhook deleted and
// re-created and one disabled and enabled again — in about two minutes. It starts a whole local stack and keeps
// both cores busy meanwhile, so it runs only when asked for by name, as CI does:
//
//	go test -run TestFaultStorm -count=1 ./shared/devtools/storm
//
// scripts/storm runs the same storm at full size.
func TestFaultStorm(t *testing.T) {
	if run := flag.Lookup("test.run"); run == nil || !strings.Contains(run.Value.String(), "FaultStorm") {
		t.Skip("the fault storm runs only when selected: go test -run TestFaultStorm ./shared/devtools/storm")
	}
	emulator.NeedGcloud(t)
	t.Chdir("../../..") // the stack builds the functions binary from the module's root
	var progress io.Writer = io.Discard
	if testing.Verbose() {
		progress = os.Stderr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// 30 events/s: the webhook changes come a few seconds in, and events keep coming after them.
	res, err := storm.Run(ctx, storm.Options{
		Events: 300, Endpoints: 12, Rate: 30, Window: 20 * time.Second, Kick: 5 * time.Second,
		Settle: 2 * time.Minute, Dir: t.TempDir(), Progress: progress,
	})
	t.Log("\n" + res.Table())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Settled {
		t.Errorf("not settled: %d deliveries still on their way, %d answered but never recorded", res.Unsettled, res.Unrecorded)
	}
	for _, c := range []struct {
		what string
		n    int
	}{
		{"lost", res.Lost},
		{"reason mismatches", res.Mismatched},
		{"signature failures", res.BadSignatures},
		{"received, record left pending", res.LeftPending},
		{"answered, never recorded", res.Unrecorded},
		{"records left pending for good", res.PendingRecords},
		{"POSTs to a new incarnation queued before it", res.ToNewIncarnation},
		{"requests a capped endpoint held beyond its max_in_flight", max(0, res.MostInFlightCapped-storm.CappedInFlight)},
	} {
		if c.n != 0 {
			t.Errorf("%s: %d, want 0", c.what, c.n)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// The storm must have been one: every kind of final failure happened, and Deliver died.
	for _, reason := range []string{"exhausted window_exhausted", "failed gone", "failed status_400"} {
		if res.Final[reason] == 0 {
			t.Errorf("no delivery ended %q: the storm did not exercise it", reason)
		}
	}
	for _, line := range []string{"Deliver restarted", "re-created under the same id", "enabled again"} {
		if !slices.ContainsFunc(res.Timeline, func(l string) bool { return strings.Contains(l, line) }) {
			t.Errorf("timeline %q: no line with %q", res.Timeline, line)
		}
	}
	restarts := 0
	for _, l := range res.Timeline {
		if strings.Contains(l, "Dispatch restarted") {
			restarts++
		}
	}
	if restarts < 2 {
		t.Errorf("Dispatch restarted %d times, want 2", restarts)
	}
	// Faults of every kind reached both functions: before and after the call, on commits and
	// on publishes.
	for _, want := range []string{"Dispatch Commit", "Deliver Commit", "Publish", "after it succeeded", "before the call"} {
		if !slices.ContainsFunc(res.Faults, func(l string) bool { return strings.Contains(l, want) }) {
			t.Errorf("faults injected %q: none with %q", res.Faults, want)
		}
	}
	// Hostile bodies came back with 2xx, 5xx and 410, and each was recorded.
	if x := res.ByProfile[storm.Garbled]; x == nil || x.Received == 0 {
		t.Errorf("garbled endpoints: %+v: want deliveries received", x)
	}
	if x := res.ByProfile[storm.GarbledGone]; x == nil || x.Reasons["failed gone"] == 0 {
		t.Errorf("garbled-gone endpoints: %+v: want a 410 recorded (failed gone)", x)
	}
	if res.Received == 0 || res.ReceivedByNew == 0 {
		t.Errorf("received %d, by a re-created or re-enabled webhook %d: want both", res.Received, res.ReceivedByNew)
	}
}
