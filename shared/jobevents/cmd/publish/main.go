// Command publish publishes one job event to the job-events topic: from flags, a JSON file, or
// bytes as given (--raw, unvalidated). scripts/publish is its front door
// (shared/jobevents/README.md, Locally: scripts/publish). It talks to the emulator when
// PUBSUB_EMULATOR_HOST is set (source .dev/env), to real Pub/Sub otherwise.
package main

import (
	"context"
	"fmt"
	"os"
	"time"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "publish:", err)
		os.Exit(1)
	}
}
