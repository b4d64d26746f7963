// Package pipelinetest runs the whole delivery pipeline for tests: the real Dispatch, Deliver and
// DeadLetter handlers behind HTTP servers, fed by push subscriptions of the Pub/Sub emulator, on
// the Firestore emulator and the local Secret Manager.
//
// Each Stack has its own Google Cloud project id, hence its own topics, subscriptions and
// database: stacks of one test binary do not see each other and may run in parallel.
package pipelinetest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/api/option"

	"github.com/jobhooks/jobhooks/functions/deadletter"
	"github.com/jobhooks/jobhooks/functions/deliver"
	"github.com/jobhooks/jobhooks/functions/dispatch"
	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/devtools/emulator"
	"github.com/jobhooks/jobhooks/shared/devtools/localsecretmanager"
	"github.com/jobhooks/jobhooks/shared/instance"
	"github.com/jobhooks/jobhooks/shared/logging"
	"github.com/jobhooks/jobhooks/shared/secrets"
	"github.com/jobhooks/jobhooks/shared/signingkey"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/topics"
)

// Main is the TestMain of a package using stacks: the emulators and one local Secret Manager for
// the whole test binary, stopped at the end; Calls counts what the stacks' clients ask of them. After the tests, every log line any stack wrote is
// checked for the secrets the stacks handed out.
func Main(m *testing.M) int {
	sm, err := localsecretmanager.Start(localsecretmanager.Options{Interceptor: Calls.secretManager})
	if err != nil {
		fmt.Fprintln(os.Stderr, "local secret manager:", err)
		return 1
	}
	defer sm.Close()
	os.Setenv(instance.SecretManagerHostEnv, sm.Addr())
	instance.ClientOptions = func(api string) ([]option.ClientOption, error) {
		if api == instance.APIFirestore {
			return Calls.firestoreOptions()
		}
		return nil, nil
	}
	code := emulator.Main(m, emulator.PubSub, emulator.Firestore)
	if code == 0 {
		if leaks := Logs.Leaks(); len(leaks) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: secret material found in logs: %d lines, e.g. %s\n", len(leaks), leaks[0])
			return 1
		}
	}
	return code
}

// Options tune a Stack.
type Options struct {
	// Configure adjusts the configuration (retry window, republish threshold, ...).
	Configure func(*config.Config)
	// MaxDeliveryAttempts replaces the subscriptions' dead-letter limit of 100.
	MaxDeliveryAttempts int
	// NoPush creates the topics without push subscriptions: the test hands every message to
	// the handlers itself (see process), and nothing is pushed behind its back.
	NoPush bool
	// Tracer receives the functions' spans (an in-memory recorder in tests); nil records none.
	Tracer trace.TracerProvider
}

// Stack is one running pipeline.
type Stack struct {
	Config    config.Config
	Instance  *instance.Instance
	Store     *store.Store
	Keyring   *secrets.Keyring
	PubSub    *pubsub.Client
	Publisher *topics.Publisher
	Clock     *Clock
	jobEvents *pubsub.Publisher

	// SigningKeys holds the dynamic-webhook signing key, created by Start.
	SigningKeys *signingkey.Source

	// lines are this stack's own log lines (Logs has every stack's).
	lines *logs
}

var projectSeq atomic.Int64

// testRetryGap is the stacks' config.RetryGap: half their subscriptions' 1 s minimum backoff.
const testRetryGap = 500 * time.Millisecond

