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
			return nil
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
// waits until each accepts connections.
func startFunctions(ctx context.Context, dir, bin string, env map[string]string, children map[string]*child) error {
	var childEnv []string
	for k, v := range env {
		childEnv = append(childEnv, k+"="+v)
	}
	ports := map[string]int{}
	for _, name := range Functions {
		var err error
		if ports[name], err = emulator.FreePort(); err != nil {
			return err
		}
	}
	// The console's verify page shows the JWKS address (shared/restapi/README.md, Console).
	childEnv = append(childEnv, fmt.Sprintf("JOBHOOKS_JWKS_URL=http://127.0.0.1:%d%s", ports["JWKS"], jwks.Path))
	for _, name := range Functions {
		c, err := startChild(name, bin, ports[name], childEnv, filepath.Join(dir, "logs", strings.ToLower(name)+".log"))
		if err != nil {
			return err
		}
		children[name] = c
	}
	for _, c := range children {
		if err := c.waitListening(ctx, 30*time.Second); err != nil {
			return err
		}
	}
	return nil
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
