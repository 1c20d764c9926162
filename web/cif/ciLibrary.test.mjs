// Tests of the CIF library stand-in (msdyn_ciLibrary.js), run by node's test
// runner. The library is a classic browser script, so it runs here in a vm
// context whose window double records what it posts to its parent and lets
// the test deliver messages and fire timers by hand.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import vm from "node:vm";

const SOURCE = readFileSync(new URL("./msdyn_ciLibrary.js", import.meta.url), "utf8");
const CRM = "https://org.crm.dynamics.com";

function load({ dataset = { crmurl: CRM + "/", cifid: "CIFMainLibrary" }, framed = true } = {}) {
  const posted = [];
  const listeners = {};
  const dispatched = [];
  const errors = [];
  const timers = new Map();
  let nextTimer = 1;
  const parent = { postMessage: (msg, origin) => posted.push({ msg: JSON.parse(JSON.stringify(msg)), origin }) };
  const win = {
    URL,
    JSON,
    console: { error: (...a) => errors.push(a.join(" ")), log: () => {} },
    CustomEvent: class {
      constructor(type) {
        this.type = type;
      }
    },
    setTimeout: (fn, ms) => {
      const id = nextTimer++;
      timers.set(id, { fn, ms });
      return id;
    },
    clearTimeout: (id) => timers.delete(id),
    addEventListener: (name, fn) => (listeners[name] ||= []).push(fn),
    dispatchEvent: (ev) => dispatched.push(ev.type),
    document: {
      currentScript: { dataset },
      querySelector: () => null,
    },
  };
  win.window = win;
  win.parent = framed ? parent : win;
  vm.createContext(win);
  vm.runInContext(SOURCE, win, { filename: "msdyn_ciLibrary.js" });
  const deliver = (data, { origin = CRM, source = parent } = {}) => {
    for (const fn of listeners.message || []) fn({ data, origin, source });
  };
  // fire runs the pending timers that were set with the given delay.
  const fire = (ms) => {
    for (const [id, t] of [...timers]) {
      if (t.ms === ms) {
        timers.delete(id);
        t.fn();
      }
    }
  };
  const requests = () => posted.filter((p) => p.msg.kind === "request");
  return { win, cif: win.Microsoft.CIFramework, posted, requests, deliver, fire, dispatched, errors, timers, parent };
}

const envelope = (m) => ({ protocol: "ctibridge-cif/1", cifId: "CIFMainLibrary", ...m });

// settle lets promise callbacks run.
const settle = () => new Promise((r) => setImmediate(r));

async function state(p) {
  let s = "pending";
  p.then(() => (s = "resolved"), () => (s = "rejected"));
  await settle();
  return s;
}

