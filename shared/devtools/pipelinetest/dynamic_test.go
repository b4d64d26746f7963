package pipelinetest

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	jwksfn "github.com/jobhooks/jobhooks/functions/jwks"
	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/instance"
	"github.com/jobhooks/jobhooks/shared/jwks"
	"github.com/jobhooks/jobhooks/shared/signing"
	"github.com/jobhooks/jobhooks/shared/signingkey"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/verify"
)

// jwksServer serves the real JWKS function of the stack's instance, counting fetches.
type jwksServer struct {
	URL     string
	fetches atomic.Int64
}

func serveJWKS(t *testing.T, s *Stack) *jwksServer {
	j := &jwksServer{}
	h := jwksfn.Handler(func() (*instance.Instance, error) { return s.Instance, nil })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.fetches.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	j.URL = srv.URL + jwks.Path
	return j
}

// verifyingReceiver is a customer endpoint that accepts only requests its verifier accepts,
// answering as a real receiver would (401 for a bad signature, 503 without a key set).
type verifyingReceiver struct {
	URL string
	v   *verify.Verifier

	mu       sync.Mutex
	verified []Request
	rejected []error
}

func newVerifyingReceiver(t *testing.T, v *verify.Verifier) *verifyingReceiver {
	r := &verifyingReceiver{v: v}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := v.Request(req)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil {
			r.rejected = append(r.rejected, err)
			http.Error(w, err.Error(), verify.StatusCode(err))
			return
		}
		r.verified = append(r.verified, Request{Header: req.Header.Clone(), Body: body, At: time.Now()})
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL + "/jobs/done"
	return r
}

func (r *verifyingReceiver) Verified() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.verified...)
}

func (r *verifyingReceiver) Rejected() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.rejected...)
}

// watchSigningKeys registers the private keys of the stack's enabled signing-key versions with
// the log leak check of Main: their PEM text, and each base64 line of it.
func watchSigningKeys(t *testing.T, s *Stack) {
	t.Helper()
	set, err := s.SigningKeys.Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sm := SecretManagerClient(t)
	for _, k := range set.Keys {
		resp, err := sm.AccessSecretVersion(t.Context(), &secretmanagerpb.AccessSecretVersionRequest{Name: s.SigningKeys.SecretName() + "/versions/" + k.Version})
		if err != nil {
			t.Fatal(err)
		}
		pem := string(resp.GetPayload().GetData())
		Logs.Watch(pem)
		for _, line := range strings.Split(pem, "\n") {
			if !strings.HasPrefix(line, "-----") && len(line) > 16 {
				Logs.Watch(line)
			}
		}
	}
}

func dynamicEvent(project, id string, metadata string, uris ...string) string {
	quoted, _ := json.Marshal(uris)
	return fmt.Sprintf(`{"id":%q,"project":%q,"type":"batch.succeeded","timestamp":"2026-11-28T10:00:00Z","data":{"id":"batches/%s"},"webhook_config":{"uris":%s,"user_metadata":%s}}`,
		id, project, id, quoted, metadata)
}

func waitDynamic(t *testing.T, s *Stack, project, eventID, uri string, want store.DeliveryState) store.Delivery {
	t.Helper()
	var d store.Delivery
	Eventually(t, wait, "dynamic delivery "+string(want), func() bool {
		var err error
		d, err = s.Store.GetDelivery(context.Background(), project, event.DeliveryID(project, eventID, "uri:"+uri))
		return err == nil && d.State == want
	})
	return d
}

func TestDynamic_EventWithWebhookConfigReachesEveryURIVerifiedWithOnlyTheJWKS(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	keys := serveJWKS(t, s)
	var receivers []*verifyingReceiver
	for range 2 {
		v, err := verify.New(verify.Options{JWKSURL: keys.URL})
		if err != nil {
			t.Fatal(err)
		}
		receivers = append(receivers, newVerifyingReceiver(t, v))
	}
	watchSigningKeys(t, s)
	// A static webhook of the project must not get the dynamic event.
	static := NewReceiver(t, OK)
	s.AddWebhook(t, hook("dyn", "registered", static.URL))

	s.Publish(t, dynamicEvent("dyn", "job-d1", `{"order": 42, "customer": "Zoë"}`, receivers[0].URL, receivers[1].URL), nil)
	for _, r := range receivers {
		waitDynamic(t, s, "dyn", "job-d1", r.URL, store.Delivered)
	}
	for i, r := range receivers {
		// Each copy names the receiver it is for (shared/verify/README.md, Per-request deliveries
		// name their receiver): the verifier, taking its URL from the request, checked it.
		want := `{"type":"batch.succeeded","version":"v1","timestamp":"2026-11-28T10:00:00Z","data":{"id":"batches/job-d1"},"user_metadata":{"order":42,"customer":"Zoë"},"target_uri":"` + r.URL + `"}`
		got := r.Verified()
		if len(got) != 1 || len(r.Rejected()) != 0 {
			t.Fatalf("receiver %d: %d verified, rejected %v", i, len(got), r.Rejected())
		}
		if string(got[0].Body) != want {
			t.Errorf("receiver %d body\n got %s\nwant %s", i, got[0].Body, want)
		}
		sig := got[0].Header.Get("webhook-signature")
		if n := len(strings.Fields(sig)); n != 1 || !strings.HasPrefix(sig, "v1a,") {
			t.Errorf("receiver %d: webhook-signature %q, want one v1a signature", i, sig)
		}
		if got[0].Header.Get("webhook-id") != event.MessageID("dyn", "job-d1") {
			t.Errorf("receiver %d: webhook-id %q", i, got[0].Header.Get("webhook-id"))
		}
	}
	time.Sleep(time.Second)
	if static.Count() != 0 {
		t.Errorf("the project's registered webhook got %d requests for a dynamic event", static.Count())
	}
}

