package verify_test

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/jobhooks/jobhooks/shared/verify"
)

// The published test vectors (shared/signing/testdata): every case verifies with this library,
// its v1 cases with the Standard Webhooks reference library and an independent HMAC, its jwt
// cases with go-jose alone. shared/signing checks that the code still produces them.
func TestVectors_EveryPublishedCaseVerifies(t *testing.T) {
	data, err := os.ReadFile("../signing/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Keys map[string]struct {
			Secret     string `json:"secret"`
			PrivatePEM string `json:"private_pkcs8_pem"`
		} `json:"keys"`
		JWKS  json.RawMessage `json:"jwks"`
		Cases []struct {
			Name, Scheme, Issuer, Audience string
			Keys                           []string
			WebhookID                      string `json:"webhook_id"`
			WebhookTimestamp               int64  `json:"webhook_timestamp"`
			Body                           string `json:"body"`
			WebhookSignature               string `json:"webhook_signature"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(v.JWKS)
	}))
	defer srv.Close()

	if len(v.Cases) < 6 {
		t.Fatalf("only %d cases", len(v.Cases))
	}
	for _, c := range v.Cases {
		t.Run(c.Name, func(t *testing.T) {
			at := time.Unix(c.WebhookTimestamp, 0)
			h := headers(c.WebhookID, c.WebhookTimestamp, c.WebhookSignature)
			body := []byte(c.Body)
			opts := verify.Options{JWKSURL: srv.URL, Issuer: c.Issuer, Audience: c.Audience, Now: func() time.Time { return at }}
			if c.Scheme == "v1" {
				opts = verify.Options{Now: opts.Now}
			}
			for _, name := range c.Keys {
				if c.Scheme != "v1" {
					continue
				}
				// Each secret of a rotation verifies alone.
				opts.Secrets = []string{v.Keys[name].Secret}
				if err := newVerifier(t, opts).Verify(t.Context(), h, body); err != nil {
					t.Errorf("secret %s: %v", name, err)
				}
				wh, _ := standardwebhooks.NewWebhook(v.Keys[name].Secret)
				if err := wh.VerifyIgnoringTimestamp(body, h); err != nil {
					t.Errorf("the reference library rejects it with secret %s: %v", name, err)
				}
				key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(v.Keys[name].Secret, "whsec_"))
				if !strings.Contains(c.WebhookSignature, hmacOf(key, c.WebhookID, c.WebhookTimestamp, body)) {
					t.Errorf("no entry is the HMAC computed independently with %s", name)
				}
			}
			if c.Scheme == "v1" {
				return
			}
			if err := newVerifier(t, opts).Verify(t.Context(), h, body); err != nil {
				t.Errorf("verify: %v", err)
			}
			late := opts
			late.Now = func() time.Time { return at.Add(6 * time.Minute) }
			wantErr(t, "six minutes later", newVerifier(t, late).Verify(t.Context(), h, body), verify.ErrTimestamp)
			if c.Scheme == "jwt" {
				tok, err := jwt.ParseSigned(c.WebhookSignature, []jose.SignatureAlgorithm{jose.RS256, jose.EdDSA})
				if err != nil {
					t.Fatal(err)
				}
				var claims jwt.Claims
				if err := tok.Claims(publicOf(t, v.Keys[c.Keys[0]].PrivatePEM), &claims); err != nil {
					t.Errorf("go-jose: %v", err)
				}
				if claims.ID != c.WebhookID || !claims.Audience.Contains(c.Audience) || claims.Issuer != c.Issuer {
					t.Errorf("claims %+v", claims)
				}
			}
		})
	}
}

func publicOf(t *testing.T, privatePEM string) crypto.PublicKey {
	t.Helper()
	block, _ := pem.Decode([]byte(privatePEM))
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return priv.(crypto.Signer).Public()
}
