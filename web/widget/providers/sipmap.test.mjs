// Tests of sipmap.mjs (node --test web/): the SIP softphone's pure decisions.
// Messages are plain {callId, statusCode, headers} objects, which messageView
// reads the same way as JsSIP's; a few cases also run the real (vendored)
// JsSIP parser to check the name-addr reading against it.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import JsSIP from "../../vendor/jssip/jssip.min.mjs";
import {
  DECLINE, LIMITS, Causes, cleanText, messageView, splitOutside, parseNameAddr, identityOf, headerNames,
  interactionIdOf, inboundInteraction, outgoingInteraction, advance, callEvent, answeredElsewhere,
  failureReason, failureDetail, statusText, displayServer, registrationReason, transportReason, dialTarget, dtmfTones,
} from "./sipmap.mjs";

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/;

const view = (headers, callId = "call-1@host") => messageView({ callId, headers });

describe("cleanText", () => {
  const cases = [
    { name: "plain", in: "Sales", want: "Sales" },
    { name: "number", in: 1001, want: "1001" },
    { name: "not text", in: { a: 1 }, want: "" },
    { name: "undefined", in: undefined, want: "" },
    { name: "CR LF injection", in: "Sales\r\nX-Evil: 1", want: "Sales X-Evil: 1" },
    { name: "NUL and DEL", in: "a\u0000b\u007fc", want: "a b c" },
    { name: "C1 control", in: "a\u0085b", want: "a b" },
    { name: "bidi override", in: "\u202e0001", want: "0001" },
    { name: "zero width", in: "10\u200b01", want: "10 01" },
    { name: "lone surrogate", in: "a\ud800b", want: "a b" },
    { name: "emoji kept", in: "Jo 😀", want: "Jo 😀" },
    { name: "spaces collapsed and trimmed", in: "  a \t  b  ", want: "a b" },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(cleanText(c.in), c.want));
  }
  test("cuts to the limit without splitting a surrogate pair", () => {
    const s = "a".repeat(9) + "😀";
    assert.equal(cleanText(s, 10), "a".repeat(9));
    assert.equal(cleanText("x".repeat(10000), 128).length, 128);
  });
});

describe("messageView", () => {
  test("reads a JsSIP-like message through getHeaders", () => {
    const msg = {
      call_id: "abc@h",
      status_code: 486,
      reason_phrase: "Busy Here",
      getHeaders: (n) => (n === "Reason" ? ["SIP;cause=200", "Q.850;cause=16"] : []),
    };
    const v = messageView(msg);
    assert.equal(v.callId, "abc@h");
    assert.equal(v.statusCode, 486);
    assert.equal(v.reasonPhrase, "Busy Here");
    assert.deepEqual(v.all("Reason"), ["SIP;cause=200", "Q.850;cause=16"]);
    assert.equal(v.first("X-None"), "");
  });
  test("reads plain headers without regard to case", () => {
    const v = view({ "x-queue": "Sales", "P-Asserted-Identity": ["<tel:+61>", "<sip:1@h>"] });
    assert.equal(v.first("X-Queue"), "Sales");
    assert.equal(v.all("p-asserted-identity").length, 2);
  });
  test("a missing message or a throwing one gives an empty view", () => {
    assert.equal(messageView(null).first("From"), "");
    assert.equal(messageView(null).statusCode, 0);
    const v = messageView({ getHeaders: () => { throw new Error("boom"); } });
    assert.deepEqual(v.all("From"), []);
  });
});

test("splitOutside keeps quoted and bracketed separators", () => {
  assert.deepEqual(splitOutside('"Smith, J" <sip:1@h>, <tel:+61>', ","), ['"Smith, J" <sip:1@h>', " <tel:+61>"]);
  assert.deepEqual(splitOutside('<sip:a@h;x=1>;tag=2', ";"), ["<sip:a@h;x=1>", "tag=2"]);
  assert.deepEqual(splitOutside('"a\\"b,c",d', ","), ['"a\\"b,c"', "d"]);
});

