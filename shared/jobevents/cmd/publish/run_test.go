package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/jobhooks/jobhooks/shared/devtools/emulator"
)

func TestMain(m *testing.M) { os.Exit(emulator.Main(m, emulator.PubSub)) }

const gproject = "publish-cmd-test"

// topic creates a topic of its own and a subscription to it, and returns the topic id and a
// function that waits for the next message on it.
func topic(t *testing.T, name string) (string, func() *pubsub.Message) {
	t.Helper()
	emulator.Need(t)
	ctx := context.Background()
	client, err := pubsub.NewClient(ctx, gproject)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	full := "projects/" + gproject + "/topics/" + name
	sub := "projects/" + gproject + "/subscriptions/" + name
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: full}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub, Topic: full}); err != nil {
		t.Fatal(err)
	}
	return name, func() *pubsub.Message {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		var mu sync.Mutex
		var got *pubsub.Message
		err := client.Subscriber(sub).Receive(rctx, func(_ context.Context, m *pubsub.Message) {
			m.Ack()
			mu.Lock()
			defer mu.Unlock()
			if got == nil {
				got = m
			}
			cancel()
		})
		if got == nil {
			t.Fatalf("no message on %s: %v", name, err)
		}
		return got
	}
}

// publish runs the command's entry point with args and returns what it printed and its error.
func publish(t *testing.T, topicID string, args ...string) (string, error) {
	t.Helper()
	t.Setenv("JOBHOOKS_TRACE_DIR", "") // a stack's trace directory in the environment is not this test's
	var out, errOut strings.Builder
	err := run(context.Background(), append([]string{"--google-project", gproject, "--topic", topicID}, args...), &out, &errOut)
	return out.String() + errOut.String(), err
}

func TestPublish_RawPublishesTheBytesAsGivenUnvalidated(t *testing.T) {
	id, next := topic(t, "raw")
	raw := `{"id":"poison-1","project":"demo","type":"batch.succeeded","data":{}}`
	out, err := publish(t, id, "--raw", raw)
	if err != nil {
		t.Fatalf("--raw: %v\n%s", err, out)
	}
	m := next()
	if string(m.Data) != raw {
		t.Errorf("published %q, want the bytes as given %q", m.Data, raw)
	}
	if _, ok := m.Attributes["type"]; ok {
		t.Errorf("--raw set attributes %v; it publishes the bytes alone", m.Attributes)
	}
	want := fmt.Sprintf("published %d bytes, unvalidated, as message %s; not a valid job event (timestamp is missing): Dispatch dead-letters it\n", len(raw), m.ID)
	if out != want {
		t.Errorf("printed %q, want %q", out, want)
	}

	// Not even JSON: still published as given.
	if out, err := publish(t, id, "--raw", "{id:1"); err != nil {
		t.Fatalf("--raw: %v\n%s", err, out)
	}
	if m := next(); string(m.Data) != "{id:1" {
		t.Errorf("published %q, want {id:1", m.Data)
	}
}

func TestPublish_SaysWhatItPublished(t *testing.T) {
	id, next := topic(t, "said")
	out, err := publish(t, id, "--project", "demo", "--type", "batch.failed", "--id", "b-7", "--data", `{"id":"batches/7"}`)
	if err != nil {
		t.Fatalf("publish: %v\n%s", err, out)
	}
	m := next()
	if want := "published event b-7 (batch.failed, project demo) as message " + m.ID + "\n"; out != want {
		t.Errorf("printed %q, want %q", out, want)
	}
	if m.Attributes["type"] != "batch.failed" || m.Attributes["project"] != "demo" || !strings.Contains(string(m.Data), `"data":{"id":"batches/7"}`) {
		t.Errorf("published %s with %v", m.Data, m.Attributes)
	}

	file := t.TempDir() + "/event.json"
	os.WriteFile(file, []byte(`{"id":"f-1","project":"acme","type":"video.generated","timestamp":"2026-11-28T10:00:00Z","data":{}}`), 0o600)
	out, err = publish(t, id, "--file", file)
	if err != nil {
		t.Fatalf("--file: %v\n%s", err, out)
	}
	if m := next(); out != "published event f-1 (video.generated, project acme) as message "+m.ID+"\n" {
		t.Errorf("--file printed %q", out)
	}
}

// TestPublish_ExplainsWhatIsWrongAndPublishesNothing: a person's mistake gets a sentence naming
// the flag and the rule, not a Go error from deep inside encoding/json; nothing is published.
func TestPublish_ExplainsWhatIsWrongAndPublishesNothing(t *testing.T) {
	id, next := topic(t, "wrong")
	file := t.TempDir() + "/bad.json"
	os.WriteFile(file, []byte(`{"id":"f-1","project":"acme","type":"video.generated","data":{}}`), 0o600)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--data", "{id:1}"}, `--data must be a JSON object, e.g. --data '{"id":"batches/1"}'; {id:1} is not JSON: invalid character 'i' looking for beginning of object key string at byte 2`},
		{[]string{"--data", "[1]"}, "--data must be a JSON object ({...})"},
		{[]string{"--user-metadata", "k=v", "--uri", "https://example.com/h"}, "--user-metadata must be a JSON object"},
		{[]string{"--type", "Batch Done"}, `the event is not a valid job event: type "Batch Done" must match`},
		{[]string{"--file", file}, file + " is not a valid job event: timestamp is missing; nothing was published"},
		{[]string{"--raw", "{}", "--id", "x"}, "--raw gives the whole message, so --id cannot be used with it"},
		{[]string{"--raw", "{}", "--file", file}, "--raw and --file both give the whole message"},
	} {
		out, err := publish(t, id, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one containing %q", c.args, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "MarshalJSON") {
			t.Errorf("%q: a raw Go error: %v", c.args, err)
		}
		if out != "" && !strings.HasPrefix(out, "Usage") {
			t.Errorf("%q printed %q", c.args, out)
		}
	}
	// The next message on the topic is this one: none of the refused ones went out.
	if out, err := publish(t, id, "--raw", "marker"); err != nil {
		t.Fatalf("--raw: %v\n%s", err, out)
	}
	if m := next(); string(m.Data) != "marker" {
		t.Errorf("a refused event was published: %q", m.Data)
	}
}
