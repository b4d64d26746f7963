package management

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/request"
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

// PingWebhook sends a webhook.ping event to one webhook through the normal path: it publishes a
// ping request, from which Dispatch builds the event and sends it to this webhook only, and
// Deliver signs, sends, retries and records it like any event. FAILED_PRECONDITION if the
// webhook is not enabled (Dispatch would send nothing).
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
	p := Ping{EventID: request.PingPrefix + hex.EncodeToString(b)}
	p.DeliveryID = event.DeliveryID(project, p.EventID, "webhook:"+id)

	r := request.Request{Kind: request.Ping, Project: project, Webhook: id, EventID: p.EventID, Time: s.now()}
	if err := s.Publisher.PublishRequests(ctx, []topics.Message{{Data: r.Encode(), Attributes: r.Attributes()}}); err != nil {
		return Ping{}, err
	}
	s.Log.InfoContext(ctx, "webhook pinged", "project", project, "webhook", id, "event_id", p.EventID)
	return p, nil
}
