package restapi_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
)

// retryAfter requires a 429 RESOURCE_EXHAUSTED in the google.rpc shape with a Retry-After of
// 1 s to max.
func (r response) exhausted(t *testing.T, max time.Duration, words ...string) {
	t.Helper()
	r.fails(t, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", words...)
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || secs < 1 || time.Duration(secs)*time.Second > max {
		t.Errorf("Retry-After %q, want 1 to %s seconds", r.header.Get("Retry-After"), max)
	}
}

type ping struct {
	Delivery string `json:"delivery"`
}

// The calls that send are limited per project (shared/restapi/README.md, Limits and rules): past
// the limit a ping, a retry or a replay is answered 429 with Retry-After and sends nothing;
// another project's calls are not counted against it.
func TestLimits_PingRetryAndReplayPastTheProjectsLimitAre429WithRetryAfter(t *testing.T) {
	t.Parallel()
	s, c := env(t, pipelinetest.Options{Configure: func(cfg *config.Config) {
		cfg.PingsPerMinute, cfg.RetriesPerMinute, cfg.ReplaysPerHour = 2, 1, 1
	}})
	rcv := pipelinetest.NewReceiver(t, pipelinetest.Status(404))
	c.createA("limited", rcv.URL)
	start := s.Clock.Now().Add(-time.Second)

	var p1, p2 ping
	c.do("POST", "/v1/projects/acme/webhooks/limited:ping", "").ok(t, &p1)
	c.do("POST", "/v1/projects/acme/webhooks/limited:ping", "").ok(t, &p2)
	c.do("POST", "/v1/projects/acme/webhooks/limited:ping", "").exhausted(t, time.Minute, "ping")
	c.do("POST", "/v1beta/webhooks/limited:ping", "").exhausted(t, time.Minute, "ping") // both surfaces count alike

	other := c.as(s.APIKey(t, "other"))
	other.do("POST", "/v1/projects/other/webhooks?webhook_id=own", `{"url":"`+rcv.URL+`","subscribed_events":["batch.succeeded"]}`).ok(t, nil)
	other.do("POST", "/v1/projects/other/webhooks/own:ping", "").ok(t, nil)

	c.waitDelivery(p1.Delivery, "FAILED")
	c.waitDelivery(p2.Delivery, "FAILED")
	pipelinetest.Eventually(t, wait, "three pings answered", func() bool { return rcv.Count() == 3 })
	c.do("POST", "/v1/"+p1.Delivery+":retry", "").ok(t, nil)
	c.do("POST", "/v1/"+p2.Delivery+":retry", "").exhausted(t, time.Minute, "retry")
	c.waitDelivery(p1.Delivery, "FAILED")

	end := s.Clock.Now().Add(time.Second)
	rng := `{"start_time":"` + start.UTC().Format(time.RFC3339Nano) + `","end_time":"` + end.UTC().Format(time.RFC3339Nano) + `"}`
	c.do("POST", "/v1/projects/acme/webhooks/limited:replay", rng).ok(t, nil)
	c.do("POST", "/v1/projects/acme/webhooks/limited:replay", rng).exhausted(t, time.Hour, "replay")
	pipelinetest.Eventually(t, wait, "the replay's two re-sends", func() bool { return rcv.Count() == 6 })
	time.Sleep(500 * time.Millisecond) // nothing refused may arrive late
	if n := rcv.Count(); n != 6 {
		t.Errorf("the receiver got %d requests, want 6: 3 pings, 1 retry, 2 replayed", n)
	}
}

// A webhook whose deliveries are still pending (its URL is failing) gets no more re-sends while
// MaxPendingResends of them are: a retry and a replay are answered 429.
func TestLimits_RetryAndReplayRefusedWhileTheWebhookHasTooManyPendingDeliveries(t *testing.T) {
	t.Parallel()
	s, c := env(t, pipelinetest.Options{Configure: func(cfg *config.Config) { cfg.MaxPendingResends = 1 }})
	rcv := pipelinetest.NewReceiver(t, pipelinetest.Status(503), pipelinetest.Status(404)) // 404 once, then 503
	c.createA("busy", rcv.URL)
	start := s.Clock.Now().Add(-time.Second)
	var failed, pending ping
	c.do("POST", "/v1/projects/acme/webhooks/busy:ping", "").ok(t, &failed)
	c.waitDelivery(failed.Delivery, "FAILED")
	c.do("POST", "/v1/projects/acme/webhooks/busy:ping", "").ok(t, &pending)
	// >= 2: the 503 is retried, and a retry may come before a look
	pipelinetest.Eventually(t, wait, "the second ping answered 503", func() bool { return rcv.Count() >= 2 })
	c.waitDelivery(pending.Delivery, "PENDING")

	c.do("POST", "/v1/"+failed.Delivery+":retry", "").exhausted(t, time.Minute, "pending")
	end := s.Clock.Now().Add(time.Second)
	c.do("POST", "/v1/projects/acme/webhooks/busy:replay",
		`{"start_time":"`+start.UTC().Format(time.RFC3339Nano)+`","end_time":"`+end.UTC().Format(time.RFC3339Nano)+`"}`).exhausted(t, time.Minute, "pending")
}
