package delivery

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jobhooks/jobhooks/shared/task"
)

// An endpoint is paused while the time its receiver asked for (Retry-After) or its circuit
// breaker set has not come: nothing is POSTed to it, and waiting records no failed attempt
// (shared/delivery/README.md, Decisions where the spec is silent). Both pauses are the static
// webhook's paused_until. The breaker: once a webhook has had no success for BreakerAfter, its
// circuit is open, and a delivery is POSTed only as the probe, which one instance claims per
// interval (a transaction that moves paused_until to the next probe); every other delivery waits
// for that time. The first 2xx ends the streak and the pause, and the backlog drains.

// probeInterval is the time to the next probe of a streak that began at since: a quarter of the
// streak, within [lo, hi] (config.Config.MinProbeInterval, MaxProbeInterval).
func probeInterval(since, now time.Time, lo, hi time.Duration) time.Duration {
	return min(max(now.Sub(since)/4, lo), hi)
}

// pauses are what this instance learnt of its endpoints' pauses since its cached copies were
// read: a cached copy may be up to the cache TTL old, and the instance that paused an endpoint
// must not POST it again meanwhile. A note is kept for one cache TTL only: by then the cached
// copy shows the pause, or that another instance's probe ended it.
type pauses struct {
	ttl time.Duration
	m   sync.Map // project/webhook → pause
}

type pause struct{ until, noted time.Time }

func (p *pauses) note(key string, until, now time.Time) {
	p.m.Store(key, pause{until: until, noted: now})
}

// until is the pause of key this instance noted within the cache TTL, zero when none is in the
// future.
func (p *pauses) until(key string, now time.Time) time.Time {
	v, ok := p.m.Load(key)
	if !ok {
		return time.Time{}
	}
	if ps := v.(pause); ps.until.After(now) && now.Sub(ps.noted) < p.ttl {
		return ps.until
	}
	p.m.CompareAndDelete(key, v)
	return time.Time{}
}

// errPaused nacks a task whose endpoint is paused: its receiver's Retry-After, or an open
// circuit waiting for its next probe.
var errPaused = errors.New("delivery: the endpoint is paused (its Retry-After, or an open circuit until its next probe)")

// gate decides whether t may be POSTed to tg now. It returns zero to POST (a closed circuit, or
// this delivery is the probe), or the time to wait for; err when the probe could not be claimed
// (the store failing), which is retried as any failure before the POST is.
func (s *Service) gate(ctx context.Context, t task.Task, tg target, now time.Time) (time.Time, error) {
	if !tg.static {
		return time.Time{}, nil
	}
	key := t.Project + "/" + t.Webhook
	w := tg.webhook
	if until := latest(w.PausedUntil, s.pauses.until(key, now)); until.After(now) {
		return until, nil
	}
	if !w.CircuitOpen(now, s.cfg.BreakerAfter) {
		return time.Time{}, nil
	}
	next := now.Add(probeInterval(w.RetryingSince, now, s.cfg.MinProbeInterval, s.cfg.MaxProbeInterval))
	probe, until, err := s.Store.ClaimProbe(ctx, t.Project, t.Webhook, now, next)
	if err != nil {
		return time.Time{}, err
	}
	s.webhooks.Forget(key)
	if !probe {
		s.pauses.note(key, until, now)
		return until, nil
	}
	if !until.IsZero() {
		s.pauses.note(key, until, now)
		s.Log.InfoContext(ctx, "circuit open: probing the endpoint", "reason", "probing", "project", t.Project, "webhook", t.Webhook,
			"retrying_since", w.RetryingSince, "next_probe", until, "delivery_id", t.DeliveryID)
	}
	return time.Time{}, nil
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
