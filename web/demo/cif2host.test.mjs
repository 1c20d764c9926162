// Tests of the demo host's CIF 2.0 multi-session answers (cif2host.mjs).

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createCIF2Host, SESSION_MAX } from "./cif2host.mjs";

function host({ multi = true, notify } = {}) {
  const events = [];
  const bars = [];
  const toasts = [];
  const cancelled = [];
  const h = createCIF2Host({
    multiSession: () => multi,
    templates: { notification: ["new_call_notice"], session: ["new_call_session"] },
    ui: {
      notify: notify || ((n) => (toasts.push(n), new Promise(() => {}))),
      cancelNotification: (t) => cancelled.push(t),
      sessionsChanged: (list) => bars.push(list),
      emit: (name, data) => events.push([name, data]),
    },
  });
  return { h, m: h.methods, events, bars, toasts, cancelled };
}

const session = (name = "Jane") => JSON.stringify({ templateName: "new_call_session", templateParameters: { customerName: name } });

describe("notifications", () => {
  test("the toast's answer is notifyEvent's {value: {actionName, responseReason}}", async () => {
    const { h, m, toasts } = host();
    const p = m.notifyEvent(JSON.stringify({ templateName: "new_call_notice", templateParameters: { customerName: "Jane" } }), "", "tok-1");
    await Promise.resolve();
    assert.equal(toasts[0].cancellationToken, "tok-1");
    h.answerNotification("tok-1", false);
    assert.deepEqual(JSON.parse(await p), { value: { actionName: "Reject", responseReason: "DeclinedByAgent" } });
  });
  test("an unknown template is refused with CIF's error", async () => {
    const { m } = host();
    await assert.rejects(m.notifyEvent(JSON.stringify({ templateName: "nope" })), /NotificationTemplateNotFoundError/);
  });
  test("cancelEvent removes the toast and returns the token", async () => {
    const { m, cancelled } = host();
    const p = m.notifyEvent(JSON.stringify({ templateName: "new_call_notice", cancellationToken: "tok-2" }));
    await Promise.resolve();
    assert.equal(await m.cancelEvent("tok-2"), "tok-2");
    assert.deepEqual(cancelled, ["tok-2"]);
    assert.equal(JSON.parse(await p).value.actionName, "Timeout");
  });
});

describe("sessions", () => {
  test("createSession focuses the new session; switching raises onSessionSwitched both ways", async () => {
    const { h, m, events } = host();
    const s1 = await m.createSession(session("Jane"));
    const s2 = await m.createSession(JSON.parse(session("John")));
    assert.equal(await m.getFocusedSession(), s2);
    events.length = 0;
    h.focusSession(s1);
    assert.deepEqual(events, [
      ["onSessionSwitched", { sessionId: s2, focussed: false }],
      ["onSessionSwitched", { sessionId: s1, focussed: true }],
    ]);
  });
  test("ten sessions at most", async () => {
    const { m } = host();
    for (let i = 0; i < SESSION_MAX; i++) await m.createSession(session());
    assert.equal(await m.canCreateSession(), "false");
    await assert.rejects(m.createSession(session()), /10 sessions are open/);
  });
  test("closing a session raises onSessionClosed and focuses another", async () => {
    const { h, m, events } = host();
    const s1 = await m.createSession(session());
    const s2 = await m.createSession(session());
    events.length = 0;
    h.closeSession(s2);
    assert.deepEqual(events[0], ["onSessionClosed", { sessionId: s2 }]);
    assert.equal(await m.getFocusedSession(), s1);
  });
  test("title, new activity and focus requests show on the session bar", async () => {
    const { m, bars } = host();
    const s1 = await m.createSession(session());
    await m.createSession(session());
    await m.setSessionTitle({ sessionId: s1, customerName: "Jane Citizen" });
    await m.notifyNewActivity(s1, 2);
    const bar = bars.at(-1).find((s) => s.id === s1);
    assert.equal(bar.title, "Call from Jane Citizen");
    assert.equal(bar.newActivity, 2);
    await assert.rejects(m.notifyNewActivity(s1, -1), /zero or more/);
  });
  test("a single-session app refuses the session APIs", async () => {
    const { m } = host({ multi: false });
    await assert.rejects(m.canCreateSession(), /single-session/);
    await assert.rejects(m.createSession(session()), /single-session/);
  });
});

describe("presence", () => {
  test("setPresence takes only a known presence text and raises onPresenceChange", async () => {
    const { m, events } = host();
    assert.equal(await m.setPresence("Busy"), "true");
    assert.equal(await m.getPresence(), "Busy");
    assert.equal(events.at(-1)[0], "onPresenceChange");
    assert.equal(events.at(-1)[1].presenceInfo.basePresenceStatus, "BUSY");
    assert.equal(await m.setPresence("Napping"), "false");
  });
  test("the agent's choice in the app raises onPresenceChange", () => {
    const { h, events } = host();
    h.choosePresence("Away");
    assert.deepEqual(events.at(-1)[1].presenceInfo.presenceText, "Away");
  });
});
