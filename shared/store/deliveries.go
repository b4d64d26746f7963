package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// DeliveryState is the state of one (event, target) delivery.
type DeliveryState string

const (
	Pending   DeliveryState = "pending"
	Delivered DeliveryState = "delivered"
	Failed    DeliveryState = "failed"
	Exhausted DeliveryState = "exhausted"
	Cancelled DeliveryState = "cancelled"
)

// Final reports whether no further attempt will be made.
func (s DeliveryState) Final() bool { return s != Pending && s != "" }

// StartSeries is d reset for a new attempt series (a replay or manual retry) at generation.
func (d Delivery) StartSeries(series, generation int) Delivery {
	d.State, d.Reason, d.Series, d.Generation, d.Receipts, d.SeriesClaim = Pending, "", series, generation, 0, ""
	d.WindowStart, d.FirstAttemptTime, d.NextNotBefore, d.DeadLettered, d.Waiting = time.Time{}, time.Time{}, time.Time{}, false, ""
	return d
}

// What a delivery waits for (Delivery.Waiting).
const (
	WaitThrottled = "throttled"
	WaitPaused    = "paused"
)

// ReasonGone is the reason of a delivery that ended on a 410 Gone: its static webhook is disabled.
const ReasonGone = "gone"

// Gone reports whether d ended on a 410 from a static webhook, which must then be disabled.
func (d Delivery) Gone() bool { return d.State == Failed && d.Reason == ReasonGone && d.Webhook != "" }

// Delivery is the record of one delivery: its state and the summary of its attempts.
type Delivery struct {
	ID        string        `firestore:"id"`
	Project   string        `firestore:"project"`
	EventID   string        `firestore:"event_id"`
	EventType string        `firestore:"event_type"`
	MessageID string        `firestore:"message_id"`
	Webhook   string        `firestore:"webhook"` // empty for dynamic targets
	URL       string        `firestore:"url"`     // the target of the last attempt
	State     DeliveryState `firestore:"state"`
	// Reason says why a final state was reached (e.g. status_404, gone, window_exhausted).
	Reason   string `firestore:"reason"`
	Attempts int    `firestore:"attempts"`
	// Generation and Receipts count Pub/Sub deliveries of the current task message, so Deliver
	// can re-publish before the subscription's dead-letter limit. Series counts attempt series
	// (a replay starts a new one).
	Generation int `firestore:"generation"`
	Receipts   int `firestore:"receipts"`
	Series     int `firestore:"series"`
	// SeriesClaim is a random token of the manual retry or replay that claimed the current
	// series: a claim whose commit was carried out but answered an error is recognised as the
	// caller's own (shared/management/deliveries.go, claimSeries) instead of left pending with no task.
	SeriesClaim string    `firestore:"series_claim,omitempty"`
	EventTime   time.Time `firestore:"event_time"`
	CreateTime  time.Time `firestore:"create_time"`
	// WindowStart is when the current attempt series was first handled: its first attempt, or
	// its first receipt when something failed before the POST. The retry window runs from it,
	// and the record's expiry is counted from it (a new series keeps the record alive).
	WindowStart      time.Time `firestore:"window_start"`
	FirstAttemptTime time.Time `firestore:"first_attempt_time"`
	LastAttemptTime  time.Time `firestore:"last_attempt_time"`
	NextNotBefore    time.Time `firestore:"next_not_before"`
	LastStatusCode   int       `firestore:"last_status_code"`
	LastLatencyMS    int64     `firestore:"last_latency_ms"`
	LastError        string    `firestore:"last_error"`
	// Waiting says what the delivery's latest receipt waited for without an attempt: WaitThrottled
	// (no free slot) or WaitPaused (its endpoint's Retry-After or open circuit); empty after an
	// attempt. A delivery whose window closes while it waits for a slot ends exhausted with
	// reason "throttled".
	Waiting string `firestore:"waiting,omitempty"`
	// DeadLettered is set once an exhausted delivery's dead letter is published: Deliver
	// records the final state first, then publishes, so a crash in between is repaired by the
	// next redelivery, which sees an exhausted record that is not dead-lettered yet.
	DeadLettered bool      `firestore:"dead_lettered"`
	ExpireTime   time.Time `firestore:"expire_time"`
	// FirstAttempt holds the attempt of a first-try success inside the record itself: one
	// document write for the delivery instead of two (shared/delivery/README.md, One hop on the
	// happy path). Every other attempt is a document of the record's attempts collection.
	FirstAttempt *Attempt `firestore:"first_attempt,omitempty"`
	// Traceparent is the W3C traceparent of the span the record was created under: Dispatch's
	// for a first attempt, else the Deliver or DeadLetter handling that found no record. A
	// manual retry or replay puts it on its task, so that its attempts join the event's trace
	// (shared/tracing/README.md, Spans). Only the record's creation writes it (writeDelivery); it is
	// absent when that span had no valid context, and on records older than the field.
	Traceparent string `firestore:"-"`
	// Version is the record's update time when it was read, zero for a record not stored yet.
	// Every write of the record is conditional on it (see PutDelivery).
	Version time.Time `firestore:"-"`
}

