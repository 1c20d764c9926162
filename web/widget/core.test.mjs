// Tests of core.mjs with node's built-in runner: node --test web/widget
//
// recordingCIF is a test double of Microsoft.CIFramework: it records every
// call with its arguments, answers searches from an in-memory table the way
// Dynamics does (a JSON string keyed by row number), and keeps the records
// createRecord makes so a repeated upsert can find them.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  Outcome, MAX_MATCHES, EntityType,
  parseRecords, parseJSONResult, primaryKeyOf, nameColumn, recordsToMatches, prefillOf,
  executePop, describePop, odataLiteral, normalizeWrite, runWrite, runWrites,
  RelationChoices, parsePageURL, dialFromClickToAct, backoffDelay, formatDuration,
  socketURLs, socketProtocols, apiURL, readSettings, loginError, callEnded, stateToggle, WidgetSession, waitForCIF, cifErrorMessage, cifSearchPageShows, CALL_STATE_LABELS, previewDialMessage,
} from "./core.mjs";

const ENTITIES = [
  { name: "contact", plural: "contacts", key: "contactid", columns: ["fullname", "telephone1", "mobilephone", "donotphone"], type: "person" },
  { name: "account", plural: "accounts", key: "accountid", columns: ["name", "telephone1", "donotphone"], type: "entity" },
  { name: "lead", plural: "leads", key: "leadid", columns: ["fullname", "telephone1", "donotphone"], type: "person" },
];

// Reads "col eq 'literal'" filters (the only kind runWrite and these tests
// send) the way the Web API would: percent-decoded, '' is one quote.
function filterOf(query) {
  const m = /\$filter=([a-z_0-9]+) eq '((?:[^']|'')*)'/i.exec(query || "");
  if (!m) return null;
  return { column: m[1], value: decodeURIComponent(m[2]).replace(/''/g, "'") };
}

function recordingCIF({ tables = {}, fail = {} } = {}) {
  const calls = [];
  const store = {};
  for (const [entity, rows] of Object.entries(tables)) store[entity] = rows.map((r) => ({ ...r }));
  let nextId = 1;
  const answer = (method, value) => {
    if (fail[method]) return Promise.reject(new Error(fail[method]));
    return Promise.resolve(value);
  };
  const rows = (entity, query) => {
    const f = filterOf(query);
    const all = store[entity] || [];
    return f ? all.filter((r) => String(r[f.column]) === f.value) : all;
  };
  const keyed = (list) => JSON.stringify(Object.fromEntries(list.map((r, i) => [String(i), r])));
  return {
    calls,
    store,
    searchAndOpenRecords(entity, query, searchOnly) {
      calls.push({ method: "searchAndOpenRecords", args: [entity, query, searchOnly] });
      return answer("searchAndOpenRecords", keyed(rows(entity, query)));
    },
    renderSearchPage(entity, text) {
      calls.push({ method: "renderSearchPage", args: [entity, text] });
      return answer("renderSearchPage", "");
    },
    openForm(options, params) {
      calls.push({ method: "openForm", args: [options, params] });
      return answer("openForm", JSON.stringify({ savedEntityReference: [] }));
    },
    createRecord(entity, data) {
      calls.push({ method: "createRecord", args: [entity, data] });
      if (fail.createRecord) return Promise.reject(new Error(fail.createRecord));
      // Like the Web API, a create that sets the primary key keeps that id.
      const body = JSON.parse(data);
      const pk = primaryKeyOf(entity, ENTITIES);
      const id = body[pk] || `00000000-0000-0000-0000-${String(nextId++).padStart(12, "0")}`;
      if ((store[entity] || []).some((r) => r[pk] === id)) {
        return Promise.reject(new Error("A record with matching key values already exists."));
      }
      const rec = { ...body, [pk]: id };
      (store[entity] ||= []).push(rec);
      return Promise.resolve(JSON.stringify({ id }));
    },
    retrieveRecord(entity, id, query) {
      calls.push({ method: "retrieveRecord", args: [entity, id, query] });
      const pk = primaryKeyOf(entity, ENTITIES);
      const rec = (store[entity] || []).find((r) => r[pk] === id);
      if (!rec) return Promise.reject(new Error(`no ${entity} ${id}`));
      return answer("retrieveRecord", JSON.stringify(rec));
    },
    updateRecord(entity, id, data) {
      calls.push({ method: "updateRecord", args: [entity, id, data] });
      if (fail.updateRecord) return Promise.reject(new Error(fail.updateRecord));
      const pk = primaryKeyOf(entity, ENTITIES);
      const rec = (store[entity] || []).find((r) => r[pk] === id);
      if (!rec) return Promise.reject(new Error(`no ${entity} ${id}`));
      Object.assign(rec, JSON.parse(data));
      return Promise.resolve(JSON.stringify({ id, entityType: entity }));
    },
  };
}

const jane = { contactid: "c1", fullname: "Jane Citizen", telephone1: "0299990000" };
const john = { contactid: "c2", fullname: "John Citizen", telephone1: "0299990000" };
const joan = { contactid: "c3", fullname: "Joan Citizen", telephone1: "0299990000" };

const decision = (over = {}) => ({
  rule: "screenPop.default",
  callType: "inbound",
  entity: "contact",
  entitySet: "contacts",
  query: "?$select=fullname,telephone1&$filter=telephone1 eq '0299990000'&$search=0299990000",
  lookupQuery: "?$select=fullname,telephone1&$filter=telephone1 eq '0299990000'",
  searchText: "0299990000",
  values: [{ name: "telephone1", value: "0299990000" }, { name: "mobilephone", value: "" }],
  addNewRecord: true,
  ...over,
});

function clock(...times) {
  let i = 0;
  return () => times[Math.min(i++, times.length - 1)];
}

describe("parseRecords", () => {
  const cases = [
    { name: "Dynamics' object keyed by row number, in row order", in: '{"1":{"a":2},"0":{"a":1},"10":{"a":3}}', want: [{ a: 1 }, { a: 2 }, { a: 3 }] },
    { name: "an array", in: '[{"a":1}]', want: [{ a: 1 }] },
    { name: "a Web API collection", in: '{"@odata.context":"x","value":[{"a":1}]}', want: [{ a: 1 }] },
    { name: "no records", in: "{}", want: [] },
    { name: "an empty string", in: "", want: [] },
    { name: "an already parsed object", in: { 0: { a: 1 } }, want: [{ a: 1 }] },
    { name: "JSON null", in: "null", want: [] },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(parseRecords(c.in), c.want));
  test("a JSON number is refused", () => assert.throws(() => parseRecords("42"), /expected a JSON object/));
});

describe("parseJSONResult", () => {
  test("names the call when CIF answers something that is not JSON", () =>
    assert.throws(() => parseJSONResult("<html>", "createRecord"), /createRecord: CIF answered something that is not JSON/));
  test("empty is an empty object", () => assert.deepEqual(parseJSONResult("", "x"), {}));
});