describe("parseNameAddr", () => {
  const cases = [
    { name: "quoted name", in: '"Alice Smith" <sip:+61299990000@pbx.example.com;user=phone>;tag=x1', want: { name: "Alice Smith", scheme: "sip", user: "+61299990000", host: "pbx.example.com" }, params: { tag: "x1" } },
    { name: "token name", in: "Bob <sip:1002@pbx.example.com>", want: { name: "Bob", scheme: "sip", user: "1002", host: "pbx.example.com" } },
    { name: "addr-spec with header params", in: "sip:1001@ctibridge.test;tag=abc", want: { name: "", scheme: "sip", user: "1001", host: "ctibridge.test" }, params: { tag: "abc" } },
    { name: "tel uri", in: "<tel:+61299990000;phone-context=example.com>", want: { name: "", scheme: "tel", user: "+61299990000", host: "" } },
    { name: "escaped quote in name", in: '"Jo \\"JJ\\" Lee" <sip:7@h>', want: { name: 'Jo "JJ" Lee', scheme: "sip", user: "7", host: "h" } },
    { name: "percent-encoded user", in: "<sip:%2B61299990000@h>", want: { name: "", scheme: "sip", user: "+61299990000", host: "h" } },
    { name: "user parameters dropped", in: "<sip:+6129;npdi;rn=+6130@h>", want: { name: "", scheme: "sip", user: "+6129", host: "h" } },
    { name: "port and uri params", in: "<sips:1001@h.example:5061;transport=tls>", want: { name: "", scheme: "sips", user: "1001", host: "h.example" } },
    { name: "bad percent escape kept", in: "<sip:10%ZZ@h>", want: { name: "", scheme: "sip", user: "10%ZZ", host: "h" } },
    { name: "no user", in: "<sip:pbx.example.com>", want: { name: "", scheme: "sip", user: "", host: "pbx.example.com" } },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = parseNameAddr(c.in);
      assert.ok(got, "parsed");
      assert.deepEqual({ name: got.name, scheme: got.scheme, user: got.user, host: got.host }, c.want);
      if (c.params) for (const [k, v] of Object.entries(c.params)) assert.equal(got.params[k], v);
    });
  }
  for (const bad of ["", "garbage", "<mailto:a@b>", "<http://x>", ":", null, 42, "<>"]) {
    test(`no sip or tel uri: ${JSON.stringify(bad)}`, () => assert.equal(parseNameAddr(bad), null));
  }
  test("agrees with JsSIP's own parser on well-formed values", () => {
    const values = [
      '"Alice Smith" <sip:+61299990000@pbx.example.com;user=phone>;tag=x1',
      "Bob <sip:1002@pbx.example.com>",
      "<sip:1001@ctibridge.test>;tag=abc",
      '"Jo \\"JJ\\" Lee" <sip:7@h.example>',
      "<sip:%2B61299990000@h.example>",
      '"Zoë Ångström" <sip:zoe@h.example>',
    ];
    for (const v of values) {
      const ours = parseNameAddr(v);
      const theirs = JsSIP.NameAddrHeader.parse(v);
      assert.ok(theirs, `JsSIP parses ${v}`);
      assert.equal(ours.user, theirs.uri.user, `user of ${v}`);
      assert.equal(ours.host, theirs.uri.host, `host of ${v}`);
      assert.equal(ours.name, theirs.display_name || "", `name of ${v}`);
    }
  });
});

