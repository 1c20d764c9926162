package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ctibridge/ctibridge/internal/skipnote"
)

// Viewport of every test page: the size of the README's screenshot.
const (
	viewportWidth  = 1280
	viewportHeight = 800
)

// waitTimeout bounds each wait for the page. Every step of the demo takes
// well under a second; the margin is for a loaded CI machine.
const waitTimeout = 15 * time.Second

// chromiumPath finds the browser: CTIBRIDGE_CHROMIUM, else chromium on the
// PATH. Without one the test skips, but fails under CI so that a CI run
// cannot pass by skipping the browser tests.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CTIBRIDGE_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("CTIBRIDGE_CHROMIUM=%s: %v; point it at the Chromium binary (Debian: apt-get install chromium, then /usr/bin/chromium)", p, err)
		}
		return p
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	const msg = "no Chromium: set CTIBRIDGE_CHROMIUM to the browser binary or put chromium on the PATH (Debian: apt-get install chromium)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI is set, so the browser tests must run")
	}
	skipnote.Skip(t, "e2e: the browser tests", msg)
	return ""
}

// browser is one Chromium tab on the demo's host page, with the page's
// console kept for failure reports and a screenshot at each step.
type browser struct {
	t       *testing.T
	ctx     context.Context
	shots   *screenshots
	console *consoleLog
	// extra, if set, adds to failure reports (another page's state, a
	// server's log).
	extra func() string
}

// newBrowser starts Chromium (execPath, from chromiumPath) with a fresh
// profile and any extra flags; it stops when the test ends.
func newBrowser(t *testing.T, execPath string, flags ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	profile := t.TempDir()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Small containers have a small /dev/shm; Chrome crashes when it
		// fills, so it keeps its shared memory in the temporary directory.
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(viewportWidth, viewportHeight),
	}, flags...)...,
	)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: ctx, shots: newScreenshots(t), console: &consoleLog{}}
	// The first action starts the browser, on a context without a deadline
	// (a deadline there would end the browser with it).
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(viewportWidth, viewportHeight)); err != nil {
		t.Fatalf("start %s: %v", execPath, err)
	}
	b.console.follow(ctx)
	return b
}

// with returns the browser for a subtest: failures go to t.
func (b *browser) with(t *testing.T) *browser {
	c := *b
	c.t = t
	return &c
}

// open loads url and waits until the widget in the CIF panel shows its
// login form and the host page has its call buttons.
func (b *browser) open(url string) {
	b.t.Helper()
	if err := b.do(chromedp.Navigate(url)); err != nil {
		b.fatalf("open %s: %v", url, err)
	}
	b.waitFor("the host page's call buttons", `document.querySelectorAll("#call-buttons button[data-scenario]").length > 0`)
	b.waitFor("the widget's login form", widgetJS(`!w.getElementById("login").hidden && w.getElementById("login-agent") !== null`))
}

// do runs actions with the step deadline.
func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// eval evaluates a JavaScript expression in the host page and decodes its
// value into T; a promise is awaited.
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// waitFor polls a JavaScript condition in the host page until it is true.
// On timeout the test fails at once with the page's state, its console and
// a screenshot.
func (b *browser) waitFor(what, condition string) {
	b.t.Helper()
	if msg := b.poll(what, condition); msg != "" {
		b.t.Fatal(b.report(msg))
	}
}

// expect is waitFor for a check the test can go on after: on timeout the
// test is marked failed and carries on.
func (b *browser) expect(what, condition string) bool {
	b.t.Helper()
	if msg := b.poll(what, condition); msg != "" {
		b.t.Error(b.report(msg))
		return false
	}
	return true
}

// poll evaluates condition until it is true, and returns "" then, or what
// was still missing when waitTimeout passed.
func (b *browser) poll(what, condition string) string {
	js := "!!(" + condition + ")"
	deadline := time.Now().Add(waitTimeout)
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && ok {
			return ""
		}
		if err != nil {
			lastErr = err
		}
		if time.Now().After(deadline) || b.ctx.Err() != nil {
			msg := fmt.Sprintf("waited %s for %s: %s is still false", waitTimeout, what, condition)
			if lastErr != nil {
				msg += fmt.Sprintf(" (last error: %v)", lastErr)
			}
			return msg
		}
		time.Sleep(40 * time.Millisecond)
	}
}

// fatalf fails the test with a screenshot, the demo's state as the page
// shows it and the page's console.
func (b *browser) fatalf(format string, args ...any) {
	b.t.Helper()
	b.t.Fatal(b.report(fmt.Sprintf(format, args...)))
}

// report adds to a failure message what the page shows, its console and
// where the screenshots are, with a screenshot of the moment.
func (b *browser) report(msg string) string {
	if b.ctx.Err() == nil {
		b.screenshot("failure")
		ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
		state, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](pageStateJS))
		cancel()
		if err == nil {
			msg += "\npage state: " + string(state)
		}
	}
	msg += "\nconsole:\n" + b.console.String()
	if b.extra != nil {
		msg += "\n" + b.extra()
	}
	return msg + "\nscreenshots: " + b.shots.dir
}

// screenshot saves the viewport as NN-name.png in the test's screenshot
// directory.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	b.shots.n++
	b.saveScreenshot(filepath.Join(b.shots.dir, fmt.Sprintf("%02d-%s.png", b.shots.n, fileName(name))))
}

func (b *browser) saveScreenshot(path string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err == nil {
		err = os.WriteFile(path, png, 0o644)
	}
	if err != nil {
		// A missing screenshot does not make the demo wrong.
		b.t.Logf("screenshot %s: %v", path, err)
	}
}

