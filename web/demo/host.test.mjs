// Tests of the demo host's logic (host.mjs) with node's test runner.
//
// recordingFetch is a test double of window.fetch: it records each request
// (method, URL, headers, body) and answers from a list of canned responses
// keyed by "METHOD path"; recordingUI records what the record pane was told
// to show.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  API_BASE, ODATA_HEADERS, WebAPI, WebAPIError, createCIFHost, stripSearch, textSearchQuery, entitySet,
  entityKey, entityNameColumn, idFromEntityIdHeader, pageURL, isPhoneField, formColumns, recordFromForm, columnLabel, newRecordForm, dueText,
  normalizeScenarios, activityRows, activityQueries, odataLiteral, cleanId, errorReply, callPanel,
} from "./host.mjs";

const SETTINGS = {
  entities: [
    { name: "contact", plural: "contacts", key: "contactid", columns: ["fullname", "telephone1", "mobilephone", "donotphone"], type: "person" },
    { name: "account", plural: "accounts", key: "accountid", columns: ["name", "telephone1", "donotphone"], type: "entity" },
  ],
  agents: [{ id: "1001", pin: "1234" }],
  scenarios: [],
};

function response(status, body, headers = {}) {
  const text = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
  return {
    ok: status >= 200 && status < 300,
    status,
    statusText: String(status),
    headers: { get: (n) => headers[n] ?? headers[Object.keys(headers).find((k) => k.toLowerCase() === n.toLowerCase())] ?? null },
    text: async () => text,
  };
}

function recordingFetch(routes) {
  const requests = [];
  const fn = async (url, init) => {
    requests.push({ method: init.method, url, headers: init.headers, body: init.body === undefined ? undefined : JSON.parse(init.body) });
    const path = url.slice(API_BASE.length);
    const key = `${init.method} ${path}`;
    const r = routes[key];
    if (!r) return response(404, { error: { code: "0x80060888", message: `no route for ${key}` } });
    return typeof r === "function" ? r(init) : r;
  };
  fn.requests = requests;
  return fn;
}

function recordingUI() {
  const calls = [];
  return {
    calls,
    openRecord: async (entity, id) => calls.push(["openRecord", entity, id]),
    showSearch: async (entity, text, rows) => calls.push(["showSearch", entity, text, rows.length]),
    showNewForm: async (entity, params) => calls.push(["showNewForm", entity, params]),
    setClickToAct: (v) => calls.push(["setClickToAct", v]),
    setMode: (m) => calls.push(["setMode", m]),
    setWidth: (w) => (calls.push(["setWidth", w]), Math.min(w, 600)),
    emit: (name, data) => calls.push(["emit", name, data]),
    page: () => ({ pageType: "entityrecord", entity: "contact", id: "c1" }),
  };
}

function host(routes) {
  const fetch = recordingFetch(routes);
  const ui = recordingUI();
  const h = createCIFHost({ api: new WebAPI(fetch), settings: SETTINGS, ui, origin: "http://127.0.0.1:8080" });
  return { h, fetch, ui };
}

const jane = { contactid: "C1", fullname: "Jane Citizen", telephone1: "0299990000" };
const john = { contactid: "c2", fullname: "John Citizen", telephone1: "0299990000" };
const filter = "?$select=fullname,telephone1&$filter=telephone1 eq '0299990000'";

describe("stripSearch", () => {
  const cases = [
    { name: "drops $search and decodes it", in: filter + "&$search=0299990000%20or%20x", want: { lookup: filter, searchText: "0299990000 or x", hadSearch: true } },
    { name: "no $search", in: filter, want: { lookup: filter, searchText: "", hadSearch: false } },
    { name: "only $search", in: "?$search=Jane", want: { lookup: "", searchText: "Jane", hadSearch: true } },
    { name: "$search first", in: "?$search=a&$top=1", want: { lookup: "?$top=1", searchText: "a", hadSearch: true } },
    { name: "without leading ?", in: "$select=a", want: { lookup: "?$select=a", searchText: "", hadSearch: false } },
    { name: "a malformed escape is kept", in: "?$search=100%", want: { lookup: "", searchText: "100%", hadSearch: true } },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(stripSearch(c.in), c.want));
});

