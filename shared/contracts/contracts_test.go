package contracts_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/jobhooks/jobhooks/shared/contracts"
	"github.com/jobhooks/jobhooks/shared/event"
)

const draft2020 = "https://json-schema.org/draft/2020-12/schema"

// compiled holds the schemas compiled so far, by path (the tests do not run in parallel).
var compiled = map[string]*jsonschema.Schema{}

// schema returns the compiled schema at path ("schemas/job-event.json").
func schema(t *testing.T, path string) *jsonschema.Schema {
	t.Helper()
	if s, ok := compiled[path]; ok {
		return s
	}
	s, err := contracts.Schema(path)
	if err != nil {
		t.Fatalf("compile %s: %v", path, err)
	}
	compiled[path] = s
	return s
}

// validate reports whether raw is valid against the schema at path, with the reason if not.
func validate(t *testing.T, path string, raw []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return schema(t, path).Validate(inst)
}

func readJSON(t *testing.T, fsys fs.FS, path string) map[string]any {
	t.Helper()
	b, err := fs.ReadFile(fsys, path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func TestSchemas_EachNamesItsDraftAndIDAndCompiles(t *testing.T) {
	paths, _ := fs.Glob(contracts.Files(), "schemas/*.json")
	data, _ := fs.Glob(contracts.Files(), "schemas/data/*.json")
	paths = append(paths, data...)
	if len(paths) < 15 {
		t.Fatalf("only %d schemas found: %v", len(paths), paths)
	}
	for _, p := range paths {
		m := readJSON(t, contracts.Files(), p)
		if m["$schema"] != draft2020 {
			t.Errorf("%s: $schema = %v, want %s", p, m["$schema"], draft2020)
		}
		if m["$id"] != contracts.BaseURL+p {
			t.Errorf("%s: $id = %v, want %s", p, m["$id"], contracts.BaseURL+p)
		}
		if m["title"] == nil || m["description"] == nil {
			t.Errorf("%s: a schema needs a title and a description", p)
		}
		schema(t, p) // resolves every $ref
	}
}

// TestSchemas_FollowTheEventPackage keeps the catalog and the limits of the schemas equal to
// shared/event, the one implementation of shared/jobevents/README.md, The job event.
func TestSchemas_FollowTheEventPackage(t *testing.T) {
	data, _ := fs.Glob(contracts.Files(), "schemas/data/*.json")
	var types []string
	for _, p := range data {
		types = append(types, strings.TrimSuffix(filepath.Base(p), ".json"))
	}
	want := append(slices.Clone(event.Catalog), event.Ping)
	slices.Sort(want)
	if !slices.Equal(types, want) {
		t.Errorf("schemas/data holds %v; the catalog and the ping are %v", types, want)
	}
	enum := func(path string) []string {
		var out []string
		for _, v := range readJSON(t, contracts.Files(), path)["properties"].(map[string]any)["type"].(map[string]any)["enum"].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	if got := enum("schemas/catalog-event.json"); !slices.Equal(got, event.Catalog) {
		t.Errorf("catalog-event.json types %v, want %v", got, event.Catalog)
	}
	if got := enum("schemas/catalog-payload.json"); !slices.Equal(got, append(slices.Clone(event.Catalog), event.Ping)) {
		t.Errorf("catalog-payload.json types %v, want the catalog and %s", got, event.Ping)
	}

	job := readJSON(t, contracts.Files(), "schemas/job-event.json")
	uris := job["properties"].(map[string]any)["webhook_config"].(map[string]any)["properties"].(map[string]any)["uris"].(map[string]any)
	if uris["maxItems"] != float64(event.MaxURIs) {
		t.Errorf("uris maxItems = %v, want %d", uris["maxItems"], event.MaxURIs)
	}
	defs := readJSON(t, contracts.Files(), "schemas/fields.json")["$defs"].(map[string]any)
	if got := defs["webhook_uri"].(map[string]any)["maxLength"]; got != float64(event.MaxURILength) {
		t.Errorf("webhook_uri maxLength = %v, want %d", got, event.MaxURILength)
	}
	// The limits JSON Schema cannot express are stated in the description, with the numbers Dispatch uses.
	desc := job["description"].(string)
	for _, n := range []int{event.MaxData, event.MaxUserMetadata, event.MaxEvent} {
		if s := thousands(n); !strings.Contains(desc, s+" bytes") {
			t.Errorf("job-event.json's description does not state the limit %s bytes", s)
		}
	}
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// TestExamples_ValidateAndDispatchAcceptsThem checks the curated examples/: every job event is
// valid for the schema and for Dispatch, and the body Dispatch renders from it is a valid
// payload; every payload is valid. Catalog types are also checked against their data schema.
func TestExamples_ValidateAndDispatchAcceptsThem(t *testing.T) {
	events, _ := fs.Glob(contracts.Files(), "examples/job-event.*.json")
	payloads, _ := fs.Glob(contracts.Files(), "examples/payload.*.json")
	all, _ := fs.Glob(contracts.Files(), "examples/*")
	if len(events) < 5 || len(payloads) < 3 || len(all) != len(events)+len(payloads) {
		t.Fatalf("examples/ must hold job-event.*.json and payload.*.json files only; found %v", all)
	}
	for _, p := range events {
		raw, _ := fs.ReadFile(contracts.Files(), p)
		checkEvent(t, p, raw)
	}
	for _, p := range payloads {
		raw, _ := fs.ReadFile(contracts.Files(), p)
		checkPayload(t, p, raw)
	}
}

// checkEvent requires a valid job event: schema, Dispatch, its rendered body, and its catalog
// data schema when its type is in the catalog.
func checkEvent(t *testing.T, where string, raw []byte) {
	t.Helper()
	if err := validate(t, "schemas/job-event.json", raw); err != nil {
		t.Errorf("%s: not a valid job event: %v", where, err)
	}
	e, err := event.Parse(raw, nil)
	if err != nil {
		t.Errorf("%s: Dispatch refuses it: %v", where, err)
		return
	}
	if slices.Contains(event.Catalog, e.Type) {
		if err := validate(t, "schemas/catalog-event.json", raw); err != nil {
			t.Errorf("%s: not a valid %s event: %v", where, e.Type, err)
		}
	}
	checkPayload(t, where+" (rendered body)", e.Body())
}

func checkPayload(t *testing.T, where string, raw []byte) {
	t.Helper()
	if err := validate(t, "schemas/payload.json", raw); err != nil {
		t.Errorf("%s: not a valid payload: %v", where, err)
	}
	var p struct{ Type string }
	_ = json.Unmarshal(raw, &p)
	if slices.Contains(event.Catalog, p.Type) || p.Type == event.Ping {
		if err := validate(t, "schemas/catalog-payload.json", raw); err != nil {
			t.Errorf("%s: not a valid %s payload: %v", where, p.Type, err)
		}
	}
}

// TestFixtures_SigningVectorBodiesAreValidPayloads checks the bodies of the published signature
// test vectors, which receivers in every language use.
func TestFixtures_SigningVectorBodiesAreValidPayloads(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "shared", "signing", "testdata", "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Cases []struct {
			Name string `json:"name"`
			Body string `json:"body"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) == 0 {
		t.Fatal("vectors.json has no cases")
	}
	for _, c := range v.Cases {
		checkPayload(t, "vectors.json "+c.Name, []byte(c.Body))
	}
}

// kind tells a job event ("event") from a payload ("payload") by its members; "" for neither.
// A job event needs three of its five required members, so that poison events in tests (one
// member missing or wrong) are recognised too.
func kind(raw []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	if _, ok := m["version"]; ok {
		if _, ok := m["type"]; ok {
			return "payload"
		}
		return ""
	}
	n := 0
	for _, f := range []string{"id", "project", "type", "timestamp", "data"} {
		if _, ok := m[f]; ok {
			n++
		}
	}
	if n >= 3 && (m["project"] != nil || m["timestamp"] != nil) {
		return "event"
	}
	return ""
}

// repoRoot is the directory of go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
