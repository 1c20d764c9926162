package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ctibridge/ctibridge/internal/skipnote"
)

// axeSource is axe-core, the accessibility rules engine, which .ci/run
// installs from e2e/axe's lockfile. Without it the accessibility test skips
// (fails under CI).
func axeSource(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("axe", "node_modules", "axe-core", "axe.min.js"))
	if err == nil {
		return string(src)
	}
	const msg = "e2e/axe/node_modules/axe-core is missing: run `npm ci` in e2e/axe (Debian: apt-get install npm)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI is set, so the accessibility checks must run")
	}
	skipnote.Skip(t, "e2e: the widget's accessibility checks", msg)
	return ""
}

// axeViolation is one failed axe rule, with the elements that fail it.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// checkAxe runs axe-core's WCAG 2.1 A and AA rules on the widget as it is
// now, and fails the test with every violation.
func (b *browser) checkAxe(state string) {
	b.t.Helper()
	got := eval[[]axeViolation](b, widgetJS(`w.defaultView.axe.run(w, {
		runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
		resultTypes: ["violations"],
	}).then((r) => r.violations.map((v) => ({id: v.id, impact: v.impact || "", help: v.help,
		nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" "))})))`))
	for _, v := range got {
		b.t.Errorf("axe, widget %s: %s (%s): %s, at %s", state, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "; "))
	}
}

// injectAxe loads axe-core into the widget's frame. The test's browser
// bypasses the page's Content-Security-Policy for it (Page.setBypassCSP):
// the widget's CSP allows its own scripts only.
func (b *browser) injectAxe(src string) {
	b.t.Helper()
	srcJSON, _ := json.Marshal(src)
	eval[bool](b, widgetJS(`(w.defaultView.eval(`+string(srcJSON)+`), typeof w.defaultView.axe === "object")`))
}

// panelSize sets the CIF panel's frame to width × height CSS pixels (height
// 0 keeps it as tall as the page). A 300 px panel at 200% zoom is a 150 px
// one: the browser's zoom halves the CSS pixels the page lays out in.
func (b *browser) panelSize(width, height int) {
	b.t.Helper()
	h := "''"
	if height > 0 {
		h = fmt.Sprintf("'%dpx'", height)
	}
	eval[bool](b, fmt.Sprintf(`(() => {
		document.documentElement.style.setProperty("--panel-width", "%dpx");
		const f = document.getElementById("cif-frame");
		f.style.width = "%dpx"; f.style.flex = %s ? "none" : ""; f.style.height = %s;
		return true;
	})()`, width+2, width, h, h))
	b.waitFor(fmt.Sprintf("the widget to be %d px wide", width), widgetJS(fmt.Sprintf(`w.documentElement.clientWidth === %d`, width)))
}

// reflowJS finds what makes the widget scroll sideways, or squeezes a
// value into a sliver: "" when nothing does.
const reflowJS = `(() => {
	const out = [];
	const root = w.documentElement;
	if (root.scrollWidth > root.clientWidth) out.push("the page scrolls sideways: " + root.scrollWidth + " > " + root.clientWidth);
	for (const el of w.querySelectorAll("body *")) {
		const r = el.getBoundingClientRect();
		if (r.width === 0 || el.closest(".visually-hidden")) continue;
		if (r.right > root.clientWidth + 0.5) out.push("#" + (el.id || el.tagName) + " ends at " + Math.round(r.right));
	}
	for (const dd of w.querySelectorAll(".call-facts dd")) {
		if (dd.getClientRects().length && dd.getBoundingClientRect().width < 48) out.push(dd.id + " is " + dd.getBoundingClientRect().width + " px wide");
	}
	const num = w.getElementById("call-number");
	if (num && num.offsetParent && num.textContent && !/\s/.test(num.textContent)) {
		const lh = parseFloat(w.defaultView.getComputedStyle(num).lineHeight) || 24;
		if (num.getBoundingClientRect().height > lh * 1.5) out.push("the number " + num.textContent + " breaks across lines");
	}
	return out.join("; ");
})()`

// checkReflow fails the test when the widget does not reflow at the
// panel's width (WCAG 1.4.10).
func (b *browser) checkReflow(state string, width int) {
	b.t.Helper()
	if got := eval[string](b, widgetJS(reflowJS)); got != "" {
		b.screenshot(fmt.Sprintf("reflow-%d-%s", width, state))
		b.t.Errorf("widget %s at %d px (a %d px panel at 200%% zoom): %s", state, width, 2*width, got)
	}
}

// checkStateEverywhere runs the accessibility and reflow checks on the
// widget's current state, at the usual panel width and at 200% zoom of a
// 300 and a 400 px panel, and goes back to the usual width.
func (b *browser) checkStateEverywhere(state string) {
	b.t.Helper()
	b.checkAxe(state)
	for _, w := range []int{150, 200} {
		b.panelSize(w, 0)
		b.checkReflow(state, w)
	}
	b.panelSize(340, 0)
}

