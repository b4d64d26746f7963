package devstack

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jobhooks/jobhooks/shared/devtools/emulator"
	"github.com/jobhooks/jobhooks/shared/jwks"
)

// child is a function process of the stack, in its own process group so that stopping it stops
// everything it started, and tied to the stack's life (Pdeathsig) so a crash of scripts/dev
// leaves no orphan behind.
type child struct {
	name string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

func startChild(name, bin string, port int, env []string, logPath string) (*child, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, fmt.Sprintf("PORT=%d", port), "FUNCTION_TARGET="+name)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, port: port, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(c.done) }()
	return c, nil
}

func (c *child) url() string { return fmt.Sprintf("http://127.0.0.1:%d", c.port) }

// waitListening waits until the function accepts connections on its port. It connects without
// sending a request: a GET to a push function is not a push envelope, and each would log a
// WARNING "rejected push request" at every start of the stack.
func (c *child) waitListening(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			return fmt.Errorf("%s exited at start; see its log", c.name)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", c.port), time.Second); err == nil {
			conn.Close()
			// Something listens there; it is this function only if it is still running a
			// moment later (another listener on a taken port also answers the dial).
			select {
			case <-c.done:
				return fmt.Errorf("%s exited at start; see its log", c.name)
			case <-time.After(200 * time.Millisecond):
				return nil
			}
		}
	}
	return fmt.Errorf("%s did not answer on port %d within %s", c.name, c.port, timeout)
}

// stop terminates the process group, then kills it after a grace period.
func (c *child) stop() {
	pgid := c.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-c.done
	}
}

// pid is the process id, for the test that checks nothing survives.
func (c *child) pid() int { return c.cmd.Process.Pid }

// startFunctions starts every function as its own process on a free port, into children, and
// waits until each accepts connections: JWKS first (the others are told its address), then the
// rest at once. A port is free when picked but may be taken before the function binds it (any
// process's outgoing connection can take an ephemeral port): a function that exits at start
// because its port is in use is started again on another.
func startFunctions(ctx context.Context, dir, bin string, env map[string]string, children map[string]*child) error {
	var childEnv []string
	for k, v := range env {
		childEnv = append(childEnv, k+"="+v)
	}
	var mu sync.Mutex
	launch := func(name string, env []string) error {
		c, err := launchChild(ctx, name, bin, env, filepath.Join(dir, "logs", strings.ToLower(name)+".log"))
		if c != nil {
			mu.Lock()
			children[name] = c
			mu.Unlock()
		}
		return err
	}
	if err := launch("JWKS", childEnv); err != nil {
		return err
	}
	// The console's verify page shows the JWKS address (shared/restapi/README.md, Console).
	childEnv = append(childEnv, fmt.Sprintf("JOBHOOKS_JWKS_URL=http://127.0.0.1:%d%s", children["JWKS"].port, jwks.Path))
	errs := make(chan error, len(Functions))
	for _, name := range Functions {
		if name == "JWKS" {
			continue
		}
		go func() { errs <- launch(name, childEnv) }()
	}
	var first error
	for range len(Functions) - 1 {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// freePort picks a port; a test replaces it to hand out a taken one.
var freePort = emulator.FreePort

// launchChild starts a function on a free port and waits until it listens, on another port when
// the first was taken meanwhile (a few times at most). A function that exits at start for another
// reason is reported with the end of its log.
func launchChild(ctx context.Context, name, bin string, env []string, logPath string) (*child, error) {
	for try := 1; ; try++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		before := fileSize(logPath)
		c, err := startChild(name, bin, port, env, logPath)
		if err != nil {
			return nil, err
		}
		err = c.waitListening(ctx, 30*time.Second)
		if err == nil {
			return c, nil
		}
		logged := logSince(logPath, before)
		exited := false
		select {
		case <-c.done:
			exited = true
		default:
		}
		if exited && try < 5 && strings.Contains(logged, "address already in use") {
			continue
		}
		if logged != "" {
			err = fmt.Errorf("%w:\n%s", err, lastLines(logged, 10))
		}
		return c, err
	}
}

func fileSize(path string) int64 {
	if fi, err := os.Stat(path); err == nil {
		return fi.Size()
	}
	return 0
}

// logSince reads what a function logged after offset (its log is appended to across restarts).
func logSince(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) < offset {
		return ""
	}
	return string(b[offset:])
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// stopChildren stops every function at once: each gets SIGTERM, flushes its spans and exits
// (or is killed after the grace), and one slow function does not hold up the others.
func stopChildren(children map[string]*child) {
	var wg sync.WaitGroup
	for _, c := range children {
		wg.Add(1)
		go func() { defer wg.Done(); c.stop() }()
	}
	wg.Wait()
}