describe("entity helpers", () => {
  const cases = [
    { name: "key from config", fn: () => primaryKeyOf("contact", ENTITIES), want: "contactid" },
    { name: "activity tables use activityid", fn: () => primaryKeyOf("phonecall", ENTITIES), want: "activityid" },
    { name: "other tables use <name>id", fn: () => primaryKeyOf("incident", ENTITIES), want: "incidentid" },
    { name: "name column fullname for contacts", fn: () => nameColumn("contact", ENTITIES), want: "fullname" },
    { name: "name column name for accounts", fn: () => nameColumn("account", ENTITIES), want: "name" },
    { name: "unlisted contact-like entity", fn: () => nameColumn("systemuser", ENTITIES), want: "fullname" },
    { name: "unlisted other entity", fn: () => nameColumn("incident", ENTITIES), want: "name" },
    { name: "first column when none is a name", fn: () => nameColumn("x", [{ name: "x", columns: ["code", "phone"] }]), want: "code" },
  ];
  for (const c of cases) test(c.name, () => assert.equal(c.fn(), c.want));

  test("matches take id from the key and name from the name column, skipping rows without id", () => {
    assert.deepEqual(recordsToMatches("contact", [jane, { fullname: "no id" }, { contactid: "c9" }], ENTITIES), [
      { entity: "contact", id: "c1", name: "Jane Citizen" },
      { entity: "contact", id: "c9", name: "c9" },
    ]);
  });
  test("prefill keeps only values that are set", () => {
    assert.deepEqual(prefillOf(decision()), { telephone1: "0299990000" });
    assert.deepEqual(prefillOf({ values: null }), {});
  });
});

describe("executePop", () => {
  const lookup = decision().lookupQuery;
  const query = decision().query;
  const cases = [
    {
      name: "one match: counts with the lookup query, then opens the record with it (no $search)",
      tables: { contact: [jane] },
      decision: decision(),
      calls: [["searchAndOpenRecords", "contact", lookup, true], ["searchAndOpenRecords", "contact", lookup, false]],
      outcome: Outcome.RECORD,
      matches: [{ entity: "contact", id: "c1", name: "Jane Citizen" }],
      total: 1,
    },
    {
      name: "several matches: the search page opens with the decoded search text, not the encoded $search",
      decision: decision({
        query: "?$select=fullname,telephone1&$filter=telephone1 eq '%2B61299990000'&$search=%2B61299990000",
        lookupQuery: "?$select=fullname,telephone1&$filter=telephone1 eq '%2B61299990000'",
        searchText: "+61299990000",
      }),
      tables: { contact: [{ ...jane, telephone1: "+61299990000" }, { ...john, telephone1: "+61299990000" }, { ...joan, telephone1: "+61299990000" }] },
      calls: [
        ["searchAndOpenRecords", "contact", "?$select=fullname,telephone1&$filter=telephone1 eq '%2B61299990000'", true],
        ["renderSearchPage", "contact", "+61299990000"],
      ],
      outcome: Outcome.SEARCH,
      matches: [
        { entity: "contact", id: "c1", name: "Jane Citizen" },
        { entity: "contact", id: "c2", name: "John Citizen" },
        { entity: "contact", id: "c3", name: "Joan Citizen" },
      ],
      total: 3,
    },
    {
      name: "several contacts without $search in the rule: the lookup query opens CIF's search page",
      tables: { contact: [jane, john] },
      decision: decision({ query: lookup, searchText: "" }),
      calls: [["searchAndOpenRecords", "contact", lookup, true], ["searchAndOpenRecords", "contact", lookup, false]],
      outcome: Outcome.SEARCH,
      total: 2,
    },
    {
      name: "several leads without $search: CIF's search page would not list them, the widget's picker does",
      tables: { lead: [{ leadid: "l1", fullname: "Lee One", telephone1: "0299990000" }, { leadid: "l2", fullname: "Lee Two", telephone1: "0299990000" }] },
      decision: decision({ entity: "lead", query: lookup, searchText: "" }),
      calls: [["searchAndOpenRecords", "lead", lookup, true]],
      outcome: Outcome.SEARCH,
      matches: [
        { entity: "lead", id: "l1", name: "Lee One" },
        { entity: "lead", id: "l2", name: "Lee Two" },
      ],
      total: 2,
      picker: true,
    },
    {
      name: "several leads with search text: the search page opens and the picker lists them too",
      tables: { lead: [{ leadid: "l1", fullname: "Lee One", telephone1: "0299990000" }, { leadid: "l2", fullname: "Lee Two", telephone1: "0299990000" }] },
      decision: decision({ entity: "lead" }),
      calls: [["searchAndOpenRecords", "lead", lookup, true], ["renderSearchPage", "lead", "0299990000"]],
      outcome: Outcome.SEARCH,
      total: 2,
      picker: true,
    },
    {
      name: "no match with addNewRecord: opens the new-record form prefilled with the set values",
      tables: {},
      decision: decision(),
      calls: [["searchAndOpenRecords", "contact", lookup, true], ["openForm", '{"entityName":"contact"}', '{"telephone1":"0299990000"}']],
      outcome: Outcome.NEW,
      matches: [],
      total: 0,
    },
    {
      name: "no match without addNewRecord: renders the search page with the search text",
      tables: {},
      decision: decision({ addNewRecord: false }),
      calls: [["searchAndOpenRecords", "contact", lookup, true], ["renderSearchPage", "contact", "0299990000"]],
      outcome: Outcome.SEARCH,
      matches: [],
      total: 0,
    },
    {
      name: "skip with addNewRecord: nothing is searched, the empty new-record form opens",
      tables: { contact: [jane] },
      decision: decision({ skip: true, values: [{ name: "telephone1", value: "" }] }),
      calls: [["openForm", '{"entityName":"contact"}', "{}"]],
      outcome: Outcome.NEW,
      matches: [],
    },
    {
      name: "skip without addNewRecord: no CIF call at all",
      tables: { contact: [jane] },
      decision: decision({ skip: true, addNewRecord: false }),
      calls: [],
      outcome: Outcome.NONE,
      matches: [],
    },
    {
      name: "a query that is only $search: nothing to count with, the search page opens",
      tables: { contact: [jane] },
      decision: decision({ query: "?$search=0299990000", lookupQuery: "" }),
      calls: [["renderSearchPage", "contact", "0299990000"]],
      outcome: Outcome.SEARCH,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const cif = recordingCIF({ tables: c.tables });
      const r = await executePop(cif, c.decision, { entities: ENTITIES, now: clock(1000, 1042) });
      assert.deepEqual(cif.calls.map((x) => [x.method, ...x.args]), c.calls);
      assert.equal(r.outcome, c.outcome);
      if (c.matches) assert.deepEqual(r.matches, c.matches);
      if (c.total !== undefined) assert.equal(r.total, c.total);
      assert.equal(r.picker === true, !!c.picker, "picker");
      assert.equal(r.ms, 42);
      assert.equal(r.error, undefined);
    });
  }

  test("every argument CIF gets is a string or the searchOnly boolean", async () => {
    const cif = recordingCIF({});
    await executePop(cif, decision(), { entities: ENTITIES });
    for (const call of cif.calls) {
      for (const [i, a] of call.args.entries()) {
        const ok = typeof a === "string" || (call.method === "searchAndOpenRecords" && i === 2 && typeof a === "boolean");
        assert.ok(ok, `${call.method} arg ${i} is ${typeof a}`);
      }
    }
  });

  test("a CIF failure is reported as outcome none with the entity and CIF's message", async () => {
    const cif = recordingCIF({ fail: { searchAndOpenRecords: "Request timed out" } });
    const r = await executePop(cif, decision(), { entities: ENTITIES, now: clock(0, 5) });
    assert.equal(r.outcome, Outcome.NONE);
    assert.equal(r.error, "pop contact: Request timed out");
    assert.equal(r.ms, 5);
  });

  test("a failing openForm after a search is reported, not thrown", async () => {
    const cif = recordingCIF({ fail: { openForm: "invalid form parameter mobilephone" } });
    const r = await executePop(cif, decision(), { entities: ENTITIES });
    assert.equal(r.outcome, Outcome.NONE);
    assert.match(r.error, /invalid form parameter mobilephone/);
  });

  test("a decision without entity is refused without calling CIF", async () => {
    const cif = recordingCIF({});
    const r = await executePop(cif, { skip: false }, {});
    assert.equal(cif.calls.length, 0);
    assert.match(r.error, /names no entity/);
  });

  test(`matches are capped at ${MAX_MATCHES} and total tells the real count`, async () => {
    const many = Array.from({ length: MAX_MATCHES + 7 }, (_, i) => ({ contactid: `id${i}`, fullname: `P${i}`, telephone1: "0299990000" }));
    const cif = recordingCIF({ tables: { contact: many } });
    const r = await executePop(cif, decision(), { entities: ENTITIES });
    assert.equal(r.matches.length, MAX_MATCHES);
    assert.equal(r.total, MAX_MATCHES + 7);
  });
});

