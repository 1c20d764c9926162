// Tests of the CIF 2.0 multi-session decisions (sessions.mjs).

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  SESSION_MAX, withTimeout, notificationInput, notificationOutcome, NotificationOutcome, cancellationToken,
  sessionInput, sessionTitle, CallSessions, PresenceSync, callerName, sessionMode, offerCall,
} from "./sessions.mjs";

const call = { interactionId: "IX-1", number: "0299990000", queue: "Sales", campaign: "Customer Service", callType: "inbound" };

describe("withTimeout", () => {
  test("gives up after the time with a message naming the call", async () => {
    let fire;
    const p = withTimeout(new Promise(() => {}), 10000, "createSession", { setTimer: (f) => ((fire = f), 1), clearTimer: () => {} });
    fire();
    await assert.rejects(p, /createSession: no answer within 10 s/);
  });
  test("passes an answer and a refusal through", async () => {
    const t = { setTimer: () => 1, clearTimer: () => {} };
    assert.equal(await withTimeout(Promise.resolve("s-1"), 10000, "x", t), "s-1");
    await assert.rejects(withTimeout(Promise.reject(new Error("no")), 10000, "x", t), /no/);
  });
});

describe("notificationInput", () => {
  test("names the caller by the matched record, with queue, campaign and a token per call", () => {
    const input = notificationInput(call, { template: "new_ctibridge_incoming_call", matchName: "Jane Citizen" });
    assert.deepEqual(input, {
      templateName: "new_ctibridge_incoming_call",
      templateParameters: {
        customerName: "Jane Citizen", phoneNumber: "0299990000", queue: "Sales", campaign: "Customer Service",
        callType: "inbound", interactionId: "IX-1",
      },
      cancellationToken: cancellationToken("IX-1"),
    });
  });
  test("without a match the number names the caller", () => {
    assert.equal(notificationInput(call, { template: "t" }).templateParameters.customerName, "0299990000");
    assert.equal(callerName({}), "Unknown caller");
  });
  test("a missing template is a clear error naming the setting", () => {
    assert.throws(() => notificationInput(call, {}), /cif\.notificationTemplate/);
  });
  test("hostile values are cut to a short string", () => {
    const p = notificationInput({ ...call, queue: "x".repeat(5000) }, { template: "t" }).templateParameters;
    assert.equal(p.queue.length, 100);
  });
});

describe("notificationOutcome", () => {
  const cases = [
    { name: "accepted by the agent", in: '{"value":{"actionName":"Accept","responseReason":"Accept"}}', want: NotificationOutcome.ACCEPTED },
    { name: "accepted by the template", in: '{"value":{"actionName":"Accept","responseReason":"AutoAccept"}}', want: NotificationOutcome.ACCEPTED },
    { name: "rejected by the agent", in: '{"value":{"actionName":"Reject","responseReason":"DeclinedByAgent"}}', want: NotificationOutcome.REJECTED },
    { name: "display timeout is missed", in: '{"value":{"actionName":"Timeout","responseReason":"DisplayTimeout"}}', want: NotificationOutcome.MISSED },
    { name: "over ten queued notifications is missed", in: '{"value":{"actionName":"Reject","responseReason":"NotificationQueueLimitExceeded"}}', want: NotificationOutcome.MISSED },
    { name: "queued too long is missed", in: '{"value":{"actionName":"Reject","responseReason":"NotificationQueueTimeLimitExceeded"}}', want: NotificationOutcome.MISSED },
    { name: "not JSON is missed", in: "oops", want: NotificationOutcome.MISSED },
  ];
  for (const c of cases) test(c.name, () => assert.equal(notificationOutcome(c.in).outcome, c.want));
});

describe("sessionInput", () => {
  test("one match: the anchor tab opens the record", () => {
    assert.deepEqual(sessionInput(call, { template: "new_ctibridge_call", pop: { entity: "contact", id: "c1" }, matchName: "Jane Citizen" }), {
      templateName: "new_ctibridge_call",
      templateParameters: { customerName: "Jane Citizen", phoneNumber: "0299990000", interactionId: "IX-1", entityName: "contact", entityId: "c1" },
    });
  });
  test("several or none: the search text, or the new form's data as a JSON string", () => {
    assert.equal(sessionInput(call, { template: "t", pop: { entity: "contact", searchText: "+61 2" } }).templateParameters.searchText, "+61 2");
    assert.equal(sessionInput(call, { template: "t", pop: { entity: "contact", formData: { telephone1: "02" } } }).templateParameters.data, '{"telephone1":"02"}');
  });
  test("a missing template is a clear error naming the setting", () => {
    assert.throws(() => sessionInput(call, {}), /cif\.sessionTemplate/);
  });
  test("the title names the caller", () => {
    assert.deepEqual(sessionTitle("s-1", call, "Jane Citizen"), { sessionId: "s-1", customerName: "Jane Citizen" });
  });
});

