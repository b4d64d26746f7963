package jobevents_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/jobhooks/jobhooks/shared/contracts"
	"github.com/jobhooks/jobhooks/shared/devtools/emulator"
	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/jobevents"
	"github.com/jobhooks/jobhooks/shared/topics"
)

func TestMain(m *testing.M) { os.Exit(emulator.Main(m, emulator.PubSub)) }

var at = time.Date(2026, 11, 28, 11, 0, 0, 500_000_000, time.FixedZone("CET", 3600))

func TestMarshal_BuildsTheMessageDispatchExpects(t *testing.T) {
	for _, c := range []struct {
		name string
		e    jobevents.Event
		want string
	}{
		{"static, time in UTC", jobevents.Event{ID: "b-1", Project: "acme", Type: "batch.expired", Timestamp: at, Data: map[string]string{"id": "batches/1"}},
			`{"id":"b-1","project":"acme","type":"batch.expired","timestamp":"2026-11-28T10:00:00.5Z","data":{"id":"batches/1"}}`},
		{"nil data is {}", jobevents.Event{ID: "b-2", Project: "acme", Type: "a.b", Timestamp: at},
			`{"id":"b-2","project":"acme","type":"a.b","timestamp":"2026-11-28T10:00:00.5Z","data":{}}`},
		{"a nil map is {}", jobevents.Event{ID: "b-3", Project: "acme", Type: "a.b", Timestamp: at, Data: map[string]any(nil)},
			`{"id":"b-3","project":"acme","type":"a.b","timestamp":"2026-11-28T10:00:00.5Z","data":{}}`},
		{"raw data is compacted", jobevents.Event{ID: "b-4", Project: "acme", Type: "a.b", Timestamp: at, Data: json.RawMessage(` { "id" : 1 } `)},
			`{"id":"b-4","project":"acme","type":"a.b","timestamp":"2026-11-28T10:00:00.5Z","data":{"id":1}}`},
		{"a struct", jobevents.Event{ID: "b-5", Project: "acme", Type: "batch.failed", Timestamp: at, Data: struct {
			ID   string `json:"id"`
			Code string `json:"error_code"`
		}{"batches/5", "INTERNAL"}},
			`{"id":"b-5","project":"acme","type":"batch.failed","timestamp":"2026-11-28T10:00:00.5Z","data":{"id":"batches/5","error_code":"INTERNAL"}}`},
		{"dynamic", jobevents.Event{ID: "v-1", Project: "acme", Type: "video.generated", Timestamp: at, Data: map[string]string{"id": "videos/1"},
			URIs: []string{"https://a.example/h", "https://b.example/h"}, UserMetadata: map[string]any{"k": []int{1}}},
			`{"id":"v-1","project":"acme","type":"video.generated","timestamp":"2026-11-28T10:00:00.5Z","data":{"id":"videos/1"},"webhook_config":{"uris":["https://a.example/h","https://b.example/h"],"user_metadata":{"k":[1]}}}`},
		{"dynamic without metadata", jobevents.Event{ID: "v-2", Project: "acme", Type: "video.generated", Timestamp: at, URIs: []string{"https://a.example/h"}},
			`{"id":"v-2","project":"acme","type":"video.generated","timestamp":"2026-11-28T10:00:00.5Z","data":{},"webhook_config":{"uris":["https://a.example/h"]}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, attrs, err := c.e.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != c.want {
				t.Errorf("data\n got %s\nwant %s", data, c.want)
			}
			if len(attrs) != 2 || attrs["type"] != c.e.Type || attrs["project"] != c.e.Project {
				t.Errorf("attributes %v, want type and project", attrs)
			}
		})
	}
}

func TestMarshal_ZeroTimestampIsNow(t *testing.T) {
	data, _, err := jobevents.Event{ID: "j", Project: "acme", Type: "a.b"}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	e, _ := event.Parse(data, nil)
	if d := time.Since(e.Timestamp); d < 0 || d > time.Minute {
		t.Errorf("timestamp %s is not now", e.TimestampText)
	}
}

func TestMarshal_RefusesWhatDispatchWouldDeadLetter(t *testing.T) {
	ok := jobevents.Event{ID: "j", Project: "acme", Type: "batch.succeeded", Timestamp: at}
	with := func(change func(*jobevents.Event)) jobevents.Event { e := ok; change(&e); return e }
	elevenURIs := make([]string, 11)
	for i := range elevenURIs {
		elevenURIs[i] = fmt.Sprintf("https://a.example/%d", i)
	}
	for _, c := range []struct {
		name, reason string
		e            jobevents.Event
	}{
		{"id with a space", "id", with(func(e *jobevents.Event) { e.ID = "job 1" })},
		{"no id", "id \"\" must match", with(func(e *jobevents.Event) { e.ID = "" })},
		{"upper-case project", "project", with(func(e *jobevents.Event) { e.Project = "Acme" })},
		{"type of one word", "type", with(func(e *jobevents.Event) { e.Type = "succeeded" })},
		{"data a list", "data must be a JSON object", with(func(e *jobevents.Event) { e.Data = []string{"x"} })},
		{"data over 64 KiB", "data is", with(func(e *jobevents.Event) { e.Data = map[string]string{"x": strings.Repeat("a", event.MaxData)} })},
		{"metadata without URIs", "1 to 10", with(func(e *jobevents.Event) { e.UserMetadata = map[string]int{"k": 1} })},
		{"eleven URIs", "1 to 10", with(func(e *jobevents.Event) { e.URIs = elevenURIs })},
		{"ftp URI", "scheme", with(func(e *jobevents.Event) { e.URIs = []string{"ftp://a.example/"} })},
		{"metadata a string", "user_metadata must be a JSON object", with(func(e *jobevents.Event) {
			e.URIs, e.UserMetadata = []string{"https://a.example/"}, "x"
		})},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := c.e.Marshal()
			var inv *jobevents.Invalid
			if !errors.As(err, &inv) || !strings.Contains(inv.Reason, c.reason) {
				t.Errorf("err = %v, want a *jobevents.Invalid about %q", err, c.reason)
			}
		})
	}
	if _, _, err := with(func(e *jobevents.Event) { e.Data = map[string]any{"c": make(chan int)} }).Marshal(); err == nil {
		t.Error("data that cannot be marshalled was accepted")
	}
}

// TestMarshal_EventsFollowTheJobEventSchema checks what the package builds against the
// published contract that job systems in other languages follow.
func TestMarshal_EventsFollowTheJobEventSchema(t *testing.T) {
	catalog, err := contracts.Schema("schemas/catalog-event.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []jobevents.Event{
		{ID: "b-1", Project: "acme", Type: "batch.succeeded", Timestamp: at, Data: map[string]string{"id": "batches/1", "output_file_uri": "gs://b/1"}},
		{ID: "v-1", Project: "acme", Type: "video.generated", Data: map[string]string{"id": "videos/1", "output_file_uri": "gs://b/v.mp4", "file_name": "v.mp4"},
			URIs: []string{"https://a.example/h"}, UserMetadata: map[string]any{"order": 42}},
	} {
		data, _, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(string(data)))
		if err := catalog.Validate(inst); err != nil {
			t.Errorf("%s: %v", data, err)
		}
	}
}

func TestTopic_IsTheJobEventsTopic(t *testing.T) {
	if jobevents.Topic != topics.JobEvents {
		t.Errorf("jobevents.Topic = %q; the pipeline's topic is %q", jobevents.Topic, topics.JobEvents)
	}
}

func TestPublish_StoresTheEventWithItsAttributesAndReturnsTheServerID(t *testing.T) {
	emulator.Need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	project := fmt.Sprintf("jobevents-test-%d", os.Getpid())
	client, err := pubsub.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	topic := "projects/" + project + "/topics/" + jobevents.Topic
	sub := "projects/" + project + "/subscriptions/check"
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub, Topic: topic}); err != nil {
		t.Fatal(err)
	}
	p := jobevents.NewPublisher(client, jobevents.Topic)

	e := jobevents.Event{ID: "b-1", Project: "acme", Type: "batch.succeeded", Timestamp: at, Data: map[string]string{"id": "batches/1"}}
	want := map[string]*pubsub.Message{}
	id, err := p.Publish(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	data, attrs, _ := e.Marshal()
	want[id] = &pubsub.Message{Data: data, Attributes: attrs}

	// Raw data gets its type and project attributes; other attributes stay.
	raw := `{"id":"r-1","project":"beta","type":"video.generated","timestamp":"2026-11-28T10:00:00Z","data":{}}`
	id, err = p.PublishRaw(ctx, []byte(raw), map[string]string{"source": "file"})
	if err != nil {
		t.Fatal(err)
	}
	want[id] = &pubsub.Message{Data: []byte(raw), Attributes: map[string]string{"type": "video.generated", "project": "beta", "source": "file"}}

	// Poison is refused and never published.
	if _, err := p.PublishRaw(ctx, []byte(`{"id":"r-2","project":"beta"}`), nil); err == nil {
		t.Error("an event without type was published")
	}
	if _, err := p.PublishRaw(ctx, []byte(raw), map[string]string{"project": "other"}); err == nil {
		t.Error("an event whose project attribute contradicts its data was published")
	}
	p.Stop()

	var mu sync.Mutex
	got := map[string]*pubsub.Message{}
	rctx, stop := context.WithCancel(ctx)
	err = client.Subscriber(sub).Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		mu.Lock()
		defer mu.Unlock()
		got[m.ID] = m
		if len(got) == len(want) {
			stop()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing else was published: a second look finds the subscription empty.
	extra := 0
	lctx, done := context.WithTimeout(ctx, 500*time.Millisecond)
	defer done()
	_ = client.Subscriber(sub).Receive(lctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		mu.Lock()
		extra++
		mu.Unlock()
	})
	if extra > 0 {
		t.Errorf("%d more messages were published", extra)
	}
	for id, w := range want {
		m := got[id]
		if m == nil {
			t.Errorf("message %s never arrived; got %v", id, got)
			continue
		}
		if string(m.Data) != string(w.Data) || fmt.Sprint(m.Attributes) != fmt.Sprint(w.Attributes) {
			t.Errorf("message %s: %s %v, want %s %v", id, m.Data, m.Attributes, w.Data, w.Attributes)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d messages arrived, want %d", len(got), len(want))
	}
}
