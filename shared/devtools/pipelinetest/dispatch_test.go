package pipelinetest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
	"github.com/jobhooks/jobhooks/shared/topics"
)

func TestDispatch_FanOutToThreeWhereOneFailsDeliversTheOthersOnce(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	good1, good2, bad := NewReceiver(t, OK), NewReceiver(t, OK), NewReceiver(t, Status(500))
	s.AddWebhook(t, hook("acme", "good-1", good1.URL))
	s.AddWebhook(t, hook("acme", "good-2", good2.URL))
	s.AddWebhook(t, hook("acme", "bad", bad.URL))
	s.AddWebhook(t, hook("acme", "other-type", good1.URL, "video.generated"))

	s.Publish(t, jobEvent("acme", "job-7", "batch.succeeded"), nil)
	Eventually(t, wait, "the failing endpoint retried", func() bool { return bad.Count() >= 3 })
	if good1.Count() != 1 || good2.Count() != 1 {
		t.Errorf("healthy endpoints got %d and %d requests, want 1 each", good1.Count(), good2.Count())
	}
	rec, err := s.Store.GetEvent(context.Background(), "acme", "job-7")
	if err != nil || len(rec.Deliveries) != 3 || rec.State != store.EventDispatched {
		// Closed after the failing endpoint's retry task was published.
		t.Errorf("event record %+v, %v: want dispatched to 3", rec, err)
	}
}

