package storm

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// Webhooks deleted and re-created, or disabled and enabled again, mid-storm. A delivery task
// belongs to one incarnation of its webhook: a delivery queued before the webhook was re-created
// or re-enabled is never sent to the new incarnation, however soon its next attempt comes; it
// ends cancelled. A delivery counts as queued when its event was first fanned out: the
// create_time of the event's record. Events fanned out after the change go to the new
// incarnation as usual.

// change is one webhook's change and when it took effect.
type change struct {
	kind Change
	// from is when the delete or disable was asked for; to is when the new incarnation began:
	// first as the API answered it (the re-created webhook's create_time, the enabled one's
	// update_time), then, for the check, when its write committed (incarnationsByCommit).
	from, to time.Time
	// next is the re-created webhook's listener: a new URL, verifying with the new secret, so
	// that a POST to the new incarnation cannot pass for one to the old.
	next *endpoint
}

// changeWebhook makes the endpoint's change at its planned time, the share ChangeAt of the
// publishing time after the storm began, once deliveries to it are waiting: a change with none
// pending would test nothing.
func (r *run) changeWebhook(ctx context.Context, a *api, e *endpoint, publishing time.Duration) error {
	c, id := e.change, e.plan.ID()
	if !sleep(ctx, time.Until(r.began.Add(time.Duration(e.plan.ChangeAt*float64(publishing))))) {
		return nil
	}
	for e.published.Load()-int64(e.acceptedCount()) < minWaiting && r.sentCount() < len(r.plan.events) {
		if !sleep(ctx, 100*time.Millisecond) {
			return nil
		}
	}
	c.from = time.Now()
	var err error
	switch c.kind {
	case Recreated:
		if err = a.delete(ctx, id); err == nil {
			r.note("webhook %s deleted", id)
		}
	case Reenabled:
		if _, err = a.setState(ctx, id, webhook.Disabled); err == nil {
			r.note("webhook %s disabled", id)
		}
	case URLEdited, Unsubscribed:
		// An edit is one step: it took effect when the API answered.
		return r.edit(ctx, a, e)
	}
	if err != nil {
		return err
	}
	if !sleep(ctx, r.opts.CacheTTL+e.plan.Pause) {
		return nil
	}
	return r.renew(ctx, a, e)
}

// renew ends a delete or a disable: the webhook's new incarnation begins.
func (r *run) renew(ctx context.Context, a *api, e *endpoint) error {
	c, id := e.change, e.plan.ID()
	switch c.kind {
	case Recreated:
		created, err := a.create(ctx, c.next)
		if err != nil {
			return err
		}
		c.to = created.CreateTime
		r.note("webhook %s re-created under the same id, with a new URL and secret", id)
	case Reenabled:
		enabled, err := a.setState(ctx, id, webhook.Enabled)
		if err != nil {
			return err
		}
		c.to = enabled.UpdateTime
		r.note("webhook %s enabled again", id)
	}
	if c.to.IsZero() {
		return fmt.Errorf("webhook %s %s: the API answered no time", id, c.kind)
	}
	return nil
}

// incarnationsByCommit moves each re-creation's and re-enable's start to when its write
// committed: the webhook's enable_time, on Firestore's clock, which is what Dispatch and Deliver
// judge an incarnation by (shared/webhook, IncarnationStart). The API's create_time and
// update_time are taken before its commit, which under load lands seconds later: an event
// planned in between was rightly planned without the webhook, which did not exist yet.
func (r *run) incarnationsByCommit(hooks []webhook.Webhook) {
	for _, w := range hooks {
		for _, e := range r.eps {
			if c := e.change; c != nil && c.newIncarnation() && e.plan.ID() == w.ID && w.IncarnationStart().After(c.to) {
				c.to = w.IncarnationStart()
			}
		}
	}
}

// edit changes the webhook's URL to the endpoint's other listener, or its subscribed events to
// a type the storm never publishes.
func (r *run) edit(ctx context.Context, a *api, e *endpoint) error {
	c, id := e.change, e.plan.ID()
	var edited webhookAnswer
	var err error
	if c.kind == URLEdited {
		edited, err = a.patch(ctx, id, "url", c.next.URL())
	} else {
		edited, err = a.patch(ctx, id, "subscribed_events", []string{unusedType})
	}
	if err != nil {
		return err
	}
	if c.to = edited.UpdateTime; c.to.IsZero() {
		return fmt.Errorf("webhook %s %s: the API answered no time", id, c.kind)
	}
	if c.kind == URLEdited {
		r.note("webhook %s URL edited, from %s to %s", id, e.URL(), c.next.URL())
	} else {
		r.note("webhook %s unsubscribed from %s (now %s only)", id, strings.Join(e.plan.Events, ", "), unusedType)
	}
	return nil
}

