package restapi_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
	"github.com/jobhooks/jobhooks/shared/secrets"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

func TestResource_CreateTwiceGivesTheSecretOnceThenAlreadyExists(t *testing.T) {
	t.Parallel()
	_, c := env(t, pipelinetest.Options{})
	// create_webhook(parent="projects/acme", webhook={...}) as a client library sends it.
	body := `{"name":"projects/acme/webhooks/webhook-1","url":"https://hooks.example.com/jobs",
		"subscribed_events":["batch.succeeded","video.generated"],
		"request_headers":[{"key":"X-Signature","value":"sha256=abc123"}],"status_codes_to_retry_on":[408,500]}`

	var w webhookA
	c.do("POST", "/v1/projects/acme/webhooks", body).ok(t, &w)
	watch(w.NewSigningSecret)
	sec, err := secrets.Parse(w.NewSigningSecret)
	if err != nil {
		t.Fatalf("new_signing_secret is not a whsec_ secret: %v", err)
	}
	if w.Name != "projects/acme/webhooks/webhook-1" || w.URL != "https://hooks.example.com/jobs" || w.State != "ENABLED" ||
		len(w.RequestHeaders) != 1 || w.RequestHeaders[0].Key != "X-Signature" || w.RequestHeaders[0].Value != "sha256=abc123" ||
		fmt.Sprint(w.StatusCodesToRetryOn) != "[408 500]" || fmt.Sprint(w.SubscribedEvents) != "[batch.succeeded video.generated]" {
		t.Errorf("created webhook = %+v", w)
	}
	if len(w.SigningSecrets) != 1 || w.SigningSecrets[0].TruncatedSecret != sec.Truncated() || w.SigningSecrets[0].ExpireTime != "" {
		t.Errorf("signing_secrets = %+v, want one truncated %s without expiry", w.SigningSecrets, sec.Truncated())
	}
	created, err := time.Parse(time.RFC3339Nano, w.CreateTime)
	if err != nil || time.Since(created) > time.Minute || w.UpdateTime != w.CreateTime {
		t.Errorf("create_time %q update_time %q", w.CreateTime, w.UpdateTime)
	}

	c.do("POST", "/v1/projects/acme/webhooks", body).fails(t, 409, "ALREADY_EXISTS", "projects/acme/webhooks/webhook-1")

	// The secret is shown once: a read has only its truncated form.
	r := c.do("GET", "/v1/projects/acme/webhooks/webhook-1", "")
	var got webhookA
	r.ok(t, &got)
	if got.NewSigningSecret != "" || strings.Contains(string(r.body), w.NewSigningSecret[6:]) {
		t.Errorf("GET shows the secret: %s", r.body)
	}
	if got.CreateTime != w.CreateTime {
		t.Errorf("create_time read back %q, created %q", got.CreateTime, w.CreateTime)
	}
}

func TestResource_IDComesFromWebhookIDOrNameOrIsGenerated(t *testing.T) {
	t.Parallel()
	_, c := env(t, pipelinetest.Options{})
	events := `"url":"https://a.example.com/h","subscribed_events":["batch.failed"]`
	var w webhookA
	c.do("POST", "/v1/projects/acme/webhooks?webhook_id=from-query", `{`+events+`}`).ok(t, &w)
	if w.Name != "projects/acme/webhooks/from-query" {
		t.Errorf("name = %q", w.Name)
	}
	c.do("POST", "/v1/projects/acme/webhooks", `{`+events+`}`).ok(t, &w)
	if !regexp.MustCompile(`^projects/acme/webhooks/wh-[a-z2-7]{16}$`).MatchString(w.Name) {
		t.Errorf("generated name = %q", w.Name)
	}
	c.do("POST", "/v1/projects/acme/webhooks?webhook_id=Bad_ID", `{`+events+`}`).fails(t, 400, "INVALID_ARGUMENT", "webhook_id")
	c.do("POST", "/v1/projects/acme/webhooks", `{"name":"projects/other/webhooks/x",`+events+`}`).fails(t, 400, "INVALID_ARGUMENT", "name")
	c.do("POST", "/v1/projects/acme/webhooks?webhook_id=a", `{"name":"projects/acme/webhooks/b",`+events+`}`).fails(t, 400, "INVALID_ARGUMENT", "webhook_id")
}

