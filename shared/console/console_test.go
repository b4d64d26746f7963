package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
	"github.com/jobhooks/jobhooks/shared/store"
)

// hostile is what a receiver or a webhook's owner might write to attack the console's readers.
// Rendered as markup, the img would be requested (same origin, so the policy allows it) and
// the scripts would try to open a dialog.
const hostile = `<script>alert("xss")</script><img src="/console/xss-probe.png" onerror="alert('img')">`

// api calls the management API with an API key, for the tests' own setup.
func api(t *testing.T, base, key, method, path, body string, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("x-goog-api-key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
	}
	var secret struct {
		New string `json:"new_signing_secret"`
	}
	_ = json.Unmarshal(b, &secret)
	if secret.New != "" {
		pipelinetest.Logs.Watch(secret.New, strings.TrimPrefix(secret.New, "whsec_"))
	}
}

// link creates a portal link and returns its URL (its token watched in the logs).
func link(t *testing.T, base, key, project, body string) string {
	t.Helper()
	var out struct{ URL string }
	api(t, base, key, "POST", "/v1/projects/"+project+":createPortalLink", body, &out)
	_, token, _ := strings.Cut(out.URL, "#token=")
	pipelinetest.Logs.Watch(token)
	return out.URL
}

func jobEvent(project, id, typ string) string {
	return `{"id":"` + id + `","project":"` + project + `","type":"` + typ +
		`","timestamp":"2026-11-28T10:00:00Z","data":{"id":"batches/` + id + `"}}`
}

