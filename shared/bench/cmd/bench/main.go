// Command bench measures the local stack end to end; scripts/bench is its front door.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/jobhooks/jobhooks/shared/bench"
)

func main() {
	events := flag.Int("events", 1000, "job events to publish")
	webhooks := flag.Int("webhooks", 5, "webhooks each event fans out to")
	ceiling := flag.Int("ceiling", 0, "messages for the bare push ceiling (default min(events×webhooks, 3000))")
	warmup := flag.Int("warmup", 0, "events sent end to end, unmeasured, before measuring (default events/5, at least 100; -1 none)")
	dir := flag.String("dir", ".dev/bench", "state directory of the benchmark's own local stack (wiped)")
	asJSON := flag.Bool("json", false, "print one JSON object as the last line of stdout")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := bench.Run(ctx, bench.Options{Events: *events, Webhooks: *webhooks, Ceiling: *ceiling, Warmup: *warmup, Dir: *dir, Progress: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Print(res.Table())
	if *asJSON {
		fmt.Println(res.JSON())
	}
}