describe("identityOf: P-Asserted-Identity > Remote-Party-ID > From", () => {
  const PAI = '"Network Name" <sip:+61299990001@pbx>';
  const RPID = '"RPID Name" <sip:+61299990002@pbx>;party=calling;screen=yes';
  const FROM = '"From Name" <sip:+61299990003@pbx>;tag=f1';
  const cases = [
    { name: "all three: PAI wins", headers: { "P-Asserted-Identity": PAI, "Remote-Party-ID": RPID, From: FROM }, want: { number: "+61299990001", name: "Network Name", source: "P-Asserted-Identity" } },
    { name: "RPID and From: RPID wins", headers: { "Remote-Party-ID": RPID, From: FROM }, want: { number: "+61299990002", name: "RPID Name", source: "Remote-Party-ID" } },
    { name: "From only", headers: { From: FROM }, want: { number: "+61299990003", name: "From Name", source: "From" } },
    { name: "PAI without a name takes From's name", headers: { "P-Asserted-Identity": "<sip:+61299990001@pbx>", From: FROM }, want: { number: "+61299990001", name: "From Name", source: "P-Asserted-Identity" } },
    { name: "PAI with sip and tel: tel wins", headers: { "P-Asserted-Identity": "<sip:1001@pbx>, <tel:+61299990009>", From: FROM }, want: { number: "+61299990009", name: "From Name", source: "P-Asserted-Identity" } },
    { name: "RPID of the called party is skipped", headers: { "Remote-Party-ID": "<sip:1001@pbx>;party=called", From: FROM }, want: { number: "+61299990003", name: "From Name", source: "From" } },
    { name: "unparsable PAI falls through", headers: { "P-Asserted-Identity": "nonsense", From: FROM }, want: { number: "+61299990003", name: "From Name", source: "From" } },
    { name: "withheld", headers: { From: '"Anonymous" <sip:anonymous@anonymous.invalid>;tag=1' }, want: { number: "", name: "", source: "From" } },
    { name: "nothing", headers: {}, want: { number: "", name: "", source: "" } },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(identityOf(view(c.headers)), c.want));
});

describe("interaction mapping", () => {
  const AGENT = { agentUser: "1001", headers: { interactionId: "X-Interaction-Id", queue: "X-Queue", campaign: "X-Campaign" } };

  test("inbound: the contract's example", () => {
    const v = view({ From: '"Customer" <sip:+61299990000@pbx>;tag=1', "X-Interaction-Id": "AI-1", "X-Queue": "Sales" }, "cid-1");
    const got = inboundInteraction(v, AGENT);
    assert.deepEqual(got.interaction, {
      agentInteractionId: "AI-1",
      callType: "inbound",
      activity: { customerCli: "+61299990000", sourcePhoneNumber: "+61299990000", destinationPhoneNumber: "1001", queueName: "Sales", campaignName: "" },
    });
    assert.deepEqual(got.remote, { number: "+61299990000", name: "Customer" });
    assert.equal(got.callId, "cid-1");
  });

  test("inbound: no PBX header, the Call-ID is the interaction id", () => {
    const got = inboundInteraction(view({ From: "<sip:5@h>" }, "a84b4c76e66710@pc33"), AGENT);
    assert.equal(got.interaction.agentInteractionId, "a84b4c76e66710@pc33");
  });

  test("header names come from the settings, defaults filled in", () => {
    assert.deepEqual(headerNames(undefined), { interactionId: "X-Interaction-Id", queue: "X-Queue", campaign: "X-Campaign" });
    assert.deepEqual(headerNames({ queue: "X-Skill", interactionId: " " }), { interactionId: "X-Interaction-Id", queue: "X-Skill", campaign: "X-Campaign" });
    const got = inboundInteraction(view({ "X-Skill": "Billing", "X-Queue": "Sales", "X-Call": "P-9" }), { agentUser: "1001", headers: { queue: "X-Skill", interactionId: "X-Call" } });
    assert.equal(got.interaction.activity.queueName, "Billing");
    assert.equal(got.interaction.agentInteractionId, "P-9");
  });

  test("hostile header values are cleaned and cut, never thrown", () => {
    const huge = "A\u0000\r\n".repeat(3500); // over 10 kB
    const v = view({
      From: `"${"N\u202e".repeat(5000)}" <sip:${"9".repeat(10000)}@h>`,
      "P-Asserted-Identity": "\u0000\u0001<<<>>>;;;,,,\"",
      "X-Interaction-Id": huge,
      "X-Queue": "Sales\r\nX-Injected: yes",
      "X-Campaign": "\u202eevil",
    }, "c".repeat(20000));
    let got;
    assert.doesNotThrow(() => (got = inboundInteraction(v, AGENT)));
    const a = got.interaction.activity;
    assert.ok(got.interaction.agentInteractionId.length <= LIMITS.id);
    assert.ok(a.customerCli.length <= LIMITS.number);
    assert.ok(got.remote.name.length <= LIMITS.name);
    for (const s of [got.interaction.agentInteractionId, a.customerCli, a.queueName, a.campaignName, got.remote.name]) {
      assert.ok(!CONTROL.test(s), `no control characters in ${JSON.stringify(s.slice(0, 20))}`);
    }
    assert.equal(a.queueName, "Sales X-Injected: yes");
    assert.equal(a.campaignName, "evil");
  });

  test("an interaction header of only control characters falls back to the Call-ID", () => {
    assert.equal(interactionIdOf(view({ "X-Interaction-Id": "\u0000\r\n " }), headerNames(), "cid-9"), "cid-9");
  });

  test("outgoing: manual, the dialled number is the customer", () => {
    const got = outgoingInteraction(messageView(null), { number: "0299990000", callId: "out-1", ...AGENT });
    assert.deepEqual(got, {
      agentInteractionId: "out-1",
      callType: "manual",
      activity: { customerCli: "0299990000", sourcePhoneNumber: "1001", destinationPhoneNumber: "0299990000", queueName: "", campaignName: "" },
    });
  });

  test("outgoing: a campaign header in the response makes it outbound with the PBX's id", () => {
    const resp = messageView({ statusCode: 183, headers: { "X-Campaign": "Renewals", "X-Interaction-Id": "PBX-77" } });
    const got = outgoingInteraction(resp, { number: "0299990000", callId: "out-1", ...AGENT });
    assert.equal(got.callType, "outbound");
    assert.equal(got.agentInteractionId, "PBX-77");
    assert.equal(got.activity.campaignName, "Renewals");
  });
});

