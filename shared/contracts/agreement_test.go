package contracts_test

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/event"
)

// Where the job-event schema and Dispatch (event.Parse) may disagree, and why. Each is a rule
// JSON Schema cannot state, or a leniency of Go's parsers that the contract does not promise; a
// producer that follows the schema is refused only for the byte limits.
const (
	// Byte limits: data ≤ 64 KiB and user_metadata ≤ 16 KiB compacted, the message ≤ 128 KiB,
	// a URI ≤ 2048 bytes. JSON Schema counts members and characters, not serialized bytes.
	exceptSize = "byte limit"
	// encoding/json matches member names case-insensitively: {"ID": ...} is read as id.
	exceptMemberCase = "member name case"
	// time.Parse also takes a comma before the fraction and a ±24:00 offset, neither RFC 3339.
	exceptTimestamp = "lenient timestamp"
	// net/url takes an empty host name before a port (https://:80/) and a few other oddities
	// the schema's pattern refuses.
	exceptURI = "lenient URI"
)

const ts = `"timestamp":"2026-11-28T10:00:00Z"`

// ev builds a valid job event and changes it: `"name":value` replaces or adds a member,
// "-name" removes one.
func ev(changes ...string) string {
	fields := []string{`"id":"job-1"`, `"project":"acme"`, `"type":"batch.succeeded"`, ts, `"data":{"id":"batches/1","output_file_uri":"gs://b/1.jsonl"}`}
	for _, m := range changes {
		name, _, _ := strings.Cut(strings.TrimPrefix(m, "-"), ":")
		name = `"` + strings.Trim(name, `"`) + `":`
		kept := fields[:0]
		for _, f := range fields {
			if !strings.HasPrefix(f, name) {
				kept = append(kept, f)
			}
		}
		fields = kept
		if !strings.HasPrefix(m, "-") {
			fields = append(fields, m)
		}
	}
	return "{" + strings.Join(fields, ",") + "}"
}

func cfg(uris ...string) string {
	for i, u := range uris {
		if !strings.HasPrefix(u, "[") && !strings.HasPrefix(u, "{") {
			uris[i] = strconv.Quote(u)
		}
	}
	return `"webhook_config":{"uris":[` + strings.Join(uris, ",") + `]}`
}

func quoted(s string) string { return strconv.Quote(s) }