describe("describePop", () => {
  const cases = [
    { name: "record", r: { outcome: "record", matches: [{ name: "Jane Citizen" }], ms: 12 }, d: decision(), want: "Opened Jane Citizen (12 ms)" },
    { name: "several", r: { outcome: "search", matches: [], total: 3, ms: 9 }, d: decision(), want: "3 contact matches: search page opened (9 ms)" },
    { name: "none, search page", r: { outcome: "search", matches: [], total: 0, ms: 9 }, d: decision(), want: "No contact match: search page opened (9 ms)" },
    { name: "new", r: { outcome: "new", matches: [], ms: 3 }, d: decision(), want: "No contact match: new contact form opened (3 ms)" },
    { name: "skip new", r: { outcome: "new", matches: [], ms: 3 }, d: decision({ skip: true }), want: "No number to search: new contact form opened (3 ms)" },
    { name: "skip none", r: { outcome: "none", matches: [], ms: 0 }, d: decision({ skip: true }), want: "No number to search: nothing popped" },
    { name: "error", r: { outcome: "none", matches: [], ms: 0, error: "pop contact: boom" }, d: decision(), want: "Screen pop failed: pop contact: boom" },
  ];
  for (const c of cases) test(c.name, () => assert.equal(describePop(c.r, c.d), c.want));
});

describe("odataLiteral", () => {
  const cases = [
    { name: "quote doubled", in: "O'Bryan", want: "O''Bryan" },
    { name: "ampersand and spaces encoded", in: "A & B", want: "A%20%26%20B" },
    { name: "plus encoded", in: "+61299990000", want: "%2B61299990000" },
    { name: "dollar and hash encoded", in: "$search#x", want: "%24search%23x" },
    { name: "a value trying to close the literal stays inside it", in: "x' or 1 eq 1 or 'a", want: "x''%20or%201%20eq%201%20or%20''a" },
  ];
  for (const c of cases) test(c.name, () => assert.equal(odataLiteral(c.in), c.want));
});

describe("normalizeWrite", () => {
  const base = { op: "upsert", entity: "phonecall", entitySet: "phonecalls", keyColumn: "new_agentinteractionid", keyValue: "IX-1", body: {}, idempotencyKey: "IX-1/create-activity", step: "create-activity" };
  const cases = [
    { name: "no idempotency key", w: { ...base, idempotencyKey: "" }, err: /writes\[0\]\.idempotencyKey: is required/ },
    { name: "no entity", w: { ...base, entity: "" }, err: /writes\[0\]\.entity: is required/ },
    { name: "unknown op", w: { ...base, op: "merge" }, err: /writes\[0\]\.op: "merge" is not create, update or upsert/ },
    { name: "upsert without key", w: { ...base, keyColumn: "", keyValue: "" }, err: /writes\[0\]\.keyColumn: an upsert needs the alternate key/ },
    { name: "update without any target", w: { ...base, op: "update", keyColumn: "" }, err: /writes\[0\]: an update needs keyColumn or recordId/ },
    { name: "empty key value", w: { ...base, keyValue: "" }, err: /keyValue: is empty while keyColumn is new_agentinteractionid/ },
    { name: "body not an object", w: { ...base, body: [1] }, err: /writes\[0\]\.body: expected an object of columns/ },
  ];
  for (const c of cases) test(c.name, () => assert.throws(() => normalizeWrite(c.w, 0), c.err));
  test("reads activity.Write's fields", () => {
    assert.deepEqual(normalizeWrite({ ...base, recordId: "r1", body: { subject: "s" } }), {
      op: "upsert", entity: "phonecall", recordId: "r1",
      key: { column: "new_agentinteractionid", value: "IX-1" }, body: { subject: "s" }, idempotencyKey: "IX-1/create-activity",
    });
  });
});

