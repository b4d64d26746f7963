package verify_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/jobhooks/jobhooks/shared/jwks"
	"github.com/jobhooks/jobhooks/shared/signing"
	"github.com/jobhooks/jobhooks/shared/signingkey"
	"github.com/jobhooks/jobhooks/shared/verify"
)

// The fuzz keys are fixed, so that the seed corpus in testdata/fuzz/FuzzVerify can hold
// genuine signatures: fuzzNow is the receiver's clock, fuzzSecret the static webhook's secret
// and fuzzSeed the seed of the dynamic signing key (the JWKS publishes its public half).
var (
	fuzzNow    = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	fuzzSecret = bytes.Repeat([]byte{0x5a}, 32)
	fuzzSeed   = bytes.Repeat([]byte{0x17}, ed25519.SeedSize)
)

// fuzzVerifier accepts v1 with secret and v1a and jwt with the Ed25519 key of seed, fetching the
// key set in memory rather than over the network.
func fuzzVerifier(f *testing.F, secret, seed []byte) *verify.Verifier {
	k, err := signingkey.FromPrivate(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		f.Fatal(err)
	}
	set := jwks.Handler(func(context.Context) (*signingkey.PublicSet, error) {
		return (&signingkey.Set{Keys: []signingkey.Key{k}}).Public(), nil
	},
		slog.New(slog.DiscardHandler))
	client := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		rec := httptest.NewRecorder()
		set.ServeHTTP(rec, r)
		return rec.Result(), nil
	})}
	v, err := verify.New(verify.Options{
		Secrets: []string{"whsec_" + base64.StdEncoding.EncodeToString(secret)},
		JWKSURL: "https://hooks.example.com" + jwks.Path, HTTPClient: client, Now: func() time.Time { return fuzzNow },
	})
	if err != nil {
		f.Fatal(err)
	}
	return v
}

type roundTripper func(*http.Request) (*http.Response, error)

func (rt roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return rt(r) }

// FuzzVerify sends arbitrary webhook-id, webhook-timestamp and webhook-signature values and
// bodies to a receiver. It must never panic, must answer every refusal with exactly one of the
// package's errors, and must never accept a request unless this test, knowing the keys, finds a
// genuine signature in it over exactly that id, timestamp and body. A receiver holding other
// keys accepts nothing at all.
func FuzzVerify(f *testing.F) {
	v := fuzzVerifier(f, fuzzSecret, fuzzSeed)
	stranger := fuzzVerifier(f, bytes.Repeat([]byte{0xa5}, 32), bytes.Repeat([]byte{0x71}, ed25519.SeedSize))
	priv := ed25519.NewKeyFromSeed(fuzzSeed)
	k, _ := signingkey.FromPrivate(priv)
	tokens, err := signing.NewJWT(priv, signingkey.EdDSA, k.ID, "https://hooks.example.com")
	if err != nil {
		f.Fatal(err)
	}
	ts := fuzzNow.Unix()
	tsText := strconv.FormatInt(ts, 10)
	f.Add(msgID, tsText, signing.NewHMAC(fuzzSecret).Sign(msgID, ts, body), body)
	f.Add(msgID, tsText, signing.NewEd25519(priv).Sign(msgID, ts, body), body)
	f.Add(msgID, tsText, tokens.For(audience).Sign(msgID, ts, body), body)
	f.Add(msgID, tsText, "v1,AAAA v1a,AAAA "+signing.NewHMAC(fuzzSecret).Sign(msgID, ts, body), body)

	f.Fuzz(func(t *testing.T, id, timestamp, signature string, payload []byte) {
		h := http.Header{"Webhook-Id": {id}, "Webhook-Timestamp": {timestamp}, "Webhook-Signature": {signature}}
		if err := stranger.Verify(t.Context(), h, payload); err == nil {
			t.Fatalf("a receiver with other keys accepted id %q ts %q sig %q", id, timestamp, signature)
		}
		r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(payload))
		r.Header = h
		got, err := v.Request(r)
		if err != nil {
			checkOneKind(t, err)
			return
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("accepted, but returned %q for the body %q", got, payload)
		}
		if !genuine(t, priv, id, timestamp, signature, payload) {
			t.Fatalf("accepted without a genuine signature: id %q ts %q sig %q body %q", id, timestamp, signature, payload)
		}
	})
}

// checkOneKind requires err to match exactly one of the package's errors and to map to one of
// the statuses a receiver answers with.
func checkOneKind(t *testing.T, err error) {
	t.Helper()
	n := 0
	for _, kind := range []error{verify.ErrMissingHeader, verify.ErrBodyTooLarge, verify.ErrTimestamp, verify.ErrSignature,
		verify.ErrUnknownKey, verify.ErrClaims, verify.ErrKeySetUnavailable} {
		if errors.Is(err, kind) {
			n++
		}
	}
	if s := verify.StatusCode(err); n != 1 || s != 401 && s != 413 && s != 503 {
		t.Fatalf("%v matches %d of the package's errors and answers %d", err, n, s)
	}
}

// genuine is this test's own check, independent of the package: the timestamp is within five
// minutes and the header holds a v1 HMAC with the secret, a v1a Ed25519 signature with the key,
// or a JWT signed with the key for this webhook-id and body.
func genuine(t *testing.T, priv ed25519.PrivateKey, id, timestamp, signature string, payload []byte) bool {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || ts < fuzzNow.Unix()-300 || ts > fuzzNow.Unix()+300 {
		return false
	}
	content := []byte(id + "." + strconv.FormatInt(ts, 10) + "." + string(payload))
	mac := hmac.New(sha256.New, fuzzSecret)
	mac.Write(content)
	want := mac.Sum(nil)
	for _, entry := range strings.Fields(signature) {
		scheme, b64, _ := strings.Cut(entry, ",")
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		if scheme == "v1" && hmac.Equal(raw, want) || scheme == "v1a" && ed25519.Verify(priv.Public().(ed25519.PublicKey), content, raw) {
			return true
		}
	}
	tok, err := jwt.ParseSigned(signature, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return false
	}
	var c signing.JWTClaims
	if tok.Claims(priv.Public(), &c) != nil {
		return false
	}
	return c.ID == id && c.BodySHA256 == signing.BodyHash(payload)
}
