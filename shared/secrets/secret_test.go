package secrets_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/jobhooks/jobhooks/shared/secrets"
)

func TestGenerate_RevealsWhsecPaddedBase64Of32RandomBytes(t *testing.T) {
	a, err := secrets.Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := secrets.Generate()
	if err != nil {
		t.Fatal(err)
	}
	full := a.Reveal()
	encoded, ok := strings.CutPrefix(full, "whsec_")
	if !ok {
		t.Fatalf("Reveal() = %q, want the whsec_ prefix", full)
	}
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil || len(raw) != 32 || !strings.HasSuffix(encoded, "=") {
		t.Fatalf("Reveal() = %q: want padded standard base64 of 32 bytes (decoded %d bytes, %v)", full, len(raw), err)
	}
	if !bytes.Equal(raw, a.Bytes()) {
		t.Fatal("Reveal and Bytes disagree")
	}
	if a.Equal(b) {
		t.Fatal("two generated secrets are equal")
	}
}

func TestParse_RoundTripsReveal(t *testing.T) {
	s, _ := secrets.Generate()
	parsed, err := secrets.Parse(s.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	if !parsed.Equal(s) || parsed.Reveal() != s.Reveal() {
		t.Fatal("Parse(Reveal()) is not the same secret")
	}
}

func TestParse_RejectsMalformedWithoutEchoingInput(t *testing.T) {
	key32 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xAB}, 32))
	for name, input := range map[string]string{
		"empty":             "",
		"no prefix":         key32,
		"wrong prefix":      "whsk_" + key32,
		"31 bytes":          "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 31)),
		"33 bytes":          "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 33)),
		"unpadded":          "whsec_" + strings.TrimRight(key32, "="),
		"url alphabet":      "whsec_" + strings.NewReplacer("+", "-", "/", "_").Replace(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xFB, 0xFF, 0xBF}, 11)[:32])),
		"non-zero pad bits": "whsec_" + key32[:42] + "x=",
		"trailing newline":  "whsec_" + key32 + "\n",
		"inner whitespace":  "whsec_" + key32[:10] + " " + key32[11:],
		"prefix only":       "whsec_",
		"not base64":        "whsec_" + strings.Repeat("!", 44),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := secrets.Parse(input)
			if !errors.Is(err, secrets.ErrMalformedSecret) {
				t.Fatalf("Parse(%q) error = %v, want ErrMalformedSecret", input, err)
			}
			if rest := strings.TrimPrefix(input, "whsec_"); rest != "" && strings.Contains(err.Error(), rest) {
				t.Fatalf("error %q repeats the input", err)
			}
		})
	}
}

func TestTruncated_ShowsPrefixAndFourCharacters(t *testing.T) {
	s, _ := secrets.Generate()
	want := s.Reveal()[:len("whsec_")+4] + "..."
	if got := s.Truncated(); got != want {
		t.Fatalf("Truncated() = %q, want %q", got, want)
	}
	if (secrets.Secret{}).Truncated() != "" || (secrets.Secret{}).Reveal() != "" {
		t.Fatal("the zero Secret must print nothing")
	}
}

// TestSecret_FormattingNeverRevealsKey covers every way a secret reaches a log or a response by
// accident. The key must appear nowhere: not its base64 beyond the truncated prefix, nor its bytes
// in hex or decimal.
func TestSecret_FormattingNeverRevealsKey(t *testing.T) {
	s, _ := secrets.Generate()
	hidden := strings.TrimPrefix(s.Reveal(), "whsec_")[4:]
	hexKey := fmt.Sprintf("%x", s.Bytes())
	decKey := strings.Trim(fmt.Sprint(s.Bytes()), "[]") // how %d prints a []byte
	type webhook struct {
		Name   string
		Secret secrets.Secret
		Ptr    *secrets.Secret
	}
	w := webhook{Name: "projects/p/webhooks/w", Secret: s, Ptr: &s}

	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
		out = append(out, fmt.Sprintf(verb, s), fmt.Sprintf(verb, w), fmt.Sprintf(verb, &s))
	}
	out = append(out, fmt.Sprint(s), fmt.Sprintln(s, w), s.String(), fmt.Errorf("deliver: %v", s).Error())

	j, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, string(j))

	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&logs, nil), slog.NewTextHandler(&logs, nil)} {
		l := slog.New(h)
		l.Info("rotated", "secret", s, "webhook", w, slog.Any("ptr", &s), slog.Group("g", "s", s))
	}
	out = append(out, logs.String())

	for _, o := range out {
		if strings.Contains(o, hidden) || strings.Contains(strings.ToLower(o), hexKey) || strings.Contains(o, decKey) || strings.Contains(o, s.Reveal()) {
			t.Fatalf("the key leaked: %s", o)
		}
	}
	if !strings.Contains(logs.String(), s.Truncated()) || !strings.Contains(string(j), s.Truncated()) {
		t.Fatalf("logs and JSON should show the truncated form:\n%s\n%s", logs.String(), j)
	}
}

func TestFromBytes_CopiesAndChecksLength(t *testing.T) {
	raw := bytes.Repeat([]byte{7}, 32)
	s, err := secrets.FromBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	raw[0] = 8
	if s.Bytes()[0] != 7 {
		t.Fatal("FromBytes kept a reference to the caller's slice")
	}
	b := s.Bytes()
	b[1] = 9
	if s.Bytes()[1] != 7 {
		t.Fatal("Bytes returned the internal slice")
	}
	if _, err := secrets.FromBytes(raw[:31]); err == nil {
		t.Fatal("FromBytes accepted 31 bytes")
	}
}