func TestResource_EveryInvalidWriteIsA400NamingTheFieldAndStoresNothing(t *testing.T) {
	t.Parallel()
	_, c := env(t, pipelinetest.Options{})
	ok := `"url":"https://a.example.com/h","subscribed_events":["batch.succeeded"]`
	header := func(k, v string) string {
		return `,"request_headers":[{"key":` + quote(k) + `,"value":` + quote(v) + `}]`
	}
	var many []string
	for i := range 21 {
		many = append(many, fmt.Sprintf(`{"key":"X-H%d","value":"v"}`, i))
	}
	cases := []struct{ name, body, mentions string }{
		{"url missing", `{"subscribed_events":["batch.succeeded"]}`, "url"},
		{"url not https", `{"url":"ftp://a.example.com/h","subscribed_events":["batch.succeeded"]}`, "url"},
		{"url relative", `{"url":"/hooks","subscribed_events":["batch.succeeded"]}`, "url"},
		{"url with user info", `{"url":"https://u:p@a.example.com/h","subscribed_events":["batch.succeeded"]}`, "url"},
		{"url too long", `{"url":"https://a.example.com/` + strings.Repeat("a", 2100) + `","subscribed_events":["batch.succeeded"]}`, "url"},
		{"no events", `{"url":"https://a.example.com/h","subscribed_events":[]}`, "subscribed_events"},
		{"events missing", `{"url":"https://a.example.com/h"}`, "subscribed_events"},
		{"malformed event", `{"url":"https://a.example.com/h","subscribed_events":["Batch Done"]}`, "subscribed_events[0]"},
		{"repeated event", `{"url":"https://a.example.com/h","subscribed_events":["batch.failed","batch.failed"]}`, "subscribed_events[1]"},
		{"21 headers", `{` + ok + `,"request_headers":[` + strings.Join(many, ",") + `]}`, "request_headers"},
		{"host header", `{` + ok + header("Host", "evil.example.com") + `}`, "request_headers[0].key"},
		{"content-type header", `{` + ok + header("content-type", "text/plain") + `}`, "request_headers[0].key"},
		{"content-length header", `{` + ok + header("Content-Length", "1") + `}`, "request_headers[0].key"},
		{"user-agent header", `{` + ok + header("User-Agent", "x") + `}`, "request_headers[0].key"},
		{"signature header", `{` + ok + header("Webhook-Signature", "v1,x") + `}`, "request_headers[0].key"},
		{"hop-by-hop header", `{` + ok + header("Transfer-Encoding", "chunked") + `}`, "request_headers[0].key"},
		{"proxy header", `{` + ok + header("Proxy-Authorization", "x") + `}`, "request_headers[0].key"},
		{"connection header", `{` + ok + header("Connection", "close") + `}`, "request_headers[0].key"},
		{"bad header name", `{` + ok + header("Bad Name", "x") + `}`, "request_headers[0].key"},
		{"CRLF in a value", `{` + ok + header("X-A", "a\r\nX-Evil: 1") + `}`, "request_headers[0].value"},
		{"LF in a value", `{` + ok + header("X-A", "a\nWebhook-Signature: v1,forged") + `}`, "request_headers[0].value"},
		{"NUL in a value", `{` + ok + header("X-A", "a\x00b") + `}`, "request_headers[0].value"},
		{"CRLF in a name", `{` + ok + header("X-A\r\nWebhook-Id", "msg_forged") + `}`, "request_headers[0].key"},
		{"id header", `{` + ok + header("webhook-id", "msg_forged") + `}`, "request_headers[0].key"},
		{"timestamp header", `{` + ok + header("WEBHOOK-TIMESTAMP", "1") + `}`, "request_headers[0].key"},
		{"signature header with _", `{` + ok + header("webhook_signature", "v1,forged") + `}`, "request_headers[0].key"},
		{"keep-alive header", `{` + ok + header("Keep-Alive", "timeout=5") + `}`, "request_headers[0].key"},
		{"upgrade header", `{` + ok + header("Upgrade", "websocket") + `}`, "request_headers[0].key"},
		{"TE header", `{` + ok + header("TE", "trailers") + `}`, "request_headers[0].key"},
		{"trailer header", `{` + ok + header("Trailer", "Webhook-Signature") + `}`, "request_headers[0].key"},
		{"2xx retry code", `{` + ok + `,"status_codes_to_retry_on":[500,200]}`, "status_codes_to_retry_on[1]"},
		{"600 retry code", `{` + ok + `,"status_codes_to_retry_on":[600]}`, "status_codes_to_retry_on[0]"},
		{"long display name", `{` + ok + `,"display_name":"` + strings.Repeat("é", 257) + `"}`, "display_name"},
		{"failed-deliveries state", `{` + ok + `,"state":"DISABLED_DUE_TO_FAILED_DELIVERIES"}`, "state"},
		{"unknown state", `{` + ok + `,"state":"PAUSED"}`, "state"},
		{"unknown field", `{` + ok + `,"colour":"blue"}`, "colour"},
		{"unknown header member", `{` + ok + `,"request_headers":[{"key":"X-A","value":"1","sensitive":true}]}`, "sensitive"},
		{"wrong type", `{"url":5,"subscribed_events":["batch.succeeded"]}`, "url must be a string"},
		{"not JSON", `{"url":`, "JSON"},
		{"not an object", `["https://a.example.com"]`, "object"},
		{"empty body", ``, "empty"},
		{"trailing data", `{` + ok + `} {}`, "after the JSON object"},
		{"body over 1 MiB", `{` + ok + `,"display_name":"` + strings.Repeat("a", 1<<20) + `"}`, "1 MiB"},
	}
	for _, tc := range cases {
		c.do("POST", "/v1/projects/acme/webhooks", tc.body).fails(t, 400, "INVALID_ARGUMENT", tc.mentions)
	}
	var list struct{ Webhooks []webhookA }
	c.do("GET", "/v1/projects/acme/webhooks", "").ok(t, &list)
	if len(list.Webhooks) != 0 {
		t.Errorf("refused creates stored %d webhooks", len(list.Webhooks))
	}
}