// Attempt is one POST of a delivery.
type Attempt struct {
	Number int `firestore:"number"`
	Series int `firestore:"series"`
	// SeriesClaim is a random token of the manual retry or replay that claimed the current
	// series: a claim whose commit was carried out but answered an error is recognised as the
	// caller's own (shared/management/deliveries.go, claimSeries) instead of left pending with no task.
	SeriesClaim string    `firestore:"series_claim,omitempty"`
	Time        time.Time `firestore:"time"`
	URL         string    `firestore:"url"`
	StatusCode  int       `firestore:"status_code"`
	LatencyMS   int64     `firestore:"latency_ms"`
	Outcome     string    `firestore:"outcome"`
	Error       string    `firestore:"error"`
	// ResponseBody is the first 4 KiB of the endpoint's answer.
	ResponseBody string    `firestore:"response_body"`
	ExpireTime   time.Time `firestore:"expire_time"`
}

func (s *Store) deliveries(project string) *firestore.CollectionRef {
	return s.project(project).Collection("deliveries")
}

// FailClaimedSeries ends a delivery whose claimed attempt series (a manual retry or replay) will
// never be sent: while its record still holds that series and claim, pending, it becomes failed
// with reason, so it is neither left pending nor refused a retry for good. A record that moved
// on is left alone.
func (s *Store) FailClaimedSeries(ctx context.Context, project, id string, series int, claim, reason string) error {
	var err error
	for range 3 { // a write between the read and the commit: read it again
		var d Delivery
		d, err = s.GetDelivery(ctx, project, id)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.Series != series || d.SeriesClaim != claim || d.State != Pending {
			return nil
		}
		d.State, d.Reason = Failed, reason
		if err = s.PutDelivery(ctx, &d); !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return err
}

// GetDelivery reads a delivery record; ErrNotFound before its first handling.
func (s *Store) GetDelivery(ctx context.Context, project, id string) (Delivery, error) {
	snap, err := s.deliveries(project).Doc(id).Get(ctx)
	if err != nil {
		return Delivery{}, notFound(err, "delivery "+project+"/"+id)
	}
	d, err := DecodeDelivery(snap)
	if err != nil {
		return d, fmt.Errorf("store: decode delivery %s/%s: %w", project, id, err)
	}
	return d, nil
}

// PutDelivery writes a delivery record whole, if it is still the version that was read (a
// record with no Version must not exist yet); otherwise it fails with ErrConflict. Two copies of
// one task can be handled at once (Pub/Sub pushes a message twice now and then; a re-dispatched
// event publishes its tasks again), and DeadLetter closes records too: an unconditional write
// could put a delivered record back to pending after its message was acknowledged, and no
// redelivery would ever finish it. On success d.Version is the new version.
func (s *Store) PutDelivery(ctx context.Context, d *Delivery) error {
	b := s.fs.Batch()
	s.writeDelivery(b, d)
	res, err := b.Commit(ctx)
	if err != nil {
		return fmt.Errorf("store: put delivery %s/%s: %w", d.Project, d.ID, conflict(err))
	}
	d.Version = res[0].UpdateTime
	return nil
}

// RecordAttempt writes the delivery record, conditionally as PutDelivery does, and its new
// attempt in one atomic commit: a reader never sees an attempt count that disagrees with the
// attempts stored. The attempt of a first-try success is kept inside the record (FirstAttempt),
// so that delivery costs one document write.
func (s *Store) RecordAttempt(ctx context.Context, d *Delivery, a Attempt) error {
	// A write batch is one commit RPC; a transaction would add a round trip for no read.
	b := s.fs.Batch()
	s.addAttempt(b, d, &a)
	res, err := b.Commit(ctx)
	if err != nil {
		return fmt.Errorf("store: record attempt %d of %s/%s: %w", a.Number, d.Project, d.ID, conflict(err))
	}
	d.Version = res[0].UpdateTime
	return nil
}

// addAttempt adds to b the conditional write of d and, if a is not nil, of its new attempt: the
// attempt of a first-try success goes inside the record, any other into its own document.
// It returns how many document writes it added.
func (s *Store) addAttempt(b *firestore.WriteBatch, d *Delivery, a *Attempt) int {
	inline := a != nil && a.Number == 1 && d.Attempts == 1 && d.State == Delivered
	if a != nil {
		a.ExpireTime = s.expiry(a.Time)
		if inline {
			d.FirstAttempt = a
		}
	}
	ref := s.writeDelivery(b, d)
	if a == nil || inline {
		return 1
	}
	b.Set(ref.Collection("attempts").Doc(fmt.Sprintf("%06d", a.Number)), attemptDoc{Number: a.Number, ExpireTime: a.ExpireTime, A: *a})
	return 2
}

// Recorded is one delivery record to write and the attempt it gained (nil when no POST was made).
type Recorded struct {
	Delivery *Delivery
	Attempt  *Attempt
}

// Dispatched is what closes an event record: when. The deliveries it went to are the plan the
// record was claimed with, never rewritten (EventRecord.Targets).
type Dispatched struct {
	At time.Time
}

// maxBatchWrites keeps a commit below Firestore's 500 writes.
const maxBatchWrites = 400

// CommitDispatch writes the records of an event's first attempts, each conditionally as
// PutDelivery does, in as few commits as Firestore allows (one for up to 200 targets); with
// done set, the last commit also closes the event record, conditional on the claim. Nothing of
// a commit is written if any of its preconditions fails (ErrConflict). On success every
// record's Version is its new version.
func (s *Store) CommitDispatch(ctx context.Context, project, eventID string, claim EventClaim, recs []Recorded, done *Dispatched) error {
	if len(recs) == 0 && done == nil {
		return nil
	}
	for {
		b, n, k := s.fs.Batch(), 0, 0
		for ; k < len(recs) && n < maxBatchWrites; k++ {
			n += s.addAttempt(b, recs[k].Delivery, recs[k].Attempt)
		}
		last := k == len(recs)
		if last && done != nil {
			s.markDispatched(b, project, eventID, claim, done.At)
		}
		res, err := b.Commit(ctx)
		if err != nil {
			return notFound(conflict(err), "commit dispatch of event "+project+"/"+eventID)
		}
		s.setVersions(recs[:k], res)
		recs = recs[k:]
		if last {
			return nil
		}
	}
}

// setVersions gives each record the update time of its write in res (the writes of one batch,
// in order: a record, then its attempt if it has its own document).
func (s *Store) setVersions(recs []Recorded, res []*firestore.WriteResult) {
	i := 0
	for _, r := range recs {
		r.Delivery.Version = res[i].UpdateTime
		i++
		if r.Attempt != nil && r.Delivery.FirstAttempt != r.Attempt {
			i++
		}
	}
}

// GetDeliveries reads the records of the given deliveries of one project in one call; a
// delivery without a record is absent from the map.
func (s *Store) GetDeliveries(ctx context.Context, project string, ids []string) (map[string]Delivery, error) {
	refs := make([]*firestore.DocumentRef, len(ids))
	for i, id := range ids {
		refs[i] = s.deliveries(project).Doc(id)
	}
	snaps, err := s.fs.GetAll(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("store: read deliveries of %s: %w", project, err)
	}
	out := make(map[string]Delivery, len(snaps))
	for _, snap := range snaps {
		if !snap.Exists() {
			continue
		}
		d, err := DecodeDelivery(snap)
		if err != nil {
			return nil, fmt.Errorf("store: decode delivery %s: %w", snap.Ref.Path, err)
		}
		out[d.ID] = d
	}
	return out, nil
}

// writeDelivery adds the conditional write of d to b: create-if-absent for a new record, else
// every field but those kept from its creation (createOnly), if the record's update time is
// still d.Version (Set takes no precondition).
// The record expires a record TTL after its creation or after the start of its latest attempt
// series, whichever is later: a retry or replay of an old delivery must not run on a record
// about to vanish (config.Load keeps the TTL above the retry window plus a day).
func (s *Store) writeDelivery(b *firestore.WriteBatch, d *Delivery) *firestore.DocumentRef {
	from := d.CreateTime
	if d.WindowStart.After(from) {
		from = d.WindowStart
	}
	d.ExpireTime = s.expiry(from)
	ref := s.deliveries(d.Project).Doc(d.ID)
	if d.Version.IsZero() {
		b.Create(ref, deliveryDocOf(*d))
	} else {
		b.Update(ref, fields(deliveryDocOf(*d), createOnly), firestore.LastUpdateTime(d.Version))
	}
	return ref
}

// createOnly are the stored fields of a delivery record that only its creation writes: a record
// keeps the trace of its event, whatever span a later write is made under (a retry's Deliver,
// DeadLetter), and whatever a caller left in the struct it writes.
var createOnly = map[string]bool{"traceparent": true}

// fields lists every stored field of v, a struct with firestore tags, as updates, except those
// in skip.
func fields(v any, skip map[string]bool) []firestore.Update {
	rv := reflect.ValueOf(v)
	var out []firestore.Update
	for i := range rv.NumField() {
		name, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("firestore"), ",")
		if name != "" && name != "-" && !skip[name] {
			out = append(out, firestore.Update{Path: name, Value: rv.Field(i).Interface()})
		}
	}
	return out
}

// conflict marks a failed precondition (the record changed, or exists already) as ErrConflict.
func conflict(err error) error {
	if c := status.Code(err); c == codes.FailedPrecondition || c == codes.AlreadyExists {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}

// ListAttempts reads the attempts of delivery d, oldest first: the one kept inside the record,
// if any, then those of its attempts collection.
func (s *Store) ListAttempts(ctx context.Context, d Delivery) ([]Attempt, error) {
	project, id := d.Project, d.ID
	it := s.deliveries(project).Doc(id).Collection("attempts").OrderBy("number", firestore.Asc).Documents(ctx)
	defer it.Stop()
	var out []Attempt
	if d.FirstAttempt != nil {
		out = append(out, *d.FirstAttempt)
	}
	for {
		snap, err := it.Next()
		if err == iterator.Done {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("store: list attempts of %s/%s: %w", project, id, err)
		}
		a, err := decodeAttempt(snap)
		if err != nil {
			return nil, fmt.Errorf("store: decode attempt %s: %w", snap.Ref.Path, err)
		}
		out = append(out, a)
	}
}
