package jwks_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/jobhooks/jobhooks/shared/jwks"
	"github.com/jobhooks/jobhooks/shared/signingkey"
)

func keySet(t *testing.T, algs ...string) *signingkey.Set {
	t.Helper()
	set := &signingkey.Set{}
	for _, alg := range algs {
		priv, err := signingkey.Generate(alg)
		if err != nil {
			t.Fatal(err)
		}
		k, err := signingkey.FromPrivate(priv)
		if err != nil {
			t.Fatal(err)
		}
		set.Keys = append(set.Keys, k)
	}
	return set
}

func serve(t *testing.T, keys jwks.Keys) *httptest.Server {
	srv := httptest.NewServer(jwks.Handler(keys, slog.New(slog.DiscardHandler)))
	t.Cleanup(srv.Close)
	return srv
}

func TestJWKS_PublishesEveryEnabledPublicKeyAndNothingPrivate(t *testing.T) {
	set := keySet(t, signingkey.RS256, signingkey.EdDSA)
	srv := serve(t, func(context.Context) (*signingkey.PublicSet, error) { return set.Public(), nil })

	resp, err := http.Get(srv.URL + jwks.Path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=300" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || len(doc.Keys) != 2 {
		t.Fatalf("document %s: %v", body, err)
	}
	want := []map[string]string{
		{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": set.Keys[0].ID, "e": "AQAB"},
		{"kty": "OKP", "alg": "EdDSA", "use": "sig", "kid": set.Keys[1].ID, "crv": "Ed25519"},
	}
	for i, k := range doc.Keys {
		for field, v := range want[i] {
			if k[field] != v {
				t.Errorf("key %d: %s = %v, want %v", i, field, k[field], v)
			}
		}
		// RFC 7518 §6.3.2 and RFC 8037 §2: the private members of RSA and OKP keys.
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %d publishes the private member %q", i, private)
			}
		}
	}
	if strings.Contains(string(body), "PRIVATE") {
		t.Error("the document contains PEM")
	}
	// go-jose reads it as a key set of public keys whose ids are their thumbprints.
	var parsed jose.JSONWebKeySet
	if err := json.Unmarshal(body, &parsed); err != nil {
		t.Fatal(err)
	}
	for i, k := range parsed.Keys {
		if !k.IsPublic() || k.KeyID != set.Keys[i].ID {
			t.Errorf("key %d: public %v, kid %s", i, k.IsPublic(), k.KeyID)
		}
	}

	head, _ := http.Head(srv.URL + jwks.Path)
	if head.StatusCode != 200 || head.Header.Get("Content-Length") != resp.Header.Get("Content-Length") {
		t.Errorf("HEAD: %d, length %s", head.StatusCode, head.Header.Get("Content-Length"))
	}
}

func TestJWKS_AnythingElseIs404AndUnreadableKeysAre503InTheAPIErrorShape(t *testing.T) {
	ok := serve(t, func(context.Context) (*signingkey.PublicSet, error) { return keySet(t, signingkey.EdDSA).Public(), nil })
	down := serve(t, func(context.Context) (*signingkey.PublicSet, error) { return nil, errors.New("secret manager down") })
	for _, tc := range []struct {
		method, url string
		code        int
		status      string
	}{
		{"GET", ok.URL + "/", 404, "NOT_FOUND"},
		{"GET", ok.URL + "/jwks.json", 404, "NOT_FOUND"},
		{"POST", ok.URL + jwks.Path, 404, "NOT_FOUND"},
		{"DELETE", ok.URL + jwks.Path, 404, "NOT_FOUND"},
		{"GET", down.URL + jwks.Path, 503, "UNAVAILABLE"},
	} {
		req, _ := http.NewRequest(tc.method, tc.url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Error struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
				Status  string `json:"status"`
			} `json:"error"`
		}
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if err != nil || resp.StatusCode != tc.code || e.Error.Code != tc.code || e.Error.Status != tc.status || e.Error.Message == "" {
			t.Errorf("%s %s: %d %+v (%v)", tc.method, tc.url, resp.StatusCode, e, err)
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: an error is cacheable", tc.method, tc.url)
		}
		if strings.Contains(e.Error.Message, "secret manager down") {
			t.Errorf("the 503 reveals the internal error")
		}
	}
}

// A private key in the published set (put there by mistake) is never served.
func TestJWKS_APublishedPrivateKeyIsRefusedNotServed(t *testing.T) {
	set := keySet(t, signingkey.EdDSA)
	pub := set.Public()
	priv, err := signingkey.Generate(signingkey.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	pub.JWKS.Keys[0].Key = priv
	srv := serve(t, func(context.Context) (*signingkey.PublicSet, error) { return pub, nil })
	resp, err := http.Get(srv.URL + jwks.Path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(string(body), `"d"`) {
		t.Fatalf("%d %s: want a 503 without key material", resp.StatusCode, body)
	}
}