describe("msdyn_ciLibrary.js stand-in", () => {
  test("defines Microsoft.CIFramework with the documented API", () => {
    const { cif } = load();
    for (const m of [
      "searchAndOpenRecords", "renderSearchPage", "openForm", "createRecord", "updateRecord", "retrieveRecord",
      "deleteRecord", "setClickToAct", "getClickToAct", "addHandler", "removeHandler", "setMode", "getMode",
      "setWidth", "getWidth", "getEnvironment",
    ]) {
      assert.equal(typeof cif[m], "function", m);
    }
  });

  test("CIF 2.0's session, notification and presence APIs take their input as an object or a JSON string", async () => {
    const { cif, requests } = load();
    cif.createSession({ templateName: "new_call_session", templateParameters: { customerName: "Jane" } });
    cif.notifyEvent('{"templateName":"new_call_notice"}', "", "tok");
    cif.setPresence("Busy");
    assert.deepEqual(requests().map((r) => [r.msg.method, r.msg.args[0]]), [
      ["createSession", { templateName: "new_call_session", templateParameters: { customerName: "Jane" } }],
      ["notifyEvent", '{"templateName":"new_call_notice"}'],
      ["setPresence", "Busy"],
    ]);
    await assert.rejects(cif.setSessionTitle("not json"), /setSessionTitle argument 1: not valid JSON/);
    await assert.rejects(cif.notifyNewActivity("s-1", "many"), /expected a number/);
  });

  test("the handshake goes to the data-crmurl origin only", () => {
    const { posted } = load();
    assert.deepEqual(posted, [{ msg: envelope({ kind: "hello" }), origin: CRM }]);
  });

  test("the handshake repeats until the host answers, then stops", () => {
    const { posted, fire, deliver, timers } = load();
    fire(1000);
    fire(1000);
    assert.equal(posted.filter((p) => p.msg.kind === "hello").length, 3);
    deliver(envelope({ kind: "ready" }));
    assert.equal(timers.size, 0);
  });

  test("CIFInitDone fires once, when the host answers from the right origin and window", () => {
    const { deliver, dispatched, parent } = load();
    deliver(envelope({ kind: "ready" }), { origin: "https://evil.example" });
    deliver(envelope({ kind: "ready" }), { source: {} });
    deliver({ ...envelope({ kind: "ready" }), cifId: "OtherLibrary" });
    deliver({ kind: "ready", cifId: "CIFMainLibrary" });
    assert.deepEqual(dispatched, []);
    deliver(envelope({ kind: "ready" }), { source: parent });
    deliver(envelope({ kind: "ready" }));
    assert.deepEqual(dispatched, ["CIFInitDone"]);
  });

  test("a call is forwarded with its arguments and resolves with the host's JSON string", async () => {
    const { cif, requests, deliver } = load();
    const p = cif.searchAndOpenRecords("contact", "?$select=fullname&$filter=telephone1 eq '1'", true);
    const [req] = requests();
    assert.equal(req.origin, CRM);
    assert.deepEqual(req.msg, envelope({ kind: "request", id: "CIFMainLibrary-1", method: "searchAndOpenRecords", args: ["contact", "?$select=fullname&$filter=telephone1 eq '1'", true] }));
    deliver(envelope({ kind: "response", id: req.msg.id, ok: true, result: '{"0":{"contactid":"c1"}}' }));
    assert.equal(await p, '{"0":{"contactid":"c1"}}');
  });

  test("replies are matched by correlation id, whatever their order", async () => {
    const { cif, requests, deliver } = load();
    const a = cif.getMode();
    const b = cif.getWidth();
    const [ra, rb] = requests();
    deliver(envelope({ kind: "response", id: rb.msg.id, ok: true, result: "340" }));
    deliver(envelope({ kind: "response", id: ra.msg.id, ok: true, result: "1" }));
    assert.deepEqual([await a, await b], ["1", "340"]);
  });

  test("a result that is not a string is handed out as a JSON string", async () => {
    const { cif, requests, deliver } = load();
    const p = cif.getEnvironment();
    deliver(envelope({ kind: "response", id: requests()[0].msg.id, ok: true, result: { clientUrl: CRM } }));
    assert.equal(await p, JSON.stringify({ clientUrl: CRM }));
  });

  test("a host error rejects with its message and code", async () => {
    const { cif, requests, deliver } = load();
    const p = cif.retrieveRecord("contact", "nope", "?$select=fullname");
    deliver(envelope({ kind: "response", id: requests()[0].msg.id, ok: false, error: { message: "contact With Id = nope Does Not Exist", code: "0x80040217" } }));
    await assert.rejects(p, (e) => e.message === "contact With Id = nope Does Not Exist" && e.code === "0x80040217");
  });

  test("answers from another origin are ignored, and the call fails after 100 s", async () => {
    const { cif, requests, deliver, fire } = load();
    const p = cif.createRecord("contact", '{"fullname":"x"}');
    deliver(envelope({ kind: "response", id: requests()[0].msg.id, ok: true, result: '{"id":"1"}' }), { origin: "https://evil.example" });
    assert.equal(await state(p), "pending");
    fire(100000);
    await assert.rejects(p, /createRecord: no answer within 100 s/);
  });

  test("an answer after the timeout is dropped", async () => {
    const { cif, requests, deliver, fire } = load();
    const p = cif.getMode();
    fire(100000);
    await assert.rejects(p, /no answer/);
    deliver(envelope({ kind: "response", id: requests()[0].msg.id, ok: true, result: "1" }));
  });

  const badArgs = [
    { name: "createRecord with an object", call: (c) => c.createRecord("contact", { fullname: "x" }), err: /createRecord argument 2: expected a JSON string, got object/ },
    { name: "updateRecord with broken JSON", call: (c) => c.updateRecord("contact", "c1", "{x"), err: /updateRecord argument 3: not valid JSON/ },
    { name: "openForm with an object", call: (c) => c.openForm({ entityName: "contact" }), err: /openForm argument 1: expected a JSON string/ },
    { name: "searchAndOpenRecords without searchOnly", call: (c) => c.searchAndOpenRecords("contact", "?$top=1"), err: /argument 3: expected true or false/ },
    { name: "setWidth with a word", call: (c) => c.setWidth("wide"), err: /setWidth argument 1: expected a number/ },
  ];
  for (const c of badArgs) {
    test(`refuses ${c.name} without posting it`, async () => {
      const { cif, requests } = load();
      await assert.rejects(c.call(cif), c.err);
      assert.equal(requests().length, 0);
    });
  }

  test("events reach the handlers of their name as JSON strings; removeHandler stops them", async () => {
    const { cif, deliver } = load();
    const got = [];
    const h = (data) => got.push(data);
    await cif.addHandler("onclicktoact", h);
    deliver(envelope({ kind: "event", name: "onclicktoact", data: '{"value":"123","format":"phone"}' }));
    deliver(envelope({ kind: "event", name: "onpagenavigate", data: '{"value":"x"}' }));
    deliver(envelope({ kind: "event", name: "onclicktoact", data: { value: "456" } }), { origin: "https://evil.example" });
    await cif.removeHandler("onclicktoact", h);
    deliver(envelope({ kind: "event", name: "onclicktoact", data: '{"value":"789"}' }));
    assert.deepEqual(got, ['{"value":"123","format":"phone"}']);
  });

  test("a handler that throws does not stop the others", async () => {
    const { cif, deliver, errors } = load();
    const got = [];
    await cif.addHandler("onPageNavigate", () => {
      throw new Error("boom");
    });
    await cif.addHandler("onpagenavigate", (d) => got.push(d));
    deliver(envelope({ kind: "event", name: "onpagenavigate", data: { value: "u" } }));
    assert.deepEqual(got, ['{"value":"u"}']);
    assert.equal(errors.length, 1);
  });

  test("without data-crmurl nothing is posted and every call says what to fix", async () => {
    const { cif, posted, errors } = load({ dataset: { cifid: "CIFMainLibrary" } });
    assert.equal(posted.length, 0);
    await assert.rejects(cif.getEnvironment(), /no data-crmurl: set it to the Dynamics URL/);
    assert.match(errors[0], /data-crmurl/);
  });

  test("a relative data-crmurl is refused", async () => {
    const { cif } = load({ dataset: { crmurl: "org.crm.dynamics.com" } });
    await assert.rejects(cif.getMode(), /is not an absolute URL/);
  });

  test("outside a host page every call fails at once", async () => {
    const { cif, posted } = load({ framed: false });
    assert.equal(posted.length, 0);
    await assert.rejects(cif.getEnvironment(), /not inside a host page/);
  });
});
