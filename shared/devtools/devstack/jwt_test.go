package devstack

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/devtools/emulator"
)

// TestScriptsDev_JWTModeWorksOutOfTheBox: with JOBHOOKS_SIGNING_MODE=jwt (and a public base URL)
// set before scripts/dev, the stack makes the RS256 key that mode signs with, a per-request
// delivery arrives with a JWT that go-jose verifies from the JWKS alone, and starting the
// stack logs no rejected push request (its readiness probe sends none).
func TestScriptsDev_JWTModeWorksOutOfTheBox(t *testing.T) {
	emulator.NeedGcloud(t)
	const issuer = "https://hooks.example.test"
	root, _ := filepath.Abs("../../..")
	dir := t.TempDir()
	dev := exec.Command(filepath.Join(root, "scripts/dev"), "--dir", dir)
	dev.Dir = root
	dev.Env = append(os.Environ(), config.EnvSigningMode+"=jwt", config.EnvPublicBaseURL+"="+issuer, config.EnvJWTAlgorithm+"=")
	out, _ := dev.StdoutPipe()
	dev.Stderr = dev.Stdout
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	var log lockedBuffer
	go func() { io.Copy(&log, out) }()
	t.Cleanup(func() {
		dev.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { dev.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			dev.Process.Kill()
			<-done
		}
	})

	envPath := filepath.Join(dir, "env")
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if _, err := os.Stat(envPath); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 3 minutes; output:\n%s", envPath, log.String())
		}
	}
	env := readEnv(t, envPath)

	type delivery struct {
		header http.Header
		body   []byte
	}
	got := make(chan delivery, 4)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- delivery{r.Header.Clone(), body}
		w.WriteHeader(http.StatusNoContent)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	uri := "http://" + ln.Addr().String() + "/hook"

	pub := exec.Command(filepath.Join(root, "scripts/publish"), "--uri", uri, "--user-metadata", `{"k":"v"}`)
	pub.Env = append(os.Environ(), "JOBHOOKS_DEV_DIR="+dir, "PUBSUB_EMULATOR_HOST=")
	if b, err := pub.CombinedOutput(); err != nil {
		t.Fatalf("scripts/publish: %v\n%s", err, b)
	}
	var d delivery
	select {
	case d = <-got:
	case <-time.After(60 * time.Second):
		t.Fatalf("no delivery within 60 s; output:\n%s", log.String())
	}

	// Only the JWKS, fetched as a receiver would, and a library that is not ours.
	resp, err := http.Get(env[EnvJWKSURL])
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	err = json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	if err != nil || len(set.Keys) == 0 {
		t.Fatalf("JWKS: %+v, %v", set, err)
	}
	tok, err := jwt.ParseSigned(d.header.Get("webhook-signature"), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("webhook-signature %q is not an RS256 JWT: %v", d.header.Get("webhook-signature"), err)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 || !keys[0].IsPublic() {
		t.Fatalf("kid %q: %d public keys in the JWKS, want 1", tok.Headers[0].KeyID, len(keys))
	}
	var claims jwt.Claims
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("go-jose does not verify the JWT with the JWKS key: %v", err)
	}
	if err := claims.Validate(jwt.Expected{Issuer: issuer, AnyAudience: jwt.Audience{uri}, Time: time.Now()}); err != nil {
		t.Errorf("claims: %v", err)
	}

	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*"))
	for _, path := range logs {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), "rejected push request") {
			t.Errorf("%s: the stack's start logged a rejected push request", filepath.Base(path))
		}
	}
}
