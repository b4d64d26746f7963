package signing

import (
	"crypto/ed25519"
	"encoding/base64"
	"strconv"
	"sync"
)

// Signer produces the webhook-signature header value of one attempt.
type Signer interface {
	Sign(msgID string, timestamp int64, body []byte) string
}

var (
	_ Signer = (*HMAC)(nil)
	_ Signer = (*Ed25519)(nil)
	_ Signer = JWTFor{}
)

// Ed25519 signs with the deployment's Ed25519 keys (dynamic webhooks, scheme v1a). Receivers
// verify with the public keys the JWKS endpoint publishes.
type Ed25519 struct {
	keys []ed25519.PrivateKey
}

// NewEd25519 returns a v1a signer for keys, newest first: during a key rotation both the old and
// the new key sign, so a receiver whose cached key set holds either one verifies.
func NewEd25519(keys ...ed25519.PrivateKey) *Ed25519 {
	return &Ed25519{keys: append([]ed25519.PrivateKey(nil), keys...)}
}

// contentPool holds the buffers of "<id>.<timestamp>.<body>": Ed25519 signs one contiguous
// message, and a delivery body is up to ~80 KiB.
var contentPool = sync.Pool{New: func() any { return new([]byte) }}

// AppendContent appends the Standard Webhooks signed content "<msgID>.<timestamp>.<body>" to dst.
func AppendContent(dst []byte, msgID string, timestamp int64, body []byte) []byte {
	dst = append(dst, msgID...)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, timestamp, 10)
	dst = append(dst, '.')
	return append(dst, body...)
}

// Sign returns the webhook-signature header value: "v1a,<base64>" per key, space separated.
func (s *Ed25519) Sign(msgID string, timestamp int64, body []byte) string {
	buf := contentPool.Get().(*[]byte)
	content := AppendContent((*buf)[:0], msgID, timestamp, body)
	out := make([]byte, 0, len(s.keys)*(len("v1a,")+base64.StdEncoding.EncodedLen(ed25519.SignatureSize)+1))
	for i, k := range s.keys {
		if i > 0 {
			out = append(out, ' ')
		}
		out = append(out, "v1a,"...)
		out = base64.StdEncoding.AppendEncode(out, ed25519.Sign(k, content))
	}
	*buf = content
	contentPool.Put(buf)
	return string(out)
}
