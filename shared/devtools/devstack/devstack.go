// Package devstack runs Jobhooks on a laptop (shared/devtools/README.md, The local stack): gcloud's
// Pub/Sub and Firestore emulators, the local Secret Manager, and every function as its own process
// on the real handlers, wired with the topics and push subscriptions Terraform deploys.
//
// State lives in one directory (.dev by default) and survives restarts unless Fresh: webhooks,
// records and API keys (Firestore, saved when the stack stops), secrets and keys (the local
// Secret Manager's file), logs and traces; not the messages still queued in the Pub/Sub
// emulator, which keeps none between runs. Run refuses to start twice on the same directory,
// writes DIR/env only once everything answers, and on return has stopped every process it
// started.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"cloud.google.com/go/pubsub/v2"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"

	"github.com/jobhooks/jobhooks/shared/apikeys"
	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/devtools/emulator"
	"github.com/jobhooks/jobhooks/shared/devtools/localsecretmanager"
	"github.com/jobhooks/jobhooks/shared/instance"
	"github.com/jobhooks/jobhooks/shared/jwks"
	"github.com/jobhooks/jobhooks/shared/portal"
	"github.com/jobhooks/jobhooks/shared/secrets"
	"github.com/jobhooks/jobhooks/shared/signingkey"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/topics"
)

// GoogleProject is the Google Cloud project id of the local stack; Project is the Jobhooks
// project (tenant) its API key belongs to.
const (
	GoogleProject = "jobhooks-local"
	Project       = "demo"
)

// Functions are the FUNCTION_TARGETs the stack runs, in start order.
var Functions = []string{"DeadLetter", "Deliver", "Dispatch", "API", "JWKS"}

// Options configure Run.
type Options struct {
	// Dir holds the state (.dev).
	Dir string
	// Fresh wipes Dir first.
	Fresh bool
	// Secure keeps the SSRF guard on and https-only targets, as in production.
	Secure bool
	// Demo also runs the demo: a verifying receiver, a webhook, sample events (scripts/dev demo).
	Demo bool
	// Out receives the human-readable progress and the live summary.
	Out io.Writer
	// Ready, if set, is called once DIR/env is written.
	Ready func(env map[string]string)
	// Redeliver is how often the stack pushes every unacknowledged message again, standing in
	// for the redelivery the Pub/Sub emulator stops doing (see topics.Redeliver): zero means
	// every 10 s, a negative value never.
	Redeliver time.Duration
}

// RedeliverEvery is the default of Options.Redeliver: a nacked delivery is retried about this
// often on the local stack, whatever its backoff would be in production.
const RedeliverEvery = 10 * time.Second

// localOriginCap is the local stack's cap on requests in flight to one origin at once, as
// Terraform's endpoint_max_in_flight is in the cloud.
const localOriginCap = 100

