package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/jobhooks/jobhooks/shared/devtools/emulator"
	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
)

// The console in a real browser: Debian's headless Chromium, driven over the DevTools protocol,
// against the API function's real handler on the emulators (pipelinetest). One stack and one
// browser serve every browser test; each test opens its own tab, so session storage (where
// the console keeps its credential) starts empty.

func TestMain(m *testing.M) { os.Exit(pipelinetest.Main(m)) }

// chromiumPath finds Chromium: skipped locally when it is missing, a failure in CI.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(emulator.RequiredEnv) == "1" {
		t.Fatal("chromium is required for the console's browser tests (apt-get install chromium)")
	}
	t.Skip("skipping browser tests: chromium is not installed (apt-get install chromium)")
	return ""
}

// browser is a running headless Chromium.
type browser struct {
	ctx         context.Context
	screenshots string
}

// startBrowser starts Chromium for the test and stops it at the end.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("lang", "en-GB"),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The test's own directory by default, never the repository's .dev, which may be a running
	// local stack's state; JOBHOOKS_SCREENSHOTS keeps them where one can look at them.
	dir := os.Getenv("JOBHOOKS_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &browser{ctx: ctx, screenshots: dir}
}

// tab is one browser tab, watched for everything a page must never do: open a dialog, throw,
// break its Content-Security-Policy, or request something other than the console and the API.
type tab struct {
	t   *testing.T
	b   *browser
	ctx context.Context

	mu       sync.Mutex
	dialogs  []string
	problems []string
	requests []string
}

func (b *browser) tab(t *testing.T) *tab {
	t.Helper()
	tb := &tab{t: t, b: b}
	var ctx context.Context
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithListener(func(ev any) {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		switch e := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			tb.dialogs = append(tb.dialogs, e.Message)
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		case *runtime.EventExceptionThrown:
			tb.problems = append(tb.problems, "exception: "+e.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			// A 4xx the console expects (a refused link) is logged as a network error: not a problem.
			if e.Entry.Level == log.EntryLevelError && e.Entry.Source != log.EntrySourceNetwork {
				tb.problems = append(tb.problems, "console error: "+e.Entry.Text)
			}
		case *network.EventRequestWillBeSent:
			tb.requests = append(tb.requests, e.Request.URL)
		}
	}))
	tb.ctx = ctx
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		if len(tb.dialogs) > 0 {
			t.Errorf("the page opened dialogs: %q", tb.dialogs)
		}
		for _, p := range tb.problems {
			t.Errorf("the page reported: %s", p)
		}
		cancel()
	})
	return tb
}

// run runs browser actions with a deadline, failing the test with what was on the page.
func (tb *tab) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v\npage: %.600s", what, err, tb.body())
	}
}

// body is the page's text now, for failure messages.
func (tb *tab) body() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	return s
}

// value runs an action that returns a value, with a deadline.
func value[T any](tb *tab, what string, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.t.Fatalf("%s: %v\npage: %.600s", what, err, tb.body())
	}
	return v
}

// text returns the text of the first element matching sel once it is visible.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	tb.run("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	return value(tb, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// waitText waits until the element sel's text contains want.
func (tb *tab) waitText(sel, want string, timeout time.Duration) string {
	tb.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).innerText || ""`, sel)))
		cancel()
		if err == nil && strings.Contains(s, want) {
			return s
		}
		if time.Now().After(deadline) {
			tb.t.Fatalf("waited %s for %s to say %q; it says %q; page: %.800s", timeout, sel, want, s, tb.body())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// count is the number of elements matching sel now.
func (tb *tab) count(sel string) int {
	tb.t.Helper()
	return value(tb, "count "+sel, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
}

// eval runs JavaScript in the page, awaits its promise and returns its value.
func eval[T any](tb *tab, js string) T {
	tb.t.Helper()
	return value(tb, "evaluate", chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// Widths the screenshots are taken at.
var (
	desktop = [2]int64{1280, 900}
	phone   = [2]int64{390, 844}
)

// shot saves a full-page screenshot at each width into the artifacts directory, as
// <name>-desktop.png and <name>-phone.png, and leaves the tab at desktop width.
func (tb *tab) shot(name string, widths ...[2]int64) {
	tb.t.Helper()
	if len(widths) == 0 {
		widths = [][2]int64{desktop, phone}
	}
	for _, w := range widths {
		suffix := "desktop"
		if w == phone {
			suffix = "phone"
		}
		tb.run("resize", chromedp.EmulateViewport(w[0], w[1]), chromedp.Sleep(300*time.Millisecond)) // layout (and the chart) after the resize
		png := value(tb, "screenshot "+name, chromedp.FullScreenshot(100))
		path := filepath.Join(tb.b.screenshots, name+"-"+suffix+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			tb.t.Fatal(err)
		}
	}
	tb.run("desktop width", chromedp.EmulateViewport(desktop[0], desktop[1]))
}

// requested returns the URLs requested so far that contain s.
func (tb *tab) requested(s string) []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []string
	for _, u := range tb.requests {
		if strings.Contains(u, s) {
			out = append(out, u)
		}
	}
	return out
}

// hash moves the console to a route (#/...) without reloading the page, as a click on a link
// does; chromedp's Navigate waits for a load that a fragment change never fires.
func (tb *tab) hash(h string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`location.hash = %q`, h)))
		return err
	})
}
