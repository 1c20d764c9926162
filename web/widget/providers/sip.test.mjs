// Tests of the SIP provider (sip.mjs) with node's runner: node --test web/
//
// fakeJsSIP stands in for the vendored JsSIP: a UA and RTCSession that are
// event emitters, with the methods and events sip.mjs uses, and helpers a
// test calls to play the network's part (the server registers or refuses,
// a caller rings, cancels or hangs up, the far end answers). Their events
// carry what JsSIP 3.13.8's carry (RTCSession.js: 'failed' {originator,
// message, cause}, 'progress' {originator, response}, ...), and terminate()
// reports what JsSIP's does for each state (REJECTED when declining, CANCELED
// while dialling, BYE once connected).

import { test, describe, afterEach } from "node:test";
import assert from "node:assert/strict";
import RealJsSIP from "../../vendor/jssip/jssip.min.mjs";
import { createProvider, uaConfiguration, AUDIO_ELEMENT_ID } from "./sip.mjs";

const PASSWORD = "s3cret-pa55word";

// What each test leaves running (providers, panels with their timers), ended
// after it whether it passed or failed, so a failing test cannot hang the run.
const cleanups = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()();
});

class Emitter {
  constructor() {
    this.handlers = new Map();
  }
  on(name, fn) {
    if (!this.handlers.has(name)) this.handlers.set(name, []);
    this.handlers.get(name).push(fn);
    return this;
  }
  emit(name, data) {
    for (const fn of [...(this.handlers.get(name) || [])]) fn(data);
  }
}

/** A SIP message as JsSIP gives it: call_id, status, getHeaders. */
function sipMessage({ callId = "", status = 0, phrase = "", headers = {} } = {}) {
  const table = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v : [v]]));
  return {
    call_id: callId,
    status_code: status || undefined,
    reason_phrase: phrase || undefined,
    getHeaders: (n) => table.get(n.toLowerCase()) || [],
    getHeader: (n) => (table.get(n.toLowerCase()) || [])[0],
  };
}

class FakeSession extends Emitter {
  constructor(direction, ua) {
    super();
    this.direction = direction;
    this.ua = ua;
    this.status = direction === "incoming" ? "waiting" : "null"; // JsSIP's STATUS_* in words
    this.calls = [];
    this.connection = null;
  }
  record(name, ...args) {
    this.calls.push([name, ...args]);
  }
  // -- JsSIP's API --
  answer(options) {
    this.record("answer", options);
    if (this.status !== "waiting") throw new Error("Invalid status: " + this.status);
    this.status = "confirmed";
    this.emit("accepted", { originator: "local", response: null });
    this.emit("confirmed", { originator: "remote", ack: {} });
  }
  terminate(options) {
    this.record("terminate", options);
    const s = this.status;
    if (s === "terminated") throw new Error("Invalid status: terminated");
    this.status = "terminated";
    if (s === "waiting") this.emit("failed", { originator: "local", message: null, cause: "Rejected" });
    else if (s === "null" || s === "sent" || s === "1xx") this.emit("failed", { originator: "local", message: null, cause: "Canceled" });
    else this.emit("ended", { originator: "local", message: null, cause: "Terminated" });
  }
  hold() {
    this.record("hold");
    this.emit("hold", { originator: "local" });
    return true;
  }
  unhold() {
    this.record("unhold");
    this.emit("unhold", { originator: "local" });
    return true;
  }
  mute(o) {
    this.record("mute", o);
    this.emit("muted", { audio: true, video: false });
  }
  unmute(o) {
    this.record("unmute", o);
    this.emit("unmuted", { audio: true, video: false });
  }
  sendDTMF(tones, o) {
    this.record("sendDTMF", tones, o);
  }
  refer(target, o) {
    this.record("refer", target);
    this.referHandlers = o.eventHandlers;
    return {};
  }
  // -- the network's part --
  sending() {
    this.status = "sent";
    this.emit("sending", { request: {} });
  }
  ringing(headers = {}, status = 180) {
    this.status = "1xx";
    this.emit("progress", { originator: "remote", response: sipMessage({ status, phrase: "Ringing", headers }) });
  }
  answered(headers = {}) {
    this.status = "confirmed";
    this.emit("accepted", { originator: "remote", response: sipMessage({ status: 200, phrase: "OK", headers }) });
    this.emit("confirmed", { originator: "local", ack: null });
  }
  refused(status, phrase, cause, headers = {}) {
    this.status = "terminated";
    this.emit("failed", { originator: "remote", message: sipMessage({ status, phrase, headers }), cause });
  }
  localFailure(cause) {
    this.status = "terminated";
    this.emit("failed", { originator: "local", message: null, cause });
  }
  cancelled(reason) {
    this.status = "terminated";
    const headers = reason ? { Reason: reason } : {};
    this.emit("failed", { originator: "remote", message: sipMessage({ headers }), cause: "Canceled" });
  }
  bye() {
    this.status = "terminated";
    this.emit("ended", { originator: "remote", message: sipMessage(), cause: "Terminated" });
  }
}