var agreement = []struct {
	name   string
	event  string
	valid  bool   // Dispatch's verdict
	differ string // why the schema's verdict differs; "" when it agrees
}{
	{"minimal", `{"id":"j","project":"p","type":"a.b",` + ts + `,"data":{}}`, true, ""},
	{"catalog event", ev(), true, ""},
	{"id of 128 characters", ev(`"id":` + quoted(strings.Repeat("a", 128))), true, ""},
	{"id with _ and -", ev(`"id":"Job_2026-11-28_x"`), true, ""},
	{"project of 63 characters", ev(`"project":` + quoted("a"+strings.Repeat("b1-", 20)+"xy")), true, ""},
	{"type of three words", ev(`"type":"render.frames_1.done"`), true, ""},
	{"type of 256 characters", ev(`"type":` + quoted("a."+strings.Repeat("b", 254))), true, ""},
	{"timestamp with fraction and offset", ev(`"timestamp":"2026-11-28T10:00:00.123456789+05:30"`), true, ""},
	{"timestamp -00:00", ev(`"timestamp":"2026-11-28T10:00:00-00:00"`), true, ""},
	{"timestamp on a leap day", ev(`"timestamp":"2024-02-29T23:59:59Z"`), true, ""},
	{"unknown member ignored", ev(`"priority":"high"`), true, ""},
	{"nested data", ev(`"type":"render.done"`, `"data":{"id":"x","parts":[{"n":1},{"n":2}],"ok":true}`), true, ""},
	{"webhook_config null", ev(`"webhook_config":null`), true, ""},
	{"one URI", ev(cfg("https://app.example.com/jobs/done")), true, ""},
	{"ten URIs", ev(cfg("https://a.example/0", "https://a.example/1", "https://a.example/2", "https://a.example/3", "https://a.example/4",
		"https://a.example/5", "https://a.example/6", "https://a.example/7", "https://a.example/8", "https://a.example/9")), true, ""},
	{"http URI", ev(cfg("http://127.0.0.1:8080/hook")), true, ""},
	{"upper-case scheme", ev(cfg("HTTPS://a.example/x")), true, ""},
	{"URI with port, query and fragment", ev(cfg("https://a.example:8443/p/a%20th?x=1&y=2#frag")), true, ""},
	{"IPv6 URI", ev(cfg("https://[2001:db8::1]:443/h")), true, ""},
	{"URI without path", ev(cfg("https://a.example")), true, ""},
	{"URI of 2048 characters", ev(cfg("https://a.example/" + strings.Repeat("p", 2048-18))), true, ""},
	{"user_metadata", ev(`"webhook_config":{"uris":["https://a.example/"],"user_metadata":{"order":42,"tags":["a"]}}`), true, ""},
	{"user_metadata null", ev(`"webhook_config":{"uris":["https://a.example/"],"user_metadata":null}`), true, ""},
	{"unknown webhook_config member ignored", ev(`"webhook_config":{"uris":["https://a.example/"],"retries":3}`), true, ""},

	{"array", `[1,2]`, false, ""},
	{"string", `"event"`, false, ""},
	{"null", `null`, false, ""},
	{"id missing", ev("-id"), false, ""},
	{"project missing", ev("-project"), false, ""},
	{"type missing", ev("-type"), false, ""},
	{"timestamp missing", ev("-timestamp"), false, ""},
	{"data missing", ev("-data"), false, ""},
	{"id empty", ev(`"id":""`), false, ""},
	{"id of 129 characters", ev(`"id":` + quoted(strings.Repeat("a", 129))), false, ""},
	{"id with a space", ev(`"id":"job 1"`), false, ""},
	{"id with a dot", ev(`"id":"job.1"`), false, ""},
	{"id a number", ev(`"id":7`), false, ""},
	{"id null", ev(`"id":null`), false, ""},
	{"project upper-case", ev(`"project":"Acme"`), false, ""},
	{"project starting with a digit", ev(`"project":"1acme"`), false, ""},
	{"project of 64 characters", ev(`"project":` + quoted(strings.Repeat("a", 64))), false, ""},
	{"project with _", ev(`"project":"ac_me"`), false, ""},
	{"type of one word", ev(`"type":"succeeded"`), false, ""},
	{"type upper-case", ev(`"type":"Batch.succeeded"`), false, ""},
	{"type ending in a dot", ev(`"type":"batch."`), false, ""},
	{"type with an empty word", ev(`"type":"batch..succeeded"`), false, ""},
	{"type with a hyphen", ev(`"type":"batch-job.done"`), false, ""},
	{"type of 257 characters", ev(`"type":` + quoted("a."+strings.Repeat("b", 255))), false, ""},
	{"timestamp words", ev(`"timestamp":"yesterday"`), false, ""},
	{"timestamp a date", ev(`"timestamp":"2026-11-28"`), false, ""},
	{"timestamp without zone", ev(`"timestamp":"2026-11-28T10:00:00"`), false, ""},
	{"timestamp with a space", ev(`"timestamp":"2026-11-28 10:00:00Z"`), false, ""},
	{"timestamp lower-case t", ev(`"timestamp":"2026-11-28t10:00:00z"`), false, ""},
	{"timestamp month 13", ev(`"timestamp":"2026-13-28T10:00:00Z"`), false, ""},
	{"timestamp 29 February 2026", ev(`"timestamp":"2026-02-29T10:00:00Z"`), false, ""},
	{"timestamp hour 24", ev(`"timestamp":"2026-11-28T24:00:00Z"`), false, ""},
	{"timestamp leap second", ev(`"timestamp":"2016-12-31T23:59:60Z"`), false, ""},
	{"timestamp offset without colon", ev(`"timestamp":"2026-11-28T10:00:00+0100"`), false, ""},
	{"timestamp Unix seconds", ev(`"timestamp":1795860000`), false, ""},
	{"data null", ev(`"data":null`), false, ""},
	{"data a string", ev(`"data":"x"`), false, ""},
	{"data an array", ev(`"data":[1]`), false, ""},
	{"webhook_config an array", ev(`"webhook_config":[]`), false, ""},
	{"webhook_config without uris", ev(`"webhook_config":{}`), false, ""},
	{"uris empty", ev(cfg()), false, ""},
	{"uris null", ev(`"webhook_config":{"uris":null}`), false, ""},
	{"uris a string", ev(`"webhook_config":{"uris":"https://a.example/"}`), false, ""},
	{"eleven URIs", ev(cfg("https://a.example/0", "https://a.example/1", "https://a.example/2", "https://a.example/3", "https://a.example/4",
		"https://a.example/5", "https://a.example/6", "https://a.example/7", "https://a.example/8", "https://a.example/9", "https://a.example/10")), false, ""},
	{"a URI twice", ev(cfg("https://a.example/", "https://a.example/")), false, ""},
	{"relative URI", ev(cfg("/jobs/done")), false, ""},
	{"ftp URI", ev(cfg("ftp://a.example/")), false, ""},
	{"URI with user-info", ev(cfg("https://u:p@a.example/")), false, ""},
	{"URI with an empty user-info", ev(cfg("https://@a.example/")), false, ""},
	{"URI without host", ev(cfg("https:///x")), false, ""},
	{"URI without //", ev(cfg("https:a.example")), false, ""},
	{"URI with a space in the host", ev(cfg("https://a b.example/")), false, ""},
	{"URI with a bad port", ev(cfg("https://a.example:http/")), false, ""},
	{"URI with a control character", ev(`"webhook_config":{"uris":["https://a.example/\u0007"]}`), false, ""},
	{"URI of 2049 characters", ev(cfg("https://a.example/" + strings.Repeat("p", 2049-18))), false, ""},
	{"URI a number", ev(`"webhook_config":{"uris":[7]}`), false, ""},
	{"user_metadata an array", ev(`"webhook_config":{"uris":["https://a.example/"],"user_metadata":[1]}`), false, ""},
	{"user_metadata a string", ev(`"webhook_config":{"uris":["https://a.example/"],"user_metadata":"x"}`), false, ""},

	{"data over 64 KiB", ev(`"data":{"x":` + quoted(strings.Repeat("a", event.MaxData)) + `}`), false, exceptSize},
	{"user_metadata over 16 KiB", ev(`"webhook_config":{"uris":["https://a.example/"],"user_metadata":{"x":` + quoted(strings.Repeat("a", event.MaxUserMetadata)) + `}}`), false, exceptSize},
	{"message over 128 KiB", ev(`"padding":` + quoted(strings.Repeat("a", event.MaxEvent))), false, exceptSize},
	{"URI of 2048 characters but more bytes", ev(cfg("https://a.example/" + strings.Repeat("é", 2048-18))), false, exceptSize},
	{"member name in another case", ev("-id", `"ID":"job-1"`), true, exceptMemberCase},
	{"timestamp with a comma", ev(`"timestamp":"2026-11-28T10:00:00,5Z"`), true, exceptTimestamp},
	{"timestamp offset +24:00", ev(`"timestamp":"2026-11-28T10:00:00+24:00"`), true, exceptTimestamp},
	{"URI with an empty host name", ev(cfg("https://:8443/x")), true, exceptURI},
}