describe("advance: the events of a session's lifecycle", () => {
  const run = (steps) => {
    let track = {};
    const out = [];
    for (const s of steps) {
      const r = advance(track, s);
      track = r.track;
      out.push(...r.events);
    }
    return out;
  };
  const cases = [
    { name: "inbound answered, remote BYE", steps: [{ kind: "alerting" }, { kind: "started" }, { kind: "started" }, { kind: "ended" }], want: ["callAlerting", "callStarted", "callHangup"] },
    { name: "declined", steps: [{ kind: "alerting" }, { kind: "failed", reached: true }], want: ["callAlerting", "callFailed"] },
    { name: "answered elsewhere", steps: [{ kind: "alerting" }, { kind: "failed", elsewhere: true, reached: true }], want: ["callAlerting", "callFailed"] },
    { name: "failure after connecting is a hang-up", steps: [{ kind: "alerting" }, { kind: "started" }, { kind: "failed", reached: true }], want: ["callAlerting", "callStarted", "callHangup"] },
    { name: "outgoing never left the browser", steps: [{ kind: "failed", reached: false }], want: [] },
    { name: "outgoing refused before ringing announces itself", steps: [{ kind: "failed", reached: true }], want: ["callAlerting", "callFailed"] },
    { name: "busy decline is a callFailed alone", steps: [{ kind: "failed", reached: true, announce: false }], want: ["callFailed"] },
    { name: "answered without ringing", steps: [{ kind: "started" }, { kind: "ended" }], want: ["callAlerting", "callStarted", "callHangup"] },
    { name: "nothing after the end", steps: [{ kind: "alerting" }, { kind: "failed", reached: true }, { kind: "started" }, { kind: "ended" }, { kind: "failed" }], want: ["callAlerting", "callFailed"] },
    { name: "repeated ringing announces once", steps: [{ kind: "alerting" }, { kind: "alerting" }], want: ["callAlerting"] },
    { name: "unknown happenings do nothing", steps: [{ kind: "reinvite" }, null], want: [] },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(run(c.steps), c.want));
  test("the track given is not changed", () => {
    const t = { alerted: false };
    advance(t, { kind: "alerting" });
    assert.deepEqual(t, { alerted: false });
  });
});

