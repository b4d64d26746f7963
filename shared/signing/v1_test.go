package signing

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func TestHMAC_SignatureVerifiesWithTheReferenceLibrary(t *testing.T) {
	oldKey, newKey := key(t), key(t)
	body := []byte(`{"type":"batch.succeeded","version":"v1","timestamp":"2026-11-28T10:00:00Z","data":{}}`)
	now := time.Now().Unix()
	sig := NewHMAC(newKey, oldKey).Sign("msg_abc", now, body)
	if n := len(strings.Fields(sig)); n != 2 {
		t.Fatalf("want two signatures during rotation, got %q", sig)
	}
	h := http.Header{}
	h.Set(HeaderID, "msg_abc")
	h.Set(HeaderTimestamp, strconv.FormatInt(now, 10))
	h.Set(HeaderSignature, sig)
	for name, k := range map[string][]byte{"old": oldKey, "new": newKey} {
		wh, _ := standardwebhooks.NewWebhook("whsec_" + base64.StdEncoding.EncodeToString(k))
		if err := wh.Verify(body, h); err != nil {
			t.Errorf("%s secret: %v", name, err)
		}
	}
	tampered := bytes.Replace(body, []byte("succeeded"), []byte("failed"), 1)
	wh, _ := standardwebhooks.NewWebhookRaw(newKey)
	if err := wh.Verify(tampered, h); err == nil {
		t.Error("tampered body verified")
	}
	other, _ := standardwebhooks.NewWebhookRaw(key(t))
	if err := other.Verify(body, h); err == nil {
		t.Error("a foreign secret verified")
	}
}

func TestHMAC_MatchesTheReferenceSigner(t *testing.T) {
	k := key(t)
	ref, _ := standardwebhooks.NewWebhookRaw(k)
	ts := time.Unix(1700000000, 0)
	want, _ := ref.Sign("msg_x", ts, []byte("{}"))
	if got := NewHMAC(k).Sign("msg_x", ts.Unix(), []byte("{}")); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func key(t testing.TB) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// BenchmarkHMAC_Sign1KiB measures v1 signing of a 1 KiB body (shared/devtools/README.md, Targets
// the benchmarks report: ≥ 300k/s per core).
func BenchmarkHMAC_Sign1KiB(b *testing.B) {
	s := NewHMAC(key(b))
	body := bytes.Repeat([]byte("a"), 1024)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Sign("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", 1700000000, body)
	}
}