func TestDispatch_SameEventTwiceAndRedeliveredTaskSendOnce(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	rcv := NewReceiver(t, OK)
	s.AddWebhook(t, hook("acme", "once", rcv.URL))

	msg := jobEvent("acme", "job-8", "batch.succeeded")
	s.Publish(t, msg, nil)
	s.Publish(t, msg, nil)
	d := waitState(t, s, "acme", "job-8", "once", store.Delivered)

	// Redeliver the delivered task itself, as Pub/Sub does after a lost ack.
	tk := task.Task{
		DeliveryID: d.ID, Project: "acme", EventID: "job-8", EventType: "batch.succeeded",
		MessageID: d.MessageID, Webhook: "once", Body: []byte(`{}`),
	}
	if err := s.Publisher.PublishDeliveries(context.Background(), []topics.Message{{Data: tk.Encode(), Attributes: tk.Attributes()}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if rcv.Count() != 1 {
		t.Errorf("endpoint received %d requests, want exactly 1", rcv.Count())
	}
	if d := delivery(t, s, "acme", "job-8", "once"); d.Attempts != 1 {
		t.Errorf("attempts = %d", d.Attempts)
	}
}

func TestDispatch_PoisonEventsAreDeadLetteredWithTheirReason(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	rcv := NewReceiver(t, OK)
	s.AddWebhook(t, hook("acme", "any", rcv.URL))
	big := `{"id":"big","project":"acme","type":"batch.succeeded","timestamp":"2026-11-28T10:00:00Z","data":{"x":"` + strings.Repeat("a", 70<<10) + `"}}`
	cases := map[string]string{
		"not valid JSON":  `{{{`,
		"id is missing":   `{"project":"acme","type":"batch.succeeded","timestamp":"2026-11-28T10:00:00Z","data":{}}`,
		"id \"bad id!\"":  `{"id":"bad id!","project":"acme","type":"batch.succeeded","timestamp":"2026-11-28T10:00:00Z","data":{}}`,
		"project \"ACME":  `{"id":"p1","project":"ACME","type":"batch.succeeded","timestamp":"2026-11-28T10:00:00Z","data":{}}`,
		"not RFC 3339":    `{"id":"p2","project":"acme","type":"batch.succeeded","timestamp":"28/11/2026","data":{}}`,
		"data must be":    `{"id":"p3","project":"acme","type":"batch.succeeded","timestamp":"2026-11-28T10:00:00Z","data":[1]}`,
		"type is missing": `{"id":"p4","project":"acme","timestamp":"2026-11-28T10:00:00Z","data":{}}`,
		"limit is":        big,
		// The whole message over 128 KiB (here 1 MiB), metadata over 16 KiB, more than ten URIs.
		"the limit is 131072": `{"id":"huge","project":"acme","type":"batch.succeeded","timestamp":"2026-11-28T10:00:00Z","data":{"x":"` + strings.Repeat("a", 1<<20) + `"}}`,
		"user_metadata is":    `{"id":"p5","project":"acme","type":"batch.succeeded","timestamp":"2026-11-28T10:00:00Z","data":{},"webhook_config":{"uris":["` + rcv.URL + `"],"user_metadata":{"x":"` + strings.Repeat("a", 16<<10) + `"}}}`,
		"must hold 1 to 10":   `{"id":"p6","project":"acme","type":"batch.succeeded","timestamp":"2026-11-28T10:00:00Z","data":{},"webhook_config":{"uris":["` + strings.TrimSuffix(strings.Repeat(rcv.URL+`","`, 11), `","`) + `"]}}`,
	}
	ids := map[string]string{}
	for reason, msg := range cases {
		ids[reason] = s.Publish(t, msg, nil)
	}
	for reason, id := range ids {
		var dls []store.DeadLetter
		Eventually(t, wait, "dead letter for "+reason, func() bool {
			dls, _ = s.Store.FindDeadLetters(context.Background(), "source_message_id", id)
			return len(dls) == 1
		})
		if dls[0].Kind != "job_event" || !strings.Contains(dls[0].Reason, reason) {
			t.Errorf("%s: dead letter kind %q reason %q", reason, dls[0].Kind, dls[0].Reason)
		}
	}
	if rcv.Count() != 0 {
		t.Errorf("a poison event was delivered")
	}
}

// An event with a valid id but no timestamp is poison; its lines and its dead letter still
// carry the id and project its bytes held, so searching jsonPayload.event_id finds it.
func TestDispatch_APoisonEventsLinesAndDeadLetterCarryTheIDItHad(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	id := s.Publish(t, `{"id":"poison-1","project":"acme","type":"batch.succeeded","data":{}}`, nil)
	var dls []store.DeadLetter
	Eventually(t, wait, "the poison event's dead letter", func() bool {
		dls, _ = s.Store.FindDeadLetters(context.Background(), "source_message_id", id)
		return len(dls) == 1
	})
	if d := dls[0]; d.EventID != "poison-1" || d.Project != "acme" || d.Reason != "timestamp is missing" {
		t.Errorf("dead letter event %q project %q reason %q; want poison-1, acme, timestamp is missing", d.EventID, d.Project, d.Reason)
	}
	found := map[string]bool{}
	for _, l := range s.Lines() {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil || m["event_id"] != "poison-1" {
			continue
		}
		if m["project"] != "acme" {
			t.Errorf("line %s: project %v, want acme", l, m["project"])
		}
		found[m["message"].(string)] = true
	}
	for _, msg := range []string{"poison job event dead-lettered", "dead letter"} {
		if !found[msg] {
			t.Errorf("no %q line with event_id poison-1 (lines with it: %v)", msg, found)
		}
	}
}

func TestDispatch_EventWithNoMatchingWebhookIsRecordedWithZeroTargets(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	s.Publish(t, jobEvent("lonely", "job-9", "interaction.completed"), nil)
	Eventually(t, wait, "event recorded", func() bool {
		rec, err := s.Store.GetEvent(context.Background(), "lonely", "job-9")
		done, _ := s.Store.EventDone(context.Background(), rec)
		return err == nil && done && len(rec.Deliveries) == 0
	})
}

func TestDeadLetter_RecordsWhatPubSubGaveUpOn(t *testing.T) {
	t.Parallel()
	// Pub/Sub dead-letters after 5 deliveries here, long before Deliver's re-publication at 90:
	// the safety net for a Deliver that keeps crashing.
	s := Start(t, Options{MaxDeliveryAttempts: 5})
	rcv := NewReceiver(t, Status(503))
	s.AddWebhook(t, hook("acme", "never", rcv.URL))
	s.Publish(t, jobEvent("acme", "job-17", "batch.succeeded"), nil)

	d := waitState(t, s, "acme", "job-17", "never", store.Exhausted)
	if !strings.HasPrefix(d.Reason, "max_delivery_attempts") {
		t.Errorf("reason = %q", d.Reason)
	}
	var dls []store.DeadLetter
	Eventually(t, wait, "dead letter recorded", func() bool {
		dls, _ = s.Store.FindDeadLetters(context.Background(), "delivery_id", d.ID)
		return len(dls) == 1
	})
	if dls[0].Kind != "delivery" || !strings.HasSuffix(dls[0].Source, "webhook-deliveries-deliver") {
		t.Errorf("dead letter = %+v", dls[0])
	}
}

func TestDispatch_TargetWebhookAttributeSendsToThatWebhookOnly(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	pinged, other := NewReceiver(t, OK), NewReceiver(t, OK)
	s.AddWebhook(t, hook("acme", "pinged", pinged.URL, "batch.failed"))
	s.AddWebhook(t, hook("acme", "other", other.URL, "webhook.ping"))
	ping := `{"id":"ping-1","project":"acme","type":"webhook.ping","timestamp":"2026-11-28T10:00:00Z","data":{"webhook":"projects/acme/webhooks/pinged"}}`
	s.Publish(t, ping, map[string]string{"target_webhook": "pinged"})
	waitState(t, s, "acme", "ping-1", "pinged", store.Delivered)
	rec, _ := s.Store.GetEvent(context.Background(), "acme", "ping-1")
	if len(rec.Deliveries) != 1 || other.Count() != 0 || !strings.Contains(string(rec.Body), `"type":"webhook.ping"`) {
		t.Errorf("deliveries %v, other endpoint got %d, body %s", rec.Deliveries, other.Count(), rec.Body)
	}
}
