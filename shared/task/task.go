// Package task is the delivery task: the message Dispatch publishes to the deliveries topic, one
// per (event, target), and Deliver consumes. It carries everything a delivery needs that does not
// change between attempts, including the body, rendered once.
package task

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/jsonscan"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// Task is one (event, target) delivery.
type Task struct {
	// DeliveryID is deterministic per (project, event, target): the key of the delivery record.
	DeliveryID string `json:"delivery_id"`
	Project    string `json:"project"`
	EventID    string `json:"event_id"`
	EventType  string `json:"event_type"`
	// MessageID is the webhook-id header: the same for every attempt and endpoint of one event.
	MessageID string `json:"message_id"`
	// EventTime is the job's timestamp, for end-to-end latency.
	EventTime time.Time `json:"event_time"`
	// Webhook is the static webhook's id; empty for a dynamic target.
	Webhook string `json:"webhook,omitempty"`
	// URL is the dynamic target; empty for a static webhook (its URL is read at each attempt).
	URL string `json:"url,omitempty"`
	// Body is sent byte-for-byte on every attempt. It travels after the JSON header, not in it
	// (see Encode).
	Body []byte `json:"-"`
	// Generation counts re-publications of this delivery: Deliver re-publishes a task before
	// Pub/Sub's delivery-attempt dead-letter limit, and an older generation is then stale.
	Generation int `json:"generation"`
	// Series counts attempt series: a replay or manual retry starts a new one.
	Series int `json:"series"`
	// QueueTime is when this attempt series was queued: the event's first fan-out, or the
	// manual retry or replay. A static webhook re-created or re-enabled after it does not
	// receive the delivery (webhook.Webhook.Owns): it belonged to the earlier incarnation.
	QueueTime time.Time `json:"queue_time,omitzero"`
}

// Attributes are set on the Pub/Sub message so that subscriptions and the Console can filter.
func (t Task) Attributes() map[string]string {
	return map[string]string{
		"kind":        "delivery",
		"project":     t.Project,
		"delivery_id": t.DeliveryID,
		"event_type":  t.EventType,
	}
}

// Dynamic reports whether the task targets a per-request URI rather than a registered webhook.
func (t Task) Dynamic() bool { return t.Webhook == "" }

// Encode serialises the task as the message data: one line of compact JSON with the fields, a
// newline, then the body as is. Keeping the body out of the JSON spares Deliver a base64 and a
// JSON scan of it on every attempt (Deliver's CPU per delivery is a target:
// shared/devtools/README.md, Targets the benchmarks report).
func (t Task) Encode() []byte {
	head, _ := json.Marshal(t) // a Task always marshals: strings, ints, time; never a raw newline
	b := make([]byte, 0, len(head)+1+len(t.Body))
	b = append(append(head, '\n'), t.Body...)
	return b
}

// Decode reads a task and checks the fields Deliver relies on.
func Decode(data []byte) (Task, error) {
	var t Task
	head, body, ok := bytes.Cut(data, []byte{'\n'})
	if !ok {
		return t, errors.New("task: not a delivery task: no header line")
	}
	if err := decodeHead(head, &t); err != nil {
		return Task{}, fmt.Errorf("task: not a delivery task: %w", err)
	}
	t.Body = body
	switch {
	case t.DeliveryID == "" || t.Project == "" || t.EventID == "" || t.MessageID == "":
		return t, errors.New("task: delivery_id, project, event_id and message_id are required")
	case (t.Webhook == "") == (t.URL == ""):
		return t, errors.New("task: exactly one of webhook and url is required")
	case len(t.Body) == 0:
		return t, errors.New("task: body is empty")
	case t.Generation < 0 || t.Series < 0:
		return t, errors.New("task: negative generation or series")
	case !event.ValidProject(t.Project) || !event.ValidDeliveryID(t.DeliveryID) || t.Webhook != "" && !webhook.ValidID(t.Webhook):
		// They name Firestore documents: a malformed one would fail every store call for days.
		return t, errors.New("task: project, delivery_id or webhook is malformed")
	}
	return t, nil
}

// decodeHead reads the header line into t, as json.Unmarshal would for every header whose keys
// are spelt as Encode spells them (FuzzDecode checks it), in one pass: Deliver decodes a task
// on every attempt (jsonscan).
func decodeHead(head []byte, t *Task) error {
	s := jsonscan.New(head)
	if s.Null() { // json.Unmarshal leaves t as it was; Decode then finds the fields missing
		return s.End()
	}
	err := s.Object(func(key []byte) error {
		switch string(key) {
		case "delivery_id":
			return s.StringInto(&t.DeliveryID)
		case "project":
			return s.StringInto(&t.Project)
		case "event_id":
			return s.StringInto(&t.EventID)
		case "event_type":
			return s.StringInto(&t.EventType)
		case "message_id":
			return s.StringInto(&t.MessageID)
		case "event_time":
			return timeInto(s, &t.EventTime)
		case "webhook":
			return s.StringInto(&t.Webhook)
		case "url":
			return s.StringInto(&t.URL)
		case "generation":
			return s.IntInto(&t.Generation)
		case "series":
			return s.IntInto(&t.Series)
		case "queue_time":
			return timeInto(s, &t.QueueTime)
		}
		return s.Skip()
	})
	if err != nil {
		return err
	}
	return s.End()
}

// timeInto reads a time as time.Time's own UnmarshalJSON reads it; null leaves v as it was.
func timeInto(s *jsonscan.Scanner, v *time.Time) error {
	if s.Null() {
		return nil
	}
	lit, err := s.Literal()
	if err != nil {
		return err
	}
	return v.UnmarshalJSON(lit)
}
