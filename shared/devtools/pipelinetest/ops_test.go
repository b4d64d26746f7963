package pipelinetest

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/topics"
)

// ops counts what one function instance asks of Firestore and Pub/Sub, as the two services
// bill it: documents read (a query returning nothing counts one), documents written, the
// distinct records written (each is deleted by the TTL later: one delete each), and messages
// published, kept per topic so the test can hand them on as Pub/Sub would push them.
type ops struct {
	mu        sync.Mutex
	reads     int
	writes    int
	commits   int
	written   map[string]bool
	docs      []string
	publishes int
	published map[string][]*pubsubpb.PubsubMessage
}

func (o *ops) request(method string, req any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch r := req.(type) {
	case *firestorepb.CommitRequest:
		if o.written == nil {
			o.written = map[string]bool{}
		}
		o.writes += len(r.Writes)
		o.commits++
		for _, w := range r.Writes {
			if name := w.GetUpdate().GetName(); name != "" {
				o.docs = append(o.docs, name)
			}
			if name := w.GetUpdate().GetName(); strings.Contains(name, "/events/") || strings.Contains(name, "/deliveries/") {
				o.written[name] = true // a record: the TTL deletes it
			}
		}
	case *firestorepb.BatchGetDocumentsRequest:
		o.reads += len(r.Documents)
	case *pubsubpb.PublishRequest:
		if o.published == nil {
			o.published = map[string][]*pubsubpb.PubsubMessage{}
		}
		topic := r.Topic[strings.LastIndex(r.Topic, "/")+1:]
		o.published[topic] = append(o.published[topic], r.Messages...)
		o.publishes += len(r.Messages)
	}
}

func (o *ops) queried(docs int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.reads += max(docs, 1)
}

// count is a snapshot of the counters.
type count struct {
	Reads, Writes, Deletes, Published, Commits int
	// Docs are the names of the documents written (created or updated), in order.
	Docs []string
}

// take returns the counters and resets them.
func (o *ops) take() count {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := count{Reads: o.reads, Writes: o.writes, Deletes: len(o.written), Published: o.publishes, Commits: o.commits, Docs: o.docs}
	o.reads, o.writes, o.commits, o.written, o.docs, o.publishes, o.published = 0, 0, 0, nil, nil, 0, nil
	return c
}

// drain returns the messages published to topic since the last drain.
func (o *ops) drain(topic string) []*pubsubpb.PubsubMessage {
	o.mu.Lock()
	defer o.mu.Unlock()
	ms := o.published[topic]
	delete(o.published, topic)
	return ms
}

// firstTry runs one event with n subscribed endpoints that all answer 200 at once through a
// Dispatch instance whose webhook cache is warm (a first event went before), and returns what
// the second event cost.
func firstTry(t *testing.T, n int) count { return firstTryThrottled(t, n, 0) }

// firstTryThrottled is firstTry with each webhook's max_in_flight set (0: none): the throttled
// path's price, a slot taken and given back per delivery.
func firstTryThrottled(t *testing.T, n, maxInFlight int) count {
	c, _ := firstTryOn(t, n, maxInFlight)
	return c
}

