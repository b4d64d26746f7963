package verify_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/jobhooks/jobhooks/shared/jwks"
	"github.com/jobhooks/jobhooks/shared/signing"
	"github.com/jobhooks/jobhooks/shared/signingkey"
	"github.com/jobhooks/jobhooks/shared/verify"
)

// body is a per-request delivery's to audience; a static webhook's has no target_uri, and v1
// ignores it.
var body = []byte(`{"type":"batch.succeeded","version":"v1","timestamp":"2026-11-28T10:00:00Z","data":{"id":"batches/1"},"user_metadata":{"k":"v"},"target_uri":"https://receiver.example.com/hook"}`)

const (
	msgID    = "msg_3vh49q23027z6p1gth2rrw86c5"
	issuer   = "https://hooks.example.com"
	audience = "https://receiver.example.com/hook"
)

// publisher is a JWKS endpoint whose key set the test changes, counting fetches.
type publisher struct {
	URL     string
	fetches atomic.Int64
	down    atomic.Bool
	mu      sync.Mutex
	set     *signingkey.Set
}

func newPublisher(t *testing.T, keys ...signingkey.Key) *publisher {
	p := &publisher{}
	p.publish(keys...)
	h := jwks.Handler(func(context.Context) (*signingkey.PublicSet, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.set.Public(), nil
	}, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		if p.down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL + jwks.Path
	return p
}

func (p *publisher) publish(keys ...signingkey.Key) {
	p.mu.Lock()
	p.set = &signingkey.Set{Keys: keys}
	p.mu.Unlock()
}

func newKey(t *testing.T, alg string) (signingkey.Key, any) {
	t.Helper()
	priv, err := signingkey.Generate(alg)
	if err != nil {
		t.Fatal(err)
	}
	k, err := signingkey.FromPrivate(priv)
	if err != nil {
		t.Fatal(err)
	}
	return k, priv
}

// clock is a settable clock starting now.
type clock struct{ t atomic.Int64 }

func newClock() *clock                   { c := &clock{}; c.t.Store(time.Now().UnixNano()); return c }
func (c *clock) Now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *clock) Advance(d time.Duration) { c.t.Add(int64(d)) }
func (c *clock) Unix() int64             { return c.Now().Unix() }
func headers(id string, ts int64, sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	h.Set("webhook-signature", sig)
	return h
}

// newVerifier is a verifier for the endpoint at audience unless opts say otherwise (the tests of
// the target check, target_test.go, do).
func newVerifier(t *testing.T, opts verify.Options) *verify.Verifier {
	t.Helper()
	if opts.Audience == "" && !opts.AnyTarget {
		opts.Audience = audience
	}
	v, err := verify.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", what, err, want)
		return
	}
	for _, other := range []error{verify.ErrMissingHeader, verify.ErrBodyTooLarge, verify.ErrTimestamp, verify.ErrSignature,
		verify.ErrUnknownKey, verify.ErrClaims, verify.ErrKeySetUnavailable} {
		if other != want && errors.Is(err, other) {
			t.Errorf("%s: err %v matches both %v and %v", what, err, want, other)
		}
	}
}

func whsec() (string, []byte) {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return "whsec_" + base64.StdEncoding.EncodeToString(k), k
}

func TestVerify_V1AcceptsAnyOfTheRotatingSecretsAndRejectsTamperingAndForeignSecrets(t *testing.T) {
	c := newClock()
	oldText, oldKey := whsec()
	newText, newKey := whsec()
	otherText, _ := whsec()
	h := headers(msgID, c.Unix(), signing.NewHMAC(newKey, oldKey).Sign(msgID, c.Unix(), body))

	for _, secrets := range [][]string{{oldText}, {newText}, {otherText, oldText}} {
		if err := newVerifier(t, verify.Options{Secrets: secrets, Now: c.Now}).Verify(t.Context(), h, body); err != nil {
			t.Errorf("secrets %d: %v", len(secrets), err)
		}
	}
	v := newVerifier(t, verify.Options{Secrets: []string{newText}, Now: c.Now})
	wantErr(t, "tampered body", v.Verify(t.Context(), h, bytes.Replace(body, []byte("succeeded"), []byte("failed"), 1)), verify.ErrSignature)
	wantErr(t, "foreign secret", newVerifier(t, verify.Options{Secrets: []string{otherText}, Now: c.Now}).Verify(t.Context(), h, body), verify.ErrSignature)
	changedID := h.Clone()
	changedID.Set("webhook-id", "msg_other")
	wantErr(t, "changed webhook-id", v.Verify(t.Context(), changedID, body), verify.ErrSignature)
}