describe("runWrite", () => {
  // An internal/activity.Write as the server sends it.
  const upsert = {
    op: "upsert",
    entitySet: "phonecalls",
    entity: "phonecall",
    keyColumn: "new_agentinteractionid",
    keyValue: "IX-1",
    body: { subject: "Inbound call from 0299990000", phonenumber: "0299990000", directioncode: false },
    idempotencyKey: "IX-1/create-activity",
    step: "create-activity",
  };
  const opts = { entities: ENTITIES };

  test("upsert with no existing record searches by the key, then creates with the key set", async () => {
    const cif = recordingCIF({});
    const r = await runWrite(cif, upsert, opts);
    assert.deepEqual(cif.calls.map((c) => [c.method, ...c.args]), [
      ["searchAndOpenRecords", "phonecall", "?$select=activityid&$filter=new_agentinteractionid eq 'IX-1'", true],
      ["createRecord", "phonecall", JSON.stringify({ ...upsert.body, new_agentinteractionid: "IX-1" })],
    ]);
    assert.deepEqual(r, { type: "writeResult", idempotencyKey: "IX-1/create-activity", id: "00000000-0000-0000-0000-000000000001" });
  });

  test("running the same upsert again updates the record it made: still one record", async () => {
    const cif = recordingCIF({});
    const first = await runWrite(cif, upsert, opts);
    const again = await runWrite(cif, { ...upsert, body: { ...upsert.body, description: "retried" } }, opts);
    assert.equal(again.id, first.id);
    assert.equal(cif.store.phonecall.length, 1);
    assert.equal(cif.store.phonecall[0].description, "retried");
    assert.deepEqual(cif.calls.map((c) => c.method), ["searchAndOpenRecords", "createRecord", "searchAndOpenRecords", "updateRecord"]);
  });

  test("the key value is escaped inside the filter", async () => {
    const cif = recordingCIF({});
    await runWrite(cif, { ...upsert, keyValue: "O'B&1" }, opts);
    assert.equal(cif.calls[0].args[1], "?$select=activityid&$filter=new_agentinteractionid eq 'O''B%261'");
    assert.equal(cif.store.phonecall[0].new_agentinteractionid, "O'B&1");
  });

  test("create posts the body as a JSON string and answers the new id", async () => {
    const cif = recordingCIF({});
    const r = await runWrite(cif, { op: "create", entity: "task", entitySet: "tasks", body: { subject: "Call back" }, idempotencyKey: "IX-2/preview-task" }, opts);
    assert.deepEqual(cif.calls.map((c) => [c.method, ...c.args]), [["createRecord", "task", '{"subject":"Call back"}']]);
    assert.equal(r.id, "00000000-0000-0000-0000-000000000001");
  });

  test("update by recordId patches that record without searching", async () => {
    const cif = recordingCIF({ tables: { phonecall: [{ activityid: "a1", subject: "x" }] } });
    const r = await runWrite(cif, { op: "update", entity: "phonecall", recordId: "a1", keyColumn: "new_agentinteractionid", keyValue: "IX-1", body: { statecode: 1, statuscode: 4 }, idempotencyKey: "IX-1/wrap" }, opts);
    assert.deepEqual(cif.calls.map((c) => [c.method, ...c.args]), [["updateRecord", "phonecall", "a1", '{"statecode":1,"statuscode":4}']]);
    assert.deepEqual(r, { type: "writeResult", idempotencyKey: "IX-1/wrap", id: "a1" });
  });

  test("update by key finds the record first", async () => {
    const cif = recordingCIF({ tables: { phonecall: [{ activityid: "a7", new_agentinteractionid: "IX-7" }] } });
    const r = await runWrite(cif, { op: "update", entity: "phonecall", keyColumn: "new_agentinteractionid", keyValue: "IX-7", body: { new_wrapcode: "SALE" }, idempotencyKey: "IX-7/wrap" }, opts);
    assert.equal(r.id, "a7");
    assert.equal(cif.store.phonecall[0].new_wrapcode, "SALE");
  });

  test("a create carrying the server's derived id, then an update by that recordId, change one record", async () => {
    // Without an alternate key the server derives the record id and sends it
    // in the create's body and as the later update's recordId.
    const cif = recordingCIF({});
    const derived = "6f1c2b7e-0a4d-4c61-9b7f-3e2a1d0c9b8a";
    const create = { op: "create", entity: "phonecall", recordId: derived, body: { subject: "s", activityid: derived }, idempotencyKey: "IX-3/create-activity" };
    const wrap = { op: "update", entity: "phonecall", recordId: derived, body: { statecode: 1 }, idempotencyKey: "IX-3/wrap" };
    const [c, u] = await runWrites(cif, [create, wrap], opts);
    assert.deepEqual([c.id, u.id], [derived, derived]);
    assert.equal(cif.store.phonecall.length, 1);
    assert.equal(cif.store.phonecall[0].statecode, 1);
    assert.deepEqual(cif.calls.map((x) => x.method), ["createRecord", "updateRecord"]);
  });

  test("a create with the derived id run again, after its answer was lost, is done, not an error", async () => {
    const derived = "6f1c2b7e-0a4d-4c61-9b7f-3e2a1d0c9b8a";
    const cif = recordingCIF({ tables: { phonecall: [{ activityid: derived, subject: "s" }] } });
    const create = { op: "create", entity: "phonecall", recordId: derived, body: { subject: "s", activityid: derived }, idempotencyKey: "IX-3/create-activity" };
    const r = await runWrite(cif, create, opts);
    assert.deepEqual(r, { type: "writeResult", idempotencyKey: "IX-3/create-activity", id: derived });
    assert.equal(cif.store.phonecall.length, 1);
  });

  test("a refused create whose derived id names no record stays an error", async () => {
    const cif = recordingCIF({ fail: { createRecord: "Principal user is missing prvCreateActivity privilege" } });
    const derived = "6f1c2b7e-0a4d-4c61-9b7f-3e2a1d0c9b8a";
    const r = await runWrite(cif, { op: "create", entity: "phonecall", recordId: derived, body: { activityid: derived }, idempotencyKey: "IX-4/create-activity" }, opts);
    assert.match(r.error, /^create phonecall: Principal user is missing prvCreateActivity privilege$/);
  });

  test("update by key with no such record is an error naming the key", async () => {
    const cif = recordingCIF({});
    const r = await runWrite(cif, { op: "update", entity: "phonecall", keyColumn: "new_agentinteractionid", keyValue: "IX-8", body: {}, idempotencyKey: "IX-8/wrap" }, opts);
    assert.deepEqual(r, { type: "writeResult", idempotencyKey: "IX-8/wrap", error: "update phonecall: no record has new_agentinteractionid = IX-8" });
  });

  test("a CIF failure becomes the writeResult's error", async () => {
    const cif = recordingCIF({ fail: { createRecord: "Principal user is missing prvCreateActivity privilege" } });
    const r = await runWrite(cif, upsert, opts);
    assert.equal(r.idempotencyKey, "IX-1/create-activity");
    assert.equal(r.id, undefined);
    assert.match(r.error, /^upsert phonecall: Principal user is missing prvCreateActivity privilege$/);
  });

  test("a malformed write is answered with the field to fix, without calling CIF", async () => {
    const cif = recordingCIF({});
    const r = await runWrite(cif, { idempotencyKey: "bad", op: "create" }, { ...opts, index: 3 });
    assert.deepEqual(r, { type: "writeResult", idempotencyKey: "bad", error: "writes[3].entity: is required (the table's logical name, which CIF takes)" });
    assert.equal(cif.calls.length, 0);
  });

  test("runWrites runs in order and answers each", async () => {
    const cif = recordingCIF({});
    const rs = await runWrites(cif, [upsert, { ...upsert, op: "update", idempotencyKey: "IX-1/wrap", body: { statecode: 1, statuscode: 4 } }], opts);
    assert.deepEqual(rs.map((r) => [r.idempotencyKey, r.id]), [
      ["IX-1/create-activity", "00000000-0000-0000-0000-000000000001"],
      ["IX-1/wrap", "00000000-0000-0000-0000-000000000001"],
    ]);
    assert.equal(cif.store.phonecall[0].statecode, 1);
  });
});

