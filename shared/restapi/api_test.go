package restapi_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/apikeys"
	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
	"github.com/jobhooks/jobhooks/shared/logging"
	"github.com/jobhooks/jobhooks/shared/management"
	"github.com/jobhooks/jobhooks/shared/restapi"
	"github.com/jobhooks/jobhooks/shared/store"
)

func TestAPI_UnknownPathsAndMethodsAreJSON404s(t *testing.T) {
	t.Parallel()
	_, c := env(t, pipelinetest.Options{})
	anon := c.as("")
	for _, m := range [][2]string{
		{"GET", "/"}, {"GET", "/v2/webhooks"}, {"PUT", "/v1/projects/acme/webhooks"}, {"GET", "/v1/projects/acme/webhooks/w:ping"},
		{"POST", "/v1/projects/acme/webhooks/w:explode"}, {"GET", "/v1/projects/acme/webhooks/w/secrets"},
		{"DELETE", "/v1beta/webhooks"}, {"POST", "/v1beta/webhooks/w:replay"}, {"GET", "/v1beta/webhooks/w/deliveries"},
	} {
		anon.do(m[0], m[1], "").fails(t, 404, "NOT_FOUND", "not a method")
	}
}

func TestAPI_RequestsWithoutAValidKeyAre401(t *testing.T) {
	t.Parallel()
	s, c := env(t, pipelinetest.Options{})
	for _, path := range []string{"/v1/projects/acme/webhooks", "/v1beta/webhooks", "/v1/webhooks"} {
		c.as("").do("GET", path, "").fails(t, 401, "UNAUTHENTICATED", "API key")
		c.as("jh_notakey").do("GET", path, "").fails(t, 401, "UNAUTHENTICATED", "not valid")
		c.as("jh_"+strings.Repeat("A", 43)).do("GET", path, "").fails(t, 401, "UNAUTHENTICATED", "not valid")
		c.do("GET", path, "").ok(t, nil)
	}
	// ?key= is refused (TestAPI_KeysInTheQueryStringAreRefused).
	c.as("").do("GET", "/v1/projects/acme/webhooks?key="+c.key, "").fails(t, 401, "UNAUTHENTICATED", "query")
	// Nothing about a key reaches the logs.
	for _, l := range pipelinetest.Logs.Lines() {
		if strings.Contains(l, c.key) {
			t.Fatalf("a log line holds the API key: %s", l)
		}
	}
	_ = s
}

func TestAPI_BackendFailuresAre500And503WithoutTheirDetail(t *testing.T) {
	t.Parallel()
	s := pipelinetest.Start(t, pipelinetest.Options{})
	key := s.APIKey(t, "acme")
	log := logging.New(pipelinetest.Logs.Writer(), slog.LevelDebug)

	// A store whose client is gone: every read fails inside the service.
	broken, err := store.Open(context.Background(), s.Config.GoogleProject, s.Config.FirestoreDatabase, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	broken.Close()
	svc := management.New(s.Config, management.Deps{Store: broken, Keyring: s.Keyring, Publisher: s.Publisher, URLs: s.Instance.Sender(), Log: log})
	srv := httptest.NewServer(restapi.New(restapi.Options{Service: svc, Auth: apikeys.NewAuthenticator(s.Store, 0, nil), Log: log}))
	t.Cleanup(srv.Close)
	c := client{t: t, base: srv.URL, key: key}
	msg := c.do("GET", "/v1/projects/acme/webhooks/w", "").fails(t, 500, "INTERNAL")
	if msg != "internal error" {
		t.Errorf("a 500 tells the caller %q", msg)
	}

	// Before the function has its clients: the router answers, the methods are unavailable.
	starting := httptest.NewServer(restapi.New(restapi.Options{Log: log}))
	t.Cleanup(starting.Close)
	c.base = starting.URL
	c.do("GET", "/v1beta/webhooks", "").fails(t, 503, "UNAVAILABLE")
	c.do("GET", "/nothing/here", "").fails(t, 404, "NOT_FOUND")
}