func TestDynamic_JWTModeVerifiesWithGoJoseAgainstTheJWKS(t *testing.T) {
	t.Parallel()
	const issuer = "https://hooks.example.test"
	s := Start(t, Options{Configure: func(c *config.Config) {
		c.SigningMode, c.PublicBaseURL = config.SigningModeJWT, issuer
	}})
	keys := serveJWKS(t, s)
	rcv := NewReceiver(t, OK)
	s.Publish(t, dynamicEvent("jwtco", "job-j1", `{"k":"v"}`, rcv.URL), nil)
	waitDynamic(t, s, "jwtco", "job-j1", rcv.URL, store.Delivered)
	req := rcv.Requests()[0]

	resp, err := http.Get(keys.URL)
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	err = json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	if err != nil || len(set.Keys) != 1 || set.Keys[0].Algorithm != "RS256" {
		t.Fatalf("JWKS %+v, %v: want one RS256 key", set, err)
	}
	tok, err := jwt.ParseSigned(req.Header.Get("webhook-signature"), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("webhook-signature is not an RS256 JWT: %v", err)
	}
	matching := set.Key(tok.Headers[0].KeyID)
	if len(matching) != 1 {
		t.Fatalf("kid %q is not in the JWKS", tok.Headers[0].KeyID)
	}
	var std jwt.Claims
	var extra struct {
		BodySHA256 string `json:"body_sha256"`
	}
	if err := tok.Claims(matching[0].Key, &std, &extra); err != nil {
		t.Fatalf("go-jose does not verify the token with the JWKS key: %v", err)
	}
	if err := std.Validate(jwt.Expected{Issuer: issuer, AnyAudience: jwt.Audience{rcv.URL}, ID: req.Header.Get("webhook-id"), Time: time.Now()}); err != nil {
		t.Errorf("claims: %v", err)
	}
	if exp := std.Expiry.Time().Sub(std.IssuedAt.Time()); exp != 5*time.Minute {
		t.Errorf("exp - iat = %s, want 5m", exp)
	}
	if extra.BodySHA256 != signing.BodyHash(req.Body) {
		t.Errorf("body_sha256 %q does not hash the body", extra.BodySHA256)
	}
	// The receiver library accepts it too, with the audience pinned.
	v, _ := verify.New(verify.Options{JWKSURL: keys.URL, Audience: rcv.URL, Issuer: issuer})
	if err := v.Verify(t.Context(), req.Header, req.Body); err != nil {
		t.Errorf("verify: %v", err)
	}
}

