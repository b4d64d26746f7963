package bench

import (
	"context"
	"testing"
	"time"
)

// TestPace_CallsEachSlotInOrderNeverEarly: the paced mode publishes message i no earlier than
// start + i/rate, in order, each exactly once — a schedule, not a burst.
func TestPace_CallsEachSlotInOrderNeverEarly(t *testing.T) {
	const n, rate = 20, 200.0
	var calls []int
	var at []time.Time
	start := time.Now()
	lag, err := pace(context.Background(), start, n, rate, func(i int) {
		calls = append(calls, i)
		at = append(at, time.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != n {
		t.Fatalf("%d calls, want %d", len(calls), n)
	}
	for i, c := range calls {
		slot := start.Add(time.Duration(float64(i) * float64(time.Second) / rate))
		if c != i || at[i].Before(slot) {
			t.Errorf("call %d was of message %d at %v after start, want message %d no earlier than %v",
				i, c, at[i].Sub(start), i, slot.Sub(start))
		}
	}
	if lag < 0 {
		t.Errorf("lag %v, want ≥ 0", lag)
	}
}

func TestPace_StopsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err := pace(ctx, time.Now(), 1000, 10, func(int) {
		if calls++; calls == 2 {
			cancel()
		}
	})
	if err == nil || calls != 2 {
		t.Errorf("err %v after %d calls, want the context's error after 2", err, calls)
	}
}

func TestOptions_PacedModePublishesRateTimesDurationToOneWebhook(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		in                       Options
		events, webhooks, warmup int
	}{
		{"burst", Options{Events: 1000}, 1000, 5, 1000},
		{"burst, small", Options{Events: 20, Webhooks: 3, Warmup: -1}, 20, 3, -1},
		{"paced", Options{Events: 1000, Rate: 100, Duration: 30 * time.Second}, 3000, 1, 3000},
		{"paced, --webhooks", Options{Rate: 20, Duration: 2 * time.Second, Webhooks: 4, Warmup: 5}, 40, 4, 5},
		{"paced, fractional", Options{Rate: 2.5, Duration: 3 * time.Second}, 8, 1, 100},
	} {
		got := tc.in.withDefaults()
		if got.Events != tc.events || got.Webhooks != tc.webhooks || got.Warmup != tc.warmup {
			t.Errorf("%s: events %d, webhooks %d, warm-up %d; want %d, %d, %d",
				tc.name, got.Events, got.Webhooks, got.Warmup, tc.events, tc.webhooks, tc.warmup)
		}
	}
}
