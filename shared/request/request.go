// Package request is what the management API asks the pipeline to send: a ping of one webhook,
// or a finished delivery again (a manual retry or a replay). The API publishes requests to the
// webhook-requests topic, the only topic it may publish to; Dispatch reads them from that
// topic's subscription alone, checks each against the store and only then sends: a ping's event
// is built by Dispatch, and a delivery sent again is the one its record names, with the body its
// event record keeps (shared/delivery/README.md, Security: tasks come from the pushing
// functions only).
package request

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// Kinds of request.
const (
	// Ping sends a webhook.ping event to one webhook.
	Ping = "ping"
	// Resend starts the attempt series a retry or replay claimed in a delivery's record.
	Resend = "resend"
)

// Request is one request. Which fields are set depends on Kind.
type Request struct {
	Kind    string `json:"kind"`
	Project string `json:"project"`
	// Webhook is the webhook pinged (Ping).
	Webhook string `json:"webhook,omitempty"`
	// EventID is the ping event's id, unique per ping (Ping).
	EventID string `json:"event_id,omitempty"`
	// Time is when the API took the ping: the ping event's timestamp (Ping).
	Time time.Time `json:"time,omitzero"`
	// DeliveryID, Series and Claim name the attempt series a retry or replay claimed in the
	// delivery's record (Resend): the record must hold exactly that series and claim.
	DeliveryID string `json:"delivery_id,omitempty"`
	Series     int    `json:"series,omitempty"`
	Claim      string `json:"claim,omitempty"`
	// QueueTime is the claim's commit time, by Firestore's clock (Resend).
	QueueTime time.Time `json:"queue_time,omitzero"`
}

// Attributes are set on the Pub/Sub message, for filtering and the console.
func (r Request) Attributes() map[string]string {
	return map[string]string{"kind": "request", "request": r.Kind, "project": r.Project}
}

// Encode is the message data.
func (r Request) Encode() []byte {
	b, _ := json.Marshal(r) // strings, ints and times: always marshals
	return b
}

// Invalid is a request that can never be carried out: it is dead-lettered with Reason.
type Invalid struct{ Reason string }

func (e *Invalid) Error() string { return "request: " + e.Reason }

func invalid(format string, args ...any) error {
	return &Invalid{Reason: fmt.Sprintf(format, args...)}
}

// Decode reads a request and checks the fields its kind needs; any failure is *Invalid.
func Decode(data []byte) (Request, error) {
	var r Request
	if err := json.Unmarshal(data, &r); err != nil {
		return Request{}, invalid("not a request: %v", err)
	}
	if !event.ValidProject(r.Project) {
		return r, invalid("project %q is malformed", truncate(r.Project))
	}
	switch r.Kind {
	case Ping:
		switch {
		case !webhook.ValidID(r.Webhook):
			return r, invalid("ping: webhook %q is malformed", truncate(r.Webhook))
		case !validPingID(r.EventID):
			return r, invalid("ping: event_id %q is not a ping id", truncate(r.EventID))
		case r.Time.IsZero():
			return r, invalid("ping: time is required")
		}
	case Resend:
		switch {
		case !event.ValidDeliveryID(r.DeliveryID):
			return r, invalid("resend: delivery_id %q is malformed", truncate(r.DeliveryID))
		case r.Series < 1:
			return r, invalid("resend: series must be at least 1")
		case r.Claim == "":
			return r, invalid("resend: claim is required")
		case r.QueueTime.IsZero():
			return r, invalid("resend: queue_time is required")
		}
	default:
		return r, invalid("kind %q is neither %q nor %q", truncate(r.Kind), Ping, Resend)
	}
	return r, nil
}

// PingEvent is the job event a ping sends: webhook.ping, to the one webhook, with the webhook's
// resource name as its data.
func (r Request) PingEvent() []byte {
	data, _ := json.Marshal(map[string]any{ // strings only: always marshals
		"id":        r.EventID,
		"project":   r.Project,
		"type":      event.Ping,
		"timestamp": r.Time.UTC().Format(time.RFC3339Nano),
		"data":      map[string]string{"webhook": webhook.Name(r.Project, r.Webhook)},
	})
	return data
}

// PingPrefix begins every ping event's id.
const PingPrefix = "ping_"

func validPingID(id string) bool {
	if len(id) != len(PingPrefix)+32 || id[:len(PingPrefix)] != PingPrefix {
		return false
	}
	for _, c := range id[len(PingPrefix):] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Truncate is s cut to 64 bytes for a log line or an error.
func Truncate(s string) string { return truncate(s) }

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