// TestJobEventSchema_AgreesWithDispatch runs each event of the table through event.Parse (what
// Dispatch applies) and the job-event schema: both accept or both refuse, except where the row
// names one of the exceptions above, which must then really apply.
func TestJobEventSchema_AgreesWithDispatch(t *testing.T) {
	for _, c := range agreement {
		t.Run(c.name, func(t *testing.T) {
			_, parseErr := event.Parse([]byte(c.event), nil)
			schemaErr := validate(t, "schemas/job-event.json", []byte(c.event))
			if (parseErr == nil) != c.valid {
				t.Fatalf("event.Parse: %v; the table says valid=%v", parseErr, c.valid)
			}
			schemaValid := schemaErr == nil
			switch {
			case c.differ == "" && schemaValid != c.valid:
				t.Errorf("the schema disagrees with Dispatch (Parse: %v; schema: %v)", parseErr, schemaErr)
			case c.differ != "" && schemaValid == c.valid:
				t.Errorf("listed as an exception (%s), yet the schema agrees: move it to the agreeing rows", c.differ)
			case c.differ != "" && exception(c.event) != c.differ:
				t.Errorf("listed as %q; exception() says %q", c.differ, exception(c.event))
			}
			if parseErr == nil && schemaValid {
				e, _ := event.Parse([]byte(c.event), nil)
				checkPayload(t, "its body", e.Body())
			}
		})
	}
}

