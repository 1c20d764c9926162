package e2e

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/demo"
	"github.com/ctibridge/ctibridge/internal/sandbox"
)

// standIn calls the ipSCAPE stand-in's driver in the widget's page, as the
// adaptor's agent and platform would act.
func (b *browser) standIn(call string) {
	b.t.Helper()
	js := widgetJS(`(w.defaultView.ipscapeStandIn.` + call + `, true)`)
	if !eval[bool](b, js) {
		b.fatalf("ipscapeStandIn.%s failed", call)
	}
}

// openIPScape opens the demo whose calls come from ipSCAPE's adaptor (the
// stand-in bundle, loaded by the config's scripts into the widget's page)
// and logs the agent in to both.
func openIPScape(t *testing.T) (*browser, *demo.Demo) {
	t.Helper()
	d := startDemoWith(t, demo.Options{Telephony: config.SourceIPScape})
	b := newBrowser(t, chromiumPath(t))
	if err := b.do(chromedp.Navigate(d.BaseURL + "/demo/")); err != nil {
		b.fatalf("open the demo: %v", err)
	}
	b.waitFor("the widget's login form", widgetJS(`!w.getElementById("login").hidden`))
	b.waitFor("ipSCAPE's adaptor in the panel", widgetJS(`w.getElementById("ipscape-adaptor") !== null && !!w.defaultView.ipscapeStandIn`))
	b.logIn(agent(t))
	b.waitFor("the Ready/Pause toggle to give way to the adaptor", widgetJS(`w.getElementById("state-toggle").hidden`))
	b.waitFor("the provider to ask for the adaptor's login", widgetJS(`w.getElementById("telephony").dataset.source === "ipscape"`))
	b.standIn(`login({agentId: "1001", fullName: "Demo agent 1001"})`)
	b.waitFor("the adaptor's Paused state in the widget", widgetJS(`w.getElementById("agent-state").dataset.state === "Paused"`))
	b.standIn(`ready()`)
	b.waitFor("the adaptor's Ready state in the widget", widgetJS(`w.getElementById("agent-state").dataset.state === "Ready"`))
	return b, d
}

func TestIPScapeInboundCallPopsRelatesAndIsLoggedOnce(t *testing.T) {
	b, d := openIPScape(t)
	crm := newCRM(d.BaseURL)
	number := sandbox.DemoNumberByKey("single-contact")
	contact := demoRecord(t, "single-contact")

	b.standIn(fmt.Sprintf(`presentInbound({interactionId: "IPS-IN-1", cli: %q, queue: "Sales"})`, number.E164))
	b.waitPop("record")
	b.waitRecord(contact)
	value := contact.Entity + ":" + contact.ID
	b.waitFor("the popped contact chosen in the widget's Person box", widgetJS(fmt.Sprintf(`w.getElementById("select-person").value === %q`, value)))
	b.waitFor("the adaptor's person component filled and chosen", widgetJS(fmt.Sprintf(
		`(s => s && [...s.options].some((o) => o.value === %q && o.selected))(w.getElementById("ips-component-person"))`, value)))

	b.standIn(`start("IPS-IN-1")`)
	b.waitConnected()
	b.waitFor("the queue in the widget", widgetJS(`w.getElementById("call-campaign").textContent.includes("Sales")`))
	b.standIn(`hangup("IPS-IN-1")`)
	b.waitFor("the agent on wrap", widgetJS(`w.getElementById("agent-state").dataset.state === "OnWrap"`))
	// The agent wraps in ipSCAPE's adaptor: its onCallWrapped wraps the call.
	b.standIn(`wrap("IPS-IN-1", "1", "Sale")`)
	b.waitFor("the widget to end the call", widgetJS(`w.getElementById("call-banner").dataset.state === "idle"`))

	pc := crm.waitPhoneCall(t, "IPS-IN-1", "completed with wrap code 1", func(a activity) bool {
		return a.StateCode == stateCompleted && a.WrapCode == "1"
	})
	if pc.RegardingID != contact.ID {
		t.Errorf("the phone call regards %s %s, want the popped contact %s", pc.RegardingEntity, pc.RegardingID, contact.ID)
	}
	if pc.StatusCode != phoneCallReceived {
		t.Errorf("statuscode %d, want %d (received: an inbound call)", pc.StatusCode, phoneCallReceived)
	}
	b.checkNoExceptions()
}

