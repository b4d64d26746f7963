package signingkey_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/signingkey"
)

func TestThumbprint_IsTheRFC7638ThumbprintOfThePublicKey(t *testing.T) {
	// RFC 8037, appendix A.3: the thumbprint of the Ed25519 key of appendix A.2.
	x, _ := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	got, err := signingkey.Thumbprint(ed25519.PublicKey(x))
	if err != nil {
		t.Fatal(err)
	}
	if want := "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("kid = %s, want %s", got, want)
	}
}

func TestParse_RoundTripsPKCS8AndRefusesKeysThatCannotSign(t *testing.T) {
	for _, alg := range []string{signingkey.EdDSA, signingkey.RS256} {
		priv, err := signingkey.Generate(alg)
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := signingkey.Marshal(priv)
		if !strings.HasPrefix(string(payload), "-----BEGIN PRIVATE KEY-----\n") {
			t.Errorf("%s payload is not PKCS#8 PEM: %.40s", alg, payload)
		}
		k, err := signingkey.Parse(payload)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		want, _ := signingkey.Thumbprint(priv.Public())
		if k.Algorithm != alg || k.ID != want {
			t.Errorf("parsed %s as %s kid %s, want kid %s", alg, k.Algorithm, k.ID, want)
		}
		if s := fmt.Sprintf("%v|%+v|%#v", k, k, k); s != k.String()+"|"+k.String()+"|"+k.String() {
			t.Errorf("%s: formatting a key prints more than its name: %.80s", alg, s)
		}
		if strings.Contains(k.String(), "PRIVATE") || strings.Contains(string(mustJSON(t, k.PublicJWK())), `"d"`) {
			t.Errorf("%s: a key's text or public JWK shows private material", alg)
		}
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pkcs8 := func(k any) []byte {
		der, _ := x509.MarshalPKCS8PrivateKey(k)
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	bad := map[string][]byte{
		"RSA-1024":       pkcs8(small),
		"ECDSA":          pkcs8(ec),
		"PKCS#1":         pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)}),
		"not PEM":        []byte("hello"),
		"trailing data":  append(pkcs8(ed25519.NewKeyFromSeed(make([]byte, 32))), "junk"...),
		"garbage in PEM": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("xx")}),
	}
	for name, payload := range bad {
		if _, err := signingkey.Parse(payload); !errors.Is(err, signingkey.ErrBadKey) {
			t.Errorf("%s: err = %v, want ErrBadKey", name, err)
		}
	}
}

