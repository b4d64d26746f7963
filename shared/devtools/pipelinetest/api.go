package pipelinetest

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/jobhooks/jobhooks/functions/api"
	"github.com/jobhooks/jobhooks/shared/apikeys"
	"github.com/jobhooks/jobhooks/shared/instance"
)

// API serves the management API — the API function's real handler on the stack's instance —
// and returns its base URL. Each call starts a new server with its own key cache, like a new
// function instance.
func (s *Stack) API(t testing.TB) string {
	t.Helper()
	// The portal-link key, created as scripts/secrets-init creates it in production.
	links, err := s.Instance.Portal(context.Background())
	if err == nil {
		err = links.Keys().Ensure(context.Background())
	}
	if err != nil {
		t.Fatalf("portal key: %v", err)
	}
	srv := httptest.NewServer(api.Handler(func() (*instance.Instance, error) { return s.Instance, nil }))
	t.Cleanup(srv.Close)
	return srv.URL
}

// APIKey creates an API key of project, as scripts/apikey does, and watches it in the logs.
func (s *Stack) APIKey(t testing.TB, project string) string {
	t.Helper()
	key, err := apikeys.Create(context.Background(), s.Store, project, s.Clock.Now())
	if err != nil {
		t.Fatalf("create API key: %v", err)
	}
	Logs.Watch(key)
	return key
}
