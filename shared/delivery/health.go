package delivery

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/jobhooks/jobhooks/shared/store"
)

// health keeps a webhook's streak writes (failing, retrying, healthy again) to at most one at a
// time per instance, and to at most one per store.HealthEvery per webhook across every instance
// (the store refuses a write to a document written less than that ago: store.ErrDebounced).
// A change that cannot be written now is kept, merged with the later ones, and written when the
// second is over: the earliest failure since the last success (the streak's start), or the latest
// success — so no streak is lost and none is postponed by more than about a second
// (shared/delivery/README.md, Load).
type health struct {
	mu   sync.Mutex
	keys map[string]*healthKey
	// write makes one streak write for a project/webhook key; wait is how long a held change
	// waits before it is tried again.
	write func(ctx context.Context, key string, c healthChange) (time.Time, error)
	wait  time.Duration
	// failed logs a held change whose later write failed (nothing else will report it).
	failed func(key string, err error)
}

// healthChange is what a webhook's streak should become: failing since failAt (retrying if a
// failure was retryable), or healthy after okAt. The later of the two wins.
type healthChange struct {
	failAt   time.Time
	retrying bool
	okAt     time.Time
}

func (c healthChange) failing() bool { return !c.failAt.IsZero() }

// merge adds what happened at at: a success ends any failure before it; a failure after the
// last success starts the streak, unless an earlier one did.
func (c healthChange) merge(ok, retrying bool, at time.Time) healthChange {
	switch {
	case ok && at.After(c.okAt):
		c.okAt = at
		if !c.failAt.After(at) {
			c.failAt, c.retrying = time.Time{}, false
		}
	case !ok && at.After(c.okAt):
		if c.failAt.IsZero() || at.Before(c.failAt) {
			c.failAt = at
		}
		c.retrying = c.retrying || retrying
	}
	return c
}

type healthKey struct {
	busy    bool
	pending *healthChange
	timer   *time.Timer
}

// note asks for the change: it writes it now when this instance is not writing the webhook's
// health already, and returns the failure streak's start as stored (zero when the webhook is
// healthy, or when nothing was written: held is then true and the change will be written later).
func (h *health) note(ctx context.Context, key string, ok, retrying bool, at time.Time) (since time.Time, held bool, err error) {
	h.mu.Lock()
	if h.keys == nil {
		h.keys = map[string]*healthKey{}
	}
	k := h.keys[key]
	if k == nil {
		k = &healthKey{}
		h.keys[key] = k
	}
	var c healthChange
	if k.pending != nil {
		c = *k.pending
	}
	c = c.merge(ok, retrying, at)
	if k.busy || k.timer != nil {
		k.pending = &c
		h.mu.Unlock()
		return time.Time{}, true, nil
	}
	k.busy, k.pending = true, nil
	h.mu.Unlock()
	return h.run(ctx, key, k, c)
}

// run writes c, then either forgets the key or, if the store held it back, keeps it and tries
// again after wait.
func (h *health) run(ctx context.Context, key string, k *healthKey, c healthChange) (time.Time, bool, error) {
	since, err := h.write(ctx, key, c)
	held := errors.Is(err, store.ErrDebounced)
	h.mu.Lock()
	defer h.mu.Unlock()
	k.busy = false
	if held {
		merged := c
		if k.pending != nil {
			merged = mergeChanges(c, *k.pending)
		}
		k.pending = &merged
		err = nil
	}
	if k.pending == nil {
		delete(h.keys, key)
		return since, held, err
	}
	k.timer = time.AfterFunc(h.wait, func() { h.flush(key, k) })
	return since, held, err
}

// flush writes a held change, outside any request: its context is its own.
func (h *health) flush(key string, k *healthKey) {
	h.mu.Lock()
	k.timer = nil
	if k.busy || k.pending == nil {
		h.mu.Unlock()
		return
	}
	c := *k.pending
	k.busy, k.pending = true, nil
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := h.run(ctx, key, k, c); err != nil && h.failed != nil {
		h.failed(key, err)
	}
}

// mergeChanges merges a later change into an earlier one.
func mergeChanges(earlier, later healthChange) healthChange {
	c := earlier
	if !later.okAt.IsZero() {
		c = c.merge(true, false, later.okAt)
	}
	if later.failing() {
		c = c.merge(false, later.retrying, later.failAt)
	}
	return c
}

// writeHealth is the store's one transaction for a change of a project/webhook key's streaks.
func (s *Service) writeHealth(ctx context.Context, key string, c healthChange) (time.Time, error) {
	project, id, _ := strings.Cut(key, "/")
	since, err := s.Store.WriteHealth(ctx, project, id, c.okAt, c.failAt, c.retrying)
	if err == nil && !c.failing() {
		since = time.Time{}
	}
	return since, err
}