describe("CallSessions", () => {
  test("switching to a call's session shows that call; another session keeps what is shown", () => {
    const s = new CallSessions();
    s.opened("IX-1", "s-1");
    s.opened("IX-2", "s-2");
    assert.equal(s.focused, "s-2");
    assert.equal(s.switched('{"sessionId":"s-1","focussed":true}'), "IX-1");
    assert.equal(s.switched('{"sessionId":"home","focussed":true}'), "");
    assert.equal(s.switched({ sessionId: "s-2", focussed: false }), "");
  });
  test("closing a session before wrap keeps the call; after wrap it is clean", () => {
    const s = new CallSessions();
    s.opened("IX-1", "s-1");
    s.opened("IX-2", "s-2");
    const wrapped = (id) => id === "IX-2";
    assert.deepEqual(s.closed('{"sessionId":"s-1"}', wrapped), { interactionId: "IX-1", keepsCall: true });
    assert.deepEqual(s.closed('{"sessionId":"s-2"}', wrapped), { interactionId: "IX-2", keepsCall: false });
    assert.equal(s.closed('{"sessionId":"other"}', wrapped), null);
    assert.equal(s.size, 0);
  });
  test("ten sessions at most: the eleventh call gets none", () => {
    const s = new CallSessions();
    for (let i = 0; i < SESSION_MAX; i++) {
      assert.ok(s.canOpen());
      s.opened(`IX-${i}`, `s-${i}`);
    }
    assert.equal(s.canOpen(), false);
    s.forget("IX-3");
    assert.ok(s.canOpen());
  });
});

describe("PresenceSync", () => {
  const info = (text, base) => JSON.stringify({ presenceInfo: { presenceText: text, basePresenceStatus: base, presenceId: "p", presenceColor: "#fff" } });
  test("agent states map to presence texts", () => {
    const p = new PresenceSync();
    assert.equal(p.presenceFor("Ready"), "Available");
    assert.equal(p.presenceFor("Paused"), "Busy");
    assert.equal(p.presenceFor("OnCall"), "Busy");
    assert.equal(p.presenceFor("LoggedOut"), "");
    assert.equal(new PresenceSync({ Paused: "Do not disturb" }).presenceFor("Paused"), "Do not disturb");
  });
  test("presence chosen in the app changes the agent's state", () => {
    const p = new PresenceSync();
    assert.deepEqual(p.stateFor(info("Busy", "BUSY"), "Ready"), { state: "Paused", reason: "Busy" });
    assert.deepEqual(p.stateFor(info("Away", "AWAY"), "Ready"), { state: "Paused", reason: "Away" });
    assert.deepEqual(p.stateFor(info("Available", "AVAILABLE"), "Paused"), { state: "Ready", reason: "" });
    assert.equal(p.stateFor(info("Available", "AVAILABLE"), "Ready"), null, "already there");
  });
  test("the presence the widget set is not echoed back, and calls in progress are left alone", () => {
    const p = new PresenceSync();
    p.set("Busy");
    assert.equal(p.stateFor(info("Busy", "BUSY"), "Ready"), null);
    assert.deepEqual(p.stateFor(info("Busy", "BUSY"), "Ready"), { state: "Paused", reason: "Busy" }, "only once");
    assert.equal(p.stateFor(info("Available", "AVAILABLE"), "OnCall"), null);
    assert.equal(p.stateFor(info("Offline", "OFFLINE"), "Ready"), null);
  });
});

// fakeCIF answers the 2.0 APIs as the stand-in does; answers overrides one.
function fakeCIF(answers = {}) {
  const calls = [];
  const on = (name, dflt) => (...args) => {
    calls.push([name, ...args]);
    const a = answers[name];
    if (a instanceof Error) return Promise.reject(a);
    if (typeof a === "string" && a.startsWith("{\"message")) return Promise.reject(a);
    if (a === "hang") return new Promise(() => {});
    return Promise.resolve(a !== undefined ? a : dflt);
  };
  return {
    calls,
    notifyEvent: on("notifyEvent", '{"value":{"actionName":"Accept","responseReason":"Accept"}}'),
    canCreateSession: on("canCreateSession", "true"),
    createSession: on("createSession", "session-1"),
    setSessionTitle: on("setSessionTitle", ""),
  };
}

