package export

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
)

// TelemetryAPI is Google Cloud's Telemetry (OTLP) API, which stores the spans it receives in
// Cloud Trace (shared/tracing/README.md, Export); spans are posted to its TracesPath.
const (
	TelemetryAPI = "https://telemetry.googleapis.com"
	TracesPath   = "/v1/traces"
)

// cloudPlatformScope is the OAuth scope the Telemetry API accepts.
const cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

// telemetryTimeout bounds one POST to the Telemetry API, as otlptracehttp's own client would
// (a client of ours replaces its timeout).
const telemetryTimeout = 10 * time.Second

// newTelemetryExporter sends spans to the Telemetry API as OTLP protobuf over HTTP, with the
// instance's Application Default Credentials, billed to o.GoogleProject.
func newTelemetryExporter(ctx context.Context, o Options) (sdktrace.SpanExporter, error) {
	if o.GoogleProject == "" {
		return nil, fmt.Errorf("export: the %s exporter needs a Google project", ExportCloudTrace)
	}
	client, err := telemetryClient(ctx, o.tokens)
	if err != nil {
		return nil, err
	}
	e, err := otlptracehttp.New(ctx,
		otlptracehttp.WithEndpointURL(cmp.Or(o.telemetryAPI, TelemetryAPI)+TracesPath),
		otlptracehttp.WithEncoding(otlptracehttp.EncodingProtobuf),
		otlptracehttp.WithHTTPClient(client),
		// The project the API bills and checks the caller's permission on.
		otlptracehttp.WithHeaders(map[string]string{"x-goog-user-project": o.GoogleProject}),
	)
	if err != nil {
		return nil, fmt.Errorf("export: otlp exporter: %w", err)
	}
	return e, nil
}

// telemetryClient is an HTTP client that authenticates every request with tokens, or, when
// tokens is nil (always, outside this package's tests), with Application Default Credentials:
// the function's service account on Cloud Run.
func telemetryClient(ctx context.Context, tokens oauth2.TokenSource) (*http.Client, error) {
	// The client outlives the call that created it: it must not use the caller's context.
	ctx = context.WithoutCancel(ctx)
	if tokens == nil {
		creds, err := google.FindDefaultCredentials(ctx, cloudPlatformScope)
		if err != nil {
			return nil, fmt.Errorf("export: no Application Default Credentials for the Telemetry API: %w", err)
		}
		tokens = creds.TokenSource
	}
	c := oauth2.NewClient(ctx, tokens)
	c.Timeout = telemetryTimeout
	return c, nil
}
