package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"go.opentelemetry.io/otel/trace"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/jobevents"
	"github.com/jobhooks/jobhooks/shared/tracing"
	"github.com/jobhooks/jobhooks/shared/tracing/export"
)

type uris []string

func (u *uris) String() string     { return strings.Join(*u, ",") }
func (u *uris) Set(v string) error { *u = append(*u, v); return nil }

// run publishes what args say and prints what it published to stdout. Its errors are sentences
// for a person at a terminal: which flag is wrong and what it must be.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var targets uris
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	fs.SetOutput(stderr)
	project := fs.String("project", "demo", "Jobhooks project (tenant) of the event")
	typ := fs.String("type", "batch.succeeded", "event type")
	id := fs.String("id", "", "event id (default: generated)")
	data := fs.String("data", "", `data object as JSON (default: {"id": "<event id>"})`)
	file := fs.String("file", "", "publish this JSON file as the message data, validated, instead of building one")
	raw := fs.String("raw", "", "publish these bytes as the message data as given, unvalidated, with no attributes (to see a poison event dead-lettered)")
	metadata := fs.String("user-metadata", "", "user_metadata object as JSON (dynamic webhooks)")
	topic := fs.String("topic", envOr(config.EnvJobEventsTopic, jobevents.Topic), "topic id")
	gproject := fs.String("google-project", os.Getenv(config.EnvGoogleProject), "Google Cloud project of the topic")
	fs.Var(&targets, "uri", "per-request webhook URI (repeatable): makes the event dynamic")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errors.New("see scripts/publish --help")
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: every value goes with a flag (see scripts/publish --help)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := exclusive(set); err != nil {
		return err
	}
	if *gproject == "" {
		return errors.New("set GOOGLE_CLOUD_PROJECT or --google-project (with the local stack: scripts/dev running, or source .dev/env)")
	}

	// Build and check the message before connecting: a mistake is reported without a network wait.
	var m message
	var err error
	switch {
	case set["raw"]:
		m = message{data: []byte(*raw)}
	case set["file"]:
		m, err = fromFile(*file)
	default:
		m, err = fromFlags(flags{id: *id, project: *project, typ: *typ, data: *data, metadata: *metadata, uris: targets})
	}
	if err != nil {
		return err
	}

	client, err := pubsub.NewClient(ctx, *gproject)
	if err != nil {
		return fmt.Errorf("Pub/Sub client for project %s: %w", *gproject, err)
	}
	defer client.Close()
	ctx, end := publishSpan(ctx, stderr)
	defer end()
	msgID, err := send(ctx, client, *topic, m)
	if err != nil {
		return fmt.Errorf("publishing to topic %s of project %s: %w (is the local stack running? scripts/dev)", *topic, *gproject, err)
	}
	fmt.Fprintln(stdout, m.describe(msgID))
	return nil
}

// exclusive refuses flags that say two different things: --raw and --file are the whole message,
// the other flags build one.
func exclusive(set map[string]bool) error {
	var builders []string
	for _, n := range []string{"id", "project", "type", "data", "user-metadata", "uri"} {
		if set[n] {
			builders = append(builders, "--"+n)
		}
	}
	for _, whole := range []string{"raw", "file"} {
		if !set[whole] {
			continue
		}
		if whole == "raw" && set["file"] {
			return errors.New("--raw and --file both give the whole message: use one")
		}
		if len(builders) > 0 {
			return fmt.Errorf("--%s gives the whole message, so %s cannot be used with it: put them in the JSON", whole, strings.Join(builders, ", "))
		}
	}
	return nil
}

// message is what is published: the data and, for a validated event, its attributes and what
// the event is.
type message struct {
	data  []byte
	attrs map[string]string
	ev    *event.JobEvent // nil for --raw
}

// flags are the values an event is built from.
type flags struct {
	id, project, typ, data, metadata string
	uris                             []string
}

