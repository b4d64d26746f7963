package devstack

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/devtools/emulator"
	"github.com/jobhooks/jobhooks/shared/verify"
)

// TestScriptsDev_RunsTheWholeStackAndLeavesNothingBehind is what a newcomer does: start
// scripts/dev, wait for .dev/env, create a webhook with the key from it, publish an event with
// scripts/publish, see it arrive signed, stop with SIGTERM — and no process it started survives.
func TestScriptsDev_RunsTheWholeStackAndLeavesNothingBehind(t *testing.T) {
	emulator.NeedGcloud(t)
	root, _ := filepath.Abs("../../..")
	dir := t.TempDir()
	dev := exec.Command(filepath.Join(root, "scripts/dev"), "--dir", dir)
	dev.Dir = root
	out, _ := dev.StdoutPipe()
	dev.Stderr = dev.Stdout
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	var log lockedBuffer
	go func() { io.Copy(&log, bufio.NewReader(out)) }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			dev.Process.Kill()
			dev.Wait()
		}
	})

	envPath := filepath.Join(dir, "env")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if _, err := os.Stat(envPath); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 3 minutes; output:\n%s", envPath, log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	env := readEnv(t, envPath)
	for _, k := range []string{EnvAPIURL, EnvAPIKey, EnvJWKSURL, emulator.PubSub.HostEnv(),
		emulator.Firestore.HostEnv(), config.EnvGoogleProject, config.EnvJobEventsTopic} {
		if env[k] == "" {
			t.Errorf("%s lacks %s", envPath, k)
		}
	}

	// A receiver that verifies with the receiver library, and a webhook pointing at it.
	got := make(chan string, 4)
	var v *verify.Verifier
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := v.Request(r)
		if err != nil {
			got <- "rejected: " + err.Error()
			w.WriteHeader(verify.StatusCode(err))
			return
		}
		got <- string(body)
		w.WriteHeader(http.StatusNoContent)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, env[EnvAPIURL]+"/v1/projects/demo/webhooks?webhook_id=test-hook",
		strings.NewReader(`{"url":"http://`+ln.Addr().String()+`/hook","subscribed_events":["batch.succeeded"]}`))
	req.Header.Set("x-goog-api-key", env[EnvAPIKey])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		Secret string `json:"new_signing_secret"`
	}
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || created.Secret == "" {
		t.Fatalf("create webhook: %d", resp.StatusCode)
	}
	if v, err = verify.New(verify.Options{Secrets: []string{created.Secret}}); err != nil {
		t.Fatal(err)
	}

	// The console's portal link for demo, printed when ready, opens the API with a bearer token.
	m := regexp.MustCompile(`(http://\S+)/console/#token=(\S+)`).FindStringSubmatch(log.String())
	if m == nil || m[1] != env["JOBHOOKS_API_URL"] {
		t.Fatalf("scripts/dev printed no portal link for %s; output:\n%s", env["JOBHOOKS_API_URL"], log.String())
	}
	linkReq, _ := http.NewRequest(http.MethodGet, env["JOBHOOKS_API_URL"]+"/v1/projects/demo/webhooks", nil)
	linkReq.Header.Set("Authorization", "Bearer "+m[2])
	if resp, err := http.DefaultClient.Do(linkReq); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("the printed portal link does not open project demo: %v %v", resp, err)
	}

	pub := exec.Command(filepath.Join(root, "scripts/publish"), "--project", "demo", "--type", "batch.succeeded", "--id", "dev-test-1")
	pub.Env = append(os.Environ(), "JOBHOOKS_DEV_DIR="+dir, "PUBSUB_EMULATOR_HOST=")
	if b, err := pub.CombinedOutput(); err != nil {
		t.Fatalf("scripts/publish: %v\n%s", err, b)
	}
	select {
	case body := <-got:
		if !strings.Contains(body, `"type":"batch.succeeded"`) || !strings.Contains(body, `"id":"dev-test-1"`) {
			t.Errorf("received %s", body)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no delivery within 30 s; output:\n%s", log.String())
	}

	pids := readPIDs(t, filepath.Join(dir, "pids"))
	if len(pids) != len(Functions)+2 {
		t.Errorf("%d process groups recorded, want %d", len(pids), len(Functions)+2)
	}
	dev.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- dev.Wait() }()
	select {
	case <-done:
		stopped = true
	case <-time.After(60 * time.Second):
		t.Fatal("scripts/dev did not stop within 60 s of SIGTERM")
	}
	for _, pgid := range pids {
		if emulator.GroupAlive(pgid) {
			t.Errorf("process group %d survived scripts/dev", pgid)
		}
	}
	if _, err := os.Stat(envPath); err == nil {
		t.Error(".dev/env still exists after the stack stopped")
	}

	// No log line of any process the stack ran holds the webhook's secret or the API key, in
	// full or shaped like one (shared/delivery/README.md, Security); the truncated secret (whsec_
	// and four characters) is fine.
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*"))
	if len(logs) == 0 {
		t.Fatal("the stack wrote no logs")
	}
	watched := []string{created.Secret, strings.TrimPrefix(created.Secret, "whsec_"), env[EnvAPIKey]}
	shaped := regexp.MustCompile(`jh_[A-Za-z0-9_-]{43}|whsec_[A-Za-z0-9+/]{8,}`)
	jwtShaped := regexp.MustCompile(`eyJ[A-Za-z0-9_-]{10,}\.eyJ`)
	for _, path := range append(logs, "") {
		text := log.String() // "" stands for the output of scripts/dev itself
		if path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			text = string(b)
		}
		for i, line := range strings.Split(text, "\n") {
			leak := shaped.MatchString(line)
			for _, w := range watched {
				leak = leak || w != "" && strings.Contains(line, w)
			}
			// The portal link is printed for the developer; no function logs its token (or any JWT).
			leak = leak || path != "" && (strings.Contains(line, m[2]) || jwtShaped.MatchString(line))
			if leak {
				t.Errorf("%s:%d holds a secret or an API key: %.120s", filepath.Base(path), i+1, line)
			}
		}
	}
}

// lockedBuffer collects the stack's output from one goroutine while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func readEnv(t *testing.T, path string) map[string]string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if ok && !strings.HasPrefix(line, "#") {
			env[k] = strings.Trim(v, "'")
		}
	}
	return env
}

func readPIDs(t *testing.T, path string) []int {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if n, err := strconv.Atoi(f[0]); err == nil {
			out = append(out, n)
		}
	}
	return out
}
