package verify

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// Bounds on what a JWKS server can make the verifier do.
const (
	maxKeySetBytes = 1 << 20
	maxKeys        = 100
	// defaultMaxAge applies when the JWKS response has no max-age; maxMaxAge caps a long one, so
	// that a retired key stops being accepted within a day at worst.
	defaultMaxAge = 5 * time.Minute
	maxMaxAge     = 24 * time.Hour
)

// keySet is the cached JWKS of one URL.
type keySet struct {
	url      string
	client   *http.Client
	now      func() time.Time
	interval time.Duration

	flights singleflight.Group

	mu          sync.Mutex
	keys        *fetched  // nil until a fetch succeeded; replaced, never changed
	lastAttempt time.Time // start of the last fetch
	failedAt    time.Time // end of the last failed fetch
}

// fetched is one successful fetch.
type fetched struct {
	ed      []ed25519.PublicKey // OKP/Ed25519 keys, for v1a
	byKID   map[string]jose.JSONWebKey
	expires time.Time
}

func newKeySet(opts Options) *keySet {
	return &keySet{url: opts.JWKSURL, client: opts.HTTPClient, now: opts.Now, interval: opts.RefetchInterval}
}

func (s *keySet) state() (keys *fetched, lastAttempt, failedAt time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys, s.lastAttempt, s.failedAt
}

// current returns the cached keys, fetching them when there are none or they have expired. A
// failed refresh keeps the expired keys in use, and is not retried within the interval.
func (s *keySet) current(ctx context.Context) (*fetched, error) {
	keys, last, failed := s.state()
	now := s.now()
	switch {
	case keys != nil && (now.Before(keys.expires) || now.Sub(last) < s.interval):
		return keys, nil
	case keys == nil && !failed.IsZero() && now.Sub(failed) < s.interval:
		return nil, fmt.Errorf("%w: fetching %s failed less than %s ago", ErrKeySetUnavailable, s.url, s.interval)
	}
	fresh, err := s.fetch(ctx, keys)
	if err != nil {
		if keys != nil {
			return keys, nil
		}
		return nil, err
	}
	return fresh, nil
}

// refetch fetches the key set again because a signature matched no key of seen, the set the
// caller checked: unless a newer set arrived meanwhile (then that one is returned) or a fetch
// started less than the interval ago (then ok is false).
func (s *keySet) refetch(ctx context.Context, seen *fetched) (keys *fetched, ok bool) {
	keys, last, _ := s.state()
	if keys != seen {
		return keys, true
	}
	if s.now().Sub(last) < s.interval {
		return nil, false
	}
	keys, err := s.fetch(ctx, seen)
	return keys, err == nil
}

// fetch GETs the JWKS, replacing seen. Concurrent callers share one request, which is not cut
// short when one of them gives up; a caller whose seen set was replaced meanwhile gets the
// replacement without another request.
func (s *keySet) fetch(ctx context.Context, seen *fetched) (*fetched, error) {
	ch := s.flights.DoChan("fetch", func() (any, error) {
		s.mu.Lock()
		if s.keys != seen {
			keys := s.keys
			s.mu.Unlock()
			return keys, nil
		}
		s.lastAttempt = s.now()
		s.mu.Unlock()
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		keys, err := s.get(fctx)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			s.failedAt = s.now()
			return nil, err
		}
		s.keys = keys
		return keys, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*fetched), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: fetching %s: %w", ErrKeySetUnavailable, s.url, ctx.Err())
	}
}

func (s *keySet) get(ctx context.Context) (*fetched, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeySetUnavailable, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeySetUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: GET %s answered %d", ErrKeySetUnavailable, s.url, resp.StatusCode)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "" && !strings.Contains(mt, "json") {
		return nil, fmt.Errorf("%w: GET %s answered %s, not JSON", ErrKeySetUnavailable, s.url, mt)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySetBytes+1))
	if err != nil || len(data) > maxKeySetBytes {
		return nil, fmt.Errorf("%w: reading %s: too large or cut short", ErrKeySetUnavailable, s.url)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %s is not a JSON Web Key Set: %w", ErrKeySetUnavailable, s.url, err)
	}
	out := &fetched{byKID: map[string]jose.JSONWebKey{}, expires: s.now().Add(maxAge(resp.Header.Get("Cache-Control")))}
	for i, raw := range doc.Keys {
		if i == maxKeys {
			break
		}
		var k jose.JSONWebKey
		// A key of a type this library does not know (or a malformed one) is skipped, not fatal:
		// the set may hold keys for other consumers.
		if k.UnmarshalJSON(raw) != nil || !k.Valid() || !k.IsPublic() || (k.Use != "" && k.Use != "sig") {
			continue
		}
		if pub, ok := k.Key.(ed25519.PublicKey); ok && (k.Algorithm == "" || k.Algorithm == "EdDSA") {
			out.ed = append(out.ed, pub)
		}
		if k.KeyID != "" {
			out.byKID[k.KeyID] = k
		}
	}
	return out, nil
}

// maxAge reads max-age from a Cache-Control value, bounded.
func maxAge(cc string) time.Duration {
	for _, part := range strings.Split(cc, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !strings.EqualFold(name, "max-age") {
			continue
		}
		n, err := strconv.Atoi(strings.Trim(value, `"`))
		if err != nil || n < 0 {
			break
		}
		return min(time.Duration(n)*time.Second, maxMaxAge)
	}
	return defaultMaxAge
}

// verifyEd25519 checks v1a signatures against the cached keys, refetching once when none
// matches: the sender may have rotated to a key the cache does not hold yet.
func (v *Verifier) verifyEd25519(ctx context.Context, content []byte, sigs [][]byte) error {
	keys, err := v.keys.current(ctx)
	if err != nil {
		return err
	}
	if matchEd25519(keys, content, sigs) {
		return nil
	}
	if fresh, ok := v.keys.refetch(ctx, keys); ok && matchEd25519(fresh, content, sigs) {
		return nil
	}
	return fmt.Errorf("%w: no v1a signature matches any of the %d Ed25519 keys of the JWKS", ErrSignature, len(keys.ed))
}

func matchEd25519(keys *fetched, content []byte, sigs [][]byte) bool {
	for _, s := range sigs {
		if len(s) != ed25519.SignatureSize {
			continue
		}
		for _, k := range keys.ed {
			if ed25519.Verify(k, content, s) {
				return true
			}
		}
	}
	return false
}
