// Package retry decides what one attempt's result means (shared/delivery/README.md, Guarantees):
// delivered, retry later, the endpoint is gone, or a permanent failure; and when the next attempt
// may happen at the earliest.
//
// It decides only; recording the attempt and acknowledging the message are the caller's.
package retry

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jobhooks/jobhooks/shared/sender"
)

// Verdict is what an attempt's result means for the delivery.
type Verdict int

const (
	// Delivered: any 2xx.
	Delivered Verdict = iota
	// Again: a connection error, a timeout or a status the webhook retries on.
	Again
	// Gone: 410; the static webhook is disabled and the delivery ends.
	Gone
	// Failed: any other status, or a target the address guard refuses; final.
	Failed
)

func (v Verdict) String() string {
	return [...]string{"delivered", "retry", "gone", "failed"}[v]
}

// MaxRetryAfter caps the wait an endpoint can ask for.
const MaxRetryAfter = 6 * time.Hour

// Result is the classification of one attempt.
type Result struct {
	Verdict Verdict
	// NotBefore is set when the endpoint sent Retry-After: no attempt before it.
	NotBefore time.Time
	// Reason is a short machine-readable cause, recorded with the attempt.
	Reason string
}

// Classify reads an attempt: status is 0 when err is set. retriesOn says which statuses the
// webhook retries on.
func Classify(now time.Time, status int, header http.Header, err error, retriesOn func(int) bool) Result {
	if err != nil {
		switch {
		case errors.Is(err, sender.ErrBlocked):
			// The address guard refused the target: retrying cannot make it safe.
			return Result{Verdict: Failed, Reason: "blocked_address"}
		case errors.Is(err, sender.ErrTimeout):
			return Result{Verdict: Again, Reason: "timeout"}
		default:
			return Result{Verdict: Again, Reason: "connection_error"}
		}
	}
	switch {
	case status >= 200 && status < 300:
		return Result{Verdict: Delivered, Reason: "ok"}
	case status == http.StatusGone:
		return Result{Verdict: Gone, Reason: "gone"}
	case retriesOn(status):
		r := Result{Verdict: Again, Reason: "status_" + strconv.Itoa(status)}
		if t, ok := ParseRetryAfter(header.Get("Retry-After"), now); ok {
			r.NotBefore = t
		}
		return r
	default:
		return Result{Verdict: Failed, Reason: "status_" + strconv.Itoa(status)}
	}
}

// ParseRetryAfter reads a Retry-After value, delay-seconds or an HTTP date, and returns the time
// before which no attempt may happen, capped at now+MaxRetryAfter. ok is false for an absent,
// malformed or past value.
func ParseRetryAfter(v string, now time.Time) (t time.Time, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return time.Time{}, false
		}
		if secs > int64(MaxRetryAfter/time.Second) {
			secs = int64(MaxRetryAfter / time.Second)
		}
		return now.Add(time.Duration(secs) * time.Second), true
	}
	at, err := http.ParseTime(v)
	if err != nil || !at.After(now) {
		return time.Time{}, false
	}
	if limit := now.Add(MaxRetryAfter); at.After(limit) {
		at = limit
	}
	return at, true
}
