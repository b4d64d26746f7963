// Package jobevents is for job systems written in Go: it builds a job event
// (shared/jobevents/README.md, The job event), validates it with exactly the rules Dispatch applies
// (event.Parse, the one implementation), and publishes it to the job-events topic with the `type`
// and `project` attributes set.
//
// Its promises:
//   - An event Publish or Marshal accepts is never dead-lettered by Dispatch as poison; one they
//     refuse is never published, and the error wraps an *Invalid naming the field.
//   - Publish returns once Pub/Sub has stored the message, with the server's message id.
//   - Publishing waits at most 1 ms to batch (the client's default is 10 ms): a job finishing is
//     latency-sensitive, and a job system rarely finishes a hundred jobs in the same millisecond.
//   - A Publisher is safe for concurrent use; Stop flushes what is still batched.
//
// Publishing the same event id twice is safe: Jobhooks fans an event out once per (project, id).
//
// Other languages publish the same JSON (shared/contracts/schemas/job-event.json) with any
// Pub/Sub client.
package jobevents

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/topics"
	"github.com/jobhooks/jobhooks/shared/tracing"
)

// Topic is the topic id job systems publish to (Terraform's job_events_topic output).
const Topic = topics.JobEvents

// Invalid is the error a refused event wraps (errors.As): Reason names the field and the rule.
// It is Dispatch's own type (shared/event), so a job system need not import that package.
type Invalid = event.Invalid

// DelayThreshold is the longest a published event waits for others to share its batch.
const DelayThreshold = time.Millisecond

// Event is a job event to publish.
type Event struct {
	// ID is unique per project: the idempotency key ([A-Za-z0-9_-]{1,128}).
	ID string
	// Project is the Jobhooks project (tenant) of the event ([a-z][a-z0-9-]{0,62}).
	Project string
	// Type is the event type, e.g. "batch.succeeded" (event.Catalog lists the known ones).
	Type string
	// Timestamp is when the job reached its state; the zero time means now.
	Timestamp time.Time
	// Data is the thin payload (ids and links, never results): any value that marshals to a JSON
	// object of at most 64 KiB, such as a map, a struct or a json.RawMessage. nil means {}.
	Data any
	// URIs, when set, make this a per-request (dynamic) webhook event: 1 to 10 endpoints that
	// replace the project's registered webhooks for this event.
	URIs []string
	// UserMetadata is copied to the top level of the body the URIs receive: a JSON object of at
	// most 16 KiB, or nil. It needs URIs.
	UserMetadata any
}

type wire struct {
	ID            string          `json:"id"`
	Project       string          `json:"project"`
	Type          string          `json:"type"`
	Timestamp     string          `json:"timestamp"`
	Data          json.RawMessage `json:"data"`
	WebhookConfig *wireConfig     `json:"webhook_config,omitempty"`
}

type wireConfig struct {
	URIs         []string `json:"uris"`
	UserMetadata any      `json:"user_metadata,omitempty"`
}

// Marshal renders the message data and attributes and validates them as Dispatch will. A
// validation error wraps an *Invalid.
func (e Event) Marshal() ([]byte, map[string]string, error) {
	if e.Timestamp.IsZero() {
		e.Timestamp = time.Now()
	}
	data, err := json.Marshal(e.Data)
	if err != nil {
		return nil, nil, fmt.Errorf("jobevents: data: %w", err)
	}
	if bytes.Equal(data, []byte("null")) { // nil, or a nil map or pointer
		data = []byte("{}")
	}
	w := wire{ID: e.ID, Project: e.Project, Type: e.Type, Timestamp: e.Timestamp.UTC().Format(time.RFC3339Nano), Data: data}
	if len(e.URIs) > 0 || e.UserMetadata != nil {
		w.WebhookConfig = &wireConfig{URIs: e.URIs, UserMetadata: e.UserMetadata}
	}
	msg, err := json.Marshal(w)
	if err != nil {
		return nil, nil, fmt.Errorf("jobevents: %w", err)
	}
	attrs := map[string]string{"type": e.Type, "project": e.Project}
	if _, err := event.Parse(msg, attrs); err != nil {
		return nil, nil, fmt.Errorf("jobevents: %w", err)
	}
	return msg, attrs, nil
}

// Publisher publishes job events to one topic. Safe for concurrent use.
type Publisher struct{ topic *pubsub.Publisher }

// NewPublisher publishes to topicID ("job-events", or a full "projects/P/topics/T" name) with
// low-latency batching. The client stays the caller's to close, after Stop.
func NewPublisher(client *pubsub.Client, topicID string) *Publisher {
	t := client.Publisher(topicID)
	t.PublishSettings.DelayThreshold = DelayThreshold
	return &Publisher{topic: t}
}

// Publish validates and publishes e and returns the Pub/Sub message id.
func (p *Publisher) Publish(ctx context.Context, e Event) (string, error) {
	data, attrs, err := e.Marshal()
	if err != nil {
		return "", err
	}
	return p.send(ctx, data, attrs)
}

// PublishRaw publishes message data as given, e.g. an event read from a file, after validating it
// as Dispatch will. The `type` and `project` attributes are set from the data; attrs may add
// others, and must agree with the data on those two.
func (p *Publisher) PublishRaw(ctx context.Context, data []byte, attrs map[string]string) (string, error) {
	ev, err := event.Parse(data, attrs)
	if err != nil {
		return "", fmt.Errorf("jobevents: %w", err)
	}
	all := maps.Clone(attrs)
	if all == nil {
		all = map[string]string{}
	}
	all["type"], all["project"] = ev.Type, ev.Project
	return p.send(ctx, data, all)
}

// send publishes with the trace of ctx's span, if any, as the traceparent attribute: Dispatch
// continues that trace (shared/tracing/README.md, The trace travels with the event).
func (p *Publisher) send(ctx context.Context, data []byte, attrs map[string]string) (string, error) {
	tracing.ToAttributes(ctx, attrs)
	id, err := p.topic.Publish(ctx, &pubsub.Message{Data: data, Attributes: attrs}).Get(ctx)
	if err != nil {
		return "", fmt.Errorf("jobevents: publish: %w", err)
	}
	return id, nil
}

// Stop publishes what is still batched and stops the publisher.
func (p *Publisher) Stop() { p.topic.Stop() }
