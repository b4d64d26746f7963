// Package jobevents is for job systems written in Go: it builds a job event (SPEC §2), validates
// it with exactly the rules Dispatch applies (shared/event), and publishes it to the job-events
// topic with the `type` and `project` attributes set.
//
// Publishing waits at most 1 ms to batch: a job finishing is latency-sensitive.
//
//	p := jobevents.NewPublisher(client, "job-events")
//	id, err := p.Publish(ctx, jobevents.Event{
//		ID: "batch-42", Project: "acme", Type: "batch.succeeded", Timestamp: time.Now(),
//		Data: map[string]any{"id": "batches/42", "output_file_uri": "gs://bucket/out.jsonl"},
//	})
package jobevents

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/jobhooks/jobhooks/shared/event"
)

// Event is a job event to publish.
type Event struct {
	ID        string
	Project   string
	Type      string
	Timestamp time.Time
	// Data is the thin payload: any value that marshals to a JSON object.
	Data any
	// URIs and UserMetadata make it a per-request (dynamic) webhook event.
	URIs         []string
	UserMetadata any
}

type wire struct {
	ID            string      `json:"id"`
	Project       string      `json:"project"`
	Type          string      `json:"type"`
	Timestamp     string      `json:"timestamp"`
	Data          any         `json:"data"`
	WebhookConfig *wireConfig `json:"webhook_config,omitempty"`
}

type wireConfig struct {
	URIs         []string `json:"uris"`
	UserMetadata any      `json:"user_metadata,omitempty"`
}

// Marshal renders the message data and attributes, and validates them as Dispatch will: an
// event Marshal accepts is never dead-lettered as poison.
func (e Event) Marshal() ([]byte, map[string]string, error) {
	if e.Timestamp.IsZero() {
		e.Timestamp = time.Now()
	}
	if e.Data == nil {
		e.Data = map[string]any{}
	}
	w := wire{ID: e.ID, Project: e.Project, Type: e.Type, Timestamp: e.Timestamp.UTC().Format(time.RFC3339Nano), Data: e.Data}
	if len(e.URIs) > 0 || e.UserMetadata != nil {
		w.WebhookConfig = &wireConfig{URIs: e.URIs, UserMetadata: e.UserMetadata}
	}
	data, err := json.Marshal(w)
	if err != nil {
		return nil, nil, fmt.Errorf("jobevents: %w", err)
	}
	attrs := map[string]string{"type": e.Type, "project": e.Project}
	if _, err := event.Parse(data, attrs); err != nil {
		return nil, nil, fmt.Errorf("jobevents: %w", err)
	}
	return data, attrs, nil
}

// Publisher publishes job events to one topic. Safe for concurrent use.
type Publisher struct{ topic *pubsub.Publisher }

// NewPublisher publishes to topicID of the client's project.
func NewPublisher(client *pubsub.Client, topicID string) *Publisher {
	t := client.Publisher(topicID)
	t.PublishSettings.DelayThreshold = time.Millisecond
	return &Publisher{topic: t}
}

// Publish validates and publishes e and returns the Pub/Sub message id.
func (p *Publisher) Publish(ctx context.Context, e Event) (string, error) {
	data, attrs, err := e.Marshal()
	if err != nil {
		return "", err
	}
	return p.PublishRaw(ctx, data, attrs)
}

// PublishRaw publishes message data as given (after validation), for events read from a file.
func (p *Publisher) PublishRaw(ctx context.Context, data []byte, attrs map[string]string) (string, error) {
	ev, err := event.Parse(data, attrs)
	if err != nil {
		return "", fmt.Errorf("jobevents: %w", err)
	}
	if attrs == nil {
		attrs = map[string]string{"type": ev.Type, "project": ev.Project}
	}
	id, err := p.topic.Publish(ctx, &pubsub.Message{Data: data, Attributes: attrs}).Get(ctx)
	if err != nil {
		return "", fmt.Errorf("jobevents: publish: %w", err)
	}
	return id, nil
}

// Stop flushes and stops the publisher.
func (p *Publisher) Stop() { p.topic.Stop() }
