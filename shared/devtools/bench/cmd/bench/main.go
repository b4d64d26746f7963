// Command bench measures the local stack end to end; scripts/bench is its front door.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jobhooks/jobhooks/shared/devtools/bench"
)

func main() {
	events := flag.Int("events", 1000, "job events to publish (burst mode)")
	webhooks := flag.Int("webhooks", 0, "webhooks each event fans out to (default 5; 1 with --rate)")
	ceiling := flag.Int("ceiling", 0, "messages for the bare push ceiling (burst mode; default min(events×webhooks, 3000))")
	warmup := flag.Int("warmup", 0, "events sent end to end, unmeasured, before measuring (default as many as are measured, at least 100; -1 none)")
	rate := flag.Float64("rate", 0, "paced mode: publish this many job events per second, steadily, and compare latency with a bare push hop at the same rate")
	duration := flag.Duration("duration", 0, "paced mode: how long to publish at --rate (default 30s)")
	dir := flag.String("dir", ".dev/bench", "state directory of the benchmark's own local stack (wiped)")
	asJSON := flag.Bool("json", false, "print one JSON object as the last line of stdout")
	window := flag.Duration("window", 0, "the dead load scenario's compressed retry window (default 4m)")
	load := flag.String("load", "", "run a load scenario instead: throttle (a burst to a throttled endpoint beside an unthrottled one) dead (a dead endpoint's backlog with and without the circuit breaker, and a flaky endpoint beside it) or burst (--events job events, default 50,000, to --webhooks endpoints: none lost, each function's memory as the backlog drains)")
	flag.Parse()

	if *load == "burst" && !flagSet("events") {
		*events = 0 // the burst scenario's own default
	}
	opts := bench.Options{Events: *events, Webhooks: *webhooks, Ceiling: *ceiling, Warmup: *warmup, Dir: *dir, Progress: os.Stderr, Load: *load, Window: *window}
	if err := pacing(&opts, *rate, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := bench.Run(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Print(res.Table())
	if *asJSON {
		fmt.Println(res.JSON())
	}
}

// pacing sets the paced mode's options, refusing the burst mode's flags beside --rate.
func pacing(opts *bench.Options, rate float64, duration time.Duration) error {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case rate < 0:
		return fmt.Errorf("--rate must be positive")
	case rate == 0 && set["duration"]:
		return fmt.Errorf("--duration needs --rate")
	case rate == 0:
		return nil
	case set["events"] || set["ceiling"]:
		return fmt.Errorf("--events and --ceiling are the burst mode's; with --rate, --rate × --duration events are published")
	case duration == 0:
		duration = 30 * time.Second
	}
	if duration < 0 {
		return fmt.Errorf("--duration must be positive")
	}
	opts.Rate, opts.Duration = rate, duration
	return nil
}

// flagSet reports whether the command line set the flag.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
