// Tests of the ipSCAPE provider (ipscape.mjs) with node's test runner.
//
// fakeIpscape builds a window holding a fake IpscapeWebClient: it records the
// listeners the provider registers and every clickToDial and
// addComponentOption call, and lets a test fire a listener with any data,
// malformed data included. The data shapes are the ADAPTER section's.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createProvider, ADAPTER, checkInteraction } from "./ipscape.mjs";

function fakeIpscape({ authorised = true, authStyle = "callback", dialAnswer, componentAnswer } = {}) {
  const listeners = {};
  const dials = [];
  const options = [];
  let constructed = 0;
  class IpscapeWebClient {
    constructor() {
      constructed++;
      for (const name of ADAPTER.listeners) {
        this[name] = (cb) => (listeners[name] ||= []).push(cb);
      }
    }
    isAuthorised(cb) {
      if (authStyle === "callback") {
        cb(authorised);
        return undefined;
      }
      if (authStyle === "promise") return Promise.resolve({ result: authorised });
      return new Promise(() => {}); // never answers
    }
    clickToDial(msg) {
      dials.push(msg);
      if (dialAnswer instanceof Error) return Promise.reject(dialAnswer);
      return Promise.resolve(dialAnswer || { result: { ok: true }, error: null });
    }
    addComponentOption(arg) {
      options.push(arg);
      return Promise.resolve(componentAnswer || { result: arg, error: null });
    }
  }
  const timers = [];
  const win = {
    IpscapeWebClient,
    setTimeout: (fn, ms) => timers.push({ fn, ms }) - 1,
    clearTimeout: (id) => {
      if (timers[id]) timers[id].fn = null;
    },
  };
  const fire = (name, data) => {
    for (const cb of listeners[name] || []) cb(data);
  };
  return { win, listeners, dials, options, fire, timers, constructed: () => constructed };
}

function harness(opts = {}) {
  const fake = fakeIpscape(opts);
  const events = [];
  const logs = [];
  const relates = [];
  let changes = 0;
  const ctx = {
    settings: { source: "ipscape" },
    agentId: "1042",
    emit: (e) => events.push(e),
    changed: () => changes++,
    log: (level, message) => logs.push({ level, message }),
    window: fake.win,
    now: () => Date.parse("2026-12-04T10:00:00.000Z"),
    ...(opts.noRelate ? {} : { relate: (r) => relates.push(r) }),
  };
  const provider = createProvider(ctx);
  return { ...fake, ctx, provider, events, logs, relates, changes: () => changes };
}

async function started(opts) {
  const h = harness(opts);
  await h.provider.start();
  return h;
}

const settle = () => new Promise((r) => setImmediate(r));

// Interactions as the reference config's paths read them.
const INBOUND = {
  agentInteractionId: "AI-10001",
  callType: "inbound",
  activity: {
    activityId: 5512001,
    customerCli: "+61299990000",
    sourcePhoneNumber: "+61299990000",
    destinationPhoneNumber: "+61280001000",
    queueName: "Support",
    campaignName: "Customer Care",
  },
};
const PREVIEW = {
  agentInteractionId: "AI-10003",
  callType: "preview",
  activity: { campaignId: 45, campaignName: "Win-back" },
  leadData: {
    leadId: "L-30877",
    name: "Sam O'Brien",
    phoneIndex: 1,
    phones: [
      { index: 1, phone: "0299990000", type: "home" },
      { index: 2, phone: "0412345678", type: "mobile" },
    ],
    custom: { tier: "gold" },
  },
};
const data = (interaction, extra = {}) => ({ result: { interaction: structuredClone(interaction), ...extra }, error: null });

