package restapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
)

// deadLetterA is a dead letter as Surface A answers it.
type deadLetterA struct {
	Name            string `json:"name"`
	Kind            string `json:"kind"`
	Reason          string `json:"reason"`
	EventID         string `json:"event_id"`
	DeliveryID      string `json:"delivery_id"`
	Webhook         string `json:"webhook"`
	Delivery        string `json:"delivery"`
	SourceMessageID string `json:"source_message_id"`
	Data            string `json:"data"`
	Time            string `json:"time"`
}

type deadLetterList struct {
	DeadLetters   []deadLetterA `json:"dead_letters"`
	NextPageToken string        `json:"next_page_token"`
}

// waitDeadLetters lists the project's dead letters (with query) until there are n.
func (c client) waitDeadLetters(project, query string, n int) deadLetterList {
	c.t.Helper()
	var l deadLetterList
	pipelinetest.Eventually(c.t, wait, "dead letters of "+project, func() bool {
		l = deadLetterList{}
		c.do("GET", "/v1/projects/"+project+"/deadLetters"+query, "").ok(c.t, &l)
		return len(l.DeadLetters) >= n
	})
	return l
}

// TestDeadLetters_ListsThePoisonEventsAndExhaustedDeliveriesOfTheKeysProjectNewestFirst runs a
// real delivery into its window's end and a real poison event (a valid id, no timestamp) through
// Dispatch, Deliver and DeadLetter, and lists them over HTTP: newest first, with kind, reason
// and ids, filtered by kind and paged like the other lists. Another project's poison event and
// one whose project cannot be read are in acme's list, and each other's, never.
func TestDeadLetters_ListsThePoisonEventsAndExhaustedDeliveriesOfTheKeysProjectNewestFirst(t *testing.T) {
	t.Parallel()
	s, c := env(t, pipelinetest.Options{})
	rcv := pipelinetest.NewReceiver(t, pipelinetest.Status(503))
	c.createA("down", rcv.URL)
	s.Publish(t, jobEvent("acme", "job-late", "batch.succeeded"), nil)
	dname := deliveryName("acme", "down", "job-late")
	pipelinetest.Eventually(t, wait, "the first attempt", func() bool { return rcv.Count() >= 1 })
	s.Clock.Advance(25 * time.Hour)
	c.waitDelivery(dname, "EXHAUSTED")
	c.waitDeadLetters("acme", "", 1)

	poisonMsg := s.Publish(t, `{"id":"poison-1","project":"acme","type":"batch.succeeded","data":{}}`, nil)
	s.Publish(t, `{"id":"poison-b","project":"beta","type":"batch.succeeded","data":{}}`, nil)
	s.Publish(t, `{{{`, nil) // no project at all
	l := c.waitDeadLetters("acme", "", 2)

	if len(l.DeadLetters) != 2 || l.NextPageToken != "" {
		t.Fatalf("acme lists %+v (next %q), want its poison event and its exhausted delivery", l.DeadLetters, l.NextPageToken)
	}
	poison, exhausted := l.DeadLetters[0], l.DeadLetters[1]
	if poison.Kind != "job_event" || poison.Reason != "timestamp is missing" || poison.EventID != "poison-1" ||
		poison.SourceMessageID != poisonMsg || !strings.Contains(poison.Data, `"poison-1"`) ||
		poison.DeliveryID != "" || poison.Webhook != "" || !strings.HasPrefix(poison.Name, "projects/acme/deadLetters/") {
		t.Errorf("newest: %+v; want the poison event with its reason, id, message id and data", poison)
	}
	if exhausted.Kind != "delivery" || exhausted.Reason != "window_exhausted" || exhausted.EventID != "job-late" ||
		exhausted.Delivery != dname || !strings.HasSuffix(dname, "/"+exhausted.DeliveryID) ||
		exhausted.Webhook != "projects/acme/webhooks/down" || exhausted.Data != "" {
		t.Errorf("oldest: %+v; want the exhausted delivery %s with its webhook, and no task data", exhausted, dname)
	}
	pt, _ := time.Parse(time.RFC3339Nano, poison.Time)
	et, _ := time.Parse(time.RFC3339Nano, exhausted.Time)
	if !pt.After(et) {
		t.Errorf("times %s then %s: not newest first", poison.Time, exhausted.Time)
	}

	// The kind filter, in any letter case; an unknown kind names the field.
	if k := c.waitDeadLetters("acme", "?kind=delivery", 1); len(k.DeadLetters) != 1 || k.DeadLetters[0].Kind != "delivery" {
		t.Errorf("kind=delivery lists %+v", k.DeadLetters)
	}
	if k := c.waitDeadLetters("acme", "?kind=JOB_EVENT", 1); len(k.DeadLetters) != 1 || k.DeadLetters[0].EventID != "poison-1" {
		t.Errorf("kind=JOB_EVENT lists %+v", k.DeadLetters)
	}
	c.do("GET", "/v1/projects/acme/deadLetters?kind=poison", "").fails(t, 400, "INVALID_ARGUMENT", "kind", "job_event")

	// Pages of one, as page_size and page_token work everywhere else.
	var p1, p2 deadLetterList
	c.do("GET", "/v1/projects/acme/deadLetters?page_size=1", "").ok(t, &p1)
	if len(p1.DeadLetters) != 1 || p1.DeadLetters[0].Name != poison.Name || p1.NextPageToken == "" {
		t.Fatalf("first page %+v next %q; want the poison event and a token", p1.DeadLetters, p1.NextPageToken)
	}
	c.do("GET", "/v1/projects/acme/deadLetters?pageSize=1&page_token="+p1.NextPageToken, "").ok(t, &p2)
	if len(p2.DeadLetters) != 1 || p2.DeadLetters[0].Name != exhausted.Name || p2.NextPageToken != "" {
		t.Errorf("second page %+v next %q; want the exhausted delivery, last", p2.DeadLetters, p2.NextPageToken)
	}
	c.do("GET", "/v1/projects/acme/deadLetters?page_size=-1", "").fails(t, 400, "INVALID_ARGUMENT", "page_size")
	c.do("GET", "/v1/projects/acme/deadLetters?kind=delivery&page_token="+p1.NextPageToken, "").fails(t, 400, "INVALID_ARGUMENT", "page_token")
	c.do("GET", "/v1/projects/acme/webhooks?page_token="+p1.NextPageToken, "").fails(t, 400, "INVALID_ARGUMENT", "page_token")

	// Beta sees its own poison event only, and acme's token pages nothing of beta's.
	beta := c.as(s.APIKey(t, "beta"))
	b := beta.waitDeadLetters("beta", "", 1)
	if len(b.DeadLetters) != 1 || b.DeadLetters[0].EventID != "poison-b" {
		t.Errorf("beta lists %+v, want its poison event alone", b.DeadLetters)
	}
	beta.do("GET", "/v1/projects/beta/deadLetters?page_token="+p1.NextPageToken, "").fails(t, 400, "INVALID_ARGUMENT", "page_token")
	beta.do("GET", "/v1/projects/acme/deadLetters", "").fails(t, 404, "NOT_FOUND")

	// A portal link sees them, unless it is limited to some webhooks: poison events and other
	// webhooks' deliveries are outside its scope.
	all, _ := c.link("/v1/projects/acme:createPortalLink", `{"read_only":true}`)
	var viaLink deadLetterList
	c.withLink(all, "GET", "/v1/projects/acme/deadLetters", "").ok(t, &viaLink)
	if len(viaLink.DeadLetters) != 2 {
		t.Errorf("a read-only link lists %d dead letters, want 2", len(viaLink.DeadLetters))
	}
	some, _ := c.link("/v1/projects/acme:createPortalLink", `{"webhooks":["down"]}`)
	c.withLink(some, "GET", "/v1/projects/acme/deadLetters", "").fails(t, 403, "PERMISSION_DENIED", "limited to its webhooks")
}
