package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/instance"
	"github.com/jobhooks/jobhooks/shared/logging"
)

// The entry point through HTTP, as a client calls it. No emulator is needed: the clients point
// at an address where nothing listens, and building them connects to nothing. What these tests
// ask is answered before any client is used.

type answer struct {
	code    int
	header  http.Header
	status  string // the google.rpc status name of an error body
	rawBody string
}

func call(t *testing.T, h http.Handler, method, path string) answer {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	a := answer{code: rec.Code, header: rec.Header(), rawBody: string(body)}
	if strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
		var e struct {
			Error struct{ Status string } `json:"error"`
		}
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", method, path, body, err)
		}
		a.status = e.Error.Status
	}
	return a
}

// newInstance is an instance configured by edit whose clients can be built without Google Cloud.
func newInstance(t *testing.T, edit func(*config.Config)) *instance.Instance {
	t.Helper()
	const nobody = "127.0.0.1:1"
	t.Setenv("FIRESTORE_EMULATOR_HOST", nobody)
	t.Setenv("PUBSUB_EMULATOR_HOST", nobody)
	t.Setenv(instance.SecretManagerHostEnv, nobody)
	cfg := config.Defaults()
	cfg.GoogleProject = "demo"
	if edit != nil {
		edit(&cfg)
	}
	return instance.New(cfg, logging.New(io.Discard, nil))
}

func TestAPI_AMisconfiguredFunctionAnswers500InTheErrorShapeOnEveryPath(t *testing.T) {
	h := Handler(func() (*instance.Instance, error) { return nil, errors.New("config: GOOGLE_CLOUD_PROJECT is not set") })
	// INTERNAL, not UNAVAILABLE: a configuration is fixed by a deployment, not by trying again.
	for _, path := range []string{"/v1beta/webhooks", "/v1/projects/demo/webhooks", "/not-a-method", "/console/"} {
		a := call(t, h, http.MethodGet, path)
		if a.code != http.StatusInternalServerError || a.status != "INTERNAL" {
			t.Errorf("GET %s: status %d %q, body %s; want 500 INTERNAL", path, a.code, a.status, a.rawBody)
		}
		if cc := a.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("GET %s: Cache-Control %q, want no-store", path, cc)
		}
	}
}

func TestAPI_UntilItsClientsAreBuiltMethodsAnswer503AndTheBuildIsRetriedOnTheNextRequest(t *testing.T) {
	in := newInstance(t, func(c *config.Config) { c.KEKSecret = "not/a secret id" }) // the keyring cannot be built
	h := Handler(func() (*instance.Instance, error) { return in, nil })
	for _, path := range []string{"/v1beta/webhooks", "/v1/projects/demo/webhooks"} {
		if a := call(t, h, http.MethodGet, path); a.code != http.StatusServiceUnavailable || a.status != "UNAVAILABLE" {
			t.Errorf("GET %s while the build fails: status %d %q, body %s; want 503 UNAVAILABLE", path, a.code, a.status, a.rawBody)
		}
	}
	if a := call(t, h, http.MethodGet, "/not-a-method"); a.code != http.StatusNotFound || a.status != "NOT_FOUND" {
		t.Errorf("an unknown path while the build fails: status %d %q; want 404 NOT_FOUND, as when built", a.code, a.status)
	}
	if a := call(t, h, http.MethodGet, "/console/"); a.code != http.StatusOK {
		t.Errorf("the console while the build fails: status %d; want 200: it needs no client", a.code)
	}

	// The operator fixes the secret's name; the failed build was not remembered. A built API
	// asks for a key before anything else: 401 where the unbuilt one answered 503.
	in.Config.KEKSecret = config.Defaults().KEKSecret
	if a := call(t, h, http.MethodGet, "/v1beta/webhooks"); a.code != http.StatusUnauthorized || a.status != "UNAUTHENTICATED" {
		t.Errorf("after the fix: status %d %q, body %s; want 401 UNAUTHENTICATED from the built API", a.code, a.status, a.rawBody)
	}
}