describe("start", () => {
  test("without the integration bundle it rejects, naming the script to load", async () => {
    const h = harness();
    delete h.win.IpscapeWebClient;
    await assert.rejects(h.provider.start(), /window\.IpscapeWebClient is missing.*ips-dynamics-integration/);
    assert.equal(h.provider.status().connected, false);
  });

  test("registers every published listener once", async () => {
    const h = await started();
    assert.deepEqual(Object.keys(h.listeners).sort(), [...ADAPTER.listeners].sort());
    for (const name of ADAPTER.listeners) assert.equal(h.listeners[name].length, 1, name);
    assert.equal(ADAPTER.listeners.length, 11);
  });

  test("a Web Client missing listeners is refused", async () => {
    const h = harness();
    const Base = h.win.IpscapeWebClient;
    h.win.IpscapeWebClient = class extends Base {
      constructor() {
        super();
        delete this.onPreviewAllocated;
      }
    };
    await assert.rejects(h.provider.start(), /no onPreviewAllocated/);
  });

  for (const authStyle of ["callback", "promise"]) {
    test(`isAuthorised (${authStyle}) sets authorised`, async () => {
      let h = await started({ authStyle, authorised: true });
      assert.equal(h.provider.status().authorised, true);
      assert.equal(h.provider.status().connected, true);
      h = await started({ authStyle, authorised: false });
      const s = h.provider.status();
      assert.equal(s.authorised, false);
      assert.equal(s.agentState, "LoggedOut");
      assert.match(s.message, /Log in to ipSCAPE's CTI Adaptor/);
      assert.equal(h.events.length, 0, "start emits nothing of its own");
    });
  }

  test("an unanswered isAuthorised does not hang start", async () => {
    const h = harness({ authStyle: "never" });
    const p = h.provider.start();
    assert.equal(h.timers.length, 1);
    h.timers[0].fn();
    await p;
    assert.equal(h.provider.status().authorised, false);
    h.fire("onAgentLogin", { result: { agent: { agentId: "1042" }, state: "Ready" }, error: null });
    assert.equal(h.provider.status().authorised, true);
  });
});

describe("call listeners", () => {
  test("onPreviewAllocated -> previewAllocated, interaction carried unchanged", async () => {
    const h = await started();
    h.fire("onPreviewAllocated", data(PREVIEW, { timestamp: "2025-03-04T11:30:00Z" }));
    assert.equal(h.events.length, 1);
    const e = h.events[0];
    assert.equal(e.id, "ipscape:AI-10003:previewAllocated");
    assert.equal(e.type, "previewAllocated");
    assert.equal(e.timestamp, "2025-03-04T11:30:00Z");
    assert.deepEqual(e.interaction, PREVIEW);
    assert.equal(e.agentId, undefined, "the server takes the agent from the session");
    // The reference config's preview path: phones.index=1[phone].
    assert.equal(e.interaction.leadData.phones.find((p) => p.index === 1).phone, "0299990000");
    assert.equal(h.provider.status().interaction.state, "previewing");
  });

  test("onPreviewAllocated refuses another call type", async () => {
    const h = await started();
    h.fire("onPreviewAllocated", data({ ...PREVIEW, callType: "inbound" }));
    assert.equal(h.events.length, 0);
    assert.equal(h.provider.status().lastError, 'onPreviewAllocated: result.interaction.callType: "inbound" on a preview allocation; expected preview');
  });

  test("onInteractionOpen of an inbound interaction -> callAlerting", async () => {
    const h = await started();
    h.fire("onInteractionOpen", data(INBOUND, { timestamp: "2025-03-04T09:15:00Z" }));
    assert.deepEqual(h.events, [
      { id: "ipscape:AI-10001:callAlerting", type: "callAlerting", timestamp: "2025-03-04T09:15:00Z", interaction: INBOUND },
    ]);
    assert.equal(h.events[0].interaction.activity.customerCli, "+61299990000");
    assert.equal(h.events[0].interaction.activity.sourcePhoneNumber, "+61299990000");
    assert.deepEqual(h.provider.status().interaction, { interactionId: "AI-10001", callType: "inbound", state: "alerting" });
  });

  test("onInteractionOpen of other call types, or of an answered inbound call, emits nothing", async () => {
    const h = await started();
    for (const callType of ["manual", "outbound", "preview"]) {
      h.fire("onInteractionOpen", data({ ...INBOUND, agentInteractionId: `X-${callType}`, callType }));
    }
    assert.equal(h.events.length, 0);
    h.fire("onCallStarted", data(INBOUND));
    h.fire("onInteractionOpen", data(INBOUND)); // the agent refocuses it
    assert.deepEqual(h.events.map((e) => e.type), ["callStarted"]);
  });

  test("onCallStarted, onCallFailed, onCallHangup, onCallWrapped map to their events", async () => {
    const h = await started();
    const cases = [
      ["onCallStarted", "callStarted", "connected"],
      ["onCallFailed", "callFailed", "failed"],
      ["onCallHangup", "callHangup", "ended"],
      ["onCallWrapped", "callWrapped", "wrapped"],
    ];
    for (const [listener, type, state] of cases) {
      const before = h.events.length;
      h.fire(listener, data(INBOUND));
      assert.equal(h.events.length, before + 1, listener);
      const e = h.events.at(-1);
      assert.equal(e.id, `ipscape:AI-10001:${type}`);
      assert.equal(e.type, type);
      assert.deepEqual(e.interaction, INBOUND);
      assert.equal(h.provider.status().interaction.state, state);
    }
  });

  test("call types come from the data", async () => {
    const h = await started();
    for (const callType of ["manual", "inbound", "outbound", "preview"]) {
      h.fire("onCallStarted", data({ agentInteractionId: `C-${callType}`, callType }));
    }
    assert.deepEqual(h.events.map((e) => e.interaction.callType), ["manual", "inbound", "outbound", "preview"]);
  });

  test("onCallWrapped carries wrapCode and wrapDescription from the data", async () => {
    const h = await started();
    const wrapped = { ...INBOUND, activity: { ...INBOUND.activity, wrapCode: 3, wrapDescription: "Query resolved", notes: "Renews 1 July." } };
    h.fire("onCallWrapped", data(wrapped));
    const e = h.events[0];
    assert.equal(e.type, "callWrapped");
    assert.equal(e.interaction.activity.wrapCode, 3);
    assert.equal(e.interaction.activity.wrapDescription, "Query resolved");
    assert.equal(e.interaction.activity.notes, "Renews 1 July.");
  });

  test("the event is a copy: the adaptor changing its data later changes nothing sent", async () => {
    const h = await started();
    const d = data(INBOUND);
    h.fire("onCallStarted", d);
    d.result.interaction.activity.customerCli = "changed";
    assert.equal(h.events[0].interaction.activity.customerCli, "+61299990000");
  });

  test("without a timestamp in the data the event takes the clock's", async () => {
    const h = await started();
    h.fire("onCallStarted", data(INBOUND));
    h.fire("onCallHangup", data(INBOUND, { timestamp: "yesterday" }));
    assert.equal(h.events[0].timestamp, "2026-12-04T10:00:00.000Z");
    assert.equal(h.events[1].timestamp, "2026-12-04T10:00:00.000Z");
  });

  test("a repeated listener call is emitted once", async () => {
    const h = await started();
    h.fire("onCallStarted", data(INBOUND));
    h.fire("onCallStarted", data(INBOUND));
    assert.equal(h.events.length, 1);
  });

  test("a numeric interaction id is kept as sent and names the event", async () => {
    const h = await started();
    h.fire("onCallStarted", data({ agentInteractionId: 90071992, callType: "manual" }));
    assert.equal(h.events[0].id, "ipscape:90071992:callStarted");
    assert.equal(h.events[0].interaction.agentInteractionId, 90071992);
  });
});

describe("malformed payloads are reported, not emitted", () => {
  const cases = [
    { name: "no interaction id", listener: "onCallStarted", data: data({ callType: "inbound" }), want: "onCallStarted: result.interaction.agentInteractionId: missing" },
    { name: "blank interaction id", listener: "onCallHangup", data: data({ agentInteractionId: "  ", callType: "inbound" }), want: "onCallHangup: result.interaction.agentInteractionId: is blank" },
    { name: "object interaction id", listener: "onCallStarted", data: data({ agentInteractionId: { id: 1 }, callType: "inbound" }), want: "onCallStarted: result.interaction.agentInteractionId: is an object; write a string" },
    { name: "unknown call type", listener: "onCallStarted", data: data({ agentInteractionId: "A1", callType: "fax" }), want: 'onCallStarted: result.interaction.callType: "fax" is not a call type; use manual, inbound, outbound or preview' },
    { name: "ipSCAPE report type that is not a call type", listener: "onCallFailed", data: data({ agentInteractionId: "A1", callType: "diverted" }), want: 'onCallFailed: result.interaction.callType: "diverted" is not a call type; use manual, inbound, outbound or preview' },
    { name: "call type of the wrong case", listener: "onCallStarted", data: data({ agentInteractionId: "A1", callType: "Inbound" }), want: 'onCallStarted: result.interaction.callType: "Inbound" is not a call type; use manual, inbound, outbound or preview' },
    { name: "missing call type", listener: "onCallWrapped", data: data({ agentInteractionId: "A1" }), want: "onCallWrapped: result.interaction.callType: missing" },
    { name: "numeric call type", listener: "onCallStarted", data: data({ agentInteractionId: "A1", callType: 2 }), want: "onCallStarted: result.interaction.callType: is the number 2; use manual, inbound, outbound or preview" },
    { name: "customerCli an object", listener: "onInteractionOpen", data: data({ ...INBOUND, activity: { customerCli: { n: 1 } } }), want: "onInteractionOpen: result.interaction.activity.customerCli: is an object; write a string" },
    { name: "activity a string", listener: "onCallStarted", data: data({ ...INBOUND, activity: "x" }), want: 'onCallStarted: result.interaction.activity: is the string "x"; expected an object' },
    { name: "wrapCode a boolean", listener: "onCallWrapped", data: data({ ...INBOUND, activity: { wrapCode: true } }), want: "onCallWrapped: result.interaction.activity.wrapCode: is the boolean true; write a string" },
    { name: "phone index a string", listener: "onPreviewAllocated", data: data({ ...PREVIEW, leadData: { phones: [{ index: 1, phone: "1" }, { index: "2", phone: "2" }] } }), want: 'onPreviewAllocated: result.interaction.leadData.phones[1].index: is the string "2"; it must be a whole JSON number from 1, e.g. 1' },
    { name: "phones not a list", listener: "onPreviewAllocated", data: data({ ...PREVIEW, leadData: { phones: {} } }), want: "onPreviewAllocated: result.interaction.leadData.phones: is an object; expected a list" },
    { name: "no interaction", listener: "onCallStarted", data: { result: {}, error: null }, want: "onCallStarted: result.interaction: missing" },
    { name: "interaction an array", listener: "onCallStarted", data: { result: { interaction: [] }, error: null }, want: "onCallStarted: result.interaction: is an array; expected an object" },
    { name: "no result", listener: "onCallHangup", data: { error: null }, want: "onCallHangup: result: missing" },
    { name: "not an object", listener: "onCallHangup", data: "boom", want: 'onCallHangup: data: is the string "boom"; expected {result, error}' },
    { name: "an error from the adaptor", listener: "onCallStarted", data: { result: null, error: { message: "socket closed" } }, want: "onCallStarted: error: socket closed" },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const h = await started();
      h.fire(c.listener, c.data);
      assert.equal(h.events.length, 0);
      assert.equal(h.provider.status().lastError, c.want);
      assert.ok(h.logs.some((l) => l.level === "warn" && l.message.includes(c.want)), "logged");
    });
  }

  test("a good payload after a bad one is still emitted", async () => {
    const h = await started();
    h.fire("onCallStarted", data({ callType: "inbound" }));
    h.fire("onCallStarted", data(INBOUND));
    assert.equal(h.events.length, 1);
  });

  test("checkInteraction accepts the docs' examples", () => {
    assert.equal(checkInteraction(INBOUND, "i"), "AI-10001");
    assert.equal(checkInteraction(PREVIEW, "i"), "AI-10003");
  });
});

