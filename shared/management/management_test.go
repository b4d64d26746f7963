package management

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/webhook"
)

func TestRotate_GraceCapsAndOrder(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	sec := func(name string, created, expires time.Duration) webhook.Secret {
		s := webhook.Secret{Truncated: name, CreateTime: now.Add(created)}
		if expires != 0 {
			s.ExpireTime = now.Add(expires)
		}
		return s
	}
	names := func(ss []webhook.Secret) string {
		var out []string
		for _, s := range ss {
			exp := "never"
			if !s.ExpireTime.IsZero() {
				exp = s.ExpireTime.Sub(now).String()
			}
			out = append(out, s.Truncated+"@"+exp)
		}
		return strings.Join(out, " ")
	}
	next := sec("new", 0, 0)
	old := []webhook.Secret{
		sec("a", -5*time.Hour, 0),               // never expires: gets the 24 h grace
		sec("b", -4*time.Hour, time.Hour),       // expires sooner than the grace: kept as is
		sec("c", -3*time.Hour, 48*time.Hour),    // later than the grace: shortened
		sec("gone", -2*time.Hour, -time.Minute), // expired: dropped
	}
	if got, want := names(rotate(old, next, RevokeAfter24h, now)), "new@never c@24h0m0s b@1h0m0s a@24h0m0s"; got != want {
		t.Errorf("after 24h rotation: %s, want %s", got, want)
	}
	if got := names(rotate(old, next, RevokeImmediately, now)); got != "new@never" {
		t.Errorf("immediate rotation kept %s", got)
	}
	var many []webhook.Secret
	for i := range 7 {
		many = append(many, sec(fmt.Sprint(i), time.Duration(i-10)*time.Minute, 0))
	}
	if got := names(rotate(many, next, RevokeAfter24h, now)); got != "new@never 6@24h0m0s 5@24h0m0s 4@24h0m0s 3@24h0m0s" {
		t.Errorf("cap: %s, want the 5 newest", got)
	}
}

func TestValidation_MessagesNameTheOffendingField(t *testing.T) {
	hs := func(k, v string) []webhook.Header {
		return []webhook.Header{{Key: "X-Fine", Value: "1"}, {Key: k, Value: v}}
	}
	cases := []struct {
		err   error
		field string
	}{
		{checkHeaders(hs("Host", "x")), "request_headers[1].key"},
		{checkHeaders(hs("WEBHOOK-ID", "x")), "request_headers[1].key"},
		{checkHeaders(hs("Proxy-Connection", "x")), "request_headers[1].key"},
		{checkHeaders(hs("Keep-Alive", "x")), "request_headers[1].key"},
		{checkHeaders(hs("TE", "x")), "request_headers[1].key"},
		{checkHeaders(hs("Trailer", "x")), "request_headers[1].key"},
		{checkHeaders(hs("Upgrade", "x")), "request_headers[1].key"},
		{checkHeaders(hs("X:Colon", "x")), "request_headers[1].key"},
		{checkHeaders(hs("", "x")), "request_headers[1].key"},
		{checkHeaders(hs("X-A", "line\nbreak")), "request_headers[1].value"},
		{checkHeaders(hs("X-A", "lone\rcarriage return")), "request_headers[1].value"},
		{checkHeaders(hs("X-A", "a\r\nWebhook-Signature: v1,forged")), "request_headers[1].value"},
		{checkHeaders(hs("X-A", "del\x7f")), "request_headers[1].value"},
		{checkHeaders(hs("X-A\r\nX-Evil", "x")), "request_headers[1].key"},
		{checkHeaders(hs("X-A\x00", "x")), "request_headers[1].key"},
		{checkHeaders(hs(" X-A", "x")), "request_headers[1].key"},
		{checkHeaders(hs("X-Ä", "x")), "request_headers[1].key"},
		{checkHeaders(hs("webhook-signature", "v1,forged")), "request_headers[1].key"},
		{checkHeaders(hs("Webhook-Timestamp", "1")), "request_headers[1].key"},
		{checkHeaders(hs("webhook-anything", "x")), "request_headers[1].key"},
		// CGI, WSGI, PHP and Rack read webhook_signature as webhook-signature (both HTTP_WEBHOOK_SIGNATURE).
		{checkHeaders(hs("Webhook_Signature", "v1,forged")), "request_headers[1].key"},
		{checkHeaders(hs("content_length", "1")), "request_headers[1].key"},
		{checkHeaders(hs("content-type", "text/plain")), "request_headers[1].key"},
		{checkHeaders(hs("Content-Length", "0")), "request_headers[1].key"},
		{checkHeaders(hs("User-Agent", "x")), "request_headers[1].key"},
		{checkHeaders(hs("Connection", "close")), "request_headers[1].key"},
		{checkHeaders(hs("Transfer-Encoding", "chunked")), "request_headers[1].key"},
		{checkHeaders(hs("Proxy-Authorization", "Basic x")), "request_headers[1].key"},
		{checkHeaders(hs("X-A", "nul\x00")), "request_headers[1].value"},
		{checkHeaders(hs("X-A", strings.Repeat("v", MaxHeaderValueBytes+1))), "request_headers[1].value"},
		{checkHeaders(make([]webhook.Header, 21)), "request_headers"},
		{checkEvents(nil), "subscribed_events"},
		{checkEvents([]string{"batch.succeeded", "batch"}), "subscribed_events[1]"},
		{checkRetryCodes([]int{500, 399}), "status_codes_to_retry_on[1]"},
		{checkRetryCodes([]int{500, 500}), "status_codes_to_retry_on[1]"},
		{checkDisplayName("\xff"), "display_name"},
		{checkState("PAUSED"), "state"},
		{checkState(webhook.DisabledDueToFailedDeliveries), "state"},
	}
	for i, tc := range cases {
		var e *Error
		if !errors.As(tc.err, &e) || e.Code != InvalidArgument || e.Field != tc.field {
			t.Errorf("case %d: %v, want INVALID_ARGUMENT about %s", i, tc.err, tc.field)
		}
	}
	for _, ok := range []error{
		checkHeaders([]webhook.Header{{Key: "X-Signature", Value: "sha256=abc123"}, {Key: "Authorization", Value: "Bearer t\tok"}}),
		checkEvents([]string{"batch.succeeded", "my_system.job.done"}),
		checkRetryCodes([]int{400, 599}), checkDisplayName("Ünïcode 🚀"), checkState(webhook.Disabled),
	} {
		if ok != nil {
			t.Errorf("valid input refused: %v", ok)
		}
	}
}