// countSocketMessages makes the widget count the messages it sends by type,
// in w.defaultView.__sent.
const countSocketMessages = `(() => {
	const win = w.defaultView;
	if (win.__sent) return true;
	win.__sent = {};
	const send = win.WebSocket.prototype.send;
	win.WebSocket.prototype.send = function (data) {
		try { const t = JSON.parse(data).type; win.__sent[t] = (win.__sent[t] || 0) + 1; } catch {}
		return send.call(this, data);
	};
	return true;
})()`

func sentCount(b *browser, typ string) int {
	b.t.Helper()
	return eval[int](b, widgetJS(fmt.Sprintf(`w.defaultView.__sent[%q] || 0`, typ)))
}

// placeCallQuietly places a demo call through the demo's API from the host
// page's script, without a click, so that focus stays where the agent left
// it in the widget.
func (b *browser) placeCallQuietly(scenario string) string {
	b.t.Helper()
	id := eval[string](b, fmt.Sprintf(`fetch("/demo/api/calls", {method: "POST", headers: {"Content-Type": "application/json"},
		body: JSON.stringify({agentId: document.getElementById("agent-select").value, scenario: %q})}).then((r) => r.json()).then((j) => j.interactionId || "")`, scenario))
	if id == "" {
		b.fatalf("the demo refused the %s call", scenario)
	}
	b.waitFor("the widget to show call "+id, widgetJS(fmt.Sprintf(`w.getElementById("call-banner").dataset.interactionId === %q`, id)))
	return id
}

func activeID(b *browser) string {
	b.t.Helper()
	return eval[string](b, widgetJS(`w.activeElement ? w.activeElement.id : ""`))
}