func TestVerify_StaleOrFutureTimestampsAreRejected(t *testing.T) {
	c := newClock()
	text, key := whsec()
	v := newVerifier(t, verify.Options{Secrets: []string{text}, Now: c.Now})
	for name, ts := range map[string]int64{"6 min old": c.Unix() - 360, "6 min ahead": c.Unix() + 360} {
		h := headers(msgID, ts, signing.NewHMAC(key).Sign(msgID, ts, body))
		wantErr(t, name, v.Verify(t.Context(), h, body), verify.ErrTimestamp)
	}
	h := headers(msgID, c.Unix()-290, signing.NewHMAC(key).Sign(msgID, c.Unix()-290, body))
	if err := v.Verify(t.Context(), h, body); err != nil {
		t.Errorf("4 min 50 s old: %v", err)
	}
	h.Set("webhook-timestamp", "2026-11-28T10:00:00Z")
	wantErr(t, "an RFC 3339 timestamp", v.Verify(t.Context(), h, body), verify.ErrTimestamp)
}

func TestVerify_V1aWithTheJWKSAndNothingElse(t *testing.T) {
	c := newClock()
	k, priv := newKey(t, signingkey.EdDSA)
	pub := newPublisher(t, k)
	v := newVerifier(t, verify.Options{JWKSURL: pub.URL, Now: c.Now})
	sign := func(b []byte) http.Header {
		return headers(msgID, c.Unix(), signing.NewEd25519(priv.(ed25519.PrivateKey)).Sign(msgID, c.Unix(), b))
	}
	if err := v.Verify(t.Context(), sign(body), body); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "tampered body", v.Verify(t.Context(), sign(body), append(body, ' ')), verify.ErrSignature)

	// Signed with a key the JWKS does not publish.
	_, foreign := newKey(t, signingkey.EdDSA)
	h := headers(msgID, c.Unix(), signing.NewEd25519(foreign.(ed25519.PrivateKey)).Sign(msgID, c.Unix(), body))
	wantErr(t, "wrong key", v.Verify(t.Context(), h, body), verify.ErrSignature)
}

func TestVerify_ASignatureOfOneSchemeNeverVerifiesAsAnother(t *testing.T) {
	c := newClock()
	k, priv := newKey(t, signingkey.EdDSA)
	pub := newPublisher(t, k)
	text, key := whsec()
	// A receiver that accepts both static and dynamic webhooks.
	v := newVerifier(t, verify.Options{Secrets: []string{text}, JWKSURL: pub.URL, Now: c.Now})
	ts := c.Unix()
	v1a := signing.NewEd25519(priv.(ed25519.PrivateKey)).Sign(msgID, ts, body)
	v1 := signing.NewHMAC(key).Sign(msgID, ts, body)
	if v.Verify(t.Context(), headers(msgID, ts, v1a), body) != nil || v.Verify(t.Context(), headers(msgID, ts, v1), body) != nil {
		t.Fatal("genuine signatures do not verify")
	}
	wantErr(t, "v1a presented as v1", v.Verify(t.Context(), headers(msgID, ts, "v1,"+strings.TrimPrefix(v1a, "v1a,")), body), verify.ErrSignature)
	wantErr(t, "v1 presented as v1a", v.Verify(t.Context(), headers(msgID, ts, "v1a,"+strings.TrimPrefix(v1, "v1,")), body), verify.ErrSignature)
	// A verifier for static webhooks only ignores v1a, and one for dynamic webhooks only ignores v1.
	static := newVerifier(t, verify.Options{Secrets: []string{text}, Now: c.Now})
	wantErr(t, "v1a to a static-only verifier", static.Verify(t.Context(), headers(msgID, ts, v1a), body), verify.ErrSignature)
	dynamic := newVerifier(t, verify.Options{JWKSURL: pub.URL, Now: c.Now})
	wantErr(t, "v1 to a JWKS-only verifier", dynamic.Verify(t.Context(), headers(msgID, ts, v1), body), verify.ErrSignature)
}

