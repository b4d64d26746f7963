package secrets_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"

	"github.com/jobhooks/jobhooks/shared/devtools/localsecretmanager"
	"github.com/jobhooks/jobhooks/shared/secrets"
)

func TestSealOpen_RoundTrip(t *testing.T) {
	k, _ := keyring(t, newKEKID(), secrets.KeyringOptions{})
	secret, _ := secrets.Generate()

	sealed, err := k.SealSecret(t.Context(), secret, webhookName)
	if err != nil {
		t.Fatal(err)
	}
	if sealed.KEKVersion != "1" || len(sealed.Ciphertext) != 12+32+16 {
		t.Fatalf("Sealed = version %q, %d bytes; want version 1, nonce+32+tag bytes", sealed.KEKVersion, len(sealed.Ciphertext))
	}
	opened, err := k.OpenSecret(t.Context(), sealed, webhookName)
	if err != nil {
		t.Fatal(err)
	}
	if !opened.Equal(secret) {
		t.Fatal("OpenSecret returned a different secret")
	}
}

func TestSeal_CiphertextHidesPlaintextAndNeverRepeats(t *testing.T) {
	k, _ := keyring(t, newKEKID(), secrets.KeyringOptions{})
	plaintext := []byte("a webhook signing secret, 32 b!!")
	a, err := k.Seal(t.Context(), plaintext, webhookName)
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.Seal(t.Context(), plaintext, webhookName)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(a.Ciphertext, plaintext) || bytes.Contains(a.Ciphertext, plaintext[:8]) {
		t.Fatal("the ciphertext contains the plaintext")
	}
	if bytes.Equal(a.Ciphertext, b.Ciphertext) || bytes.Equal(a.Ciphertext[:12], b.Ciphertext[:12]) {
		t.Fatal("two seals of the same plaintext share a nonce")
	}
}

func TestOpen_WrongAssociatedDataIsErrDecrypt(t *testing.T) {
	k, _ := keyring(t, newKEKID(), secrets.KeyringOptions{})
	sealed, err := k.Seal(t.Context(), []byte("secret"), webhookName)
	if err != nil {
		t.Fatal(err)
	}
	for _, aad := range []string{"projects/demo/webhooks/wh_2", "projects/other/webhooks/wh_1", ""} {
		_, err := k.Open(t.Context(), sealed, aad)
		wantErr(t, err, secrets.ErrDecrypt)
	}
}

func TestOpen_TamperedOrTruncatedCiphertextIsErrDecrypt(t *testing.T) {
	k, _ := keyring(t, newKEKID(), secrets.KeyringOptions{})
	sealed, err := k.Seal(t.Context(), []byte("secret"), webhookName)
	if err != nil {
		t.Fatal(err)
	}
	for i := range sealed.Ciphertext { // nonce, body and tag
		tampered := secrets.Sealed{KEKVersion: sealed.KEKVersion, Ciphertext: bytes.Clone(sealed.Ciphertext)}
		tampered.Ciphertext[i] ^= 0x01
		_, err := k.Open(t.Context(), tampered, webhookName)
		wantErr(t, err, secrets.ErrDecrypt)
	}
	for _, n := range []int{0, 12, 27, len(sealed.Ciphertext) - 1} {
		_, err := k.Open(t.Context(), secrets.Sealed{KEKVersion: "1", Ciphertext: sealed.Ciphertext[:n]}, webhookName)
		wantErr(t, err, secrets.ErrDecrypt)
	}
}

func TestOpen_WrongKEKIsErrDecrypt(t *testing.T) {
	k, _ := keyring(t, newKEKID(), secrets.KeyringOptions{})
	other, _ := keyring(t, newKEKID(), secrets.KeyringOptions{})
	sealed, err := other.Seal(t.Context(), []byte("secret"), webhookName)
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.Open(t.Context(), sealed, webhookName) // same version number, different key
	wantErr(t, err, secrets.ErrDecrypt)
}

