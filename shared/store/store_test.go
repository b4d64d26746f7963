package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/devtools/emulator"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

func TestMain(m *testing.M) { os.Exit(emulator.Main(m, emulator.Firestore)) }

var seq atomic.Int64

// open returns a store on a database of its own (a fresh Google project id on the emulator).
func open(t *testing.T) *Store {
	t.Helper()
	emulator.Need(t)
	s, err := Open(context.Background(), fmt.Sprintf("store-test-%d-%d", os.Getpid(), seq.Add(1)), "(default)", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestClaimEvent_ExactlyOneOfManyConcurrentClaimsWins(t *testing.T) {
	s := open(t)
	now := time.Now()
	var wins, others atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := s.ClaimEvent(context.Background(), EventRecord{Project: "p", ID: "e1", Type: "a.b"}, time.Minute, now)
			if err != nil {
				t.Error(err)
				return
			}
			if c.Outcome == Claimed {
				wins.Add(1)
			} else {
				others.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || others.Load() != 7 {
		t.Fatalf("%d claims won, %d lost; want 1 and 7", wins.Load(), others.Load())
	}
}

func TestClaimEvent_DispatchedIsFinalAndAnAbandonedClaimIsTakenOver(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := time.Now()
	// One planned delivery without a record: the event is not done until it is closed.
	rec := EventRecord{Project: "p", ID: "e2", Type: "a.b", Deliveries: []string{"dlv_1"}}
	first, _ := s.ClaimEvent(ctx, rec, time.Minute, now)
	if first.Outcome != Claimed || first.CreateTime.IsZero() {
		t.Fatalf("first claim: %v at %v", first.Outcome, first.CreateTime)
	}
	if c, _ := s.ClaimEvent(ctx, rec, time.Minute, now.Add(30*time.Second)); c.Outcome != ClaimedElsewhere {
		t.Errorf("within the lease: %v, want ClaimedElsewhere", c.Outcome)
	}
	c, _ := s.ClaimEvent(ctx, rec, time.Minute, now.Add(2*time.Minute))
	if c.Outcome != Claimed || !c.CreateTime.Equal(first.CreateTime) {
		t.Errorf("after the lease: %v created %v, want Claimed (take-over) keeping the first claim's time %v (its commit time)", c.Outcome, c.CreateTime, first.CreateTime)
	}
	if err := s.MarkDispatched(ctx, "p", "e2", c, now); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.ClaimEvent(ctx, rec, time.Minute, now.Add(time.Hour)); c.Outcome != AlreadyDispatched {
		t.Errorf("after dispatch: %v, want AlreadyDispatched", c.Outcome)
	}
	// Releasing lets the next claim in at once.
	rec.ID = "e3"
	c, _ = s.ClaimEvent(ctx, rec, time.Minute, now)
	if err := s.ReleaseEvent(ctx, "p", "e3", c); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.ClaimEvent(ctx, rec, time.Minute, now.Add(time.Second)); c.Outcome != Claimed {
		t.Errorf("after release: %v, want Claimed", c.Outcome)
	}
}

// A holder that outlived its lease was taken over: its release and its dispatch mark must not
// clear or close the new holder's claim (a third instance would fan the event out again).
func TestClaimEvent_ATakenOverHolderCannotReleaseOrCloseTheNewClaim(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := time.Now()
	rec := EventRecord{Project: "p", ID: "e4", Type: "a.b", Deliveries: []string{"dlv_1"}}
	old, _ := s.ClaimEvent(ctx, rec, time.Minute, now)
	taker, _ := s.ClaimEvent(ctx, rec, time.Minute, now.Add(2*time.Minute))
	if old.Outcome != Claimed || taker.Outcome != Claimed {
		t.Fatalf("claims %v, %v; want both Claimed (the second a take-over)", old.Outcome, taker.Outcome)
	}
	if err := s.ReleaseEvent(ctx, "p", "e4", old); !errors.Is(err, ErrConflict) {
		t.Errorf("the old holder's release: %v, want ErrConflict", err)
	}
	if err := s.MarkDispatched(ctx, "p", "e4", old, now); !errors.Is(err, ErrConflict) {
		t.Errorf("the old holder's dispatch mark: %v, want ErrConflict", err)
	}
	if c, _ := s.ClaimEvent(ctx, rec, time.Minute, now.Add(2*time.Minute+time.Second)); c.Outcome != ClaimedElsewhere {
		t.Errorf("a third claim within the new lease: %v, want ClaimedElsewhere", c.Outcome)
	}
	if err := s.MarkDispatched(ctx, "p", "e4", taker, now); err != nil {
		t.Errorf("the new holder's dispatch mark: %v", err)
	}
}

// The plan is the first claim's: a take-over gets it back whatever plan it brings, and an event
// whose only record ended on a static webhook's 410 is not done until it is closed (the webhook's
// disable may not have happened).
func TestClaimEvent_ATakeOverGetsTheFirstClaimsPlanAndA410KeepsTheEventOpen(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := time.Now()
	first := EventRecord{Project: "p", ID: "e5", Type: "a.b", Deliveries: []string{"dlv_a", "dlv_b"}, Targets: []string{"webhook:a", "webhook:b"}}
	if c, _ := s.ClaimEvent(ctx, first, time.Minute, now); c.Outcome != Claimed || len(c.Targets) != 2 {
		t.Fatalf("first claim: %v with plan %v", c.Outcome, c.Targets)
	}
	later := EventRecord{Project: "p", ID: "e5", Type: "a.b", Deliveries: []string{"dlv_a"}, Targets: []string{"webhook:a"}}
	c, _ := s.ClaimEvent(ctx, later, time.Minute, now.Add(2*time.Minute))
	if c.Outcome != Claimed || c.Fresh || !slices.Equal(c.Targets, first.Targets) || !slices.Equal(c.Deliveries, first.Deliveries) {
		t.Errorf("take-over: %v (fresh %v) with plan %v %v, want the first claim's %v %v", c.Outcome, c.Fresh, c.Targets, c.Deliveries, first.Targets, first.Deliveries)
	}

	gone := EventRecord{Project: "p", ID: "e6", Type: "a.b", Deliveries: []string{"dlv_g"}, Targets: []string{"webhook:g"}}
	c, _ = s.ClaimEvent(ctx, gone, time.Minute, now)
	d := Delivery{ID: "dlv_g", Project: "p", EventID: "e6", Webhook: "g", State: Failed, Reason: ReasonGone}
	if err := s.PutDelivery(ctx, &d); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseEvent(ctx, "p", "e6", c); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.ClaimEvent(ctx, gone, time.Minute, now.Add(time.Second)); c.Outcome != Claimed {
		t.Errorf("an event whose one record is a 410 not yet closed: %v, want Claimed (to repair the disable)", c.Outcome)
	}
}

func TestWebhookHealth_StreakStartIsWrittenOnceAndDisableNeedsEnabled(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	w := webhook.Webhook{Project: "p", ID: "w", URL: "https://x.example", State: webhook.Enabled}
	if err := s.CreateWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateWebhook(ctx, w); err == nil || !strings.Contains(err.Error(), ErrAlreadyExists.Error()) {
		t.Errorf("duplicate create: %v", err)
	}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	// A health write waits until the document was last written a second ago (HealthEvery).
	settle := func() { time.Sleep(HealthEvery) }
	settle()
	since, _ := s.MarkFailing(ctx, "p", "w", t0)
	again, _ := s.MarkFailing(ctx, "p", "w", t0.Add(time.Hour))
	if !since.Equal(t0) || !again.Equal(t0) {
		t.Errorf("streak start %v then %v, want %v both times", since, again, t0)
	}
	// A success before the streak began does not end it (the failures came after it).
	if err := s.MarkHealthy(ctx, "p", "w", t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetWebhook(ctx, "p", "w"); !got.FailingSince.Equal(t0) {
		t.Errorf("a success older than the streak erased it: failing since %v, want %v", got.FailingSince, t0)
	}
	settle()
	if err := s.RestartStreak(ctx, "p", "w", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetWebhook(ctx, "p", "w"); !got.FailingSince.Equal(t0.Add(time.Hour)) {
		t.Errorf("restarted streak starts %v, want %v", got.FailingSince, t0.Add(time.Hour))
	}
	settle()
	if err := s.MarkHealthy(ctx, "p", "w", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetWebhook(ctx, "p", "w"); !got.FailingSince.IsZero() {
		t.Errorf("healthy webhook still failing since %v", got.FailingSince)
	}
	// An instance whose cached copy shows an older streak does not disable a webhook whose
	// streak was reset meanwhile (a user fixed its URL).
	if err := s.DisableAfterStreak(ctx, "p", "w", "r", t0, t0.Add(73*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetWebhook(ctx, "p", "w"); got.State != webhook.Enabled {
		t.Errorf("disabled after a streak that no longer holds: %s", got.State)
	}
	// A webhook the user disabled is not turned into "disabled due to failures".
	w.State = webhook.Disabled
	s.PutWebhook(ctx, w)
	s.DisableForFailures(ctx, "p", "w", "r", t0)
	if got, _ := s.GetWebhook(ctx, "p", "w"); got.State != webhook.Disabled {
		t.Errorf("state = %s", got.State)
	}
	if _, err := s.MarkFailing(ctx, "p", "missing", t0); err == nil {
		t.Error("MarkFailing of a missing webhook succeeded")
	}
}

// Health is written at most once a second per webhook, whatever the writer: a change to a
// document written less than HealthEvery ago is refused with ErrDebounced and writes nothing,
// and the same change a second later is written.
func TestWebhookHealth_AWriteWithinASecondOfTheLastIsRefusedAndNothingIsWritten(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	if err := s.CreateWebhook(ctx, webhook.Webhook{Project: "p", ID: "flap", URL: "https://x.example", State: webhook.Enabled}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.MarkRetrying(ctx, "p", "flap", t0); !errors.Is(err, ErrDebounced) {
		t.Fatalf("a health write just after the webhook's creation: %v, want ErrDebounced", err)
	}
	time.Sleep(HealthEvery)
	if since, err := s.MarkRetrying(ctx, "p", "flap", t0); err != nil || !since.Equal(t0) {
		t.Fatalf("a second later: %v, %v", since, err)
	}
	if err := s.MarkHealthy(ctx, "p", "flap", t0.Add(time.Minute)); !errors.Is(err, ErrDebounced) {
		t.Errorf("a success just after the failure was written: %v, want ErrDebounced", err)
	}
	if got, _ := s.GetWebhook(ctx, "p", "flap"); !got.FailingSince.Equal(t0) || !got.RetryingSince.Equal(t0) {
		t.Errorf("after the refused write: failing since %v, retrying since %v; want both %v", got.FailingSince, got.RetryingSince, t0)
	}
	// A write that changes nothing is no write, and is never refused.
	if since, err := s.MarkFailing(ctx, "p", "flap", t0.Add(time.Hour)); err != nil || !since.Equal(t0) {
		t.Errorf("a failure during the streak: %v, %v", since, err)
	}
	time.Sleep(HealthEvery)
	if err := s.MarkHealthy(ctx, "p", "flap", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetWebhook(ctx, "p", "flap"); !got.FailingSince.IsZero() || !got.RetryingSince.IsZero() {
		t.Errorf("healthy again: failing since %v, retrying since %v", got.FailingSince, got.RetryingSince)
	}
}

func TestPutDelivery_AWriteFromAStaleReadIsAConflict(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	d := Delivery{ID: "dlv_1", Project: "p", Webhook: "w", State: Pending, CreateTime: time.Now()}
	if err := s.PutDelivery(ctx, &d); err != nil || d.Version.IsZero() {
		t.Fatalf("create: %v, version %v", err, d.Version)
	}
	again := Delivery{ID: "dlv_1", Project: "p", Webhook: "w", State: Pending, CreateTime: d.CreateTime}
	if err := s.PutDelivery(ctx, &again); !errors.Is(err, ErrConflict) {
		t.Fatalf("second create: %v, want ErrConflict", err)
	}
	first, err := s.GetDelivery(ctx, "p", "dlv_1")
	if err != nil {
		t.Fatal(err)
	}
	second := first
	first.State, first.Reason = Delivered, ""
	if err := s.RecordAttempt(ctx, &first, Attempt{Number: 1, Time: time.Now(), Outcome: "delivered"}); err != nil {
		t.Fatal(err)
	}
	second.State, second.Attempts = Pending, 1
	if err := s.RecordAttempt(ctx, &second, Attempt{Number: 1, Time: time.Now(), Outcome: "retrying"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("write from the stale read: %v, want ErrConflict", err)
	}
	got, err := s.GetDelivery(ctx, "p", "dlv_1")
	if err != nil || got.State != Delivered {
		t.Fatalf("record %s, %v; want delivered", got.State, err)
	}
	atts, err := s.ListAttempts(ctx, got)
	if err != nil || len(atts) != 1 || atts[0].Outcome != "delivered" {
		t.Fatalf("attempts %+v, %v; want the delivered one only", atts, err)
	}
	// A write from the latest read goes through.
	got.Reason = "checked"
	if err := s.PutDelivery(ctx, &got); err != nil {
		t.Fatal(err)
	}
}

func TestDeliveries_ListPagesNewestFirstAndStaysInsideTheProject(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		st := Delivered
		if i%2 == 1 {
			st = Failed
		}
		d := Delivery{ID: fmt.Sprintf("dlv_%d", i), Project: "a", Webhook: "w", State: st, CreateTime: t0.Add(time.Duration(i) * time.Minute)}
		if err := s.PutDelivery(ctx, &d); err != nil {
			t.Fatal(err)
		}
	}
	s.PutDelivery(ctx, &Delivery{ID: "dlv_other", Project: "b", Webhook: "w", State: Failed, CreateTime: t0})

	page1, err := s.ListDeliveries(ctx, "a", "w", "", 3, "")
	if err != nil {
		t.Fatal(err)
	}
	page2, _ := s.ListDeliveries(ctx, "a", "w", "", 3, page1[len(page1)-1].ID)
	var ids []string
	for _, d := range append(page1, page2...) {
		ids = append(ids, d.ID)
	}
	if got := strings.Join(ids, ","); got != "dlv_4,dlv_3,dlv_2,dlv_1,dlv_0" {
		t.Errorf("pages = %s", got)
	}
	failed, _ := s.ListDeliveries(ctx, "a", "w", Failed, 10, "")
	if len(failed) != 2 {
		t.Errorf("failed = %d, want 2", len(failed))
	}
	replay, _ := s.FinishedDeliveriesBetween(ctx, "a", "w", t0, t0.Add(4*time.Minute), 10)
	if len(replay) != 2 || replay[0].ID != "dlv_1" {
		t.Errorf("replay range = %+v", replay)
	}
	if oldest, _ := s.FinishedDeliveriesBetween(ctx, "a", "w", t0, t0.Add(4*time.Minute), 1); len(oldest) != 1 || oldest[0].ID != "dlv_1" {
		t.Errorf("replay range limited to 1 = %+v, want the oldest", oldest)
	}
	if _, err := s.GetDelivery(ctx, "a", "dlv_other"); err == nil {
		t.Error("project a read project b's delivery")
	}
}

// TestIndexes_TerraformDeclaresEveryCompositeIndexTheQueriesNeed keeps terraform/firestore.tf
// equal to Indexes: a query without its index fails in production (the emulator needs none).
func TestIndexes_TerraformDeclaresEveryCompositeIndexTheQueriesNeed(t *testing.T) {
	hcl, err := os.ReadFile("../../terraform/firestore.tf")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)resource "google_firestore_index" "\w+" \{(.*?)\n\}`)
	field := regexp.MustCompile(`field_path\s*=\s*"([^"]+)"\s*\n\s*order\s*=\s*"(ASCENDING|DESCENDING)"`)
	coll := regexp.MustCompile(`collection\s*=\s*"([^"]+)"`)
	declared := map[string]bool{}
	for _, m := range block.FindAllStringSubmatch(string(hcl), -1) {
		c := coll.FindStringSubmatch(m[1])
		var fs []string
		for _, f := range field.FindAllStringSubmatch(m[1], -1) {
			fs = append(fs, f[1]+" "+map[string]string{"ASCENDING": "ASC", "DESCENDING": "DESC"}[f[2]])
		}
		if c != nil {
			declared[c[1]+": "+strings.Join(fs, ", ")] = true
		}
	}
	want := map[string]bool{}
	for _, ix := range Indexes {
		key := ix.Collection + ": " + strings.Join(ix.Fields, ", ")
		want[key] = true
		if !declared[key] {
			t.Errorf("%s needs the index %s; terraform/firestore.tf does not declare it", ix.Query, key)
		}
	}
	for key := range declared {
		if !want[key] {
			t.Errorf("terraform/firestore.tf declares %s, which no query of shared/store uses", key)
		}
	}
}

func TestLastSuccess_FindsTheLatestDeliveredAfterTheStreakBegan(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i, st := range []DeliveryState{Delivered, Failed, Delivered, Pending} {
		d := Delivery{ID: fmt.Sprintf("dlv_%d", i), Project: "a", Webhook: "w", State: st, CreateTime: t0,
			LastAttemptTime: t0.Add(time.Duration(i) * time.Hour)}
		if err := s.PutDelivery(ctx, &d); err != nil {
			t.Fatal(err)
		}
	}
	s.PutDelivery(ctx, &Delivery{ID: "dlv_x", Project: "a", Webhook: "other", State: Delivered, CreateTime: t0, LastAttemptTime: t0.Add(9 * time.Hour)})
	if last, ok, err := s.LastSuccess(ctx, "a", "w", t0.Add(30*time.Minute)); err != nil || !ok || !last.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("LastSuccess = %v, %v, %v; want %v (dlv_2)", last, ok, err, t0.Add(2*time.Hour))
	}
	if _, ok, err := s.LastSuccess(ctx, "a", "w", t0.Add(3*time.Hour)); err != nil || ok {
		t.Errorf("LastSuccess after the last success = %v, %v; want none", ok, err)
	}
}

// A retry or replay of an old delivery starts a series on its record: the record must outlive
// that series' window, not expire on the day counted from its creation.
func TestDeliveries_ANewSeriesRefreshesTheRecordsExpiry(t *testing.T) {
	s := open(t) // record TTL 24 h
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	d := Delivery{ID: "dlv_ttl", Project: "a", Webhook: "w", State: Failed, CreateTime: t0, WindowStart: t0}
	if err := s.PutDelivery(ctx, &d); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetDelivery(ctx, "a", "dlv_ttl"); !got.ExpireTime.Equal(t0.Add(24 * time.Hour)) {
		t.Fatalf("expire_time %v, want creation + TTL", got.ExpireTime)
	}
	d.State, d.Series, d.WindowStart = Pending, 1, t0.Add(20*time.Hour)
	if err := s.PutDelivery(ctx, &d); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetDelivery(ctx, "a", "dlv_ttl"); !got.ExpireTime.Equal(t0.Add(44 * time.Hour)) {
		t.Errorf("expire_time after a new series %v, want the series start + TTL (%v)", got.ExpireTime, t0.Add(44*time.Hour))
	}
}

// A first-try success is one document: its attempt lives inside the record. Later attempts (a
// manual retry's series) are documents of the attempts collection, listed after it.
func TestRecordAttempt_AFirstTrySuccessIsOneDocument(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	d := Delivery{ID: "dlv_one", Project: "p", Webhook: "w", State: Delivered, Attempts: 1, CreateTime: t0}
	if err := s.RecordAttempt(ctx, &d, Attempt{Number: 1, Time: t0, StatusCode: 200, Outcome: "delivered", ResponseBody: "ok"}); err != nil {
		t.Fatal(err)
	}
	docs, err := s.deliveries("p").Doc("dlv_one").Collection("attempts").Documents(ctx).GetAll()
	if err != nil || len(docs) != 0 {
		t.Fatalf("%d attempt documents, %v; want none (the attempt is inside the record)", len(docs), err)
	}
	got, _ := s.GetDelivery(ctx, "p", "dlv_one")
	got.Series, got.State, got.Attempts = 1, Delivered, 2
	if err := s.RecordAttempt(ctx, &got, Attempt{Number: 2, Series: 1, Time: t0.Add(time.Hour), StatusCode: 200, Outcome: "delivered"}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetDelivery(ctx, "p", "dlv_one")
	atts, err := s.ListAttempts(ctx, got)
	if err != nil || len(atts) != 2 || atts[0].Number != 1 || atts[0].ResponseBody != "ok" || atts[1].Number != 2 {
		t.Errorf("attempts %+v, %v; want 1 (inside the record) then 2", atts, err)
	}
}

// Dispatch reads, on a cache miss, only the webhooks subscribed to the event's type.
func TestListSubscribedWebhooks_ReadsOnlyThoseSubscribedToTheType(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	for id, events := range map[string][]string{
		"a": {"batch.succeeded"}, "b": {"batch.failed", "batch.succeeded"}, "c": {"video.generated"},
	} {
		if err := s.CreateWebhook(ctx, webhook.Webhook{Project: "p", ID: id, SubscribedEvents: events}); err != nil {
			t.Fatal(err)
		}
	}
	s.CreateWebhook(ctx, webhook.Webhook{Project: "q", ID: "a", SubscribedEvents: []string{"batch.succeeded"}})
	got, err := s.ListSubscribedWebhooks(ctx, "p", "batch.succeeded")
	var ids []string
	for _, w := range got {
		ids = append(ids, w.Project+"/"+w.ID)
	}
	slices.Sort(ids)
	if err != nil || strings.Join(ids, ",") != "p/a,p/b" {
		t.Errorf("subscribed to batch.succeeded: %v, %v; want p/a,p/b", ids, err)
	}
}

func TestListDeadLetters_NewestFirstWithinOneProjectPagedByValues(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i, d := range []DeadLetter{
		{ID: "1", Kind: "job_event", Project: "a", Time: t0},
		{ID: "2", Kind: "delivery", Project: "a", Time: t0.Add(time.Minute)},
		{ID: "3", Kind: "job_event", Project: "a", Time: t0.Add(time.Minute)}, // same time: by document id
		{ID: "4", Kind: "job_event", Project: "b", Time: t0.Add(time.Hour)},
		{ID: "5", Kind: "job_event", Time: t0.Add(time.Hour)}, // no readable project
	} {
		if err := s.RecordDeadLetter(ctx, d); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
	}
	ids := func(ds []DeadLetter) string {
		var out []string
		for _, d := range ds {
			out = append(out, d.ID)
		}
		return strings.Join(out, ",")
	}
	all, err := s.ListDeadLetters(ctx, "a", "", 10, DeadLetterCursor{})
	if err != nil || ids(all) != "3,2,1" {
		t.Fatalf("project a: %s (%v), want 3,2,1", ids(all), err)
	}
	page, _ := s.ListDeadLetters(ctx, "a", "", 10, DeadLetterCursor{Time: all[0].Time, ID: all[0].ID})
	if ids(page) != "2,1" {
		t.Errorf("after 3: %s, want 2,1", ids(page))
	}
	if kind, _ := s.ListDeadLetters(ctx, "a", "job_event", 1, DeadLetterCursor{}); ids(kind) != "3" {
		t.Errorf("job events of a, one: %s, want 3", ids(kind))
	}
	if b, _ := s.ListDeadLetters(ctx, "b", "", 10, DeadLetterCursor{}); ids(b) != "4" {
		t.Errorf("project b: %s, want 4 alone", ids(b))
	}
}
