package webhook

import (
	"testing"
	"time"
)

// A webhook's throttle is its slots and the least time between two starts on one slot: never
// more slots than the rate allows starts in one second, and a 429's lowered bound wins while it
// is below the webhook's own.
func TestThrottle_SlotsAndHoldKeepBothBounds(t *testing.T) {
	for _, c := range []struct {
		name  string
		w     Webhook
		slots int
		hold  time.Duration
	}{
		{"none", Webhook{}, 0, 0},
		{"in flight only", Webhook{MaxInFlight: 5}, 5, 0},
		{"rate only", Webhook{RateLimit: 50}, 50, time.Second},
		{"both", Webhook{MaxInFlight: 5, RateLimit: 50}, 5, 100 * time.Millisecond},
		// 20/3 is 6 starts a slot per second, each held a sixth of a second: 18/s, never 21.
		{"slots that do not divide the rate", Webhook{MaxInFlight: 3, RateLimit: 20}, 3, 166666667 * time.Nanosecond},
		{"more in flight than the rate", Webhook{MaxInFlight: 100, RateLimit: 10}, 10, time.Second},
		{"lowered by 429s", Webhook{MaxInFlight: 8, AllowedInFlight: 2}, 2, 0},
		{"lowered above its own", Webhook{MaxInFlight: 2, AllowedInFlight: 4}, 2, 0},
		{"lowered, no throttle of its own", Webhook{AllowedInFlight: 3}, 3, 0},
		// The hold stays the webhook's own: a copy not lowered yet keeps the rate with more slots.
		{"lowered with a rate", Webhook{MaxInFlight: 8, RateLimit: 40, AllowedInFlight: 4}, 4, 200 * time.Millisecond},
	} {
		slots, hold := c.w.Throttle()
		if slots != c.slots || hold != c.hold {
			t.Errorf("%s: %d slots held %v, want %d held %v", c.name, slots, hold, c.slots, c.hold)
		}
	}
}

// A 429 without Retry-After halves the in-flight bound (from max_in_flight, or from
// LoweringStart without one), at least 1 and once per step; successes grow it back by one per
// step until it is the webhook's own again.
func TestLowered_HalvesOncePerStepAndRegrowsByOne(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	step := time.Second
	for _, c := range []struct {
		name string
		w    Webhook
		want int
		ok   bool
	}{
		{"its own bound", Webhook{MaxInFlight: 8}, 4, true},
		{"no bound of its own", Webhook{}, LoweringStart / 2, true},
		{"a rate only", Webhook{RateLimit: 10}, 5, true},
		{"lowered already", Webhook{MaxInFlight: 8, AllowedInFlight: 4, AllowedInFlightTime: now.Add(-2 * step)}, 2, true},
		{"at least one", Webhook{MaxInFlight: 8, AllowedInFlight: 1}, 1, true},
		{"within a step", Webhook{MaxInFlight: 8, AllowedInFlight: 4, AllowedInFlightTime: now.Add(-step / 2)}, 4, false},
	} {
		if got, ok := c.w.Lowered(now, step); got != c.want || ok != c.ok {
			t.Errorf("lowered, %s: %d %v, want %d %v", c.name, got, ok, c.want, c.ok)
		}
	}
	for _, c := range []struct {
		name string
		w    Webhook
		want int
		ok   bool
	}{
		{"not lowered", Webhook{MaxInFlight: 8}, 0, false},
		{"one more", Webhook{MaxInFlight: 8, AllowedInFlight: 4}, 5, true},
		{"back to its own", Webhook{MaxInFlight: 8, AllowedInFlight: 7}, 0, true},
		{"back to its rate's slots", Webhook{RateLimit: 10, AllowedInFlight: 9}, 0, true},
		{"within a step", Webhook{MaxInFlight: 8, AllowedInFlight: 4, AllowedInFlightTime: now.Add(-step / 2)}, 4, false},
	} {
		if got, ok := c.w.Regrown(now, step); got != c.want || ok != c.ok {
			t.Errorf("regrown, %s: %d %v, want %d %v", c.name, got, ok, c.want, c.ok)
		}
	}
	if st := (Webhook{MaxInFlight: 8, AllowedInFlight: 4}).EndpointState(now, time.Minute); st != EndpointThrottled {
		t.Errorf("a lowered endpoint's state is %s", st)
	}
}