describe("entity helpers", () => {
  const cases = [
    { name: "set from config", got: entitySet(SETTINGS, "contact"), want: "contacts" },
    { name: "set falls back to name+s", got: entitySet(SETTINGS, "phonecall"), want: "phonecalls" },
    { name: "key from config", got: entityKey(SETTINGS, "account"), want: "accountid" },
    { name: "activity key", got: entityKey(SETTINGS, "task"), want: "activityid" },
    { name: "name column", got: entityNameColumn(SETTINGS, "account"), want: "name" },
    { name: "entity id header", got: idFromEntityIdHeader("http://h/api/data/v9.2/contacts(ABC-1)"), want: "abc-1" },
    { name: "no entity id header", got: idFromEntityIdHeader(null), want: "" },
    { name: "braces removed", got: cleanId("{AB-1}"), want: "ab-1" },
    { name: "literal escaped", got: odataLiteral("O'B & C"), want: "O''B%20%26%20C" },
  ];
  for (const c of cases) test(c.name, () => assert.equal(c.got, c.want));
});

describe("textSearchQuery", () => {
  test("contains() on text columns, not on flags", () =>
    assert.equal(
      textSearchQuery(SETTINGS, "contact", "Jane O'B"),
      "?$select=contactid,fullname,telephone1,mobilephone,donotphone&$filter=contains(fullname,'Jane%20O''B') or contains(telephone1,'Jane%20O''B') or contains(mobilephone,'Jane%20O''B')&$top=50",
    ));
  test("no text lists the first rows", () => assert.equal(textSearchQuery(SETTINGS, "account", ""), "?$select=accountid,name,telephone1,donotphone&$top=50"));
  test("an unlisted entity searches its name column", () => assert.equal(textSearchQuery(SETTINGS, "incident", "x"), "?$filter=contains(name,'x')&$top=50"));
});

describe("WebAPI", () => {
  test("sends the OData headers", async () => {
    const fetch = recordingFetch({ "GET /contacts?$top=1": response(200, { value: [jane] }) });
    const rows = await new WebAPI(fetch).list("/contacts?$top=1");
    assert.deepEqual(rows, [jane]);
    assert.deepEqual(fetch.requests[0].headers, { ...ODATA_HEADERS });
    assert.equal(fetch.requests[0].url, "/api/data/v9.2/contacts?$top=1");
  });

  test("create reads the id from OData-EntityId", async () => {
    const fetch = recordingFetch({ "POST /contacts": response(204, undefined, { "OData-EntityId": "http://h/api/data/v9.2/contacts(NEW-1)" }) });
    assert.equal(await new WebAPI(fetch).create("contacts", { fullname: "x" }, "contactid"), "new-1");
    assert.equal(fetch.requests[0].headers["Content-Type"], "application/json; charset=utf-8");
    assert.deepEqual(fetch.requests[0].body, { fullname: "x" });
  });

  test("create falls back to the key in a returned representation", async () => {
    const fetch = recordingFetch({ "POST /contacts": response(201, { contactid: "n2" }) });
    assert.equal(await new WebAPI(fetch).create("contacts", {}, "contactid"), "n2");
  });

  test("update sends If-Match: * so a missing record is not created", async () => {
    const fetch = recordingFetch({ "PATCH /contacts(c1)": response(204) });
    await new WebAPI(fetch).update("contacts", "{C1}", { fullname: "y" });
    assert.equal(fetch.requests[0].headers["If-Match"], "*");
  });

  test("an error carries Dataverse's message and names the request", async () => {
    const fetch = recordingFetch({ "GET /contacts(zz)": response(404, { error: { code: "0x80040217", message: "contact With Id = zz Does Not Exist" } }) });
    await assert.rejects(new WebAPI(fetch).retrieve("contacts", "zz"), (e) => {
      assert.ok(e instanceof WebAPIError);
      assert.equal(e.message, "contact With Id = zz Does Not Exist");
      assert.equal(e.detail, "GET /contacts(zz): HTTP 404 0x80040217");
      assert.deepEqual(errorReply(e), { message: "contact With Id = zz Does Not Exist", code: "0x80040217" });
      return true;
    });
  });
});