describe("agent state", () => {
  test("login, presence changes and logout -> agentState", async () => {
    const h = await started({ authorised: false });
    h.fire("onAgentLogin", { result: { agent: { agentId: "1042", fullName: "Ann" }, state: "Paused", reason: "" }, error: null });
    h.fire("onAgentPresenceChange", { result: { state: "Ready" }, error: null });
    h.fire("onAgentPresenceChange", { result: { state: "Paused", reason: "Lunch" }, error: null });
    h.fire("onAgentPresenceChange", { result: { state: "Connection" }, error: null });
    h.fire("onAgentLogout", { result: {}, error: null });
    assert.deepEqual(
      h.events.map((e) => [e.type, e.state, e.reason]),
      [
        ["agentState", "Paused", ""],
        ["agentState", "Ready", ""],
        ["agentState", "Paused", "Lunch"],
        ["agentState", "LoggedOut", ""],
      ],
      "logout after Connection is no change",
    );
    for (const e of h.events) {
      assert.match(e.id, /^ipscape:agent-1042:agentState:/);
      assert.equal(e.timestamp, "2026-12-04T10:00:00.000Z");
    }
    assert.equal(new Set(h.events.map((e) => e.id)).size, h.events.length, "ids are unique per change");
    assert.equal(h.provider.status().authorised, false);
  });

  test("a login without a state is Paused", async () => {
    const h = await started({ authorised: false });
    h.fire("onAgentLogin", { result: { agent: { agentId: "1042" } }, error: null });
    assert.deepEqual([h.events[0].state, h.provider.status().authorised], ["Paused", true]);
  });

  test("a login as another ipSCAPE agent is warned about", async () => {
    const h = await started({ authorised: false });
    h.fire("onAgentLogin", { result: { agent: { agentId: "7" }, state: "Ready" }, error: null });
    assert.ok(h.logs.some((l) => l.level === "warn" && /agent 7, ctibridge as agent 1042/.test(l.message)));
    assert.equal(h.events[0].state, "Ready");
  });

  test("busy states are shown but not emitted; returning to Ready is", async () => {
    const h = await started();
    h.fire("onAgentPresenceChange", { result: { state: "Ready" }, error: null });
    for (const [state, want] of [["Dialling", "Dialling"], ["On call", "OnCall"], ["ON_WRAP", "OnWrap"]]) {
      h.fire("onAgentPresenceChange", { result: { state }, error: null });
      assert.equal(h.provider.status().agentState, want);
    }
    h.fire("onAgentPresenceChange", { result: { state: "Available" }, error: null });
    assert.deepEqual(h.events.map((e) => e.state), ["Ready", "Ready"]);
  });

  test("the same state twice is emitted once", async () => {
    const h = await started();
    h.fire("onAgentPresenceChange", { result: { state: "Paused", reason: "Break" }, error: null });
    h.fire("onAgentPresenceChange", { result: { state: "Paused", reason: "Break" }, error: null });
    h.fire("onAgentPresenceChange", { result: { state: "Paused", reason: "Training" }, error: null });
    assert.deepEqual(h.events.map((e) => e.reason), ["Break", "Training"]);
  });

  test("unknown or malformed presence is refused with the path", async () => {
    const h = await started();
    h.fire("onAgentPresenceChange", { result: { state: "Sleeping" }, error: null });
    assert.equal(h.provider.status().lastError, 'onAgentPresenceChange: result.state: "Sleeping" is not an agent state; expected Connection, Paused, Ready, Dialling, On call or On wrap');
    h.fire("onAgentPresenceChange", { result: {}, error: null });
    assert.equal(h.provider.status().lastError, "onAgentPresenceChange: result.state: missing");
    h.fire("onAgentPresenceChange", { result: { state: "Paused", reason: 4 }, error: null });
    assert.equal(h.provider.status().lastError, "onAgentPresenceChange: result.reason: is the number 4; write a string");
    h.fire("onAgentLogin", { result: null, error: "bad password" });
    assert.equal(h.provider.status().lastError, "onAgentLogin: error: bad password");
    assert.equal(h.events.length, 0);
  });
});

