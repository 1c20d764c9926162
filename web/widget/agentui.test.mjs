// Tests of agentui.mjs with node's built-in runner: node --test web/widget

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { agentStateLabel, Announcer, ErrorScope, RelateCommitter, focusTarget } from "./agentui.mjs";

describe("agentStateLabel", () => {
  const cases = [
    { name: "an undialled preview is not Dialling", state: "Dialling", call: { state: "previewing", callType: "preview" }, want: "Preview" },
    { name: "a ringing queue call is not Dialling", state: "Dialling", call: { state: "alerting", callType: "inbound" }, want: "Ringing" },
    { name: "a dialled preview is Dialling", state: "Dialling", call: { state: "alerting", callType: "preview" }, want: "Dialling" },
    { name: "an outbound call being placed is Dialling", state: "Dialling", call: { state: "alerting", callType: "outbound" }, want: "Dialling" },
    { name: "on call", state: "OnCall", call: { state: "connected" }, want: "On call" },
    { name: "no state is logged out", state: "", call: null, want: "Logged out" },
  ];
  for (const c of cases) test(c.name, () => assert.equal(agentStateLabel(c.state, c.call), c.want));
});

describe("Announcer", () => {
  test("announces each state change once, never the timer", () => {
    const a = new Announcer();
    const call = { number: "+61299990000" };
    const said = [
      a.next("Ready", null),
      a.next("Ready", null), // a render for the timer, or anything else
      a.next("Ringing", call),
      a.next("On call", call),
      a.next("On call", call),
      a.next("On wrap", call),
      a.next("Ready", null),
    ];
    assert.deepEqual(said, ["Ready", "", "Ringing: +61299990000", "On call: +61299990000", "", "On wrap", "Ready"]);
  });
  test("after a reset the state is said again", () => {
    const a = new Announcer();
    a.next("Ready", null);
    a.reset();
    assert.equal(a.next("Ready", null), "Ready");
  });
});

describe("ErrorScope", () => {
  test("an action's error goes when its call is wrapped", () => {
    const s = new ErrorScope();
    s.shownForCall("IX-1");
    assert.equal(s.outlived("IX-1"), false, "still the same call");
    assert.equal(s.outlived(""), true, "the call was wrapped");
    assert.equal(s.outlived(""), false, "gone once");
  });
  test("an error of an action without a call goes when a call arrives", () => {
    const s = new ErrorScope();
    s.shownForCall("");
    assert.equal(s.outlived(""), false);
    assert.equal(s.outlived("IX-2"), true);
  });
  test("an error about the widget stays", () => {
    const s = new ErrorScope();
    s.shownForWidget();
    assert.equal(s.outlived("IX-3"), false);
    assert.equal(s.outlived(""), false);
  });
});

describe("RelateCommitter", () => {
  function fakeTimers() {
    const t = { now: 0, timers: new Map(), next: 1 };
    t.set = (fn, ms) => {
      const id = t.next++;
      t.timers.set(id, { fn, at: t.now + ms });
      return id;
    };
    t.clear = (id) => t.timers.delete(id);
    t.advance = (ms) => {
      t.now += ms;
      for (const [id, tm] of [...t.timers]) {
        if (tm.at <= t.now) {
          t.timers.delete(id);
          tm.fn();
        }
      }
    };
    return t;
  }
  function committer() {
    const timers = fakeTimers();
    const sent = [];
    let choice = "";
    const c = new RelateCommitter({
      keyOf: () => choice,
      send: () => {
        sent.push(choice);
        return true;
      },
      delayMs: 1000,
      setTimer: timers.set,
      clearTimer: timers.clear,
    });
    return { c, timers, sent, choose: (k) => ((choice = k), c.changed()) };
  }

  test("arrowing through a list relates once, after the pause, to where the agent stopped", () => {
    const { timers, sent, choose } = committer();
    for (const k of ["contact:1", "contact:2", "contact:3"]) {
      choose(k);
      timers.advance(200);
    }
    assert.deepEqual(sent, [], "nothing is sent while the agent browses");
    timers.advance(1000);
    assert.deepEqual(sent, ["contact:3"]);
  });
  test("Enter or leaving the box commits at once, and only once", () => {
    const { c, timers, sent, choose } = committer();
    choose("contact:2");
    c.commit(); // Enter
    c.commit(); // then blur
    timers.advance(5000);
    assert.deepEqual(sent, ["contact:2"]);
  });
  test("coming back to the choice already sent sends nothing", () => {
    const { c, sent, choose } = committer();
    choose("contact:1");
    c.commit();
    choose("contact:2");
    choose("contact:1");
    c.commit();
    assert.deepEqual(sent, ["contact:1"]);
  });
  test("a new call forgets the last choice and a pending one", () => {
    const { c, timers, sent, choose } = committer();
    choose("contact:1");
    c.commit();
    choose("contact:2");
    c.reset();
    timers.advance(5000);
    assert.deepEqual(sent, ["contact:1"], "the pending choice of the old call is dropped");
    choose("contact:1");
    c.commit();
    assert.deepEqual(sent, ["contact:1", "contact:1"], "the new call is related, even to the same record");
  });
  test("a choice that could not be sent is sent at the next commit", () => {
    const timers = fakeTimers();
    let connected = false;
    const sent = [];
    const c = new RelateCommitter({ keyOf: () => "contact:1", send: () => connected && sent.push("contact:1") > 0, setTimer: timers.set, clearTimer: timers.clear });
    c.changed();
    c.commit();
    connected = true;
    c.changed();
    c.commit();
    assert.deepEqual(sent, ["contact:1"]);
  });
});

describe("focusTarget", () => {
  test("a preview's Dial takes focus, any other call the call banner", () => {
    assert.equal(focusTarget("call", { previewDial: true }), "call-dial");
    assert.equal(focusTarget("call", { previewDial: false }), "call-banner");
  });
  test("after a wrap, the Ready/Pause button, else the wrapped note", () => {
    assert.equal(focusTarget("wrapped", { stateToggleEnabled: true }), "state-toggle");
    assert.equal(focusTarget("wrapped", { stateToggleEnabled: false }), "call-ended-note");
  });
});