func TestEnsure_CreatesTheSecretAndOneKeyPerAlgorithmOnce(t *testing.T) {
	s, id, _ := source(t)
	first, err := s.Ensure(t.Context(), signingkey.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Ensure(t.Context(), signingkey.EdDSA)
	if err != nil || again.ID != first.ID || again.Version != "1" {
		t.Fatalf("second Ensure = %v, %v: want the same key, version 1", again, err)
	}
	if n := counter(id, "AddSecretVersion").Load(); n != 1 {
		t.Errorf("%d versions added, want 1", n)
	}
	// Switching the deployment to jwt RS256: Ensure adds the RSA key it needs, keeps the other.
	rsaKey, err := s.Ensure(t.Context(), signingkey.RS256)
	if err != nil || rsaKey.Algorithm != signingkey.RS256 || rsaKey.Version != "2" {
		t.Fatalf("Ensure(RS256) = %v, %v", rsaKey, err)
	}
	set, _ := s.Keys(t.Context())
	if len(set.Keys) != 2 || set.Keys[0].ID != rsaKey.ID || set.Keys[1].ID != first.ID {
		t.Errorf("keys = %v", set.Keys)
	}
}

func TestKeys_EveryEnabledVersionNewestFirstSkippingADisabledNewest(t *testing.T) {
	s, id, _ := source(t)
	k1, _ := s.Ensure(t.Context(), signingkey.EdDSA)
	k2, _ := s.Rotate(t.Context(), signingkey.EdDSA)
	k3, err := s.Rotate(t.Context(), signingkey.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	set, err := s.Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(set); got != ids3(k3, k2, k1) {
		t.Fatalf("keys %s, want %s", got, ids3(k3, k2, k1))
	}
	// An operator disables the bad new key: `latest` would now fail; the listing skips it.
	disable(t, id, k3.Version)
	s.Forget()
	set, err = s.Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(set); got != k2.ID+" "+k1.ID {
		t.Errorf("after disabling version 3: keys %s, want %s %s", got, k2.ID, k1.ID)
	}
	if jwks := string(mustJSON(t, set.JWKS())); strings.Contains(jwks, k3.ID) || !strings.Contains(jwks, k1.ID) {
		t.Errorf("JWKS after disabling version 3: %s", jwks)
	}
}

func TestKeys_ListedOncePerTTLAndEachVersionReadOnce(t *testing.T) {
	s, id, c := source(t)
	if _, err := s.Ensure(t.Context(), signingkey.EdDSA); err != nil {
		t.Fatal(err)
	}
	lists, accesses := counter(id, "ListSecretVersions"), counter(id, "AccessSecretVersion")
	lists.Store(0)
	accesses.Store(0)
	s.Forget()

	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := s.Keys(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if lists.Load() != 1 || accesses.Load() != 1 {
		t.Fatalf("20 concurrent cold reads: %d listings, %d accesses; want 1 and 1", lists.Load(), accesses.Load())
	}
	c.Advance(29 * time.Second)
	_, _ = s.Keys(t.Context())
	if lists.Load() != 1 {
		t.Errorf("listed again within the TTL")
	}
	c.Advance(2 * time.Second)
	_, _ = s.Keys(t.Context())
	if lists.Load() != 2 || accesses.Load() != 1 {
		t.Errorf("after the TTL: %d listings, %d accesses; want 2 and 1 (a version's data never changes)", lists.Load(), accesses.Load())
	}
}

func TestRetire_DisablesAllButTheNewestOnceItIsOldEnough(t *testing.T) {
	s, _, c := source(t)
	old, _ := s.Ensure(t.Context(), signingkey.EdDSA)
	newest, _ := s.Rotate(t.Context(), signingkey.EdDSA)

	_, err := s.Retire(t.Context(), signingkey.RetireOptions{MinAge: 10 * time.Minute})
	if !errors.Is(err, signingkey.ErrTooSoon) {
		t.Fatalf("Retire right after Rotate = %v, want ErrTooSoon", err)
	}
	c.Advance(11 * time.Minute)
	retired, err := s.Retire(t.Context(), signingkey.RetireOptions{MinAge: 10 * time.Minute})
	if err != nil || len(retired) != 1 || retired[0].ID != old.ID {
		t.Fatalf("Retire = %v, %v; want the old key", retired, err)
	}
	set, err := s.Keys(t.Context())
	if err != nil || ids(set) != newest.ID {
		t.Errorf("keys after retiring = %v, %v; want only %s", set, err, newest.ID)
	}
}

func TestKeys_FailClosedOnAMissingSecretOrAnUnusableVersion(t *testing.T) {
	s, id, _ := source(t)
	if _, err := s.Keys(t.Context()); !errors.Is(err, signingkey.ErrNoKey) {
		t.Errorf("missing secret: err = %v, want ErrNoKey", err)
	}
	if _, err := s.Ensure(t.Context(), signingkey.EdDSA); err != nil {
		t.Fatal(err)
	}
	addPayload(t, id, []byte("not a key"))
	s.Forget()
	_, err := s.Keys(t.Context())
	if !errors.Is(err, signingkey.ErrBadKey) || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("a garbage newest version: err = %v, want ErrBadKey naming version 2", err)
	}
}

func TestSigners_V1aSignsWithEveryEd25519KeyAndJWTWithTheNewestKeyOfItsAlgorithm(t *testing.T) {
	s, _, _ := source(t)
	old, _ := s.Ensure(t.Context(), signingkey.EdDSA)
	newer, _ := s.Rotate(t.Context(), signingkey.EdDSA)

	v1a, err := signingkey.NewSigners(s, config.Config{SigningMode: config.SigningModeV1a})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := v1a.For(t.Context(), "https://r.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	header := sig.Sign("msg_1", 1700000000, []byte("{}"))
	entries := strings.Fields(header)
	if len(entries) != 2 {
		t.Fatalf("v1a during a rotation = %q, want two signatures", header)
	}
	for i, k := range []signingkey.Key{newer, old} {
		raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(entries[i], "v1a,"))
		if !ed25519.Verify(k.Public().(ed25519.PublicKey), []byte("msg_1.1700000000.{}"), raw) {
			t.Errorf("signature %d is not by %s", i, k)
		}
	}

	cfg := config.Config{SigningMode: config.SigningModeJWT, JWTAlgorithm: "RS256", PublicBaseURL: "https://hooks.example.com"}
	jwtSigners, err := signingkey.NewSigners(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwtSigners.For(t.Context(), "https://r.example.com/"); !errors.Is(err, signingkey.ErrNoKey) {
		t.Errorf("jwt RS256 with only Ed25519 keys: err = %v, want ErrNoKey", err)
	}
	rsaKey, _ := s.Rotate(t.Context(), signingkey.RS256)
	sig, err = jwtSigners.For(t.Context(), "https://r.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(sig.Sign("msg_1", 1700000000, []byte("{}")), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := tok.Claims(rsaKey.Public(), &claims); err != nil || tok.Headers[0].KeyID != rsaKey.ID {
		t.Errorf("token not signed by the RSA key (kid %s): %v", tok.Headers[0].KeyID, err)
	}
	if claims["aud"] != "https://r.example.com/" || claims["iss"] != "https://hooks.example.com" {
		t.Errorf("claims = %v", claims)
	}
}

func ids(set *signingkey.Set) string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.ID)
	}
	return strings.Join(out, " ")
}

