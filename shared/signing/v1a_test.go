package signing

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
)

func TestEd25519_SignsTheStandardWebhooksContentWithEveryKeyNewestFirst(t *testing.T) {
	newPub, newKey, _ := ed25519.GenerateKey(rand.Reader)
	oldPub, oldKey, _ := ed25519.GenerateKey(rand.Reader)
	body := []byte(`{"type":"batch.succeeded","version":"v1","timestamp":"2026-11-28T10:00:00Z","data":{},"user_metadata":{"k":"é"}}`)

	header := NewEd25519(newKey, oldKey).Sign("msg_abc", 1700000000, body)
	entries := strings.Fields(header)
	if len(entries) != 2 {
		t.Fatalf("want two signatures during a rotation, got %q", header)
	}
	content := []byte("msg_abc.1700000000." + string(body))
	for i, pub := range []ed25519.PublicKey{newPub, oldPub} {
		b64, ok := strings.CutPrefix(entries[i], "v1a,")
		if !ok {
			t.Fatalf("entry %d = %q, want v1a,<base64>", i, entries[i])
		}
		sig, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		if !ed25519.Verify(pub, content, sig) {
			t.Errorf("entry %d does not verify with key %d over <id>.<timestamp>.<body>", i, i)
		}
		if ed25519.Verify(pub, bytes.Replace(content, []byte("succeeded"), []byte("failed"), 1), sig) {
			t.Errorf("entry %d verifies a changed body", i)
		}
	}
}

func TestEd25519_IsDeterministicAndSafeForConcurrentUse(t *testing.T) {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	s := NewEd25519(k)
	small, large := []byte("{}"), bytes.Repeat([]byte("x"), 100<<10)
	want := map[int]string{0: s.Sign("msg_1", 1, small), 1: s.Sign("msg_1", 1, large)}
	done := make(chan string, 64)
	for i := range 64 {
		go func() {
			if i%2 == 0 {
				done <- s.Sign("msg_1", 1, small)
			} else {
				done <- s.Sign("msg_1", 1, large)
			}
		}()
	}
	for range 64 {
		if got := <-done; got != want[0] && got != want[1] {
			t.Fatal("a concurrent signature differs: pooled buffers are shared")
		}
	}
}

// BenchmarkEd25519_Sign1KiB measures v1a signing of a 1 KiB body with one key
// (shared/devtools/README.md, Targets the benchmarks report: ≥ 15k/s per core).
func BenchmarkEd25519_Sign1KiB(b *testing.B) {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	s := NewEd25519(k)
	body := bytes.Repeat([]byte("a"), 1024)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Sign("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", 1700000000, body)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sigs/s")
}