func TestResource_BlockedAddressesAreRefusedWhenInsecureTargetsAreOff(t *testing.T) {
	t.Parallel()
	_, c := env(t, pipelinetest.Options{Configure: func(cfg *config.Config) { cfg.AllowInsecureTargets = false }})
	// A public literal passes, and so does a name (it resolves to public addresses or not yet at all).
	c.createA("public-ip", "https://8.8.8.8/hook")
	c.createA("public-name", "https://hooks.example.com/jobs")
	var gemini struct {
		ID               string `json:"id"`
		NewSigningSecret string `json:"new_signing_secret"`
	}
	c.do("POST", "/v1beta/webhooks", `{"uri":"https://8.8.8.8/hook","subscribed_events":["batch.succeeded"]}`).ok(t, &gemini)
	watch(gemini.NewSigningSecret)
	if gemini.ID == "" || gemini.NewSigningSecret == "" {
		t.Fatalf("Surface B create answered id %q and no secret", gemini.ID)
	}

	// Every blocked range, in every spelling the sender's tables know, and the URL tricks around
	// them: refused on create and update, on both surfaces, naming the surface's field. The
	// sender's own tables (shared/sender) say why each is refused; this is the API's wiring.
	for _, u := range []string{
		"https://127.0.0.1/hook", "https://10.1.2.3/hook", "https://172.16.0.1/", "https://192.168.0.1/",
		"https://100.64.0.1/", "https://169.254.169.254/computeMetadata/v1/", "https://0.0.0.0/", "https://224.0.0.1/",
		"https://240.0.0.1/", "https://255.255.255.255/", "https://192.0.2.1/",
		"https://[::1]/hook", "https://[::]/", "https://[fe80::1%25eth0]/", "https://[fc00::1]/", "https://[fd00:ec2::254]/",
		"https://[ff02::1]/", "https://[::ffff:127.0.0.1]/hook", "https://[::ffff:7f00:1]:8443/", "https://[::127.0.0.1]/",
		"https://[64:ff9b::a9fe:a9fe]/", "https://[2002:a9fe:a9fe::]/", "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
		"https://2130706433/hook", "https://0177.0.0.1/", "https://0x7f.0.0.1/", "https://0x7F000001/", "https://127.1/",
		"https://2852039166/", "https://0/", "https://127.0.0.1./", "https://127.0.0.1../",
		"https://localhost/hook", "https://LOCALHOST./", "https://api.localhost:8443/", "https://metadata.google.internal/",
		"https://metadata/computeMetadata/v1/", "https://printer.local/",
		"https://１２７.０.０.１/", "https://127。0。0。1/", "https://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/", "https://api.ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/",
		"https://metadata.google.ⓘⓝⓣⓔⓡⓝⓐⓛ/",
		"https://user:pw@hooks.example.com/", "https://hooks.example.com@127.0.0.1/", "https://127.0.0.1#@hooks.example.com/",
		"https://hooks.example.com:0/", "https://hooks.example.com:65536/", "http://hooks.example.com/jobs",
	} {
		a := `{"url":` + quote(u) + `,"subscribed_events":["batch.succeeded"]}`
		b := `{"uri":` + quote(u) + `,"subscribed_events":["batch.succeeded"]}`
		c.do("POST", "/v1/projects/acme/webhooks", a).fails(t, 400, "INVALID_ARGUMENT", "url:")
		c.do("PATCH", "/v1/projects/acme/webhooks/public-ip", `{"url":`+quote(u)+`}`).fails(t, 400, "INVALID_ARGUMENT", "url:")
		c.do("POST", "/v1beta/webhooks", b).fails(t, 400, "INVALID_ARGUMENT", "uri:")
		c.do("PATCH", "/v1/webhooks/"+gemini.ID+"?update_mask=uri", `{"uri":`+quote(u)+`}`).fails(t, 400, "INVALID_ARGUMENT", "uri:")
	}
	var list struct{ Webhooks []webhookA }
	c.do("GET", "/v1/projects/acme/webhooks", "").ok(t, &list)
	for _, w := range list.Webhooks {
		if w.URL != "https://8.8.8.8/hook" && w.URL != "https://hooks.example.com/jobs" {
			t.Errorf("%s was stored with %s", w.Name, w.URL)
		}
	}
	if len(list.Webhooks) != 3 {
		t.Errorf("%d webhooks stored, want the 3 public ones", len(list.Webhooks))
	}
}

