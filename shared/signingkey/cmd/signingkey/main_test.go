package main

import (
	"bytes"
	"context"
	"log"
	"os"
	"strings"
	"testing"

	"github.com/jobhooks/jobhooks/shared/devtools/localsecretmanager"
	"github.com/jobhooks/jobhooks/shared/instance"
)

func TestMain(m *testing.M) {
	srv, err := localsecretmanager.Start(localsecretmanager.Options{})
	if err != nil {
		log.Fatal(err)
	}
	os.Setenv(instance.SecretManagerHostEnv, srv.Addr())
	code := m.Run()
	srv.Close()
	os.Exit(code)
}

// printed is everything the command wrote, to check no private key was among it.
var printed bytes.Buffer

func signingKey(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"--project", "jobhooks-test", "--name-prefix", "t-"}, args...), &out, &errOut)
	printed.Write(out.Bytes())
	printed.Write(errOut.Bytes())
	return out.String(), err
}

func TestCommand_InitRotateRetireList(t *testing.T) {
	out, err := signingKey(t, "init")
	if err != nil || !strings.Contains(out, "t-jobhooks-signing-key has an enabled EdDSA key: version 1") {
		t.Fatalf("init: %q, %v", out, err)
	}
	if out, err = signingKey(t, "init"); err != nil || !strings.Contains(out, "version 1") {
		t.Fatalf("second init added a key: %q, %v", out, err)
	}
	if out, err = signingKey(t, "rotate"); err != nil || !strings.HasPrefix(out, "added version 2: EdDSA key") {
		t.Fatalf("rotate: %q, %v", out, err)
	}
	if _, err = signingKey(t, "retire"); err == nil || !strings.Contains(err.Error(), "too young") {
		t.Fatalf("retire right after rotate: %v, want a refusal", err)
	}
	if out, err = signingKey(t, "retire", "--force"); err != nil || !strings.HasPrefix(out, "disabled version 1") {
		t.Fatalf("retire --force: %q, %v", out, err)
	}
	out, err = signingKey(t, "list")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); err != nil || len(lines) != 2 || !strings.HasPrefix(lines[1], "2\tEdDSA\t") {
		t.Fatalf("list: %q, %v", out, err)
	}
	if out, err = signingKey(t, "rotate", "--alg", "RS256"); err != nil || !strings.Contains(out, "RS256 key") {
		t.Fatalf("rotate --alg RS256: %q, %v", out, err)
	}
	if _, err = signingKey(t, "--private", "list"); err == nil {
		t.Errorf("an unknown flag was accepted")
	}
	if strings.Contains(printed.String(), "PRIVATE KEY") {
		t.Errorf("the command printed a private key")
	}
}