describe("callEvent", () => {
  const interaction = { agentInteractionId: "AI-1", callType: "inbound", activity: { customerCli: "+61", queueName: "Sales" } };
  test("id, type, ISO timestamp, the interaction unchanged", () => {
    const e = callEvent("callAlerting", interaction, Date.UTC(2026, 11, 4, 10, 0, 0), "ignored");
    assert.deepEqual(e, {
      id: "sip:AI-1:callAlerting",
      type: "callAlerting",
      timestamp: "2026-12-04T10:00:00.000Z",
      interaction: { agentInteractionId: "AI-1", callType: "inbound", activity: { customerCli: "+61", queueName: "Sales" } },
    });
  });
  test("callFailed adds dialStatusName and leaves the source alone", () => {
    const e = callEvent("callFailed", interaction, 0, "Busy");
    assert.equal(e.interaction.activity.dialStatusName, "Busy");
    assert.equal(interaction.activity.dialStatusName, undefined);
    assert.equal(e.interaction.activity.queueName, "Sales");
  });
  test("a bad clock still gives a valid timestamp", () => {
    assert.ok(!Number.isNaN(Date.parse(callEvent("callStarted", interaction, NaN).timestamp)));
  });
});

describe("answeredElsewhere", () => {
  const cases = [
    { name: "JsSIP's spelling", reason: 'SIP ;cause=200 ;text="Call completed elsewhere"', want: true },
    { name: "compact", reason: "SIP;cause=200;text=\"Call completed elsewhere\"", want: true },
    { name: "lower-case protocol", reason: "sip;cause=200", want: true },
    { name: "second of two values", reason: 'Q.850;cause=16, SIP;cause=200;text="x"', want: true },
    { name: "other cause", reason: 'SIP;cause=487;text="Request Terminated"', want: false },
    { name: "Q.850 cause 200 is not SIP", reason: "Q.850;cause=200", want: false },
    { name: "cause only in the quoted text", reason: 'SIP;cause=487;text="was ;cause=200"', want: false },
    { name: "no Reason", reason: null, want: false },
    { name: "garbage", reason: "\u0000;;;==,,", want: false },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(answeredElsewhere(view(c.reason == null ? {} : { Reason: c.reason })), c.want));
  }
  test("any of several Reason headers", () => {
    assert.equal(answeredElsewhere(view({ Reason: ["Q.850;cause=16", "SIP;cause=200"] })), true);
  });
});

