// Package contracts holds Jobhooks' machine-readable contracts, for job systems, receivers and
// API clients written in any language:
//
//   - schemas/job-event.json: the job event a job system publishes to the job-events topic
//     (shared/jobevents/README.md, The job event), accepting exactly what Dispatch accepts except
//     for byte limits (see its description); schemas/payload.json: the body every endpoint receives
//     (shared/verify/README.md, What a receiver gets); schemas/data/<type>.json: the data of each
//     catalog event type, applied by catalog-event.json and catalog-payload.json;
//     schemas/fields.json: what they share.
//   - openapi.json: the OpenAPI 3.1 document of the management API, both surfaces.
//   - examples/: job events and payloads, checked against the schemas by this package's tests.
//
// The tests hold the contracts to the code: the job-event schema and event.Parse agree on a table
// of events and on every event literal of the repository's tests, every example and fixture
// validates, and shared/restapi's openapi_test.go walks the running API against openapi.json.
//
// The JSON Schemas are draft 2020-12 with formats asserted (date-time, uri): use a validator
// that asserts them, or rely on the patterns, which say the same.
package contracts

import (
	"embed"
	"fmt"
	"io/fs"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// BaseURL prefixes every document's $id: a schema's $id is BaseURL + its path in this directory
// (e.g. BaseURL + "schemas/job-event.json"), which is where the repository serves it raw.
const BaseURL = "https://raw.githubusercontent.com/jobhooks/jobhooks/main/shared/contracts/"

//go:embed openapi.json schemas examples
var files embed.FS

// Files are the contract documents and examples, by their path in this directory.
func Files() fs.FS { return files }

// Compiler returns a JSON Schema compiler that knows every schema and the OpenAPI document
// under their $id and asserts formats. adjust, when not nil, may change a document (decoded
// JSON) before it is added, e.g. to make a test stricter.
func Compiler(adjust func(path string, doc any)) (*jsonschema.Compiler, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	err := fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") || strings.HasPrefix(path, "examples/") {
			return err
		}
		f, err := files.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			return fmt.Errorf("contracts: %s: %w", path, err)
		}
		if adjust != nil {
			adjust(path, doc)
		}
		return c.AddResource(BaseURL+path, doc)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Schema compiles one schema by its path in this directory, with an optional JSON pointer:
// "schemas/job-event.json", "openapi.json#/components/schemas/Webhook".
func Schema(path string) (*jsonschema.Schema, error) {
	c, err := Compiler(nil)
	if err != nil {
		return nil, err
	}
	return c.Compile(BaseURL + path)
}
