package restapi_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
)

// verifier checks deliveries with the Standard Webhooks reference library.
type verifier struct {
	t       *testing.T
	secrets map[string]*standardwebhooks.Webhook
}

func (v verifier) add(name, secret string) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		v.t.Fatal(err)
	}
	v.secrets[name] = wh
}

// check requires that r verifies with exactly the secrets named by want, and that its first
// signature is the first of want's (newest first). strict also checks the timestamp tolerance,
// which only holds while the stack's clock is real time.
func (v verifier) check(r pipelinetest.Request, strict bool, want ...string) {
	v.t.Helper()
	sigs := strings.Fields(r.Header.Get("webhook-signature"))
	if len(sigs) != len(want) {
		v.t.Errorf("%d signatures (%v), want %d", len(sigs), sigs, len(want))
	}
	for name, wh := range v.secrets {
		verify := wh.VerifyIgnoringTimestamp
		if strict {
			verify = wh.Verify
		}
		err := verify(r.Body, r.Header)
		if wanted := contains(want, name); wanted != (err == nil) {
			v.t.Errorf("secret %s: verify error %v, want it to verify: %v", name, err, wanted)
		}
	}
	ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
	first, _ := v.secrets[want[0]].Sign(r.Header.Get("webhook-id"), time.Unix(ts, 0), r.Body)
	if len(sigs) > 0 && sigs[0] != first {
		v.t.Errorf("the first signature is not the newest secret's (%s)", want[0])
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestRotate_OldSecretSignsFor24HoursNewestFirstAndImmediatelyDropsIt(t *testing.T) {
	t.Parallel()
	s, c := env(t, pipelinetest.Options{})
	rcv := pipelinetest.NewReceiver(t, pipelinetest.OK)
	v := verifier{t: t, secrets: map[string]*standardwebhooks.Webhook{}}
	w := c.createA("rotating", rcv.URL)
	v.add("s1", w.NewSigningSecret)
	path := "/v1/projects/acme/webhooks/rotating"
	n := 0
	deliver := func() pipelinetest.Request {
		t.Helper()
		n++
		s.Publish(t, jobEvent("acme", fmt.Sprintf("job-%d", n), "batch.succeeded"), nil)
		pipelinetest.Eventually(t, wait, fmt.Sprintf("delivery %d", n), func() bool { return rcv.Count() == n })
		return rcv.Requests()[n-1]
	}
	rotate := func(behavior string) string {
		t.Helper()
		var out struct{ Secret string }
		c.do("POST", path+":rotateSigningSecret", behavior).ok(t, &out)
		watch(out.Secret)
		// Deliver caches a webhook's secrets for at most the cache TTL (30 s).
		s.Clock.Advance(31 * time.Second)
		return out.Secret
	}
	secretsShown := func() []string {
		var got webhookA
		c.do("GET", path, "").ok(t, &got)
		var out []string
		for _, sec := range got.SigningSecrets {
			out = append(out, sec.TruncatedSecret+"|"+sec.ExpireTime)
		}
		return out
	}

	v.check(deliver(), true, "s1")

	// The default behaviour is the 24 h grace.
	v.add("s2", rotate(`{}`))
	shown := secretsShown()
	if len(shown) != 2 || !strings.HasSuffix(shown[0], "|") || strings.HasSuffix(shown[1], "|") {
		t.Errorf("signing_secrets after a 24 h rotation = %v: want the new one without expiry first, the old one expiring", shown)
	}
	v.check(deliver(), false, "s2", "s1")

	// After the grace period only the new secret signs.
	s.Clock.Advance(25 * time.Hour)
	v.check(deliver(), false, "s2")
	if shown := secretsShown(); len(shown) != 1 {
		t.Errorf("signing_secrets after the grace = %v", shown)
	}

	v.add("s3", rotate(`{"revocation_behavior":"REVOKE_PREVIOUS_SECRETS_AFTER_H24"}`))
	v.check(deliver(), false, "s3", "s2")
	v.add("s4", rotate(`{"revocation_behavior":"REVOKE_PREVIOUS_SECRETS_IMMEDIATELY"}`))
	v.check(deliver(), false, "s4")
	if shown := secretsShown(); len(shown) != 1 {
		t.Errorf("signing_secrets after an immediate rotation = %v", shown)
	}
}

func TestRotate_AtMostFiveSecretsAreEverActive(t *testing.T) {
	t.Parallel()
	_, c := env(t, pipelinetest.Options{})
	c.createA("busy-rotator", "https://a.example.com/h")
	var newest string
	for range 7 {
		var out struct{ Secret string }
		c.do("POST", "/v1/projects/acme/webhooks/busy-rotator:rotateSigningSecret", "").ok(t, &out)
		watch(out.Secret)
		newest = out.Secret
	}
	var got webhookA
	c.do("GET", "/v1/projects/acme/webhooks/busy-rotator", "").ok(t, &got)
	if len(got.SigningSecrets) != 5 || !strings.HasPrefix(newest, strings.TrimSuffix(got.SigningSecrets[0].TruncatedSecret, "...")) {
		t.Errorf("signing_secrets = %+v: want the 5 newest, newest first", got.SigningSecrets)
	}
	c.do("POST", "/v1/projects/acme/webhooks/busy-rotator:rotateSigningSecret", `{"revocation_behavior":"LATER"}`).
		fails(t, 400, "INVALID_ARGUMENT", "revocation_behavior", "REVOKE_PREVIOUS_SECRETS_IMMEDIATELY")
}