// TestWidgetForKeyboardZoomAndScreenReaders takes the widget through its
// states, from the login form to a wrapped call, and checks at each: axe's
// WCAG 2.1 A/AA rules, reflow without sideways scrolling at 200% zoom of a
// 300 and a 400 px panel, where focus goes when a call arrives and after a
// wrap, what the polite status says, that browsing the relate boxes with
// the arrow keys relates the call once, that Wrap is in reach on a 600 px
// panel, that a double click dials once, and that errors go with their call.
func TestWidgetForKeyboardZoomAndScreenReaders(t *testing.T) {
	chromium := chromiumPath(t)
	axe := axeSource(t)
	d := startDemo(t, nil)
	b := newBrowser(t, chromium)
	t.Cleanup(b.checkNoExceptions)
	if _, err := chromedp.Call(b.ctx, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	b.open(d.BaseURL + "/demo/")
	b.injectAxe(axe)
	b.checkStateEverywhere("login form")
	b.logIn(agent(t))
	b.injectAxe(axe) // the frame was not reloaded, but be sure
	eval[bool](b, widgetJS(countSocketMessages))
	b.checkStateEverywhere("ready, no call")

	b.expect("the timer outside every live region", widgetJS(
		`w.getElementById("call-timer").closest('[aria-live]:not([aria-live="off"]), [role="status"], [role="alert"], [role="log"]') === null`))

	t.Run("a call arriving takes focus from the disabled Ready button to the call", func(t *testing.T) {
		b := b.with(t)
		eval[bool](b, widgetJS(`(w.getElementById("state-toggle").focus(), true)`))
		if got := activeID(b); got != "state-toggle" {
			t.Skipf("the widget did not take focus in this browser (active: %q)", got)
		}
		id := b.placeCallQuietly("inbound-several")
		defer endCallIfFailed(t, d, agent(t).ID, id)
		b.waitPop("search")
		b.waitFor("focus on the call banner", widgetJS(`w.activeElement && w.activeElement.id === "call-banner"`))
		b.waitConnected()
		b.expect("the status to announce the call", widgetJS(`w.getElementById("agent-announce").textContent.startsWith("On call: ")`))
		b.checkStateEverywhere("on a call with several matches")

		// Wrap in reach on a 600 px panel, without scrolling.
		b.panelSize(340, 600)
		b.expect("Wrap visible at the bottom of a 600 px panel", widgetJS(`(() => {
			const s = w.getElementById("wrap-submit"), r = s.getBoundingClientRect();
			return w.scrollingElement.scrollTop === 0 && r.top >= 0 && r.bottom <= w.defaultView.innerHeight &&
				w.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) === s;
		})()`))
		b.panelSize(340, 0)

		// Browsing the Person box with the arrow keys relates once, after
		// the pause, to where the agent stopped.
		before := sentCount(b, "relate")
		eval[bool](b, widgetJS(`(w.getElementById("select-person").focus(), true)`))
		if err := b.do(chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowDown)); err != nil {
			t.Fatal(err)
		}
		moved := eval[string](b, widgetJS(`w.getElementById("select-person").value`))
		if moved == "" {
			t.Fatal("the arrow keys did not move the Person box's choice")
		}
		if n := sentCount(b, "relate") - before; n != 0 {
			t.Errorf("browsing the Person box sent %d relate message(s) at once, want none before the pause", n)
		}
		b.waitFor("the relate after the pause", widgetJS(fmt.Sprintf(`(w.defaultView.__sent.relate || 0) === %d`, before+1)))
		if err := b.do(chromedp.KeyEvent(kb.Enter), chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
		if n := sentCount(b, "relate") - before; n != 1 {
			t.Errorf("arrowing twice, pausing, Enter and Tab sent %d relate messages, want 1", n)
		}

		// The missing wrap code is said beside its field, not in the banner,
		// and goes once a code is chosen; focus moves on after the wrap.
		b.hangUp(id)
		eval[bool](b, widgetJS(`(w.getElementById("wrap-submit").focus(), w.getElementById("wrap-submit").click(), true)`))
		b.waitFor("the missing wrap code said beside its field", widgetJS(
			`!w.getElementById("wrap-error").hidden && w.getElementById("wrap-error").textContent === "Choose a wrap code." && w.getElementById("error-banner").hidden`))
		b.checkAxe("wrap code missing")
		b.chooseWidget("#wrap-code", "3")
		b.expect("the wrap-code error gone once a code is chosen", widgetJS(`w.getElementById("wrap-error").hidden`))
		eval[bool](b, widgetJS(`(w.getElementById("wrap-submit").focus(), w.getElementById("wrap-submit").click(), true)`))
		b.waitFor("the call wrapped", widgetJS(`w.getElementById("call-banner").dataset.state === "idle"`))
		b.waitFor("focus on the Ready/Pause button after the wrap", widgetJS(`w.activeElement && w.activeElement.id === "state-toggle"`))
		b.expect("the status to announce Ready", widgetJS(`w.getElementById("agent-announce").textContent === "Ready"`))
		b.checkStateEverywhere("wrapped")
	})

	t.Run("a preview takes focus to Dial, and a double click dials once", func(t *testing.T) {
		b := b.with(t)
		eval[bool](b, widgetJS(`(w.getElementById("state-toggle").focus(), true)`))
		// A known contact's preview: its pop opens the record, which leaves
		// focus where it was (the new-contact form of an unknown one takes
		// it into the form, as Dynamics' does).
		id := b.placeCallQuietly("preview-single")
		defer endCallIfFailed(t, d, agent(t).ID, id)
		b.waitFor("the preview's Dial button", widgetJS(`!w.getElementById("call-dial").hidden`))
		b.expect("the agent state says Preview, not Dialling", widgetJS(`w.getElementById("agent-state").textContent === "Preview"`))
		b.expect("focus on Dial", widgetJS(`w.activeElement && w.activeElement.id === "call-dial"`))
		b.checkStateEverywhere("preview offered")
		before := sentCount(b, "dial")
		eval[bool](b, widgetJS(`(() => { const d = w.getElementById("call-dial"); d.click(); d.click(); return true; })()`))
		b.waitConnected()
		if n := sentCount(b, "dial") - before; n != 1 {
			t.Errorf("a double click on Dial sent %d dial messages, want 1", n)
		}
		b.expect("no error banner after the double click", widgetJS(`w.getElementById("error-banner").hidden`))
		b.hangUp(id)
		b.wrap(id, "5")
	})

	t.Run("an error about a call goes when the call is wrapped", func(t *testing.T) {
		b := b.with(t)
		// A double click on a call button places one call, and the page
		// says nothing about a refused second one.
		before := eval[string](b, `document.getElementById("current-call").dataset.interactionId`)
		eval[bool](b, `(() => { const c = document.querySelector('#call-buttons button[data-scenario="inbound-single"]'); c.click(); c.click(); return true; })()`)
		b.waitFor("the host page to place the call", fmt.Sprintf(
			`(id => id && id !== %q)(document.getElementById("current-call").dataset.interactionId)`, before))
		id := eval[string](b, `document.getElementById("current-call").dataset.interactionId`)
		defer endCallIfFailed(t, d, agent(t).ID, id)
		b.waitFor("the widget to show call "+id, widgetJS(fmt.Sprintf(`w.getElementById("call-banner").dataset.interactionId === %q`, id)))
		b.expect("the placing status, not a refusal", `document.getElementById("demo-status").textContent.startsWith("Call ")`)
		b.waitPop("record")
		b.waitConnected()
		// A click-to-dial on the open record while on the call: the
		// simulator refuses it, the agent already has a call.
		link := `#record-form a.phone-link[data-field="telephone1"]`
		b.waitFor("click-to-dial on the record's phone link", fmt.Sprintf(`(a => a && a.dataset.enabled === "true")(document.querySelector(%q))`, link))
		b.clickHost(link)
		b.waitFor("the refused dial in the error banner", widgetJS(`!w.getElementById("error-banner").hidden && w.getElementById("error-text").textContent.includes("already has call")`))
		b.checkAxe("error banner shown")
		b.hangUp(id)
		b.wrap(id, "1")
		b.expect("the error banner gone with the call", widgetJS(`w.getElementById("error-banner").hidden`))
	})
}