describe("RelationChoices", () => {
  test("records go to the box of their entity type; unlisted entities are ignored", () => {
    const rc = new RelationChoices(ENTITIES);
    rc.reset("IX-1");
    assert.equal(rc.add({ entity: "contact", id: "c1", name: "Jane" }), true);
    assert.equal(rc.add({ entity: "account", id: "a1", name: "Contoso" }), true);
    assert.equal(rc.add({ entity: "incident", id: "i1", name: "Case" }), false);
    assert.deepEqual(rc.options(EntityType.PERSON).map((o) => o.value), ["contact:c1"]);
    assert.deepEqual(rc.options(EntityType.ORGANISATION).map((o) => o.value), ["account:a1"]);
  });

  test("a record is listed once; a later name replaces the first", () => {
    const rc = new RelationChoices(ENTITIES);
    rc.add({ entity: "contact", id: "c1", name: "c1" });
    assert.equal(rc.add({ entity: "contact", id: "c1", name: "Jane" }, "navigate"), false);
    assert.deepEqual(rc.options("person").map((o) => o.label), ["Jane"]);
  });

  test("a single pop match is chosen, several are not", () => {
    const one = new RelationChoices(ENTITIES);
    one.addPopMatches([{ entity: "contact", id: "c1", name: "Jane" }]);
    assert.deepEqual(one.selected("person"), { entity: "contact", id: "c1" });
    const many = new RelationChoices(ENTITIES);
    many.addPopMatches([{ entity: "contact", id: "c1", name: "Jane" }, { entity: "contact", id: "c2", name: "John" }]);
    assert.equal(many.selected("person"), null);
    assert.equal(many.options("person").length, 2);
  });

  test("labels name the entity when a box holds several entities", () => {
    const rc = new RelationChoices(ENTITIES);
    rc.add({ entity: "contact", id: "c1", name: "Jane" });
    rc.add({ entity: "lead", id: "l1", name: "Jane" });
    assert.deepEqual(rc.options("person").map((o) => o.label), ["Jane (contact)", "Jane (lead)"]);
  });

  test("relate carries both boxes' choices; none is null", () => {
    const rc = new RelationChoices(ENTITIES);
    rc.reset("IX-9");
    rc.add({ entity: "contact", id: "c1", name: "Jane" });
    rc.add({ entity: "account", id: "a1", name: "Contoso" });
    assert.equal(rc.select(EntityType.ORGANISATION, "account:a1"), true);
    assert.equal(rc.select(EntityType.ORGANISATION, "account:a1"), false);
    assert.deepEqual(rc.relateMessage(), { type: "relate", interactionId: "IX-9", person: null, organisation: { entity: "account", id: "a1" } });
    rc.select(EntityType.ORGANISATION, "");
    assert.equal(rc.relateMessage().organisation, null);
  });

  test("choosing something not offered, or in the wrong box, is refused", () => {
    const rc = new RelationChoices(ENTITIES);
    rc.add({ entity: "contact", id: "c1", name: "Jane" });
    assert.throws(() => rc.select("person", "contact:zz"), /not one of the options/);
    assert.throws(() => rc.select("entity", "contact:c1"), /not one of the options/);
    assert.throws(() => rc.select("people", ""), /unknown box/);
  });

  test("reset empties both boxes", () => {
    const rc = new RelationChoices(ENTITIES);
    rc.addPopMatches([{ entity: "contact", id: "c1", name: "Jane" }]);
    rc.reset("IX-2");
    assert.deepEqual(rc.options("person"), []);
    assert.equal(rc.selected("person"), null);
    assert.equal(rc.interactionId, "IX-2");
  });

  test("the server's selection chooses in both boxes; revision 0 changes nothing", () => {
    const rc = new RelationChoices(ENTITIES);
    rc.addPopMatches([{ entity: "contact", id: "c1", name: "Jane" }]);
    rc.applyServer([{ entity: "contact", id: "c2", name: "John" }], { revision: 0 });
    assert.deepEqual(rc.selected("person"), { entity: "contact", id: "c1" });
    rc.applyServer([], { person: { entity: "contact", id: "c2" }, organisation: { entity: "account", id: "a9" }, revision: 2 });
    assert.deepEqual(rc.selected("person"), { entity: "contact", id: "c2" });
    assert.deepEqual(rc.selected("entity"), { entity: "account", id: "a9" });
    assert.deepEqual(rc.unnamed(), [{ entity: "account", id: "a9" }], "a record chosen elsewhere is listed by id until named");
    assert.equal(rc.rename("account", "a9", "Contoso"), true);
    assert.deepEqual(rc.options("entity").map((o) => o.label), ["Contoso"]);
    rc.applyServer(null, { person: null, revision: 3 });
    assert.equal(rc.selected("person"), null);
    assert.equal(rc.selected("entity"), null);
  });

  test("entities arriving later drop records no longer listed", () => {
    const rc = new RelationChoices(ENTITIES);
    rc.add({ entity: "lead", id: "l1", name: "Lee" });
    rc.setEntities(ENTITIES.filter((e) => e.name !== "lead"));
    assert.deepEqual(rc.options("person"), []);
  });
});

describe("parsePageURL", () => {
  const cases = [
    { name: "record page", in: "https://org.crm.dynamics.com/main.aspx?appid=1&pagetype=entityrecord&etn=contact&id=%7BABC-1%7D", want: { pageType: "entityrecord", entity: "contact", id: "abc-1" } },
    { name: "list page", in: "https://org.crm.dynamics.com/main.aspx?appid=1&pagetype=entitylist&etn=contact", want: { pageType: "entitylist", entity: "contact", id: "" } },
    { name: "relative", in: "/main.aspx?pagetype=search", want: { pageType: "search", entity: "", id: "" } },
    { name: "empty", in: "", want: { pageType: "", entity: "", id: "" } },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(parsePageURL(c.in), c.want));
});

describe("dialFromClickToAct", () => {
  const docExample = '{"value":"123456789","name":"mobilephone","format":"phone","entityLogicalName":"contact"}';
  const cases = [
    { name: "the documented event, record from the last opened contact", data: docExample, last: { entity: "contact", id: "c1" }, want: { type: "dial", number: "123456789", entity: "contact", recordId: "c1" } },
    { name: "last opened record of another entity is not used", data: docExample, last: { entity: "account", id: "a1" }, want: { type: "dial", number: "123456789", entity: "contact", recordId: "" } },
    { name: "an entityId in the event wins", data: '{"value":"1","format":"phone","entityLogicalName":"contact","entityId":"{C2}"}', last: null, want: { type: "dial", number: "1", entity: "contact", recordId: "C2" } },
    { name: "not a phone", data: '{"value":"a@b.c","format":"email","entityLogicalName":"contact"}', last: null, want: null },
    { name: "empty value", data: '{"value":"  ","format":"phone"}', last: null, want: null },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(dialFromClickToAct(c.data, c.last), c.want));
});