function fakeJsSIP() {
  const J = { version: "0-fake", uas: [], C: { DTMF_TRANSPORT: { INFO: "INFO", RFC2833: "RFC2833" } } };
  J.WebSocketInterface = class {
    constructor(url) {
      this.url = url;
    }
  };
  J.UA = class extends Emitter {
    constructor(config) {
      super();
      this.config = config;
      this.calls = [];
      this.sessions = [];
      this.connectedNow = false;
      J.uas.push(this);
    }
    start() {
      this.calls.push(["start"]);
    }
    stop() {
      this.calls.push(["stop"]);
      for (const s of this.sessions) if (s.status !== "terminated") s.terminate();
      this.emit("disconnected", { error: false });
    }
    register() {
      this.calls.push(["register"]);
    }
    isConnected() {
      return this.connectedNow;
    }
    call(target, options) {
      this.calls.push(["call", target, options]);
      const s = new FakeSession("outgoing", this);
      this.sessions.push(s);
      this.emit("newRTCSession", { originator: "local", session: s, request: sipMessage({ callId: `out-${this.sessions.length}@browser` }) });
      return s;
    }
    // -- the network's part --
    connect() {
      this.connectedNow = true;
      this.emit("connected", {});
    }
    registered() {
      this.connect();
      this.emit("registered", { response: sipMessage({ status: 200 }) });
    }
    refuse(status, phrase, cause = "Rejected") {
      this.connect();
      this.emit("registrationFailed", { response: sipMessage({ status, phrase }), cause });
    }
    unreachable() {
      this.emit("disconnected", { error: true, code: 1006 });
    }
    invite({ callId = "in-1@pbx", headers = {} } = {}) {
      const s = new FakeSession("incoming", this);
      this.sessions.push(s);
      this.emit("newRTCSession", { originator: "remote", session: s, request: sipMessage({ callId, headers }) });
      return s;
    }
  };
  return J;
}

/** A page's window as far as sip.mjs needs one, with a small document. */
function fakeWindow() {
  const elements = new Map();
  const document = {
    body: {
      children: [],
      appendChild(el) {
        this.children.push(el);
        if (el.id) elements.set(el.id, el);
      },
    },
    getElementById: (id) => elements.get(id) || null,
    createElement: (tag) => ({ tagName: tag.toUpperCase(), played: 0, play() { this.played++; return Promise.resolve(); } }),
  };
  return {
    document,
    RTCPeerConnection: function RTCPeerConnection() {},
    MediaStream: class { constructor(tracks) { this.tracks = tracks; } },
    navigator: { mediaDevices: { getUserMedia: async () => ({}) } },
    listeners: [],
    addEventListener(type, fn) { this.listeners.push([type, fn]); },
    removeEventListener(type, fn) { this.listeners = this.listeners.filter((l) => l[0] !== type || l[1] !== fn); },
  };
}

const SETTINGS = {
  source: "sip",
  sip: {
    server: "ws://127.0.0.1:5066",
    domain: "ctibridge.test",
    user: "1001",
    authUser: "1001a",
    password: PASSWORD,
    displayName: "Agent 1001",
    headers: { interactionId: "X-Interaction-Id", queue: "X-Queue", campaign: "X-Campaign" },
    iceServers: [{ urls: "stun:stun.example.com" }],
  },
};

/** A provider on a fake JsSIP, recording what it emits and logs. */
function setup({ settings = SETTINGS, window = fakeWindow() } = {}) {
  const J = fakeJsSIP();
  const events = [];
  const logs = [];
  let changes = 0;
  const hooks = { changed: null };
  let clock = Date.UTC(2026, 11, 4, 10, 0, 0);
  const provider = createProvider({
    settings: structuredClone(settings),
    agentId: "1001",
    emit: (e) => events.push(e),
    changed: () => {
      changes++;
      if (hooks.changed) hooks.changed();
    },
    log: (level, message) => logs.push(`${level}: ${message}`),
    window,
    JsSIP: J,
    now: () => (clock += 1000),
  });
  cleanups.push(() => provider.stop());
  return { J, provider, events, logs, window, hooks, changes: () => changes, ua: () => J.uas[J.uas.length - 1] };
}

async function registered(opts) {
  const t = setup(opts);
  const started = t.provider.start();
  await Promise.resolve();
  await Promise.resolve();
  t.ua().registered();
  await started;
  return t;
}

const types = (events) => events.map((e) => e.type);

function assertNoSecrets(t) {
  for (const line of t.logs) assert.ok(!line.includes(PASSWORD), `log line shows the password: ${line}`);
  const s = t.provider.status();
  assert.ok(!JSON.stringify(s).includes(PASSWORD), "status shows the password");
  for (const e of t.events) assert.ok(!JSON.stringify(e).includes(PASSWORD), "an event carries the password");
}