// clickHost clicks an element of the host page.
func (b *browser) clickHost(selector string) {
	b.t.Helper()
	if err := b.do(chromedp.Click(chromedp.CSS(selector))); err != nil {
		b.fatalf("click %s in the host page: %v", selector, err)
	}
}

// widgetFrame is the node of the widget's iframe, for queries inside it.
func (b *browser) widgetFrame() *chromedp.Node {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("#cif-frame")))
	if err != nil || len(nodes) == 0 {
		b.fatalf("the widget iframe #cif-frame: %v", err)
	}
	return nodes[0]
}

// clickWidget clicks an element of the widget, with real mouse events.
func (b *browser) clickWidget(selector string) {
	b.t.Helper()
	if err := b.do(chromedp.Click(chromedp.CSS(selector), chromedp.FromNode(b.widgetFrame()))); err != nil {
		b.fatalf("click %s in the widget: %v", selector, err)
	}
}

// typeWidget types text into a widget input, key by key.
func (b *browser) typeWidget(selector, text string) {
	b.t.Helper()
	if err := b.do(chromedp.SendKeys(chromedp.CSS(selector), text, chromedp.FromNode(b.widgetFrame()))); err != nil {
		b.fatalf("type into %s in the widget: %v", selector, err)
	}
}

// chooseWidget picks an option of a widget select box as a user does: the
// value changes and the box fires change.
func (b *browser) chooseWidget(selector, value string) {
	b.t.Helper()
	ok := eval[bool](b, widgetJS(fmt.Sprintf(`(() => {
		const sel = w.querySelector(%q);
		if (!sel || sel.disabled || ![...sel.options].some((o) => o.value === %q)) return false;
		sel.focus();
		sel.value = %q;
		sel.dispatchEvent(new Event("input", { bubbles: true }));
		sel.dispatchEvent(new Event("change", { bubbles: true }));
		return true;
	})()`, selector, value, value)))
	if !ok {
		b.fatalf("choose %q in the widget's %s: the box is missing, disabled or has no such option", value, selector)
	}
}

// widgetJS wraps an expression so that w is the widget's document.
func widgetJS(expr string) string {
	return `((w) => w && (` + expr + `))(document.getElementById("cif-frame").contentDocument)`
}

// pageStateJS sums up what the host page and the widget show, for failure
// messages.
const pageStateJS = `(() => {
	const w = document.getElementById("cif-frame").contentDocument;
	const text = (d, id) => { const e = d && d.getElementById(id); return e ? e.textContent.trim() : null; };
	const data = (d, id) => { const e = d && d.getElementById(id); return e ? { ...e.dataset } : null; };
	return {
		host: {
			pane: data(document, "record-pane"),
			title: text(document, "record-title") || text(document, "search-title") || text(document, "new-title"),
			status: text(document, "demo-status"),
			currentCall: data(document, "current-call"),
			activities: [...document.querySelectorAll("#activity-list tbody tr")].map((r) => r.textContent.trim()),
			activityError: text(document, "activity-error"),
		},
		widget: w && {
			connection: text(w, "connection-status"),
			loginError: text(w, "login-error"),
			error: w.getElementById("error-banner") && !w.getElementById("error-banner").hidden ? text(w, "error-text") : "",
			agentState: data(w, "agent-state"),
			call: data(w, "call-banner"),
			callState: text(w, "call-state"),
			pop: text(w, "pop-outcome"),
			cif: text(w, "cif-status"),
			person: w.getElementById("select-person") && [...w.getElementById("select-person").options].map((o) => o.value + "=" + o.text),
			organisation: w.getElementById("select-organisation") && [...w.getElementById("select-organisation").options].map((o) => o.value + "=" + o.text),
		},
	};
})()`

// screenshots numbers a test's screenshots in its directory.
type screenshots struct {
	dir string
	// root holds the README's screenshot when CTIBRIDGE_E2E_SCREENSHOTS is
	// set; the test's own directory otherwise.
	root string
	n    int
}

func newScreenshots(t *testing.T) *screenshots {
	t.Helper()
	root := os.Getenv("CTIBRIDGE_E2E_SCREENSHOTS")
	if root == "" {
		dir := t.TempDir()
		return &screenshots{dir: dir, root: dir}
	}
	dir := filepath.Join(root, fileName(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("CTIBRIDGE_E2E_SCREENSHOTS=%s: %v", root, err)
	}
	return &screenshots{dir: dir, root: root}
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func fileName(s string) string { return strings.Trim(unsafeFileChars.ReplaceAllString(s, "-"), "-") }

// consoleLog keeps the page's console messages and uncaught exceptions.
type consoleLog struct {
	mu    sync.Mutex
	lines []string
	// exceptions are the uncaught exceptions and unhandled rejections.
	exceptions []string
}

// follow records the console of the tab until ctx ends.
func (c *consoleLog) follow(ctx context.Context) {
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			line := fmt.Sprintf("%s %s:%d %s", m.Type, m.URL, m.Line+1, m.Text)
			c.mu.Lock()
			c.lines = append(c.lines, line)
			if m.IsException() {
				c.exceptions = append(c.exceptions, line)
			}
			c.mu.Unlock()
		}
	}()
}

func (c *consoleLog) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.lines) == 0 {
		return "  (nothing)"
	}
	return "  " + strings.Join(c.lines, "\n  ")
}

// Exceptions returns the uncaught exceptions seen so far.
func (c *consoleLog) Exceptions() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.exceptions...)
}
