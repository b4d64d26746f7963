// Package cache is a small per-instance cache whose entries expire after a fixed TTL.
//
// It bounds staleness, not size: callers cache things of which an instance sees few (webhook
// configurations, decrypted secrets). Concurrent misses of one key load once (single flight):
// the callers that arrive during a load wait for it and share its result, so a burst of
// deliveries to a webhook just forgotten reads it once, not once per delivery. Safe for
// concurrent use.
package cache

import (
	"sync"
	"time"
)

// TTL caches values of type V by key K for at most ttl.
type TTL[K comparable, V any] struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[K]entry[V]
	loading map[K]*load[V]
}

// load is a load in flight; done is closed when v, read and err are set.
type load[V any] struct {
	done chan struct{}
	v    V
	read time.Time
	err  error
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// New returns an empty cache. now is the clock (time.Now when nil).
func New[K comparable, V any](ttl time.Duration, now func() time.Time) *TTL[K, V] {
	if now == nil {
		now = time.Now
	}
	return &TTL[K, V]{ttl: ttl, now: now, entries: map[K]entry[V]{}, loading: map[K]*load[V]{}}
}

// Get returns the cached value of k, or loads, caches and returns it. A load error is returned
// and nothing is cached.
func (c *TTL[K, V]) Get(k K, load func() (V, error)) (V, error) {
	now := c.now()
	return c.GetRead(k, func() (V, time.Time, error) {
		v, err := load()
		return v, now, err
	})
}

// GetRead is Get for a load that may hand over a copy read earlier: it returns the value and
// when it was read, and the entry expires ttl after that read, not after the load. A copy taken
// from another cache is therefore never served longer than ttl after it left the store, so
// chained caches cannot add their ttls up. A caller that misses while another loads the key
// waits for that load; a load that began before the key was forgotten is returned to its own
// waiters but not cached.
func (c *TTL[K, V]) GetRead(k K, fetch func() (V, time.Time, error)) (V, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[k]
	if ok && now.Before(e.expires) {
		c.mu.Unlock()
		return e.v, nil
	}
	if l, ok := c.loading[k]; ok {
		c.mu.Unlock()
		<-l.done
		return l.v, l.err
	}
	l := &load[V]{done: make(chan struct{})}
	c.loading[k] = l
	c.mu.Unlock()

	defer close(l.done) // also if fetch panics: no waiter is left blocked
	l.v, l.read, l.err = fetch()
	c.mu.Lock()
	if c.loading[k] == l {
		delete(c.loading, k)
		if l.err == nil {
			if len(c.entries) > 10000 {
				c.sweep(now)
			}
			c.entries[k] = entry[V]{v: l.v, expires: l.read.Add(c.ttl)}
		}
	}
	c.mu.Unlock()
	return l.v, l.err
}

// Peek returns the cached value of k, if it has one that has not expired; it loads nothing.
func (c *TTL[K, V]) Peek(k K) (V, bool) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[k]
	c.mu.Unlock()
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put caches v as k's value, read now.
func (c *TTL[K, V]) Put(k K, v V) {
	now := c.now()
	c.mu.Lock()
	if len(c.entries) > 10000 {
		c.sweep(now)
	}
	c.entries[k] = entry[V]{v: v, expires: now.Add(c.ttl)}
	c.mu.Unlock()
}

// Forget drops k, so the next Get loads it (after this instance changed it): a load in flight
// is not waited for by later callers, nor cached.
func (c *TTL[K, V]) Forget(k K) {
	c.mu.Lock()
	delete(c.entries, k)
	delete(c.loading, k)
	c.mu.Unlock()
}

// sweep drops expired entries; called with mu held.
func (c *TTL[K, V]) sweep(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
}