func TestResource_ListPagesInCreationOrder(t *testing.T) {
	t.Parallel()
	_, c := env(t, pipelinetest.Options{})
	var want []string
	for i := range 5 {
		id := fmt.Sprintf("hook-%d", i)
		c.createA(id, "https://a.example.com/"+id)
		want = append(want, "projects/acme/webhooks/"+id)
	}
	type page struct {
		Webhooks      []webhookA `json:"webhooks"`
		NextPageToken string     `json:"next_page_token"`
	}
	var got []string
	var sizes []int
	token := ""
	for range 5 {
		var p page
		c.do("GET", "/v1/projects/acme/webhooks?page_size=2&page_token="+token, "").ok(t, &p)
		sizes = append(sizes, len(p.Webhooks))
		for _, w := range p.Webhooks {
			got = append(got, w.Name)
		}
		if token = p.NextPageToken; token == "" {
			break
		}
	}
	if fmt.Sprint(sizes) != "[2 2 1]" || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pages of %v holding %v, want [2 2 1] holding %v", sizes, got, want)
	}
	var all page
	c.do("GET", "/v1/projects/acme/webhooks?page_size=5000", "").ok(t, &all) // coerced to 1000
	if len(all.Webhooks) != 5 || all.NextPageToken != "" {
		t.Errorf("page_size 5000 gave %d webhooks, token %q", len(all.Webhooks), all.NextPageToken)
	}
	c.do("GET", "/v1/projects/acme/webhooks?page_size=-1", "").fails(t, 400, "INVALID_ARGUMENT", "page_size")
	c.do("GET", "/v1/projects/acme/webhooks?page_size=ten", "").fails(t, 400, "INVALID_ARGUMENT", "page_size")
	c.do("GET", "/v1/projects/acme/webhooks?page_token=bm9wZQ", "").fails(t, 400, "INVALID_ARGUMENT", "page_token")
}