func TestVerify_JWTIsCheckedForKeySignatureExpiryAudienceAndBody(t *testing.T) {
	c := newClock()
	k, priv := newKey(t, signingkey.RS256)
	pub := newPublisher(t, k)
	j, err := signing.NewJWT(priv.(*rsa.PrivateKey), signingkey.RS256, k.ID, issuer)
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, verify.Options{JWKSURL: pub.URL, Audience: audience, Issuer: issuer, Now: c.Now})
	ts := c.Unix()
	tok := j.For(audience).Sign(msgID, ts, body)
	if err := v.Verify(t.Context(), headers(msgID, ts, tok), body); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "tampered body", v.Verify(t.Context(), headers(msgID, ts, tok), append(body, ' ')), verify.ErrSignature)
	wantErr(t, "another target's token", v.Verify(t.Context(), headers(msgID, ts, j.For("https://evil.example.com/").Sign(msgID, ts, body)), body), verify.ErrClaims)
	wantErr(t, "jti is not the webhook-id", v.Verify(t.Context(), headers("msg_other", ts, tok), body), verify.ErrClaims)
	old := ts - 400
	wantErr(t, "expired token", v.Verify(t.Context(), headers(msgID, ts, j.For(audience).Sign(msgID, old, body)), body), verify.ErrTimestamp)

	// A token whose kid is in the JWKS but that another key signed.
	_, foreign := newKey(t, signingkey.RS256)
	forged, _ := signing.NewJWT(foreign.(*rsa.PrivateKey), signingkey.RS256, k.ID, issuer)
	wantErr(t, "wrong key", v.Verify(t.Context(), headers(msgID, ts, forged.For(audience).Sign(msgID, ts, body)), body), verify.ErrSignature)

	// Algorithm confusion: an HS256 token keyed with the published RSA public key.
	der, _ := x509.MarshalPKIXPublicKey(k.Public())
	hs, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: jose.JSONWebKey{Key: der, KeyID: k.ID}}, nil)
	confused, _ := jwt.Signed(hs).Claims(signing.JWTClaims{Issuer: issuer, Audience: audience, IssuedAt: ts, Expiry: ts + 300, ID: msgID, BodySHA256: signing.BodyHash(body)}).Serialize()
	wantErr(t, "HS256 with the public key", v.Verify(t.Context(), headers(msgID, ts, confused), body), verify.ErrSignature)
}

func TestVerify_UnknownKeyIDRefetchesTheJWKSAtMostOncePerInterval(t *testing.T) {
	c := newClock()
	k, _ := newKey(t, signingkey.EdDSA)
	pub := newPublisher(t, k)
	v := newVerifier(t, verify.Options{JWKSURL: pub.URL, Now: c.Now})
	unknown, unknownPriv := newKey(t, signingkey.EdDSA)
	j, _ := signing.NewJWT(unknownPriv.(ed25519.PrivateKey), signingkey.EdDSA, unknown.ID, issuer)

	// An attacker sends many tokens naming a key that does not exist, concurrently.
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			ts := c.Unix()
			wantErr(t, "unknown kid", v.Verify(t.Context(), headers(msgID, ts, j.For(audience).Sign(msgID, ts, body)), body), verify.ErrUnknownKey)
		})
	}
	wg.Wait()
	if n := pub.fetches.Load(); n > 2 {
		t.Fatalf("%d JWKS fetches for 50 requests with an unknown kid, want at most 2 (first use, one refetch)", n)
	}
	before := pub.fetches.Load()
	for range 20 {
		ts := c.Unix()
		_ = v.Verify(t.Context(), headers(msgID, ts, j.For(audience).Sign(msgID, ts, body)), body)
	}
	if pub.fetches.Load() != before {
		t.Errorf("refetched within the 30 s interval")
	}

	// The key really is new (a rotation): once the interval has passed, one refetch finds it.
	pub.publish(unknown, k)
	c.Advance(31 * time.Second)
	ts := c.Unix()
	if err := v.Verify(t.Context(), headers(msgID, ts, j.For(audience).Sign(msgID, ts, body)), body); err != nil {
		t.Errorf("after the key was published: %v", err)
	}
	if pub.fetches.Load() != before+1 {
		t.Errorf("%d fetches, want exactly one more", pub.fetches.Load()-before)
	}
}