func TestOpen_MissingOrMalformedKEKVersionIsUnusable(t *testing.T) {
	k, _ := keyring(t, newKEKID(), secrets.KeyringOptions{})
	sealed, err := k.Seal(t.Context(), []byte("secret"), webhookName)
	if err != nil {
		t.Fatal(err)
	}
	for _, version := range []string{"2", "99", "latest", "", "0", "01", "1/../2", "-1"} {
		_, err := k.Open(t.Context(), secrets.Sealed{KEKVersion: version, Ciphertext: sealed.Ciphertext}, webhookName)
		wantErr(t, err, secrets.ErrKEKVersionUnusable)
	}
}

func TestOpen_DisabledVersionFailsClosedWithinCacheTTL(t *testing.T) {
	kekID := newKEKID()
	k, clock := keyring(t, kekID, secrets.KeyringOptions{CacheTTL: 30 * time.Second})
	sealed, err := k.Seal(t.Context(), []byte("secret"), webhookName)
	if err != nil {
		t.Fatal(err)
	}
	disable(t, kekID, "1")

	clock.Advance(29 * time.Second) // still cached: per-instance caching is the promise
	if _, err := k.Open(t.Context(), sealed, webhookName); err != nil {
		t.Fatalf("Open within the TTL: %v", err)
	}
	clock.Advance(2 * time.Second)
	_, err = k.Open(t.Context(), sealed, webhookName)
	wantErr(t, err, secrets.ErrKEKVersionUnusable)
	_, err = k.Seal(t.Context(), []byte("secret"), webhookName)
	wantErr(t, err, secrets.ErrKEKVersionUnusable) // no enabled version left

	if _, err := smClient.EnableSecretVersion(t.Context(), &secretmanagerpb.EnableSecretVersionRequest{Name: versionName(kekID, "1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Open(t.Context(), sealed, webhookName); err != nil {
		t.Fatalf("Open after re-enabling: %v", err)
	}
}

func TestOpen_DestroyedVersionIsUnusable(t *testing.T) {
	kekID := newKEKID()
	k, _ := keyring(t, kekID, secrets.KeyringOptions{CacheTTL: -1})
	sealed, err := k.Seal(t.Context(), []byte("secret"), webhookName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := smClient.DestroySecretVersion(t.Context(), &secretmanagerpb.DestroySecretVersionRequest{Name: versionName(kekID, "1")}); err != nil {
		t.Fatal(err)
	}
	_, err = k.Open(t.Context(), sealed, webhookName)
	wantErr(t, err, secrets.ErrKEKVersionUnusable)
}

func TestRotation_OldCiphertextsOpenNewSealsUseNewVersionWithinTTL(t *testing.T) {
	kekID := newKEKID()
	k, clock := keyring(t, kekID, secrets.KeyringOptions{})
	admin, _ := keyring(t, kekID, secrets.KeyringOptions{}) // another instance rotates
	old, err := k.Seal(t.Context(), []byte("old"), webhookName)
	if err != nil {
		t.Fatal(err)
	}

	v2, err := admin.RotateKEK(t.Context())
	if err != nil || v2 != "2" {
		t.Fatalf("RotateKEK = %q, %v; want version 2", v2, err)
	}
	if s, _ := k.Seal(t.Context(), []byte("x"), webhookName); s.KEKVersion != "1" {
		t.Fatalf("within the TTL the cached version seals; got version %q", s.KEKVersion)
	}
	clock.Advance(secrets.DefaultCacheTTL)
	fresh, err := k.Seal(t.Context(), []byte("new"), webhookName)
	if err != nil || fresh.KEKVersion != "2" {
		t.Fatalf("after the TTL Seal = version %q, %v; want version 2", fresh.KEKVersion, err)
	}
	for want, s := range map[string]secrets.Sealed{"old": old, "new": fresh} {
		got, err := k.Open(t.Context(), s, webhookName)
		if err != nil || string(got) != want {
			t.Fatalf("Open(%s) = %q, %v", want, got, err)
		}
	}
	if s, _ := admin.Seal(t.Context(), []byte("x"), webhookName); s.KEKVersion != "2" {
		t.Fatalf("the rotating instance seals with its new version at once; got %q", s.KEKVersion)
	}
}

func TestSeal_SkipsDisabledNewestVersion(t *testing.T) {
	// Secret Manager's `latest` is the newest version even when disabled; an operator who
	// disables a bad new KEK must not stop webhook creation.
	kekID := newKEKID()
	k, _ := keyring(t, kekID, secrets.KeyringOptions{CacheTTL: -1})
	if _, err := k.RotateKEK(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := k.RotateKEK(t.Context()); err != nil {
		t.Fatal(err)
	}
	disable(t, kekID, "3")
	sealed, err := k.Seal(t.Context(), []byte("secret"), webhookName)
	if err != nil || sealed.KEKVersion != "2" {
		t.Fatalf("Seal = version %q, %v; want the newest enabled version 2", sealed.KEKVersion, err)
	}
}

func TestSeal_NoUsableKEKIsUnusable(t *testing.T) {
	k, err := secrets.NewKeyring(smClient, googleProject, newKEKID(), secrets.KeyringOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.Seal(t.Context(), []byte("secret"), webhookName) // the secret does not exist
	wantErr(t, err, secrets.ErrKEKVersionUnusable)

	kekID := newKEKID() // a KEK version of the wrong length, as a hand-made secret might have
	kr, _ := keyring(t, kekID, secrets.KeyringOptions{CacheTTL: -1})
	if _, err := smClient.AddSecretVersion(t.Context(), &secretmanagerpb.AddSecretVersionRequest{
		Parent: "projects/" + googleProject + "/secrets/" + kekID, Payload: &secretmanagerpb.SecretPayload{Data: []byte("sixteen byte key")},
	}); err != nil {
		t.Fatal(err)
	}
	_, err = kr.Seal(t.Context(), []byte("secret"), webhookName)
	wantErr(t, err, secrets.ErrKEKVersionUnusable)
	if strings.Contains(err.Error(), "sixteen") {
		t.Fatalf("error %q shows key material", err)
	}
}

func TestSecretManagerFailures_AreErrUnavailable(t *testing.T) {
	kekID := newKEKID()
	k, _ := keyring(t, kekID, secrets.KeyringOptions{CacheTTL: -1, FetchTimeout: 200 * time.Millisecond})
	sealed, err := k.Seal(t.Context(), []byte("secret"), webhookName)
	if err != nil {
		t.Fatal(err)
	}
	// Unavailable is retried by the client until the fetch timeout; the others fail at once.
	for _, code := range []codes.Code{codes.Unavailable, codes.Internal, codes.PermissionDenied, codes.ResourceExhausted} {
		faults.Store(kekID, code)
		_, err := k.Open(t.Context(), sealed, webhookName)
		wantErr(t, err, secrets.ErrUnavailable)
		_, err = k.Seal(t.Context(), []byte("secret"), webhookName)
		wantErr(t, err, secrets.ErrUnavailable)
	}
	faults.Delete(kekID)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = k.Open(ctx, sealed, webhookName)
	wantErr(t, err, secrets.ErrUnavailable)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v should carry the context's cause", err)
	}
}

func TestSecretManagerUnreachable_IsErrUnavailable(t *testing.T) {
	srv, err := localsecretmanager.Start(localsecretmanager.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := secretmanager.NewClient(t.Context(), localsecretmanager.ClientOptions(srv.Addr())...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	k, err := secrets.NewKeyring(c, googleProject, "kek", secrets.KeyringOptions{CacheTTL: -1, FetchTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.EnsureKEK(t.Context()); err != nil {
		t.Fatal(err)
	}
	sealed, err := k.Seal(t.Context(), []byte("secret"), webhookName)
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	_, err = k.Open(t.Context(), sealed, webhookName)
	wantErr(t, err, secrets.ErrUnavailable)
}

func TestCache_WarmOpenAndSealDoNotReadSecretManager(t *testing.T) {
	kekID := newKEKID()
	k, clock := keyring(t, kekID, secrets.KeyringOptions{})
	sealed, err := k.Seal(t.Context(), []byte("secret"), webhookName)
	if err != nil {
		t.Fatal(err)
	}
	before := accessCount(kekID).Load()
	for range 100 {
		if _, err := k.Open(t.Context(), sealed, webhookName); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Seal(t.Context(), []byte("s"), webhookName); err != nil {
			t.Fatal(err)
		}
	}
	if n := accessCount(kekID).Load() - before; n != 0 {
		t.Fatalf("warm cache read Secret Manager %d times, want 0", n)
	}
	clock.Advance(secrets.DefaultCacheTTL)
	if _, err := k.Open(t.Context(), sealed, webhookName); err != nil {
		t.Fatal(err)
	}
	if n := accessCount(kekID).Load() - before; n != 1 {
		t.Fatalf("an expired entry was read %d times, want 1", n)
	}
}

func TestCache_ConcurrentColdOpensShareOneRead(t *testing.T) {
	kekID := newKEKID()
	sealer, _ := keyring(t, kekID, secrets.KeyringOptions{})
	sealed, err := sealer.Seal(t.Context(), []byte("secret"), webhookName)
	if err != nil {
		t.Fatal(err)
	}
	k, err := secrets.NewKeyring(smClient, googleProject, kekID, secrets.KeyringOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before := accessCount(kekID).Load()
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if got, err := k.Open(t.Context(), sealed, webhookName); err != nil || string(got) != "secret" {
				t.Errorf("Open = %q, %v", got, err)
			}
		})
	}
	wg.Wait()
	if n := accessCount(kekID).Load() - before; n != 1 {
		t.Fatalf("50 concurrent cold Opens read Secret Manager %d times, want 1", n)
	}
}

func TestEnsureKEK_IsIdempotent(t *testing.T) {
	kekID := newKEKID()
	k, _ := keyring(t, kekID, secrets.KeyringOptions{})
	if err := k.EnsureKEK(t.Context()); err != nil {
		t.Fatal(err)
	}
	resp, err := smClient.GetSecretVersion(t.Context(), &secretmanagerpb.GetSecretVersionRequest{Name: versionName(kekID, "latest")})
	if err != nil || resp.GetName() != versionName(kekID, "1") {
		t.Fatalf("after EnsureKEK twice the newest version is %v (%v), want version 1 only", resp.GetName(), err)
	}
}

func TestNewKeyring_RejectsBadNames(t *testing.T) {
	for _, c := range []struct{ project, secret string }{{"", "kek"}, {"p/x", "kek"}, {googleProject, ""}, {googleProject, "a/b"}} {
		if _, err := secrets.NewKeyring(smClient, c.project, c.secret, secrets.KeyringOptions{}); err == nil {
			t.Errorf("NewKeyring(%q, %q) accepted", c.project, c.secret)
		}
	}
	if _, err := secrets.NewKeyring(nil, googleProject, "kek", secrets.KeyringOptions{}); err == nil {
		t.Error("NewKeyring accepted a nil client")
	}
}

func BenchmarkOpen_WarmCache(b *testing.B) {
	k, err := secrets.NewKeyring(smClient, googleProject, newKEKID(), secrets.KeyringOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if err := k.EnsureKEK(b.Context()); err != nil {
		b.Fatal(err)
	}
	secret, _ := secrets.Generate()
	sealed, err := k.SealSecret(b.Context(), secret, webhookName)
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.OpenSecret(ctx, sealed, webhookName); err != nil {
			b.Fatal(err)
		}
	}
}