describe("previewDialMessage", () => {
  const cases = [
    { name: "a previewed lead is dialled on its number", call: { state: "previewing", number: "0299990000" }, want: { type: "dial", number: "0299990000", entity: "", recordId: "" } },
    { name: "a connected call is not", call: { state: "connected", number: "0299990000" }, want: null },
    { name: "a preview without number is not", call: { state: "previewing" }, want: null },
    { name: "no call", call: null, want: null },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(previewDialMessage(c.call), c.want));
});

describe("backoffDelay", () => {
  test("doubles from 0.5 s and stops at 15 s without jitter", () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 20].map((n) => backoffDelay(n, () => 0)), [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
  });
  test("jitter takes off at most 30 %", () => {
    assert.equal(backoffDelay(5, () => 0.999999), 10500);
    assert.equal(backoffDelay(0, () => 0.5), 425);
  });
});

describe("formatDuration", () => {
  const cases = [[0, "0:00"], [999, "0:00"], [61000, "1:01"], [3599000, "59:59"], [3600000, "1:00:00"], [-5, "0:00"]];
  for (const [ms, want] of cases) test(`${ms} ms`, () => assert.equal(formatDuration(ms), want));
});

describe("socketURLs", () => {
  const cases = [
    { name: "a path on an http page", ws: "/api/v1/ws", page: "http://127.0.0.1:8080/widget", want: { ws: "ws://127.0.0.1:8080/api/v1/ws", http: "http://127.0.0.1:8080/api/v1/ws" } },
    { name: "a path on an https page", ws: "/api/v1/ws", page: "https://cti.example/widget", want: { ws: "wss://cti.example/api/v1/ws", http: "https://cti.example/api/v1/ws" } },
    { name: "an absolute wss URL", ws: "wss://cti.example/api/v1/ws", page: "https://other/widget", want: { ws: "wss://cti.example/api/v1/ws", http: "https://cti.example/api/v1/ws" } },
    { name: "an https URL becomes wss", ws: "https://cti.example/api/v1/ws", page: "https://x/", want: { ws: "wss://cti.example/api/v1/ws", http: "https://cti.example/api/v1/ws" } },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(socketURLs(c.ws, c.page), c.want));
  test("the token is never in the URL", () => {
    const urls = socketURLs("/ws", "http://h/");
    assert.doesNotMatch(urls.ws + urls.http, /token/);
  });
});

describe("socketProtocols", () => {
  test("the version first, then the token", () => assert.deepEqual(socketProtocols("eyJzdWIi.c2ln-_"), ["ctibridge.v1", "ctibridge.token.eyJzdWIi.c2ln-_"]));
  test("every protocol is a valid subprotocol name", () => {
    for (const p of socketProtocols("eyJzdWIiOiIxMDAxIn0.AbC-_9")) assert.match(p, /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/);
  });
});

describe("apiURL", () => {
  const cases = [
    { base: "", want: "http://h:1/api/v1/sessions" },
    { base: "/", want: "http://h:1/api/v1/sessions" },
    { base: "/cti", want: "http://h:1/cti/api/v1/sessions" },
    { base: "https://cti.example/base/", want: "https://cti.example/base/api/v1/sessions" },
  ];
  for (const c of cases) test(`base ${JSON.stringify(c.base)}`, () => assert.equal(apiURL(c.base, "/api/v1/sessions", "http://h:1/widget"), c.want));
});

describe("readSettings", () => {
  test("an object", () => assert.deepEqual(readSettings('{"apiBase":"/","wsURL":"/api/v1/ws"}'), { apiBase: "/", wsURL: "/api/v1/ws" }));
  test("a JSON string holding the object", () => assert.deepEqual(readSettings(JSON.stringify('{"apiBase":"/x"}')), { apiBase: "/x" }));
  test("blank", () => assert.deepEqual(readSettings("  "), {}));
  test("an array is refused", () => assert.throws(() => readSettings("[]"), /expected a JSON object/));
});

describe("loginError", () => {
  const cases = [
    { status: 401, body: { error: { message: "bad credentials" } }, want: "Wrong agent id or PIN." },
    { status: 400, body: { error: { message: "pin: is required" } }, want: "Check the form: pin: is required" },
    { status: 429, body: { error: { message: "too many login attempts for this agent id: wait a minute" } }, want: "too many login attempts for this agent id: wait a minute" },
    { status: 0, body: null, want: "Cannot reach ctibridge: check the connection." },
    { status: 500, body: null, want: "Login failed (HTTP 500)." },
  ];
  for (const c of cases) test(`HTTP ${c.status}`, () => assert.equal(loginError(c.status, c.body), c.want));
});

describe("agent state helpers", () => {
  test("toggle", () => {
    assert.deepEqual(stateToggle("Ready"), { label: "Pause", target: "Paused", disabled: false });
    assert.deepEqual(stateToggle("Paused"), { label: "Ready", target: "Ready", disabled: false });
    assert.equal(stateToggle("OnCall").disabled, true);
  });
  test("every call state has a label", () => {
    for (const st of ["idle", "previewing", "alerting", "connected", "ended", "failed", "wrapped"]) assert.ok(CALL_STATE_LABELS[st], st);
  });
  test("ended call states", () => {
    assert.equal(callEnded({ state: "ended" }), true);
    assert.equal(callEnded({ state: "failed" }), true);
    assert.equal(callEnded({ state: "alerting" }), false);
    assert.equal(callEnded({ state: "connected" }), false);
    assert.equal(callEnded(null), false);
  });
});

