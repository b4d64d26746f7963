package signing

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func TestJWT_TokenCarriesTheSpecClaimsAndVerifiesWithGoJose(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	body := []byte(`{"type":"video.generated","version":"v1","timestamp":"2026-11-28T10:00:00Z","data":{"id":"v/1"}}`)
	for _, tc := range []struct {
		alg string
		key crypto.Signer
	}{{RS256, rsaKey}, {EdDSA, edKey}} {
		t.Run(tc.alg, func(t *testing.T) {
			j, err := NewJWT(tc.key, tc.alg, "kid-1", "https://hooks.example.com")
			if err != nil {
				t.Fatal(err)
			}
			token := j.For("https://receiver.example.com/hook").Sign("msg_abc", 1700000000, body)

			tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(tc.alg)})
			if err != nil {
				t.Fatal(err)
			}
			if h := tok.Headers[0]; h.KeyID != "kid-1" || h.Algorithm != tc.alg || h.ExtraHeaders["typ"] != "JWT" {
				t.Errorf("header = %+v", h)
			}
			var claims map[string]any
			if err := tok.Claims(tc.key.Public(), &claims); err != nil {
				t.Fatalf("go-jose does not verify the token: %v", err)
			}
			sum := sha256.Sum256(body)
			want := map[string]any{
				"iss": "https://hooks.example.com", "aud": "https://receiver.example.com/hook",
				"iat": 1700000000.0, "exp": 1700000300.0, "jti": "msg_abc",
				"body_sha256": base64.RawURLEncoding.EncodeToString(sum[:]),
			}
			got, _ := json.Marshal(claims)
			exp, _ := json.Marshal(want)
			if !bytes.Equal(got, exp) {
				t.Errorf("claims\n got %s\nwant %s", got, exp)
			}
			var std jwt.Claims
			_ = tok.Claims(tc.key.Public(), &std)
			if err := std.Validate(jwt.Expected{Issuer: "https://hooks.example.com", AnyAudience: jwt.Audience{"https://receiver.example.com/hook"}, Time: std.IssuedAt.Time()}); err != nil {
				t.Errorf("go-jose's own claim validation: %v", err)
			}
		})
	}
}

func TestJWT_RefusesWhatItCannotSignWith(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := NewJWT(edKey, RS256, "k", "https://x.example"); err == nil {
		t.Error("an Ed25519 key accepted for RS256")
	}
	if _, err := NewJWT(edKey, "HS256", "k", "https://x.example"); err == nil {
		t.Error("HS256 accepted")
	}
	if _, err := NewJWT(edKey, EdDSA, "k", ""); err == nil {
		t.Error("a signer without an issuer accepted")
	}
}

// BenchmarkJWT_RS256 measures jwt-mode signing with an RSA-2048 key, the default.
func BenchmarkJWT_RS256(b *testing.B) {
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	benchmarkJWT(b, k, RS256)
}

// BenchmarkJWT_EdDSA measures jwt-mode signing with an Ed25519 key.
func BenchmarkJWT_EdDSA(b *testing.B) {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	benchmarkJWT(b, k, EdDSA)
}

func benchmarkJWT(b *testing.B, k crypto.Signer, alg string) {
	j, err := NewJWT(k, alg, "kid", "https://hooks.example.com")
	if err != nil {
		b.Fatal(err)
	}
	s := j.For("https://receiver.example.com/hook")
	body := bytes.Repeat([]byte("a"), 1024)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Sign("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", 1700000000, body)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jwts/s")
}