describe("registration", () => {
  test("configures the UA from the settings and reports registered", async () => {
    const t = setup();
    assert.equal(t.provider.name, "sip");
    assert.equal(t.provider.status().registration, "unregistered");
    const started = t.provider.start();
    await new Promise((r) => setImmediate(r));
    const ua = t.ua();
    assert.equal(t.provider.status().registration, "registering");
    assert.deepEqual(ua.calls, [["start"]]);
    const c = ua.config;
    assert.equal(c.sockets[0].url, "ws://127.0.0.1:5066");
    assert.equal(c.uri, "sip:1001@ctibridge.test");
    assert.equal(c.authorization_user, "1001a");
    assert.equal(c.password, PASSWORD);
    assert.equal(c.display_name, "Agent 1001");
    assert.equal(c.register, true);
    assert.equal(c.session_timers, false);
    ua.registered();
    await started;
    const s = t.provider.status();
    assert.deepEqual(
      { registration: s.registration, reason: s.reason, server: s.server, user: s.user, call: s.call },
      { registration: "registered", reason: "", server: "ws://127.0.0.1:5066", user: "1001", call: null },
    );
    assert.ok(t.changes() > 0);
    assert.equal(t.provider.start(), t.provider.start(), "start() twice is one start");
    assertNoSecrets(t);
  });

  test("authUser defaults to the user", async () => {
    const settings = structuredClone(SETTINGS);
    delete settings.sip.authUser;
    const t = setup({ settings });
    t.provider.start().catch(() => {});
    await new Promise((r) => setImmediate(r));
    assert.equal(t.ua().config.authorization_user, "1001");
    await t.provider.stop();
  });

  test("a refused registration shows the reason and rejects start", async () => {
    const t = setup();
    const started = t.provider.start();
    await new Promise((r) => setImmediate(r));
    t.ua().refuse(403, "Forbidden");
    await assert.rejects(started, /The phone is not registered: 403 Forbidden: the SIP server refused 1001a@ctibridge\.test/);
    const s = t.provider.status();
    assert.equal(s.registration, "failed");
    assert.match(s.reason, /^403 Forbidden: /);
    assert.match(s.reason, /ctibridge agent sip/);
    assert.ok(t.logs.some((l) => l.includes("403 Forbidden")), "the refusal is logged");
    assertNoSecrets(t);
    await t.provider.stop();
  });

  test("a server that does not answer is named in the reason", async () => {
    const settings = structuredClone(SETTINGS);
    settings.sip.server = "ws://agent:hunter2@127.0.0.1:5066/ws?token=x";
    const t = setup({ settings });
    const started = t.provider.start();
    await new Promise((r) => setImmediate(r));
    t.ua().unreachable();
    await assert.rejects(started, /the SIP server at ws:\/\/127\.0\.0\.1:5066\/ws did not answer/);
    assert.equal(t.provider.status().registration, "failed");
    assert.ok(!t.provider.status().reason.includes("hunter2"));
    // JsSIP keeps reconnecting; once it registers the status follows.
    t.ua().registered();
    assert.equal(t.provider.status().registration, "registered");
    assert.equal(t.provider.status().reason, "");
    await t.provider.stop();
  });

  test("a lost connection says so and registering again clears it", async () => {
    const t = await registered();
    t.ua().unreachable();
    assert.equal(t.provider.status().registration, "failed");
    assert.match(t.provider.status().reason, /^lost the connection to the SIP server at ws:\/\/127\.0\.0\.1:5066/);
    t.ua().registered();
    assert.equal(t.provider.status().registration, "registered");
    await t.provider.stop();
  });

  test("no SIP account: the contract's message, and no UA", async () => {
    const settings = structuredClone(SETTINGS);
    settings.sip.user = "";
    const t = setup({ settings });
    await assert.rejects(t.provider.start(), {
      message: "No SIP account for agent 1001: ask your administrator to set one (ctibridge agent sip)",
    });
    assert.equal(t.J.uas.length, 0);
    assert.equal(t.provider.status().registration, "failed");
  });

  test("a browser without WebRTC or a microphone is told what to do", async () => {
    const w = fakeWindow();
    delete w.RTCPeerConnection;
    await assert.rejects(setup({ window: w }).provider.start(), /cannot make WebRTC calls/);
    const w2 = fakeWindow();
    w2.navigator = {};
    await assert.rejects(setup({ window: w2 }).provider.start(), /no microphone: open the widget over https/);
  });

  test("Retry registers again on a connected UA", async () => {
    const t = setup();
    const started = t.provider.start();
    await new Promise((r) => setImmediate(r));
    t.ua().refuse(503, "Service Unavailable");
    await assert.rejects(started, /503 Service Unavailable/);
    await t.provider.retry();
    assert.equal(t.provider.status().registration, "registering");
    assert.deepEqual(t.ua().calls.at(-1), ["register"]);
    t.ua().registered();
    assert.equal(t.provider.status().registration, "registered");
    await t.provider.stop();
  });

  test("the UA configuration passes the real JsSIP's validation", () => {
    const config = uaConfiguration(RealJsSIP, SETTINGS.sip);
    const ua = new RealJsSIP.UA(config);
    assert.equal(ua.isRegistered(), false);
    assert.match(config.user_agent, /^ctibridge \(JsSIP 3\.13\.\d+\)$/);
    const bad = { ...SETTINGS.sip, user: "10 01" };
    assert.throws(() => new RealJsSIP.UA(uaConfiguration(RealJsSIP, bad)), /uri/);
  });

  test("stop hangs up, unregisters and says unregistered", async () => {
    const t = await registered();
    const s = t.ua().invite({ headers: { From: "<sip:+61299990000@pbx>" } });
    await t.provider.answer();
    t.events.length = 0;
    await t.provider.stop();
    assert.deepEqual(types(t.events), ["callHangup"]);
    assert.equal(s.status, "terminated");
    assert.ok(t.J.uas[0].calls.some((c) => c[0] === "stop"));
    assert.equal(t.provider.status().registration, "unregistered");
    assert.equal(t.provider.status().call, null);
    assert.ok(!t.window.listeners.some((l) => l[0] === "pagehide"), "the pagehide listener is removed");
  });
});

