package console_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
)

// TestConsole_APortalLinkNeverReplacesASessionUnasked: login CSRF. A tab signed in to acme that
// is sent to someone else's link (beta's) keeps acme's session until its user says otherwise,
// in the page's own dialog (no browser dialog, nothing inline: the CSP holds). Cancel keeps
// acme and leaves no token in the address bar; Switch signs in to beta. Opening the link the
// tab is already signed in with asks nothing (shared/restapi/README.md, Console security).
func TestConsole_APortalLinkNeverReplacesASessionUnasked(t *testing.T) {
	chromiumPath(t)
	s := pipelinetest.Start(t, pipelinetest.Options{})
	base := s.API(t)
	key := s.APIKey(t, "acme")
	betaKey := s.APIKey(t, "beta")
	api(t, base, key, "POST", "/v1/projects/acme/webhooks?webhook_id=acme-hook",
		`{"url":"https://acme.example.com/h","subscribed_events":["batch.succeeded"]}`, nil)
	b := startBrowser(t)
	tb := b.tab(t)
	project := func() string {
		return eval[string](tb, `(JSON.parse(sessionStorage.getItem("jobhooks")) || {}).project || ""`)
	}

	tb.run("sign in", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.CSS("#sign-in")),
		chromedp.SendKeys(chromedp.CSS("#project"), "acme"),
		chromedp.SendKeys(chromedp.CSS("#api-key"), key),
		chromedp.Click(chromedp.CSS("#sign-in button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#webhooks")))
	attacker := link(t, base, betaKey, "beta", "")

	// The tab is sent to beta's link (a full load, as from another site): it asks first.
	tb.run("open beta's link", chromedp.Navigate("about:blank"), chromedp.Navigate(attacker), chromedp.WaitVisible(chromedp.CSS("#modal")))
	if msg := tb.text("#modal"); !strings.Contains(msg, "beta") || !strings.Contains(msg, "acme") {
		t.Errorf("the dialog says %q, want it to name both projects", msg)
	}
	if p := project(); p != "acme" {
		t.Errorf("while the dialog is open the session is %q's, want acme's", p)
	}
	if h := eval[string](tb, `location.href`); strings.Contains(h, "token") {
		t.Errorf("the address bar still holds the token: %s", h)
	}
	tb.shot("switch-session")
	tb.run("stay", chromedp.Click(chromedp.CSS("#modal-cancel")), chromedp.WaitVisible(chromedp.CSS("#webhooks tr[data-webhook]")))
	if who, p := tb.text("#who-project"), project(); who != "acme" || p != "acme" {
		t.Errorf("after Cancel the tab shows %q and holds %q's session, want acme", who, p)
	}

	// The same link while on the console (a click, no reload): asked again; Switch takes it.
	_, token, _ := strings.Cut(attacker, "#token=")
	tb.run("click beta's link", tb.hash("#token="+token), chromedp.WaitVisible(chromedp.CSS("#modal")))
	tb.run("switch", chromedp.Click(chromedp.CSS("#modal-ok")), chromedp.WaitNotVisible(chromedp.CSS("#modal")))
	tb.waitText("#who-project", "beta", 10*time.Second)
	if p := project(); p != "beta" {
		t.Errorf("after Switch the session is %q's, want beta's", p)
	}
	// The link the tab already holds: nothing to ask.
	tb.run("reopen beta's link", tb.hash("#token="+token), chromedp.Sleep(500*time.Millisecond), chromedp.WaitVisible(chromedp.CSS("main h1")))
	if n := tb.count("#modal:not([hidden])"); n != 0 {
		t.Error("reopening the link the tab is signed in with asks again")
	}
}
