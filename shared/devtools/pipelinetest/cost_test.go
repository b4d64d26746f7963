package pipelinetest

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/tracing/export"
)

// The all-in cost of a first-try delivery (SPEC §10): every line of terraform/README.md's
// all-in table is counted here or computed from what is counted. Operations, Pub/Sub messages
// and function requests come from the ops test's counters; storage from the documents it wrote,
// read back and sized with Terraform's indexes (storage_test.go); log bytes, spans and POST
// bytes from the same event pushed through the real entry point on the emulators, with the
// production tracer's sampler. Cloud Run's time per request and the Logging envelope are the
// only inputs that are not counted locally: they are named below with their source.

// Prices beyond the ops table's (read on 2026-12-07, Google's pricing pages; free tiers ignored):
// Firestore storage per GiB-month, Cloud Run (request-based billing, tier 1) per vCPU-second and
// GiB-second, Cloud Logging ingestion per GiB, Cloud Trace per million spans ingested, internet
// egress per GiB (Premium tier, North America).
var allInPrices = struct {
	storageRegional, storageMultiRegion, vcpuSecond, gibSecond, loggingGiB, traceMillion, egressGiB float64
}{0.15, 0.18, 0.000024, 0.0000025, 0.50, 0.20, 0.12}

const (
	gib = 1 << 30
	// hoursPerMonth is the month Google's storage prices are per.
	hoursPerMonth = 730
	// requestSeconds is how long one first-try request of Dispatch holds an instance: a 200 ms
	// endpoint, the claim and the records' commit, in Cloud Run's 100 ms billing steps. An idle
	// instance (one request at a time) is billed all of it; a busy one (function_concurrency
	// requests at once) a concurrency-th of it, while its CPU keeps up.
	requestSeconds = 0.3
)

// A Cloud Run stdout line becomes a LogEntry (Cloud Logging reference, LogEntry): the line's
// fields go to jsonPayload (time, severity and the trace fields to the entry's own fields), and
// Cloud Run adds the resource, labels, logName, insertId and receiveTimestamp. These are that
// envelope and a request log entry (run.googleapis.com/requests, with its HttpRequest) as a
// gen2 function in us-central1 gets them, sized as JSON.
const (
	stdoutEnvelope  = `{"insertId":"6754a1c8000d2f7b3a9e61c4","jsonPayload":{},"resource":{"type":"cloud_run_revision","labels":{"project_id":"jobhooks-prod-123456","service_name":"jobhooks-dispatch","revision_name":"jobhooks-dispatch-00007-kaz","location":"us-central1","configuration_name":"jobhooks-dispatch"}},"labels":{"instanceId":"0069c7a988b1a8cce44a1f5b3c9e0d7a24f6e1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f607182934a5b6c7d8e9f0","execution_id":"x7kq2m9vb3pl"},"logName":"projects/jobhooks-prod-123456/logs/run.googleapis.com%2Fstdout","receiveTimestamp":"2026-12-07T10:00:00.412345678Z"}`
	requestLogEntry = `{"insertId":"6754a1c8000e1a2b3c4d5e6f","httpRequest":{"requestMethod":"POST","requestUrl":"https://jobhooks-dispatch-a1b2c3d4e5-uc.a.run.app/","requestSize":"1873","status":200,"responseSize":"167","userAgent":"APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)","remoteIp":"2600:1900:2000:1a::4","serverIp":"2001:4860:4802:32::35","latency":"0.212345678s","protocol":"HTTP/1.1"},"resource":{"type":"cloud_run_revision","labels":{"project_id":"jobhooks-prod-123456","service_name":"jobhooks-dispatch","revision_name":"jobhooks-dispatch-00007-kaz","location":"us-central1","configuration_name":"jobhooks-dispatch"}},"timestamp":"2026-12-07T10:00:00.199876543Z","severity":"INFO","labels":{"instanceId":"0069c7a988b1a8cce44a1f5b3c9e0d7a24f6e1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f607182934a5b6c7d8e9f0"},"logName":"projects/jobhooks-prod-123456/logs/run.googleapis.com%2Frequests","trace":"projects/jobhooks-prod-123456/traces/4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","traceSampled":false,"receiveTimestamp":"2026-12-07T10:00:00.412345678Z"}`
)

// traffic is what one first-try event caused besides store operations.
type traffic struct {
	lines     []string // the functions' log lines at INFO and above, as sized
	logBytes  int      // their bytes, each with its LogEntry envelope
	delivered int      // of which attempt lines of a delivered attempt (terraform/logging.tf samples their storage)
	spans     int      // spans of the event's trace
	postBytes int      // the POSTs as sent: request line, headers, body
}

