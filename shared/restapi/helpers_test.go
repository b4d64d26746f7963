package restapi_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
)

// TestMain runs the tests on one set of emulators. Afterwards every log line the API and the
// pipeline wrote is checked twice: for the exact keys and secrets the tests handed out (watched
// in pipelinetest.Logs), and for anything shaped like an API key or a full whsec_ secret, which
// also catches one a test forgot to watch.
//
// Listing tests and fuzzing need no emulators: the fuzz targets decode requests without a store,
// so while fuzzing only the fuzz target runs.
func TestMain(m *testing.M) {
	flag.Parse()
	if flagSet("test.list") || flagSet("test.fuzz") || flagSet("test.fuzzworker") {
		if flagSet("test.fuzz") {
			_ = flag.Set("test.run", "^$")
		}
		os.Exit(m.Run())
	}
	code := pipelinetest.Main(m)
	if code == 0 {
		if leaks := secretShaped(pipelinetest.Logs.Lines()); len(leaks) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: %d log lines hold an API key or a signing secret, e.g. %.200s\n", len(leaks), leaks[0])
			code = 1
		}
	}
	os.Exit(code)
}

func flagSet(name string) bool {
	f := flag.Lookup(name)
	return f != nil && f.Value.String() != "" && f.Value.String() != "false"
}

// secretShapes match an API key (apikeys.Prefix and 43 base64url characters), a portal link's token (a JWT) and a signing
// secret (whsec_ and its 44 base64 characters). A truncated_secret (whsec_ and four) is allowed.
var secretShapes = regexp.MustCompile(`jh_[A-Za-z0-9_-]{43}|whsec_[A-Za-z0-9+/]{8,}|eyJ[A-Za-z0-9_-]{10,}\.eyJ`)

func secretShaped(lines []string) []string {
	var out []string
	for _, l := range lines {
		if secretShapes.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

func TestSecretShaped_CatchesKeysAndSecretsButNotTruncatedOnes(t *testing.T) {
	leaky := []string{
		`{"msg":"x","key":"jh_` + strings.Repeat("A", 43) + `"}`,
		`{"msg":"x","secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw+z1I4AXhY2A="}`,
	}
	fine := []string{`{"msg":"webhook created","secret":"whsec_MfKQ..."}`, `{"msg":"api request","path":"/v1beta/webhooks"}`}
	if got := secretShaped(append(leaky, fine...)); !slices.Equal(got, leaky) {
		t.Errorf("secretShaped found %q, want the two leaky lines", got)
	}
}

const wait = 30 * time.Second

// client calls the API over real HTTP with one API key.
type client struct {
	t    *testing.T
	base string
	key  string
}

// env starts a pipeline with the API in front of it and a key of project acme.
func env(t *testing.T, opts pipelinetest.Options) (*pipelinetest.Stack, client) {
	t.Helper()
	s := pipelinetest.Start(t, opts)
	return s, client{t: t, base: s.API(t), key: s.APIKey(t, "acme")}
}

// as returns a client using another key.
func (c client) as(key string) client { c.key = key; return c }

type response struct {
	status int
	body   []byte
	header http.Header
}

// do sends body (JSON text, "" for none) and returns the answer.
func (c client) do(method, path, body string) response {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("x-goog-api-key", c.key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		c.t.Errorf("%s %s: content-type %q, want JSON", method, path, ct)
	}
	return response{status: resp.StatusCode, body: b, header: resp.Header}
}

// ok requires a 200 and decodes the answer into v (if not nil).
func (r response) ok(t *testing.T, v any) response {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	if v != nil {
		if err := json.Unmarshal(r.body, v); err != nil {
			t.Fatalf("decode %s: %v", r.body, err)
		}
	}
	return r
}

type rpcError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	} `json:"error"`
}

// fails requires the google.rpc error shape with this HTTP code and status, and a message
// containing every one of words; it returns the message.
func (r response) fails(t *testing.T, code int, status string, words ...string) string {
	t.Helper()
	var e rpcError
	if err := json.Unmarshal(r.body, &e); err != nil || r.status != code || e.Error.Code != code || e.Error.Status != status {
		t.Fatalf("got %d %s, want %d %s in the google.rpc shape", r.status, r.body, code, status)
	}
	for _, w := range words {
		if !strings.Contains(e.Error.Message, w) {
			t.Errorf("message %q does not mention %q", e.Error.Message, w)
		}
	}
	return e.Error.Message
}

// webhookA is a webhook as Surface A answers it.
type webhookA struct {
	Name             string   `json:"name"`
	URL              string   `json:"url"`
	DisplayName      string   `json:"display_name"`
	SubscribedEvents []string `json:"subscribed_events"`
	State            string   `json:"state"`
	RequestHeaders   []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"request_headers"`
	StatusCodesToRetryOn []int `json:"status_codes_to_retry_on"`
	SigningSecrets       []struct {
		TruncatedSecret string `json:"truncated_secret"`
		ExpireTime      string `json:"expire_time"`
	} `json:"signing_secrets"`
	NewSigningSecret string `json:"new_signing_secret"`
	CreateTime       string `json:"create_time"`
	UpdateTime       string `json:"update_time"`
}

// createA creates a webhook of acme subscribed to batch.succeeded and returns it with its secret
// (watched in the logs).
func (c client) createA(id, url string, extra ...string) webhookA {
	c.t.Helper()
	body := `{"url":` + quote(url) + `,"subscribed_events":["batch.succeeded"]` + strings.Join(extra, "") + `}`
	var w webhookA
	c.do("POST", "/v1/projects/acme/webhooks?webhook_id="+id, body).ok(c.t, &w)
	watch(w.NewSigningSecret)
	return w
}

func watch(secret string) {
	if secret != "" {
		pipelinetest.Logs.Watch(secret, strings.TrimPrefix(secret, "whsec_"))
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func jobEvent(project, id, typ string) string {
	return `{"id":"` + id + `","project":"` + project + `","type":"` + typ +
		`","timestamp":"2026-11-28T10:00:00Z","data":{"id":"batches/` + id + `"}}`
}
