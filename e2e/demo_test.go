package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ctibridge/ctibridge/internal/demo"
	"github.com/ctibridge/ctibridge/internal/sandbox"
	"github.com/ctibridge/ctibridge/internal/telephony"
)

// testTiming keeps calls short but lets the test act at each step: a call
// rings briefly, then stays connected until the test hangs up, and waits
// for the agent's wrap; a preview waits for the agent to dial.
var testTiming = telephony.Timing{RingTime: 300 * time.Millisecond}

// startDemo runs a demo with configJSON (nil: the demo's own config) until
// the test ends.
func startDemo(t *testing.T, configJSON []byte) *demo.Demo {
	t.Helper()
	return startDemoWith(t, demo.Options{ConfigJSON: configJSON})
}

// startDemoWith runs a demo with opt, on a free port in a temporary
// directory, until the test ends.
func startDemoWith(t *testing.T, opt demo.Options) *demo.Demo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	opt.Listen, opt.Dir, opt.Timing = "127.0.0.1:0", t.TempDir(), &testTiming
	opt.Log = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := demo.Start(ctx, opt)
	if err != nil {
		cancel()
		t.Fatalf("start the demo: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("the demo stopped with: %v", err)
		}
	})
	return d
}

// demoConfig returns the demo's config with boolean options changed, the
// way a user would edit the file; it fails when an option is not there
// exactly once.
func demoConfig(t *testing.T, options map[string]bool) []byte {
	t.Helper()
	cfg, err := os.ReadFile(filepath.Join("..", "internal", "demo", "demo-config.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, value := range options {
		re := regexp.MustCompile(`"` + regexp.QuoteMeta(name) + `"\s*:\s*(true|false)`)
		if n := len(re.FindAllIndex(cfg, -1)); n != 1 {
			t.Fatalf("demo-config.json: option %q appears %d times, want once", name, n)
		}
		cfg = re.ReplaceAll(cfg, []byte(fmt.Sprintf(`"%s": %t`, name, value)))
	}
	return cfg
}

// demoRecord is the one seeded record holding a demo number.
func demoRecord(t *testing.T, key string) sandbox.DemoRecord {
	t.Helper()
	n := sandbox.DemoNumberByKey(key)
	if len(n.Records) != 1 {
		t.Fatalf("demo number %s has %d records, want 1", key, len(n.Records))
	}
	return n.Records[0]
}

// agent is the demo's first agent, the one the host page selects.
func agent(t *testing.T) demo.Agent {
	t.Helper()
	if len(demo.Agents) == 0 {
		t.Fatal("demo.Agents is empty")
	}
	return demo.Agents[0]
}

// logIn logs the agent in to the widget and waits until the widget is
// connected, Ready, has its wrap codes and found the CIF library.
func (b *browser) logIn(a demo.Agent) {
	b.t.Helper()
	b.typeWidget("#login-agent", a.ID)
	b.typeWidget("#login-pin", a.PIN)
	b.clickWidget("#login-submit")
	b.waitFor("the widget to show the agent "+a.ID, widgetJS(fmt.Sprintf(
		`!w.getElementById("agent").hidden && w.getElementById("agent-id").textContent === %q`, a.ID)))
	b.waitFor("the widget's connection", widgetJS(`w.getElementById("connection-status").dataset.status === "connected"`))
	b.waitFor("the agent to be Ready", widgetJS(`w.getElementById("agent-state").dataset.state === "Ready"`))
	b.waitFor("the wrap codes", widgetJS(`w.getElementById("wrap-code").options.length > 1`))
	b.waitFor("the CIF library", widgetJS(`w.getElementById("cif-status").dataset.status === "ready"`))
}

// placeCall presses a scenario's call button in the host page and returns
// the interaction id, once the widget shows the call.
func (b *browser) placeCall(scenario string) string {
	b.t.Helper()
	before := eval[string](b, `document.getElementById("current-call").dataset.interactionId`)
	b.clickHost(fmt.Sprintf(`#call-buttons button[data-scenario=%q]`, scenario))
	b.waitFor("the host page to place the "+scenario+" call", fmt.Sprintf(
		`(id => id && id !== %q)(document.getElementById("current-call").dataset.interactionId)`, before))
	id := eval[string](b, `document.getElementById("current-call").dataset.interactionId`)
	b.waitFor("the widget to show call "+id, widgetJS(fmt.Sprintf(
		`w.getElementById("call-banner").dataset.interactionId === %q && w.getElementById("call-banner").dataset.state === "active"`, id)))
	return id
}

// waitPop waits for the widget to report the screen pop's outcome (record,
// search, new or none) and returns its text.
func (b *browser) waitPop(outcome string) string {
	b.t.Helper()
	b.waitFor("the screen pop outcome "+outcome, widgetJS(fmt.Sprintf(
		`w.getElementById("pop-outcome").dataset.outcome === %q`, outcome)))
	return eval[string](b, widgetJS(`w.getElementById("pop-outcome").textContent`))
}

// waitRecord waits for the record pane to show the record, and checks its
// title.
func (b *browser) waitRecord(r sandbox.DemoRecord) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("the record pane to open %s %s", r.Entity, r.Name), fmt.Sprintf(
		`(p => p.dataset.view === "record" && p.dataset.entity === %q && p.dataset.recordId === %q)(document.getElementById("record-pane"))`,
		r.Entity, r.ID))
	if got := eval[string](b, `document.getElementById("record-title").textContent`); got != r.Name {
		b.fatalf("the record pane's title is %q, want %q", got, r.Name)
	}
}

