package jobevents_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/jobhooks/jobhooks/shared/jobevents"
)

// An event renders to the message data and attributes Dispatch expects; Marshal validates them
// with Dispatch's own rules, without the network.
func ExampleEvent_Marshal() {
	e := jobevents.Event{
		ID:        "batch-42",
		Project:   "acme",
		Type:      "batch.succeeded",
		Timestamp: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC),
		Data:      map[string]string{"id": "batches/42", "output_file_uri": "gs://acme-results/42.jsonl"},
	}
	data, attrs, err := e.Marshal()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(data))
	fmt.Println("type:", attrs["type"], "project:", attrs["project"])

	// A per-request webhook: the URIs replace the project's webhooks for this event.
	e.URIs = []string{"https://app.example.com/jobs/done"}
	e.UserMetadata = map[string]int{"order": 42}
	data, _, _ = e.Marshal()
	fmt.Println(string(data))

	// What Dispatch would dead-letter is refused before it is published.
	e.Project = "Acme"
	_, _, err = e.Marshal()
	fmt.Println(err)
	// Output:
	// {"id":"batch-42","project":"acme","type":"batch.succeeded","timestamp":"2026-11-28T10:00:00Z","data":{"id":"batches/42","output_file_uri":"gs://acme-results/42.jsonl"}}
	// type: batch.succeeded project: acme
	// {"id":"batch-42","project":"acme","type":"batch.succeeded","timestamp":"2026-11-28T10:00:00Z","data":{"id":"batches/42","output_file_uri":"gs://acme-results/42.jsonl"},"webhook_config":{"uris":["https://app.example.com/jobs/done"],"user_metadata":{"order":42}}}
	// jobevents: invalid job event: project "Acme" must match [a-z][a-z0-9-]{0,62}
}

// A job system publishes when a job finishes. With PUBSUB_EMULATOR_HOST set, the client talks to
// the emulator (the local stack's .dev/env sets it).
func ExampleNewPublisher() {
	ctx := context.Background()
	client, err := pubsub.NewClient(ctx, "my-gcp-project")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	p := jobevents.NewPublisher(client, jobevents.Topic)
	defer p.Stop()

	msgID, err := p.Publish(ctx, jobevents.Event{
		ID: "batch-42", Project: "acme", Type: "batch.succeeded", Timestamp: time.Now(),
		Data: map[string]string{"id": "batches/42", "output_file_uri": "gs://acme-results/42.jsonl"},
	})
	if err != nil {
		log.Fatal(err) // a *jobevents.Invalid inside says which field is wrong
	}
	fmt.Println("published", msgID)
}