describe("WidgetSession", () => {
  const settings = { entities: ENTITIES, wrapCodes: [{ code: "SALE", label: "Sale" }], writeMode: "cif", clickToDial: true, telephony: { source: "sip", sip: { server: "wss://pbx.example.com/ws" } },
    cif: { sessions: "multi", sessionTemplate: "new_ctibridge_call", notificationTemplate: "new_ctibridge_incoming_call" } };
  const call1 = { interactionId: "IX-1", callType: "inbound", state: "connected", number: "02 9999 0000", startedAt: "2025-01-01T00:00:00Z" };
  const popMsg = (id) => ({ type: "pop", interactionId: id, decision: decision(), sentAt: 1 });

  test("hello configures the widget and restores the call without popping it", () => {
    const s = new WidgetSession();
    const fx = s.receive({ type: "hello", agent: { id: "1001", state: "OnCall" }, call: call1, settings });
    assert.deepEqual(fx, [{ do: "configure", settings }]);
    assert.equal(s.call.interactionId, "IX-1");
    assert.equal(s.agent.state, "OnCall");
    assert.deepEqual(s.receive(popMsg("IX-1")), [], "a restored call is not popped again");
  });

  test("a hello without the cif block leaves the widget to detect the app (auto)", () => {
    const s = new WidgetSession();
    const { cif, ...older } = settings;
    s.receive({ type: "hello", agent: { id: "1001", state: "Ready" }, call: null, settings: older });
    assert.deepEqual(s.settings.cif, { sessions: "auto" });
  });

  test("hello carrying an unanswered pop pops the call once", () => {
    const s = new WidgetSession();
    const fx = s.receive({ type: "hello", agent: { id: "1001", state: "OnCall" }, call: call1, settings, pop: popMsg("IX-1") });
    assert.deepEqual(fx.map((f) => f.do), ["configure", "pop"]);
    assert.equal(fx[1].interactionId, "IX-1");
    assert.deepEqual(s.receive(popMsg("IX-1")), [], "the live pop that follows is not run again");
    const again = s.receive({ type: "hello", agent: { id: "1001", state: "OnCall" }, call: call1, settings, pop: popMsg("IX-1") });
    assert.deepEqual(again.map((f) => f.do), ["configure"], "a page that popped it already does not pop it again");
  });

  test("hello carrying a pop this page ran sends the pop's result again instead of popping", () => {
    const s = new WidgetSession();
    assert.deepEqual(s.receive(popMsg("IX-1")).map((f) => f.do), ["pop"]);
    const sent = s.popDone("IX-1", decision(), { outcome: "record", matches: [{ entity: "contact", id: "c1", name: "Jane Citizen" }], ms: 12 });
    // The server went down before it read that popResult: its hello still
    // carries the pop as unanswered.
    const fx = s.receive({ type: "hello", agent: { id: "1001", state: "OnCall" }, call: call1, settings, pop: popMsg("IX-1") });
    assert.deepEqual(fx.map((f) => f.do), ["configure", "report"]);
    assert.deepEqual(fx[1].message, sent);
  });

  test("a pop repeated by a restarted server sends the answer again, without popping again", () => {
    const s = new WidgetSession();
    assert.deepEqual(s.receive(popMsg("IX-1")).map((f) => f.do), ["pop"]);
    const sent = s.popDone("IX-1", decision(), { outcome: "record", matches: [{ entity: "contact", id: "c1", name: "Jane Citizen" }], ms: 12 });
    const fx = s.receive(popMsg("IX-1"));
    assert.deepEqual(fx.map((f) => f.do), ["report"]);
    assert.deepEqual(fx[0].message, sent);
  });

  test("a pop runs once per interaction", () => {
    const s = new WidgetSession();
    s.receive({ type: "hello", agent: { id: "1001", state: "Ready" }, call: null, settings });
    s.receive({ type: "call", call: call1 });
    assert.deepEqual(s.receive(popMsg("IX-1")), [{ do: "pop", interactionId: "IX-1", decision: decision() }]);
    assert.deepEqual(s.receive(popMsg("IX-1")), []);
  });

  test("interactions popped before a page reload are not popped again", () => {
    const s = new WidgetSession({ popped: ["IX-1"] });
    assert.deepEqual(s.receive(popMsg("IX-1")), []);
  });

  test("a pop before its call message starts that call's view", () => {
    const s = new WidgetSession();
    s.receive({ type: "hello", agent: { id: "1001", state: "Ready" }, call: null, settings });
    s.receive(popMsg("IX-5"));
    assert.equal(s.call.interactionId, "IX-5");
    s.receive({ type: "call", call: { ...call1, interactionId: "IX-5" } });
    assert.equal(s.call.number, "02 9999 0000");
  });

  test("popDone fills the boxes and returns the popResult", () => {
    const s = new WidgetSession();
    s.receive({ type: "hello", agent: { id: "1001", state: "Ready" }, call: null, settings });
    s.receive({ type: "call", call: call1 });
    const msg = s.popDone("IX-1", decision(), { outcome: "record", matches: [{ entity: "contact", id: "c1", name: "Jane" }], total: 1, ms: 7 });
    assert.deepEqual(msg, { type: "popResult", interactionId: "IX-1", outcome: "record", matches: [{ entity: "contact", id: "c1", name: "Jane" }], ms: 7 });
    assert.deepEqual(s.relations.selected("person"), { entity: "contact", id: "c1" });
    assert.equal(s.popOutcome.text, "Opened Jane (7 ms)");
  });

  test("a failed pop reports its error in popResult", () => {
    const s = new WidgetSession();
    const msg = s.popDone("IX-1", decision(), { outcome: "none", matches: [], ms: 1, error: "pop contact: x" });
    assert.equal(msg.error, "pop contact: x");
  });

  test("a new interaction empties the boxes; the same one keeps them", () => {
    const s = new WidgetSession();
    s.receive({ type: "hello", agent: { id: "1001", state: "Ready" }, call: null, settings });
    s.receive({ type: "call", call: call1 });
    s.relations.add({ entity: "contact", id: "c1", name: "Jane" });
    s.receive({ type: "call", call: { ...call1, state: "ended" } });
    assert.equal(s.relations.options("person").length, 1);
    s.receive({ type: "call", call: { ...call1, interactionId: "IX-2" } });
    assert.equal(s.relations.options("person").length, 0);
    assert.equal(s.relations.interactionId, "IX-2");
  });

  test("callEnded clears the call", () => {
    const s = new WidgetSession();
    s.receive({ type: "hello", agent: { id: "1001", state: "OnCall" }, call: call1, settings });
    assert.deepEqual(s.receive({ type: "callEnded", interactionId: "IX-1", activityId: "a1" }), [{ do: "callEnded", interactionId: "IX-1" }]);
    assert.equal(s.call, null);
    assert.deepEqual(s.lastEnded, { interactionId: "IX-1", activityId: "a1" });
  });

  test("a hello without a call clears a call that ended while away", () => {
    const s = new WidgetSession();
    s.receive({ type: "hello", agent: { id: "1001", state: "OnCall" }, call: call1, settings });
    s.receive({ type: "hello", agent: { id: "1001", state: "Ready" }, call: null, settings });
    assert.equal(s.call, null);
  });

  test("writes ask for the writes to run; an empty list asks for nothing", () => {
    const s = new WidgetSession();
    const writes = [{ idempotencyKey: "k", op: "create", entity: "task", data: {} }];
    assert.deepEqual(s.receive({ type: "writes", interactionId: "IX-1", writes }), [{ do: "writes", interactionId: "IX-1", writes }]);
    assert.deepEqual(s.receive({ type: "writes", interactionId: "IX-1", writes: [] }), []);
  });

  test("an error reply names the action its ref belongs to", () => {
    const s = new WidgetSession();
    const sent = s.withRef({ type: "wrap", interactionId: "IX-1", wrapCode: "X", notes: "" }, "Wrap");
    assert.equal(sent.ref, "w1");
    assert.deepEqual(s.receive({ type: "error", ref: "w1", code: "refused", message: "unknown wrap code X" }), [
      { do: "error", ref: "w1", code: "refused", message: "Wrap: unknown wrap code X" },
    ]);
  });

  test("a refused report of the widget's own is logged, not shown", () => {
    const s = new WidgetSession();
    const sent = s.withRef({ type: "writeResult", idempotencyKey: "k", id: "1" }, "Write result", { quiet: true });
    assert.deepEqual(s.receive({ type: "error", ref: sent.ref, code: "not_found", message: "idempotencyKey: no write \"k\" is waiting for this agent" }), [
      { do: "log", ref: sent.ref, code: "not_found", message: "Write result: idempotencyKey: no write \"k\" is waiting for this agent" },
    ]);
  });

  test("relate carries the agent's Dynamics user id once known", () => {
    const s = new WidgetSession();
    s.receive({ type: "hello", agent: { id: "1001", state: "OnCall" }, call: call1, settings });
    assert.equal(s.relateMessage().user, undefined);
    s.userId = "{00000000-0000-0000-0000-0000000a6e47}";
    assert.deepEqual(s.relateMessage(), { type: "relate", interactionId: "IX-1", person: null, organisation: null, user: "{00000000-0000-0000-0000-0000000a6e47}" });
  });

  test("a call message's matches and selection fill the boxes (another tab chose)", () => {
    const s = new WidgetSession();
    s.receive({ type: "hello", agent: { id: "1001", state: "OnCall" }, call: { ...call1, matches: [{ entity: "contact", id: "c1", name: "Jane" }, { entity: "contact", id: "c2", name: "John" }], selection: { revision: 0 } }, settings });
    assert.equal(s.relations.options("person").length, 2);
    assert.equal(s.relations.selected("person"), null);
    s.receive({ type: "call", call: { ...call1, selection: { person: { entity: "contact", id: "c2" }, revision: 1 } } });
    assert.deepEqual(s.relations.selected("person"), { entity: "contact", id: "c2" });
  });

  test("agentState updates the agent", () => {
    const s = new WidgetSession();
    s.receive({ type: "agentState", state: "Paused", reason: "Lunch" });
    assert.deepEqual(s.agent, { state: "Paused", reason: "Lunch" });
  });

  test("a message without type is an error; unknown types are ignored", () => {
    const s = new WidgetSession();
    assert.equal(s.receive({})[0].code, "bad_message");
    assert.deepEqual(s.receive({ type: "future" }), []);
  });

  test("wrapMessage needs a call and a code", () => {
    const s = new WidgetSession();
    assert.throws(() => s.wrapMessage("SALE", ""), /no call to wrap/);
    s.receive({ type: "call", call: call1 });
    assert.throws(() => s.wrapMessage("", ""), /Choose a wrap code/);
    assert.deepEqual(s.wrapMessage("SALE", "n"), { type: "wrap", interactionId: "IX-1", wrapCode: "SALE", notes: "n" });
  });

  test("the timer runs from startedAt and stops when the call ends", () => {
    let t = Date.parse("2025-01-01T00:01:05Z");
    const s = new WidgetSession({ now: () => t });
    s.receive({ type: "call", call: call1 });
    assert.equal(s.callTimer(), "1:05");
    s.receive({ type: "call", call: { ...call1, state: "ended" } });
    t += 60000;
    assert.equal(s.callTimer(), "1:05");
  });
});