func TestIPScapeComponentChoiceRelatesTheCall(t *testing.T) {
	b, d := openIPScape(t)
	crm := newCRM(d.BaseURL)
	shared := sandbox.DemoNumberByKey("several-contacts")
	if len(shared.Records) < 2 {
		t.Fatalf("the shared landline has %d records, want several", len(shared.Records))
	}
	chosen := shared.Records[1]
	value := chosen.Entity + ":" + chosen.ID

	b.standIn(fmt.Sprintf(`presentInbound({interactionId: "IPS-IN-2", cli: %q})`, shared.E164))
	b.waitPop("search")
	b.waitFor("every match in the adaptor's person component", widgetJS(fmt.Sprintf(
		`(s => s && [...s.options].filter((o) => o.value).length >= %d)(w.getElementById("ips-component-person"))`, len(shared.Records))))
	b.standIn(`start("IPS-IN-2")`)
	b.waitConnected()

	// The agent picks the person in ipSCAPE's adaptor, not in the widget.
	ok := eval[bool](b, widgetJS(fmt.Sprintf(`(() => {
		const s = w.getElementById("ips-component-person");
		s.value = %q;
		s.dispatchEvent(new Event("change", { bubbles: true }));
		return s.value === %q;
	})()`, value, value)))
	if !ok {
		b.fatalf("could not choose %s in the adaptor's person component", value)
	}
	b.waitFor("the widget's Person box to follow the adaptor", widgetJS(fmt.Sprintf(`w.getElementById("select-person").value === %q`, value)))
	b.standIn(`hangup("IPS-IN-2")`)
	b.standIn(`wrap("IPS-IN-2", "3", "Call back")`)
	pc := crm.waitPhoneCall(t, "IPS-IN-2", "completed, regarding the chosen contact", func(a activity) bool {
		return a.StateCode == stateCompleted && a.RegardingID == chosen.ID
	})
	if pc.WrapCode != "3" {
		t.Errorf("wrap code %q, want 3", pc.WrapCode)
	}
	b.checkNoExceptions()
}

func TestIPScapePreviewDialledFromTheWidget(t *testing.T) {
	b, d := openIPScape(t)
	crm := newCRM(d.BaseURL)
	lead := sandbox.DemoNumberByKey("single-contact")
	contact := demoRecord(t, "single-contact")

	b.standIn(fmt.Sprintf(`presentPreview({interactionId: "IPS-PV-1", lead: {leadId: "L-1", name: %q, campaignName: "Renewals", phones: [{index: 1, phone: %q}]}})`,
		contact.Name, lead.E164))
	b.waitPop("record")
	b.waitRecord(contact)
	// The widget's Dial goes to the adaptor as clickToDial.
	b.waitFor("the preview's Dial button", widgetJS(`!w.getElementById("call-dial").hidden`))
	b.clickWidget("#call-dial")
	b.waitFor("the adaptor to receive clickToDial", widgetJS(fmt.Sprintf(
		`w.defaultView.ipscapeStandIn.dials.some((d) => d.event === "clickToDial" && d.number === %q)`, lead.E164)))
	b.standIn(`start("IPS-PV-1")`)
	b.waitConnected()
	b.standIn(`hangup("IPS-PV-1")`)
	b.standIn(`wrap("IPS-PV-1", "1", "Sale")`)
	pc := crm.waitPhoneCall(t, "IPS-PV-1", "completed", func(a activity) bool { return a.StateCode == stateCompleted && a.WrapCode == "1" })
	if pc.RegardingID != contact.ID || pc.StatusCode != phoneCallMade {
		t.Errorf("phone call regarding %s status %d, want %s and %d (made: an outgoing call)", pc.RegardingID, pc.StatusCode, contact.ID, phoneCallMade)
	}
	b.checkNoExceptions()
}