describe("failureReason", () => {
  const cases = [
    { name: "agent declined", f: { direction: "incoming", cause: Causes.REJECTED, originator: "local", agentAction: "declined" }, want: "Declined" },
    { name: "busy while on a call", f: { direction: "incoming", agentAction: "busy" }, want: "Busy" },
    { name: "caller hung up while ringing", f: { direction: "incoming", cause: Causes.CANCELED, originator: "remote" }, want: "Missed" },
    { name: "nobody answered here", f: { direction: "incoming", cause: Causes.NO_ANSWER, originator: "local" }, want: "No Answer" },
    { name: "invite expired", f: { direction: "incoming", cause: Causes.EXPIRES, originator: "system" }, want: "No Answer" },
    { name: "microphone refused", f: { direction: "incoming", cause: Causes.USER_DENIED_MEDIA_ACCESS, originator: "local" }, want: "Microphone Blocked" },
    { name: "agent cancelled dialling", f: { direction: "outgoing", cause: Causes.CANCELED, originator: "local" }, want: "Cancelled" },
    { name: "486", f: { direction: "outgoing", cause: Causes.BUSY, originator: "remote", statusCode: 486 }, want: "Busy" },
    { name: "603", f: { direction: "outgoing", cause: Causes.REJECTED, originator: "remote", statusCode: 603 }, want: "Declined" },
    { name: "403", f: { direction: "outgoing", cause: Causes.REJECTED, originator: "remote", statusCode: 403 }, want: "Rejected" },
    { name: "404", f: { direction: "outgoing", cause: Causes.NOT_FOUND, originator: "remote", statusCode: 404 }, want: "Not Found" },
    { name: "408 from the far end", f: { direction: "outgoing", cause: Causes.UNAVAILABLE, originator: "remote", statusCode: 408 }, want: "No Answer" },
    { name: "480", f: { direction: "outgoing", cause: Causes.UNAVAILABLE, originator: "remote", statusCode: 480 }, want: "Unavailable" },
    { name: "484", f: { direction: "outgoing", cause: Causes.ADDRESS_INCOMPLETE, statusCode: 484 }, want: "Invalid Number" },
    { name: "no response at all", f: { direction: "outgoing", cause: Causes.REQUEST_TIMEOUT, originator: "system" }, want: "No Response" },
    { name: "transport", f: { direction: "outgoing", cause: Causes.CONNECTION_ERROR }, want: "Network Error" },
    { name: "webrtc", f: { direction: "outgoing", cause: Causes.WEBRTC_ERROR }, want: "Media Error" },
    { name: "503", f: { direction: "outgoing", cause: Causes.SIP_FAILURE_CODE, statusCode: 503 }, want: "Failed" },
    { name: "unknown cause", f: { direction: "outgoing", cause: "Something New" }, want: "Failed" },
  ];
  for (const c of cases) test(c.name, () => assert.equal(failureReason(c.f), c.want));

  test("details name the status and what to do", () => {
    assert.equal(failureDetail("Busy", 486, "Busy Here"), "Busy (486 Busy Here)");
    assert.equal(failureDetail("Missed", 0, ""), "Missed");
    assert.equal(failureDetail("Not Found", 404, ""), "Not Found (404 Not Found)");
    assert.match(failureDetail("Microphone Blocked", 0, ""), /allow this site to use the microphone/);
    assert.equal(statusText(599, ""), "599");
  });
  test("DECLINE is 486 Busy Here", () => assert.deepEqual({ ...DECLINE }, { status_code: 486, reason_phrase: "Busy Here" }));
});

describe("registration and transport reasons", () => {
  const base = { server: "wss://pbx.example.com:8089/ws", account: "1001@pbx.example.com" };
  const cases = [
    { name: "403 names the code and the fix", r: { statusCode: 403, reasonPhrase: "Forbidden" }, starts: "403 Forbidden: ", has: "ctibridge agent sip", retry: false },
    { name: "401 wrong password", r: { statusCode: 401, reasonPhrase: "Unauthorized" }, starts: "401 Unauthorized: ", has: "password of 1001@pbx.example.com", retry: false },
    { name: "404 unknown account", r: { statusCode: 404, reasonPhrase: "" }, starts: "404 Not Found: ", has: "does not know", retry: false },
    { name: "503 is retried", r: { statusCode: 503, reasonPhrase: "Service Unavailable" }, starts: "503 Service Unavailable: ", has: "tries again", retry: true },
    { name: "no answer to REGISTER", r: { cause: Causes.REQUEST_TIMEOUT }, starts: "the SIP server at wss://pbx.example.com:8089/ws did not answer", has: "tries again", retry: true },
    { name: "transport error", r: { cause: Causes.CONNECTION_ERROR }, starts: "the connection to the SIP server", has: "reconnecting", retry: false },
    { name: "hostile phrase is cleaned", r: { statusCode: 403, reasonPhrase: "Forbidden\r\n\u202eX" }, starts: "403 Forbidden X: ", has: "refused", retry: false },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = registrationReason({ ...base, ...c.r });
      assert.ok(got.reason.startsWith(c.starts), got.reason);
      assert.ok(got.reason.includes(c.has), got.reason);
      assert.equal(got.retry, c.retry);
      assert.ok(!CONTROL.test(got.reason));
    });
  }
  test("the server is shown without credentials or query", () => {
    assert.equal(displayServer("wss://user:secret@pbx.example.com:8089/ws?token=abc#x"), "wss://pbx.example.com:8089/ws");
    assert.equal(displayServer("ws://127.0.0.1:5066"), "ws://127.0.0.1:5066");
    assert.ok(!registrationReason({ server: "wss://u:secret@h/ws", cause: Causes.REQUEST_TIMEOUT }).reason.includes("secret"));
  });
  test("transport: never connected, then lost", () => {
    assert.equal(
      transportReason("ws://127.0.0.1:5066", false),
      "the SIP server at ws://127.0.0.1:5066 did not answer; check that it is running and reachable from this computer (retrying).",
    );
    assert.match(transportReason("ws://127.0.0.1:5066", true), /^lost the connection to the SIP server at ws:\/\/127\.0\.0\.1:5066/);
  });
});

