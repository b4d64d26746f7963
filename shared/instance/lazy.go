package instance

import (
	"context"
	"sync"
)

// Lazy is what a function builds from its instance's clients on the first request and keeps for
// the instance's life: its handler. A failed build is not remembered, so the next Get builds
// again; requests that arrive while a build runs wait for it and take its value rather than
// build another (push_test.go and functions/api's tests hold both promises). Safe for
// concurrent use.
type Lazy[T any] struct {
	build func(ctx context.Context, in *Instance) (T, error)

	mu    sync.Mutex
	value T
	built bool
}

// NewLazy returns a Lazy that builds its value with build.
func NewLazy[T any](build func(ctx context.Context, in *Instance) (T, error)) *Lazy[T] {
	return &Lazy[T]{build: build}
}

// Get returns the value, building it from in first if no build has succeeded yet.
func (l *Lazy[T]) Get(ctx context.Context, in *Instance) (T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.built {
		v, err := l.build(ctx, in)
		if err != nil {
			var zero T
			return zero, err
		}
		l.value, l.built = v, true
	}
	return l.value, nil
}