// waitConnected waits until the call is connected (the agent is on the call).
func (b *browser) waitConnected() {
	b.t.Helper()
	b.waitFor("the agent to be on the call", widgetJS(`w.getElementById("agent-state").dataset.state === "OnCall"`))
}

// hangUp presses the host page's hang-up button and waits for the widget to
// show the call ended.
func (b *browser) hangUp(interactionID string) {
	b.t.Helper()
	b.waitFor("the hang-up button", `!document.getElementById("hangup").disabled`)
	b.clickHost("#hangup")
	b.waitFor("the widget to show call "+interactionID+" ended", widgetJS(fmt.Sprintf(
		`w.getElementById("call-banner").dataset.interactionId === %q && w.getElementById("call-banner").dataset.state === "ended"`, interactionID)))
	b.waitFor("the agent to be on wrap", widgetJS(`w.getElementById("agent-state").dataset.state === "OnWrap"`))
}

// wrap picks the wrap code in the widget, presses Wrap and waits for the
// agent to be Ready again.
func (b *browser) wrap(interactionID, code string) {
	b.t.Helper()
	b.waitFor("the wrap form to be enabled", widgetJS(`!w.getElementById("wrap").disabled`))
	b.chooseWidget("#wrap-code", code)
	b.clickWidget("#wrap-submit")
	b.waitFor("the agent to be Ready after the wrap", widgetJS(`w.getElementById("agent-state").dataset.state === "Ready"`))
	// The server ends the call in the widget with callEnded; the CRM
	// checks can go on without it.
	b.expect("the widget to show call "+interactionID+" wrapped and no call in progress", widgetJS(fmt.Sprintf(
		`w.getElementById("call-banner").dataset.state === "idle" && w.getElementById("call-ended-note").textContent.includes(%q)`, interactionID)))
}

