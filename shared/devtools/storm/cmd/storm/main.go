// Command storm runs the fault storm against a fresh local stack; scripts/storm is its front door.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jobhooks/jobhooks/shared/devtools/storm"
)

func main() {
	var o storm.Options
	flag.IntVar(&o.Events, "events", 2000, "job events to publish")
	flag.IntVar(&o.Endpoints, "endpoints", 30, "endpoints, one webhook each (at most 100)")
	flag.Uint64Var(&o.Seed, "seed", 1, "seed of the plan and of every endpoint's choices")
	flag.DurationVar(&o.Window, "window", 90*time.Second, "retry window (JOBHOOKS_RETRY_WINDOW)")
	flag.DurationVar(&o.AttemptTimeout, "attempt-timeout", 500*time.Millisecond, "attempt timeout (JOBHOOKS_ATTEMPT_TIMEOUT)")
	flag.DurationVar(&o.CacheTTL, "cache-ttl", time.Second, "how long an instance caches a webhook (JOBHOOKS_CACHE_TTL); a change mid-storm must be seen before the next retry")
	flag.IntVar(&o.Rate, "rate", 100, "events published per second, at most")
	flag.IntVar(&o.MaxBacklog, "max-backlog", 1500, "hold publishing while this many deliveries that can succeed are not received yet")
	flag.DurationVar(&o.Kick, "kick", 10*time.Second, "redeliver nacked messages this often (0: leave it to the emulator, which stalls)")
	flag.Float64Var(&o.KillAt, "kill-at", 0.3, "kill Deliver once this share of the deliveries is received (negative: never)")
	flag.DurationVar(&o.Down, "down", 3*time.Second, "how long a killed function stays dead")
	flag.IntVar(&o.DispatchKills, "dispatch-kills", 2, "kill Dispatch this many times while the events are published (negative: never)")
	flag.Float64Var(&o.StoreFaults, "store-faults", 0.03, "share of Dispatch's and Deliver's commits and transactions that fail, half after the call succeeded (negative: none)")
	flag.Float64Var(&o.PublishFaults, "publish-faults", 0.03, "share of their publishes that fail, half after the call succeeded (negative: none)")
	flag.Float64Var(&o.ReadFaults, "read-faults", 0.01, "share of their store reads that fail (negative: none)")
	flag.DurationVar(&o.ClaimLease, "claim-lease", 0, "Dispatch's claim lease (JOBHOOKS_CLAIM_LEASE; default: 4s above the least function timeout the attempt timeout allows)")
	flag.BoolVar(&o.Edits, "edits", true, "also edit webhooks' URLs and subscribed events while their events are in flight")
	flag.DurationVar(&o.Settle, "settle", 0, "how long to wait for every delivery to settle after the last event (default window + 4m)")
	flag.StringVar(&o.Dir, "dir", ".dev/storm", "state directory of the storm's own local stack (wiped)")
	asJSON := flag.Bool("json", false, "print one JSON object as the last line of stdout")
	flag.Parse()
	o.Progress = os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := storm.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "storm:", err)
		os.Exit(1)
	}
	fmt.Print(res.Table())
	if *asJSON {
		fmt.Println(res.JSON())
	}
	if !res.OK() {
		os.Exit(1)
	}
}
