package restapi

import (
	"context"
	"net/http"

	"github.com/jobhooks/jobhooks/shared/management"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// Surface A's dead letters: GET /v1/projects/{p}/deadLetters (shared/restapi/README.md, Dead
// letters).

// deadLetterKinds are the kinds by their spelling, for the kind filter.
var deadLetterKinds = func() map[string]string {
	m := map[string]string{}
	for _, k := range management.DeadLetterKinds {
		m[k] = k
	}
	return m
}()

// deadLetter is a dead letter as Surface A shows it. Data is the start of a poison event's
// message as it arrived; a delivery's dead letter carries an internal task instead, which is not
// shown (its delivery and webhook lead to the record and its attempts).
type deadLetter struct {
	Name            string `json:"name"`
	Kind            string `json:"kind"`
	Reason          string `json:"reason"`
	EventID         string `json:"event_id"`
	DeliveryID      string `json:"delivery_id,omitempty"`
	Webhook         string `json:"webhook,omitempty"`
	Delivery        string `json:"delivery,omitempty"`
	SourceMessageID string `json:"source_message_id,omitempty"`
	Data            string `json:"data,omitempty"`
	Time            string `json:"time"`
}

func toDeadLetter(project string, d store.DeadLetter) deadLetter {
	out := deadLetter{
		Name: management.DeadLetterName(project, d.ID), Kind: d.Kind, Reason: d.Reason, EventID: d.EventID,
		DeliveryID: d.DeliveryID, SourceMessageID: d.SourceMessageID, Time: ts(d.Time),
	}
	if d.Kind == "job_event" {
		out.Data = d.Data
	}
	if d.Webhook != "" {
		out.Webhook = webhook.Name(project, d.Webhook)
		if d.DeliveryID != "" {
			out.Delivery = management.DeliveryName(project, d.Webhook, d.DeliveryID)
		}
	}
	return out
}

type deadLetterList struct {
	DeadLetters   []deadLetter `json:"dead_letters"`
	NextPageToken string       `json:"next_page_token,omitempty"`
}

// listDeadLetters serves the project's dead letters, newest first. A portal link limited to some
// webhooks is refused: poison events and other webhooks' deliveries are outside its scope.
func (h *Handler) listDeadLetters(ctx context.Context, r *http.Request, project string) (any, error) {
	if s := linkScope(ctx); s != nil && len(s.Webhooks) > 0 {
		return nil, management.Errorf(management.PermissionDenied,
			"this portal link is limited to its webhooks: the project's dead letters are outside it")
	}
	kind, err := enum("kind", r.URL.Query().Get("kind"), deadLetterKinds, false)
	if err != nil {
		return nil, err
	}
	size, err := pageSize(r)
	if err != nil {
		return nil, err
	}
	dls, next, err := h.Service.ListDeadLetters(ctx, project, kind, management.PageRequest{Size: size, Token: pageToken(r)})
	if err != nil {
		return nil, err
	}
	out := deadLetterList{DeadLetters: []deadLetter{}, NextPageToken: next}
	for _, d := range dls {
		out.DeadLetters = append(out.DeadLetters, toDeadLetter(project, d))
	}
	return out, nil
}