// waitActivityRow waits for the host page's activity list to show the
// interaction's row of kind (phonecall or task) in state (open, completed)
// with the wrap code (phone calls), and returns the row's regarding text.
func (b *browser) waitActivityRow(interactionID, kind, state, wrapCode string) string {
	b.t.Helper()
	row := fmt.Sprintf(`document.querySelector('#activity-list tbody tr[data-kind=%q][data-interaction-id=%q]')`, kind, interactionID)
	cond := fmt.Sprintf(`(r => r && r.dataset.state === %q`, state)
	if wrapCode != "" {
		cond += fmt.Sprintf(` && r.querySelector('td[data-col="wrapCode"]').textContent.trim() === %q`, wrapCode)
	}
	cond += ")(" + row + ")"
	b.waitFor(fmt.Sprintf("the activity list to show the %s of %s %s", kind, interactionID, state), cond)
	return eval[string](b, fmt.Sprintf(`(r => r.querySelector('td[data-col="regarding"]').textContent.trim())(%s)`, row))
}

// selectOptions returns a widget select box's options as value → label,
// without the "none" option.
func (b *browser) selectOptions(selector string) map[string]string {
	b.t.Helper()
	pairs := eval[[][2]string](b, widgetJS(fmt.Sprintf(
		`[...w.querySelector(%q).options].filter((o) => o.value).map((o) => [o.value, o.text])`, selector)))
	out := map[string]string{}
	for _, p := range pairs {
		out[p[0]] = p[1]
	}
	return out
}

// checkNoExceptions fails the test when the page threw an uncaught
// exception: the widget and the host page must never do.
func (b *browser) checkNoExceptions() {
	b.t.Helper()
	if ex := b.console.Exceptions(); len(ex) > 0 {
		b.t.Errorf("the page threw %d uncaught exceptions:\n  %s", len(ex), strings.Join(ex, "\n  "))
	}
}

// callCheck is what one demo call must show and leave in the CRM.
type callCheck struct {
	name     string
	scenario string
	// pop is the widget's pop outcome: record, search or new.
	pop string
	// record is the record the pop opens (pop "record").
	record *sandbox.DemoRecord
	// lead is the record whose person an outbound or preview lead is: the
	// widget and the host page's telephony panel must name the lead as the
	// record is named.
	lead *sandbox.DemoRecord
	// prefillField and prefillPattern are the new-record form's phone field
	// and the pattern of the value it must be prefilled with (pop "new":
	// each unknown caller has a number of its own).
	prefillField   string
	prefillPattern *regexp.Regexp
	// relatePerson and relateAccount are the agent's choice in the widget
	// after a several-matches pop (pop "search"): the person picked from
	// the matches, and an account the agent opens in the CRM and picks as
	// the organisation.
	relatePerson, relateAccount *sandbox.DemoRecord
	// preview calls wait for a dial: with a popped record the agent dials
	// it with the record's phone link (click-to-dial), otherwise the agent
	// skips it by wrapping.
	preview bool
	// whilePresented runs once the pop is checked, before the call ends.
	whilePresented func(t *testing.T, r *demoRun, interactionID string)
	// readmeShot saves the README's screenshot while the call is connected.
	readmeShot bool

	wrapCode string
	// regarding is the record the phone call must be regarding; nil for
	// none.
	regarding *sandbox.DemoRecord
	// stateCode and statusCode are the phone call's after the wrap.
	stateCode, statusCode int
}

// demoRun is a demo with a browser on its host page.
type demoRun struct {
	d  *demo.Demo
	b  *browser
	db *crm
}

// newDemoRun starts a demo with configJSON (nil: the demo's own config) and
// opens its host page in Chromium.
func newDemoRun(t *testing.T, configJSON []byte) *demoRun {
	t.Helper()
	chromium := chromiumPath(t) // skips (or fails under CI) before the demo starts
	d := startDemo(t, configJSON)
	r := &demoRun{d: d, b: newBrowser(t, chromium), db: newCRM(d.BaseURL)}
	// The widget and the host page must never throw, whatever the test
	// checked.
	t.Cleanup(r.b.checkNoExceptions)
	r.b.open(d.BaseURL + "/demo/")
	r.b.screenshot("host-page")
	return r
}

