package retry

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/sender"
)

var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func defaults(code int) bool { return slices.Contains([]int{408, 425, 429, 500, 502, 503, 504}, code) }

func TestClassify_FollowsSpecSection4(t *testing.T) {
	cases := []struct {
		status int
		err    error
		want   Verdict
	}{
		{200, nil, Delivered}, {204, nil, Delivered}, {299, nil, Delivered},
		{301, nil, Failed}, {302, nil, Failed}, // redirects are never followed
		{400, nil, Failed}, {404, nil, Failed}, {501, nil, Failed},
		{408, nil, Again}, {425, nil, Again}, {429, nil, Again}, {500, nil, Again}, {503, nil, Again},
		{410, nil, Gone},
		{0, fmt.Errorf("x: %w", sender.ErrTimeout), Again},
		{0, fmt.Errorf("x: %w", sender.ErrConnection), Again},
		{0, fmt.Errorf("x: %w", sender.ErrBlocked), Failed},
	}
	for _, c := range cases {
		if got := Classify(now, c.status, http.Header{}, c.err, defaults).Verdict; got != c.want {
			t.Errorf("status %d err %v: got %v, want %v", c.status, c.err, got, c.want)
		}
	}
}

func TestClassify_OnlyTheWebhooksRetryCodesRetry(t *testing.T) {
	only418 := func(c int) bool { return c == 418 }
	if v := Classify(now, 503, nil, nil, only418).Verdict; v != Failed {
		t.Errorf("503 not in the list: got %v, want failed", v)
	}
	if v := Classify(now, 418, http.Header{}, nil, only418).Verdict; v != Again {
		t.Errorf("418 in the list: got %v, want retry", v)
	}
}

func TestClassify_RetryAfterSetsNotBefore(t *testing.T) {
	h := http.Header{"Retry-After": {"120"}}
	r := Classify(now, 429, h, nil, defaults)
	if !r.NotBefore.Equal(now.Add(2 * time.Minute)) {
		t.Errorf("NotBefore = %v", r.NotBefore)
	}
}

func TestParseRetryAfter(t *testing.T) {
	cases := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"", time.Time{}, false},
		{"30", now.Add(30 * time.Second), true},
		{"0", time.Time{}, false},
		{"-5", time.Time{}, false},
		{"999999999", now.Add(6 * time.Hour), true},
		{"99999999999999999999999", time.Time{}, false},
		{now.Add(time.Hour).Format(http.TimeFormat), now.Add(time.Hour), true},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), now.Add(6 * time.Hour), true},
		{now.Add(-time.Hour).Format(http.TimeFormat), time.Time{}, false},
		{"soon", time.Time{}, false},
	}
	for _, c := range cases {
		got, ok := ParseRetryAfter(c.in, now)
		if ok != c.ok || !got.Equal(c.want) {
			t.Errorf("%q: got %v %v, want %v %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// FuzzParseRetryAfter feeds arbitrary header values to ParseRetryAfter: whatever an endpoint
// sends, the earliest next attempt lies in (now, now+6h], and a number of seconds means exactly
// that many (capped). Seeds beyond these are in testdata/fuzz/FuzzParseRetryAfter.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"30", "Sat, 28 Nov 2026 13:00:00 GMT", "", "-1", "1e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		at, ok := ParseRetryAfter(v, now)
		if ok && (!at.After(now) || at.After(now.Add(MaxRetryAfter))) {
			t.Fatalf("%q gave %v outside (now, now+6h]", v, at)
		}
		if secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && secs > 0 {
			want := now.Add(min(time.Duration(min(secs, 1<<32))*time.Second, MaxRetryAfter))
			if !ok || !at.Equal(want) {
				t.Fatalf("%q seconds gave %v %v, want %v", v, at, ok, want)
			}
		}
	})
}
