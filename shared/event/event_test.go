package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

const valid = `{"id":"job-1","project":"acme","type":"batch.succeeded","timestamp":"2026-11-28T10:00:00Z",
 "data":{"id":"batches/1", "output_file_uri":"gs://b/o"}}`

func TestParse_AcceptsAValidEventAndRendersTheSpecBody(t *testing.T) {
	e, err := Parse([]byte(valid), map[string]string{"type": "batch.succeeded", "project": "acme"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"batch.succeeded","version":"v1","timestamp":"2026-11-28T10:00:00Z","data":{"id":"batches/1","output_file_uri":"gs://b/o"}}`
	if got := string(e.Body()); got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
	if !json.Valid(e.Body()) {
		t.Error("body is not JSON")
	}
}

func TestParse_DynamicConfigAddsUserMetadataAtTopLevel(t *testing.T) {
	msg := `{"id":"j","project":"p","type":"video.generated","timestamp":"2026-11-28T10:00:00.5+01:00","data":{},
	  "webhook_config":{"uris":["https://a.example/h","https://b.example/h"],"user_metadata":{"k": [1, 2]}}}`
	e, err := Parse([]byte(msg), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.WebhookConfig.URIs) != 2 {
		t.Fatalf("uris = %v", e.WebhookConfig.URIs)
	}
	want := `{"type":"video.generated","version":"v1","timestamp":"2026-11-28T10:00:00.5+01:00","data":{},"user_metadata":{"k":[1,2]}}`
	if got := string(e.Body()); got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
}

func TestParse_RejectsPoisonWithAReasonNamingTheField(t *testing.T) {
	big := `{"id":"j","project":"p","type":"a.b","timestamp":"2026-11-28T10:00:00Z","data":{"x":"` + strings.Repeat("a", MaxData) + `"}}`
	bigMeta := `{"id":"j","project":"p","type":"a.b","timestamp":"2026-11-28T10:00:00Z","data":{},"webhook_config":{"uris":["https://x.example"],"user_metadata":{"x":"` + strings.Repeat("a", MaxUserMetadata) + `"}}}`
	elevenURIs := `{"id":"j","project":"p","type":"a.b","timestamp":"2026-11-28T10:00:00Z","data":{},"webhook_config":{"uris":[` + strings.TrimSuffix(strings.Repeat(`"https://x.example/a",`, 11), ",") + `]}}`
	cases := []struct {
		name, msg, reason string
		attrs             map[string]string
	}{
		{"empty", ``, "empty", nil},
		{"not json", `not json`, "not a JSON object", nil},
		{"truncated json", `{"id":`, "not valid JSON", nil},
		{"array", `[1,2]`, "not a JSON object", nil},
		{"trailing data", valid + ` {}`, "after the JSON object", nil},
		{"invalid utf-8 in data", `{"id":"j","project":"p","type":"a.b","timestamp":"2026-11-28T10:00:00Z","data":{"x":"` + "\xff\xfe" + `"}}`, "not valid UTF-8", nil},
		{"missing id", `{"project":"p","type":"a.b","timestamp":"2026-11-28T10:00:00Z","data":{}}`, "id is missing", nil},
		{"id pattern", `{"id":"a b","project":"p","type":"a.b","timestamp":"2026-11-28T10:00:00Z","data":{}}`, "id \"a b\" must match", nil},
		{"id too long", `{"id":"` + strings.Repeat("a", 129) + `","project":"p","type":"a.b","timestamp":"2026-11-28T10:00:00Z","data":{}}`, "id ", nil},
		{"id not string", `{"id":7,"project":"p","type":"a.b","timestamp":"2026-11-28T10:00:00Z","data":{}}`, "must be string", nil},
		{"missing project", `{"id":"j","type":"a.b","timestamp":"2026-11-28T10:00:00Z","data":{}}`, "project is missing", nil},
		{"project pattern", `{"id":"j","project":"Acme","type":"a.b","timestamp":"2026-11-28T10:00:00Z","data":{}}`, "project \"Acme\" must match", nil},
		{"missing type", `{"id":"j","project":"p","timestamp":"2026-11-28T10:00:00Z","data":{}}`, "type is missing", nil},
		{"type pattern", `{"id":"j","project":"p","type":"succeeded","timestamp":"2026-11-28T10:00:00Z","data":{}}`, "type \"succeeded\" must match", nil},
		{"missing timestamp", `{"id":"j","project":"p","type":"a.b","data":{}}`, "timestamp is missing", nil},
		{"bad timestamp", `{"id":"j","project":"p","type":"a.b","timestamp":"yesterday","data":{}}`, "not RFC 3339", nil},
		{"missing data", `{"id":"j","project":"p","type":"a.b","timestamp":"2026-11-28T10:00:00Z"}`, "data is missing", nil},
		{"null data", `{"id":"j","project":"p","type":"a.b","timestamp":"2026-11-28T10:00:00Z","data":null}`, "data is missing", nil},
		{"data not object", `{"id":"j","project":"p","type":"a.b","timestamp":"2026-11-28T10:00:00Z","data":"x"}`, "data must be a JSON object", nil},
		{"data oversized", big, "data is", nil},
		{"config not object", `{"id":"j","project":"p","type":"a.b","timestamp":"2026-11-28T10:00:00Z","data":{},"webhook_config":[]}`, "webhook_config must be an object", nil},
		{"no uris", `{"id":"j","project":"p","type":"a.b","timestamp":"2026-11-28T10:00:00Z","data":{},"webhook_config":{"uris":[]}}`, "1 to 10", nil},
		{"eleven uris", elevenURIs, "1 to 10", nil},
		{"relative uri", `{"id":"j","project":"p","type":"a.b","timestamp":"2026-11-28T10:00:00Z","data":{},"webhook_config":{"uris":["/x"]}}`, "uris[0]: not an absolute URL", nil},
		{"ftp uri", `{"id":"j","project":"p","type":"a.b","timestamp":"2026-11-28T10:00:00Z","data":{},"webhook_config":{"uris":["ftp://x.example/"]}}`, "scheme", nil},
		{"userinfo uri", `{"id":"j","project":"p","type":"a.b","timestamp":"2026-11-28T10:00:00Z","data":{},"webhook_config":{"uris":["https://u:p@x.example/"]}}`, "user-info", nil},
		{"metadata oversized", bigMeta, "user_metadata is", nil},
		{"attribute disagrees", valid, "attribute type", map[string]string{"type": "batch.failed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.msg), c.attrs)
			var inv *Invalid
			if !errors.As(err, &inv) {
				t.Fatalf("err = %v, want *Invalid", err)
			}
			if !strings.Contains(inv.Reason, c.reason) {
				t.Errorf("reason %q does not contain %q", inv.Reason, c.reason)
			}
		})
	}
}

func TestMessageID_IsDeterministicPerProjectAndEvent(t *testing.T) {
	a := MessageID("acme", "job-1")
	if a != MessageID("acme", "job-1") {
		t.Error("not deterministic")
	}
	if len(a) != len("msg_")+26 || !strings.HasPrefix(a, "msg_") {
		t.Errorf("%q is not msg_ + 26 chars", a)
	}
	if a == MessageID("other", "job-1") || a == MessageID("acme", "job-2") {
		t.Error("different events share an id")
	}
	// The separator keeps ("ab","c") and ("a","bc") apart.
	if DeliveryID("p", "ab", "c") == DeliveryID("p", "a", "bc") {
		t.Error("delivery ids collide across part boundaries")
	}
}

// FuzzParse feeds arbitrary message data to Parse. Nothing may panic; an accepted event must
// render a JSON body that says what the event says, and rebuilding a message from the event's
// fields must parse to the same event and the same body (no field is read one way and repeated
// another). Seeds beyond these are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(valid))
	f.Add([]byte(`{"id":"j","project":"p","type":"a.b","timestamp":"2026-11-28T10:00:00Z","data":{},"webhook_config":{"uris":["https://x"]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Parse(data, nil)
		if err != nil {
			var inv *Invalid
			if !errors.As(err, &inv) || inv.Reason == "" {
				t.Fatalf("error %v is not an *Invalid with a reason", err)
			}
			return
		}
		body := e.Body()
		if !utf8.Valid(body) {
			t.Fatalf("valid event renders invalid UTF-8 %q", body)
		}
		var rendered struct {
			Type, Version, Timestamp string
			Data                     json.RawMessage
			UserMetadata             json.RawMessage `json:"user_metadata"`
		}
		if err := json.Unmarshal(body, &rendered); err != nil {
			t.Fatalf("valid event renders invalid JSON %s: %v", body, err)
		}
		if rendered.Type != e.Type || rendered.Version != "v1" || rendered.Timestamp != e.TimestampText ||
			string(rendered.Data) != string(e.Data) || e.WebhookConfig != nil && string(rendered.UserMetadata) != string(e.WebhookConfig.UserMetadata) {
			t.Fatalf("body %s does not repeat the event %+v", body, e)
		}

		// The same event, rebuilt from its fields, with the attributes a job system sets.
		rebuilt := map[string]any{"id": e.ID, "project": e.Project, "type": e.Type, "timestamp": e.TimestampText, "data": e.Data}
		if e.WebhookConfig != nil {
			cfg := map[string]any{"uris": e.WebhookConfig.URIs}
			if e.WebhookConfig.UserMetadata != nil {
				cfg["user_metadata"] = e.WebhookConfig.UserMetadata
			}
			rebuilt["webhook_config"] = cfg
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // as a job system's encoder may; "<" must stay "<" in data
		if err := enc.Encode(rebuilt); err != nil {
			t.Fatal(err)
		}
		msg := buf.Bytes()
		again, err := Parse(msg, map[string]string{"type": e.Type, "project": e.Project})
		if err != nil {
			t.Fatalf("the event rebuilt from its fields is refused: %v\n%s", err, msg)
		}
		if again.ID != e.ID || again.Project != e.Project || again.Type != e.Type || again.TimestampText != e.TimestampText ||
			!again.Timestamp.Equal(e.Timestamp) || !bytes.Equal(again.Body(), body) ||
			MessageID(again.Project, again.ID) != MessageID(e.Project, e.ID) {
			t.Fatalf("re-parse differs:\n first %+v\n again %+v", e, again)
		}
		if (e.WebhookConfig == nil) != (again.WebhookConfig == nil) ||
			e.WebhookConfig != nil && !slices.Equal(e.WebhookConfig.URIs, again.WebhookConfig.URIs) {
			t.Fatalf("webhook_config differs: %+v vs %+v", e.WebhookConfig, again.WebhookConfig)
		}
	})
}

func TestCarried_NamesTheValidIDAndProjectOfAPoisonEvent(t *testing.T) {
	cases := []struct{ data, id, project string }{
		{`{"id":"poison-1","project":"demo","type":"batch.succeeded","data":{}}`, "poison-1", "demo"}, // no timestamp
		{`{"id":"bad id!","project":"demo"}`, "", "demo"},
		{`{"id":7,"project":"ACME"}`, "", ""},
		{`{"id":"__x__","project":"demo"}`, "", "demo"}, // Firestore reserves the id
		{`{{{`, "", ""},
		{`[1]`, "", ""},
	}
	for _, c := range cases {
		if id, project := Carried([]byte(c.data)); id != c.id || project != c.project {
			t.Errorf("Carried(%s) = %q, %q; want %q, %q", c.data, id, project, c.id, c.project)
		}
	}
}