// pushedFirstTry publishes a warm-up event and then job-1 to n endpoints answering 200 through
// the real push entry point, and returns what job-1 logged, traced and sent.
func pushedFirstTry(t *testing.T, n int) traffic {
	rec := tracetest.NewSpanRecorder()
	s := Start(t, Options{Tracer: sdktrace.NewTracerProvider(sdktrace.WithSampler(export.Sampler(1)), sdktrace.WithSpanProcessor(rec))})
	var rcvs []*Receiver
	for i := range n {
		rcvs = append(rcvs, NewReceiver(t, OK))
		s.AddWebhook(t, hook("acme", fmt.Sprintf("wh-%d", i), rcvs[i].URL))
	}
	start := 0
	for _, id := range []string{"warm-up", "job-1"} {
		start = len(s.Lines())
		s.Publish(t, jobEvent("acme", id, "batch.succeeded"), map[string]string{"type": "batch.succeeded", "project": "acme"})
		Eventually(t, wait, id+" dispatched", func() bool { return hasLine(s.Lines()[start:], "job event dispatched") })
	}
	for i := range n {
		if d := delivery(t, s, "acme", "job-1", fmt.Sprintf("wh-%d", i)); d.State != store.Delivered || d.Attempts != 1 {
			t.Fatalf("delivery %d: %s after %d attempts", i, d.State, d.Attempts)
		}
	}
	var out traffic
	for _, l := range s.Lines()[start:] {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		if m["severity"] == "DEBUG" { // production logs at INFO and above
			continue
		}
		l = representative(strings.TrimSuffix(l, "\n"))
		out.lines = append(out.lines, l)
		entry := len(l) + len(stdoutEnvelope) - len(`"jsonPayload":{},`)
		out.logBytes += entry
		if m["message"] == "delivery attempt" && m["outcome"] == "delivered" {
			out.delivered += entry
		}
	}
	Eventually(t, wait, "Dispatch's span", func() bool { return len(spansNamed(rec, "Dispatch")) == 2 })
	trace := spansNamed(rec, "Dispatch")[1].SpanContext().TraceID()
	for _, sp := range rec.Ended() {
		if sp.SpanContext().TraceID() == trace {
			out.spans++
		}
	}
	for _, r := range rcvs {
		req := r.Requests()[1]
		size := len("POST /hook HTTP/1.1\r\nHost: hooks.example.com\r\n\r\n") + len(req.Body)
		for k, vs := range req.Header {
			for _, v := range vs {
				size += len(k) + len(": \r\n") + len(v)
			}
		}
		out.postBytes += size
	}
	return out
}

func hasLine(lines []string, message string) bool {
	for _, l := range lines {
		if strings.Contains(l, `"message":"`+message+`"`) {
			return true
		}
	}
	return false
}

func spansNamed(rec *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// representative replaces what varies from run to run with production-sized values: the time
// at full nanosecond precision, a 20-character Google Cloud project, a receiver's host name, a
// 200 ms attempt and a 1.2 s end-to-end latency.
var representatives = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`"time":"[^"]*"`), `"time":"2026-12-07T10:00:00.123456789Z"`},
	{regexp.MustCompile(`projects/jobhooks-test-\d+-\d+/traces`), `projects/jobhooks-prod-123456/traces`},
	{regexp.MustCompile(`"target_host":"[^"]*"`), `"target_host":"hooks.example.com"`},
	{regexp.MustCompile(`"latency_ms":\d+`), `"latency_ms":200`},
	{regexp.MustCompile(`"e2e_latency_ms":\d+`), `"e2e_latency_ms":1200`},
}

func representative(l string) string {
	for _, r := range representatives {
		l = r.re.ReplaceAllString(l, r.with)
	}
	return l
}

// tfDefault is the default of variable name in terraform/variables.tf.
func tfDefault(t *testing.T, name string) string {
	t.Helper()
	src, err := os.ReadFile("../../../terraform/variables.tf")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)variable "` + name + `" \{.*?\n  default\s*=\s*"?([^"\n]*)"?\n`).FindStringSubmatch(string(src))
	if m == nil {
		t.Fatalf("terraform/variables.tf: no default for %s", name)
	}
	return m[1]
}

func tfNumber(t *testing.T, name string) float64 {
	t.Helper()
	v := tfDefault(t, name)
	v = strings.TrimSuffix(strings.TrimSuffix(v, "Mi"), "h")
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatalf("terraform/variables.tf: %s = %q is not a number", name, v)
	}
	return f
}
