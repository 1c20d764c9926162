// Tests of the customer phone's logic (phone.mjs) with node's test runner.
// The page itself (JsSIP, WebRTC) is tested by e2e/sip_test.go in Chromium.

import { test } from "node:test";
import assert from "node:assert/strict";
import { phoneSettings, sipTarget, callHeaders, audioBytes, audioEnergy, endInfo, registrationReason, newObserved } from "./phone.mjs";

test("phoneSettings reads the query string", () => {
  const s = phoneSettings("?server=ws://127.0.0.1:5066&domain=ctibridge.test&user=customer&password=p%40ss&target=1001" +
    "&cli=%2B61299990000&queue=Sales&header=X-Priority:high&header=%20&autoanswer=1");
  assert.equal(s.server, "ws://127.0.0.1:5066");
  assert.equal(s.password, "p@ss");
  assert.equal(s.cli, "+61299990000");
  assert.deepEqual(s.headers, ["X-Priority:high"]);
  assert.equal(s.autoAnswer, true);
  assert.equal(phoneSettings("").autoAnswer, false);
  assert.equal(phoneSettings("").server, "");
});

test("sipTarget completes a user with the domain", () => {
  assert.equal(sipTarget("1001", "ctibridge.test"), "sip:1001@ctibridge.test");
  assert.equal(sipTarget(" +61299990000 ", "ctibridge.test"), "sip:+61299990000@ctibridge.test");
  assert.equal(sipTarget("1001@pbx.example.com", "ctibridge.test"), "sip:1001@pbx.example.com");
  assert.equal(sipTarget("sip:1001@pbx.example.com", ""), "sip:1001@pbx.example.com");
  assert.throws(() => sipTarget("", "ctibridge.test"), /whom to call/);
  assert.throws(() => sipTarget("1001", ""), /domain/);
});

test("callHeaders sets the PBX headers that have values", () => {
  assert.deepEqual(callHeaders({ interactionId: "int-1", queue: "Sales", cli: "+61299990000", domain: "ctibridge.test", headers: ["X-Priority: high"] }), [
    "X-Interaction-Id: int-1",
    "X-Queue: Sales",
    "P-Asserted-Identity: <sip:+61299990000@ctibridge.test>",
    "X-Priority: high",
  ]);
  assert.deepEqual(callHeaders({}), []);
  assert.deepEqual(callHeaders({ campaign: "  " }), []);
});

test("callHeaders refuses header injection", () => {
  assert.throws(() => callHeaders({ queue: "Sales\r\nX-Evil: 1" }), /line breaks/);
  assert.throws(() => callHeaders({ headers: ["Bad Name: x"] }), /name of letters/);
  assert.throws(() => callHeaders({ headers: ["novalue"] }), /Name:value/);
});

test("audioBytes sums the audio RTP streams", () => {
  const report = new Map([
    ["a", { type: "inbound-rtp", kind: "audio", bytesReceived: 1200 }],
    ["b", { type: "inbound-rtp", kind: "video", bytesReceived: 9999 }],
    ["c", { type: "outbound-rtp", kind: "audio", bytesSent: 800 }],
    ["d", { type: "candidate-pair", bytesReceived: 5000 }],
  ]);
  assert.deepEqual(audioBytes(report), { received: 1200, sent: 800 });
  assert.deepEqual(audioBytes(new Map()), { received: 0, sent: 0 });
});

test("audioEnergy sums the received audio's energy", () => {
  const report = new Map([
    ["a", { type: "inbound-rtp", kind: "audio", totalAudioEnergy: 0.25 }],
    ["b", { type: "inbound-rtp", mediaType: "audio", totalAudioEnergy: 0.5 }],
    ["c", { type: "inbound-rtp", kind: "video", totalAudioEnergy: 9 }],
    ["d", { type: "media-source", kind: "audio", totalAudioEnergy: 9 }],
    ["e", { type: "inbound-rtp", kind: "audio" }],
  ]);
  assert.equal(audioEnergy(report), 0.75);
  assert.equal(audioEnergy(new Map()), 0);
});

test("newObserved starts each call with nothing seen, in a record of its own", () => {
  const a = newObserved();
  assert.deepEqual(a, { held: false, holds: 0, unholds: 0, dtmf: [], referredTo: "", referredBy: "" });
  a.dtmf.push("1");
  assert.deepEqual(newObserved().dtmf, []);
});

test("endInfo tells a remote BYE from a CANCEL, a reply and a local hang-up", () => {
  assert.deepEqual(endInfo({ originator: "remote", cause: "Terminated", message: { method: "BYE" } }),
    { cause: "Terminated", originator: "remote", by: "bye", status: "" });
  assert.equal(endInfo({ originator: "remote", cause: "Canceled", message: { method: "CANCEL" } }).by, "cancel");
  assert.deepEqual(endInfo({ originator: "remote", cause: "Rejected", message: { status_code: 603 } }),
    { cause: "Rejected", originator: "remote", by: "reply", status: "603" });
  assert.equal(endInfo({ originator: "local", cause: "Terminated" }).by, "local");
  assert.equal(endInfo({ originator: "system", cause: "Connection Error" }).by, "system");
});

test("registrationReason names the SIP status and JsSIP's cause", () => {
  assert.equal(registrationReason({ cause: "Rejected", response: { status_code: 403, reason_phrase: "Wrong user name or password" } }),
    "403 Wrong user name or password (Rejected)");
  assert.equal(registrationReason({ cause: "Connection Error" }), "Connection Error");
  assert.equal(registrationReason(undefined), "no answer from the SIP server");
});