// TestConsole drives every page and action of the console in Chromium. The subtests share one
// stack and one browser (starting each takes seconds) and run in order.
func TestConsole(t *testing.T) {
	chromiumPath(t)
	s := pipelinetest.Start(t, pipelinetest.Options{})
	base := s.API(t)
	key := s.APIKey(t, "acme")
	betaKey := s.APIKey(t, "beta")
	b := startBrowser(t)
	console := base + "/console/"

	// A receiver that fails first with a hostile body, then accepts: the failed delivery has an
	// attempt to show, and a retry succeeds.
	flaky := pipelinetest.NewReceiver(t, pipelinetest.OK,
		pipelinetest.Reply{Status: 404, Body: []byte("not here: " + hostile)},
		pipelinetest.Reply{Status: 409, Body: []byte("conflict")})
	api(t, base, key, "POST", "/v1/projects/acme/webhooks?webhook_id=billing",
		`{"display_name":`+quote(hostile)+`,"url":`+quote(flaky.URL)+`,"subscribed_events":["batch.succeeded","batch.failed"]}`, nil)
	s.Publish(t, jobEvent("acme", "job-1", "batch.succeeded"), nil)
	s.Publish(t, jobEvent("acme", "job-2", "batch.failed"), nil)
	ok := pipelinetest.NewReceiver(t, pipelinetest.OK)
	api(t, base, betaKey, "POST", "/v1/projects/beta/webhooks?webhook_id=beta-only",
		`{"display_name":"Beta's private hook","url":"https://beta-private.example.com/h","subscribed_events":["batch.succeeded"]}`, nil)
	waitFailed(t, base, key, "billing", 2)

	t.Run("SignInWithAKey_CreateAWebhook_PingIt_SeeItDelivered", func(t *testing.T) {
		tb := b.tab(t)
		tb.run("open", chromedp.Navigate(console), chromedp.WaitVisible(chromedp.CSS("#sign-in")))
		tb.shot("sign-in")
		tb.run("sign in",
			chromedp.SendKeys(chromedp.CSS("#project"), "acme"),
			chromedp.SendKeys(chromedp.CSS("#api-key"), key),
			chromedp.Click(chromedp.CSS("#sign-in button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("#webhooks")))
		if who := tb.text("#who-project"); who != "acme" {
			t.Errorf("signed in as %q, want acme", who)
		}
		tb.run("new webhook", chromedp.Click(chromedp.CSS("#new-webhook")), chromedp.WaitVisible(chromedp.CSS("#webhook-form")))
		tb.run("fill",
			chromedp.SendKeys(chromedp.CSS("#display-name"), "Orders service"),
			chromedp.SendKeys(chromedp.CSS("#url"), ok.URL))
		tb.shot("create")
		tb.run("create", chromedp.Click(chromedp.CSS("#webhook-form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#secret-shown")))
		secret := value(tb, "secret", chromedp.Value(chromedp.CSS("#new-secret")))
		if !strings.HasPrefix(secret, "whsec_") || len(secret) != 50 {
			t.Errorf("the new secret shown is %q, want whsec_ and 44 characters", secret)
		}
		pipelinetest.Logs.Watch(secret, strings.TrimPrefix(secret, "whsec_"))
		tb.shot("secret")
		tb.run("continue", chromedp.Click(chromedp.CSS("#secret-done")), chromedp.WaitVisible(chromedp.CSS("#ping")))
		if n := tb.count("#new-secret"); n != 0 {
			t.Errorf("the secret is still on the page after continuing")
		}
		tb.run("ping", chromedp.Click(chromedp.CSS("#ping")))
		tb.waitText("#ping-result", "delivered", 45*time.Second)
		tb.waitText("#delivery-list", "webhook.ping", 10*time.Second)
		if ok.Count() != 1 {
			t.Errorf("the endpoint got %d requests, want the ping", ok.Count())
		}
		tb.shot("webhook")
		// The list shows the new webhook healthy with its last delivery.
		tb.run("list", tb.hash("#/"), chromedp.WaitVisible(chromedp.CSS("#webhooks")))
		row := tb.waitText(`#webhooks tr[data-webhook]:not([data-webhook="billing"])`, "delivered", 10*time.Second)
		for _, want := range []string{"Orders service", ok.URL, "healthy", "batch.succeeded"} {
			if !strings.Contains(row, want) {
				t.Errorf("the list's row %q lacks %q", row, want)
			}
		}
		// "Last delivery" counts from its last attempt, not from when the delivery was created.
		var newest struct {
			Deliveries []struct {
				CreateTime      string `json:"create_time"`
				LastAttemptTime string `json:"last_attempt_time"`
			}
		}
		api(t, base, key, "GET", "/v1/projects/acme/webhooks/billing/deliveries?page_size=1", "", &newest)
		shown := eval[string](tb, `document.querySelector('#webhooks tr[data-webhook="billing"] td:last-child time')?.getAttribute("datetime") || ""`)
		if len(newest.Deliveries) != 1 || shown != newest.Deliveries[0].LastAttemptTime {
			t.Errorf("billing's last delivery is shown as of %q, want its last attempt %+v", shown, newest.Deliveries)
		}
		tb.shot("webhooks")
		tb.run("verify page", chromedp.Click(chromedp.CSS(`[data-nav="verify"]`)), chromedp.WaitVisible(chromedp.CSS("#go-snippet")))
		if n := tb.text("#node-snippet"); !strings.Contains(n, "standardwebhooks") {
			t.Errorf("the Node snippet is %q", n)
		}
		tb.shot("verify")
		tb.run("sign out", chromedp.Click(chromedp.CSS("#sign-out")), chromedp.WaitVisible(chromedp.CSS("#sign-in")))
		stored := eval[string](tb, `sessionStorage.getItem("jobhooks") || ""`)
		if stored != "" {
			t.Errorf("signing out left %q in session storage", stored)
		}
	})

	t.Run("HostileStringsStayText_AFailingDeliveryShowsItsAttempts_RetryAndReplay", func(t *testing.T) {
		tb := b.tab(t)
		tb.run("open link", chromedp.Navigate(link(t, base, key, "acme", `{"ttl":"3600s"}`)), chromedp.WaitVisible(chromedp.CSS("#webhooks")))
		href := eval[string](tb, `location.href`)
		if strings.Contains(href, "token") {
			t.Errorf("the token stayed in the address bar: %s", href)
		}
		name := tb.text(`tr[data-webhook="billing"] td`)
		if !strings.Contains(name, hostile) {
			t.Errorf("the display name reads %q, want the literal %q", name, hostile)
		}
		tb.run("open webhook", tb.hash("#/webhooks/billing"), chromedp.WaitVisible(chromedp.CSS("#delivery-list")))
		if title := tb.text("#webhook-title"); title != hostile {
			t.Errorf("the title reads %q", title)
		}
		tb.waitText("#chart", "failed 2", 10*time.Second)
		tb.run("filter", chromedp.SetValue(chromedp.CSS("#state-filter"), "FAILED"),
			chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
				_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#state-filter").dispatchEvent(new Event("change"))`))
				return err
			}))
		tb.waitText("#delivery-list", "batch.failed", 10*time.Second)
		if n := tb.count("#delivery-list tr[data-delivery]"); n != 2 {
			t.Errorf("the FAILED filter shows %d deliveries, want 2", n)
		}
		tb.shot("deliveries")
		// The delivery that got the hostile 404 (the receiver's first answer).
		tb.run("open delivery", tb.hash("#/webhooks/billing/deliveries/"+deliveryWith(t, base, key, "billing", 404)),
			chromedp.WaitVisible(chromedp.CSS("#attempts")))
		att := tb.text("#attempts")
		for _, want := range []string{"HTTP 404", "not here: " + hostile, "ms"} {
			if !strings.Contains(att, want) {
				t.Errorf("the attempt reads %q, lacking %q", att, want)
			}
		}
		tb.shot("delivery")
		tb.run("retry", chromedp.Click(chromedp.CSS("#retry")))
		tb.waitText("main", "Queued again", 10*time.Second)
		tb.waitText("#attempts", "HTTP 200", 45*time.Second) // the page reloads itself
		if n := tb.count(`#attempts img, main img, main script`); n != 0 {
			t.Errorf("%d img or script elements were created from stored strings", n)
		}
		if got := tb.requested("xss-probe"); len(got) != 0 {
			t.Errorf("the hostile img was requested: %q", got)
		}
		// Replay the other failed delivery (the one that got 409).
		// The chart and the list load after the page and push the form down: wait for both, or the
		// click lands where the button was.
		tb.run("webhook", tb.hash("#/webhooks/billing"), chromedp.WaitVisible(chromedp.CSS("#chart svg")),
			chromedp.WaitVisible(chromedp.CSS("#delivery-list")), chromedp.WaitVisible(chromedp.CSS("#replay")))
		tb.run("replay", chromedp.Click(chromedp.CSS("#replay button[type=submit]")))
		tb.waitText("#replay-result", "1 delivery queued again", 15*time.Second)
		waitDelivered(t, base, key, "billing", 2)
	})

	t.Run("RotateTheSecret_ShownOnceWithTheGracePeriodExplained", func(t *testing.T) {
		tb := b.tab(t)
		tb.run("open link", chromedp.Navigate(link(t, base, key, "acme", "")), chromedp.WaitVisible(chromedp.CSS("#webhooks")))
		tb.run("webhook", tb.hash("#/webhooks/billing"), chromedp.WaitVisible(chromedp.CSS("#rotate")))
		tb.run("rotate", chromedp.Click(chromedp.CSS("#rotate")), chromedp.WaitVisible(chromedp.CSS("#modal-ok")))
		if text := tb.text("#modal-text"); !strings.Contains(text, "24 hours") {
			t.Errorf("the rotation dialog says %q, not the grace period", text)
		}
		tb.shot("rotate-confirm", desktop)
		tb.run("confirm", chromedp.Click(chromedp.CSS("#modal-ok")), chromedp.WaitVisible(chromedp.CSS("#secret-shown")))
		secret := value(tb, "secret", chromedp.Value(chromedp.CSS("#new-secret")))
		pipelinetest.Logs.Watch(secret, strings.TrimPrefix(secret, "whsec_"))
		if !strings.HasPrefix(secret, "whsec_") {
			t.Errorf("the rotation shows %q", secret)
		}
		tb.run("done", chromedp.Click(chromedp.CSS("#secret-done")), chromedp.WaitVisible(chromedp.CSS("#ping")))
		facts := tb.text(".facts")
		if strings.Contains(facts, secret[6:]) || !strings.Contains(facts, "stops signing") {
			t.Errorf("after the rotation the page shows %q: want two truncated secrets, the old one expiring", facts)
		}
	})

	t.Run("EditDisableEnableAndDeleteWithAConfirmation", func(t *testing.T) {
		api(t, base, key, "POST", "/v1/projects/acme/webhooks?webhook_id=temp",
			`{"url":"https://temp.example.com/h","subscribed_events":["video.generated"]}`, nil)
		tb := b.tab(t)
		tb.run("open link", chromedp.Navigate(link(t, base, key, "acme", "")), chromedp.WaitVisible(chromedp.CSS("#webhooks")))
		tb.run("edit", tb.hash("#/webhooks/temp/edit"), chromedp.WaitVisible(chromedp.CSS("#webhook-form")))
		tb.shot("edit", desktop)
		tb.run("rename", chromedp.SendKeys(chromedp.CSS("#display-name"), "Video pipeline"),
			chromedp.Click(chromedp.CSS("#webhook-form button[type=submit]")))
		tb.waitText("#webhook-title", "Video pipeline", 10*time.Second)
		tb.run("disable", chromedp.Click(chromedp.CSS("#toggle")))
		tb.waitText("main .page-head", "disabled", 10*time.Second)
		tb.run("enable", chromedp.Click(chromedp.CSS("#toggle")))
		tb.waitText("main .page-head", "enabled", 10*time.Second)
		tb.run("delete", chromedp.Click(chromedp.CSS("#delete")), chromedp.WaitVisible(chromedp.CSS("#modal-ok")))
		tb.run("cancel", chromedp.Click(chromedp.CSS("#modal-cancel")))
		if tb.count("#webhook-title") != 1 {
			t.Fatal("cancelling the confirmation left the page")
		}
		tb.run("delete", chromedp.Click(chromedp.CSS("#delete")), chromedp.WaitVisible(chromedp.CSS("#modal-ok")),
			chromedp.Click(chromedp.CSS("#modal-ok")), chromedp.WaitVisible(chromedp.CSS("#webhooks")))
		if n := tb.count(`tr[data-webhook="temp"]`); n != 0 {
			t.Error("the deleted webhook is still listed")
		}
	})

	t.Run("ReadOnlyLink_HasNoButtonsThatChange_AndTheAPIRefusesAnyway", func(t *testing.T) {
		tb := b.tab(t)
		tb.run("open link", chromedp.Navigate(link(t, base, key, "acme", `{"read_only":true}`)), chromedp.WaitVisible(chromedp.CSS("#webhooks")))
		if badge := tb.text("#who-badge"); !strings.Contains(badge, "read-only") {
			t.Errorf("the header says %q, not read-only", badge)
		}
		if n := tb.count("#new-webhook"); n != 0 {
			t.Error("a read-only link offers New webhook")
		}
		tb.run("webhook", tb.hash("#/webhooks/billing"), chromedp.WaitVisible(chromedp.CSS("#delivery-list")))
		if n := tb.count("#ping, #edit, #toggle, #rotate, #delete, #replay, main button.primary, main button.danger"); n != 0 {
			t.Errorf("a read-only link shows %d buttons that change things", n)
		}
		tb.shot("read-only")
		tb.run("delivery", chromedp.Click(chromedp.CSS(`#delivery-list tr[data-delivery] a`)), chromedp.WaitVisible(chromedp.CSS("#attempts")))
		if n := tb.count("#retry"); n != 0 {
			t.Error("a read-only link offers Retry")
		}
		status := eval[int](tb, `fetch("/v1/projects/acme/webhooks/billing:ping", {method: "POST",
			headers: {Authorization: "Bearer " + JSON.parse(sessionStorage.getItem("jobhooks")).token}}).then(r => r.status)`)
		if status != http.StatusForbidden {
			t.Errorf("the API answered a read-only ping with %d, want 403", status)
		}
	})

	t.Run("ExpiredLink_IsRefused", func(t *testing.T) {
		tb := b.tab(t)
		u := link(t, base, key, "acme", `{"ttl":"1s"}`)
		time.Sleep(1500 * time.Millisecond)
		tb.run("open link", chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS("#sign-in")))
		if msg := tb.text("#sign-in .error"); !strings.Contains(msg, "expired") {
			t.Errorf("an expired link shows %q", msg)
		}
		if n := tb.count("#webhooks"); n != 0 {
			t.Error("an expired link shows webhooks")
		}
		// The page noticed by itself; the API refuses the token anyway.
		_, token, _ := strings.Cut(u, "#token=")
		status := eval[int](tb, `fetch("/v1/projects/acme/webhooks", {headers: {Authorization: "Bearer `+token+`"}}).then(r => r.status)`)
		if status != http.StatusUnauthorized {
			t.Errorf("the API answered an expired link with %d, want 401", status)
		}
		tb.shot("expired", desktop)
	})

	t.Run("ALinkForProjectA_NeverShowsProjectB", func(t *testing.T) {
		tb := b.tab(t)
		tb.run("open link", chromedp.Navigate(link(t, base, key, "acme", `{"webhooks":["billing"]}`)), chromedp.WaitVisible(chromedp.CSS("#webhooks")))
		if n := tb.count("#webhooks tr[data-webhook]"); n != 1 {
			t.Errorf("a link for billing lists %d webhooks", n)
		}
		if n := tb.count("#new-webhook"); n != 0 {
			t.Error("a link limited to one webhook offers New webhook")
		}
		// Whatever the page is told, the API answers for acme only.
		eval[bool](tb, `(() => { const s = JSON.parse(sessionStorage.getItem("jobhooks")); s.project = "beta";
			sessionStorage.setItem("jobhooks", JSON.stringify(s)); location.hash = "#/webhooks/beta-only"; return true })()`)
		tb.waitText("main", "not found", 10*time.Second)
		tb.run("beta's list", tb.hash("#/"), chromedp.Sleep(time.Second))
		body := tb.body()
		for _, secret := range []string{"Beta's private hook", "beta-private.example.com", "beta-only"} {
			if strings.Contains(body, secret) {
				t.Errorf("an acme link shows beta's %q", secret)
			}
		}
	})

	t.Run("DeadLetters_NewestFirstAsText_AndNotForALinkLimitedToWebhooks", func(t *testing.T) {
		// A delivery whose window closed (recorded as DeadLetter records one: the shared stack's
		// clock must not jump a day), then real poison events through Dispatch and DeadLetter: one
		// with a hostile id (the reason quotes it), one with hostile data and no timestamp, and
		// beta's, which acme never sees.
		var ds struct{ Deliveries []struct{ Name string } }
		api(t, base, key, "GET", "/v1/projects/acme/webhooks/billing/deliveries", "", &ds)
		did := ds.Deliveries[0].Name[strings.LastIndex(ds.Deliveries[0].Name, "/")+1:]
		if err := s.Store.RecordDeadLetter(context.Background(), store.DeadLetter{ID: "dl-exhausted", Kind: "delivery",
			Reason: "window_exhausted", Project: "acme", EventID: "job-1", DeliveryID: did, Webhook: "billing",
			Time: s.Clock.Now().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		s.Publish(t, `{"id":`+quote(hostile)+`,"project":"acme","type":"batch.succeeded","timestamp":"2026-11-28T10:00:00Z","data":{}}`, nil)
		waitDeadLetters(t, base, key, 2)
		s.Publish(t, `{"id":"poison-1","project":"acme","type":"batch.succeeded","data":{"note":"`+strings.ReplaceAll(hostile, `"`, `\"`)+`"}}`, nil)
		s.Publish(t, `{"id":"poison-beta","project":"beta","type":"batch.succeeded","data":{}}`, nil)
		waitDeadLetters(t, base, key, 3)

		tb := b.tab(t)
		tb.run("open link", chromedp.Navigate(link(t, base, key, "acme", `{"read_only":true}`)), chromedp.WaitVisible(chromedp.CSS("#webhooks")))
		tb.run("dead letters", chromedp.Click(chromedp.CSS("#nav-dead-letters")), chromedp.WaitVisible(chromedp.CSS("#dead-letters")))
		if n := tb.count("#dead-letters tr[data-dead-letter]"); n != 3 {
			t.Errorf("the page lists %d dead letters, want acme's 3", n)
		}
		first := tb.text("#dead-letters tbody tr:nth-child(1)")
		for _, want := range []string{"poison job event", "timestamp is missing", "poison-1"} {
			if !strings.Contains(first, want) {
				t.Errorf("the newest row %q lacks %q", first, want)
			}
		}
		if second := tb.text("#dead-letters tbody tr:nth-child(2)"); !strings.Contains(second, `id "<script>`) || !strings.Contains(second, "no readable id") {
			t.Errorf("the second row %q: want the reason quoting the hostile id as text", second)
		}
		last := tb.text("#dead-letters tbody tr:nth-child(3)")
		for _, want := range []string{"delivery", "window_exhausted", "job-1", "billing / " + did} {
			if !strings.Contains(last, want) {
				t.Errorf("the oldest row %q lacks %q", last, want)
			}
		}
		tb.run("open the message", chromedp.Click(chromedp.CSS("#dead-letters tbody tr:nth-child(1) summary")))
		if msg := tb.text("#dead-letters tbody tr:nth-child(1) pre"); !strings.Contains(msg, `<script>alert(\"xss\")</script><img src=`) {
			t.Errorf("the poison event's message reads %q, want the hostile markup as literal text", msg)
		}
		if strings.Contains(tb.body(), "poison-beta") {
			t.Error("acme's page shows beta's poison event")
		}
		if n := tb.count("main img, main script"); n != 0 {
			t.Errorf("%d img or script elements were created from dead letters", n)
		}
		if got := tb.requested("xss-probe"); len(got) != 0 {
			t.Errorf("the hostile img was requested: %q", got)
		}
		tb.shot("dead-letters")
		tb.run("kind filter", chromedp.SetValue(chromedp.CSS("#kind-filter"), "delivery"),
			chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
				_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#kind-filter").dispatchEvent(new Event("change"))`))
				return err
			}))
		tb.waitText("#dead-letters", "window_exhausted", 10*time.Second)
		if n := tb.count("#dead-letters tr[data-dead-letter]"); n != 1 {
			t.Errorf("the delivery filter lists %d, want 1", n)
		}
		tb.run("to the delivery", chromedp.Click(chromedp.CSS("#dead-letters tbody a")), chromedp.WaitVisible(chromedp.CSS("#attempts")))

		limited := b.tab(t)
		limited.run("open a limited link", chromedp.Navigate(link(t, base, key, "acme", `{"webhooks":["billing"]}`)), chromedp.WaitVisible(chromedp.CSS("#webhooks")))
		if n := limited.count("#nav-dead-letters:not([hidden])"); n != 0 {
			t.Error("a link limited to one webhook offers Dead letters")
		}
	})

	t.Run("PhoneWidth_EveryPageFitsWithoutSideways", func(t *testing.T) {
		tb := b.tab(t)
		tb.run("open link", chromedp.Navigate(link(t, base, key, "acme", "")), chromedp.WaitVisible(chromedp.CSS("#webhooks")))
		for _, page := range []string{"#/", "#/webhooks/billing", "#/verify", "#/new", "#/dead-letters"} {
			tb.run("phone "+page, chromedp.EmulateViewport(phone[0], phone[1]), tb.hash(page),
				chromedp.WaitVisible(chromedp.CSS("main h1")), chromedp.Sleep(500*time.Millisecond))
			overflow := eval[bool](tb, `document.documentElement.scrollWidth > window.innerWidth + 1`)
			if overflow {
				t.Errorf("%s scrolls sideways at %d px", page, phone[0])
			}
		}
	})
}

