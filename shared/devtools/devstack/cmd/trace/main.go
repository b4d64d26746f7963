// Command trace prints the waterfall of a job event's trace on the local stack
// (scripts/trace; shared/devtools/README.md, Following an event locally): publish → Dispatch → each
// POST, retries included.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jobhooks/jobhooks/shared/devtools/devstack"
)

func main() {
	dir := flag.String("dir", ".dev", "the local stack's directory")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: scripts/trace [--dir .dev] [EVENT_ID]   (default: the latest event)")
	}
	flag.Parse()
	spans, err := devstack.ReadSpans(filepath.Join(*dir, "traces"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "trace:", err)
		os.Exit(1)
	}
	id := devstack.TraceOf(spans, flag.Arg(0))
	if id == "" {
		fmt.Fprintf(os.Stderr, "trace: no traced event %q under %s (is scripts/dev running?)\n", flag.Arg(0), filepath.Join(*dir, "traces"))
		os.Exit(1)
	}
	fmt.Print(devstack.Waterfall(spans, id))
}