func TestResource_UpdateMaskChangesOnlyTheNamedFields(t *testing.T) {
	t.Parallel()
	_, c := env(t, pipelinetest.Options{})
	orig := c.createA("masked", "https://a.example.com/h", `,"display_name":"before"`)
	path := "/v1/projects/acme/webhooks/masked"

	var w webhookA
	c.do("PATCH", path+"?update_mask=display_name", `{"display_name":"after","url":"https://ignored.example.com/"}`).ok(t, &w)
	if w.DisplayName != "after" || w.URL != orig.URL {
		t.Errorf("mask display_name: display_name %q url %q", w.DisplayName, w.URL)
	}
	if w.UpdateTime <= orig.UpdateTime || w.CreateTime != orig.CreateTime {
		t.Errorf("update_time %q (was %q), create_time %q (was %q)", w.UpdateTime, orig.UpdateTime, w.CreateTime, orig.CreateTime)
	}
	// Without a mask: the fields present in the body, output-only ones ignored.
	c.do("PATCH", path, `{"subscribed_events":["video.generated"],"create_time":"2000-01-01T00:00:00Z"}`).ok(t, &w)
	if fmt.Sprint(w.SubscribedEvents) != "[video.generated]" || w.DisplayName != "after" || w.CreateTime != orig.CreateTime {
		t.Errorf("no mask: %+v", w)
	}
	// lowerCamelCase paths (proto JSON) and several paths at once.
	c.do("PATCH", path+"?update_mask=displayName,statusCodesToRetryOn", `{"display_name":"camel","status_codes_to_retry_on":[503]}`).ok(t, &w)
	if w.DisplayName != "camel" || fmt.Sprint(w.StatusCodesToRetryOn) != "[503]" {
		t.Errorf("camel mask: %+v", w)
	}
	// A masked field absent from the body is cleared, and a required one cannot be.
	var cleared webhookA
	c.do("PATCH", path+"?update_mask=display_name", `{}`).ok(t, &cleared)
	if cleared.DisplayName != "" || cleared.URL != orig.URL {
		t.Errorf("display_name = %q after a mask without a value", cleared.DisplayName)
	}
	c.do("PATCH", path+"?update_mask=url", `{}`).fails(t, 400, "INVALID_ARGUMENT", "url")

	c.do("PATCH", path+"?update_mask=create_time", `{}`).fails(t, 400, "INVALID_ARGUMENT", "create_time", "output only")
	c.do("PATCH", path+"?update_mask=name", `{}`).fails(t, 400, "INVALID_ARGUMENT", "name", "output only")
	c.do("PATCH", path+"?update_mask=signing_secrets", `{}`).fails(t, 400, "INVALID_ARGUMENT", "output only")
	c.do("PATCH", path+"?update_mask=colour", `{}`).fails(t, 400, "INVALID_ARGUMENT", "colour")
	c.do("PATCH", path, `{"colour":"blue"}`).fails(t, 400, "INVALID_ARGUMENT", "colour")
	c.do("PATCH", "/v1/projects/acme/webhooks/missing", `{"display_name":"x"}`).fails(t, 404, "NOT_FOUND", "projects/acme/webhooks/missing")

	var after webhookA
	c.do("GET", path, "").ok(t, &after)
	if after.URL != orig.URL || fmt.Sprint(after.SubscribedEvents) != "[video.generated]" {
		t.Errorf("refused updates changed the webhook: %+v", after)
	}
}

