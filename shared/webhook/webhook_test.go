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
		{"more in flight than the rate", Webhook{MaxInFlight: 100, RateLimit: 10}, 10, time.Second},
		{"lowered by 429s", Webhook{MaxInFlight: 8, AllowedInFlight: 2}, 2, 0},
		{"lowered above its own", Webhook{MaxInFlight: 2, AllowedInFlight: 4}, 2, 0},
		{"lowered, no throttle of its own", Webhook{AllowedInFlight: 3}, 3, 0},
		{"lowered with a rate", Webhook{RateLimit: 50, AllowedInFlight: 5}, 5, 100 * time.Millisecond},
	} {
		slots, hold := c.w.Throttle()
		if slots != c.slots || hold != c.hold {
			t.Errorf("%s: %d slots held %v, want %d held %v", c.name, slots, hold, c.slots, c.hold)
		}
	}
}
