// Package emulator starts gcloud's Pub/Sub and Firestore emulators for tests and for the local stack.
//
// Each emulator runs on a free loopback port in its own process group, because the gcloud
// wrapper starts a Java child that survives a kill of the wrapper alone: Stop kills the group.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Kind is an emulator gcloud can start.
type Kind string

const (
	PubSub    Kind = "pubsub"
	Firestore Kind = "firestore"
)

// HostEnv is the environment variable through which Google's client libraries find the emulator.
func (k Kind) HostEnv() string {
	if k == PubSub {
		return "PUBSUB_EMULATOR_HOST"
	}
	return "FIRESTORE_EMULATOR_HOST"
}

// ErrNoGcloud means gcloud is not installed, so no emulator can start.
var ErrNoGcloud = errors.New("gcloud is not on PATH: install the Google Cloud CLI with its pubsub and firestore emulator components (and Java)")

// Options tune Start.
type Options struct {
	// Port to listen on; 0 picks a free one.
	Port int
	// Log receives the emulator's output; nil discards it.
	Log io.Writer
	// DataDir keeps the emulator's state between runs. Firestore: Start imports the newest export
	// found there, and Export writes one. Pub/Sub: its --data-dir, where gcloud's emulator keeps
	// only its own settings (env.yaml), never topics or messages. Empty: in memory.
	DataDir string
	// StartTimeout bounds the wait for the emulator to answer; default 90 s (Java is slow to start
	// on a busy machine).
	StartTimeout time.Duration
}

// Emulator is a running emulator.
type Emulator struct {
	Kind Kind
	// Host is "127.0.0.1:PORT", the value of Kind.HostEnv().
	Host    string
	dataDir string
	cmd     *exec.Cmd
	done    chan struct{}
}

// Start launches the emulator and returns once it answers HTTP.
//
// A port picked by Start (Options.Port 0) is free when picked but not reserved: the emulators'
// JVMs bind further random ports of their own (Firestore's WebSocket server, gRPC), so a parallel
// test package's emulator can take it first. An emulator that exits before it is ready on a
// picked port is started again on another, up to three times; the error quotes its last output.
func Start(ctx context.Context, kind Kind, opts Options) (*Emulator, error) {
	if _, err := exec.LookPath("gcloud"); err != nil {
		return nil, ErrNoGcloud
	}
	tries := 1
	if opts.Port == 0 {
		tries = 3
	}
	var err error
	for try := 1; ; try++ {
		port := opts.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, err
			}
		}
		var e *Emulator
		e, err = start(ctx, kind, opts, port)
		if err == nil || !errors.Is(err, errExitedEarly) || try == tries {
			return e, err
		}
	}
}

// errExitedEarly is an emulator's exit before it answered.
var errExitedEarly = errors.New("exited before it was ready")

// freePort is FreePort, replaceable by tests that hand Start a taken port.
var freePort = FreePort

func start(ctx context.Context, kind Kind, opts Options, port int) (*Emulator, error) {
	host := "127.0.0.1:" + strconv.Itoa(port)
	var args []string
	imported := ""
	switch kind {
	case PubSub:
		args = []string{"beta", "emulators", "pubsub", "start", "--host-port=" + host}
		if opts.DataDir != "" {
			args = append(args, "--data-dir="+opts.DataDir)
		}
	case Firestore:
		// No --export-on-exit: the emulator writes nothing when it gets SIGTERM (only its JVM's
		// orderly exit would), so the state is saved by Export, before the stop.
		args = []string{"emulators", "firestore", "start", "--host-port=" + host}
		if imported = newestExport(opts.DataDir); imported != "" {
			args = append(args, "--import-data="+imported)
		}
	default:
		return nil, fmt.Errorf("emulator: unknown kind %q", kind)
	}
	cmd := exec.Command("gcloud", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	tail := &tailWriter{max: 2048}
	var out io.Writer = tail
	if opts.Log != nil {
		out = io.MultiWriter(opts.Log, tail)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), "CLOUDSDK_CORE_DISABLE_PROMPTS=1")
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("emulator: start %s: %w", kind, err)
	}
	e := &Emulator{Kind: kind, Host: host, dataDir: opts.DataDir, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(e.done) }()

	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 90 * time.Second
	}
	if err := e.waitReady(ctx, timeout, tail); err != nil {
		e.Kill()
		if errors.Is(err, errExitedEarly) {
			err = fmt.Errorf("%w; its last output:\n%s", err, tail.String())
		}
		if imported != "" {
			err = fmt.Errorf("%w (it was importing the data saved in %s; move that directory away to start empty)", err, filepath.Dir(imported))
		}
		return nil, err
	}
	return e, nil
}

// tailWriter keeps the last max bytes written to it, and whether bindFailed was among them.
type tailWriter struct {
	mu   sync.Mutex
	max  int
	b    []byte
	bind bool
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	w.bind = w.bind || strings.Contains(string(w.b), bindFailed)
	if len(w.b) > w.max {
		w.b = append(w.b[:0], w.b[len(w.b)-w.max:]...)
	}
	return len(p), nil
}

func (w *tailWriter) sawBindFailure() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.bind
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.TrimSpace(string(w.b))
}

// bindFailed is what an emulator's JVM prints when its port is taken. Firestore's then exits; the
// Pub/Sub emulator's main thread lives on without serving, so the output is watched too.
const bindFailed = "java.net.BindException: Address already in use"

func (e *Emulator) waitReady(ctx context.Context, timeout time.Duration, out *tailWriter) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-e.done:
			return fmt.Errorf("emulator: %s %w (is its gcloud component and Java installed?)", e.Kind, errExitedEarly)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if out.sawBindFailure() {
			return fmt.Errorf("emulator: %s %w: its port %s is taken", e.Kind, errExitedEarly, e.Host)
		}
		resp, err := client.Get("http://" + e.Host + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("emulator: %s did not answer on %s within %s", e.Kind, e.Host, timeout)
}

// Stop kills the emulator's whole process group (the gcloud wrapper and its Java child) and
// waits for the wrapper to exit.
func (e *Emulator) Stop() { e.StopWithin(5 * time.Second) }

// Kill stops the group at once: for an emulator with nothing left to save (gcloud's wrapper
// takes about two seconds to pass a SIGTERM on).
func (e *Emulator) Kill() {
	if e == nil || e.cmd.Process == nil {
		return
	}
	pgid := e.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-e.done
	// The Java child is reparented when the wrapper dies; it is gone once it is dead, reaped or not.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && GroupAlive(pgid); {
		time.Sleep(20 * time.Millisecond)
	}
}

// StopWithin asks the group to terminate, gives it grace to finish, then kills what is left.
func (e *Emulator) StopWithin(grace time.Duration) {
	if e == nil || e.cmd.Process == nil {
		return
	}
	pgid := e.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-e.done
	}
	// The Java child may outlive the wrapper: give it the grace, then make sure the group is gone.
	for deadline := time.Now().Add(grace); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if !GroupAlive(pgid) {
			return
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("emulator: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// PID is the process id of the emulator's process group leader (the gcloud wrapper).
func (e *Emulator) PID() int { return e.cmd.Process.Pid }