describe("incoming calls", () => {
  const HEADERS = {
    From: '"From Name" <sip:+61299990003@pbx>;tag=f1',
    "P-Asserted-Identity": '"Jo Customer" <sip:+61299990000@pbx>',
    "X-Interaction-Id": "AI-42",
    "X-Queue": "Sales",
    "X-Campaign": "Care",
  };
  const INTERACTION = {
    agentInteractionId: "AI-42",
    callType: "inbound",
    activity: { customerCli: "+61299990000", sourcePhoneNumber: "+61299990000", destinationPhoneNumber: "1001", queueName: "Sales", campaignName: "Care" },
  };

  test("ring, answer, remote BYE: callAlerting, callStarted, callHangup", async () => {
    const t = await registered();
    const s = t.ua().invite({ headers: HEADERS });
    assert.deepEqual(types(t.events), ["callAlerting"]);
    let st = t.provider.status();
    assert.deepEqual(st.call.remote, { number: "+61299990000", name: "Jo Customer" });
    assert.equal(st.call.state, "ringing");
    assert.equal(st.call.direction, "incoming");
    assert.equal(st.call.id, "AI-42");
    await t.provider.answer();
    const [, options] = s.calls.find((c) => c[0] === "answer");
    assert.deepEqual(options.mediaConstraints, { audio: true, video: false });
    assert.deepEqual(options.pcConfig, { iceServers: [{ urls: "stun:stun.example.com" }] });
    st = t.provider.status();
    assert.equal(st.call.state, "connected");
    assert.ok(!Number.isNaN(Date.parse(st.call.startedAt)));
    s.bye();
    assert.deepEqual(types(t.events), ["callAlerting", "callStarted", "callHangup"]);
    for (const e of t.events) {
      assert.equal(e.id, `sip:AI-42:${e.type}`);
      assert.deepEqual(e.interaction, INTERACTION);
      assert.match(e.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    assert.ok(Date.parse(t.events[0].timestamp) < Date.parse(t.events[2].timestamp));
    st = t.provider.status();
    assert.equal(st.call, null);
    assert.equal(st.last.state, "ended");
    assert.match(st.last.detail, /ended by the other party/);
    await t.provider.stop();
  });

  test("decline answers 486 and emits callFailed Declined", async () => {
    const t = await registered();
    const s = t.ua().invite({ headers: HEADERS });
    await t.provider.decline();
    assert.deepEqual(s.calls.find((c) => c[0] === "terminate")[1], { status_code: 486, reason_phrase: "Busy Here" });
    assert.deepEqual(types(t.events), ["callAlerting", "callFailed"]);
    const failed = t.events[1];
    assert.equal(failed.id, "sip:AI-42:callFailed");
    assert.deepEqual(failed.interaction.activity, { ...INTERACTION.activity, dialStatusName: "Declined" });
    assert.equal(t.provider.status().call, null);
    assert.equal(t.provider.status().last.reason, "Declined");
    await t.provider.stop();
  });

  test("hang up while ringing declines too", async () => {
    const t = await registered();
    const s = t.ua().invite({ headers: HEADERS });
    await t.provider.hangup();
    assert.equal(s.calls.find((c) => c[0] === "terminate")[1].status_code, 486);
    assert.equal(t.events.at(-1).interaction.activity.dialStatusName, "Declined");
    await t.provider.stop();
  });

  test("the caller hangs up while it rings: callFailed Missed", async () => {
    const t = await registered();
    const s = t.ua().invite({ headers: HEADERS });
    s.cancelled('SIP;cause=487;text="Request Terminated"');
    assert.deepEqual(types(t.events), ["callAlerting", "callFailed"]);
    assert.equal(t.events[1].interaction.activity.dialStatusName, "Missed");
    assert.match(t.provider.status().last.detail, /^Call from \+61299990000: Missed/);
    await t.provider.stop();
  });

  test("answered elsewhere: the CANCEL fails the call here, saying why", async () => {
    const t = await registered();
    const s = t.ua().invite({ headers: HEADERS });
    assert.deepEqual(types(t.events), ["callAlerting"]);
    s.cancelled('SIP ;cause=200 ;text="Call completed elsewhere"');
    assert.deepEqual(types(t.events), ["callAlerting", "callFailed"]);
    assert.equal(t.events[1].interaction.activity.dialStatusName, "Answered elsewhere");
    const st = t.provider.status();
    assert.equal(st.call, null);
    assert.equal(st.last.reason, "Answered elsewhere");
    await t.provider.stop();
  });

  test("caller id falls back to Remote-Party-ID, then From; id to the Call-ID", async () => {
    const t = await registered();
    t.ua().invite({ callId: "c-rpid@pbx", headers: { From: HEADERS.From, "Remote-Party-ID": '"R" <sip:+61200000001@pbx>;party=calling' } });
    assert.equal(t.events[0].interaction.activity.customerCli, "+61200000001");
    assert.equal(t.events[0].id, "sip:c-rpid@pbx:callAlerting");
    await t.provider.decline();
    t.ua().invite({ callId: "c-from@pbx", headers: { From: HEADERS.From } });
    assert.equal(t.events.at(-1).interaction.activity.customerCli, "+61299990003");
    assert.deepEqual(t.provider.status().call.remote, { number: "+61299990003", name: "From Name" });
    await t.provider.stop();
  });

  test("hostile headers are cleaned and cut, and nothing throws", async () => {
    const t = await registered();
    const huge = "X\u0000\r\n\u202e".repeat(2600); // over 10 kB
    t.ua().invite({
      callId: "c-hostile@pbx",
      headers: { From: `"${huge}" <sip:${"7".repeat(10000)}@pbx>`, "X-Interaction-Id": huge, "X-Queue": "Sales\r\nX-Evil: 1" },
    });
    assert.deepEqual(types(t.events), ["callAlerting"]);
    const e = t.events[0];
    const json = JSON.stringify(e);
    assert.ok(!/[\u0000-\u001f\u202e]/.test(e.id + e.interaction.activity.customerCli + e.interaction.activity.queueName));
    assert.ok(e.interaction.agentInteractionId.length <= 128);
    assert.ok(e.interaction.activity.customerCli.length <= 64);
    assert.equal(e.interaction.activity.queueName, "Sales X-Evil: 1");
    assert.ok(json.length < 2000, `the event stays small (${json.length} bytes)`);
    assert.ok(t.provider.status().call.remote.name.length <= 80);
    await t.provider.stop();
  });

  test("a second call during a call is declined 486 and reported with callFailed", async () => {
    const t = await registered();
    const first = t.ua().invite({ headers: HEADERS });
    await t.provider.answer();
    const second = t.ua().invite({ callId: "c-2@pbx", headers: { From: "<sip:+61288888888@pbx>", "X-Interaction-Id": "AI-43" } });
    assert.deepEqual(second.calls.find((c) => c[0] === "terminate")[1], { status_code: 486, reason_phrase: "Busy Here" });
    assert.deepEqual(types(t.events), ["callAlerting", "callStarted", "callFailed"]);
    const failed = t.events[2];
    assert.equal(failed.id, "sip:AI-43:callFailed");
    assert.equal(failed.interaction.activity.customerCli, "+61288888888");
    assert.equal(failed.interaction.activity.dialStatusName, "Busy");
    const st = t.provider.status();
    assert.equal(st.call.id, "AI-42", "the first call goes on");
    assert.equal(st.call.state, "connected");
    assert.match(st.last.detail, /Declined a call from \+61288888888 \(486 Busy Here\)/);
    assert.notEqual(first.status, "terminated");
    await t.provider.stop();
  });

  test("a second INVITE for the same interaction is declined without failing the call", async () => {
    const t = await registered();
    t.ua().invite({ headers: HEADERS });
    await t.provider.answer();
    t.ua().invite({ callId: "c-again@pbx", headers: HEADERS });
    assert.deepEqual(types(t.events), ["callAlerting", "callStarted"]);
    assert.equal(t.provider.status().call.state, "connected");
    await t.provider.stop();
  });

  test("the microphone refused on answer: callFailed Microphone Blocked", async () => {
    const t = await registered();
    const s = t.ua().invite({ headers: HEADERS });
    s.answer = () => s.localFailure("User Denied Media Access");
    await t.provider.answer();
    assert.deepEqual(types(t.events), ["callAlerting", "callFailed"]);
    assert.equal(t.events[1].interaction.activity.dialStatusName, "Microphone Blocked");
    assert.match(t.provider.status().last.detail, /allow this site to use the microphone/);
    await t.provider.stop();
  });

  test("remote audio plays in an <audio> element made on the page", async () => {
    const t = await registered();
    const s = t.ua().invite({ headers: HEADERS });
    const pc = new Emitter();
    pc.addEventListener = (type, fn) => pc.on(type, fn);
    s.emit("peerconnection", { peerconnection: pc });
    await t.provider.answer();
    const stream = { id: "remote" };
    pc.emit("track", { track: { kind: "video" }, streams: [{ id: "ignored" }] });
    assert.equal(t.window.document.getElementById(AUDIO_ELEMENT_ID), null, "video is not played");
    pc.emit("track", { track: { kind: "audio" }, streams: [stream] });
    const audio = t.window.document.getElementById(AUDIO_ELEMENT_ID);
    assert.ok(audio, "the element was created");
    assert.equal(audio.tagName, "AUDIO");
    assert.equal(audio.autoplay, true);
    assert.equal(audio.srcObject, stream);
    assert.equal(audio.played, 1);
    s.bye();
    assert.equal(audio.srcObject, null, "the stream is released after the call");
    await t.provider.stop();
  });
});

describe("outgoing calls", () => {
  test("dial: manual callAlerting at ringing, callStarted at answer, callHangup", async () => {
    const t = await registered();
    await t.provider.dial("(02) 9999-0000");
    const [, target, options] = t.ua().calls.find((c) => c[0] === "call");
    assert.equal(target, "0299990000@ctibridge.test");
    assert.deepEqual(options.mediaConstraints, { audio: true, video: false });
    assert.deepEqual(options.pcConfig, { iceServers: [{ urls: "stun:stun.example.com" }] });
    let st = t.provider.status();
    assert.equal(st.call.state, "dialling");
    assert.equal(st.call.direction, "outgoing");
    assert.deepEqual(st.call.remote, { number: "0299990000", name: "" });
    assert.deepEqual(t.events, [], "nothing until the far end answers the INVITE");
    const s = t.ua().sessions[0];
    s.sending();
    s.ringing();
    assert.deepEqual(types(t.events), ["callAlerting"]);
    assert.deepEqual(t.events[0].interaction, {
      agentInteractionId: "out-1@browser",
      callType: "manual",
      activity: { customerCli: "0299990000", sourcePhoneNumber: "1001", destinationPhoneNumber: "0299990000", queueName: "", campaignName: "" },
    });
    assert.equal(t.events[0].id, "sip:out-1@browser:callAlerting");
    s.answered();
    assert.deepEqual(types(t.events), ["callAlerting", "callStarted"]);
    st = t.provider.status();
    assert.equal(st.call.state, "connected");
    await t.provider.hangup();
    assert.deepEqual(types(t.events), ["callAlerting", "callStarted", "callHangup"]);
    assert.ok(t.events.every((e) => e.interaction.agentInteractionId === "out-1@browser"));
    assert.match(t.provider.status().last.detail, /ended by you/);
    await t.provider.stop();
  });

  test("a campaign header in the response makes the call outbound with the PBX's id", async () => {
    const t = await registered();
    await t.provider.dial("0299990000");
    const s = t.ua().sessions[0];
    s.sending();
    s.ringing({ "X-Campaign": "Renewals", "X-Interaction-Id": "PBX-9" }, 183);
    s.answered();
    assert.deepEqual(types(t.events), ["callAlerting", "callStarted"]);
    for (const e of t.events) {
      assert.equal(e.interaction.callType, "outbound");
      assert.equal(e.interaction.agentInteractionId, "PBX-9");
      assert.equal(e.interaction.activity.campaignName, "Renewals");
    }
    assert.equal(t.provider.status().call.id, "PBX-9");
    await t.provider.stop();
  });

  test("busy: callAlerting then callFailed Busy, and the agent reads why", async () => {
    const t = await registered();
    await t.provider.dial("0299990000");
    const s = t.ua().sessions[0];
    s.sending();
    s.refused(486, "Busy Here", "Busy");
    assert.deepEqual(types(t.events), ["callAlerting", "callFailed"]);
    assert.equal(t.events[1].interaction.activity.dialStatusName, "Busy");
    assert.equal(t.events[1].interaction.callType, "manual");
    assert.equal(t.provider.status().last.detail, "Call to 0299990000 failed: Busy (486 Busy Here)");
    await t.provider.stop();
  });

  test("the agent cancels while dialling: callFailed Cancelled", async () => {
    const t = await registered();
    await t.provider.dial("0299990000");
    const s = t.ua().sessions[0];
    s.sending();
    s.ringing();
    await t.provider.hangup();
    assert.equal(s.calls.find((c) => c[0] === "terminate")[1], undefined, "a plain CANCEL");
    assert.deepEqual(types(t.events), ["callAlerting", "callFailed"]);
    assert.equal(t.events[1].interaction.activity.dialStatusName, "Cancelled");
    await t.provider.stop();
  });

  test("a call that never left the browser emits nothing", async () => {
    const t = await registered();
    await t.provider.dial("0299990000");
    t.ua().sessions[0].localFailure("User Denied Media Access");
    assert.deepEqual(t.events, []);
    assert.match(t.provider.status().last.detail, /^Call to 0299990000 not placed: Microphone Blocked/);
    await t.provider.stop();
  });

  test("dial refuses what it cannot do, with reasons", async () => {
    const t = setup();
    await assert.rejects(t.provider.dial("0299990000"), /not started/);
    const started = t.provider.start();
    await new Promise((r) => setImmediate(r));
    t.ua().refuse(403, "Forbidden");
    await assert.rejects(started);
    await assert.rejects(t.provider.dial("0299990000"), /not registered \(403 Forbidden/);
    t.ua().registered();
    await assert.rejects(t.provider.dial("call me"), /not a phone number/);
    await t.provider.dial("1002");
    await assert.rejects(t.provider.dial("1003"), /Finish the current call/);
    assert.equal(t.ua().calls.filter((c) => c[0] === "call").length, 1);
    await t.provider.stop();
  });
});

describe("in-call controls", () => {
  async function connected() {
    const t = await registered();
    const s = t.ua().invite({ headers: { From: "<sip:+61299990000@pbx>", "X-Interaction-Id": "AI-7" } });
    await t.provider.answer();
    return { ...t, s };
  }

  test("hold and resume", async () => {
    const t = await connected();
    await t.provider.hold();
    assert.deepEqual(t.s.calls.at(-1), ["hold"]);
    assert.equal(t.provider.status().call.state, "held");
    assert.equal(t.provider.status().call.held, true);
    await t.provider.unhold();
    assert.deepEqual(t.s.calls.at(-1), ["unhold"]);
    assert.equal(t.provider.status().call.state, "connected");
    t.s.hold = () => false;
    await assert.rejects(t.provider.hold(), /cannot be put on hold right now/);
    await t.provider.stop();
  });

  test("mute and unmute", async () => {
    const t = await connected();
    await t.provider.mute();
    assert.deepEqual(t.s.calls.at(-1), ["mute", { audio: true }]);
    assert.equal(t.provider.status().call.muted, true);
    await t.provider.unmute();
    assert.deepEqual(t.s.calls.at(-1), ["unmute", { audio: true }]);
    assert.equal(t.provider.status().call.muted, false);
    await t.provider.stop();
  });

  test("DTMF: RFC 4733 with an audio sender, INFO without, bad tones refused", async () => {
    const t = await connected();
    await t.provider.sendDTMF("1");
    assert.deepEqual(t.s.calls.at(-1), ["sendDTMF", "1", { transportType: "INFO" }]);
    t.s.connection = { getSenders: () => [{ track: { kind: "audio" }, dtmf: {} }] };
    await t.provider.sendDTMF("#");
    assert.deepEqual(t.s.calls.at(-1), ["sendDTMF", "#", { transportType: "RFC2833" }]);
    assert.equal(t.provider.status().call.dtmf, "1#");
    await assert.rejects(t.provider.sendDTMF("x"), /not a DTMF tone/);
    await t.provider.stop();
  });

  test("DTMF and hold need a connected call", async () => {
    const t = await registered();
    await assert.rejects(t.provider.sendDTMF("1"), /There is no call to send tones/);
    t.ua().invite({ headers: { From: "<sip:5@pbx>" } });
    await assert.rejects(t.provider.sendDTMF("1"), /the call is still ringing/);
    await assert.rejects(t.provider.hold(), /the call is still ringing/);
    await t.provider.stop();
  });

  test("blind transfer: REFER, then hang up when the transferee reports progress", async () => {
    const t = await connected();
    const done = t.provider.transfer("2000");
    assert.deepEqual(t.s.calls.at(-1), ["refer", "2000@ctibridge.test"]);
    assert.equal(t.provider.status().call.transfer.state, "requested");
    t.s.referHandlers.requestSucceeded({ response: sipMessage({ status: 202 }) });
    await done;
    assert.equal(t.provider.status().call.transfer.state, "accepted");
    t.s.referHandlers.trying({});
    assert.ok(t.s.calls.some((c) => c[0] === "terminate"), "hung up");
    assert.deepEqual(types(t.events), ["callAlerting", "callStarted", "callHangup"]);
    assert.match(t.provider.status().last.detail, /^Transferred the call with \+61299990000 to 2000/);
    await t.provider.stop();
  });

  test("a refused transfer keeps the call", async () => {
    const t = await connected();
    const done = t.provider.transfer("2000");
    t.s.referHandlers.requestFailed({ response: sipMessage({ status: 403, phrase: "Forbidden" }), cause: "Rejected" });
    await assert.rejects(done, /The transfer to 2000 was refused \(403 Forbidden\); the caller is still on the line/);
    const st = t.provider.status();
    assert.equal(st.call.state, "connected");
    assert.equal(st.call.transfer.state, "failed");
    assert.ok(!t.s.calls.some((c) => c[0] === "terminate"));
    await t.provider.stop();
  });
});

// ---- the softphone panel (../softphone.mjs) on this provider ----
//
// A minimal DOM, enough for softphone.mjs: elements with attributes, children,
// hidden, disabled, value, textContent, classList, events and focus. It has
// no innerHTML at all, so a panel that used it would fail here.

class FakeElement {
  constructor(doc, tag) {
    this.ownerDocument = doc;
    this.tagName = tag.toUpperCase();
    this.attributes = new Map();
    this.children = [];
    this.parentNode = null;
    this.hidden = false;
    this.disabled = false;
    this.value = "";
    this.listeners = new Map();
    this.ownText = "";
    const classes = new Set();
    this.classList = {
      add: (c) => classes.add(c),
      remove: (c) => classes.delete(c),
      contains: (c) => classes.has(c),
    };
  }
  get id() {
    return this.attributes.get("id") || "";
  }
  setAttribute(k, v) {
    this.attributes.set(k, String(v));
  }
  getAttribute(k) {
    return this.attributes.has(k) ? this.attributes.get(k) : null;
  }
  removeAttribute(k) {
    this.attributes.delete(k);
  }
  get dataset() {
    const out = {};
    for (const [k, v] of this.attributes) if (k.startsWith("data-")) out[k.slice(5).replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = v;
    return out;
  }
  appendChild(c) {
    c.parentNode = this;
    this.children.push(c);
    return c;
  }
  replaceChildren(...cs) {
    for (const c of this.children) c.parentNode = null;
    this.children = [];
    this.ownText = "";
    for (const c of cs) this.appendChild(c);
  }
  get textContent() {
    return this.ownText + this.children.map((c) => c.textContent).join("");
  }
  set textContent(v) {
    this.replaceChildren();
    this.ownText = String(v);
  }
  contains(el) {
    for (let e = el; e; e = e.parentNode) if (e === this) return true;
    return false;
  }
  closest(selector) {
    const m = /^(\w+)\[([\w-]+)\]$/.exec(selector);
    for (let e = this; e; e = e.parentNode) {
      if (m && e.tagName === m[1].toUpperCase() && e.attributes.has(m[2])) return e;
    }
    return null;
  }
  focus() {
    this.ownerDocument.activeElement = this;
  }
  addEventListener(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, []);
    this.listeners.get(type).push(fn);
  }
  removeEventListener(type, fn) {
    this.listeners.set(type, (this.listeners.get(type) || []).filter((f) => f !== fn));
  }
  dispatch(type, fields = {}) {
    const ev = { type, target: this, defaultPrevented: false, preventDefault() { this.defaultPrevented = true; }, ...fields };
    for (let e = this; e; e = e.parentNode) for (const fn of [...(e.listeners.get(type) || [])]) fn(ev);
    return ev;
  }
  click() {
    if (this.disabled) return;
    this.dispatch("click");
    // A submit button submits its form, as a browser does.
    if (this.getAttribute("type") === "submit") {
      for (let e = this.parentNode; e; e = e.parentNode) if (e.tagName === "FORM") return e.dispatch("submit");
    }
  }
}

function fakeDocument() {
  const doc = { activeElement: null };
  doc.createElement = (tag) => new FakeElement(doc, tag);
  return doc;
}

function find(root, id) {
  if (root.id === id) return root;
  for (const c of root.children) {
    const f = find(c, id);
    if (f) return f;
  }
  return null;
}

/** Whether el and every parent up to root are shown. */
function shown(root, el) {
  for (let e = el; e && e !== root.parentNode; e = e.parentNode) if (e.hidden) return false;
  return true;
}

const settle = () => new Promise((r) => setImmediate(r));

async function panel() {
  const { mountSoftphone } = await import("../softphone.mjs");
  const t = setup();
  const doc = fakeDocument();
  const root = doc.createElement("section");
  root.setAttribute("id", "softphone");
  const errors = [];
  const ui = mountSoftphone(root, t.provider, { onError: (m) => errors.push(m) });
  cleanups.push(() => ui.destroy());
  // What widget.js does: re-render whenever the provider says so.
  t.hooks.changed = () => ui.render();
  const $ = (id) => {
    const el = find(root, id);
    assert.ok(el, `#${id} exists`);
    return el;
  };
  return { ...t, doc, root, ui, errors, $, visible: (id) => shown(root, $(id)) };
}

describe("softphone panel", () => {
  test("every documented element id is there", async () => {
    const p = await panel();
    const ids = [
      "sp-registration", "sp-reason", "sp-retry", "sp-active", "sp-direction", "sp-remote", "sp-call-state", "sp-timer",
      "sp-answer", "sp-decline", "sp-hangup", "sp-hold", "sp-mute", "sp-dial-form", "sp-number", "sp-backspace", "sp-call",
      "sp-keypad", "sp-key-star", "sp-key-hash", "sp-dtmf", "sp-transfer-form", "sp-transfer-target", "sp-transfer",
      "sp-transfer-status", "sp-last",
    ];
    for (let d = 0; d <= 9; d++) ids.push(`sp-key-${d}`);
    for (const id of ids) p.$(id);
    // Inputs have labels.
    const labels = [];
    const walk = (e) => {
      if (e.tagName === "LABEL") labels.push(e.getAttribute("for"));
      e.children.forEach(walk);
    };
    walk(p.root);
    assert.ok(labels.includes("sp-number") && labels.includes("sp-transfer-target"));
    assert.equal(p.root.dataset.call, "none");
    assert.equal(p.root.dataset.registration, "unregistered");
    p.ui.destroy();
    assert.equal(p.root.children.length, 0);
    assert.equal(p.root.dataset.call, undefined);
    assert.equal(p.root.classList.contains("softphone"), false);
  });

  test("destroy leaves the class and label the page gave the section", async () => {
    const { mountSoftphone } = await import("../softphone.mjs");
    const t = setup();
    const doc = fakeDocument();
    const root = doc.createElement("section");
    root.classList.add("softphone");
    root.setAttribute("aria-label", "Softphone");
    const ui = mountSoftphone(root, t.provider, {});
    ui.destroy();
    assert.equal(root.classList.contains("softphone"), true);
    assert.equal(root.getAttribute("aria-label"), "Softphone");
  });

  test("registration refused: the pill and the reason show it", async () => {
    const p = await panel();
    const started = p.provider.start();
    await settle();
    assert.equal(p.$("sp-registration").dataset.registration, "registering");
    assert.equal(p.$("sp-call").disabled, true, "no calls before registering");
    p.ua().refuse(403, "Forbidden");
    await assert.rejects(started);
    assert.equal(p.root.dataset.registration, "failed");
    assert.equal(p.$("sp-registration").dataset.registration, "failed");
    assert.ok(p.visible("sp-reason"));
    assert.match(p.$("sp-reason").textContent, /^403 Forbidden: the SIP server refused 1001a@ctibridge\.test/);
    assert.ok(p.visible("sp-retry"));
    p.$("sp-retry").click();
    await settle();
    assert.deepEqual(p.ua().calls.at(-1), ["register"]);
    p.ua().registered();
    assert.equal(p.root.dataset.registration, "registered");
    assert.ok(!p.visible("sp-reason"));
    assert.equal(p.$("sp-registration").textContent, "Registered · 1001");
    assert.equal(p.$("sp-call").disabled, false);
    await p.provider.stop();
    p.ui.destroy();
  });

  test("incoming: ringing shows the caller as text; Answer, Hold, Mute, tones, Hang up", async () => {
    const p = await panel();
    const started = p.provider.start();
    await settle();
    p.ua().registered();
    await started;
    const s = p.ua().invite({ headers: { From: '"<img src=x onerror=alert(1)>" <sip:+61299990000@pbx>', "X-Interaction-Id": "AI-1" } });
    assert.equal(p.root.dataset.call, "ringing");
    assert.ok(p.visible("sp-answer") && p.visible("sp-decline"));
    assert.ok(!p.visible("sp-hangup"), "no Hang up while ringing: Decline says what it does");
    assert.ok(!p.visible("sp-number") && !p.visible("sp-call") && !p.visible("sp-keypad"), "no dial pad while ringing");
    assert.equal(p.$("sp-remote").textContent, "<img src=x onerror=alert(1)>+61299990000");
    p.$("sp-answer").focus();
    p.$("sp-answer").click();
    await settle();
    assert.ok(s.calls.some((c) => c[0] === "answer"));
    assert.equal(p.root.dataset.call, "connected");
    assert.ok(!p.visible("sp-answer"));
    assert.equal(p.doc.activeElement, p.$("sp-hangup"), "the focus moves from the hidden Answer to Hang up");
    assert.ok(p.visible("sp-hangup") && p.visible("sp-hold") && p.visible("sp-mute") && p.visible("sp-transfer-form"));
    assert.ok(!p.visible("sp-number") && !p.visible("sp-call"), "no dialling during a call");

    p.$("sp-key-5").click();
    p.$("sp-key-hash").click();
    await settle();
    assert.deepEqual(s.calls.filter((c) => c[0] === "sendDTMF").map((c) => c[1]), ["5", "#"]);
    assert.equal(p.$("sp-dtmf").textContent, "Tones sent: 5#");
    p.root.dispatch("keydown", { key: "7" });
    await settle();
    assert.equal(s.calls.filter((c) => c[0] === "sendDTMF").at(-1)[1], "7", "typed digits send tones");

    p.$("sp-hold").click();
    await settle();
    assert.equal(p.root.dataset.call, "held");
    assert.equal(p.$("sp-hold").textContent, "Resume");
    assert.equal(p.$("sp-hold").dataset.on, "true");
    assert.ok(!p.visible("sp-keypad"), "no tones while held");
    p.$("sp-hold").click();
    await settle();
    assert.equal(p.root.dataset.call, "connected");

    p.$("sp-mute").click();
    await settle();
    assert.equal(p.$("sp-mute").textContent, "Unmute");
    p.$("sp-mute").click();
    await settle();
    assert.equal(p.$("sp-mute").textContent, "Mute");

    p.$("sp-hangup").click();
    await settle();
    assert.equal(p.root.dataset.call, "none");
    assert.deepEqual(types(p.events), ["callAlerting", "callStarted", "callHangup"]);
    assert.ok(p.visible("sp-last"));
    assert.equal(p.$("sp-last").dataset.state, "ended");
    assert.deepEqual(p.errors, []);
    await p.provider.stop();
    p.ui.destroy();
  });

  test("Decline, dialling from the pad, transfer, and errors reach onError", async () => {
    const p = await panel();
    const started = p.provider.start();
    await settle();
    p.ua().registered();
    await started;
    const ringing = p.ua().invite({ headers: { From: "<sip:+61299990000@pbx>" } });
    p.$("sp-decline").click();
    await settle();
    assert.equal(ringing.calls.find((c) => c[0] === "terminate")[1].status_code, 486);
    assert.equal(p.root.dataset.call, "none");
    assert.equal(p.$("sp-last").dataset.state, "failed");

    p.$("sp-call").click();
    await settle();
    assert.deepEqual(p.errors, ["Enter a number to dial."]);

    for (const k of ["0", "2", "9"]) p.$(`sp-key-${k}`).click();
    p.$("sp-backspace").click();
    assert.equal(p.$("sp-number").value, "02");
    p.$("sp-number").value = "1002";
    p.$("sp-call").click();
    await settle();
    assert.equal(p.ua().calls.find((c) => c[0] === "call")[1], "1002@ctibridge.test");
    assert.equal(p.root.dataset.call, "dialling");
    assert.equal(p.$("sp-number").value, "", "the number is cleared once dialled");
    assert.ok(p.visible("sp-hangup") && !p.visible("sp-answer"));
    const out = p.ua().sessions.at(-1);
    out.sending();
    out.answered();
    assert.equal(p.root.dataset.call, "connected");

    p.$("sp-transfer-target").value = "2000";
    p.$("sp-transfer").click();
    await settle();
    assert.deepEqual(out.calls.at(-1), ["refer", "2000@ctibridge.test"]);
    assert.equal(p.$("sp-transfer-status").textContent, "Transferring to 2000…");
    out.referHandlers.requestFailed({ response: sipMessage({ status: 405, phrase: "Method Not Allowed" }), cause: "Rejected" });
    await settle();
    assert.match(p.errors.at(-1), /refused \(405 Method Not Allowed\)/);
    assert.match(p.$("sp-transfer-status").textContent, /failed \(405 Method Not Allowed\); the caller is still on the line/);
    assert.equal(p.root.dataset.call, "connected");
    await p.provider.stop();
    p.ui.destroy();
  });
});
