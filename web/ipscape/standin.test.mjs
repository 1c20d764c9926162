// Tests of the ipSCAPE integration bundle stand-in
// (ips-dynamics-integration.standin.js) with node's test runner. The bundle is
// a classic browser script, so it runs in a vm context with a minimal DOM
// double (elements with attributes, children, text, select values and change
// listeners). The provider (web/widget/providers/ipscape.mjs) is then driven
// through it, which checks that the stand-in delivers exactly what the
// provider's ADAPTER section reads.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import vm from "node:vm";
import { createProvider, ADAPTER } from "../widget/providers/ipscape.mjs";

const SOURCE = readFileSync(new URL("./ips-dynamics-integration.standin.js", import.meta.url), "utf8");

// ---- a minimal DOM ----

class FakeElement {
  constructor(doc, tag) {
    this.ownerDocument = doc;
    this.tagName = tag.toUpperCase();
    this.attributes = {};
    this.children = [];
    this.parentNode = null;
    this.listeners = {};
    this.text = "";
    this.selectedValue = "";
  }
  setAttribute(k, v) {
    this.attributes[k] = String(v);
  }
  getAttribute(k) {
    return Object.hasOwn(this.attributes, k) ? this.attributes[k] : null;
  }
  get id() {
    return this.getAttribute("id") || "";
  }
  get firstChild() {
    return this.children[0] || null;
  }
  appendChild(c) {
    c.parentNode = this;
    this.children.push(c);
    return c;
  }
  removeChild(c) {
    this.children = this.children.filter((x) => x !== c);
    c.parentNode = null;
    return c;
  }
  set textContent(v) {
    this.children = [];
    this.text = String(v);
  }
  get textContent() {
    return this.text + this.children.map((c) => c.textContent).join("");
  }
  // select: the value is the chosen option's, "" when no option has it.
  set value(v) {
    if (this.tagName === "SELECT") {
      this.selectedValue = this.children.some((o) => o.getAttribute("value") === v) ? v : "";
    }
  }
  get value() {
    return this.selectedValue;
  }
  get options() {
    return this.children.map((o) => ({ value: o.getAttribute("value"), label: o.textContent }));
  }
  addEventListener(name, fn) {
    (this.listeners[name] ||= []).push(fn);
  }
  dispatch(name) {
    for (const fn of this.listeners[name] || []) fn({ type: name, target: this });
  }
  *walk() {
    yield this;
    for (const c of this.children) yield* c.walk();
  }
}

function fakeDocument({ withBody = false } = {}) {
  const listeners = {};
  const doc = {
    body: null,
    createElement: (tag) => new FakeElement(doc, tag),
    getElementById: (id) => {
      if (!doc.body) return null;
      for (const e of doc.body.walk()) if (e.id === id) return e;
      return null;
    },
    addEventListener: (name, fn) => (listeners[name] ||= []).push(fn),
    loaded: () => {
      doc.body = new FakeElement(doc, "body");
      for (const fn of listeners.DOMContentLoaded || []) fn();
    },
  };
  if (withBody) doc.body = new FakeElement(doc, "body");
  return doc;
}

function load({ withBody = false, loaded = true } = {}) {
  const errors = [];
  const doc = fakeDocument({ withBody });
  const win = {
    document: doc,
    console: { error: (...a) => errors.push(a.join(" ")), log: () => {} },
    setTimeout,
    clearTimeout,
  };
  win.window = win;
  vm.createContext(win);
  vm.runInContext(SOURCE, win, { filename: "ips-dynamics-integration.standin.js" });
  if (loaded && !withBody) doc.loaded();
  const $ = (id) => doc.getElementById(id);
  return { win, doc, $, errors, driver: win.ipscapeStandIn };
}

// plain turns objects made in the vm's realm into this realm's, so
// deepStrictEqual compares content, not prototypes.
const plain = (v) => JSON.parse(JSON.stringify(v));

// withProvider loads the stand-in and starts the real provider on it.
async function withProvider(opts = {}) {
  const s = load(opts);
  const events = [];
  const relates = [];
  const logs = [];
  const provider = createProvider({
    settings: { source: "ipscape" },
    agentId: "1042",
    emit: (e) => events.push(e),
    changed: () => {},
    log: (level, message) => logs.push({ level, message }),
    relate: (r) => relates.push(r),
    window: s.win,
  });
  if (opts.loginFirst) s.driver.login({ agentId: "1042", fullName: "Ann Agent" });
  await provider.start();
  return { ...s, provider, events, relates, logs };
}

