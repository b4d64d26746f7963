package management

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/fanout"
	"github.com/jobhooks/jobhooks/shared/topics"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// Ping is a test delivery on its way.
type Ping struct {
	// EventID is the ping event's id, unique per ping.
	EventID string
	// DeliveryID is the id its delivery record will have.
	DeliveryID string
}

// PingWebhook sends a webhook.ping event to one webhook through the normal path: it is published
// to the job-events topic with the target_webhook attribute, so Dispatch sends it to this webhook
// only and Deliver signs, sends, retries and records it like any event. FAILED_PRECONDITION if
// the webhook is not enabled (Dispatch would send nothing).
func (s *Service) PingWebhook(ctx context.Context, project, id string) (Ping, error) {
	w, err := s.GetWebhook(ctx, project, id)
	if err != nil {
		return Ping{}, err
	}
	if w.State != webhook.Enabled {
		return Ping{}, Errorf(FailedPrecondition, "%s is not enabled; enable it before pinging it", w.Name())
	}
	if err := s.take(ctx, project, "ping", s.limits.pings, time.Minute); err != nil {
		return Ping{}, err
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	p := Ping{EventID: "ping_" + hex.EncodeToString(b)}
	p.DeliveryID = event.DeliveryID(project, p.EventID, "webhook:"+id)

	data, _ := json.Marshal(map[string]any{ // strings only: always marshals
		"id":        p.EventID,
		"project":   project,
		"type":      event.Ping,
		"timestamp": s.now().Format(time.RFC3339Nano),
		"data":      map[string]string{"webhook": w.Name()},
	})
	if _, err := s.Publisher.PublishJobEvent(ctx, topics.Message{Data: data, Attributes: map[string]string{
		"type": event.Ping, "project": project, fanout.TargetWebhookAttribute: id,
	}}); err != nil {
		return Ping{}, err
	}
	s.Log.InfoContext(ctx, "webhook pinged", "project", project, "webhook", id, "event_id", p.EventID)
	return p, nil
}
