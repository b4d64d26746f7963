// Package jwks serves the public keys of the dynamic-webhook signing key as a JSON Web Key Set
// (RFC 7517): the JWKS function's domain (shared/verify/README.md, Signature schemes).
//
// The document lists every enabled key — OKP/Ed25519 (crv, x) and RSA (n, e) — each with its
// kid, alg and use "sig", newest first. It is the public key set that scripts/signing-key
// publishes beside the private keys (signingkey.Publish): the function never holds a private key,
// and a key set with a private member is refused rather than served. Responses may be
// cached for five minutes: a rotation (scripts/signing-key) keeps the old key enabled well past
// that, so a receiver with a stale copy keeps verifying.
package jwks

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/jobhooks/jobhooks/shared/signingkey"
)

// Path is where the key set is served.
const Path = "/.well-known/jwks.json"

// CacheControl lets receivers and proxies cache the document for five minutes.
const CacheControl = "public, max-age=300"

// Keys returns the current public key set.
type Keys func(ctx context.Context) (*signingkey.PublicSet, error)

// Handler serves GET and HEAD of Path; every other request is a 404 with the API's JSON error
// shape, and a key set that cannot be read a 503 (receivers retry; nothing stale is invented).
func Handler(keys Keys, log *slog.Logger) http.Handler {
	h := &handler{keys: keys, log: log}
	return h
}

type handler struct {
	keys Keys
	log  *slog.Logger

	mu       sync.Mutex
	set      *signingkey.PublicSet // the set doc was rendered from
	rendered []byte
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		WriteError(w, http.StatusNotFound, "no such resource: the key set is at GET "+Path)
		return
	}
	doc, err := h.document(r.Context())
	if err != nil {
		h.log.ErrorContext(r.Context(), "signing keys unavailable for the JWKS", "error", err.Error())
		WriteError(w, http.StatusServiceUnavailable, "the signing keys cannot be read now; retry later")
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", CacheControl)
	// Public data: browser-based tools may fetch it too.
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Content-Length", strconv.Itoa(len(doc)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(doc)
	}
}

// document renders the key set, once per set read from Secret Manager.
func (h *handler) document(ctx context.Context) ([]byte, error) {
	set, err := h.keys(ctx)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if set != h.set {
		for _, k := range set.JWKS.Keys {
			if !k.IsPublic() {
				return nil, fmt.Errorf("jwks: key %q of the published set is private", k.KeyID)
			}
		}
		doc, err := json.Marshal(set.JWKS)
		if err != nil {
			return nil, err
		}
		h.set, h.rendered = set, doc
	}
	return h.rendered, nil
}

// statusNames are the google.rpc code names of the statuses this handler answers with.
var statusNames = map[int]string{
	http.StatusNotFound:           "NOT_FOUND",
	http.StatusServiceUnavailable: "UNAVAILABLE",
}

// WriteError writes {"error":{"code","message","status"}}, the error shape of every Jobhooks
// HTTP function, uncacheable.
func WriteError(w http.ResponseWriter, code int, message string) {
	body, _ := json.Marshal(map[string]any{"error": map[string]any{
		"code": code, "message": message, "status": statusNames[code],
	}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