// exception names the documented exception that explains a disagreement about raw, or "".
func exception(raw string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(raw), &m) != nil {
		return ""
	}
	compactLen := func(r json.RawMessage) int {
		var b bytes.Buffer
		_ = json.Compact(&b, r)
		return b.Len()
	}
	var wc struct {
		URIs         []string        `json:"uris"`
		UserMetadata json.RawMessage `json:"user_metadata"`
	}
	_ = json.Unmarshal(m["webhook_config"], &wc)
	if len(raw) > event.MaxEvent || compactLen(m["data"]) > event.MaxData || compactLen(wc.UserMetadata) > event.MaxUserMetadata {
		return exceptSize
	}
	for _, u := range wc.URIs {
		if len(u) > event.MaxURILength && len([]rune(u)) <= event.MaxURILength {
			return exceptSize
		}
	}
	for name := range m {
		for _, f := range []string{"id", "project", "type", "timestamp", "data", "webhook_config"} {
			if name != f && strings.EqualFold(name, f) {
				return exceptMemberCase
			}
		}
	}
	var stamp string
	if json.Unmarshal(m["timestamp"], &stamp) == nil {
		_, err := time.Parse(time.RFC3339Nano, stamp)
		if err == nil && !rfc3339.MatchString(stamp) || strings.HasSuffix(stamp, "+24:00") || strings.HasSuffix(stamp, "-24:00") {
			return exceptTimestamp
		}
	}
	for _, u := range wc.URIs {
		if strings.Contains(u, "://:") {
			return exceptURI
		}
	}
	return ""
}

// rfc3339 is the timestamp pattern of schemas/fields.json.
var rfc3339 = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-5][0-9](\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$`)

// TestGoLiterals_EveryEventInTheRepositoryIsJudgedAlike finds the job events and payloads
// written as string literals anywhere in the module's Go files (tests publish dozens, valid and
// poison): Dispatch and the schema must judge each job event alike, and every payload must be
// valid.
func TestGoLiterals_EveryEventInTheRepositoryIsJudgedAlike(t *testing.T) {
	root := repoRoot(t)
	events, payloads := 0, 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil // not this test's business
		}
		rel, _ := filepath.Rel(root, path)
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil || !strings.HasPrefix(strings.TrimSpace(s), "{") {
				return true
			}
			where := rel + ": " + truncate(s)
			switch kind([]byte(s)) {
			case "event":
				events++
				_, parseErr := event.Parse([]byte(s), nil)
				schemaErr := validate(t, "schemas/job-event.json", []byte(s))
				if (parseErr == nil) != (schemaErr == nil) {
					if why := exception(s); why != "" {
						t.Logf("%s: judged differently, a documented exception (%s)", where, why)
					} else {
						t.Errorf("%s: Dispatch says %v, the schema says %v", where, parseErr, schemaErr)
					}
				}
			case "payload":
				payloads++
				if err := validate(t, "schemas/payload.json", []byte(s)); err != nil {
					t.Errorf("%s: not a valid payload: %v", where, err)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The repository's tests hold dozens; far fewer means the search lost track of them.
	if events < 10 || payloads < 5 {
		t.Errorf("found %d job events and %d payloads in Go literals; expected many more", events, payloads)
	}
	t.Logf("checked %d job events and %d payloads written in Go", events, payloads)
}

func truncate(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