func TestDynamic_KeyRotationKeepsAReceiverWithTheOldCachedKeySetVerifying(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	keys := serveJWKS(t, s)
	// The receiver's clock is the stack's, so that moving it forward lets the verifier refetch.
	v, err := verify.New(verify.Options{JWKSURL: keys.URL, Now: s.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	rcv := newVerifyingReceiver(t, v)
	old, err := s.SigningKeys.Ensure(t.Context(), signingkey.EdDSA)
	if err != nil {
		t.Fatal(err)
	}

	s.Publish(t, dynamicEvent("rot", "job-r1", `{}`, rcv.URL), nil)
	waitDynamic(t, s, "rot", "job-r1", rcv.URL, store.Delivered)
	if keys.fetches.Load() != 1 {
		t.Fatalf("%d JWKS fetches, want 1", keys.fetches.Load())
	}

	// Rotation: the receiver's cached key set holds only the old key.
	newKey, err := s.SigningKeys.Rotate(t.Context(), signingkey.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	watchSigningKeys(t, s)
	s.Publish(t, dynamicEvent("rot", "job-r2", `{}`, rcv.URL), nil)
	waitDynamic(t, s, "rot", "job-r2", rcv.URL, store.Delivered)
	got := rcv.Verified()
	if len(got) != 2 || len(rcv.Rejected()) != 0 {
		t.Fatalf("%d verified, rejected %v", len(got), rcv.Rejected())
	}
	entries := strings.Fields(got[1].Header.Get("webhook-signature"))
	if len(entries) != 2 {
		t.Fatalf("during the overlap webhook-signature = %q, want the new and the old key's", got[1].Header.Get("webhook-signature"))
	}
	content := signing.AppendContent(nil, got[1].Header.Get("webhook-id"), mustInt(got[1].Header.Get("webhook-timestamp")), got[1].Body)
	for i, k := range []signingkey.Key{newKey, old} {
		sig, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(entries[i], "v1a,"))
		if !ed25519.Verify(k.Public().(ed25519.PublicKey), content, sig) {
			t.Errorf("signature %d is not by the %s key", i, []string{"new", "old"}[i])
		}
	}
	if keys.fetches.Load() != 1 {
		t.Errorf("the receiver refetched the JWKS during the overlap (%d fetches): the old key's signature should have sufficed", keys.fetches.Load())
	}

	// Retirement: only the new key signs; the receiver refetches once and verifies.
	if _, err := s.SigningKeys.Retire(t.Context(), signingkey.RetireOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Clock.Advance(31 * time.Second) // past the verifier's refetch interval
	s.Publish(t, dynamicEvent("rot", "job-r3", `{}`, rcv.URL), nil)
	waitDynamic(t, s, "rot", "job-r3", rcv.URL, store.Delivered)
	got = rcv.Verified()
	if sig := got[len(got)-1].Header.Get("webhook-signature"); len(strings.Fields(sig)) != 1 {
		t.Errorf("after retiring, webhook-signature = %q, want the new key's alone", sig)
	}
	if n := keys.fetches.Load(); n != 2 {
		t.Errorf("%d JWKS fetches, want 2 (one refetch for the new key)", n)
	}
}

func TestDynamic_BlockedAddressFailsWithoutARequest(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Configure: func(c *config.Config) { c.AllowInsecureTargets = false }})
	// A live HTTPS endpoint on loopback: the guard must refuse it at connect time.
	var hits atomic.Int64
	loopback := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(loopback.Close)
	uris := []string{"https://127.0.0.1:1/", loopback.URL + "/hook"}

	s.Publish(t, dynamicEvent("ssrf", "job-b1", `{}`, uris...), nil)
	for _, u := range uris {
		d := waitDynamic(t, s, "ssrf", "job-b1", u, store.Failed)
		if d.Reason != "blocked_address" || d.Attempts != 1 {
			t.Errorf("%s: reason %q after %d attempts, want blocked_address after 1", u, d.Reason, d.Attempts)
		}
	}
	time.Sleep(2 * time.Second) // a retry would come within the 1 s backoff
	if hits.Load() != 0 {
		t.Errorf("the loopback endpoint received %d requests", hits.Load())
	}
}

func TestDynamic_WithoutAnEnabledSigningKeyNothingIsSentAndTheDeliveryWaits(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	k, err := s.SigningKeys.Ensure(t.Context(), signingkey.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	sm := SecretManagerClient(t)
	name := s.SigningKeys.SecretName() + "/versions/" + k.Version
	if _, err := sm.DisableSecretVersion(t.Context(), &secretmanagerpb.DisableSecretVersionRequest{Name: name}); err != nil {
		t.Fatal(err)
	}
	s.SigningKeys.Forget()
	rcv := NewReceiver(t, OK)

	s.Publish(t, dynamicEvent("nokey", "job-n1", `{}`, rcv.URL), nil)
	time.Sleep(3 * time.Second) // several redeliveries at the 1 s backoff
	if rcv.Count() != 0 {
		t.Fatalf("%d requests sent without a signing key", rcv.Count())
	}
	// The operator re-enables the key: the waiting delivery goes out, signed.
	if _, err := sm.EnableSecretVersion(t.Context(), &secretmanagerpb.EnableSecretVersionRequest{Name: name}); err != nil {
		t.Fatal(err)
	}
	s.SigningKeys.Forget()
	waitDynamic(t, s, "nokey", "job-n1", rcv.URL, store.Delivered)
	if sig := rcv.Requests()[0].Header.Get("webhook-signature"); !strings.HasPrefix(sig, "v1a,") {
		t.Errorf("webhook-signature = %q", sig)
	}
}

func mustInt(s string) int64 {
	var n int64
	_, _ = fmt.Sscan(s, &n)
	return n
}