// Run starts the stack and blocks until ctx is done, then stops everything.
func Run(ctx context.Context, opts Options) (err error) {
	if err := checkPrerequisites(); err != nil {
		return err
	}
	if opts.Demo && opts.Secure {
		return errors.New("demo runs its receiver on http://127.0.0.1, which --secure refuses; run scripts/dev demo without --secure")
	}
	if opts.Fresh {
		if err := os.RemoveAll(opts.Dir); err != nil {
			return err
		}
	}
	for _, d := range []string{opts.Dir, filepath.Join(opts.Dir, "logs"), filepath.Join(opts.Dir, "bin"), filepath.Join(opts.Dir, "firestore"), filepath.Join(opts.Dir, "pubsub")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	unlock, err := lock(opts.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	envPath := filepath.Join(opts.Dir, "env")
	os.Remove(envPath) // written again only when everything answers
	defer os.Remove(envPath)
	live := newSummary(filepath.Join(opts.Dir, "logs")) // counts this run's lines only

	say := func(format string, args ...any) { fmt.Fprintf(opts.Out, format+"\n", args...) }
	var stops []func()
	defer func() {
		say("stopping…")
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
		say("stopped.")
	}()

	say("building the functions binary…")
	bin := filepath.Join(opts.Dir, "bin", "jobhooks-functions")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./shared/devtools/devstack/cmd/functions").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}

	say("starting the Pub/Sub and Firestore emulators…")
	emus, err := startEmulators(ctx, opts.Dir, say, &stops)
	if err != nil {
		return err
	}
	sm, err := localsecretmanager.Start(localsecretmanager.Options{StateFile: filepath.Join(opts.Dir, "secrets.json")})
	if err != nil {
		return err
	}
	stops = append(stops, sm.Close)

	env := map[string]string{
		config.EnvGoogleProject:        GoogleProject,
		emulator.PubSub.HostEnv():      emus[emulator.PubSub].Host,
		emulator.Firestore.HostEnv():   emus[emulator.Firestore].Host,
		instance.SecretManagerHostEnv:  sm.Addr(),
		config.EnvJobEventsTopic:       topics.JobEvents,
		config.EnvAllowInsecureTargets: fmt.Sprint(!opts.Secure),
		// The deployment's cap per origin (Terraform's endpoint_max_in_flight) over the one
		// Dispatch and one Deliver this stack runs: no origin gets more than localOriginCap at once.
		config.EnvOriginMaxInFlight: fmt.Sprint(localOriginCap / 2),
		// Every event is traced, its spans written as JSON lines for scripts/trace
		// (shared/devtools/README.md, Following an event locally).
		config.EnvTraceExporter:    "file",
		config.EnvTraceDir:         filepath.Join(absolute(opts.Dir), "traces"),
		config.EnvTraceSampleRatio: "1",
	}
	for k, v := range env {
		os.Setenv(k, v) // the clients of this process (setup below) use the same stand-ins
	}

	say("starting the functions…")
	children := map[string]*child{}
	stops = append(stops, func() { stopChildren(children) }) // in parallel: each flushes its spans
	if err := startFunctions(ctx, opts.Dir, bin, env, children); err != nil {
		return err
	}
	if err := writePIDs(opts.Dir, emus, children); err != nil {
		return err
	}
	if err := setUp(ctx, children); err != nil {
		return err
	}
	stopRedeliver, err := redeliver(ctx, opts.Redeliver)
	if err != nil {
		return err
	}
	stops = append(stops, stopRedeliver)
	env[EnvJWKSURL] = children["JWKS"].url() + jwks.Path
	env[EnvAPIURL] = children["API"].url()
	if env[EnvAPIKey], err = apiKey(ctx, opts.Dir); err != nil {
		return err
	}
	env["JOBHOOKS_CONSOLE_URL"] = env["JOBHOOKS_API_URL"] + "/console/"
	if err := writeEnv(envPath, env); err != nil {
		return err
	}
	say("ready. State in %s; logs in %s. Ctrl-C stops everything.", opts.Dir, filepath.Join(opts.Dir, "logs"))
	say("environment written to %s — in another shell: source %s", envPath, envPath)
	say("%s", banner(bannerOptions{EnvPath: envPath, Secure: opts.Secure, Demo: opts.Demo}))
	if link, err := portalLink(ctx, env); err != nil {
		say("console: %s (sign in with project %s and the key in %s; no portal link: %v)", env["JOBHOOKS_CONSOLE_URL"], Project, envPath, err)
	} else {
		say("console: %s — or open this portal link for %s (signed in, 24 h):\n  %s", env["JOBHOOKS_CONSOLE_URL"], Project, link)
	}
	if opts.Ready != nil {
		opts.Ready(env)
	}
	if opts.Demo {
		if err := demo(ctx, opts.Out, env); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	live.watch(ctx, opts.Out)
	return nil
}

// apiKey returns the API key of project demo kept in DIR/apikey, creating one if it is missing
// or no longer known to the database (after --fresh).
func apiKey(ctx context.Context, dir string) (string, error) {
	st, err := store.Open(ctx, GoogleProject, "(default)", time.Hour)
	if err != nil {
		return "", err
	}
	defer st.Close()
	path := filepath.Join(dir, "apikey")
	if b, err := os.ReadFile(path); err == nil {
		key := strings.TrimSpace(string(b))
		if _, err := st.GetAPIKey(ctx, apikeys.Hash(key)); err == nil {
			return key, nil
		}
	}
	key, err := apikeys.Create(ctx, st, Project, time.Now())
	if err != nil {
		return "", err
	}
	return key, os.WriteFile(path, []byte(key+"\n"), 0o600)
}

// setUp creates what Terraform and scripts/secrets-init would: topics and push subscriptions,
// the key-encryption key and the signing key of dynamic webhooks.
func setUp(ctx context.Context, children map[string]*child) error {
	ps, err := pubsub.NewClient(ctx, GoogleProject)
	if err != nil {
		return err
	}
	defer ps.Close()
	endpoints := map[string]string{}
	for name, c := range children {
		endpoints[name] = c.url() + "/"
	}
	if err := topics.Create(ctx, ps, topics.CreateOptions{Endpoints: endpoints}); err != nil {
		return err
	}
	sm, err := secretmanager.NewClient(ctx, instance.SecretManagerOptions()...)
	if err != nil {
		return err
	}
	defer sm.Close()
	cfg := config.Defaults()
	kr, err := secrets.NewKeyring(sm, GoogleProject, cfg.KEKSecret, secrets.KeyringOptions{})
	if err != nil {
		return err
	}
	if err := kr.EnsureKEK(ctx); err != nil {
		return err
	}
	// The functions inherit this process's environment: make the key the configured mode signs
	// with (JOBHOOKS_SIGNING_MODE=jwt needs an RS256 key by default), as scripts/secrets-init
	// --signing-alg does in the cloud. A bad value stops the functions at start (config.Load).
	if m := os.Getenv(config.EnvSigningMode); m != "" {
		cfg.SigningMode = m
	}
	if a := os.Getenv(config.EnvJWTAlgorithm); a != "" {
		cfg.JWTAlgorithm = a
	}
	keys, err := signingkey.New(sm, GoogleProject, cfg.SigningKeySecret, signingkey.Options{PublicSecretID: cfg.SigningJWKSSecret})
	if err != nil {
		return err
	}
	if _, err = keys.Ensure(ctx, signingkey.Algorithm(cfg)); err != nil {
		return err
	}
	return portal.NewKeys(sm, GoogleProject, cfg.PortalKeySecret, portal.KeysOptions{}).Ensure(ctx)
}

// redeliver runs topics.Redeliver until the returned stop is called. It seeks to a time older
// than any retained message: a seek marks the messages published before its time as
// acknowledged, and a message of this run must stay unacknowledged until it is handled.
func redeliver(ctx context.Context, every time.Duration) (stop func(), err error) {
	if every < 0 {
		return func() {}, nil
	}
	if every == 0 {
		every = RedeliverEvery
	}
	ps, err := pubsub.NewClient(ctx, GoogleProject)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		topics.Redeliver(ctx, ps, time.Now().Add(-8*24*time.Hour), every)
	}()
	return func() { cancel(); <-done; ps.Close() }, nil
}

// lock takes an exclusive lock on DIR/lock: a second scripts/dev on the same state would fight
// the first over ports, emulator data and DIR/env.
func lock(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(filepath.Join(dir, "lock"))
		f.Close()
		return nil, fmt.Errorf("another scripts/dev is already running on %s (pid %s); stop it first", dir, strings.TrimSpace(string(pid)))
	}
	_ = f.Truncate(0)
	fmt.Fprintf(f, "%d\n", os.Getpid())
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// writePIDs records the process groups the stack started (DIR/pids), so a test or a user can
// check that nothing survives the stack.
func writePIDs(dir string, emus map[emulator.Kind]*emulator.Emulator, children map[string]*child) error {
	var b strings.Builder
	for _, e := range emus {
		fmt.Fprintf(&b, "%d %s-emulator\n", e.PID(), e.Kind)
	}
	for name, c := range children {
		fmt.Fprintf(&b, "%d %s\n", c.pid(), name)
	}
	return os.WriteFile(filepath.Join(dir, "pids"), []byte(b.String()), 0o600)
}

func writeEnv(path string, env map[string]string) error {
	var b strings.Builder
	b.WriteString("# Written by scripts/dev when the local stack is ready; removed when it stops.\n")
	for _, k := range sortedKeys(env) {
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(env[k]))
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func checkPrerequisites() error {
	var missing []string
	if _, err := exec.LookPath("go"); err != nil {
		missing = append(missing, "Go 1.26 (https://go.dev/dl/)")
	}
	if _, err := exec.LookPath("gcloud"); err != nil {
		missing = append(missing, "the Google Cloud CLI with its emulators: install google-cloud-cli, then\n    gcloud components install beta pubsub-emulator cloud-firestore-emulator\n  (or, from Google's Debian repository: apt-get install google-cloud-cli-pubsub-emulator google-cloud-cli-firestore-emulator)")
	}
	if _, err := exec.LookPath("java"); err != nil {
		missing = append(missing, "Java 17 or newer for the emulators (Debian: apt-get install openjdk-17-jre-headless)")
	}
	if len(missing) > 0 {
		return errors.New("scripts/dev needs:\n  - " + strings.Join(missing, "\n  - "))
	}
	return nil
}

func absolute(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// Variables .dev/env holds besides the configuration's (shared/config) and the emulator hosts:
// where the stack's API and JWKS answer, and an API key of Project.
const (
	EnvAPIURL  = "JOBHOOKS_API_URL"
	EnvAPIKey  = "JOBHOOKS_API_KEY"
	EnvJWKSURL = "JOBHOOKS_JWKS_URL"
)