// waitDeadLetters waits until acme lists n dead letters.
func waitDeadLetters(t *testing.T, base, key string, n int) {
	t.Helper()
	pipelinetest.Eventually(t, 60*time.Second, "acme's dead letters", func() bool {
		var out struct {
			DeadLetters []json.RawMessage `json:"dead_letters"`
		}
		api(t, base, key, "GET", "/v1/projects/acme/deadLetters", "", &out)
		return len(out.DeadLetters) >= n
	})
}

// waitFailed waits until webhook id has n FAILED deliveries.
func waitFailed(t *testing.T, base, key, id string, n int) {
	t.Helper()
	waitState(t, base, key, id, "FAILED", n)
}

// waitDelivered waits until webhook id has n DELIVERED deliveries.
func waitDelivered(t *testing.T, base, key, id string, n int) {
	t.Helper()
	waitState(t, base, key, id, "DELIVERED", n)
}

func waitState(t *testing.T, base, key, id, state string, n int) {
	t.Helper()
	pipelinetest.Eventually(t, 60*time.Second, id+" "+state, func() bool {
		var out struct{ Deliveries []json.RawMessage }
		api(t, base, key, "GET", "/v1/projects/acme/webhooks/"+id+"/deliveries?state="+state, "", &out)
		return len(out.Deliveries) >= n
	})
}

// deliveryWith returns the id of a delivery of webhook id whose last answer was status.
func deliveryWith(t *testing.T, base, key, id string, status int) string {
	t.Helper()
	var out struct {
		Deliveries []struct {
			Name           string `json:"name"`
			LastStatusCode int    `json:"last_status_code"`
		}
	}
	api(t, base, key, "GET", "/v1/projects/acme/webhooks/"+id+"/deliveries", "", &out)
	for _, d := range out.Deliveries {
		if d.LastStatusCode == status {
			return d.Name[strings.LastIndex(d.Name, "/")+1:]
		}
	}
	t.Fatalf("no delivery of %s answered %d: %+v", id, status, out.Deliveries)
	return ""
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
