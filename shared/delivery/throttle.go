package delivery

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
)

// The throttle (shared/delivery/README.md, Throttle) bounds what one receiver gets. Every
// attempt, Dispatch's first ones included, holds a place before its POST and gives it back when
// the POST returns:
//   - one of this instance's OriginMaxInFlight places for the target's origin: Terraform sets
//     each instance's share of the deployment's cap, so the cap holds across instances with no
//     store operation (an unthrottled endpoint costs nothing more);
//   - for a webhook with max_in_flight or rate_limit, one of its slots in the store
//     (store.TakeSlot), shared by every instance. A slot taken by an instance that dies comes
//     back when its lease (the attempt timeout and the recording margin) runs out; a rate
//     limit keeps each slot busy for slots/rate_limit after its start, so no second sees more
//     than rate_limit starts.
// A delivery with no free place waits: no attempt and no failure are recorded, and its window
// keeps running.

// slotTries is how many of a webhook's slots one try looks at, from a random one on.
const slotTries = 3

// busyFor is how long an instance that found every slot it tried busy asks the store no more:
// a burst's waiters would otherwise each spend up to six store calls per try on slots that
// are held (a slot is held for a POST, tens of milliseconds at least).
const busyFor = 50 * time.Millisecond

// errThrottled hands back a task whose endpoint had no free slot within the wait.
var errThrottled = errors.New("delivery: the endpoint has no free slot (its max_in_flight or rate_limit, or the deployment's cap per origin)")

// origins counts this instance's requests in flight per origin.
type origins struct {
	limit int // 0: none
	mu    sync.Mutex
	n     map[string]int
}

func (o *origins) take(origin string) bool {
	if o.limit == 0 {
		return true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n[origin] >= o.limit {
		return false
	}
	if o.n == nil {
		o.n = map[string]int{}
	}
	o.n[origin]++
	return true
}

func (o *origins) give(origin string) {
	if o.limit == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n[origin]--; o.n[origin] <= 0 {
		delete(o.n, origin)
	}
}

// place is what one attempt holds while it POSTs.
type place struct {
	origin string
	slot   *store.Slot // nil for an endpoint without a throttle of its own
	taken  time.Time
	hold   time.Duration
}

// take tries once to get t a place to POST tg at now; ok is false when none is free.
func (s *Service) take(ctx context.Context, t task.Task, tg target, now time.Time) (place, bool, error) {
	p := place{origin: tg.origin, taken: now}
	if !s.origins.take(p.origin) {
		return place{}, false, nil
	}
	if !tg.static {
		return p, true, nil
	}
	n, hold := tg.webhook.Throttle()
	if n == 0 {
		return p, true, nil
	}
	key := t.Project + "/" + t.Webhook
	if until, ok := s.busy.Load(key); ok && now.Before(until.(time.Time)) {
		s.origins.give(p.origin)
		return place{}, false, nil
	}
	lease := now.Add(max(s.cfg.AttemptTimeout+config.AttemptMargin, hold))
	slot, ok, err := s.Store.TakeSlot(ctx, t.Project, t.Webhook, n, rand.IntN(n), slotTries, t.DeliveryID, now, lease)
	if err != nil || !ok {
		if err == nil {
			s.busy.Store(key, now.Add(busyFor))
		}
		s.origins.give(p.origin)
		return place{}, false, err
	}
	p.slot, p.hold = &slot, hold
	return p, true, nil
}

// waitPlace takes a place for t, trying again for up to wait while none is free.
func (s *Service) waitPlace(ctx context.Context, t task.Task, tg target, wait time.Duration) (place, bool, error) {
	deadline := time.Now().Add(wait)
	pause := 20 * time.Millisecond
	for {
		p, ok, err := s.take(ctx, t, tg, s.Now())
		if ok || err != nil {
			return p, ok, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return place{}, false, nil
		}
		// Jittered, so that the waiters of one endpoint do not all try at the same moment.
		select {
		case <-ctx.Done():
			return place{}, false, ctx.Err()
		case <-time.After(min(left, pause/2+rand.N(pause))):
		}
		pause = min(2*pause, 500*time.Millisecond)
	}
}

// giveOnce returns a func that gives p back the first time it is called: the caller calls it
// when the POST returns, and defers it for every other way out.
func (s *Service) giveOnce(ctx context.Context, t task.Task, p *place) func() {
	var once sync.Once
	return func() { once.Do(func() { s.give(ctx, t, *p) }) }
}

// releaseTimeout bounds giving a slot back: one that is not given back comes back by its lease.
const releaseTimeout = 5 * time.Second

// give gives p back once its POST has returned. A slot that cannot be given back comes back
// when its lease runs out.
func (s *Service) give(ctx context.Context, t task.Task, p place) {
	s.origins.give(p.origin)
	if p.slot == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := s.Store.ReleaseSlot(ctx, *p.slot, s.Now(), p.taken.Add(p.hold)); err != nil {
		s.Log.WarnContext(ctx, "slot not given back: it comes back when its lease ends", "project", t.Project,
			"webhook", t.Webhook, "slot", p.slot.Index(), "error", err.Error())
	}
}

// originOf is the scheme, host and port of a target's URL.
func originOf(raw, host string) string {
	scheme, _, _ := strings.Cut(raw, ":")
	return strings.ToLower(scheme) + "://" + strings.ToLower(host)
}