describe("createCIFHost", () => {
  const cases = [
    {
      name: "searchOnly: queries without $search, opens nothing, answers rows keyed by number",
      routes: { [`GET /contacts${filter}`]: response(200, { value: [jane, john] }) },
      method: "searchAndOpenRecords",
      args: ["contact", filter + "&$search=0299990000", true],
      result: JSON.stringify({ 0: jane, 1: john }),
      ui: [],
    },
    {
      name: "one match and no $search opens the record",
      routes: { [`GET /contacts${filter}`]: response(200, { value: [jane] }) },
      method: "searchAndOpenRecords",
      args: ["contact", filter, false],
      result: JSON.stringify({ 0: jane }),
      ui: [["openRecord", "contact", "c1"]],
    },
    {
      name: "one match with $search shows the search page, as CIF always does for $search",
      routes: { [`GET /contacts${filter}`]: response(200, { value: [jane] }) },
      method: "searchAndOpenRecords",
      args: ["contact", filter + "&$search=0299990000", false],
      ui: [["showSearch", "contact", "0299990000", 1]],
    },
    {
      name: "several matches show the search page with the search text",
      routes: { [`GET /contacts${filter}`]: response(200, { value: [jane, john] }) },
      method: "searchAndOpenRecords",
      args: ["contact", filter + "&$search=0299990000", false],
      ui: [["showSearch", "contact", "0299990000", 2]],
    },
    {
      name: "no match shows an empty search page",
      routes: { [`GET /contacts${filter}`]: response(200, { value: [] }) },
      method: "searchAndOpenRecords",
      args: ["contact", filter, false],
      result: "{}",
      ui: [["showSearch", "contact", "", 0]],
    },
    {
      name: "renderSearchPage searches the text",
      routes: { [`GET /contacts${textSearchQuery(SETTINGS, "contact", "Jane")}`]: response(200, { value: [jane] }) },
      method: "renderSearchPage",
      args: ["contact", "Jane"],
      result: "",
      ui: [["showSearch", "contact", "Jane", 1]],
    },
    {
      name: "openForm without entityId shows the prefilled new-record form",
      routes: {},
      method: "openForm",
      args: ['{"entityName":"contact"}', '{"telephone1":"0299990000"}'],
      result: '{"savedEntityReference":[]}',
      ui: [["showNewForm", "contact", { telephone1: "0299990000" }]],
    },
    {
      name: "openForm with entityId opens that record",
      routes: {},
      method: "openForm",
      args: ['{"entityName":"account","entityId":"{A1}"}'],
      ui: [["openRecord", "account", "a1"]],
    },
    {
      name: "createRecord posts to the entity set and answers the id",
      routes: { "POST /phonecalls": response(204, undefined, { "OData-EntityId": "http://h/api/data/v9.2/phonecalls(p1)" }) },
      method: "createRecord",
      args: ["phonecall", '{"subject":"Call"}'],
      result: '{"id":"p1","entityType":"phonecall"}',
      ui: [],
    },
    {
      name: "updateRecord patches the record",
      routes: { "PATCH /phonecalls(p1)": response(204) },
      method: "updateRecord",
      args: ["phonecall", "p1", '{"statecode":1}'],
      result: '{"id":"p1","entityType":"phonecall"}',
    },
    {
      name: "retrieveRecord passes its options",
      routes: { "GET /contacts(c1)?$select=fullname": response(200, { contactid: "c1", fullname: "Jane" }) },
      method: "retrieveRecord",
      args: ["contact", "c1", "?$select=fullname"],
      result: '{"contactid":"c1","fullname":"Jane"}',
    },
    {
      name: "deleteRecord deletes",
      routes: { "DELETE /contacts(c1)": response(204) },
      method: "deleteRecord",
      args: ["contact", "c1"],
      result: '{"id":"c1","entityType":"contact"}',
    },
    {
      name: "setClickToAct turns the phone links on",
      routes: {},
      method: "setClickToAct",
      args: [true],
      result: "",
      ui: [["setClickToAct", true]],
    },
    {
      name: "setMode changes the panel and raises onmodechanged",
      routes: {},
      method: "setMode",
      args: [0],
      ui: [["setMode", 0], ["emit", "onmodechanged", { value: 0 }]],
    },
    {
      name: "setWidth answers the width the panel took and raises onsizechanged",
      routes: {},
      method: "setWidth",
      args: [900],
      ui: [["setWidth", 900], ["emit", "onsizechanged", { value: 600 }]],
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const { h, ui } = host(c.routes);
      const got = await h.handle(c.method, c.args);
      if (c.result !== undefined) assert.equal(got, c.result);
      if (c.ui) assert.deepEqual(ui.calls, c.ui);
    });
  }

  test("getEnvironment answers clientUrl, user and the open page", async () => {
    const { h } = host({});
    const env = JSON.parse(await h.handle("getEnvironment", []));
    assert.equal(env.clientUrl, "http://127.0.0.1:8080");
    assert.match(env.userId, /^\{[0-9a-f-]{36}\}$/);
    assert.equal(env.username, "Demo Agent");
    assert.deepEqual([env.pagetype, env.etn, env.id], ["entityrecord", "contact", "c1"]);
    assert.equal(env.customParams, "");
  });

  test("getClickToAct, getMode and getWidth answer JSON", async () => {
    const { h } = host({});
    await h.handle("setClickToAct", ["true"]);
    assert.equal(await h.handle("getClickToAct", []), "true");
    assert.equal(await h.handle("getMode", []), "1");
    assert.equal(await h.handle("getWidth", []), "340");
  });

  const refusals = [
    { name: "an unknown method", method: "createSession", args: [], err: /createSession is not supported/ },
    { name: "a prototype name", method: "constructor", args: [], err: /constructor is not supported/ },
    { name: "openForm without entityName", method: "openForm", args: ["{}"], err: /openForm entityFormOptions.entityName: is required/ },
    { name: "openForm with broken JSON", method: "openForm", args: ["{"], err: /openForm entityFormOptions: not valid JSON/ },
    { name: "openForm with an array of parameters", method: "openForm", args: ['{"entityName":"contact"}', "[1]"], err: /expected a JSON object/ },
    { name: "setMode 3", method: "setMode", args: [3], err: /not 0 \(minimised\), 1 \(docked\) or 2 \(hidden\)/ },
    { name: "updateRecord without id", method: "updateRecord", args: ["contact", "", "{}"], err: /updateRecord entityId: is required/ },
    { name: "a Web API error", method: "retrieveRecord", args: ["contact", "zz"], err: /no route for GET \/contacts\(zz\)/ },
  ];
  for (const c of refusals) {
    test(`refuses ${c.name}`, async () => {
      const { h } = host({});
      await assert.rejects(h.handle(c.method, c.args), c.err);
    });
  }
});

