package management

import (
	"strings"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// What a delivery sent is built from the store alone and shows nothing secret: a webhook's own
// header values are replaced, and the signature is one "v1,…" per secret that signed.
func TestSentRequest_ShowsTheHeadersAnAttemptSendsWithNoSecretMaterial(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	old := webhook.Secret{Truncated: "whsec_old", CreateTime: t0.Add(-48 * time.Hour), ExpireTime: t0.Add(time.Hour)}
	current := webhook.Secret{Truncated: "whsec_new", CreateTime: t0.Add(-time.Hour)}
	w := webhook.Webhook{ID: "w", Secrets: []webhook.Secret{old, current},
		RequestHeaders: []webhook.Header{{Key: "Authorization", Value: "Bearer tok_secret"}, {Key: "webhook-id", Value: "forged"}}}
	tried := store.Delivery{MessageID: "msg_1", Attempts: 2, LastAttemptTime: t0}

	cases := []struct {
		name string
		w    webhook.Webhook
		d    store.Delivery
		now  time.Time
		body []byte
		want string
	}{
		{"during a rotation, both secrets signed", w, tried, t0.Add(3 * time.Hour), []byte(`{"a":1}`),
			"content-type: application/json | user-agent: Jobhooks/1 | Authorization: •••• (redacted) | webhook-id: msg_1 | " +
				"webhook-timestamp: 1795860000 | webhook-signature: v1,… v1,… (redacted)"},
		{"before any attempt, no timestamp; the expired secret no longer signs", w, store.Delivery{MessageID: "msg_1"}, t0.Add(2 * time.Hour), []byte(`{}`),
			"content-type: application/json | user-agent: Jobhooks/1 | Authorization: •••• (redacted) | webhook-id: msg_1 | " +
				"webhook-signature: v1,… (redacted)"},
		{"trace propagated", webhook.Webhook{PropagateTrace: true, Secrets: []webhook.Secret{current}}, tried, t0, nil,
			"content-type: application/json | user-agent: Jobhooks/1 | traceparent: … (redacted) | webhook-id: msg_1 | " +
				"webhook-timestamp: 1795860000 | webhook-signature: v1,… (redacted)"},
	}
	for _, c := range cases {
		got := sentRequest(c.w, c.d, c.body, "Jobhooks/1", c.now)
		var parts []string
		for _, h := range got.Headers {
			p := h.Name + ": " + h.Value
			if h.Redacted {
				p += " (redacted)"
			}
			parts = append(parts, p)
		}
		if s := strings.Join(parts, " | "); s != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, s, c.want)
		}
		if got.BodyExpired != (len(c.body) == 0) || string(got.Body) != string(c.body) {
			t.Errorf("%s: body %q, expired %v", c.name, got.Body, got.BodyExpired)
		}
		for _, h := range got.Headers {
			if strings.Contains(h.Value, "tok_secret") || strings.Contains(h.Value, "forged") || strings.Contains(h.Value, "whsec") {
				t.Errorf("%s: header %s shows %q", c.name, h.Name, h.Value)
			}
		}
	}
}