describe("dialTarget", () => {
  const ok = [
    { in: "+61 (2) 9999-0000", want: { user: "+61299990000", host: "" } },
    { in: "02 9999 0000", want: { user: "0299990000", host: "" } },
    { in: "1002", want: { user: "1002", host: "" } },
    { in: "*72", want: { user: "*72", host: "" } },
    { in: "sales-queue", want: { user: "sales-queue", host: "" } },
    { in: "tel:+61299990000;phone-context=x", want: { user: "+61299990000", host: "" } },
    { in: "sip:alice@other.example.com", want: { user: "alice", host: "other.example.com" } },
    { in: " 0299990000\n", want: { user: "0299990000", host: "" } },
  ];
  for (const c of ok) test(`dials ${JSON.stringify(c.in)}`, () => assert.deepEqual(dialTarget(c.in), c.want));
  const bad = ["", "   ", "call me", "02 9999 0000 ext. 5", "sip:@h", "a@b@c", "<sip:x@y>", "1".repeat(41), "%41"];
  for (const b of bad) {
    test(`refuses ${JSON.stringify(b)}`, () => assert.throws(() => dialTarget(b), /Enter a number|not a phone number|not a SIP address/));
  }
  test("DTMF tones", () => {
    assert.equal(dtmfTones("12*#a"), "12*#A");
    assert.throws(() => dtmfTones("5x"), /not a DTMF tone/);
    assert.throws(() => dtmfTones(""), /not a DTMF tone/);
  });
});

test("random header values never throw and stay within the limits", () => {
  // A small deterministic generator: the same cases on every run.
  let seed = 12345;
  const rand = (n) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const alphabet = ['"', "<", ">", ",", ";", "=", ":", "@", "\\", " ", "\r", "\n", "\u0000", "\u202e", "\ud800", "%", "s", "i", "p", "t", "e", "l", "0", "9", "+"];
  for (let i = 0; i < 500; i++) {
    let s = "";
    const len = rand(i % 50 === 0 ? 12000 : 80);
    for (let j = 0; j < len; j++) s += alphabet[rand(alphabet.length)];
    const v = view({ From: s, "P-Asserted-Identity": s, "Remote-Party-ID": s, "X-Interaction-Id": s, Reason: s }, s);
    const got = inboundInteraction(v, { agentUser: "1001" });
    const id = identityOf(v);
    assert.ok(got.interaction.agentInteractionId.length <= LIMITS.id);
    assert.ok(id.number.length <= LIMITS.number && id.name.length <= LIMITS.name);
    assert.ok(!CONTROL.test(got.interaction.agentInteractionId + id.number + id.name));
    answeredElsewhere(v);
    try {
      dialTarget(s);
    } catch (err) {
      assert.ok(err instanceof Error && !CONTROL.test(err.message));
    }
  }
});