func TestResource_ReenablingResetsHealth(t *testing.T) {
	t.Parallel()
	s, c := env(t, pipelinetest.Options{})
	c.createA("sick", "https://a.example.com/h")
	ctx := context.Background()
	time.Sleep(store.HealthEvery) // a health write waits a second after the webhook's create
	if _, err := s.Store.MarkFailing(ctx, "acme", "sick", time.Now().Add(-80*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.DisableForFailures(ctx, "acme", "sick", "failing for 72h", time.Now()); err != nil {
		t.Fatal(err)
	}
	var w webhookA
	c.do("GET", "/v1/projects/acme/webhooks/sick", "").ok(t, &w)
	if w.State != "DISABLED_DUE_TO_FAILED_DELIVERIES" {
		t.Fatalf("state = %q", w.State)
	}
	c.do("PATCH", "/v1/projects/acme/webhooks/sick?update_mask=state", `{"state":"ENABLED"}`).ok(t, &w)
	stored, _ := s.Store.GetWebhook(ctx, "acme", "sick")
	if w.State != "ENABLED" || stored.State != webhook.Enabled || !stored.FailingSince.IsZero() || stored.DisabledReason != "" {
		t.Errorf("after re-enabling: state %q, failing since %v, reason %q", w.State, stored.FailingSince, stored.DisabledReason)
	}
}

func TestResource_StateEnumsAreUpperCaseAndEitherCaseIsAccepted(t *testing.T) {
	t.Parallel()
	_, c := env(t, pipelinetest.Options{})
	var w webhookA
	c.do("POST", "/v1/projects/acme/webhooks?webhook_id=off", `{"url":"https://a.example.com/h","subscribed_events":["batch.failed"],"state":"DISABLED"}`).ok(t, &w)
	watch(w.NewSigningSecret)
	if w.State != "DISABLED" {
		t.Errorf("state = %q", w.State)
	}
	c.do("PATCH", "/v1/projects/acme/webhooks/off", `{"state":"enabled"}`).ok(t, &w)
	if w.State != "ENABLED" {
		t.Errorf("state = %q", w.State)
	}
	c.do("PATCH", "/v1/projects/acme/webhooks/off", `{"state":"STATE_UNSPECIFIED"}`).fails(t, 400, "INVALID_ARGUMENT", "state")
}

func TestResource_DeleteThenEverythingIs404(t *testing.T) {
	t.Parallel()
	_, c := env(t, pipelinetest.Options{})
	c.createA("short-lived", "https://a.example.com/h")
	path := "/v1/projects/acme/webhooks/short-lived"
	if r := c.do("DELETE", path, "").ok(t, nil); strings.TrimSpace(string(r.body)) != "{}" {
		t.Errorf("delete answered %s, want {}", r.body)
	}
	c.do("GET", path, "").fails(t, 404, "NOT_FOUND", "projects/acme/webhooks/short-lived")
	c.do("DELETE", path, "").fails(t, 404, "NOT_FOUND")
	c.do("POST", path+":ping", "").fails(t, 404, "NOT_FOUND")
	c.do("POST", path+":rotateSigningSecret", "").fails(t, 404, "NOT_FOUND")
	c.do("GET", path+"/deliveries", "").fails(t, 404, "NOT_FOUND")
	c.do("GET", "/v1/projects/acme/webhooks/Not_An_ID", "").fails(t, 404, "NOT_FOUND")
}

func TestResource_AProjectHoldsAtMostTheConfiguredNumberOfWebhooks(t *testing.T) {
	t.Parallel()
	s, c := env(t, pipelinetest.Options{Configure: func(cfg *config.Config) { cfg.MaxWebhooksPerProject = 3 }})
	for i := range 3 {
		c.createA(fmt.Sprintf("h%d", i), "https://a.example.com/h")
	}
	c.do("POST", "/v1/projects/acme/webhooks?webhook_id=h3", `{"url":"https://a.example.com/h","subscribed_events":["batch.failed"]}`).
		fails(t, 429, "RESOURCE_EXHAUSTED", "3")
	// The limit is per project.
	other := c.as(s.APIKey(t, "other"))
	var w webhookA
	other.do("POST", "/v1/projects/other/webhooks", `{"url":"https://a.example.com/h","subscribed_events":["batch.failed"]}`).ok(t, &w)
	watch(w.NewSigningSecret)
	c.do("DELETE", "/v1/projects/acme/webhooks/h0", "").ok(t, nil)
	c.createA("h3", "https://a.example.com/h")
}