// call places the call, checks its screen pop, takes it to its end, wraps
// it and checks the phone call in the CRM and in the activity list. It
// returns the interaction id.
func (r *demoRun) call(t *testing.T, c callCheck) string {
	t.Helper()
	b := r.b.with(t)
	id := b.placeCall(c.scenario)
	defer endCallIfFailed(t, r.d, agent(t).ID, id)
	t.Logf("%s: %s", id, b.waitPop(c.pop))

	switch c.pop {
	case "record":
		b.waitRecord(*c.record)
		b.waitFor("the popped record chosen in the widget's relate box", widgetJS(fmt.Sprintf(
			`[w.getElementById("select-person"), w.getElementById("select-organisation")].some((s) => s.value === %q)`,
			c.record.Entity+":"+c.record.ID)))
	case "search":
		b.checkSearch(c.scenario, sandbox.DemoNumberByKey("several-contacts").Records, *c.relatePerson, *c.relateAccount)
	case "new":
		b.waitFor("the new contact form", `(p => p.dataset.view === "new" && p.dataset.entity === "contact")(document.getElementById("record-pane"))`)
		field := "field-" + c.prefillField
		b.waitFor("the new contact form's "+c.prefillField+" field", fmt.Sprintf(`document.getElementById(%q) !== null`, field))
		if got := eval[string](b, fmt.Sprintf(`document.getElementById(%q).value`, field)); !c.prefillPattern.MatchString(got) {
			b.fatalf("the new contact form's %s is %q, want it prefilled with a number like %s", c.prefillField, got, c.prefillPattern)
		}
	}
	if c.lead != nil {
		b.expect("the widget to name the lead "+c.lead.Name, widgetJS(fmt.Sprintf(
			`w.getElementById("call-lead").textContent === %q`, c.lead.Name)))
		b.expect("the host page's telephony panel to name the lead "+c.lead.Name, fmt.Sprintf(
			`document.getElementById("current-call-text").textContent.includes(%q)`, " · "+c.lead.Name+" · "))
	}
	if c.whilePresented != nil {
		c.whilePresented(t, r, id)
	}

	switch {
	case c.preview && c.pop == "record":
		b.screenshot(c.scenario + "-preview")
		// The agent dials the preview with the phone link of the record
		// (CIF click-to-act).
		link := `#record-form a.phone-link[data-field="telephone1"]`
		b.waitFor("click-to-dial on the record's phone link", fmt.Sprintf(
			`(a => a && a.dataset.enabled === "true")(document.querySelector(%q))`, link))
		b.clickHost(link)
		b.waitConnected()
		b.screenshot(c.scenario + "-connected")
		b.hangUp(id)
	case c.preview:
		// Skipped without dialling: the wrap ends it.
		b.screenshot(c.scenario + "-preview")
	default:
		b.waitConnected()
		if c.readmeShot {
			// The README's picture: a call in progress, its record popped
			// and its activity open in the list, and no passing toast.
			b.waitActivityRow(id, "phonecall", "open", "")
			b.waitFor("the toast to go", `document.getElementById("toast").hidden`)
			b.saveScreenshot(filepath.Join(b.shots.root, "demo.png"))
		}
		b.screenshot(c.scenario + "-connected")
		b.hangUp(id)
	}
	b.wrap(id, c.wrapCode)
	// The host page's telephony panel lets the call go as the widget does,
	// and says how it ended: a preview wrapped without a dial was skipped.
	ending := fmt.Sprintf("Call %s wrapped", id)
	if c.preview && c.pop != "record" {
		ending = fmt.Sprintf("Preview %s", id)
	}
	b.expect("the host page to show no call in progress and "+id+" ended", fmt.Sprintf(
		`document.getElementById("current-call").dataset.interactionId === "" && document.getElementById("hangup").disabled && `+
			`(t => !t.hidden && t.textContent.startsWith(%q))(document.getElementById("last-call"))`, ending))
	if c.preview && c.pop != "record" {
		b.expect("the host page to report preview "+id+" skipped", fmt.Sprintf(
			`document.getElementById("last-call").textContent.endsWith("skipped (wrap code %s).")`, c.wrapCode))
	}

	pc := r.db.waitPhoneCall(t, id, "wrapped", func(a activity) bool { return a.WrapCode != "" })
	if pc.WrapCode != c.wrapCode {
		t.Errorf("phone call %s: new_wrapcode = %q, want %q", id, pc.WrapCode, c.wrapCode)
	}
	if pc.StateCode != c.stateCode || pc.StatusCode != c.statusCode {
		t.Errorf("phone call %s: statecode/statuscode = %d/%d, want %d/%d", id, pc.StateCode, pc.StatusCode, c.stateCode, c.statusCode)
	}
	// The agent's choice after the create sets the regarding record; the
	// parties stay as created (docs/dataverse.md: Microsoft documents
	// parties only at create).
	checkRegarding(t, pc, c.regarding)

	listState := map[int]string{stateOpen: "open", stateCompleted: "completed"}[c.stateCode]
	regarding := b.waitActivityRow(id, "phonecall", listState, c.wrapCode)
	if c.regarding != nil {
		b.waitFor("the activity list to name the regarding record "+c.regarding.Name, fmt.Sprintf(
			`document.querySelector('#activity-list tbody tr[data-kind="phonecall"][data-interaction-id=%q] td[data-col="regarding"]').textContent.trim() === %q`,
			id, c.regarding.Name))
	} else if regarding != "" {
		t.Errorf("the activity list shows %s regarding %q, want nothing", id, regarding)
	}
	b.screenshot(c.scenario + "-wrapped")
	return id
}