describe("waitForCIF", () => {
  // A window double with an event target and a manual timer queue.
  function fakeWindow() {
    const listeners = {};
    const timers = [];
    const win = {
      addEventListener: (n, f) => ((listeners[n] ||= []).push(f)),
      removeEventListener: (n, f) => (listeners[n] = (listeners[n] || []).filter((x) => x !== f)),
      dispatch: (n) => (listeners[n] || []).slice().forEach((f) => f({ type: n })),
      listeners,
    };
    const setTimer = (f) => (timers.push(f), timers.length);
    const run = (n) => {
      for (let i = 0; i < n && timers.length; i++) timers.shift()();
    };
    return { win, setTimer, clearTimer: () => {}, run, timers };
  }

  test("resolves with the library when CIFInitDone fires", async () => {
    const f = fakeWindow();
    const p = waitForCIF(f.win, { setTimer: f.setTimer, clearTimer: f.clearTimer });
    f.win.Microsoft = { CIFramework: { name: "cif" } };
    f.win.dispatch("CIFInitDone");
    assert.deepEqual(await p, { lib: { name: "cif" }, problem: "" });
    assert.equal(f.win.listeners.CIFInitDone.length, 0, "the listener is removed");
  });

  test("resolves at once when CIFInitDone fired before", async () => {
    const f = fakeWindow();
    f.win.Microsoft = { CIFramework: { name: "cif" } };
    const p = waitForCIF(f.win, { setTimer: f.setTimer, clearTimer: f.clearTimer, initDone: () => true });
    assert.deepEqual(await p, { lib: { name: "cif" }, problem: "" });
  });

  test("a library (v1 or v2) that never raises CIFInitDone is not used, and the widget says why", async () => {
    const f = fakeWindow();
    f.win.Microsoft = { CIFramework: { name: "v1" } };
    const p = waitForCIF(f.win, { setTimer: f.setTimer, clearTimer: f.clearTimer, timeoutMs: 300, pollMs: 100 });
    let done = false;
    p.then(() => (done = true));
    f.run(2);
    await Promise.resolve();
    assert.equal(done, false, "it waits the whole timeout");
    f.run(5);
    const r = await p;
    assert.equal(r.lib, null);
    assert.match(r.problem, /did not report CIFInitDone within 0 s|did not report CIFInitDone/);
  });

  test("resolves without a library when none appears (opened outside Dynamics)", async () => {
    const f = fakeWindow();
    const p = waitForCIF(f.win, { setTimer: f.setTimer, clearTimer: f.clearTimer, timeoutMs: 300, pollMs: 100 });
    f.run(10);
    const r = await p;
    assert.equal(r.lib, null);
    assert.match(r.problem, /no CIF library: open the widget inside Dynamics 365/);
  });
});

describe("cifErrorMessage", () => {
  const cases = [
    { name: "CIF's JSON string rejection", in: '{"message":"NotificationTemplateNotFoundError","msdyn_name":"NotifyEvent"}', want: "NotificationTemplateNotFoundError" },
    { name: "an Error", in: new Error("Request timed out"), want: "Request timed out" },
    { name: "an Error whose message is CIF's JSON", in: new Error('{"message":"RejectAfterClientError"}'), want: "RejectAfterClientError" },
    { name: "a plain object", in: { errorCode: 5, message: "no such tab" }, want: "no such tab" },
    { name: "a plain string", in: "failed", want: "failed" },
    { name: "a JSON object without a message", in: '{"code":1}', want: '{"code":1}' },
    { name: "nothing", in: undefined, want: "unknown error" },
  ];
  for (const c of cases) test(c.name, () => assert.equal(cifErrorMessage(c.in), c.want));

  test("a pop whose CIF call rejects with a JSON string reports CIF's message, never undefined", async () => {
    const cif = recordingCIF({ tables: {} });
    cif.searchAndOpenRecords = () => Promise.reject('{"message":"Request timed out","msdyn_name":"SearchAndOpenRecords"}');
    const r = await executePop(cif, decision(), { entities: ENTITIES });
    assert.equal(r.error, "pop contact: Request timed out");
  });
});

describe("cifSearchPageShows", () => {
  for (const [entity, want] of [["contact", true], ["account", true], ["phonecall", true], ["lead", false], ["new_customer", false]]) {
    test(`${entity}: ${want}`, () => assert.equal(cifSearchPageShows(entity), want));
  }
});

