package topics

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/pubsub/v2"

	"github.com/jobhooks/jobhooks/shared/tracing"
)

// Publisher publishes job events (Dispatch's re-publication), requests (the API's), delivery
// tasks and dead letters. One per instance; safe for concurrent use. What each function may
// publish to is its service account's grant (terraform/iam.tf), not this type's.
type Publisher struct {
	client     *pubsub.Client
	jobEvents  *pubsub.Publisher
	requests   *pubsub.Publisher
	deliveries *pubsub.Publisher
	waiting    *pubsub.Publisher
	deadLetter *pubsub.Publisher
}

// NewPublisher publishes to the given topic ids of the client's project. Batches wait at most
// 1 ms: a job finishing is latency-sensitive, and on the hop Dispatch → Deliver the client's
// default 10 ms delay is the larger part of the latency (shared/devtools/README.md, Targets the
// benchmarks report).
func NewPublisher(client *pubsub.Client, jobEventsTopic, requestsTopic, deliveriesTopic, waitingTopic, deadLetterTopic string) *Publisher {
	tune := func(p *pubsub.Publisher) *pubsub.Publisher {
		p.PublishSettings.DelayThreshold = time.Millisecond
		p.PublishSettings.Timeout = 30 * time.Second
		return p
	}
	return &Publisher{
		client:     client,
		jobEvents:  tune(client.Publisher(jobEventsTopic)),
		requests:   tune(client.Publisher(requestsTopic)),
		deliveries: tune(client.Publisher(deliveriesTopic)),
		waiting:    tune(client.Publisher(waitingTopic)),
		deadLetter: tune(client.Publisher(deadLetterTopic)),
	}
}

// Message is one message to publish.
type Message struct {
	Data       []byte
	Attributes map[string]string
}

// PublishDeliveries publishes every message and returns only when all are accepted by Pub/Sub,
// or with the first error: a caller acks its own input only when every task is out.
//
// Every message published here carries the trace of ctx's span in its attributes, unless it
// carries one already (shared/tracing): a delivery task's retries, and a dead letter, join the
// trace of the event that caused them.
func (p *Publisher) PublishDeliveries(ctx context.Context, msgs []Message) error {
	return publishAll(ctx, p.deliveries, msgs)
}

// PublishWaiting publishes delivery tasks whose endpoint holds them back to the waiting
// topic, as PublishDeliveries does to the deliveries topic.
func (p *Publisher) PublishWaiting(ctx context.Context, msgs []Message) error {
	return publishAll(ctx, p.waiting, msgs)
}

// PublishRequests publishes the API's requests (shared/request) and returns when all are
// accepted, or with the first error.
func (p *Publisher) PublishRequests(ctx context.Context, msgs []Message) error {
	return publishAll(ctx, p.requests, msgs)
}

// PublishJobEvent publishes one job event (Dispatch re-publishing one before the retention ends)
// and returns its Pub/Sub message id.
func (p *Publisher) PublishJobEvent(ctx context.Context, m Message) (string, error) {
	tracing.ToAttributes(ctx, m.Attributes)
	id, err := p.jobEvents.Publish(ctx, &pubsub.Message{Data: m.Data, Attributes: m.Attributes}).Get(ctx)
	if err != nil {
		return "", fmt.Errorf("topics: publish job event: %w", err)
	}
	return id, nil
}

// PublishDeadLetter publishes one dead letter and waits for Pub/Sub to accept it.
func (p *Publisher) PublishDeadLetter(ctx context.Context, m Message) error {
	return publishAll(ctx, p.deadLetter, []Message{m})
}

func publishAll(ctx context.Context, topic *pubsub.Publisher, msgs []Message) error {
	results := make([]*pubsub.PublishResult, len(msgs))
	for i, m := range msgs {
		tracing.ToAttributes(ctx, m.Attributes)
		results[i] = topic.Publish(ctx, &pubsub.Message{Data: m.Data, Attributes: clamp(m.Attributes)})
	}
	var errs []error
	for _, r := range results {
		if _, err := r.Get(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("topics: %d of %d messages to %s not published: %w", len(errs), len(msgs), topic.ID(), errors.Join(errs...))
	}
	return nil
}

// Stop flushes pending messages and stops the publishers.
func (p *Publisher) Stop() {
	p.jobEvents.Stop()
	p.requests.Stop()
	p.deliveries.Stop()
	p.waiting.Stop()
	p.deadLetter.Stop()
}

// MaxAttributeValue is Pub/Sub's limit on one attribute value, in bytes. The emulator does not
// enforce it; production refuses the whole publish.
const MaxAttributeValue = 1024

// clamp cuts attribute values to MaxAttributeValue bytes, on a character boundary: a dead
// letter's reason quotes input (a poison event's field), and a publish refused for its length
// would be retried until Pub/Sub gave up on the message that caused it.
func clamp(attrs map[string]string) map[string]string {
	for k, v := range attrs {
		if len(v) <= MaxAttributeValue {
			continue
		}
		cut := MaxAttributeValue
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		attrs[k] = v[:cut]
	}
	return attrs
}
