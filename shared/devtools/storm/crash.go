package storm

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
)

// trap makes a SIGKILL land at the worst moment: armed, it holds the next POST an endpoint
// accepts (logged as received) until the function is dead. If the dead function made that POST,
// the attempt's record is never written and a redelivery or take-over POSTs again — the
// duplicate the storm must count, not a loss. It can be sprung again and again.
type trap struct {
	mu     sync.Mutex
	armed  bool
	free   chan struct{}
	caught chan struct{}
}

func newTrap() *trap { return &trap{caught: make(chan struct{}, 1)} }

// hold is called by an endpoint that accepted a POST, before it answers.
func (t *trap) hold() {
	t.mu.Lock()
	if !t.armed {
		t.mu.Unlock()
		return
	}
	t.armed = false
	free := t.free
	t.mu.Unlock()
	t.caught <- struct{}{}
	<-free
}

// spring arms the trap, waits (at most a few seconds) for a POST to be held, calls kill, and
// frees the held POST. It reports whether a POST was held.
func (t *trap) spring(kill func() error) (bool, error) {
	select {
	case <-t.caught: // a hold that came after the last spring gave up waiting
	default:
	}
	t.mu.Lock()
	t.armed, t.free = true, make(chan struct{})
	free := t.free
	t.mu.Unlock()
	held := false
	select {
	case <-t.caught:
		held = true
	case <-time.After(5 * time.Second):
		t.mu.Lock()
		t.armed = false
		t.mu.Unlock()
	}
	err := kill()
	close(free)
	return held, err
}

// crash is one SIGKILL of a function and its restart.
type crash struct {
	function string
	outage
}

// crash kills the function at the trap's moment, keeps it dead for Down, starts it again and
// records the outage.
func (r *run) crash(ctx context.Context, p *functionProcess, why string) error {
	held, err := r.trap.spring(p.kill)
	if err != nil {
		return err
	}
	c := crash{function: p.name, outage: outage{from: time.Now()}}
	how := ""
	if held {
		how = ", while an endpoint was accepting a POST"
	}
	r.note("%s killed (SIGKILL) %s%s", p.name, why, how)
	sleep(ctx, r.opts.Down)
	if err := p.restart(ctx, r.opts.Dir); err != nil {
		return err
	}
	c.to = time.Now()
	r.mu.Lock()
	r.crashes = append(r.crashes, c)
	r.mu.Unlock()
	r.note("%s restarted on the same port", p.name)
	return nil
}

// functionProcess is a function of the local stack as the storm sees it: a process group it can
// kill, and the port its push subscription delivers to.
type functionProcess struct {
	name string
	pid  int
	port string
	cmd  *exec.Cmd // set once the storm started the process itself
}

// findFunction reads the function's process group from DIR/pids and its port from its push
// subscription.
func findFunction(ctx context.Context, dir, name, subscription string, ps *pubsub.Client) (*functionProcess, error) {
	f, err := os.Open(filepath.Join(dir, "pids"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fp := &functionProcess{name: name}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 2 && fields[1] == name {
			fp.pid, _ = strconv.Atoi(fields[0])
		}
	}
	if fp.pid == 0 {
		return nil, fmt.Errorf("%s is not in %s", name, filepath.Join(dir, "pids"))
	}
	sub, err := ps.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{
		Subscription: "projects/" + ps.Project() + "/subscriptions/" + subscription,
	})
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(sub.GetPushConfig().GetPushEndpoint())
	if err != nil || u.Port() == "" {
		return nil, fmt.Errorf("subscription %s has no push port: %q", subscription, sub.GetPushConfig().GetPushEndpoint())
	}
	fp.port = u.Port()
	return fp, nil
}

// kill sends SIGKILL to the process group: no handler finishes, nothing is flushed.
func (p *functionProcess) kill() error {
	if err := syscall.Kill(-p.pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s (process group %d): %w", p.name, p.pid, err)
	}
	if p.cmd != nil {
		_ = p.cmd.Wait()
		return nil
	}
	// The stack reaps its own child; wait until it has, so that the port is free.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if syscall.Kill(p.pid, 0) != nil {
			return nil
		}
	}
	return fmt.Errorf("%s (pid %d) still exists after SIGKILL", p.name, p.pid)
}

// restart starts the function again on the same port, from the stack's binary, with the
// environment the stack gave it (the storm's own, which the stack extended), logging to the
// same file; it returns once the function answers HTTP.
func (p *functionProcess) restart(ctx context.Context, dir string) error {
	logf, err := os.OpenFile(filepath.Join(dir, "logs", strings.ToLower(p.name)+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(dir, "bin", "jobhooks-functions"))
	cmd.Env = append(os.Environ(), "PORT="+p.port, "FUNCTION_TARGET="+p.name)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("restart %s: %w", p.name, err)
	}
	go func() { <-ctx.Done(); logf.Close() }()
	p.cmd, p.pid = cmd, cmd.Process.Pid
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := client.Get("http://127.0.0.1:" + p.port + "/"); err == nil {
			resp.Body.Close()
			return nil
		}
	}
	return fmt.Errorf("%s did not answer on port %s after the restart", p.name, p.port)
}

// stop ends a process the storm started: SIGTERM to its group, SIGKILL after 5 s. A process the
// stack started is the stack's to stop.
func (p *functionProcess) stop() {
	if p.cmd == nil {
		return
	}
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	_ = syscall.Kill(-p.pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		<-done
	}
}