// minWaiting is how many deliveries to an endpoint, published and not accepted yet, its
// webhook's change waits for.
const minWaiting = 10

// acceptedCount is how many deliveries the endpoint accepted.
func (e *endpoint) acceptedCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, as := range e.answers {
		if slices.ContainsFunc(as, func(a answer) bool { return a.kind == answeredOK }) {
			n++
		}
	}
	return n
}

// sleep waits d, or less if ctx ends first; it reports whether it waited all of d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// toNewIncarnation are the POSTs of an event (its message id) that reached the webhook's new
// incarnation although the event was queued before it began. A nil change has none.
func (c *change) toNewIncarnation(ep *endpoint, msgID string, queued time.Time) []answer {
	if c == nil || !c.newIncarnation() || c.to.IsZero() || !queued.Before(c.to) {
		return nil
	}
	if c.kind == Recreated {
		return c.next.log(msgID)
	}
	return slices.DeleteFunc(ep.log(msgID), func(a answer) bool { return a.at.Before(c.to) })
}

// receivedByNew reports whether the new incarnation accepted an event (its message id) queued
// after it began.
func (c *change) receivedByNew(ep *endpoint, msgID string, queued time.Time) bool {
	if c == nil || !c.newIncarnation() || c.to.IsZero() || queued.Before(c.to) {
		return false
	}
	answers := ep.log(msgID)
	if c.kind == Recreated {
		answers = c.next.log(msgID)
	}
	return slices.ContainsFunc(answers, func(a answer) bool { return a.kind == answeredOK && a.verified && !a.at.Before(c.to) })
}

// newIncarnation reports whether the change begins a new incarnation of the webhook: an edit
// of its URL or events does not.
func (c *change) newIncarnation() bool { return c.kind == Recreated || c.kind == Reenabled }

// Outcomes of a pair of a changed webhook.
const (
	outNotTargetedChange = "not fanned out: webhook deleted or disabled at the time"
	outToNewIncarnation  = "queued before its webhook's change, sent to the new incarnation"
)

// judgeChange decides a pair of an endpoint whose webhook changed mid-storm. seen is how soon
// every instance sees a change (the cache TTL, and a margin): Dispatch may fan an event out by a
// list read that long before, and Deliver may cancel a delivery of an event queued that long
// after the change, by a webhook read before it.
func judgeChange(p pair, seen time.Duration) (string, bool) {
	c, rec := p.ep.change, p.rec
	switch c.kind {
	case URLEdited:
		return judge(p) // either URL may have it: the answers of both are the pair's
	case Unsubscribed:
		return judgeUnsubscribed(p)
	}
	switch {
	case p.toNew > 0:
		return outToNewIncarnation, false
	case !p.recorded && len(p.answers) > 0:
		return outAnsweredUnrecorded, false
	case p.received():
		return p.judgeReceived()
	case p.recorded && rec.State == store.Delivered:
		return outDeliveredNotAccepted, false
	case p.recorded && rec.State == store.Cancelled && strings.HasPrefix(rec.Reason, "webhook_"):
		// Right for a delivery queued before the change that was not delivered yet.
		return "cancelled " + rec.Reason, !c.to.IsZero() && p.ev.CreateTime.Before(c.to.Add(seen))
	case p.recorded && rec.State.Final():
		return string(rec.State) + " " + rec.Reason, agrees(p)
	case !p.recorded && p.ev.listed() && !slices.Contains(p.ev.Deliveries, p.id) &&
		!c.to.IsZero() && !p.ev.CreateTime.Add(-seen).After(c.to) && !p.ev.CreateTime.Before(c.from.Add(-planSlack)):
		// Dispatch read the webhook list while the webhook was deleted or disabled.
		return outNotTargetedChange, true
	}
	return outLost, false
}

// allAnswers are the answers to an event (its message id) of every incarnation's listener, in
// time order.
func (e *endpoint) allAnswers(msgID string) []answer {
	answers := e.log(msgID)
	if e.change != nil && e.change.next != nil {
		answers = append(answers, e.change.next.log(msgID)...)
		sort.SliceStable(answers, func(i, j int) bool { return answers[i].at.Before(answers[j].at) })
	}
	return answers
}
