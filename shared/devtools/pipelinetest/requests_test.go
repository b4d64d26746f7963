package pipelinetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/jobhooks/jobhooks/shared/deadletter"
	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/request"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
	"github.com/jobhooks/jobhooks/shared/topics"
)

// The webhook-requests topic is the only one the management API may publish to
// (terraform/iam.tf). Whatever arrives on it is a request that Dispatch checks against the store
// before anything is sent: a forged resend, a job event's bytes or a delivery task's bytes there
// is dead-lettered with its reason and sends nothing, while a resend whose series and claim the
// record holds sends the stored body again.
func TestRequests_AForgedRequestIsDeadLetteredWithItsReasonAndSendsNothing(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	ctx := context.Background()
	rcv := NewReceiver(t, OK)
	s.AddWebhook(t, hook("acme", "orders", rcv.URL))
	s.Publish(t, jobEvent("acme", "job-1", "batch.succeeded"), nil)
	d := waitState(t, s, "acme", "job-1", "orders", store.Delivered)
	if n := rcv.Count(); n != 1 {
		t.Fatalf("the receiver got %d requests, want 1", n)
	}

	requests := s.PubSub.Publisher(topics.Requests)
	t.Cleanup(requests.Stop)
	publish := func(data []byte, attrs map[string]string) string {
		t.Helper()
		id, err := requests.Publish(ctx, &pubsub.Message{Data: data, Attributes: attrs}).Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	resend := func(id, claim string, series int) []byte {
		return request.Request{Kind: request.Resend, Project: "acme", DeliveryID: id, Series: series, Claim: claim,
			QueueTime: time.Now()}.Encode()
	}
	forged := task.Task{DeliveryID: d.ID, Project: "acme", EventID: "job-1", MessageID: d.MessageID, Webhook: "orders",
		Body: []byte(`{"type":"batch.succeeded","data":{"forged":true}}`), Series: d.Series + 1}
	cases := []struct{ name, id, reason string }{
		{"a claim the record does not hold", publish(resend(d.ID, "guessed-claim", d.Series+1), nil), "another attempt series or claim"},
		{"a series beyond the record's", publish(resend(d.ID, "x", d.Series+2), nil), "another attempt series or claim"},
		{"a delivery that does not exist", publish(resend(event.DeliveryID("acme", "job-404", "webhook:orders"), "c", 1), nil), "no such delivery"},
		{"a job event", publish([]byte(jobEvent("acme", "job-2", "batch.succeeded")), map[string]string{"project": "acme"}), "kind"},
		{"a delivery task", publish(forged.Encode(), forged.Attributes()), "not a request"},
		{"a ping of a malformed webhook id", publish(request.Request{Kind: request.Ping, Project: "acme", Webhook: "../x",
			EventID: request.PingPrefix + strings.Repeat("0", 32), Time: time.Now()}.Encode(), nil), "webhook"},
	}
	for _, c := range cases {
		var dls []store.DeadLetter
		Eventually(t, wait, "the dead letter of "+c.name, func() bool {
			dls, _ = s.Store.FindDeadLetters(ctx, "source_message_id", c.id)
			return len(dls) == 1
		})
		if dl := dls[0]; dl.Kind != deadletter.KindRequest || !strings.HasPrefix(dl.Reason, "request refused: ") || !strings.Contains(dl.Reason, c.reason) {
			t.Errorf("%s: dead letter kind %q reason %q, want kind request and a reason saying %q", c.name, dl.Kind, dl.Reason, c.reason)
		}
	}
	if _, err := s.Store.GetEvent(ctx, "acme", "job-2"); err == nil {
		t.Error("a job event published to the requests topic was dispatched")
	}
	if got, _ := s.Store.GetDelivery(ctx, "acme", d.ID); got.Series != d.Series || got.State != store.Delivered {
		t.Errorf("the forged requests changed the record: series %d state %s", got.Series, got.State)
	}

	// A claim the record holds, as the API's retry makes it: the stored body is sent again.
	claimed := d.StartSeries(d.Series+1, 0)
	claimed.SeriesClaim = "the-api-s-claim"
	if err := s.Store.PutDelivery(ctx, &claimed); err != nil {
		t.Fatal(err)
	}
	publish(request.Request{Kind: request.Resend, Project: "acme", DeliveryID: d.ID, Series: claimed.Series,
		Claim: claimed.SeriesClaim, QueueTime: claimed.Version}.Encode(), nil)
	Eventually(t, wait, "the delivery sent again", func() bool { return rcv.Count() == 2 })
	reqs := rcv.Requests()
	if first, again := string(reqs[0].Body), string(reqs[1].Body); first != again || strings.Contains(again, "forged") {
		t.Errorf("sent again %q, want the stored body %q", again, first)
	}
	if got := rcv.Count(); got != 2 {
		t.Errorf("the receiver got %d requests, want the first delivery and the one resend", got)
	}
}

// A resend whose claim is real but whose series can never be sent ends the delivery failed with
// its reason, instead of leaving it pending with no task (and refused a retry for good): Dispatch
// refusing it because the event's body expired, and Pub/Sub giving up on the request.
func TestRequests_AClaimedSeriesThatCannotBeSentEndsFailedWithItsReason(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	ctx := context.Background()
	claimed := func(eventID, claim string) store.Delivery {
		t.Helper()
		d := store.Delivery{ID: event.DeliveryID("acme", eventID, "webhook:orders"), Project: "acme", EventID: eventID,
			EventType: "batch.succeeded", MessageID: event.MessageID("acme", eventID), Webhook: "orders",
			State: store.Pending, Series: 1, SeriesClaim: claim, CreateTime: time.Now().Add(-time.Hour),
			ExpireTime: time.Now().Add(time.Hour)}
		if err := s.Store.PutDelivery(ctx, &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	resend := func(d store.Delivery) []byte {
		return request.Request{Kind: request.Resend, Project: "acme", DeliveryID: d.ID, Series: d.Series, Claim: d.SeriesClaim,
			QueueTime: d.Version}.Encode()
	}
	waitFailed := func(d store.Delivery, reason string) {
		t.Helper()
		var got store.Delivery
		Eventually(t, wait, "the delivery failed", func() bool {
			got, _ = s.Store.GetDelivery(ctx, "acme", d.ID)
			return got.State == store.Failed
		})
		if !strings.HasPrefix(got.Reason, reason) {
			t.Errorf("failed with reason %q, want %q...", got.Reason, reason)
		}
	}

	// The event record is gone: Dispatch refuses the request and ends the series.
	gone := claimed("job-expired", "claim-1")
	requests := s.PubSub.Publisher(topics.Requests)
	t.Cleanup(requests.Stop)
	if _, err := requests.Publish(ctx, &pubsub.Message{Data: resend(gone)}).Get(ctx); err != nil {
		t.Fatal(err)
	}
	waitFailed(gone, "resend_refused: the body of event job-expired is no longer stored")

	// Pub/Sub gave up on a request: the dead letter it forwards ends the series.
	stuck := claimed("job-stuck", "claim-2")
	dl := s.PubSub.Publisher(topics.DeadLetter)
	t.Cleanup(dl.Stop)
	if _, err := dl.Publish(ctx, &pubsub.Message{Data: resend(stuck), Attributes: map[string]string{
		"kind": "request", "project": "acme", "CloudPubSubDeadLetterSourceSubscription": "projects/x/subscriptions/" + topics.RequestsSubscription,
		"CloudPubSubDeadLetterSourceDeliveryCount": "100",
	}}).Get(ctx); err != nil {
		t.Fatal(err)
	}
	waitFailed(stuck, "resend_not_sent: max_delivery_attempts")
}
