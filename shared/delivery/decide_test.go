package delivery

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/retry"
	"github.com/jobhooks/jobhooks/shared/secrets"
	"github.com/jobhooks/jobhooks/shared/sender"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
)

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func TestReceive(t *testing.T) {
	window := 24 * time.Hour
	pending := store.Delivery{State: store.Pending, WindowStart: t0, Receipts: 3, Attempts: 2, FirstAttemptTime: t0}
	with := func(d store.Delivery, f func(*store.Delivery)) store.Delivery { f(&d); return d }
	cases := []struct {
		name     string
		task     task.Task
		rec      store.Delivery
		now      time.Time
		attempt  int
		want     step
		receipts int
		check    func(store.Delivery) error
	}{
		{name: "a new record is attempted and its window starts now", rec: store.Delivery{State: store.Pending}, now: t0, want: post, receipts: 1,
			check: func(d store.Delivery) error { return expectTime("window_start", d.WindowStart, t0) }},
		{name: "a pending record is attempted", rec: pending, now: t0.Add(time.Hour), want: post, receipts: 4},
		{name: "Pub/Sub's delivery count wins when higher", rec: pending, now: t0.Add(time.Hour), attempt: 40, want: post, receipts: 40},
		{name: "an older generation is superseded", task: task.Task{Generation: 0}, rec: with(pending, func(d *store.Delivery) { d.Generation = 1 }), now: t0, want: superseded, receipts: 3},
		{name: "an older series is superseded", task: task.Task{Series: 0, Generation: 5}, rec: with(pending, func(d *store.Delivery) { d.Series = 1 }), now: t0, want: superseded, receipts: 3},
		{name: "a newer generation resets the receipts", task: task.Task{Generation: 2}, rec: pending, now: t0, want: post, receipts: 1},
		{name: "a final record is settled", rec: with(pending, func(d *store.Delivery) { d.State = store.Delivered }), now: t0, want: settled, receipts: 3},
		{name: "a newer series reopens a final record", task: task.Task{Series: 1}, rec: with(pending, func(d *store.Delivery) { d.State = store.Exhausted; d.DeadLettered = true }), now: t0.Add(48 * time.Hour), want: post, receipts: 1,
			check: func(d store.Delivery) error {
				if d.State != store.Pending || d.DeadLettered || d.Series != 1 {
					return fmt.Errorf("series not restarted: %+v", d)
				}
				return expectTime("window_start", d.WindowStart, t0.Add(48*time.Hour))
			}},
		{name: "the window closes at 24 h from the first handling", rec: pending, now: t0.Add(window), want: exhaust, receipts: 4},
		{name: "just inside the window", rec: pending, now: t0.Add(window - time.Second), want: post, receipts: 4},
		{name: "a record with only a first attempt time starts its window there", rec: store.Delivery{State: store.Pending, FirstAttemptTime: t0}, now: t0.Add(window), want: exhaust, receipts: 1},
		{name: "before Retry-After the task waits", rec: with(pending, func(d *store.Delivery) { d.NextNotBefore = t0.Add(2 * time.Hour) }), now: t0.Add(time.Hour), want: wait, receipts: 4},
		{name: "at Retry-After it is attempted", rec: with(pending, func(d *store.Delivery) { d.NextNotBefore = t0.Add(time.Hour) }), now: t0.Add(time.Hour), want: post, receipts: 4},
		{name: "the window beats Retry-After", rec: with(pending, func(d *store.Delivery) { d.NextNotBefore = t0.Add(30 * time.Hour) }), now: t0.Add(25 * time.Hour), want: exhaust, receipts: 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, d := receive(c.task, c.rec, c.now, c.attempt, window)
			if got != c.want || d.Receipts != c.receipts {
				t.Fatalf("receive = %s with %d receipts, want %s with %d", got, d.Receipts, c.want, c.receipts)
			}
			if c.check != nil {
				if err := c.check(d); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func expectTime(what string, got, want time.Time) error {
	if !got.Equal(want) {
		return fmt.Errorf("%s = %s, want %s", what, got, want)
	}
	return nil
}

func TestHandBackFor(t *testing.T) {
	cfg := config.Defaults() // republish after 90 receipts or at 20 h
	cases := []struct {
		age      time.Duration
		receipts int
		want     handBack
	}{
		{age: time.Minute, receipts: 1, want: nack},
		{age: -1, receipts: 0, want: nack}, // nothing known
		{age: time.Minute, receipts: 89, want: nack},
		{age: time.Minute, receipts: 90, want: republish},
		{age: 20*time.Hour - time.Second, receipts: 5, want: nack},
		{age: 20 * time.Hour, receipts: 0, want: republish}, // the store is down, the message is old
		{age: -1, receipts: 95, want: republish},
	}
	for _, c := range cases {
		if got := handBackFor(c.age, c.receipts, cfg); got != c.want {
			t.Errorf("handBackFor(age %s, receipts %d) = %d, want %d", c.age, c.receipts, got, c.want)
		}
	}
}

func TestFirstFor(t *testing.T) {
	cases := []struct {
		name  string
		rec   store.Delivery
		found bool
		want  firstStep
	}{
		{name: "no record (a fresh claim)", want: attemptFirst},
		{name: "finished by the previous holder", rec: store.Delivery{State: store.Delivered}, found: true, want: leaveFinished},
		{name: "failed by the previous holder", rec: store.Delivery{State: store.Failed, Reason: "gone"}, found: true, want: leaveFinished},
		{name: "left pending by the previous holder", rec: store.Delivery{State: store.Pending, Attempts: 1}, found: true, want: queueRetry},
		{name: "pending before any POST", rec: store.Delivery{State: store.Pending}, found: true, want: queueRetry},
		{name: "in a manual retry's series", rec: store.Delivery{State: store.Pending, Series: 1}, found: true, want: leaveToItsTask},
	}
	for _, c := range cases {
		if got := firstFor(c.rec, c.found); got != c.want {
			t.Errorf("%s: firstFor = %s, want %s", c.name, got, c.want)
		}
	}
}

func TestBeforePost(t *testing.T) {
	cases := []struct {
		err    error
		state  store.DeliveryState
		reason string
	}{
		{err: &cancelled{reason: "webhook_deleted"}, state: store.Cancelled, reason: "webhook_deleted"},
		{err: fmt.Errorf("wrapped: %w", &cancelled{reason: "webhook_reenabled"}), state: store.Cancelled, reason: "webhook_reenabled"},
		{err: fmt.Errorf("secret: %w", secrets.ErrDecrypt), state: store.Failed, reason: "secret_unusable"},
		{err: fmt.Errorf("secret: %w", secrets.ErrKEKVersionUnusable), state: store.Failed, reason: "secret_unusable"},
		{err: errors.New("secret manager unavailable")},
	}
	for _, c := range cases {
		st, reason := beforePost(c.err)
		if st != c.state || reason != c.reason {
			t.Errorf("beforePost(%v) = %q %q, want %q %q", c.err, st, reason, c.state, c.reason)
		}
	}
}

func TestNeedsTask(t *testing.T) {
	for v, want := range map[retry.Verdict]bool{retry.Delivered: false, retry.Again: true, retry.Gone: false, retry.Failed: false} {
		if needsTask(v) != want {
			t.Errorf("needsTask(%s) = %v", v, !want)
		}
	}
}

func TestHostOf_ReadsWhatURLParseReads(t *testing.T) {
	for _, raw := range []string{
		"https://receiver.example.com/hooks/jobhooks", "http://127.0.0.1:18089/h", "https://a.example",
		"https://a.example?x=1", "https://a.example#f", "https://user:pw@a.example/x", "https://[::1]:8443/x",
		"HTTPS://A.example/x", "https://ho st/x", "https://a.example:/x", "https://%41.example/", "https:///x",
		"https://a\\b.example/", "ftp://a.example/", "not a url", "", "https://a.example:99999999999/x",
		"https://a:b:c/x", "https://a.example:8x/", "http://::1/", "https://localhost:80:80/", "https://:80/x",
		"https://a.example/%zz", "https://a.example#%zz", "https://a.example/\x00", "https://a.example/\x7f",
		"https://a.example/ü", "https://a_b.example/", "https://a.example?q=%zz", "https://a.example/ x",
	} {
		want := ""
		if u, err := url.Parse(raw); err == nil {
			want = u.Host
		}
		if got := hostOf(raw); got != want {
			t.Errorf("hostOf(%q) = %q, url.Parse reads %q", raw, got, want)
		}
	}
}

// A failed attempt sets the next attempt's time at least the retry gap later, so that a push of
// the task sooner (Deliver receiving the task Dispatch just queued, a duplicate, the emulator's
// second push a second after the first) hands it back without POSTing a failing endpoint twice in
// one backoff; a later Retry-After wins, and a delivered or failed attempt sets none.
func TestFold_AFailedAttemptWaitsAtLeastTheRetryGap(t *testing.T) {
	gap := 5 * time.Second
	attempt := func(status int, header http.Header) store.Delivery {
		res := retry.Classify(t0, status, header, nil, func(s int) bool { return s >= 500 || s == 429 })
		d, _ := outcome{at: t0, resp: sender.Response{StatusCode: status}, res: res, gap: gap}.fold(store.Delivery{State: store.Pending})
		return d
	}
	// The gap runs from the answer: an attempt that took longer than the gap still waits it.
	slow, _ := outcome{at: t0, resp: sender.Response{StatusCode: 503, Latency: 8 * time.Second}, gap: gap,
		res: retry.Result{Verdict: retry.Again}}.fold(store.Delivery{State: store.Pending})
	if want := t0.Add(8*time.Second + gap); !slow.NextNotBefore.Equal(want) {
		t.Errorf("an 8 s attempt: next attempt at %v, want %v", slow.NextNotBefore, want)
	}
	for _, c := range []struct {
		name   string
		status int
		header http.Header
		next   time.Time
	}{
		{"a 503", 503, nil, t0.Add(gap)},
		{"a 429 asking for less than the gap", 429, http.Header{"Retry-After": {"1"}}, t0.Add(gap)},
		{"a 503 asking for more", 503, http.Header{"Retry-After": {"120"}}, t0.Add(120 * time.Second)},
		{"a 200", 200, nil, time.Time{}},
		{"a 404", 404, nil, time.Time{}},
	} {
		d := attempt(c.status, c.header)
		if !d.NextNotBefore.Equal(c.next) {
			t.Errorf("%s: next attempt at %v, want %v", c.name, d.NextNotBefore, c.next)
			continue
		}
		if c.next.IsZero() {
			continue
		}
		if got, _ := receive(task.Task{}, d, t0.Add(time.Second), 0, time.Hour); got != wait {
			t.Errorf("%s: a push one second later is %s, want wait", c.name, got)
		}
		if got, _ := receive(task.Task{}, d, c.next, 0, time.Hour); got != post {
			t.Errorf("%s: a push at %v is %s, want post", c.name, c.next, got)
		}
	}
}
