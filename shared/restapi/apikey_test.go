package restapi_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/apikeys"
	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
)

// apikeyScript runs scripts/apikey against the stack's database, as an operator would with the
// local stack's environment loaded.
func apikeyScript(t *testing.T, s *pipelinetest.Stack, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", append([]string{filepath.Join(root, "scripts", "apikey")}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOOGLE_CLOUD_PROJECT="+s.Config.GoogleProject) // FIRESTORE_EMULATOR_HOST is inherited
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		return out.String(), errOut.String(), exit.ExitCode()
	}
	if err != nil {
		t.Fatalf("scripts/apikey: %v", err)
	}
	return out.String(), errOut.String(), 0
}

func TestAPIKeyScript_CreatePrintsAWorkingKeyAloneAndRevokeStopsIt(t *testing.T) {
	t.Parallel()
	s := pipelinetest.Start(t, pipelinetest.Options{})
	stdout, stderr, code := apikeyScript(t, s, "", "create", "--project", "scripted")
	key := strings.TrimSuffix(stdout, "\n")
	pipelinetest.Logs.Watch(key)
	if code != 0 || !regexp.MustCompile(`^jh_[A-Za-z0-9_-]{43}$`).MatchString(key) {
		t.Fatalf("create: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	if strings.Contains(stderr, key) {
		t.Errorf("the key is repeated on stderr")
	}
	// Only the hash is stored.
	stored, err := s.Store.GetAPIKey(context.Background(), apikeys.Hash(key))
	if err != nil || stored.Project != "scripted" {
		t.Fatalf("stored key %+v, %v", stored, err)
	}
	snap, _ := s.Store.Client().Doc("apikeys/" + apikeys.Hash(key)).Get(context.Background())
	if strings.Contains(fmt.Sprint(snap.Data()), key) || strings.Contains(fmt.Sprint(snap.Data()), key[3:]) {
		t.Errorf("the stored document holds the key: %v", snap.Data())
	}

	c := client{t: t, base: s.API(t), key: key}
	c.do("GET", "/v1/projects/scripted/webhooks", "").ok(t, nil)
	c.do("GET", "/v1beta/webhooks", "").ok(t, nil)
	c.do("GET", "/v1/projects/acme/webhooks", "").fails(t, 404, "NOT_FOUND")

	// Revoking through stdin keeps the key out of the process list.
	if _, stderr, code := apikeyScript(t, s, key+"\n", "revoke", "-"); code != 0 {
		t.Fatalf("revoke: exit %d: %s", code, stderr)
	}
	// A new instance refuses it at once; one that cached it stops within the cache TTL.
	fresh := client{t: t, base: s.API(t), key: key}
	fresh.do("GET", "/v1/projects/scripted/webhooks", "").fails(t, 401, "UNAUTHENTICATED")
	s.Clock.Advance(apikeys.MaxTTL + time.Second)
	c.do("GET", "/v1/projects/scripted/webhooks", "").fails(t, 401, "UNAUTHENTICATED")

	if _, stderr, code := apikeyScript(t, s, "", "revoke", key); code != 1 || !strings.Contains(stderr, "no such key") {
		t.Errorf("revoking twice: exit %d, %s", code, stderr)
	}
	if _, _, code := apikeyScript(t, s, "", "create"); code != 2 {
		t.Errorf("create without --project: exit %d, want 2 (usage)", code)
	}
	if _, stderr, code := apikeyScript(t, s, "", "create", "--project", "Not A Project"); code != 1 || !strings.Contains(stderr, "project") {
		t.Errorf("create for an invalid project: exit %d, %s", code, stderr)
	}
}