func fromFlags(f flags) (message, error) {
	if f.id == "" {
		f.id = fmt.Sprintf("job-%d", time.Now().UnixNano())
	}
	e := jobevents.Event{ID: f.id, Project: f.project, Type: f.typ, Timestamp: time.Now(), URIs: f.uris}
	e.Data = map[string]any{"id": f.id}
	if f.data != "" {
		if err := jsonObject("--data", f.data, `'{"id":"batches/1"}'`); err != nil {
			return message{}, err
		}
		e.Data = json.RawMessage(f.data)
	}
	if f.metadata != "" {
		if err := jsonObject("--user-metadata", f.metadata, `'{"order":42}'`); err != nil {
			return message{}, err
		}
		e.UserMetadata = json.RawMessage(f.metadata)
	}
	data, attrs, err := e.Marshal()
	if err != nil {
		return message{}, refused("the event", err)
	}
	ev, _ := event.Parse(data, attrs)
	return message{data: data, attrs: attrs, ev: &ev}, nil
}

func fromFile(path string) (message, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return message{}, fmt.Errorf("--file: %w", err)
	}
	ev, err := event.Parse(data, nil)
	if err != nil {
		return message{}, refused(path, err)
	}
	return message{data: data, attrs: map[string]string{"type": ev.Type, "project": ev.Project}, ev: &ev}, nil
}

// jsonObject says, for a flag whose value must be a JSON object, what is wrong with value and
// where.
func jsonObject(flagName, value, example string) error {
	var v any
	err := json.Unmarshal([]byte(value), &v)
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("%s must be a JSON object, e.g. %s %s; %s is not JSON: %s at byte %d (keys and strings need double quotes)",
			flagName, flagName, example, value, syn.Error(), syn.Offset)
	case err != nil:
		return fmt.Errorf("%s must be a JSON object, e.g. %s %s; %s is not JSON: %v", flagName, flagName, example, value, err)
	}
	if _, ok := v.(map[string]any); !ok {
		return fmt.Errorf("%s must be a JSON object ({...}), e.g. %s %s; got %s", flagName, flagName, example, value)
	}
	return nil
}

// refused is the error of an event Dispatch would dead-letter as poison: nothing is published.
func refused(what string, err error) error {
	var inv *event.Invalid
	if errors.As(err, &inv) {
		return fmt.Errorf("%s is not a valid job event: %s; nothing was published (--raw publishes bytes unvalidated, to see a poison event dead-lettered)", what, inv.Reason)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// send publishes m with the trace of ctx's span as the traceparent attribute. --raw bypasses
// jobevents' validation on purpose, so it publishes with the client directly.
func send(ctx context.Context, client *pubsub.Client, topic string, m message) (string, error) {
	p := client.Publisher(topic)
	defer p.Stop()
	p.PublishSettings.DelayThreshold = jobevents.DelayThreshold
	attrs := map[string]string{}
	for k, v := range m.attrs {
		attrs[k] = v
	}
	tracing.ToAttributes(ctx, attrs)
	return p.Publish(ctx, &pubsub.Message{Data: m.data, Attributes: attrs}).Get(ctx)
}

// describe is the line printed once m is published as message msgID.
func (m message) describe(msgID string) string {
	if m.ev != nil {
		return fmt.Sprintf("published event %s (%s, project %s) as message %s", m.ev.ID, m.ev.Type, m.ev.Project, msgID)
	}
	line := fmt.Sprintf("published %d bytes, unvalidated, as message %s", len(m.data), msgID)
	ev, err := event.Parse(m.data, nil)
	var inv *event.Invalid
	switch {
	case errors.As(err, &inv):
		return line + "; not a valid job event (" + inv.Reason + "): Dispatch dead-letters it"
	case err != nil:
		return line
	}
	return line + fmt.Sprintf("; a valid job event %s (%s, project %s)", ev.ID, ev.Type, ev.Project)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// publishSpan starts the span of this publish when the local stack writes spans
// (JOBHOOKS_TRACE_DIR, in .dev/env): the event's trace then begins here, and scripts/trace shows
// the publish as the first step of its waterfall. The returned function ends and writes it.
func publishSpan(ctx context.Context, stderr io.Writer) (context.Context, func()) {
	dir := os.Getenv("JOBHOOKS_TRACE_DIR")
	if dir == "" {
		return ctx, func() {}
	}
	tp, err := export.NewProvider(ctx, export.Options{Exporter: export.ExportFile, SampleRatio: 1, Dir: dir, Service: "publish"})
	if err != nil {
		fmt.Fprintln(stderr, "publish: no span:", err)
		return ctx, func() {}
	}
	ctx, span := tracing.Tracer(tp).Start(ctx, "publish", trace.WithSpanKind(trace.SpanKindProducer))
	return ctx, func() {
		span.End()
		tp.Shutdown(context.Background())
	}
}