describe("dial", () => {
  test("sends the published clickToDial message", async () => {
    const h = await started();
    await h.provider.dial(" +61 2 9999 0000 ");
    assert.deepEqual(h.dials, [{ event: "clickToDial", number: "+61 2 9999 0000" }]);
  });

  test("refuses without a number, before start, or while the agent is logged out of ipSCAPE", async () => {
    let h = await started();
    await assert.rejects(h.provider.dial(""), /no number to dial/);
    h = harness();
    await assert.rejects(h.provider.dial("123"), /not connected/);
    h = await started({ authorised: false });
    await assert.rejects(h.provider.dial("123"), /log in to ipSCAPE's CTI Adaptor first/);
    assert.equal(h.dials.length, 0);
  });

  test("an adaptor refusal rejects with its message", async () => {
    let h = await started({ dialAnswer: { result: null, error: { message: "agent is on a call" } } });
    await assert.rejects(h.provider.dial("123"), /Dial 123: ipSCAPE's CTI Adaptor refused: agent is on a call/);
    h = await started({ dialAnswer: new Error("timeout") });
    await assert.rejects(h.provider.dial("123"), /refused: timeout/);
  });
});

describe("components", () => {
  const BOXES = {
    person: [
      { label: "Jane Citizen", value: "contact:0b7c5a1e-8f3d-4c2a-9e61-5d4f3b2a1c0e", selected: true },
      { label: "Sam Lee", value: "contact:1b7c5a1e-8f3d-4c2a-9e61-5d4f3b2a1c0e", selected: false },
    ],
    organisation: [{ label: "Contoso", value: "account:a3e1f2d4-5b6c-4d7e-8f90-1a2b3c4d5e6f", selected: false }],
  };

  test("relations fills both components, one addComponentOption per option", async () => {
    const h = await started();
    await h.provider.relations(BOXES);
    assert.deepEqual(h.options, [
      { name: "person", option: { label: "Sam Lee", value: "contact:1b7c5a1e-8f3d-4c2a-9e61-5d4f3b2a1c0e", selected: false } },
      { name: "person", option: { label: "Jane Citizen", value: "contact:0b7c5a1e-8f3d-4c2a-9e61-5d4f3b2a1c0e", selected: true } },
      { name: "organisation", option: { label: "Contoso", value: "account:a3e1f2d4-5b6c-4d7e-8f90-1a2b3c4d5e6f", selected: false } },
    ]);
  });

  test("only changes are sent again; a moved selection unselects first", async () => {
    const h = await started();
    await h.provider.relations(BOXES);
    h.options.length = 0;
    await h.provider.relations(BOXES);
    assert.equal(h.options.length, 0, "nothing changed");
    await h.provider.relations({
      person: [
        { ...BOXES.person[0], selected: false },
        { ...BOXES.person[1], selected: true },
      ],
    });
    assert.deepEqual(h.options.map((o) => [o.option.label, o.option.selected]), [["Jane Citizen", false], ["Sam Lee", true]]);
  });

  test("a selected option the widget no longer lists is unselected in the adaptor", async () => {
    const h = await started();
    await h.provider.relations(BOXES);
    h.options.length = 0;
    await h.provider.relations({ person: [BOXES.person[1]], organisation: BOXES.organisation });
    assert.deepEqual(h.options, [{ name: "person", option: { label: "Jane Citizen", value: BOXES.person[0].value, selected: false } }]);
  });

  test("a new interaction starts with empty components", async () => {
    const h = await started();
    h.fire("onInteractionOpen", data(INBOUND));
    await h.provider.relations(BOXES);
    h.fire("onInteractionOpen", data({ ...INBOUND, agentInteractionId: "AI-2" }));
    h.options.length = 0;
    await h.provider.relations(BOXES);
    assert.equal(h.options.length, 3);
  });

  test("an adaptor refusal is reported, not thrown", async () => {
    const h = await started({ componentAnswer: { result: null, error: { message: "no interaction" } } });
    await h.provider.relations({ organisation: BOXES.organisation });
    assert.match(h.provider.status().lastError, /^addComponentOption: organisation account:a3e1.*: no interaction$/);
  });

  test("a change in the adaptor's boxes -> relate with the widget's box", async () => {
    const h = await started();
    await h.provider.relations(BOXES);
    h.fire("onComponentChanged", { result: { name: "person", value: BOXES.person[1].value }, error: null });
    h.fire("onComponentChanged", { result: { name: "organisation", value: BOXES.organisation[0].value }, error: null });
    h.fire("onComponentChanged", { result: { name: "organisation", value: "" }, error: null });
    assert.deepEqual(h.relates, [
      { box: "person", value: BOXES.person[1].value },
      { box: "entity", value: BOXES.organisation[0].value },
      { box: "entity", value: "" },
    ]);
    assert.equal(h.events.length, 0, "a relation is not a telephony event");
    // The widget echoing the adaptor's own choice sends nothing back.
    h.options.length = 0;
    await h.provider.relations({
      person: [
        { ...BOXES.person[0], selected: false },
        { ...BOXES.person[1], selected: true },
      ],
    });
    assert.equal(h.options.length, 0);
  });

  test("an unknown component or value is refused", async () => {
    const h = await started();
    h.fire("onComponentChanged", { result: { name: "whoId", value: "x" }, error: null });
    assert.equal(h.provider.status().lastError, 'onComponentChanged: result.name: "whoId": not a component of this integration; expected person or organisation');
    h.fire("onComponentChanged", { result: { name: "person", value: 3 }, error: null });
    assert.equal(h.provider.status().lastError, "onComponentChanged: result.value: is the number 3; expected an option value (a string)");
    assert.equal(h.relates.length, 0);
  });

  test("without ctx.relate the choice is reported as lost", async () => {
    const h = await started({ noRelate: true });
    h.fire("onComponentChanged", { result: { name: "person", value: "contact:1" }, error: null });
    assert.match(h.provider.status().lastError, /no relate\(\)/);
  });
});

describe("stop", () => {
  test("events after stop are ignored, and a restart does not double them", async () => {
    const h = await started();
    await h.provider.stop();
    assert.equal(h.provider.status().connected, false);
    h.fire("onCallStarted", data(INBOUND));
    assert.equal(h.events.length, 0);
    await h.provider.start();
    h.fire("onCallHangup", data(INBOUND));
    assert.equal(h.events.length, 1);
    assert.equal(h.constructed(), 2);
  });
});

test("relations before start sends nothing", async () => {
  const h = harness();
  await h.provider.relations({ person: [{ label: "a", value: "contact:1", selected: true }] });
  await settle();
  assert.equal(h.options.length, 0);
});
