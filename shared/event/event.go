// Package event parses and validates job events (shared/jobevents/README.md, The job event), the
// messages job systems publish to the job-events topic, and renders the body every endpoint
// receives (shared/verify/README.md, What a receiver gets).
//
// Parse never panics: anything that is not a valid event comes back as an *Invalid error whose
// Reason says which field is wrong and why. Such an event is a poison message: it is dead-lettered,
// never retried.
package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of shared/jobevents/README.md, The job event.
const (
	MaxData         = 64 << 10
	MaxUserMetadata = 16 << 10
	MaxURIs         = 10
	MaxURILength    = 2048
	// MaxEvent bounds the whole message: data, metadata and URIs with room for the envelope.
	MaxEvent = 128 << 10
)

// Catalog is the set of event types Jobhooks knows. Other well-formed types are allowed when a
// webhook subscribes to them exactly.
var Catalog = []string{
	"batch.succeeded", "batch.failed", "batch.expired", "batch.cancelled",
	"interaction.requires_action", "interaction.completed", "interaction.failed", "interaction.cancelled",
	"video.generated",
}

// Ping is the event type of a webhook's test delivery.
const Ping = "webhook.ping"

var (
	idPattern      = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	projectPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	typePattern    = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)+$`)
)

// ValidID, ValidProject and ValidType check one field against its pattern of
// shared/jobevents/README.md, The job event.
func ValidID(s string) bool {
	// Firestore reserves document ids of the form __.*__; the id names the event's record.
	return idPattern.MatchString(s) && !(len(s) >= 4 && strings.HasPrefix(s, "__") && strings.HasSuffix(s, "__"))
}
func ValidProject(s string) bool { return projectPattern.MatchString(s) }
func ValidType(s string) bool    { return len(s) <= 256 && typePattern.MatchString(s) }

// JobEvent is a validated job event.
type JobEvent struct {
	ID      string
	Project string
	Type    string
	// Timestamp is when the job reached its state; TimestampText is the RFC 3339 text as
	// published, which the delivered body repeats unchanged.
	Timestamp     time.Time
	TimestampText string
	// Data is the event's data object, compacted.
	Data          json.RawMessage
	WebhookConfig *WebhookConfig
}

// WebhookConfig is a per-request (dynamic) webhook.
type WebhookConfig struct {
	URIs []string
	// UserMetadata is a JSON object, compacted, or nil.
	UserMetadata json.RawMessage
}

// Invalid is a validation failure. Reason is a short sentence naming the field.
type Invalid struct{ Reason string }

func (e *Invalid) Error() string { return "invalid job event: " + e.Reason }

func invalid(format string, args ...any) error { return &Invalid{Reason: fmt.Sprintf(format, args...)} }

// wire is the published JSON. Pointers tell "absent" from "empty".
type wire struct {
	ID            *string         `json:"id"`
	Project       *string         `json:"project"`
	Type          *string         `json:"type"`
	Timestamp     *string         `json:"timestamp"`
	Data          json.RawMessage `json:"data"`
	WebhookConfig json.RawMessage `json:"webhook_config"`
}

type wireConfig struct {
	URIs         []string        `json:"uris"`
	UserMetadata json.RawMessage `json:"user_metadata"`
}

// Parse validates a published message: its data and its attributes (`type` and `project`, when
// present, must repeat the body's fields).
func Parse(data []byte, attributes map[string]string) (JobEvent, error) {
	if len(data) == 0 {
		return JobEvent{}, invalid("message data is empty; want a JSON object")
	}
	if len(data) > MaxEvent {
		return JobEvent{}, invalid("message is %d bytes; the limit is %d", len(data), MaxEvent)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return JobEvent{}, invalid("message data is not a JSON object")
	}
	if !utf8.Valid(data) {
		// encoding/json would pass invalid bytes inside data through to every receiver.
		return JobEvent{}, invalid("message data is not valid UTF-8 (JSON text is UTF-8, RFC 8259)")
	}
	var w wire
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&w); err != nil {
		return JobEvent{}, invalid("message data is not valid JSON: %s", jsonProblem(err))
	}
	if dec.More() {
		return JobEvent{}, invalid("message data has content after the JSON object")
	}

	var e JobEvent
	switch {
	case w.ID == nil:
		return e, invalid("id is missing")
	case !ValidID(*w.ID):
		return e, invalid("id %q must match [A-Za-z0-9_-]{1,128} and not be of the form __name__ (reserved)", truncate(*w.ID))
	case w.Project == nil:
		return e, invalid("project is missing")
	case !ValidProject(*w.Project):
		return e, invalid("project %q must match [a-z][a-z0-9-]{0,62}", truncate(*w.Project))
	case w.Type == nil:
		return e, invalid("type is missing")
	case !ValidType(*w.Type):
		return e, invalid("type %q must match [a-z0-9_]+(.[a-z0-9_]+)+", truncate(*w.Type))
	case w.Timestamp == nil:
		return e, invalid("timestamp is missing")
	}
	e.ID, e.Project, e.Type, e.TimestampText = *w.ID, *w.Project, *w.Type, *w.Timestamp
	ts, err := time.Parse(time.RFC3339Nano, e.TimestampText)
	if err != nil {
		return e, invalid("timestamp %q is not RFC 3339 (e.g. 2026-01-02T15:04:05Z)", truncate(e.TimestampText))
	}
	e.Timestamp = ts

	if e.Data, err = object(w.Data, "data", MaxData); err != nil {
		return e, err
	}
	if len(w.WebhookConfig) > 0 && !isNull(w.WebhookConfig) {
		if e.WebhookConfig, err = parseConfig(w.WebhookConfig); err != nil {
			return e, err
		}
	}
	if a, ok := attributes["type"]; ok && a != e.Type {
		return e, invalid("attribute type %q differs from the body's type %q", truncate(a), e.Type)
	}
	if a, ok := attributes["project"]; ok && a != e.Project {
		return e, invalid("attribute project %q differs from the body's project %q", truncate(a), e.Project)
	}
	return e, nil
}

func parseConfig(raw json.RawMessage) (*WebhookConfig, error) {
	var c wireConfig
	if raw[0] != '{' {
		return nil, invalid("webhook_config must be an object")
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, invalid("webhook_config: %s", jsonProblem(err))
	}
	if len(c.URIs) < 1 || len(c.URIs) > MaxURIs {
		return nil, invalid("webhook_config.uris must hold 1 to %d URLs, not %d", MaxURIs, len(c.URIs))
	}
	seen := map[string]bool{}
	for i, u := range c.URIs {
		if err := checkURI(u); err != nil {
			return nil, invalid("webhook_config.uris[%d]: %s", i, err)
		}
		if seen[u] {
			// Not quoted: a per-request URI may carry a token, and reasons are logged.
			return nil, invalid("webhook_config.uris[%d] repeats an earlier URI", i)
		}
		seen[u] = true
	}
	cfg := &WebhookConfig{URIs: c.URIs}
	if len(c.UserMetadata) > 0 && !isNull(c.UserMetadata) {
		md, err := object(c.UserMetadata, "webhook_config.user_metadata", MaxUserMetadata)
		if err != nil {
			return nil, err
		}
		cfg.UserMetadata = md
	}
	return cfg, nil
}

// checkURI checks the shape of a dynamic target. Whether its host may be dialled is decided by
// the sender's address guard at dispatch and at connect time.
func checkURI(s string) error {
	if len(s) > MaxURILength {
		return fmt.Errorf("longer than %d characters", MaxURILength)
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return errors.New("not an absolute URL")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("scheme %q is not https", truncate(u.Scheme))
	}
	if u.User != nil {
		return errors.New("user-info is not allowed in a webhook URL")
	}
	return nil
}

// object checks that raw is a JSON object of at most limit bytes once compacted, and returns it compacted.
func object(raw json.RawMessage, field string, limit int) (json.RawMessage, error) {
	if len(raw) == 0 || isNull(raw) {
		return nil, invalid("%s is missing; want a JSON object", field)
	}
	if raw[0] != '{' {
		return nil, invalid("%s must be a JSON object", field)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, invalid("%s: %s", field, jsonProblem(err))
	}
	if buf.Len() > limit {
		return nil, invalid("%s is %d bytes serialized; the limit is %d", field, buf.Len(), limit)
	}
	return buf.Bytes(), nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// jsonProblem describes a decoding error without echoing the input.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must be %s, not %s", typ.Field, typ.Type, typ.Value)
	default:
		return err.Error()
	}
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Carried returns the id and the project an event's data carries, each when it is there and
// valid, even if the rest of the event is not: a poison event's dead letter and its log line
// still name them, so a search by event_id or project finds it. An invalid value is not
// repeated (the reason quotes the start of it).
func Carried(data []byte) (id, project string) {
	if len(data) > MaxEvent {
		return "", ""
	}
	var w struct {
		ID      any `json:"id"`
		Project any `json:"project"`
	}
	if json.Unmarshal(data, &w) != nil {
		return "", ""
	}
	if s, ok := w.ID.(string); ok && ValidID(s) {
		id = s
	}
	if s, ok := w.Project.(string); ok && ValidProject(s) {
		project = s
	}
	return id, project
}
