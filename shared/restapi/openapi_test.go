package restapi_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/jobhooks/jobhooks/shared/contracts"
	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
	"github.com/jobhooks/jobhooks/shared/logging"
	"github.com/jobhooks/jobhooks/shared/restapi"
)

// The OpenAPI document (shared/contracts/openapi.json) against the running API: the routes it
// documents are exactly those the router serves (restapi.Routes is the router's own table), and
// every route, called with a valid key and a valid request, without a key, with another
// project's key, with a bad body and before the function has its clients, answers a status the
// document lists, with a body its schema accepts. Request bodies are checked against the document
// too. Response schemas are made strict here (no undocumented member) without making the
// published document strict for clients.

// openAPIDoc is the document and its schemas compiled on demand.
type openAPIDoc struct {
	t        *testing.T
	paths    map[string]any
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema
}

func loadOpenAPI(t *testing.T) *openAPIDoc {
	t.Helper()
	raw, err := fs.ReadFile(contracts.Files(), "openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	c, err := contracts.Compiler(func(path string, doc any) {
		if path == "openapi.json" {
			strict(doc.(map[string]any)["components"].(map[string]any)["schemas"])
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return &openAPIDoc{t: t, paths: doc.Paths, compiler: c, schemas: map[string]*jsonschema.Schema{}}
}

// strict forbids undocumented members in every object schema that lists its members.
func strict(v any) {
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v["properties"]; ok {
			if _, set := v["additionalProperties"]; !set {
				v["additionalProperties"] = false
			}
		}
		for _, x := range v {
			strict(x)
		}
	case []any:
		for _, x := range v {
			strict(x)
		}
	}
}

// operation is the document's operation of a route; nil when undocumented.
func (d *openAPIDoc) operation(rt restapi.Route) map[string]any {
	item, _ := d.paths[rt.Path].(map[string]any)
	op, _ := item[strings.ToLower(rt.Method)].(map[string]any)
	return op
}

// schemaAt compiles the schema at a JSON pointer of the document.
func (d *openAPIDoc) schemaAt(ptr string) *jsonschema.Schema {
	d.t.Helper()
	if s, ok := d.schemas[ptr]; ok {
		return s
	}
	var escaped []string
	for _, tok := range strings.Split(ptr, "/") {
		escaped = append(escaped, url.PathEscape(tok))
	}
	s, err := d.compiler.Compile(contracts.BaseURL + "openapi.json#" + strings.Join(escaped, "/"))
	if err != nil {
		d.t.Fatalf("compile %s: %v", ptr, err)
	}
	d.schemas[ptr] = s
	return s
}

// content is the pointer to the JSON schema of a request body or response object at ptr, after
// following a $ref to components.
func (d *openAPIDoc) content(obj map[string]any, ptr string) string {
	if ref, ok := obj["$ref"].(string); ok {
		ptr = strings.TrimPrefix(ref, "#")
	}
	return ptr + "/content/application~1json/schema"
}

func pointerPath(rt restapi.Route) string {
	p := strings.ReplaceAll(strings.ReplaceAll(rt.Path, "~", "~0"), "/", "~1")
	return "/paths/" + p + "/" + strings.ToLower(rt.Method)
}

// check requires status to be documented for the route and the body to validate against it.
func (d *openAPIDoc) check(rt restapi.Route, what string, r response) {
	d.t.Helper()
	op := d.operation(rt)
	if op == nil {
		d.t.Errorf("%s %s is not documented", rt.Method, rt.Path)
		return
	}
	code := strconv.Itoa(r.status)
	resp, ok := op["responses"].(map[string]any)[code].(map[string]any)
	if !ok {
		d.t.Errorf("%s %s (%s) answered %d, which the document does not list: %s", rt.Method, rt.Path, what, r.status, r.body)
		return
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.body))
	if err != nil {
		d.t.Errorf("%s %s (%s): the body is not JSON: %s", rt.Method, rt.Path, what, r.body)
		return
	}
	if err := d.schemaAt(d.content(resp, pointerPath(rt)+"/responses/"+code)).Validate(inst); err != nil {
		d.t.Errorf("%s %s (%s) answered %d with a body the document does not allow: %s\n%v", rt.Method, rt.Path, what, r.status, r.body, err)
	}
}

