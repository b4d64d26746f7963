// Command publish publishes one job event to the job-events topic: from flags, or a JSON file.
// scripts/publish is its front door. It talks to the emulator when PUBSUB_EMULATOR_HOST is set
// (source .dev/env), to real Pub/Sub otherwise.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"go.opentelemetry.io/otel/trace"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/jobevents"
	"github.com/jobhooks/jobhooks/shared/tracing"
	"github.com/jobhooks/jobhooks/shared/tracing/export"
)

type uris []string

func (u *uris) String() string     { return strings.Join(*u, ",") }
func (u *uris) Set(v string) error { *u = append(*u, v); return nil }

func main() {
	var targets uris
	project := flag.String("project", "demo", "Jobhooks project (tenant) of the event")
	typ := flag.String("type", "batch.succeeded", "event type")
	id := flag.String("id", "", "event id (default: generated)")
	data := flag.String("data", "", `data object as JSON (default: {"id": "<event id>"})`)
	file := flag.String("file", "", "publish this JSON file as the message data instead of building one")
	metadata := flag.String("user-metadata", "", "user_metadata object as JSON (dynamic webhooks)")
	topic := flag.String("topic", envOr(config.EnvJobEventsTopic, jobevents.Topic), "topic id")
	gproject := flag.String("google-project", os.Getenv(config.EnvGoogleProject), "Google Cloud project of the topic")
	flag.Var(&targets, "uri", "per-request webhook URI (repeatable): makes the event dynamic")
	flag.Parse()
	if *gproject == "" {
		fail("set GOOGLE_CLOUD_PROJECT or --google-project (with the local stack: source .dev/env)")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := pubsub.NewClient(ctx, *gproject)
	if err != nil {
		fail(err.Error())
	}
	defer client.Close()
	p := jobevents.NewPublisher(client, *topic)
	defer p.Stop()
	ctx, span := publishSpan(ctx)
	defer span()

	var msgID string
	if *file != "" {
		raw, err := os.ReadFile(*file)
		if err != nil {
			fail(err.Error())
		}
		msgID, err = p.PublishRaw(ctx, raw, nil)
		if err != nil {
			fail(err.Error())
		}
	} else {
		if *id == "" {
			*id = fmt.Sprintf("job-%d", time.Now().UnixNano())
		}
		e := jobevents.Event{ID: *id, Project: *project, Type: *typ, Timestamp: time.Now(), URIs: targets}
		e.Data = map[string]any{"id": *id}
		if *data != "" {
			e.Data = json.RawMessage(*data)
		}
		if *metadata != "" {
			e.UserMetadata = json.RawMessage(*metadata)
		}
		msgID, err = p.Publish(ctx, e)
		if err != nil {
			fail(err.Error())
		}
		fmt.Fprintf(os.Stderr, "published %s event %s for project %s\n", *typ, *id, *project)
	}
	fmt.Println(msgID)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "publish:", msg)
	os.Exit(1)
}

// publishSpan starts the span of this publish when the local stack writes spans
// (JOBHOOKS_TRACE_DIR, in .dev/env): the event's trace then begins here, and scripts/trace shows
// the publish as the first step of its waterfall. The returned function ends and writes it.
func publishSpan(ctx context.Context) (context.Context, func()) {
	dir := os.Getenv("JOBHOOKS_TRACE_DIR")
	if dir == "" {
		return ctx, func() {}
	}
	tp, err := export.NewProvider(ctx, export.Options{Exporter: export.ExportFile, SampleRatio: 1, Dir: dir, Service: "publish"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "publish: no span:", err)
		return ctx, func() {}
	}
	ctx, span := tracing.Tracer(tp).Start(ctx, "publish", trace.WithSpanKind(trace.SpanKindProducer))
	return ctx, func() {
		span.End()
		tp.Shutdown(context.Background())
	}
}
