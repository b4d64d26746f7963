package storm

import (
	"slices"
	"time"

	"github.com/jobhooks/jobhooks/shared/store"
)

// Webhooks edited mid-storm through the management API, in the same incarnation (incarnation.go
// has the deletes and disables). What is correct:
//
//   - A URL edit: a delivery of an event queued before it may reach the old URL or the new one
//     (both listeners verify with the webhook's secret), and must be accounted like any other.
//     A POST to the old URL later than a cache TTL after the change (and an attempt) is late:
//     shared/delivery/README.md, Guarantees promises a change is seen everywhere within the TTL.
//   - An events edit that unsubscribes the webhook from the types of its events: an event
//     queued while the webhook was subscribed was planned with it, and the edit must not drop
//     that delivery (SPEC "A take-over keeps the plan": not even a take-over that re-reads the
//     webhooks after the edit) — it must be received, or end final with a reason its endpoint
//     explains. Cancelled is wrong: the webhook is neither deleted nor disabled. An event queued
//     after the edit may be left out; one queued later than a cache TTL after it is late if it
//     is not.

// Outcomes of a pair of an unsubscribed webhook.
const outNotTargetedUnsubscribed = "not fanned out: webhook unsubscribed from its type at the time"

// judgeUnsubscribed decides a pair of an endpoint whose webhook's events were edited mid-storm.
func judgeUnsubscribed(p pair) (string, bool) {
	c, rec := p.ep.change, p.rec
	switch {
	case !p.recorded && len(p.answers) > 0:
		return outAnsweredUnrecorded, false
	case p.received():
		return p.judgeReceived()
	case p.recorded && rec.State == store.Delivered:
		return outDeliveredNotAccepted, false
	case p.recorded && rec.State.Final():
		return string(rec.State) + " " + rec.Reason, agrees(p)
	case !p.recorded && p.ev.listed() && !slices.Contains(p.ev.Deliveries, p.id) &&
		!p.ev.CreateTime.Before(c.from.Add(-planSlack)):
		return outNotTargetedUnsubscribed, true
	}
	return outLost, false
}

// planSlack: Dispatch takes an event's queue time just before it reads the webhooks, so an
// event queued a moment before the edit may be planned without the webhook.
const planSlack = time.Second

// late counts what followed the webhook's configuration from before an edit later than seen
// after it: POSTs to the old URL, or an unsubscribed webhook's pair fanned out anyway.
func (c *change) late(p pair, seen time.Duration) int {
	if c == nil || c.to.IsZero() {
		return 0
	}
	due := c.to.Add(seen)
	switch c.kind {
	case URLEdited:
		n := 0
		for _, a := range p.ep.log(p.msgID) {
			if a.at.After(due) {
				n++
			}
		}
		return n
	case Unsubscribed:
		if p.ev.CreateTime.After(due) && (p.recorded || slices.Contains(p.ev.Deliveries, p.id)) {
			return 1
		}
	}
	return 0
}
