// Drives a running sandbox CRM with dynamics-web-api, a widely used
// third-party Dataverse client, to check that the sandbox answers the way
// the library expects Dataverse to. Started by compat_test.go, which passes
// the sandbox URL and OAuth2 client in the environment.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { DynamicsWebApi } from "dynamics-web-api";

const url = process.env.SANDBOX_URL;
const clientId = process.env.SANDBOX_CLIENT_ID;
const clientSecret = process.env.SANDBOX_CLIENT_SECRET;
const singleContact = process.env.SANDBOX_SINGLE_CONTACT_ID;
const singleStored = process.env.SANDBOX_SINGLE_CONTACT_PHONE;

if (!url) {
  throw new Error("SANDBOX_URL is not set: run this through `go test ./internal/sandbox/compat/`");
}

async function token() {
  const form = new URLSearchParams({
    grant_type: "client_credentials",
    client_id: clientId,
    client_secret: clientSecret,
    scope: `${url}/.default`,
  });
  const res = await fetch(`${url}/compat-tenant/oauth2/v2.0/token`, { method: "POST", body: form });
  assert.equal(res.status, 200, `token endpoint answered ${res.status}`);
  return (await res.json()).access_token;
}

let api;
before(() => {
  api = new DynamicsWebApi({
    serverUrl: url,
    dataApi: { version: "9.2" },
    onTokenRefresh: token,
    propagateErrors: true,
  });
});

test("create, retrieve, update and delete a contact", async () => {
  const id = await api.create({ collection: "contacts", data: { firstname: "Node", lastname: "Compat", telephone1: "(02) 5550 7777" } });
  assert.match(id, /^[0-9a-f-]{36}$/);

  const rec = await api.retrieve({ collection: "contacts", key: id, select: ["fullname", "telephone1"] });
  assert.equal(rec.fullname, "Node Compat");
  assert.equal(rec.telephone1, "(02) 5550 7777");
  assert.match(rec["@odata.etag"], /^W\/"\d+"$/);

  await api.update({ collection: "contacts", key: id, data: { lastname: "Updated" }, ifmatch: rec["@odata.etag"] });
  const after = await api.retrieve({ collection: "contacts", key: id, select: ["fullname"] });
  assert.equal(after.fullname, "Node Updated");

  await assert.rejects(
    api.update({ collection: "contacts", key: id, data: { lastname: "Stale" }, ifmatch: rec["@odata.etag"] }),
    (err) => err.status === 412,
  );

  await api.deleteRecord({ collection: "contacts", key: id });
  await assert.rejects(api.retrieve({ collection: "contacts", key: id }), (err) => err.status === 404 && err.code === "0x80040217");
});

test("filter, order and page the seeded contacts", async () => {
  const found = await api.retrieveMultiple({
    collection: "contacts",
    select: ["fullname", "telephone1"],
    filter: `telephone1 eq '${singleStored}'`,
  });
  assert.equal(found.value.length, 1);
  assert.equal(found.value[0].contactid, singleContact);

  const all = await api.retrieveAll({ collection: "contacts", select: ["contactid"], filter: "telephone1 ne null", maxPageSize: 25 });
  const plain = await api.retrieveMultiple({ collection: "contacts", select: ["contactid"], filter: "telephone1 ne null" });
  assert.ok(all.value.length > 25, "retrieveAll should follow several pages");
  assert.deepEqual(all.value.map((r) => r.contactid), plain.value.map((r) => r.contactid));

  const n = await api.count({ collection: "contacts", filter: "startswith(lastname,'Whit')" });
  assert.equal(n, 3);

  await assert.rejects(
    api.retrieveMultiple({ collection: "contacts", filter: "nickname eq 'x'" }),
    (err) => err.status === 400 && /Could not find a property named 'nickname'/.test(err.message),
  );
});

test("upsert a phone call by alternate key and complete it", async () => {
  const key = "new_agentinteractionid='NODE-IX-1'";
  await api.upsert({
    collection: "phonecalls",
    key,
    data: {
      subject: "Inbound call",
      directioncode: false,
      "regardingobjectid_contact_phonecall@odata.bind": `contacts(${singleContact})`,
      phonecall_activity_parties: [{ "partyid_contact@odata.bind": `contacts(${singleContact})`, participationtypemask: 1 }],
    },
  });
  await api.update({ collection: "phonecalls", key, data: { statecode: 1, statuscode: 4, new_wrapcode: "RESOLVED" } });
  const call = await api.retrieve({ collection: "phonecalls", key, select: ["statecode", "statuscode", "new_wrapcode", "_regardingobjectid_value"] });
  assert.equal(call.statecode, 1);
  assert.equal(call.statuscode, 4);
  assert.equal(call._regardingobjectid_value, singleContact);
  await assert.rejects(api.update({ collection: "phonecalls", key, data: { subject: "too late" } }), (err) => err.status === 400);
});

test("a change set runs atomically in a batch", async () => {
  api.startBatch();
  api.create({ collection: "accounts", data: { name: "Batch From Node" }, contentId: "1" });
  api.create({ collection: "contacts", data: { lastname: "NodeBatch", "parentcustomerid_account@odata.bind": "$1" } });
  const responses = await api.executeBatch({ inChangeSet: true });
  assert.equal(responses.length, 2);
  const contacts = await api.retrieveMultiple({ collection: "contacts", select: ["_parentcustomerid_value"], filter: "lastname eq 'NodeBatch'" });
  assert.equal(contacts.value.length, 1);
  assert.equal(contacts.value[0]._parentcustomerid_value, responses[0]);
});