func TestDemoCalls(t *testing.T) {
	r := newDemoRun(t, nil)
	if !t.Run("log in", func(t *testing.T) {
		b := r.b.with(t)
		b.logIn(agent(t))
		b.screenshot("logged-in")
	}) {
		t.FailNow()
	}

	olivia := demoRecord(t, "single-contact")
	priya := demoRecord(t, "lead-match")
	harbour := demoRecord(t, "account-match")
	henry := sandbox.DemoNumberByKey("several-contacts").Records[1]

	// With completeActivityRecordOnWrap, as the demo config has it, the
	// wrap completes the phone call: Received when it came in, Made when
	// the agent's side dialled.
	// The demo gives each unknown caller a new number (internal/demo
	// freshNumbers), in the rule's local format.
	unknownCaller := regexp.MustCompile(`^\(02\) 9999 [1-9]\d{3}$`)
	calls := []callCheck{
		{name: "inbound with one match opens the contact", scenario: "inbound-single", pop: "record", record: &olivia, readmeShot: true,
			wrapCode: "1", regarding: &olivia, stateCode: stateCompleted, statusCode: phoneCallReceived},
		{name: "inbound with several matches opens the search page and the agent relates the call", scenario: "inbound-several", pop: "search",
			relatePerson: &henry, relateAccount: &harbour,
			wrapCode: "3", regarding: &henry, stateCode: stateCompleted, statusCode: phoneCallReceived},
		{name: "inbound with no match opens the prefilled new contact form", scenario: "inbound-none", pop: "new",
			prefillField: "telephone1", prefillPattern: unknownCaller, whilePresented: createsTheNewContactWithItsName,
			wrapCode: "4", stateCode: stateCompleted, statusCode: phoneCallReceived},
		{name: "outbound opens the campaign lead", scenario: "outbound-lead", pop: "record", record: &priya, lead: &priya,
			wrapCode: "2", regarding: &priya, stateCode: stateCompleted, statusCode: phoneCallMade},
		{name: "preview opens the contact and is dialled from its phone link", scenario: "preview-single", pop: "record", record: &olivia, lead: &olivia, preview: true,
			wrapCode: "1", regarding: &olivia, stateCode: stateCompleted, statusCode: phoneCallMade},
		{name: "preview of a new prospect opens the prefilled form and is skipped", scenario: "preview-none", pop: "new",
			prefillField: "telephone1", prefillPattern: unknownCaller, preview: true,
			wrapCode: "5", stateCode: stateCompleted, statusCode: phoneCallMade},
		{name: "manual call opens the supplier account", scenario: "manual-account", pop: "record", record: &harbour,
			wrapCode: "2", regarding: &harbour, stateCode: stateCompleted, statusCode: phoneCallMade},
	}
	var wrapped []string
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			wrapped = append(wrapped, r.call(t, c))
		})
	}

	t.Run("the activity list fits at 1280 px", func(t *testing.T) {
		if len(wrapped) == 0 {
			t.Skip("no call was wrapped, so the list has no rows to measure")
		}
		r.b.with(t).checkActivityListFits(len(wrapped))
	})

	t.Run("one phone call per interaction and no preview task", func(t *testing.T) {
		if len(wrapped) != len(calls) {
			// A call that stopped half-way may or may not have its phone
			// call; counting them would only repeat that failure.
			t.Skipf("%d of %d calls stopped before their wrap; their subtests say why", len(calls)-len(wrapped), len(calls))
		}
		got := map[string]int{}
		for _, pc := range r.db.allPhoneCalls(t) {
			got[pc.InteractionID]++
		}
		want := map[string]int{}
		for _, id := range wrapped {
			want[id] = 1
		}
		if !maps.Equal(got, want) {
			t.Errorf("phone calls per interaction = %v, want one for each call placed: %v", got, want)
		}
		if tasks := r.db.tasks(t); len(tasks) != 0 {
			t.Errorf("the CRM holds %d tasks, want none (createTaskOnPreview is off): %+v", len(tasks), tasks)
		}
	})
}