describe("page helpers", () => {
  test("pageURL is a main.aspx URL onpagenavigate carries", () =>
    assert.equal(pageURL("http://127.0.0.1:8080", { pageType: "entityrecord", entity: "contact", id: "c1" }), "http://127.0.0.1:8080/main.aspx?appid=ctibridge-demo&pagetype=entityrecord&etn=contact&id=c1"));
  const phones = [
    ["telephone1", "0299990000", true],
    ["mobilephone", "0400000000", true],
    ["phonenumber", "1", true],
    ["donotphone", false, false],
    ["telephone1", "", false],
    ["fullname", "Jane", false],
  ];
  for (const [name, value, want] of phones) test(`isPhoneField ${name}=${JSON.stringify(value)}`, () => assert.equal(isPhoneField(name, value), want));
  test("formColumns: configured first, then plain attributes, no annotations, lookups, key or system columns", () =>
    assert.deepEqual(
      formColumns(SETTINGS, "contact", { contactid: "c1", "@odata.etag": "x", fullname: "J", jobtitle: "CEO", _parentcustomerid_value: "a", "fullname@OData.Community.Display.V1.FormattedValue": "J", address: { x: 1 }, createdon: "2025", statecode: 0 }),
      ["fullname", "telephone1", "mobilephone", "donotphone", "jobtitle"],
    ));
  const labels = [["telephone1", "Business phone"], ["donotphone", "Do not allow phone calls"], ["new_wrapcode", "Wrapcode"], ["jobtitle", "Job title"]];
  for (const [col, want] of labels) test(`columnLabel ${col}`, () => assert.equal(columnLabel(col), want));
  const entityLabels = [
    ["account", "telephone1", "Main phone"],
    ["account", "telephone2", "Other phone"],
    ["lead", "companyname", "Company name"],
    ["contact", "telephone2", "Home phone"],
  ];
  for (const [entity, col, want] of entityLabels) test(`columnLabel ${col} of ${entity}`, () => assert.equal(columnLabel(col, entity), want));
  test("newRecordForm offers a contact first and last name, not the full name Dataverse computes", () => {
    const form = newRecordForm(SETTINGS, "contact", { telephone1: "(02) 9999 1234" });
    assert.ok(!form.columns.includes("fullname"), `columns ${form.columns}`);
    assert.deepEqual(form.columns.slice(0, 2), ["firstname", "lastname"]);
    assert.deepEqual(form.values, { telephone1: "(02) 9999 1234" });
  });
  test("newRecordForm splits a prefilled full name", () => {
    assert.deepEqual(newRecordForm(SETTINGS, "contact", { fullname: "Zara  van Newcomer" }).values, { firstname: "Zara  van", lastname: "Newcomer" });
    assert.deepEqual(newRecordForm(SETTINGS, "contact", { fullname: "Cher" }).values, { lastname: "Cher" });
  });
  test("newRecordForm keeps an account's name", () => {
    const form = newRecordForm(SETTINGS, "account", {});
    assert.equal(form.columns[0], "name");
  });
  test("recordFromForm leaves out empty text on create, nulls it on update", () => {
    assert.deepEqual(recordFromForm({ fullname: "J", telephone1: "", donotphone: false }), { fullname: "J", donotphone: false });
    assert.deepEqual(recordFromForm({ fullname: "J", telephone1: "" }, { update: true }), { fullname: "J", telephone1: null });
  });
});