// Start runs a pipeline for the test and stops it when the test ends.
func Start(t testing.TB, opts Options) *Stack {
	t.Helper()
	emulator.Need(t)
	ctx := context.Background()

	cfg := config.Defaults()
	cfg.GoogleProject = fmt.Sprintf("jobhooks-test-%d-%d", os.Getpid(), projectSeq.Add(1))
	cfg.AllowInsecureTargets = true // receivers are httptest servers on loopback
	cfg.AttemptTimeout = 5 * time.Second
	cfg.RetryGap = testRetryGap // below the subscriptions' 1 s backoff, as in production below 10 s
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	clock := &Clock{}
	own := &logs{}
	in := instance.New(cfg, logging.NewForProject(testWriter{l: Logs, also: own}, slog.LevelDebug, cfg.GoogleProject))
	in.Now = clock.Now
	in.Tracer = opts.Tracer

	servers := map[string]string{}
	for name, build := range map[string]instance.Builder{
		"Dispatch": dispatch.Build, "Deliver": deliver.Build, "DeadLetter": deadletter.Build,
	} {
		srv := httptest.NewServer(instance.PushFunction(func() (*instance.Instance, error) { return in, nil }, build))
		t.Cleanup(srv.Close)
		servers[name] = srv.URL
	}

	if opts.NoPush {
		servers = nil
	}
	ps, err := pubsub.NewClient(ctx, cfg.GoogleProject)
	if err != nil {
		t.Fatalf("pubsub client: %v", err)
	}
	t.Cleanup(func() { ps.Close() })
	// One second of backoff instead of ten: the retry path is the same, the test is faster.
	if err := topics.Create(ctx, ps, topics.CreateOptions{
		Endpoints: servers, MinBackoff: time.Second, MaxBackoff: 2 * time.Second, MaxDeliveryAttempts: opts.MaxDeliveryAttempts,
	}); err != nil {
		t.Fatalf("topology: %v", err)
	}
	st, err := in.Store(ctx)
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	kr, err := in.Keyring(ctx)
	if err != nil {
		t.Fatalf("keyring: %v", err)
	}
	if err := kr.EnsureKEK(ctx); err != nil {
		t.Fatalf("KEK: %v", err)
	}
	keys, err := in.SigningKeys(ctx)
	if err != nil {
		t.Fatalf("signing keys: %v", err)
	}
	if _, err := keys.Ensure(ctx, signingkey.Algorithm(cfg)); err != nil {
		t.Fatalf("signing key: %v", err)
	}
	pub, err := in.Publisher(ctx)
	if err != nil {
		t.Fatalf("publisher: %v", err)
	}
	jobEvents := ps.Publisher(topics.JobEvents)
	jobEvents.PublishSettings.DelayThreshold = time.Millisecond
	t.Cleanup(jobEvents.Stop)
	return &Stack{Config: cfg, Instance: in, Store: st, Keyring: kr, SigningKeys: keys, PubSub: ps, Publisher: pub, Clock: clock, jobEvents: jobEvents, lines: own}
}

// Lines returns every line this stack's functions logged so far. A test that finds lines by a
// Pub/Sub message id reads these: the emulator numbers messages per topic, so another stack's
// message may have the same id.
func (s *Stack) Lines() []string { return s.lines.Lines() }

// SecretManagerClient opens a client of the local Secret Manager the stacks share.
func SecretManagerClient(t testing.TB) *secretmanager.Client {
	c, err := secretmanager.NewClient(context.Background(), instance.SecretManagerOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Publish publishes a job event (raw message data) with attributes and returns its message id.
func (s *Stack) Publish(t testing.TB, data string, attrs map[string]string) string {
	t.Helper()
	id, err := s.jobEvents.Publish(context.Background(), &pubsub.Message{Data: []byte(data), Attributes: attrs}).Get(context.Background())
	if err != nil {
		t.Fatalf("publish job event: %v", err)
	}
	return id
}

// Clock is the stacks' clock: real time plus an offset a test moves forward.
type Clock struct{ offset atomic.Int64 }

// Now is time.Now plus the offset.
func (c *Clock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// Eventually polls cond every 100 ms until it holds or the timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logs collects every line the stacks log, per test and for the whole binary.
type logs struct {
	mu      sync.Mutex
	all     bytes.Buffer
	secrets []string
}

// Logs is the binary-wide log collector.
var Logs = &logs{}

// testWriter appends to the collector, and to also when set (a stack's own lines);
// JOBHOOKS_TEST_LOGS=1 also echoes to stderr.
type testWriter struct{ l, also *logs }

func (w testWriter) Write(p []byte) (int, error) {
	for _, l := range []*logs{w.l, w.also} {
		if l != nil {
			l.mu.Lock()
			l.all.Write(p)
			l.mu.Unlock()
		}
	}
	if os.Getenv("JOBHOOKS_TEST_LOGS") == "1" {
		os.Stderr.Write(p)
	}
	return len(p), nil
}

// Writer returns the log destination of a stack of test t.
func (l *logs) Writer() testWriter { return testWriter{l: l} }

// Watch registers secret material that must never appear in any log line.
func (l *logs) Watch(values ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.secrets = append(l.secrets, values...)
}

// Leaks returns the log lines that contain a watched value.
func (l *logs) Leaks() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range bytes.Split(l.all.Bytes(), []byte("\n")) {
		for _, s := range l.secrets {
			if s != "" && bytes.Contains(line, []byte(s)) {
				out = append(out, string(line))
			}
		}
	}
	return out
}

// Lines returns every log line written so far.
func (l *logs) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return lines(l.all.String())
}

func lines(s string) []string {
	var out []string
	for _, line := range bytes.Split([]byte(s), []byte("\n")) {
		if len(bytes.TrimSpace(line)) > 0 {
			out = append(out, string(line))
		}
	}
	return out
}
