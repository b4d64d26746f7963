// Package secrets holds webhook signing secrets and keeps them encrypted at rest.
//
// A [Secret] is the 32 random bytes a static webhook is signed with (shared/verify/README.md,
// Signature schemes). Its only printable full form is [Secret.Reveal] (`whsec_` + standard padded
// base64), which the API shows once. Everything that formats values on its own — fmt with any verb,
// log/slog, encoding/json — gets the truncated form instead, so a secret passed to a logger or an
// error by mistake does not leak.
//
// A [Keyring] seals secrets for storage with AES-256-GCM under a key-encryption key (KEK) kept in
// Secret Manager, and opens them again (shared/delivery/README.md, Security). Its promises:
//
//   - The associated data is the webhook's resource name, so a ciphertext copied to another webhook
//     does not open.
//   - Seal uses the newest enabled KEK version and records its number in [Sealed]; Open uses the
//     recorded version, so ciphertexts sealed before a KEK rotation keep opening.
//   - KEKs read from Secret Manager are cached per instance for at most the cache TTL (default
//     30 s): a new KEK version is used for sealing, and a disabled or destroyed version stops
//     opening, within that time.
//   - It fails closed: without a usable KEK, or when authentication fails, nothing is returned.
//     Errors are typed ([ErrUnavailable], [ErrKEKVersionUnusable], [ErrDecrypt]) so the caller can
//     choose between retrying and giving up, and never contain key material or plaintext.
//   - A Keyring is safe for concurrent use; concurrent cache misses for one version share one
//     Secret Manager read.
package secrets

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// SecretSize is the length in bytes of a webhook signing secret.
const SecretSize = 32

// secretPrefix marks a Standard Webhooks secret.
const secretPrefix = "whsec_"

// truncatedChars is how many base64 characters of the key Truncated shows: enough for a person to
// tell two secrets apart, 24 of 256 bits, too few to matter to an attacker.
const truncatedChars = 4

// ErrMalformedSecret is returned by Parse for anything but `whsec_` + the padded standard base64
// of exactly 32 bytes. The error never repeats the input.
var ErrMalformedSecret = errors.New("secrets: malformed signing secret: want whsec_ followed by the base64 of 32 bytes")

// Secret is a webhook signing secret. The zero value holds no key. Its formatting methods never
// print the key: use Reveal for the one place that must show it, Bytes to sign.
type Secret struct {
	key []byte
}

// Generate returns a new random secret.
func Generate() (Secret, error) {
	key := make([]byte, SecretSize)
	if _, err := rand.Read(key); err != nil {
		return Secret{}, fmt.Errorf("secrets: generate: %w", err)
	}
	return Secret{key: key}, nil
}

// Parse reads the `whsec_...` form made by Reveal.
func Parse(whsec string) (Secret, error) {
	encoded, ok := strings.CutPrefix(whsec, secretPrefix)
	if !ok || base64.StdEncoding.EncodedLen(SecretSize) != len(encoded) {
		return Secret{}, ErrMalformedSecret
	}
	// Strict rejects non-zero padding bits, so every secret has exactly one accepted spelling.
	key, err := base64.StdEncoding.Strict().DecodeString(encoded)
	if err != nil || len(key) != SecretSize {
		return Secret{}, ErrMalformedSecret
	}
	return Secret{key: key}, nil
}

// FromBytes makes a Secret of 32 raw key bytes, e.g. from an opened Sealed. It copies key.
func FromBytes(key []byte) (Secret, error) {
	if len(key) != SecretSize {
		return Secret{}, fmt.Errorf("secrets: a signing secret is %d bytes, got %d", SecretSize, len(key))
	}
	return Secret{key: append([]byte(nil), key...)}, nil
}

// IsZero reports whether s holds no key.
func (s Secret) IsZero() bool { return len(s.key) == 0 }

// Reveal returns the full secret, `whsec_` + standard padded base64, as shown once to its owner.
// It is the only method that prints the key; call it only to put the secret in the response that
// hands it over.
func (s Secret) Reveal() string {
	if s.IsZero() {
		return ""
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(s.key)
}

// Bytes returns a copy of the raw key, for HMAC.
func (s Secret) Bytes() []byte { return append([]byte(nil), s.key...) }

// Equal reports whether s and other hold the same key, in constant time.
func (s Secret) Equal(other Secret) bool {
	return subtle.ConstantTimeCompare(s.key, other.key) == 1
}

// Truncated is the API's `truncated_secret`: `whsec_` + the first four base64 characters + `...`,
// e.g. `whsec_MfKQ...`. It lets an owner recognise which secret is meant without exposing it.
// It is empty for the zero Secret.
func (s Secret) Truncated() string {
	if s.IsZero() {
		return ""
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(s.key)[:truncatedChars] + "..."
}

// String returns the truncated form, never the key.
func (s Secret) String() string {
	if s.IsZero() {
		return "whsec_(none)"
	}
	return s.Truncated()
}

// GoString makes %#v print the truncated form too.
func (s Secret) GoString() string { return "secrets.Secret(" + s.String() + ")" }

// Format handles every fmt verb — without it %d or %x would print the struct's bytes.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprint(f, s.String())
}

// LogValue makes log/slog record the truncated form.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON writes the truncated form: a Secret put in a response or a log record by mistake
// shows up as visibly truncated instead of leaking. Responses that must carry the secret put
// Reveal() in a string field.
func (s Secret) MarshalJSON() ([]byte, error) {
	return []byte(`"` + s.String() + `"`), nil
}

// MarshalText writes the truncated form, for encoders that use encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

var (
	_ fmt.Stringer   = Secret{}
	_ fmt.GoStringer = Secret{}
	_ fmt.Formatter  = Secret{}
	_ slog.LogValuer = Secret{}
)
