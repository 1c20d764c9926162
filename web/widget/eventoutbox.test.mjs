// Tests of EventOutbox and the browser-source helpers of core.mjs: node --test web/
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { EventOutbox, MAX_PENDING_EVENTS, browserSource, WidgetSession } from "./core.mjs";

const ev = (id, type = "callAlerting") => ({ id, type, interaction: { agentInteractionId: "c1", callType: "inbound" } });

function refs() {
  let n = 0;
  return () => `e${++n}`;
}

describe("EventOutbox", () => {
  test("sends each event once until it is acknowledged", () => {
    const box = new EventOutbox({ agentId: "1001" });
    box.add(ev("sip:c1:callAlerting"));
    box.add(ev("sip:c1:callStarted", "callStarted"));
    const next = refs();
    const sent = box.toSend(next);
    assert.deepEqual(sent.map((m) => [m.type, m.ref, m.event.id]), [
      ["telephonyEvent", "e1", "sip:c1:callAlerting"],
      ["telephonyEvent", "e2", "sip:c1:callStarted"],
    ]);
    assert.deepEqual(box.toSend(next), [], "events in flight are not sent twice on one socket");
    assert.deepEqual(box.reply({ type: "ack", ref: "e1" }), { acked: true });
    assert.equal(box.size, 1);
  });

  test("sends what was in flight again, in order, after the socket drops", () => {
    const box = new EventOutbox({ agentId: "1001" });
    for (const id of ["a", "b", "c"]) box.add(ev(id));
    const next = refs();
    box.toSend(next);
    box.reply({ type: "ack", ref: "e1" });
    box.disconnected();
    assert.deepEqual(box.toSend(next).map((m) => m.event.id), ["b", "c"]);
  });

  test("keeps an event the server could not store, drops one it refused for good", () => {
    const box = new EventOutbox({ agentId: "1001" });
    box.add(ev("busy"));
    box.add(ev("bad"));
    box.toSend(refs());
    assert.deepEqual(box.reply({ type: "error", ref: "e1", code: "unavailable", message: "store down" }), { retry: true });
    const refused = box.reply({ type: "error", ref: "e2", code: "invalid_event", message: "event.interaction.callType: \"fax\" is not a call type" });
    assert.equal(refused.refused.id, "bad");
    assert.match(refused.message, /event\.interaction\.callType/);
    assert.deepEqual(box.pending.map((p) => [p.event.id, p.ref]), [["busy", ""]]);
    assert.equal(box.reply({ type: "ack", ref: "w9" }), null, "a reply to another message is not the outbox's");
  });

  test("does not queue an event id twice", () => {
    const box = new EventOutbox({ agentId: "1001" });
    box.add(ev("a"));
    box.add(ev("a"));
    assert.equal(box.size, 1);
    assert.throws(() => box.add({ type: "callAlerting" }), /needs an id/);
  });

  test("survives a reload of the page for the same agent only", () => {
    const box = new EventOutbox({ agentId: "1001" });
    box.add(ev("a"));
    const saved = JSON.parse(JSON.stringify(box));
    assert.equal(new EventOutbox({ agentId: "1001", saved }).size, 1);
    assert.equal(new EventOutbox({ agentId: "1002", saved }).size, 0, "another agent never sends the first agent's events");
    assert.equal(new EventOutbox({ agentId: "1001", saved: { agentId: "1001", events: [null, 7, { type: "x" }] } }).size, 0);
  });

  test("lets the oldest events go past its bound, and says which", () => {
    const box = new EventOutbox({ agentId: "1001" });
    for (let i = 0; i < MAX_PENDING_EVENTS; i++) assert.deepEqual(box.add(ev(`e${i}`)), []);
    const dropped = box.add(ev("one-more"));
    assert.deepEqual(dropped.map((e) => e.id), ["e0"]);
    assert.equal(box.size, MAX_PENDING_EVENTS);
  });
});

describe("browserSource", () => {
  test("names only the sources with a provider module", () => {
    assert.equal(browserSource({ source: "sip" }), "sip");
    assert.equal(browserSource({ source: "ipscape" }), "ipscape");
    assert.equal(browserSource({ source: "webhook" }), "");
    assert.equal(browserSource({ source: "../../evil" }), "");
    assert.equal(browserSource(undefined), "");
  });

  test("hello carries the telephony settings into the session", () => {
    const s = new WidgetSession();
    s.receive({ type: "hello", agent: { id: "1001", state: "Ready" }, call: null, settings: { telephony: { source: "sip", sip: { user: "1001" } } } });
    assert.equal(s.settings.telephony.source, "sip");
    s.receive({ type: "hello", agent: { id: "1001", state: "Ready" }, call: null, settings: {} });
    assert.deepEqual(s.settings.telephony, { source: "" });
  });
});
