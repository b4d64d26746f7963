package contracts_test

import (
	"encoding/json"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jobhooks/jobhooks/shared/contracts"
)

// This file checks openapi.json on its own: its structure and references. That the running API
// serves exactly what it documents is shared/restapi's openapi_test.go.

func openAPI(t *testing.T) map[string]any {
	t.Helper()
	return readJSON(t, contracts.Files(), "openapi.json")
}

var methodNames = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func TestOpenAPI_EveryOperationIsComplete(t *testing.T) {
	doc := openAPI(t)
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v, want 3.1.0", doc["openapi"])
	}
	params := doc["components"].(map[string]any)["parameters"].(map[string]any)
	resolve := func(p any) map[string]any {
		m := p.(map[string]any)
		if r, ok := m["$ref"].(string); ok {
			return params[strings.TrimPrefix(r, "#/components/parameters/")].(map[string]any)
		}
		return m
	}
	ids := map[string]string{}
	wildcard := regexp.MustCompile(`\{([^}]+)\}`)
	for path, item := range doc["paths"].(map[string]any) {
		item := item.(map[string]any)
		var shared []any
		if p, ok := item["parameters"].([]any); ok {
			shared = p
		}
		for _, method := range methodNames {
			op, ok := item[method].(map[string]any)
			if !ok {
				continue
			}
			where := strings.ToUpper(method) + " " + path
			id, _ := op["operationId"].(string)
			if id == "" || ids[id] != "" {
				t.Errorf("%s: operationId %q is missing or also used by %s", where, id, ids[id])
			}
			ids[id] = where
			if op["summary"] == nil || op["tags"] == nil {
				t.Errorf("%s: needs a summary and a tag", where)
			}
			// Every wildcard of the path is a required path parameter, and nothing else is.
			var declared []string
			for _, p := range append(slices.Clone(shared), anySlice(op["parameters"])...) {
				p := resolve(p)
				if p["in"] == "path" {
					declared = append(declared, p["name"].(string))
					if p["required"] != true {
						t.Errorf("%s: path parameter %v is not required", where, p["name"])
					}
				}
			}
			var want []string
			for _, m := range wildcard.FindAllStringSubmatch(path, -1) {
				want = append(want, m[1])
			}
			slices.Sort(declared)
			slices.Sort(want)
			if !slices.Equal(declared, want) {
				t.Errorf("%s: path parameters %v, want %v", where, declared, want)
			}
			// 200 and the errors every method can answer (no key, a backend failure or timeout).
			responses := op["responses"].(map[string]any)
			for _, code := range []string{"200", "401", "500", "503"} {
				if responses[code] == nil {
					t.Errorf("%s: does not document %s", where, code)
				}
			}
			for code, r := range responses {
				r := r.(map[string]any)
				if ref, ok := r["$ref"].(string); ok && !strings.HasSuffix(ref, "/"+errorResponse[code]) {
					t.Errorf("%s: %s answers %s", where, code, ref)
				}
			}
		}
	}
	if len(ids) < 25 {
		t.Errorf("only %d operations documented", len(ids))
	}
}

// errorResponse is the components/responses entry of each error status.
var errorResponse = map[string]string{
	"400": "InvalidArgument", "401": "Unauthenticated", "403": "PermissionDenied", "404": "NotFound", "409": "AlreadyExists",
	"429": "ResourceExhausted", "500": "Internal", "503": "Unavailable",
}

func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// TestOpenAPI_EveryReferenceResolvesAndEveryComponentIsUsed compiles every schema of the document
// and walks every $ref: a dangling reference or a dead component fails.
func TestOpenAPI_EveryReferenceResolvesAndEveryComponentIsUsed(t *testing.T) {
	raw, _ := fs.ReadFile(contracts.Files(), "openapi.json")
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"].(string); ok {
				if _, ok := pointer(doc, strings.TrimPrefix(r, "#")); !strings.HasPrefix(r, "#/") || !ok {
					t.Errorf("$ref %q does not resolve", r)
				}
				used[r] = true
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	components := doc.(map[string]any)["components"].(map[string]any)
	for _, kind := range []string{"schemas", "responses", "parameters"} {
		for name := range components[kind].(map[string]any) {
			ref := "#/components/" + kind + "/" + name
			if !used[ref] {
				t.Errorf("%s is never used", ref)
			}
			if kind == "schemas" {
				if _, err := contracts.Schema("openapi.json" + ref); err != nil {
					t.Errorf("%s does not compile: %v", ref, err)
				}
			}
		}
	}
	schemes := components["securitySchemes"].(map[string]any)
	header := schemes["ApiKeyHeader"].(map[string]any)
	if header["in"] != "header" || header["name"] != "x-goog-api-key" {
		t.Errorf("security schemes %v", schemes)
	}
	// A key in the query string is refused (shared/restapi/README.md, The management API): the
	// document must not offer it.
	for name, s := range schemes {
		if s.(map[string]any)["in"] == "query" {
			t.Errorf("security scheme %s puts a credential in the query string", name)
		}
	}
}

// pointer resolves a JSON pointer (RFC 6901) in doc.
func pointer(doc any, ptr string) (any, bool) {
	if ptr == "" {
		return doc, true
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := doc.(map[string]any)
		if !ok {
			return nil, false
		}
		if doc, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return doc, true
}

// TestOpenAPI_ErrorResponsesFixTheirCodeAndStatus shows the error schemas check the google.rpc
// status against the HTTP status, so a response test catches a 404 that says INTERNAL.
func TestOpenAPI_ErrorResponsesFixTheirCodeAndStatus(t *testing.T) {
	for _, c := range []struct {
		response, body string
		valid          bool
	}{
		{"NotFound", `{"error":{"code":404,"message":"projects/a/webhooks/w was not found","status":"NOT_FOUND"}}`, true},
		{"NotFound", `{"error":{"code":404,"message":"x","status":"INTERNAL"}}`, false},
		{"NotFound", `{"error":{"code":500,"message":"x","status":"NOT_FOUND"}}`, false},
		{"NotFound", `{"error":{"code":404,"status":"NOT_FOUND"}}`, false},
		{"InvalidArgument", `{"error":{"code":400,"message":"x","status":"FAILED_PRECONDITION"}}`, true},
		{"InvalidArgument", `{"error":{"code":400,"message":"x","status":"INVALID_ARGUMENT"}}`, true},
		{"Unavailable", `{"error":{"code":503,"message":"x","status":"UNAVAILABLE"}}`, true},
	} {
		err := validate(t, "openapi.json#/components/responses/"+c.response+"/content/application~1json/schema", []byte(c.body))
		if (err == nil) != c.valid {
			t.Errorf("%s %s: valid=%v, want %v (%v)", c.response, c.body, err == nil, c.valid, err)
		}
	}
}