describe("normalizeScenarios", () => {
  test("simulator names get labels and the page's call type; objects may fix theirs", () =>
    assert.deepEqual(
      normalizeScenarios([
        "single",
        "several",
        "none",
        "vip-customer",
        { id: "preview-lead", label: "Preview a lead", callType: "Preview" },
        { name: "odd", callType: "fax" },
        {},
      ]),
      [
        { id: "single", label: "One contact matches", callType: "" },
        { id: "several", label: "Several contacts match", callType: "" },
        { id: "none", label: "No match", callType: "" },
        { id: "vip-customer", label: "Vip customer", callType: "" },
        { id: "preview-lead", label: "Preview a lead", callType: "preview" },
      ],
    ));
});

describe("activityRows", () => {
  const calls = [
    { activityid: "p1", subject: "Inbound call", phonenumber: "0299990000", statecode: 1, new_wrapcode: "SALE", new_agentinteractionid: "IX-1", _regardingobjectid_value: "C1", "_regardingobjectid_value@OData.Community.Display.V1.FormattedValue": "Jane Citizen", createdon: "2025-01-01T10:00:00Z" },
    { activityid: "p2", subject: "Outbound call", phonenumber: "0400000000", statecode: 0, new_agentinteractionid: "IX-2", _regardingobjectid_value: "a1", "_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "account", createdon: "2025-01-01T12:00:00Z" },
  ];
  const tasks = [{ activityid: "t1", subject: "Preview lead", statecode: 2, createdon: "2025-01-01T11:00:00Z" }];

  test("newest first, with state, wrap code and regarding", () => {
    const rows = activityRows(calls, tasks, { names: new Map([["account:a1", "Contoso"]]) });
    assert.deepEqual(rows.map((r) => [r.kind, r.id, r.state, r.wrapCode, r.regarding, r.interactionId]), [
      ["phonecall", "p2", "open", "", "Contoso", "IX-2"],
      ["task", "t1", "canceled", "", "", ""],
      ["phonecall", "p1", "completed", "SALE", "Jane Citizen", "IX-1"],
    ]);
  });
  test("an unresolved regarding shows entity and short id", () => {
    const rows = activityRows([calls[1]], [], {});
    assert.equal(rows[0].regarding, "account a1…");
    assert.deepEqual(rows[0].regardingRef, { entity: "account", id: "a1" });
  });
  test("configured field names are read", () => {
    const rows = activityRows([{ activityid: "p", statecode: 1, x_wrap: "W", x_ix: "I" }], [], { fields: { callDispositionField: "x_wrap", agentInteractionId: "x_ix" } });
    assert.deepEqual([rows[0].wrapCode, rows[0].interactionId], ["W", "I"]);
  });
  test("the limit applies", () => assert.equal(activityRows(calls, tasks, { limit: 2 }).length, 2));
  test("queries select the configured columns", () => {
    const q = activityQueries({});
    assert.equal(q.phonecalls, "/phonecalls?$select=subject,phonenumber,statecode,statuscode,new_wrapcode,new_agentinteractionid,_regardingobjectid_value,createdon&$orderby=createdon desc&$top=20");
    assert.match(q.tasks, /^\/tasks\?\$select=subject,statecode,statuscode,new_agentinteractionid,_regardingobjectid_value,createdon&/);
  });
});

describe("protocol", () => {
  test("the host and the library speak the same protocol name", async () => {
    const { readFileSync } = await import("node:fs");
    const lib = readFileSync(new URL("../cif/msdyn_ciLibrary.js", import.meta.url), "utf8");
    const { PROTOCOL } = await import("./host.mjs");
    assert.ok(lib.includes(`var PROTOCOL = "${PROTOCOL}";`));
  });
});

describe("callPanel", () => {
  const preview = { interactionId: "IX-7", callType: "preview", phase: "previewing", number: "+61299990000", leadName: "Olivia Bennett" };
  const labels = new Map([["IX-7", "preview, Preview: known contact"]]);
  const idle = { interactionId: "", phase: "", text: "No simulated call", lastText: "", canHangUp: false };
  const cases = [
    { name: "no call yet", view: { call: null, last: null }, want: idle },
    { name: "an unreadable answer is no call", view: null, want: idle },
    {
      name: "a preview shows its lead and number and cannot be hung up", view: { call: preview, last: null },
      want: { interactionId: "IX-7", phase: "previewing", text: "IX-7 · preview, Preview: known contact · Olivia Bennett · +61299990000 · Preview, not dialled", lastText: "", canHangUp: false },
    },
    {
      name: "a skipped preview leaves the panel and is reported skipped",
      view: { call: null, last: { ...preview, phase: "skipped", wrapCode: "5" } },
      want: { ...idle, lastText: "Preview IX-7 to Olivia Bennett skipped (wrap code 5)." },
    },
    {
      name: "a connected call placed elsewhere is named by its call type and can be hung up",
      view: { call: { interactionId: "IX-9", callType: "manual", phase: "connected", number: "0299990020" }, last: { ...preview, phase: "skipped", wrapCode: "5" } },
      want: { interactionId: "IX-9", phase: "connected", text: "IX-9 · Manual · 0299990020 · Connected", lastText: "Preview IX-7 to Olivia Bennett skipped (wrap code 5).", canHangUp: true },
    },
    {
      name: "a hung-up call waits for its wrap and cannot be hung up again",
      view: { call: { interactionId: "IX-9", callType: "inbound", phase: "wrapping", number: "0299990000" }, last: null },
      want: { interactionId: "IX-9", phase: "wrapping", text: "IX-9 · Inbound · 0299990000 · Wrapping up", lastText: "", canHangUp: false },
    },
    {
      name: "a wrapped call leaves the panel",
      view: { call: null, last: { interactionId: "IX-9", callType: "inbound", phase: "wrapped", number: "0299990000", wrapCode: "1" } },
      want: { ...idle, lastText: "Call IX-9 wrapped (wrap code 1)." },
    },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(callPanel(c.view, labels), c.want));
});

describe("dueText", () => {
  const cases = [
    { name: "talk time", call: { phase: "connected", dueInMs: 42001 }, want: "customer hangs up in 0:43" },
    { name: "wrap time", call: { phase: "wrapping", dueInMs: 180000 }, want: "auto-wrap in 3:00" },
    { name: "waits for the agent", call: { phase: "connected" }, want: "" },
    { name: "no call", call: null, want: "" },
  ];
  for (const c of cases) test(c.name, () => assert.equal(dueText(c.call), c.want));
});

describe("CIF 2.0 on the host", () => {
  test("the 2.0 APIs answer only when the host has them", async () => {
    const { h } = host({});
    await assert.rejects(h.handle("getPresence", []), /not supported/);
    const { createCIF2Host } = await import("./cif2host.mjs");
    const ui = recordingUI();
    const cif2 = createCIF2Host({ ui: { ...ui, notify: () => new Promise(() => {}), cancelNotification: () => {}, sessionsChanged: () => {} } });
    const h2 = createCIFHost({ api: new WebAPI(recordingFetch({})), settings: SETTINGS, ui, origin: "http://127.0.0.1:8080", cif2 });
    assert.equal(await h2.handle("getPresence", []), "Available");
    assert.match(await h2.handle("createSession", [{ templateName: "t", templateParameters: {} }]), /^session-/);
  });
});
