package signing_test

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"os"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/jobhooks/jobhooks/shared/signing"
	"github.com/jobhooks/jobhooks/shared/signingkey"
)

// The published test vectors (shared/signing/testdata/README.md). `go test ./shared/signing -run
// TestVectors -update` rewrites testdata/vectors.json from the code, keeping its keys; without
// -update the test fails when the code and the file disagree.
var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the code")

const vectorsFile = "testdata/vectors.json"

// Vectors is the file's shape; shared/verify reads it too.
type Vectors struct {
	Comment string               `json:"comment"`
	Keys    map[string]VectorKey `json:"keys"`
	JWKS    json.RawMessage      `json:"jwks"`
	Cases   []VectorCase         `json:"cases"`
}

// VectorKey is one fixed key: a whsec_ secret, or a PKCS#8 PEM private key with its public JWK.
type VectorKey struct {
	Secret     string          `json:"secret,omitempty"`
	PrivatePEM string          `json:"private_pkcs8_pem,omitempty"`
	PublicJWK  json.RawMessage `json:"public_jwk,omitempty"`
}

// VectorCase is one request and its expected signature header.
type VectorCase struct {
	Name string `json:"name"`
	// Scheme is v1, v1a or jwt.
	Scheme string `json:"scheme"`
	// Keys name the signing keys, newest first.
	Keys             []string `json:"keys"`
	Issuer           string   `json:"issuer,omitempty"`
	Audience         string   `json:"audience,omitempty"`
	WebhookID        string   `json:"webhook_id"`
	WebhookTimestamp int64    `json:"webhook_timestamp"`
	Body             string   `json:"body"`
	// SignedContent is what v1 and v1a sign: "<webhook_id>.<webhook_timestamp>.<body>".
	SignedContent    string `json:"signed_content,omitempty"`
	WebhookSignature string `json:"webhook_signature"`
}

func TestVectors_MatchTheCode(t *testing.T) {
	v := loadVectors(t)
	regenerate(t, &v)
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(vectorsFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, _ := os.ReadFile(vectorsFile)
	if !bytes.Equal(got, want) {
		t.Fatalf("%s does not match what the code signs; if the change is intended, run go test -run TestVectors -update", vectorsFile)
	}
}

// loadVectors reads the file, or starts one with fresh keys.
func loadVectors(t *testing.T) Vectors {
	var v Vectors
	data, err := os.ReadFile(vectorsFile)
	if os.IsNotExist(err) && *update {
		return freshVectors(t)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func freshVectors(t *testing.T) Vectors {
	secret := func() VectorKey {
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		return VectorKey{Secret: "whsec_" + base64.StdEncoding.EncodeToString(k)}
	}
	private := func(priv crypto.Signer) VectorKey {
		pem, err := signingkey.Marshal(priv)
		if err != nil {
			t.Fatal(err)
		}
		return VectorKey{PrivatePEM: string(pem)}
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	_, edOld, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	return Vectors{Keys: map[string]VectorKey{
		"v1_secret": secret(), "v1_secret_old": secret(),
		"ed25519": private(ed), "ed25519_old": private(edOld), "rsa": private(rsaKey),
	}}
}

// regenerate recomputes everything but the private keys and secrets.
func regenerate(t *testing.T, v *Vectors) {
	t.Helper()
	v.Comment = "Jobhooks signature test vectors: see README.md next to this file. The keys are published test keys; never use them."
	keys := map[string]signingkey.Key{}
	var jwks jose.JSONWebKeySet
	for _, name := range []string{"ed25519", "ed25519_old", "rsa"} {
		vk := v.Keys[name]
		k, err := signingkey.Parse([]byte(vk.PrivatePEM))
		if err != nil {
			t.Fatalf("key %s: %v", name, err)
		}
		keys[name] = k
		pub, _ := json.Marshal(k.PublicJWK())
		vk.PublicJWK = pub
		v.Keys[name] = vk
		jwks.Keys = append(jwks.Keys, k.PublicJWK())
	}
	v.JWKS, _ = json.Marshal(jwks)

	const (
		id     = "msg_3vh49q23027z6p1gth2rrw86c5" // event.MessageID("acme", "batch-123")
		ts     = int64(1795860000)                // 2026-11-28T10:00:00Z
		issuer = "https://hooks.example.com"
		aud    = "https://receiver.example.com/webhooks/jobs"
	)
	body := `{"type":"batch.succeeded","version":"v1","timestamp":"2026-11-28T09:59:58Z","data":{"id":"batches/123","output_file_uri":"gs://bucket/out.jsonl"}}`
	dynBody := `{"type":"video.generated","version":"v1","timestamp":"2026-11-28T09:59:58Z","data":{"id":"videos/9","output_file_uri":"gs://b/v.mp4","file_name":"v.mp4"},"user_metadata":{"customer":"Zoë","order":42},"target_uri":"` + aud + `"}`
	cases := []VectorCase{
		{Name: "v1, one secret", Scheme: "v1", Keys: []string{"v1_secret"}, Body: body},
		{Name: "v1, two secrets during a rotation", Scheme: "v1", Keys: []string{"v1_secret", "v1_secret_old"}, Body: body},
		{Name: "v1a, one key", Scheme: "v1a", Keys: []string{"ed25519"}, Audience: aud, Body: dynBody},
		{Name: "v1a, two keys during a rotation", Scheme: "v1a", Keys: []string{"ed25519", "ed25519_old"}, Audience: aud, Body: dynBody},
		{Name: "jwt, RS256", Scheme: "jwt", Keys: []string{"rsa"}, Issuer: issuer, Audience: aud, Body: dynBody},
		{Name: "jwt, EdDSA", Scheme: "jwt", Keys: []string{"ed25519"}, Issuer: issuer, Audience: aud, Body: dynBody},
	}
	for i := range cases {
		c := &cases[i]
		c.WebhookID, c.WebhookTimestamp = id, ts
		body := []byte(c.Body)
		switch c.Scheme {
		case "v1":
			var secrets [][]byte
			for _, name := range c.Keys {
				k, err := base64.StdEncoding.DecodeString(v.Keys[name].Secret[len("whsec_"):])
				if err != nil {
					t.Fatal(err)
				}
				secrets = append(secrets, k)
			}
			c.SignedContent = string(signing.AppendContent(nil, id, ts, body))
			c.WebhookSignature = signing.NewHMAC(secrets...).Sign(id, ts, body)
		case "v1a":
			var privs []ed25519.PrivateKey
			for _, name := range c.Keys {
				privs = append(privs, privateOf(t, v.Keys[name]).(ed25519.PrivateKey))
			}
			c.SignedContent = string(signing.AppendContent(nil, id, ts, body))
			c.WebhookSignature = signing.NewEd25519(privs...).Sign(id, ts, body)
		case "jwt":
			k := keys[c.Keys[0]]
			j, err := signing.NewJWT(privateOf(t, v.Keys[c.Keys[0]]), k.Algorithm, k.ID, c.Issuer)
			if err != nil {
				t.Fatal(err)
			}
			c.WebhookSignature = j.For(c.Audience).Sign(id, ts, body)
		}
	}
	v.Cases = cases
}

func privateOf(t *testing.T, k VectorKey) crypto.Signer {
	t.Helper()
	block, _ := pem.Decode([]byte(k.PrivatePEM))
	if block == nil {
		t.Fatal("a vector key is not PEM")
	}
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return priv.(crypto.Signer)
}
