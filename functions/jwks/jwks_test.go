package jwks

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/devtools/localsecretmanager"
	"github.com/jobhooks/jobhooks/shared/instance"
	"github.com/jobhooks/jobhooks/shared/jwks"
	"github.com/jobhooks/jobhooks/shared/logging"
	"github.com/jobhooks/jobhooks/shared/signingkey"
)

// The entry point through HTTP, as a receiver calls it. Secret Manager is the in-process
// stand-in; no emulator is needed.

type answer struct {
	code    int
	header  http.Header
	status  string // the google.rpc status name of an error body
	keyIDs  []string
	rawBody string
}

func get(t *testing.T, h http.Handler) answer {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, jwks.Path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	a := answer{code: rec.Code, header: rec.Header(), rawBody: string(body)}
	var doc struct {
		Keys  []struct{ Kid string }  `json:"keys"`
		Error struct{ Status string } `json:"error"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("body %q is not JSON: %v", body, err)
	}
	a.status = doc.Error.Status
	for _, k := range doc.Keys {
		a.keyIDs = append(a.keyIDs, k.Kid)
	}
	return a
}

// newInstance is an instance on a fresh Secret Manager stand-in, configured by edit.
func newInstance(t *testing.T, edit func(*config.Config)) *instance.Instance {
	t.Helper()
	sm, err := localsecretmanager.Start(localsecretmanager.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sm.Close)
	t.Setenv(instance.SecretManagerHostEnv, sm.Addr())
	cfg := config.Defaults()
	cfg.GoogleProject = "demo"
	if edit != nil {
		edit(&cfg)
	}
	return instance.New(cfg, logging.New(io.Discard, nil))
}

func TestJWKS_AMisconfiguredFunctionAnswers503WithTheErrorShape(t *testing.T) {
	h := Handler(func() (*instance.Instance, error) { return nil, errors.New("config: GOOGLE_CLOUD_PROJECT is not set") })
	a := get(t, h)
	if a.code != http.StatusServiceUnavailable || a.status != "UNAVAILABLE" {
		t.Errorf("status %d %q, body %s; want 503 UNAVAILABLE", a.code, a.status, a.rawBody)
	}
	if cc := a.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store: a receiver's cache must not keep an error", cc)
	}
}

func TestJWKS_AKeySourceThatCannotBeBuiltAnswers503(t *testing.T) {
	in := newInstance(t, func(c *config.Config) { c.SigningJWKSSecret = "not/a secret id" })
	h := Handler(func() (*instance.Instance, error) { return in, nil })
	for range 2 {
		if a := get(t, h); a.code != http.StatusServiceUnavailable || a.status != "UNAVAILABLE" || len(a.keyIDs) != 0 {
			t.Errorf("status %d %q, keys %v; want 503 UNAVAILABLE and no keys", a.code, a.status, a.keyIDs)
		}
	}
}

func TestJWKS_AnUnpublishedKeySetAnswers503UntilItIsPublished(t *testing.T) {
	in := newInstance(t, nil)
	h := Handler(func() (*instance.Instance, error) { return in, nil })
	if a := get(t, h); a.code != http.StatusServiceUnavailable || a.status != "UNAVAILABLE" {
		t.Fatalf("before the key set is published: status %d %q, want 503 UNAVAILABLE", a.code, a.status)
	}

	// The operator publishes (scripts/signing-key init); the failure above was not remembered.
	src, err := in.SigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	key, err := src.Ensure(t.Context(), signingkey.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	a := get(t, h)
	if a.code != http.StatusOK || len(a.keyIDs) != 1 || a.keyIDs[0] != key.ID {
		t.Errorf("after publishing: status %d, keys %v; want 200 with %s", a.code, a.keyIDs, key.ID)
	}
	if cc := a.header.Get("Cache-Control"); cc != jwks.CacheControl {
		t.Errorf("Cache-Control %q, want %q", cc, jwks.CacheControl)
	}
}
