package delivery

import (
	"testing"
	"time"
)

// A pause an instance learnt of holds until it ends or until one cache TTL has passed, whichever
// is first: by then its cached copy of the webhook shows the pause, or that a probe ended it on
// another instance, and a stale note must not hold the backlog back.
func TestPauses_ANoteHoldsForOneCacheTTLAtMost(t *testing.T) {
	p := &pauses{ttl: 30 * time.Second}
	p.note("acme/wh", t0.Add(10*time.Minute), t0)
	for _, c := range []struct {
		at   time.Time
		want time.Time
	}{
		{t0.Add(time.Second), t0.Add(10 * time.Minute)},
		{t0.Add(29 * time.Second), t0.Add(10 * time.Minute)},
		{t0.Add(30 * time.Second), time.Time{}},
	} {
		if got := p.until("acme/wh", c.at); !got.Equal(c.want) {
			t.Errorf("at +%v: until %v, want %v", c.at.Sub(t0), got, c.want)
		}
	}
	p.note("acme/short", t0.Add(5*time.Second), t0)
	if got := p.until("acme/short", t0.Add(6*time.Second)); !got.IsZero() {
		t.Errorf("a pause that ended still holds: %v", got)
	}
	if got := p.until("acme/other", t0); !got.IsZero() {
		t.Errorf("an endpoint never paused is paused until %v", got)
	}
	if probeInterval(t0, t0.Add(time.Minute), 30*time.Second, 10*time.Minute) != 30*time.Second ||
		probeInterval(t0, t0.Add(time.Hour), 30*time.Second, 10*time.Minute) != 10*time.Minute ||
		probeInterval(t0, t0.Add(20*time.Minute), 30*time.Second, 10*time.Minute) != 5*time.Minute {
		t.Error("the probe interval is not a quarter of the streak within its bounds")
	}
}
