// Command dev runs the local stack; scripts/dev is its front door. See package devstack.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/jobhooks/jobhooks/shared/devtools/devstack"
)

func main() {
	fresh := flag.Bool("fresh", false, "wipe the state directory first")
	secure := flag.Bool("secure", false, "keep the SSRF guard on and allow https targets only, as in production")
	dir := flag.String("dir", ".dev", "state directory")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: scripts/dev [--fresh] [--secure] [--dir DIR] [demo]")
		flag.PrintDefaults()
	}
	// "demo" may come before or after the flags.
	demo := false
	var args []string
	for _, a := range os.Args[1:] {
		if a == "demo" {
			demo = true
			continue
		}
		args = append(args, a)
	}
	if err := flag.CommandLine.Parse(args); err != nil || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := devstack.Run(ctx, devstack.Options{Dir: *dir, Fresh: *fresh, Secure: *secure, Demo: demo, Out: os.Stdout})
	if err != nil {
		fmt.Fprintln(os.Stderr, "scripts/dev:", err)
		os.Exit(1)
	}
}
