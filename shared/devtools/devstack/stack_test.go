package devstack

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// devRun is one scripts/dev started by a test, on a state directory of the test's own.
type devRun struct {
	t       *testing.T
	cmd     *exec.Cmd
	out     *lockedBuffer
	env     map[string]string
	done    chan struct{}
	stopped bool
}

// startDev starts scripts/dev --dir dir with args and waits until DIR/env is written; the
// test's end stops it if the test did not.
func startDev(t *testing.T, dir string, args ...string) *devRun {
	t.Helper()
	root, _ := filepath.Abs("../../..")
	cmd := exec.Command(filepath.Join(root, "scripts/dev"), append([]string{"--dir", dir}, args...)...)
	cmd.Dir = root
	pipe, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &devRun{t: t, cmd: cmd, out: &lockedBuffer{}, done: make(chan struct{})}
	go func() { io.Copy(d.out, pipe); cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		if !d.stopped {
			d.stop()
		}
	})
	envPath := filepath.Join(dir, "env")
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if _, err := os.Stat(envPath); err == nil {
			break
		}
		select {
		case <-d.done:
			t.Fatalf("scripts/dev %s exited before it was ready; output:\n%s", strings.Join(args, " "), d.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 3 minutes; output:\n%s", envPath, d.out.String())
		}
	}
	d.env = readEnv(t, envPath)
	return d
}

// stop sends SIGTERM and waits for scripts/dev to exit; it returns how long that took.
func (d *devRun) stop() time.Duration {
	d.t.Helper()
	d.stopped = true
	start := time.Now()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(60 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
		d.t.Errorf("scripts/dev did not stop within 60 s of SIGTERM")
	}
	return time.Since(start)
}

// summary is the live summary line scripts/dev printed last ("delivered 1 · retries 0 · ...").
func (d *devRun) summary() string {
	out := d.out.String()
	i := strings.LastIndex(out, "\rdelivered ")
	if i < 0 {
		return ""
	}
	line, _, _ := strings.Cut(out[i+1:], "\n")
	line, _, _ = strings.Cut(line, "\r")
	return strings.TrimSpace(line)
}

// waitSummary waits until the summary starts with want.
func (d *devRun) waitSummary(want string, timeout time.Duration) {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.HasPrefix(d.summary(), want) {
		if time.Now().After(deadline) {
			d.t.Fatalf("the summary says %q after %s, want %q", d.summary(), timeout, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// api calls the stack's API with its key; it returns the status and the body.
func (d *devRun) api(method, path, body string) (int, string) {
	d.t.Helper()
	req, err := http.NewRequest(method, d.env[EnvAPIURL]+path, strings.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	req.Header.Set("x-goog-api-key", d.env[EnvAPIKey])
	req.Header.Set("content-type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