const SETTINGS = { sessions: "multi", sessionTemplate: "new_ctibridge_call", notificationTemplate: "new_ctibridge_incoming_call" };
const popped = { outcome: "record", matches: [{ entity: "contact", id: "c1", name: "Jane Citizen" }], total: 1, ms: 5 };
// An immediate timer: a call left hanging times out at once.
const now = { setTimer: (f) => setTimeout(f, 0), clearTimer: (t) => clearTimeout(t) };

describe("sessionMode", () => {
  test("single where it cannot be multi", async () => {
    assert.equal(await sessionMode(null, SETTINGS), "single");
    assert.equal(await sessionMode({ searchAndOpenRecords() {} }, SETTINGS), "single", "a CIF 1.0 library");
    assert.equal(await sessionMode(fakeCIF(), { ...SETTINGS, sessions: "single" }), "single");
    assert.equal(await sessionMode(fakeCIF(), { sessions: "multi" }), "single", "no templates");
  });
  test("multi when configured, or detected", async () => {
    assert.equal(await sessionMode(fakeCIF({ canCreateSession: new Error("no") }), SETTINGS), "multi");
    assert.equal(await sessionMode(fakeCIF(), { ...SETTINGS, sessions: "auto" }), "multi");
  });
  test("auto in a single-session app, or without an answer, works single-session", async () => {
    assert.equal(await sessionMode(fakeCIF({ canCreateSession: new Error("single-session app") }), { ...SETTINGS, sessions: "auto" }), "single");
    assert.equal(await sessionMode(fakeCIF({ canCreateSession: "hang" }), { ...SETTINGS, sessions: "auto" }, { timer: now }), "single");
  });
});

describe("offerCall", () => {
  const run = (cif, over = {}) => {
    const sessions = over.sessions || new CallSessions();
    let pops = 0;
    return offerCall(cif, {
      call, decision: { entity: "contact", searchText: "0299990000" }, settings: SETTINGS, sessions,
      pop: async () => (pops++, popped), timer: now, ...over,
    }).then((r) => ({ ...r, pops, sessions }));
  };

  test("accepted: a session of its own, the pop in it, titled after the popped record", async () => {
    const cif = fakeCIF();
    const r = await run(cif);
    assert.equal(r.sessionId, "session-1");
    assert.equal(r.pops, 1);
    assert.deepEqual(r.result, popped);
    assert.equal(r.sessions.sessionOf("IX-1"), "session-1");
    assert.deepEqual(cif.calls.map((c) => c[0]), ["notifyEvent", "canCreateSession", "createSession", "setSessionTitle"]);
    assert.deepEqual(JSON.parse(cif.calls[3][1]), { sessionId: "session-1", customerName: "Jane Citizen" });
    assert.equal(JSON.parse(cif.calls[2][1]).templateParameters.searchText, "0299990000");
  });
  test("rejected: nothing popped, the result says so", async () => {
    const r = await run(fakeCIF({ notifyEvent: '{"value":{"actionName":"Reject","responseReason":"DeclinedByAgent"}}' }));
    assert.equal(r.pops, 0);
    assert.equal(r.result.outcome, "none");
    assert.match(r.result.error, /rejected by the agent \(DeclinedByAgent\)/);
  });
  test("missed: nothing popped, the result says so", async () => {
    const r = await run(fakeCIF({ notifyEvent: '{"value":{"actionName":"Timeout","responseReason":"DisplayTimeout"}}' }));
    assert.equal(r.pops, 0);
    assert.match(r.result.error, /missed \(DisplayTimeout\)/);
  });
  test("a failing notification or session API still pops the call", async () => {
    const failing = await run(fakeCIF({ notifyEvent: '{"message":"NotificationTemplateNotFoundError","msdyn_name":"NotifyEvent"}', createSession: new Error("boom") }));
    assert.equal(failing.pops, 1);
    assert.equal(failing.sessionId, "");
    assert.match(failing.notes.join(" | "), /NotificationTemplateNotFoundError.*popped without it.*boom\): popped in the focused session/);
    const hanging = await run(fakeCIF({ canCreateSession: "hang" }));
    assert.equal(hanging.pops, 1);
    assert.match(hanging.notes[0], /canCreateSession: no answer within 10 s/);
  });
  test("the eleventh call while ten sessions are open is popped in the focused session", async () => {
    const sessions = new CallSessions();
    for (let i = 0; i < SESSION_MAX; i++) sessions.opened(`IX-old-${i}`, `s-${i}`);
    const cif = fakeCIF();
    const r = await run(cif, { sessions });
    assert.equal(r.pops, 1);
    assert.equal(r.sessionId, "");
    assert.ok(!cif.calls.some((c) => c[0] === "createSession"));
    assert.match(r.notes[0], /10 sessions are open/);
  });
});