func ids3(a, b, c signingkey.Key) string { return a.ID + " " + b.ID + " " + c.ID }

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A Source that publishes its public set lists the versions only when that set changed, or
// ListEvery (±20 %) after its last listing: every TTL it reads the published set's latest
// version instead (an access, not a read against the 600-a-minute quota). A rotation made by
// another instance is seen within one TTL.
func TestKeys_ListedOnlyWhenThePublishedSetChangesOrListEveryHasPassed(t *testing.T) {
	id := fmt.Sprintf("signing-%d", seq.Add(1))
	public := id + "-jwks"
	c := &clock{t: time.Now()}
	open := func() *signingkey.Source {
		s, err := signingkey.New(smClient, googleProject, id, signingkey.Options{CacheTTL: 30 * time.Second, Now: c.Now, PublicSecretID: public})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s, admin := open(), open()
	first, err := s.Ensure(t.Context(), signingkey.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	lists := counter(id, "ListSecretVersions")
	s.Forget()
	if _, err := s.Keys(t.Context()); err != nil {
		t.Fatal(err)
	}
	lists.Store(0)
	for range 14 { // 7 minutes, a read every TTL
		c.Advance(31 * time.Second)
		if _, err := s.Keys(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if n := lists.Load(); n != 0 {
		t.Errorf("7 minutes of reads with the published set unchanged listed %d times, want none", n)
	}
	if n := counter(public, "AccessSecretVersion").Load(); n < 14 {
		t.Errorf("the published set was read %d times in 14 TTLs, want each", n)
	}

	second, err := admin.Rotate(t.Context(), signingkey.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	lists.Store(0) // the admin's own listings
	c.Advance(31 * time.Second)
	set, err := s.Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := set.Newest(signingkey.EdDSA); k.ID != second.ID || lists.Load() != 1 {
		t.Errorf("a TTL after another instance rotated: newest %s (rotated in %s, first %s), %d listings; want the new key after one listing", k.ID, second.ID, first.ID, lists.Load())
	}

	lists.Store(0)
	for range 26 { // 13 minutes: one listing is due within ListEvery ±20 %
		c.Advance(30 * time.Second)
		if _, err := s.Keys(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if n := lists.Load(); n != 1 {
		t.Errorf("13 minutes with the published set unchanged: %d listings, want 1 (ListEvery %v ±20 %%)", n, signingkey.ListEvery)
	}
}