func TestDemoWrapLeavesActivityOpen(t *testing.T) {
	r := newDemoRun(t, demoConfig(t, map[string]bool{"completeActivityRecordOnWrap": false}))
	r.b.logIn(agent(t))
	olivia := demoRecord(t, "single-contact")

	// Without completeActivityRecordOnWrap the wrap writes the wrap code
	// and leaves the phone call open for the agent to finish in the CRM.
	id := r.call(t, callCheck{scenario: "inbound-single", pop: "record", record: &olivia,
		wrapCode: "3", regarding: &olivia, stateCode: stateOpen, statusCode: phoneCallOpen})
	if all := r.db.allPhoneCalls(t); len(all) != 1 || all[0].InteractionID != id {
		t.Errorf("the CRM holds phone calls %+v, want only the one of %s", all, id)
	}
}

func TestDemoPreviewCreatesTask(t *testing.T) {
	r := newDemoRun(t, demoConfig(t, map[string]bool{"createTaskOnPreview": true}))
	r.b.logIn(agent(t))
	olivia := demoRecord(t, "single-contact")

	// With createTaskOnPreview the allocated preview gets a task, regarding
	// the popped contact, which the wrap completes with the phone call.
	id := r.call(t, callCheck{scenario: "preview-single", pop: "record", record: &olivia, preview: true,
		whilePresented: func(t *testing.T, r *demoRun, id string) {
			task := r.db.waitTask(t, id, "open and regarding "+olivia.Name, func(a activity) bool {
				return a.StateCode == stateOpen && a.RegardingID == olivia.ID
			})
			if task.StatusCode != taskNotStarted || task.RegardingEntity != "contact" {
				t.Errorf("preview task of %s: statuscode %d regarding %s, want %d (not started) regarding a contact",
					id, task.StatusCode, task.RegardingEntity, taskNotStarted)
			}
			r.b.with(t).waitActivityRow(id, "task", "open", "")
		},
		wrapCode: "1", regarding: &olivia, stateCode: stateCompleted, statusCode: phoneCallMade})

	task := r.db.waitTask(t, id, "completed", func(a activity) bool { return a.StateCode == stateCompleted })
	if task.StatusCode != taskCompleted || task.RegardingID != olivia.ID {
		t.Errorf("preview task of %s after the wrap: statuscode %d regarding %q, want %d regarding %s (%s)",
			id, task.StatusCode, task.RegardingID, taskCompleted, olivia.ID, olivia.Name)
	}
	if tasks := r.db.tasks(t); len(tasks) != 1 {
		t.Errorf("the CRM holds %d tasks, want the preview's one: %+v", len(tasks), tasks)
	}
	r.b.waitActivityRow(id, "task", "completed", "")
	r.b.screenshot("preview-task-completed")
}