func TestVerify_KeySetUnavailableIsA503AndAFetchedSetOutlivesAnOutage(t *testing.T) {
	c := newClock()
	k, priv := newKey(t, signingkey.EdDSA)
	pub := newPublisher(t, k)
	pub.down.Store(true)
	v := newVerifier(t, verify.Options{JWKSURL: pub.URL, Now: c.Now})
	sign := func() http.Header {
		return headers(msgID, c.Unix(), signing.NewEd25519(priv.(ed25519.PrivateKey)).Sign(msgID, c.Unix(), body))
	}
	err := v.Verify(t.Context(), sign(), body)
	wantErr(t, "JWKS down", err, verify.ErrKeySetUnavailable)
	if verify.StatusCode(err) != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want 503 so that Jobhooks retries", verify.StatusCode(err))
	}
	pub.down.Store(false)
	c.Advance(31 * time.Second)
	if err := v.Verify(t.Context(), sign(), body); err != nil {
		t.Fatal(err)
	}
	pub.down.Store(true)
	c.Advance(10 * time.Minute) // past the 5-minute max-age
	if err := v.Verify(t.Context(), sign(), body); err != nil {
		t.Errorf("the cached set was dropped during a JWKS outage: %v", err)
	}
}

func TestRequest_ReadsABoundedBodyAndLeavesItReadable(t *testing.T) {
	c := newClock()
	text, key := whsec()
	v := newVerifier(t, verify.Options{Secrets: []string{text}, MaxBodyBytes: 1024, Now: c.Now})
	req := httptest.NewRequest("POST", "/hook", bytes.NewReader(body))
	req.Header = headers(msgID, c.Unix(), signing.NewHMAC(key).Sign(msgID, c.Unix(), body))
	got, err := v.Request(req)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("Request = %q, %v", got, err)
	}
	again := new(bytes.Buffer)
	_, _ = again.ReadFrom(req.Body)
	if !bytes.Equal(again.Bytes(), body) {
		t.Error("r.Body is not readable again")
	}

	big := bytes.Repeat([]byte("a"), 2048)
	req = httptest.NewRequest("POST", "/hook", bytes.NewReader(big))
	req.Header = headers(msgID, c.Unix(), signing.NewHMAC(key).Sign(msgID, c.Unix(), big))
	_, err = v.Request(req)
	wantErr(t, "2 KiB body over a 1 KiB limit", err, verify.ErrBodyTooLarge)

	req = httptest.NewRequest("POST", "/hook", bytes.NewReader(body))
	got, err = v.Request(req)
	wantErr(t, "no headers", err, verify.ErrMissingHeader)
	if got != nil {
		t.Error("an unverified body was returned")
	}
}

func TestNew_RefusesMalformedSecretsAndNoKeys(t *testing.T) {
	for _, opts := range []verify.Options{{}, {Secrets: []string{"whsec_not base64!"}}, {Secrets: []string{"whsec_"}}} {
		if _, err := verify.New(opts); err == nil {
			t.Errorf("New(%+v) accepted", opts)
		}
	}
}

// hmacOf is the v1 signature computed independently of the signing package.
func hmacOf(key []byte, id string, ts int64, b []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "."))
	m.Write(b)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}
