package export

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"golang.org/x/oauth2"
	"google.golang.org/protobuf/proto"
)

// telemetryRequest is what the stand-in Telemetry API received in one POST.
type telemetryRequest struct {
	path, authorization, userProject, contentType string
	body                                          *coltracepb.ExportTraceServiceRequest
}

// telemetryStandIn answers every OTLP export like the Telemetry API and keeps what it received.
func telemetryStandIn(t *testing.T) (*httptest.Server, func() []telemetryRequest) {
	var (
		mu   sync.Mutex
		reqs []telemetryRequest
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		body := &coltracepb.ExportTraceServiceRequest{}
		if err == nil {
			err = proto.Unmarshal(raw, body)
		}
		if err != nil {
			t.Errorf("the exporter's body is not an OTLP protobuf ExportTraceServiceRequest: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		reqs = append(reqs, telemetryRequest{r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("x-goog-user-project"), r.Header.Get("Content-Type"), body})
		mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []telemetryRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]telemetryRequest(nil), reqs...)
	}
}

// attrs flattens OTLP key-values into strings for comparison.
func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.GetKey()] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.GetKey()] = attribute.Int64Value(v.IntValue).Emit()
		}
	}
	return m
}

func TestNewProvider_CloudTraceSendsOTLPToTheTelemetryAPI(t *testing.T) {
	srv, received := telemetryStandIn(t)
	ctx := context.Background()
	tp, err := NewProvider(ctx, Options{
		Exporter: ExportCloudTrace, SampleRatio: 1, GoogleProject: "acme-prod", Service: "dispatch",
		telemetryAPI: srv.URL, tokens: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "tok-123"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tp.Shutdown(ctx) }()

	tracer := tp.Tracer("jobhooks")
	ctx1, parent := tracer.Start(ctx, "Dispatch")
	parent.SetAttributes(attribute.String("jobhooks.event_id", "batch-42"))
	_, child := tracer.Start(ctx1, "POST hooks.example:443")
	child.SetAttributes(attribute.Int("http.response.status_code", 204))
	child.End()
	parent.End()
	if err := tp.ForceFlush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}

	reqs := received()
	if len(reqs) != 1 {
		t.Fatalf("the Telemetry API received %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.path != "/v1/traces" || r.authorization != "Bearer tok-123" || r.userProject != "acme-prod" || r.contentType != "application/x-protobuf" {
		t.Errorf("path %q, Authorization %q, x-goog-user-project %q, Content-Type %q; want /v1/traces, Bearer tok-123, acme-prod, application/x-protobuf",
			r.path, r.authorization, r.userProject, r.contentType)
	}
	if n := len(r.body.GetResourceSpans()); n != 1 {
		t.Fatalf("%d resource spans, want 1", n)
	}
	rs := r.body.GetResourceSpans()[0]
	if res := attrs(rs.GetResource().GetAttributes()); res["gcp.project_id"] != "acme-prod" || res["service.name"] != "dispatch" {
		t.Errorf("resource %v: want gcp.project_id acme-prod and service.name dispatch", res)
	}
	spans := map[string]map[string]string{}
	for _, ss := range rs.GetScopeSpans() {
		for _, s := range ss.GetSpans() {
			spans[s.GetName()] = attrs(s.GetAttributes())
		}
	}
	if spans["Dispatch"]["jobhooks.event_id"] != "batch-42" || spans["POST hooks.example:443"]["http.response.status_code"] != "204" || len(spans) != 2 {
		t.Errorf("spans %v: want Dispatch with jobhooks.event_id batch-42 and its POST with status 204", spans)
	}
}

func TestNewProvider_CloudTraceWithoutCredentialsFailsClearly(t *testing.T) {
	// A credentials file that does not exist: the lookup fails before it would ask the metadata
	// server.
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing.json"))
	tp, err := NewProvider(context.Background(), Options{Exporter: ExportCloudTrace, SampleRatio: 1, GoogleProject: "acme-prod", Service: "dispatch"})
	if err == nil || tp != nil {
		t.Fatalf("provider %v, error %v; want no provider and an error", tp, err)
	}
	t.Logf("NewProvider: %v", err)
	if !strings.Contains(err.Error(), "Application Default Credentials") || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("error %q does not say that the credentials were not found, and where", err)
	}
}