// firstTryOn is firstTryThrottled that also returns the stack, whose database holds what the
// second event wrote (cost_test.go reads it back to size its storage).
func firstTryOn(t *testing.T, n, maxInFlight int) (count, *Stack) {
	s := Start(t, Options{NoPush: true})
	var rcvs []*Receiver
	for i := range n {
		r := NewReceiver(t, OK)
		rcvs = append(rcvs, r)
		w := hook("acme", fmt.Sprintf("wh-%d", i), r.URL)
		w.MaxInFlight = maxInFlight
		s.AddWebhook(t, w)
	}
	proc := newProcess(t, s, nil)
	dispatch := proc.dispatch()
	for _, id := range []string{"warm-up", "job-1"} {
		proc.ops.take()
		m := pushmsg.Message{Data: []byte(jobEvent("acme", id, "batch.succeeded")), MessageID: id}
		if err := proc.handle(dispatch.Handle, m); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	c := proc.ops.take()
	for i, r := range rcvs {
		if r.Count() != 2 {
			t.Fatalf("endpoint %d got %d POSTs, want 2", i, r.Count())
		}
	}
	for i := range n {
		if d := delivery(t, s, "acme", "job-1", fmt.Sprintf("wh-%d", i)); d.State != store.Delivered || d.Attempts != 1 {
			t.Fatalf("delivery %d: %s after %d attempts", i, d.State, d.Attempts)
		}
	}
	return c, s
}

// The store budget of the happy path (shared/delivery/README.md, One hop on the happy path): a
// first-try success costs at most one document write per delivery plus two per event, and no
// document read per delivery on a fresh event; it publishes no delivery task, so the event costs
// one function request. Counted through the real clients on the emulators, not timed. The same
// counts, with a delivery that needs three attempts, are priced in terraform/README.md's cost
// table, which must be what they compute to.
func TestOps_FirstTrySuccessesFitTheStoreBudgetAndPriceTheCostTable(t *testing.T) {
	t.Parallel()
	var rows []costRow
	for _, n := range []int{1, 5} {
		c := firstTry(t, n)
		if c.Writes > n+2 {
			t.Errorf("N=%d: %d document writes, budget %d (one per delivery plus two per event)", n, c.Writes, n+2)
		}
		if c.Reads > 0 {
			t.Errorf("N=%d: %d document reads on a fresh event with a warm cache, want 0", n, c.Reads)
		}
		if c.Published != 0 {
			t.Errorf("N=%d: %d messages published, want none: no target needs a retry", n, c.Published)
		}
		name := "first try, one endpoint per event"
		if n > 1 {
			name = fmt.Sprintf("first try, %d endpoints per event", n)
		}
		rows = append(rows, costRow{name: name, deliveries: n, count: c, requests: 1})
	}
	throttled := firstTryThrottled(t, 1, 5)
	if throttled.Reads != 0 || throttled.Published != 0 {
		t.Errorf("first try to a throttled endpoint: %d reads, %d published; want a free slot taken by its create, no read, no task", throttled.Reads, throttled.Published)
	}
	rows = append(rows, costRow{name: "first try, throttled endpoint (max_in_flight), one per event", deliveries: 1, count: throttled, requests: 1})
	c, requests := threeAttempts(t)
	if c.Published != 1 || requests != 4 {
		t.Errorf("three attempts: %d tasks published, %d function requests; want 1 task and 4 requests (Dispatch; Deliver: the task's first push, at once, waits out the retry gap; then two attempts)", c.Published, requests)
	}
	rows = append(rows, costRow{name: "three attempts (503, 503, 200), one endpoint", deliveries: 1, count: c, requests: requests})

	table := costTable(rows)
	t.Logf("cost table:\n%s", table)
	doc, err := os.ReadFile("../../../terraform/README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), table) {
		t.Errorf("terraform/README.md does not hold the cost table these counts compute to; put this in it:\n%s", table)
	}
}

// List prices the cost table uses (read on 2026-11-29; check the pricing pages before relying on
// them). Firestore per 100,000 documents; Pub/Sub per TiB of throughput, each publish and each
// push counted at its 1,000-byte minimum (a job event or task is about 1 KB); function
// requests per million.
var prices = struct {
	regional, multiRegion                          struct{ read, write, delete float64 }
	pubsubPerTiB, requestsPerMillion, messageBytes float64
}{
	regional:     struct{ read, write, delete float64 }{0.03, 0.09, 0.01},
	multiRegion:  struct{ read, write, delete float64 }{0.06, 0.18, 0.02},
	pubsubPerTiB: 40, requestsPerMillion: 0.40, messageBytes: 1000,
}

type costRow struct {
	name       string
	deliveries int
	count      count
	requests   int
}

// costTable renders the rows as terraform/README.md shows them: operations per delivery and
// the price of a million deliveries.
func costTable(rows []costRow) string {
	var b strings.Builder
	b.WriteString("| delivery | document reads | document writes | TTL deletes | Pub/Sub messages in and out | function requests | per 1M deliveries, regional | per 1M deliveries, `nam5` |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		n := float64(r.deliveries)
		reads, writes, deletes := float64(r.count.Reads)/n, float64(r.count.Writes)/n, float64(r.count.Deletes)/n
		// The job event's publish, each task published, and one push per function request.
		transfers := float64(1+r.count.Published+r.requests) / n
		requests := float64(r.requests) / n
		others := transfers*prices.messageBytes*1e6/(1<<40)*prices.pubsubPerTiB + requests*prices.requestsPerMillion
		price := func(p struct{ read, write, delete float64 }) float64 {
			return (reads*p.read+writes*p.write+deletes*p.delete)*10 + others // per 100k → per 1M
		}
		fmt.Fprintf(&b, "| %s | %g | %g | %g | %g | %g | $%.2f | $%.2f |\n",
			r.name, reads, writes, deletes, transfers, requests, price(prices.regional), price(prices.multiRegion))
	}
	return b.String()
}

// threeAttempts runs one event to one endpoint that answers 503, 503, then 200: Dispatch's first
// attempt, then the pushes of the retry task to Deliver, the messages handed on by the test: the
// first at once (Pub/Sub pushes a new task at once), which waits out the retry gap without a
// POST, then one per backoff.
func threeAttempts(t *testing.T) (count, int) {
	s := Start(t, Options{NoPush: true})
	rcv := NewReceiver(t, OK, Status(503), Status(503))
	s.AddWebhook(t, hook("acme", "flaky", rcv.URL))
	proc := newProcess(t, s, nil)
	dispatch, deliver := proc.dispatch(), proc.deliver()
	warm := pushmsg.Message{Data: []byte(jobEvent("acme", "warm-up", "interaction.completed")), MessageID: "w"}
	if err := proc.handle(dispatch.Handle, warm); err != nil { // warms the clients; no target
		t.Fatal(err)
	}
	proc.ops.take()
	time.Sleep(store.HealthEvery) // the webhook's create holds back a health write for a second
	m := pushmsg.Message{Data: []byte(jobEvent("acme", "job-1", "batch.succeeded")), MessageID: "m"}
	if err := proc.handle(dispatch.Handle, m); err != nil {
		t.Fatalf("dispatch: %v", err)
	}
	requests := 1
	var tasks []*pubsubpb.PubsubMessage
	for range 4 {
		if tasks = append(tasks, proc.ops.drain(topics.Deliveries)...); len(tasks) == 0 {
			break
		}
		if requests++; requests > 2 {
			// Retries are seconds apart in production: no health write is held back by the
			// previous one (store.HealthEvery), so the counts are those of every deployment.
			time.Sleep(store.HealthEvery)
		}
		err := proc.handle(deliver.Handle, pushmsg.Message{Data: tasks[0].Data, Attributes: tasks[0].Attributes, MessageID: "task"})
		if pushmsg.Acked(err) {
			tasks = tasks[1:]
		}
		s.Clock.Advance(testRetryGap) // the subscription's backoff, never shorter than the gap
	}
	total := proc.ops.take()
	if d := delivery(t, s, "acme", "job-1", "flaky"); d.State != store.Delivered || d.Attempts != 3 || rcv.Count() != 3 {
		t.Fatalf("delivery %s after %d attempts, %d POSTs; want delivered after 3", d.State, d.Attempts, rcv.Count())
	}
	return total, requests
}
