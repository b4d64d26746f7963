// Package signing produces the Standard Webhooks 1.0 signature headers of a delivery.
//
// The signed content is "<webhook-id>.<webhook-timestamp>.<body>". Signers are safe for
// concurrent use and allocate little: one delivery signs on the hot path of Deliver.
package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"strconv"
	"sync"
)

// Headers of a signed request.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// HMAC signs with one or more symmetric secrets (static webhooks, scheme v1).
type HMAC struct {
	pools []*sync.Pool
}

// NewHMAC returns a v1 signer for keys, newest first: during a rotation every unexpired secret
// signs so that receivers holding either one verify.
func NewHMAC(keys ...[]byte) *HMAC {
	s := &HMAC{}
	for _, k := range keys {
		k := append([]byte(nil), k...)
		s.pools = append(s.pools, &sync.Pool{New: func() any { return hmac.New(sha256.New, k) }})
	}
	return s
}

// Sign returns the webhook-signature header value: "v1,<base64>" per key, space separated.
func (s *HMAC) Sign(msgID string, timestamp int64, body []byte) string {
	var ts [20]byte
	tsb := strconv.AppendInt(ts[:0], timestamp, 10)
	out := make([]byte, 0, len(s.pools)*48)
	var sum [sha256.Size]byte
	for i, p := range s.pools {
		h := p.Get().(hash.Hash)
		h.Reset()
		h.Write([]byte(msgID))
		h.Write([]byte{'.'})
		h.Write(tsb)
		h.Write([]byte{'.'})
		h.Write(body)
		mac := h.Sum(sum[:0])
		p.Put(h)
		if i > 0 {
			out = append(out, ' ')
		}
		out = append(out, "v1,"...)
		out = base64.StdEncoding.AppendEncode(out, mac)
	}
	return string(out)
}
