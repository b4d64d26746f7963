package delivery

import (
	"errors"
	"time"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/retry"
	"github.com/jobhooks/jobhooks/shared/secrets"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
)

// The decisions of this file are pure: they read a task, its record and the clock, and say what
// comes next. Handle and FirstAttempts carry them out (shared/delivery/README.md, Guarantees).

// step is what one receipt of a delivery task comes to before any POST.
type step int

const (
	// post: make the next attempt.
	post step = iota
	// superseded: an older copy of the task — a re-publication or a newer attempt series
	// replaced it. Ack; nothing is written.
	superseded
	// settled: the record is final already. Nothing is sent; what a crash may have cut short
	// after the final write is repaired, and the task acked.
	settled
	// exhaust: the retry window has closed; the delivery ends exhausted and is dead-lettered.
	exhaust
	// wait: the next attempt's time (the endpoint's Retry-After, or the retry gap after a
	// failed attempt) has not come. The receipt is counted and the task handed back without a
	// POST.
	wait
)

var stepNames = [...]string{"post", "superseded", "settled", "exhaust", "wait"}

func (s step) String() string { return stepNames[s] }

// receive decides what a receipt of task t does, given its record d (a new record when the
// delivery was never handled) and the Pub/Sub delivery count of the message (0 when unknown),
// and returns the record as the receipt leaves it: a new series started, the receipt counted,
// the window's start set at the first handling.
func receive(t task.Task, d store.Delivery, now time.Time, deliveryAttempt int, window time.Duration) (step, store.Delivery) {
	if t.Series < d.Series || (t.Series == d.Series && t.Generation < d.Generation) {
		return superseded, d
	}
	if t.Series > d.Series {
		d = d.StartSeries(t.Series, t.Generation)
	}
	if d.State.Final() {
		return settled, d
	}
	if t.Generation > d.Generation {
		d.Generation, d.Receipts = t.Generation, 0
	}
	d.Receipts = max(d.Receipts+1, deliveryAttempt)
	if d.WindowStart.IsZero() {
		// The window runs from the first handling, attempt or not (shared/delivery/README.md,
		// Guarantees).
		d.WindowStart = firstNonZero(d.FirstAttemptTime, now)
	}
	switch {
	case now.Sub(d.WindowStart) >= window:
		return exhaust, d
	case now.Before(d.NextNotBefore):
		return wait, d
	}
	return post, d
}

// handBack is how a task that needs another try goes back to Pub/Sub.
type handBack int

const (
	// nack: Pub/Sub redelivers the message with the subscription's backoff.
	nack handBack = iota
	// republish: the task is published again as the next generation and this message acked,
	// before Pub/Sub would end it on its own: its dead-letter policy after 100 deliveries, or
	// its retention, which deletes a message left unacked for 24 h without a trace.
	republish
)

// handBackFor decides how a task goes back: age is how long ago its message was published
// (negative when unknown), receipts how many times this generation was received (0 when its
// record could not be read).
func handBackFor(age time.Duration, receipts int, cfg config.Config) handBack {
	if age >= cfg.RepublishAge || receipts >= cfg.RepublishAfter {
		return republish
	}
	return nack
}

// firstStep is what Dispatch does for one target of an event it claimed.
type firstStep int

const (
	// attemptFirst: no record yet (always so on a fresh claim): make the first attempt.
	attemptFirst firstStep = iota
	// leaveFinished: a previous holder of the claim finished the delivery; only what a crash
	// may have cut short is repaired.
	leaveFinished
	// queueRetry: a previous holder attempted it and it needs a retry, whose task may not have
	// been published: publish it (Deliver deduplicates by record).
	queueRetry
	// leaveToItsTask: the record is in a later attempt series (a manual retry or replay), whose
	// own task is live.
	leaveToItsTask
)

var firstStepNames = [...]string{"attempt", "leave_finished", "queue_retry", "leave_to_its_task"}

func (f firstStep) String() string { return firstStepNames[f] }

// firstFor decides what Dispatch does for a target, given its record if one exists.
func firstFor(d store.Delivery, found bool) firstStep {
	switch {
	case !found:
		return attemptFirst
	case d.Series > 0:
		return leaveToItsTask
	case d.State.Final():
		return leaveFinished
	}
	return queueRetry
}

// needsTask reports whether an attempt's verdict leaves the delivery for a retry.
func needsTask(v retry.Verdict) bool { return v == retry.Again }

// beforePost reads an error that stopped a delivery before its POST: the final state it ends
// the delivery in, with the reason, or "" when the delivery is to be tried again (a webhook
// read, Secret Manager or a signer failing).
func beforePost(err error) (store.DeliveryState, string) {
	var c *cancelled
	switch {
	case errors.As(err, &c):
		return store.Cancelled, c.reason
	case errors.Is(err, secrets.ErrDecrypt) || errors.Is(err, secrets.ErrKEKVersionUnusable):
		// Fail closed: never send unsigned. Retrying cannot repair a ciphertext.
		return store.Failed, "secret_unusable"
	}
	return "", ""
}