// checkRequest requires a request body to be one the document allows.
func (d *openAPIDoc) checkRequest(rt restapi.Route, body string) {
	d.t.Helper()
	rb, ok := d.operation(rt)["requestBody"].(map[string]any)
	if !ok {
		d.t.Errorf("%s %s: a request body was sent, but the document describes none", rt.Method, rt.Path)
		return
	}
	inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(body))
	if err := d.schemaAt(d.content(rb, pointerPath(rt)+"/requestBody")).Validate(inst); err != nil {
		d.t.Errorf("%s %s: the test's request %s is not one the document allows: %v", rt.Method, rt.Path, body, err)
	}
}

func TestOpenAPI_DocumentsExactlyTheRoutesTheRouterServes(t *testing.T) {
	doc := loadOpenAPI(t)
	var documented []restapi.Route
	for path, item := range doc.paths {
		for method := range item.(map[string]any) {
			if method != "parameters" && method != "summary" && method != "description" {
				documented = append(documented, restapi.Route{Method: strings.ToUpper(method), Path: path})
			}
		}
	}
	served := restapi.Routes()
	for _, rt := range served {
		if !slices.Contains(documented, rt) {
			t.Errorf("%s %s is served but not documented", rt.Method, rt.Path)
		}
	}
	for _, rt := range documented {
		if !slices.Contains(served, rt) {
			t.Errorf("%s %s is documented but not served", rt.Method, rt.Path)
		}
	}
}

// fill puts values into a route's path template.
func fill(path string, values map[string]string) string {
	for k, v := range values {
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}
	return path
}

