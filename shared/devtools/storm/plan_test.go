package storm

import (
	"math/rand/v2"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jobhooks/jobhooks/shared/webhook"
)

func TestHostileBodies_AreInvalidUTF8WhereDeliverCutsThem(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, newBody := range []func(*rand.Rand) hostileBody{binaryBody, latin1Body, cutBody} {
		for range 50 {
			b := newBody(rng)
			kept := b.data[:min(len(b.data), excerptLimit)]
			if utf8.Valid(kept) {
				t.Fatalf("%s body: its first %d bytes are valid UTF-8: %q", b.contentType, len(kept), kept)
			}
		}
	}
}

func TestCutBody_IsValidUTF8LongerThan4KiB(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		b := cutBody(rng).data
		if len(b) <= excerptLimit || !utf8.Valid(b) {
			t.Fatalf("cut body of %d bytes, valid UTF-8 %v: want more than %d bytes of valid UTF-8", len(b), utf8.Valid(b), excerptLimit)
		}
	}
}

// The brief storm of TestFaultStorm must contain every new kind of trouble, whatever the seed.
func TestPlan_BriefStormHasEveryKindOfTrouble(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		p := newPlan(300, 12, seed, false)
		has := map[Profile]bool{}
		for _, ep := range p.endpoints {
			has[ep.Profile] = true
			if ep.Change != "" {
				has[Profile(ep.Change)] = true
				if ep.Pause < time.Second {
					t.Errorf("seed %d: %s paused %s beyond the cache TTL, want a second at least", seed, ep.ID(), ep.Pause)
				}
			}
		}
		for _, want := range []Profile{Garbled, GarbledGone, Gone, Capped, Profile(Recreated), Profile(Reenabled)} {
			if !has[want] {
				t.Errorf("seed %d: no %s endpoint", seed, want)
			}
		}
	}
}

// The full storm's plan edits webhooks too: a URL and the subscribed events.
func TestPlan_FullStormEditsURLsAndEvents(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		has := map[Change]int{}
		for _, ep := range newPlan(2000, 30, seed, true).endpoints {
			has[ep.Change]++
		}
		for _, want := range []Change{Recreated, Reenabled, URLEdited, Unsubscribed} {
			if has[want] == 0 {
				t.Errorf("seed %d: no webhook %s", seed, want)
			}
		}
	}
}

// A webhook re-created mid-storm begins when its write commits (its enable_time), not at the
// create_time the API answered, which it takes before a commit that can land seconds later under
// load: an event planned in between was rightly planned without the webhook.
func TestCheck_AReCreationBeginsWhenItsWriteCommitted(t *testing.T) {
	answered := time.Date(2026, 12, 7, 8, 11, 44, 300_000_000, time.UTC)
	committed := answered.Add(3 * time.Second)
	seen := 2 * time.Second
	e := &endpoint{plan: endpointPlan{Index: 17, Profile: "flaky"}, change: &change{kind: Recreated, from: answered.Add(-5 * time.Second), to: answered}}
	r := &run{eps: []*endpoint{e}}
	r.incarnationsByCommit([]webhook.Webhook{{ID: e.plan.ID(), CreateTime: answered, EnableTime: committed}})
	if !e.change.to.Equal(committed) {
		t.Fatalf("the re-creation begins at %s, want its commit %s", e.change.to, committed)
	}
	// Claimed just before the commit, so planned without the webhook.
	p := pair{ep: e, id: "d", ev: eventState{State: "dispatched", CreateTime: committed.Add(-30 * time.Millisecond), Deliveries: []string{"other"}}}
	if outcome, ok := judgeChange(p, seen); !ok || outcome != outNotTargetedChange {
		t.Errorf("an event planned before the commit: %q %v, want %q", outcome, ok, outNotTargetedChange)
	}
	// Claimed well after the commit and left out of the plan: lost.
	p.ev.CreateTime = committed.Add(seen + time.Second)
	if outcome, _ := judgeChange(p, seen); outcome != outLost {
		t.Errorf("an event planned after the commit and not sent: %q, want %q", outcome, outLost)
	}
}