const settle = () => new Promise((r) => setImmediate(r));

describe("the Web Client surface", () => {
  test("defines IpscapeWebClient with the published listeners and the three methods", () => {
    const { win } = load();
    const proto = Object.getOwnPropertyNames(win.IpscapeWebClient.prototype).filter((k) => k !== "constructor").sort();
    assert.deepEqual(proto, [...ADAPTER.listeners, "addComponentOption", "clickToDial", "isAuthorised"].sort());
    assert.equal(typeof new win.IpscapeWebClient().onCallStarted, "function");
    assert.throws(() => win.IpscapeWebClient(), /use new IpscapeWebClient/);
  });

  test("listeners receive {result, error} with the shapes the ADAPTER reads", () => {
    const { win, driver } = load();
    const client = new win.IpscapeWebClient();
    const got = {};
    for (const name of ADAPTER.listeners) client[name]((d) => (got[name] ||= []).push(plain(d)));
    driver.login({ agentId: "1042", fullName: "Ann Agent" });
    assert.deepEqual(got.onAgentLogin, [{ result: { agent: { agentId: "1042", fullName: "Ann Agent" }, state: "Paused", reason: "" }, error: null }]);
    driver.pause("Lunch");
    assert.deepEqual(got.onAgentPresenceChange.at(-1), { result: { state: "Paused", reason: "Lunch" }, error: null });
    driver.presentInbound({ interactionId: "AI-1", cli: "+61299990000", queue: "Support" });
    const open = got.onInteractionOpen.at(-1);
    assert.equal(open.error, null);
    assert.match(open.result.timestamp, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(open.result.interaction, {
      agentInteractionId: "AI-1",
      callType: "inbound",
      activity: { customerCli: "+61299990000", sourcePhoneNumber: "+61299990000", destinationPhoneNumber: "", queueName: "Support", campaignName: "" },
    });
    driver.start("AI-1");
    driver.hangup("AI-1");
    driver.wrap("AI-1", 3, "Query resolved");
    assert.deepEqual(got.onCallWrapped[0].result.interaction.activity.wrapCode, 3);
    assert.deepEqual(got.onInteractionClosed, [{ result: { interaction: { agentInteractionId: "AI-1", callType: "inbound" } }, error: null }]);
    driver.logout();
    assert.deepEqual(got.onAgentLogout, [{ result: { agent: { agentId: "1042", fullName: "Ann Agent" } }, error: null }]);
  });

  test("every listener of every client hears the adaptor; one that throws does not stop the others", () => {
    const { win, driver, errors } = load();
    const a = new win.IpscapeWebClient();
    const b = new win.IpscapeWebClient();
    let heard = 0;
    a.onAgentLogin(() => {
      throw new Error("boom");
    });
    b.onAgentLogin(() => heard++);
    driver.login("1042");
    assert.equal(heard, 1);
    assert.match(errors[0], /onAgentLogin callback threw/);
  });

  test("isAuthorised answers through the callback and the promise", async () => {
    const { win, driver } = load();
    const client = new win.IpscapeWebClient();
    const seen = [];
    assert.equal(await client.isAuthorised((v) => seen.push(v)), false);
    driver.login("1042");
    assert.equal(await client.isAuthorised((v) => seen.push(v)), true);
    assert.deepEqual(seen, [false, true]);
  });

  test("clickToDial and addComponentOption refuse bad messages with {error}", async () => {
    const { win, driver } = load();
    const client = new win.IpscapeWebClient();
    assert.match((await client.clickToDial({ number: "1" })).error.message, /expected \{event: "clickToDial", number\}/);
    assert.match((await client.clickToDial({ event: "clickToDial", number: "123" })).error.message, /not logged in/);
    assert.deepEqual(plain(driver.dials), [{ event: "clickToDial", number: "123" }]);
    assert.match((await client.addComponentOption({ name: "whoId", option: { value: "x" } })).error.message, /no component "whoId"/);
    assert.match((await client.addComponentOption({ name: "person", option: {} })).error.message, /option.value is missing/);
  });

  test("the driver refuses what the adaptor would not do", () => {
    const { driver } = load();
    assert.throws(() => driver.presentInbound({ interactionId: "AI-1" }), /log the agent in first/);
    driver.login("1042");
    assert.throws(() => driver.start("nope"), /no interaction "nope"/);
    assert.throws(() => driver.presentPreview({}), /interactionId is required/);
    driver.presentInbound({ interactionId: "AI-1", cli: "1" });
    assert.throws(() => driver.wrap("AI-1"), /wrap code is required/);
  });
});

describe("the panel", () => {
  test("is rendered into body once the document has loaded", () => {
    const s = load({ loaded: false });
    assert.equal(s.doc.body, null);
    s.doc.loaded();
    const section = s.$("ipscape-adaptor");
    assert.ok(section);
    assert.equal(section.tagName, "SECTION");
    assert.equal(section.parentNode, s.doc.body);
    assert.match(section.textContent, /ipSCAPE CTI Adaptor \(stand-in\)/);
    for (const id of ["ips-agent-state", "ips-interaction", "ips-component-person", "ips-component-organisation", "ips-last-dial"]) {
      assert.ok(s.$(id), id);
    }
    assert.equal(s.$("ips-component-person").tagName, "SELECT");
  });

  test("is rendered at once when body exists", () => {
    const s = load({ withBody: true });
    assert.ok(s.$("ipscape-adaptor"));
    assert.equal(s.doc.body.children.length, 1);
  });

  test("shows the agent state and the current interaction", () => {
    const { $, driver } = load();
    assert.equal($("ips-agent-state").textContent, "Logged out");
    driver.login("1042");
    driver.pause("Lunch");
    assert.equal($("ips-agent-state").textContent, "Paused: Lunch");
    driver.ready();
    assert.equal($("ips-agent-state").getAttribute("data-state"), "Ready");
    driver.presentInbound({ interactionId: "AI-7", cli: "+61299990000" });
    assert.equal($("ips-interaction").getAttribute("data-interaction-id"), "AI-7");
    assert.match($("ips-interaction").textContent, /AI-7 · inbound · \+61299990000 · ringing/);
    driver.start("AI-7");
    assert.equal($("ips-agent-state").textContent, "On call");
    driver.hangup("AI-7");
    assert.equal($("ips-agent-state").textContent, "On wrap");
    driver.wrap("AI-7", "SALE", "Sale");
    assert.equal($("ips-interaction").textContent, "none");
    assert.equal($("ips-agent-state").textContent, "Ready", "back to the state before the call");
  });
});

describe("with the provider", () => {
  test("an inbound call: alerting, started, related, hung up, wrapped", async () => {
    const s = await withProvider({ loginFirst: true });
    assert.equal(s.provider.status().authorised, true);
    s.driver.ready();
    s.driver.presentInbound({ interactionId: "AI-10001", cli: "+61299990000", queue: "Support", ddi: "+61280001000" });
    s.driver.start("AI-10001");
    const types = s.events.map((e) => e.type);
    assert.deepEqual(types, ["agentState", "callAlerting", "callStarted"]);
    const alerting = s.events[1];
    assert.equal(alerting.id, "ipscape:AI-10001:callAlerting");
    assert.equal(alerting.interaction.callType, "inbound");
    assert.equal(alerting.interaction.activity.customerCli, "+61299990000");
    assert.equal(alerting.interaction.activity.sourcePhoneNumber, "+61299990000");
    assert.equal(alerting.interaction.activity.queueName, "Support");

    // The widget fills the components; the panel's selects show them.
    await s.provider.relations({
      person: [{ label: "Jane Citizen", value: "contact:11111111-1111-1111-1111-111111111111", selected: true }],
      organisation: [{ label: "Contoso", value: "account:22222222-2222-2222-2222-222222222222", selected: false }],
    });
    const person = s.$("ips-component-person");
    const org = s.$("ips-component-organisation");
    assert.deepEqual(person.options, [
      { value: "", label: "— none —" },
      { value: "contact:11111111-1111-1111-1111-111111111111", label: "Jane Citizen" },
    ]);
    assert.equal(person.value, "contact:11111111-1111-1111-1111-111111111111");
    assert.equal(org.value, "");
    // The agent chooses in the adaptor: the widget is told.
    org.value = "account:22222222-2222-2222-2222-222222222222";
    org.dispatch("change");
    assert.deepEqual(s.relates, [{ box: "entity", value: "account:22222222-2222-2222-2222-222222222222" }]);
    assert.equal(plain(s.driver.components()).organisation[0].selected, true);

    s.driver.hangup("AI-10001");
    s.driver.wrap("AI-10001", 3, "Query resolved");
    const wrapped = s.events.find((e) => e.type === "callWrapped");
    assert.equal(wrapped.id, "ipscape:AI-10001:callWrapped");
    assert.equal(wrapped.interaction.activity.wrapCode, 3);
    assert.equal(wrapped.interaction.activity.wrapDescription, "Query resolved");
    assert.deepEqual(s.events.map((e) => e.type), ["agentState", "callAlerting", "callStarted", "callHangup", "callWrapped", "agentState"]);
    assert.deepEqual(s.events.filter((e) => e.type === "agentState").map((e) => e.state), ["Ready", "Ready"]);
    assert.equal(s.provider.status().interaction, null, "closed");
    assert.deepEqual(plain(s.driver.components()), { person: [], organisation: [] });
    assert.equal(s.provider.status().lastError, "");
  });

  test("a preview: allocated with the lead's phones, dialled from the widget, connected", async () => {
    const s = await withProvider({ loginFirst: true });
    s.driver.presentPreview({
      interactionId: "AI-10003",
      lead: { leadId: "L-30877", name: "Sam O'Brien", campaignName: "Win-back", phones: [{ index: 1, phone: "0299990000", type: "home" }, { index: 2, phone: "0412345678" }] },
    });
    const pv = s.events.find((e) => e.type === "previewAllocated");
    assert.equal(pv.id, "ipscape:AI-10003:previewAllocated");
    assert.deepEqual(pv.interaction.leadData.phones, [{ index: 1, phone: "0299990000", type: "home" }, { index: 2, phone: "0412345678" }]);
    assert.equal(s.events.filter((e) => e.type === "callAlerting").length, 0, "a preview is not ringing");
    await s.provider.dial("0412345678");
    assert.deepEqual(plain(s.driver.dials), [{ event: "clickToDial", number: "0412345678" }]);
    assert.equal(s.$("ips-last-dial").textContent, "0412345678");
    s.driver.start("AI-10003");
    const started = s.events.find((e) => e.type === "callStarted");
    assert.equal(started.interaction.callType, "preview");
    assert.equal(started.interaction.activity.customerCli, "0412345678");
    assert.equal(started.interaction.leadData.phoneIndex, 2);
  });

  test("a manual call from click-to-dial that nobody answers", async () => {
    const s = await withProvider({ loginFirst: true });
    await s.provider.dial("+61370001234");
    assert.equal(plain(s.driver.state()).currentId, "MAN-1");
    assert.equal(s.provider.status().agentState, "Dialling");
    s.driver.fail("MAN-1", "No Answer");
    s.driver.wrap("MAN-1", 21, "No answer");
    const calls = s.events.filter((e) => e.type !== "agentState");
    assert.deepEqual(calls.map((e) => e.id), ["ipscape:MAN-1:callFailed", "ipscape:MAN-1:callWrapped"]);
    assert.equal(calls[0].interaction.callType, "manual");
    assert.equal(calls[0].interaction.activity.customerCli, "+61370001234");
    assert.equal(calls[0].interaction.activity.dialStatusName, "No Answer");
    // A second dial while on a call is refused by the adaptor.
    await s.provider.dial("1");
    await assert.rejects(s.provider.dial("2"), /refused: the agent is on interaction MAN-2/);
  });

  test("the agent logging in to the adaptor after the widget started", async () => {
    const s = await withProvider();
    assert.equal(s.provider.status().authorised, false);
    await assert.rejects(s.provider.dial("1"), /log in to ipSCAPE's CTI Adaptor first/);
    s.driver.login("1042");
    await settle();
    assert.equal(s.provider.status().authorised, true);
    s.driver.logout();
    assert.deepEqual(s.events.map((e) => e.state), ["Paused", "LoggedOut"]);
  });
});
