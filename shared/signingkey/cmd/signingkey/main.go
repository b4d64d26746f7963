// Command signingkey manages the deployment's dynamic-webhook signing key in Secret Manager;
// scripts/signing-key runs it. Against the local stand-in when SECRETMANAGER_EMULATOR_HOST is
// set, otherwise against Secret Manager with Application Default Credentials.
//
//	signingkey [flags] init     create the secret if missing, and a key if none is enabled for the algorithm
//	signingkey [flags] rotate   add a new key: it signs from now on, the older keys stay published
//	signingkey [flags] retire   disable every key but the newest
//	signingkey [flags] list     print the enabled keys, newest first
//
// init, rotate and retire also publish the public key set of the enabled keys as the newest
// version of a second secret (--public-secret, default jobhooks-signing-jwks), the only one the
// JWKS function may read; init publishes again if an earlier publication failed.
//
// A rotation is `rotate`, then — once every receiver can have refreshed its cached JWKS — `retire`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/instance"
	"github.com/jobhooks/jobhooks/shared/jwks"
	"github.com/jobhooks/jobhooks/shared/signingkey"
)

// retireMinAge keeps `retire` from running before receivers can have seen the newest key: the
// JWKS may be cached for five minutes, and each instance's key set for up to 30 s more.
const retireMinAge = 10 * time.Minute

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "signing-key:", err)
		var usage usageError
		if errors.As(err, &usage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("signing-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := config.Defaults()
	project := fs.String("project", firstNonEmpty(os.Getenv(config.EnvGoogleProject), os.Getenv("GCP_PROJECT")), "Google Cloud project (default $GOOGLE_CLOUD_PROJECT)")
	prefix := fs.String("name-prefix", "", "prefix of the deployment's resource names (Terraform's name_prefix)")
	secret := fs.String("secret", os.Getenv(config.EnvSigningKeySecret), "secret id (default <name-prefix>"+def.SigningKeySecret+")")
	publicSecret := fs.String("public-secret", os.Getenv(config.EnvSigningJWKSSecret), "secret id of the published public key set, all the JWKS function reads (default <name-prefix>"+def.SigningJWKSSecret+")")
	alg := fs.String("alg", defaultAlgorithm(), "key algorithm for init and rotate: EdDSA (v1a, jwt EdDSA) or RS256 (jwt RS256); default from $JOBHOOKS_SIGNING_MODE and $JOBHOOKS_JWT_ALGORITHM")
	force := fs.Bool("force", false, "retire even if the newest key was added less than "+retireMinAge.String()+" ago")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: signing-key [flags] init|rotate|retire|list")
		fs.PrintDefaults()
	}
	// Flags may come before or after the command.
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	cmd := fs.Arg(0)
	if err := fs.Parse(fs.Args()[min(1, fs.NArg()):]); err != nil {
		return usageError{err}
	}
	if cmd == "" || fs.NArg() != 0 {
		fs.Usage()
		return usageError{errors.New("want exactly one command: init, rotate, retire or list")}
	}
	if *project == "" {
		return usageError{errors.New("--project is required (or set GOOGLE_CLOUD_PROJECT)")}
	}
	if *secret == "" {
		*secret = *prefix + def.SigningKeySecret
	}
	if *publicSecret == "" {
		*publicSecret = *prefix + def.SigningJWKSSecret
	}
	if *alg != signingkey.EdDSA && *alg != signingkey.RS256 {
		return usageError{fmt.Errorf("--alg %q: want EdDSA or RS256", *alg)}
	}

	client, err := secretmanager.NewClient(ctx, instance.SecretManagerOptions()...)
	if err != nil {
		return fmt.Errorf("secret manager client: %w", err)
	}
	defer client.Close()
	src, err := signingkey.New(client, *project, *secret, signingkey.Options{PublicSecretID: *publicSecret})
	if err != nil {
		return err
	}

	switch cmd {
	case "init":
		k, err := src.Ensure(ctx, *alg)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s has an enabled %s key: version %s, kid %s\n", src.SecretName(), k.Algorithm, k.Version, k.ID)
	case "rotate":
		k, err := src.Rotate(ctx, *alg)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added version %s: %s key, kid %s\n", k.Version, k.Algorithm, k.ID)
		fmt.Fprintf(stderr, "It signs within %s; the older keys stay published (and keep signing v1a) until `signing-key retire`, which can run %s from now.\n",
			def.CacheTTL, retireMinAge)
	case "retire":
		minAge := retireMinAge
		if *force {
			minAge = 0
		}
		retired, err := src.Retire(ctx, signingkey.RetireOptions{MinAge: minAge})
		if err != nil {
			return err
		}
		for _, k := range retired {
			fmt.Fprintf(stdout, "disabled version %s: %s key, kid %s\n", k.Version, k.Algorithm, k.ID)
		}
		if len(retired) == 0 {
			fmt.Fprintln(stdout, "only one key is enabled: nothing to retire")
		}
	case "list":
		set, err := src.Keys(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, "VERSION\tALG\tCREATED\tKID")
		for _, k := range set.Keys {
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", k.Version, k.Algorithm, k.Created.UTC().Format(time.RFC3339), k.ID)
		}
		fmt.Fprintf(stderr, "The newest signs; all are published at %s.\n", jwks.Path)
	default:
		fs.Usage()
		return usageError{fmt.Errorf("unknown command %q", cmd)}
	}
	return nil
}

// defaultAlgorithm is the algorithm of the deployment's mode, read like the functions read it.
func defaultAlgorithm() string {
	cfg := config.Defaults()
	if m := os.Getenv(config.EnvSigningMode); m != "" {
		cfg.SigningMode = m
	}
	if a := os.Getenv(config.EnvJWTAlgorithm); a != "" {
		cfg.JWTAlgorithm = a
	}
	return signingkey.Algorithm(cfg)
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
