package verify_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rsa"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/signing"
	"github.com/jobhooks/jobhooks/shared/signingkey"
	"github.com/jobhooks/jobhooks/shared/verify"
)

// receiver is an endpoint verifying with the deployment's JWKS and nothing else: its URL comes
// from the requests it gets (Options.Audience unset). It keeps what it was sent and the verdict.
type receiver struct {
	URL     string
	header  http.Header
	body    []byte
	verdict error
}

func newReceiver(t *testing.T, v *verify.Verifier) *receiver {
	rc := &receiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.header = r.Header.Clone()
		rc.body, rc.verdict = v.Request(r)
		w.WriteHeader(verify.StatusCode(rc.verdict))
	}))
	t.Cleanup(srv.Close)
	rc.URL = srv.URL + "/jobs/done?tenant=a"
	return rc
}

func post(t *testing.T, url string, h http.Header, b []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// A delivery that receiver A got, POSTed by A to receiver B of the same deployment within the
// timestamp tolerance, is refused at B, in both per-request schemes; at A it verifies.
func TestVerify_PerRequestDeliveryCapturedAtOneReceiverIsRefusedAtAnother(t *testing.T) {
	c := newClock()
	ed, edPriv := newKey(t, signingkey.EdDSA)
	rs, rsPriv := newKey(t, signingkey.RS256)
	pub := newPublisher(t, ed, rs)
	j, err := signing.NewJWT(rsPriv.(*rsa.PrivateKey), signingkey.RS256, rs.ID, issuer)
	if err != nil {
		t.Fatal(err)
	}
	schemes := map[string]func(target string) signing.Signer{
		"v1a": func(string) signing.Signer { return signing.NewEd25519(edPriv.(ed25519.PrivateKey)) },
		"jwt": func(target string) signing.Signer { return j.For(target) },
	}
	for name, signer := range schemes {
		t.Run(name, func(t *testing.T) {
			v, err := verify.New(verify.Options{JWKSURL: pub.URL, Now: c.Now})
			if err != nil {
				t.Fatal(err)
			}
			a, b := newReceiver(t, v), newReceiver(t, v)
			// What Jobhooks sends to A: the event's body naming A (event.TargetBody), signed for A.
			sent := event.TargetBody([]byte(`{"type":"batch.succeeded","version":"v1","timestamp":"2026-11-28T10:00:00Z","data":{"id":"batches/1"}}`), a.URL)
			ts := c.Unix()
			h := http.Header{}
			h.Set("Content-Type", "application/json")
			h.Set(signing.HeaderID, msgID)
			h.Set(signing.HeaderTimestamp, strconv.FormatInt(ts, 10))
			h.Set(signing.HeaderSignature, signer(a.URL).Sign(msgID, ts, sent))
			post(t, a.URL, h, sent)
			if a.verdict != nil {
				t.Fatalf("at A, the receiver it was sent to: %v", a.verdict)
			}

			// A replays exactly what it got to B.
			post(t, b.URL, a.header, a.body)
			wantErr(t, "replayed at B", b.verdict, verify.ErrClaims)
			if b.body != nil {
				t.Error("B was handed the body of a delivery that is not for it")
			}

			// Verify has no request: without Audience it cannot tell, and refuses; with A's URL
			// it accepts at A's, and the explicit opt-out accepts anywhere.
			wantErr(t, "Verify without an audience", v.Verify(t.Context(), a.header, a.body), verify.ErrClaims)
			atA, _ := verify.New(verify.Options{JWKSURL: pub.URL, Now: c.Now, Audience: a.URL})
			if err := atA.Verify(t.Context(), a.header, a.body); err != nil {
				t.Errorf("Verify with A's URL: %v", err)
			}
			atB, _ := verify.New(verify.Options{JWKSURL: pub.URL, Now: c.Now, Audience: b.URL})
			wantErr(t, "Verify with B's URL", atB.Verify(t.Context(), a.header, a.body), verify.ErrClaims)
			anywhere, _ := verify.New(verify.Options{JWKSURL: pub.URL, Now: c.Now, AnyTarget: true})
			if err := anywhere.Verify(t.Context(), a.header, a.body); err != nil {
				t.Errorf("AnyTarget: %v", err)
			}
		})
	}
}

// A v1a body without target_uri (as deliveries were signed before bodies named their target)
// could be meant for anyone: refused unless the receiver opts out.
func TestVerify_V1aBodyNamingNoTargetIsRefused(t *testing.T) {
	c := newClock()
	k, priv := newKey(t, signingkey.EdDSA)
	pub := newPublisher(t, k)
	untargeted := []byte(`{"type":"batch.succeeded","version":"v1","timestamp":"2026-11-28T10:00:00Z","data":{}}`)
	h := headers(msgID, c.Unix(), signing.NewEd25519(priv.(ed25519.PrivateKey)).Sign(msgID, c.Unix(), untargeted))
	v := newVerifier(t, verify.Options{JWKSURL: pub.URL, Now: c.Now})
	wantErr(t, "no target_uri", v.Verify(t.Context(), h, untargeted), verify.ErrClaims)
	anywhere := newVerifier(t, verify.Options{JWKSURL: pub.URL, Now: c.Now, AnyTarget: true})
	if err := anywhere.Verify(t.Context(), h, untargeted); err != nil {
		t.Error(err)
	}
}

func TestSameURL_IgnoresCaseOfSchemeAndHostAndDefaultPortsOnly(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"https://r.example.com/hook", "https://r.example.com/hook", true},
		{"HTTPS://R.Example.com/hook", "https://r.example.com/hook", true},
		{"https://r.example.com:443/hook", "https://r.example.com/hook", true},
		{"http://r.example.com:80", "http://r.example.com/", true},
		{"https://r.example.com/hook?tenant=a", "https://r.example.com/hook?tenant=a", true},
		{"https://r.example.com/hook?tenant=a", "https://r.example.com/hook?tenant=b", false},
		{"https://r.example.com/hook", "https://r.example.com/Hook", false},
		{"https://r.example.com/hook", "http://r.example.com/hook", false},
		{"https://r.example.com:8443/hook", "https://r.example.com/hook", false},
		{"https://a.example.com/hook", "https://b.example.com/hook", false},
		{"", "", false},
		{"/hook", "/hook", false},
	} {
		if got := verify.SameURL(c.a, c.b); got != c.same {
			t.Errorf("SameURL(%q, %q) = %v, want %v", c.a, c.b, got, c.same)
		}
	}
}