func TestWebhookIDs_AreAIP122AndGeneratedOnesValid(t *testing.T) {
	for id, want := range map[string]bool{
		"webhook-1": true, "a": true, strings.Repeat("a", 63): true,
		strings.Repeat("a", 64): false, "1abc": false, "abc-": false, "ABC": false, "a_b": false, "": false, "a/b": false,
	} {
		if ValidWebhookID(id) != want {
			t.Errorf("ValidWebhookID(%q) = %v", id, !want)
		}
	}
	seen := map[string]bool{}
	for range 100 {
		id := newWebhookID()
		if !ValidWebhookID(id) || seen[id] {
			t.Fatalf("generated id %q invalid or repeated", id)
		}
		seen[id] = true
	}
}

func TestPageTokens_AreBoundToTheirList(t *testing.T) {
	tok := pageToken{Kind: "deliveries", Project: "a", Webhook: "w", State: "failed", ID: "dlv_x"}
	raw := tok.encode()
	if got, err := decodeToken(raw, pageToken{Kind: "deliveries", Project: "a", Webhook: "w", State: "failed"}); err != nil || got.ID != "dlv_x" {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, other := range []pageToken{
		{Kind: "webhooks", Project: "a"},
		{Kind: "deliveries", Project: "b", Webhook: "w", State: "failed"},
		{Kind: "deliveries", Project: "a", Webhook: "v", State: "failed"},
		{Kind: "deliveries", Project: "a", Webhook: "w"},
	} {
		if _, err := decodeToken(raw, other); err == nil {
			t.Errorf("token accepted for %+v", other)
		}
	}
	for _, bad := range []string{"!!", "bm9wZQ", pageToken{Kind: "deliveries", Project: "a"}.encode()} {
		if _, err := decodeToken(bad, pageToken{Kind: "deliveries", Project: "a"}); err == nil {
			t.Errorf("token %q accepted", bad)
		}
	}
}

func TestErrors_MapToGoogleStatusesAndRenameFields(t *testing.T) {
	for code, status := range map[Code]int{
		InvalidArgument: 400, FailedPrecondition: 400, Unauthenticated: 401, PermissionDenied: 403, NotFound: 404,
		AlreadyExists: 409, ResourceExhausted: 429, Internal: 500, Unavailable: 503,
	} {
		if code.HTTPStatus() != status {
			t.Errorf("%s → %d, want %d", code, code.HTTPStatus(), status)
		}
	}
	e := invalid("url", "must use https")
	if got := e.Text(func(f string) string { return map[string]string{"url": "uri"}[f] }); got != "uri: must use https" {
		t.Errorf("renamed: %q", got)
	}
	if got := AsError(fmt.Errorf("wrapped: %w", e)); got != e {
		t.Errorf("AsError lost the service error")
	}
	if got := AsError(errors.New("firestore: connection reset by 10.0.0.3")); got.Code != Internal || strings.Contains(got.Message, "10.0.0.3") {
		t.Errorf("an internal error leaks its cause: %+v", got)
	}
}