func TestOpenAPI_EveryRouteAnswersAsDocumented(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	s, c := env(t, pipelinetest.Options{})
	rcv := pipelinetest.NewReceiver(t, pipelinetest.OK, pipelinetest.Status(404))
	start := s.Clock.Now().Add(-time.Minute)

	exercised := map[restapi.Route]bool{}
	call := func(method, path string, values map[string]string, query, body string) response {
		t.Helper()
		rt := restapi.Route{Method: method, Path: path}
		if body != "" {
			doc.checkRequest(rt, body)
		}
		r := c.do(method, fill(path, values)+query, body)
		doc.check(rt, "a valid request", r)
		if r.status != 200 {
			t.Errorf("%s %s: %d %s, want 200", method, path, r.status, r.body)
		}
		var secret struct {
			New    string `json:"new_signing_secret"`
			Secret string `json:"secret"`
		}
		_ = json.Unmarshal(r.body, &secret)
		watch(secret.New)
		watch(secret.Secret)
		exercised[rt] = true
		return r
	}

	// Surface A, with a delivery that failed once, so that it has an attempt and can be retried.
	const A = "/v1/projects/{project}/webhooks"
	const W = A + "/{webhook}"
	v := map[string]string{"project": "acme", "webhook": "walk"}
	call("POST", A, v, "?webhook_id=walk", `{"url":`+quote(rcv.URL)+`,"subscribed_events":["batch.succeeded"],"request_headers":[{"key":"X-Team","value":"data"}]}`)
	s.Publish(t, jobEvent("acme", "job-walk", "batch.succeeded"), nil)
	v["delivery"] = strings.TrimPrefix(deliveryName("acme", "walk", "job-walk"), "projects/acme/webhooks/walk/deliveries/")
	c.waitDelivery(deliveryName("acme", "walk", "job-walk"), "FAILED")
	var d deliveryA
	if err := json.Unmarshal(call("GET", W+"/deliveries/{delivery}", v, "", "").body, &d); err != nil || len(d.Attempts) != 1 {
		t.Errorf("the delivery has attempts %+v (%v), want one", d.Attempts, err)
	}
	call("GET", A, v, "?page_size=10", "")
	call("GET", W, v, "", "")
	call("PATCH", W, v, "?update_mask=display_name", `{"display_name":"Walk"}`)
	call("POST", W+":ping", v, "", "")
	call("POST", W+":rotateSigningSecret", v, "", `{"revocation_behavior":"REVOKE_PREVIOUS_SECRETS_AFTER_H24"}`)
	call("GET", W+"/deliveries", v, "?state=FAILED", "")
	call("POST", W+"/deliveries/{delivery}:retry", v, "", "")
	call("POST", W+":replay", v, "", `{"start_time":"`+start.UTC().Format(time.RFC3339)+`","end_time":"`+s.Clock.Now().Add(time.Minute).UTC().Format(time.RFC3339)+`"}`)

	// Surface B under both versions.
	for _, version := range []string{"/v1beta", "/v1"} {
		var w struct{ ID string }
		_ = json.Unmarshal(call("POST", version+"/webhooks", nil, "", `{"name":"Walk","uri":`+quote(rcv.URL)+`,"subscribed_events":["video.generated"]}`).body, &w)
		vb := map[string]string{"webhook": w.ID}
		call("GET", version+"/webhooks", nil, "?page_size=10", "")
		call("GET", version+"/webhooks/{webhook}", vb, "", "")
		call("PATCH", version+"/webhooks/{webhook}", vb, "", `{"name":"Walk, renamed"}`)
		call("POST", version+"/webhooks/{webhook}:ping", vb, "", "")
		call("POST", version+"/webhooks/{webhook}:rotateSigningSecret", vb, "", `{"revocation_behavior":"revoke_previous_secrets_immediately"}`)
		call("DELETE", version+"/webhooks/{webhook}", vb, "", "")
	}
	// A real poison event, so that the list holds one to check against the schema.
	s.Publish(t, `{"id":"poison-walk","project":"acme","type":"batch.succeeded","data":{}}`, nil)
	c.waitDeadLetters("acme", "", 1)
	call("GET", "/v1/projects/{project}/deadLetters", v, "?kind=job_event&page_size=10", "")
	call("POST", "/v1/projects/{project}:createPortalLink", v, "", `{"webhooks":["walk"],"read_only":true,"ttl":"600s"}`)
	call("POST", "/v1/webhooks:createPortalLink", nil, "", "")
	call("POST", "/v1/projects/{project}:revokePortalLinks", v, "", "{}")
	doc.check(restapi.Route{Method: "POST", Path: A}, "an existing id",
		c.do("POST", fill(A, v)+"?webhook_id=walk", `{"url":"https://a.example.com/","subscribed_events":["batch.succeeded"]}`))
	call("DELETE", W, v, "", "")
	for _, rt := range restapi.Routes() {
		if !exercised[rt] {
			t.Errorf("%s %s was not exercised: add it to this test", rt.Method, rt.Path)
		}
	}

	// Every route's errors: no key; another project's key (Surface A); a missing webhook; a body
	// with an unknown member; and the function before it has its clients.
	other := c.as(s.APIKey(t, "other"))
	log := logging.New(pipelinetest.Logs.Writer(), slog.LevelDebug)
	starting := httptest.NewServer(restapi.New(restapi.Options{Log: log}))
	t.Cleanup(starting.Close)
	v["webhook"] = "missing"
	for _, rt := range restapi.Routes() {
		path := fill(rt.Path, v)
		doc.check(rt, "no API key", c.as("").do(rt.Method, path, ""))
		if strings.Contains(rt.Path, "{project}") {
			doc.check(rt, "another project's key", other.do(rt.Method, path, ""))
		}
		if strings.Contains(rt.Path, "{webhook}") {
			doc.check(rt, "a missing webhook", c.do(rt.Method, path, ""))
		}
		if _, ok := doc.operation(rt)["requestBody"]; ok {
			doc.check(rt, "an unknown member", c.do(rt.Method, path, `{"unknown":1}`))
		}
		doc.check(rt, "the function starting", client{t: t, base: starting.URL, key: c.key}.do(rt.Method, path, ""))
	}
}
