package console_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
)

// TestConsole_Load drives what the console shows of a receiver's protection
// (shared/delivery/README.md, Load: what one receiver gets, and what it costs everyone): a
// webhook's throttle in its form, its endpoint's state, what waits for it, and what a delivery
// sent. The subtests share one stack and one browser and run in order.
func TestConsole_Load(t *testing.T) {
	chromiumPath(t)
	s := pipelinetest.Start(t, pipelinetest.Options{})
	base := s.API(t)
	key := s.APIKey(t, "acme")
	b := startBrowser(t)
	api(t, base, key, "POST", "/v1/projects/acme/webhooks?webhook_id=small",
		`{"display_name":"Small receiver","url":"https://small.example.com/h","subscribed_events":["batch.succeeded"]}`, nil)

	t.Run("TheFormSetsTheThrottle_SendsItOnlyWhenChanged_AndShowsTheAPIsErrorBesideTheField", func(t *testing.T) {
		tb := b.tab(t)
		tb.run("open link", chromedp.Navigate(link(t, base, key, "acme", "")), chromedp.WaitVisible(chromedp.CSS("#webhooks")))
		tb.run("edit", tb.hash("#/webhooks/small/edit"), chromedp.WaitVisible(chromedp.CSS("#max-in-flight")))
		if got := value(tb, "max_in_flight", chromedp.Value(chromedp.CSS("#max-in-flight"))); got != "0" {
			t.Errorf("a webhook without a throttle shows max_in_flight %q, want 0", got)
		}
		if hint := tb.text("#throttle"); !strings.Contains(hint, "0: none of its own") || !strings.Contains(hint, "per second") {
			t.Errorf("the throttle's hints read %q", hint)
		}
		tb.run("set the throttle", chromedp.SetValue(chromedp.CSS("#max-in-flight"), "5"), chromedp.SetValue(chromedp.CSS("#rate-limit"), "50"),
			chromedp.Click(chromedp.CSS("#webhook-form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#webhook-title")))
		var w struct {
			MaxInFlight int `json:"max_in_flight"`
			RateLimit   int `json:"rate_limit"`
		}
		api(t, base, key, "GET", "/v1/projects/acme/webhooks/small", "", &w)
		if w.MaxInFlight != 5 || w.RateLimit != 50 {
			t.Errorf("after saving, the API has max_in_flight %d and rate_limit %d, want 5 and 50", w.MaxInFlight, w.RateLimit)
		}
		if facts := tb.waitText(".facts", "Throttle", 10*time.Second); !strings.Contains(facts, "5 at once") || !strings.Contains(facts, "50 per second") {
			t.Errorf("the webhook's page shows %q, want its throttle", facts)
		}
		tb.run("reload the form", tb.hash("#/webhooks/small/edit"), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#rate-limit")))
		if m, r := value(tb, "max", chromedp.Value(chromedp.CSS("#max-in-flight"))), value(tb, "rate", chromedp.Value(chromedp.CSS("#rate-limit"))); m != "5" || r != "50" {
			t.Errorf("the reloaded form shows max_in_flight %q and rate_limit %q, want 5 and 50", m, r)
		}
		tb.shot("throttle-form", desktop)
		// A change of the name alone sends no throttle field.
		tb.run("rename", chromedp.SetValue(chromedp.CSS("#display-name"), "Small receiver 2"),
			chromedp.Click(chromedp.CSS("#webhook-form button[type=submit]")))
		tb.waitText("#webhook-title", "Small receiver 2", 10*time.Second)
		patches := tb.requested("update_mask=")
		if len(patches) != 2 || !strings.Contains(patches[0], "max_in_flight,rate_limit") ||
			strings.Contains(patches[1], "max_in_flight") || strings.Contains(patches[1], "rate_limit") {
			t.Errorf("the form's updates were %q: want the throttle in the first mask only", patches)
		}
		tb.run("edit again", tb.hash("#/webhooks/small/edit"), chromedp.WaitVisible(chromedp.CSS("#max-in-flight")))
		tb.run("too many", chromedp.SetValue(chromedp.CSS("#max-in-flight"), "501"),
			chromedp.Click(chromedp.CSS("#webhook-form button[type=submit]")))
		msg := tb.waitText("#max-in-flight-error", "max_in_flight", 10*time.Second)
		if !strings.Contains(msg, "500") {
			t.Errorf("beside max_in_flight the form says %q, want the API's error naming the limit", msg)
		}
		if n := tb.count("#rate-limit-error"); n != 0 {
			t.Error("the error is shown beside rate_limit too")
		}
		tb.shot("throttle-error", desktop)
		api(t, base, key, "GET", "/v1/projects/acme/webhooks/small", "", &w)
		if w.MaxInFlight != 5 {
			t.Errorf("a refused update changed max_in_flight to %d", w.MaxInFlight)
		}
	})
}