// checkActivityListFits checks, once the activity list shows rows rows,
// that every column of it is inside its section: nothing is cut off or
// needs a horizontal scroll at the test's 1280×800 viewport.
func (b *browser) checkActivityListFits(rows int) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("the activity list to show %d rows", rows), fmt.Sprintf(
		`document.querySelectorAll("#activity-list tbody tr[data-id]").length >= %d`, rows))
	type overflow struct {
		Cell  string  `json:"cell"`
		Right float64 `json:"right"`
		Edge  float64 `json:"edge"`
	}
	// The section scrolls sideways when the table is wider than it, so a
	// cell past its inner edge is hidden, not merely past the window.
	got := eval[[]overflow](b, `(() => {
		const sec = document.getElementById("activities");
		const box = sec.getBoundingClientRect();
		const edge = Math.min(box.left + sec.clientLeft + sec.clientWidth, window.innerWidth);
		const out = [];
		if (sec.scrollWidth > sec.clientWidth) out.push({ cell: "the section scrolls sideways", right: box.left + sec.clientLeft + sec.scrollWidth, edge });
		for (const c of document.querySelectorAll("#activity-list th, #activity-list tbody td")) {
			const right = c.getBoundingClientRect().right;
			if (right > edge + 0.5) out.push({ cell: (c.dataset.col || c.textContent.trim()) + " of " + (c.closest("tr").dataset.interactionId || "the header"), right, edge });
		}
		return out;
	})()`)
	if len(got) > 0 {
		b.fatalf("at %d×%d the activity list is cut off: %+v", viewportWidth, viewportHeight, got)
	}
	b.screenshot("activity-list-fits")
}

