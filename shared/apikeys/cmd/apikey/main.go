// Command apikey creates and revokes API keys of the management API; scripts/apikey runs it.
//
//	apikey create --project P     prints the new key, alone, on stdout
//	apikey revoke KEY             revokes KEY ("-" reads it from stdin, keeping it out of ps and shell history)
//
// It talks to the Firestore database of GOOGLE_CLOUD_PROJECT (or --google-project), database
// JOBHOOKS_FIRESTORE_DATABASE, through the emulator when FIRESTORE_EMULATOR_HOST is set.
// Progress and errors go to stderr; a key is never printed anywhere but create's stdout.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jobhooks/jobhooks/shared/apikeys"
	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/store"
)

const usage = `usage:
  apikey create --project P [--google-project G]   print a new API key of project P on stdout
  apikey revoke KEY|- [--google-project G]         revoke a key ("-": read it from stdin)`

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("apikey "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	project := fs.String("project", "", "the project (tenant) the new key belongs to")
	googleProject := fs.String("google-project", "", "the Google Cloud project holding the database (default: GOOGLE_CLOUD_PROJECT)")
	// Flags may come before or after the positional key.
	var positional []string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}

	if *googleProject != "" {
		os.Setenv(config.EnvGoogleProject, *googleProject)
	}
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(stderr, "apikey:", err)
		return 1
	}
	st, err := store.Open(ctx, cfg.GoogleProject, cfg.FirestoreDatabase, cfg.RecordTTL)
	if err != nil {
		fmt.Fprintln(stderr, "apikey:", err)
		return 1
	}
	defer st.Close()

	switch args[0] {
	case "create":
		if *project == "" || len(positional) > 0 {
			fmt.Fprintln(stderr, usage)
			return 2
		}
		key, err := apikeys.Create(ctx, st, *project, time.Now())
		if err != nil {
			fmt.Fprintln(stderr, "apikey:", err)
			return 1
		}
		fmt.Fprintln(stdout, key)
		fmt.Fprintf(stderr, "apikey: created a key for project %s in %s (shown once; only its hash is stored)\n", *project, cfg.GoogleProject)
		return 0
	case "revoke":
		if *project != "" || len(positional) != 1 {
			fmt.Fprintln(stderr, usage)
			return 2
		}
		key := positional[0]
		if key == "-" {
			line, err := bufio.NewReader(stdin).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				fmt.Fprintln(stderr, "apikey: read the key from stdin:", err)
				return 1
			}
			key = strings.TrimSpace(line)
		}
		if err := apikeys.Revoke(ctx, st, key); err != nil {
			if errors.Is(err, apikeys.ErrInvalid) {
				fmt.Fprintln(stderr, "apikey: no such key (already revoked, or not a key of this database)")
			} else {
				fmt.Fprintln(stderr, "apikey:", err)
			}
			return 1
		}
		fmt.Fprintf(stderr, "apikey: revoked; running API instances stop accepting it within %s\n", apikeys.MaxTTL)
		return 0
	default:
		fmt.Fprintln(stderr, usage)
		return 2
	}
}