// checkSearch checks a several-matches pop: the search page lists the
// matches, the widget's person box lists them and its organisation box is
// empty. The agent then picks person in the person box, opens account in
// the CRM, which lists it in the organisation box, and picks it there.
func (b *browser) checkSearch(scenario string, matches []sandbox.DemoRecord, person, account sandbox.DemoRecord) {
	b.t.Helper()
	b.waitFor("the search page", `(p => p.dataset.view === "search" && p.dataset.entity === "contact")(document.getElementById("record-pane"))`)
	ids := eval[[]string](b, `[...document.querySelectorAll("#search-results tbody tr[data-id]")].map((r) => r.dataset.id)`)
	var want []string
	people := map[string]string{}
	for _, r := range matches {
		want = append(want, r.ID)
		people[r.Entity+":"+r.ID] = r.Name
	}
	slices.Sort(ids)
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		b.fatalf("the search page lists %v, want the %d matches %v", ids, len(want), want)
	}
	b.waitFor(fmt.Sprintf("the widget's person box to list the %d matches", len(matches)), widgetJS(fmt.Sprintf(
		`w.getElementById("select-person").options.length === %d`, len(matches)+1)))
	if got := b.selectOptions("#select-person"); !maps.Equal(got, people) {
		b.fatalf("the widget's person box lists %v, want %v", got, people)
	}
	if got := b.selectOptions("#select-organisation"); len(got) != 0 {
		b.fatalf("the widget's organisation box lists %v before any account was opened, want nothing", got)
	}
	b.screenshot(scenario + "-search")

	b.chooseWidget("#select-person", person.Entity+":"+person.ID)

	// Opening an account in the CRM lists it in the organisation box.
	b.clickHost(`#entity-nav button[data-entity="account"]`)
	b.waitFor("the accounts list", `(p => p.dataset.view === "search" && p.dataset.entity === "account")(document.getElementById("record-pane"))`)
	if err := b.do(chromedp.SetValue(chromedp.CSS("#search-text"), account.Name)); err != nil {
		b.fatalf("search the accounts: %v", err)
	}
	b.clickHost("#search-submit")
	// The unfiltered list may hold the account too: wait for the search's
	// own results, or the click could land on a row being replaced.
	b.waitFor("the search results for "+account.Name, fmt.Sprintf(
		`(t => t && t.textContent.includes(%q))(document.getElementById("search-title"))`, account.Name))
	row := fmt.Sprintf(`#search-results tbody tr[data-id=%q]`, account.ID)
	b.waitFor("the account "+account.Name+" in the search results", fmt.Sprintf(`document.querySelector(%q) !== null`, row))
	b.clickHost(row)
	b.waitRecord(account)
	b.waitFor("the opened account in the widget's organisation box", widgetJS(fmt.Sprintf(
		`[...w.getElementById("select-organisation").options].some((o) => o.value === %q && o.text === %q)`, "account:"+account.ID, account.Name)))
	b.chooseWidget("#select-organisation", "account:"+account.ID)
	b.screenshot(scenario + "-related")
}

// endCallIfFailed wraps the call through the simulator when a step of the
// test failed, so that the next call can still be placed to the agent.
func endCallIfFailed(t *testing.T, d *demo.Demo, agentID, interactionID string) {
	if !t.Failed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	// An error means the call was wrapped already.
	if err := d.Server.Simulator.Wrap(ctx, agentID, interactionID, "1", "ended by the test after a failed step"); err != nil {
		t.Logf("end %s after the failure: %v", interactionID, err)
	}
	for ctx.Err() == nil {
		if state, _ := d.Server.Simulator.StateOf(agentID); state == telephony.AgentReady {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkRegarding checks the phone call's regarding record.
func checkRegarding(t *testing.T, pc activity, want *sandbox.DemoRecord) {
	t.Helper()
	switch {
	case want == nil && pc.RegardingID != "":
		t.Errorf("phone call %s is regarding %s %s, want nothing", pc.InteractionID, pc.RegardingEntity, pc.RegardingID)
	case want != nil && (pc.RegardingID != want.ID || pc.RegardingEntity != want.Entity):
		t.Errorf("phone call %s is regarding %s %q, want %s %s (%s)", pc.InteractionID, pc.RegardingEntity, pc.RegardingID, want.Entity, want.ID, want.Name)
	}
}

// createsTheNewContactWithItsName fills in the new-contact form as a new
// user would and saves it: Dataverse computes a contact's full name from its
// first and last name, which the form asks for, so the contact keeps it.
func createsTheNewContactWithItsName(t *testing.T, r *demoRun, _ string) {
	b := r.b.with(t)
	if eval[bool](b, `document.getElementById("field-fullname") !== null`) {
		t.Error("the new contact form offers a full name, which Dataverse computes and would drop")
	}
	eval[bool](b, `(() => {
		const set = (id, v) => { const i = document.getElementById(id); i.value = v; i.dispatchEvent(new Event("input", {bubbles: true})); };
		set("field-firstname", "Zara");
		set("field-lastname", "Newcomer");
		document.getElementById("new-save").click();
		return true;
	})()`)
	b.waitFor("the new contact opened with its name", `(p => p.dataset.view === "record" && p.dataset.entity === "contact" && `+
		`document.getElementById("record-title").textContent === "Zara Newcomer")(document.getElementById("record-pane"))`)
}
