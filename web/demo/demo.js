// demo.js: the demo host page's DOM and messaging. It stands in for the
// Dynamics 365 page: it answers the CIF library stand-in in the widget iframe
// (logic in host.mjs), shows records, search pages and new-record forms in
// the record pane, places simulated calls and lists the activities ctibridge
// wrote.
//
// Element ids and attributes for browser tests:
//   #record-pane[data-view=empty|record|search|new|loading|error][data-entity][data-record-id]
//     record view:  #record-title  #record-form  .field[data-field=COLUMN] > #field-COLUMN
//                   a.phone-link[data-testid=phone-link][data-field=COLUMN][data-enabled=true|false]
//                   #record-save
//     search view:  #search-title  #search-text  #search-submit  #search-count
//                   #search-results tbody tr[data-id][data-entity] (click opens the record)
//     new view:     #new-title  #new-form  .field[data-field=COLUMN] > #field-COLUMN  #new-save
//     any form:     #form-error
//   #agent-select  #agent-hint
//   #call-buttons button[data-scenario][data-call-type] (each button places its own call type; a
//     scenario without one is an inbound call), disabled while its call is being placed
//   #current-call[data-interaction-id][data-phase=previewing|alerting|connected|wrapping]
//     #current-call-text  #last-call (how the agent's last call ended: wrapped or skipped)
//   #hangup  #demo-status
//   #sip-phone > #phone-link (shown when the demo runs SIP calls: settings.sip)
//   #entity-nav button[data-entity] (opens the entity's list)
//   #activity-list tbody tr[data-kind=phonecall|task][data-state=open|completed|canceled][data-interaction-id][data-id]
//     td[data-col=subject|number|state|wrapCode|regarding|interactionId]
//   #activity-error  #activity-updated
//   #cif-panel[data-mode=0|1|2]  #cif-frame  #panel-toggle  #toast
//
// Settings come from GET /demo/api/settings:
//   {entities: [{name, plural, key, columns, type}], agents: [{id, pin}],
//    scenarios: the simulator's scenario names ("single", "several", "none", ...),
//               placed as inbound calls, or {id, label, callType} objects,
//    fields?: {callDispositionField, agentInteractionId}, customParams?,
//    sip?: {phone, server, domain} when the calls come from the customer phone page}
// Calls: POST /demo/api/calls {agentId, callType, scenario} → {interactionId, ...};
//        POST /demo/api/calls/{interactionId}/hangup;
//        GET /demo/api/agents/{agentId}/call → {call, last}, the simulator's
//        view of the agent's calls, polled so the panel follows the widget.

import {
  PROTOCOL, WebAPI, createCIFHost, errorReply, entitySet, entityKey, entityNameColumn, cleanId,
  pageURL, isPhoneField, isFlagField, formColumns, recordFromForm, normalizeScenarios, activityRows,
  activityQueries, humanize, columnLabel, callPanel, newRecordForm,
} from "./host.mjs";

const $ = (id) => document.getElementById(id);
const frame = $("cif-frame");
const pane = $("record-pane");
const widgetOrigin = new URL(frame.getAttribute("src"), location.href).origin;
const api = new WebAPI((url, init) => fetch(url, init));

let settings = { entities: [], agents: [], scenarios: [] };
let host = null;
// CIF calls that arrive before the settings are loaded wait for the host.
let resolveHost;
const hostReady = new Promise((resolve) => (resolveHost = resolve));
let cifId = "CIFMainLibrary";
let clickToAct = false;
let page = { pageType: "dashboard", entity: "", id: "" };
// callView is the simulator's view of the selected agent's calls ({call,
// last}); callLabels names the calls this page placed (interactionId →
// label). callGeneration discards a poll answer that began before the page
// placed or hung up a call, so it cannot undo what the page just did.
let callView = { call: null, last: null };
const callLabels = new Map();
let callGeneration = 0;
const regardingNames = new Map();
const regardingPending = new Set();

// ---- small DOM helpers ----

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "dataset") Object.assign(e.dataset, v);
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

let toastTimer = null;
function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), 4000);
}

function status(text, isError = false) {
  const s = $("demo-status");
  s.textContent = text;
  s.classList.toggle("error", isError);
}

function entityLabel(entity) {
  return humanize(entity);
}

async function errorText(res) {
  try {
    const body = await res.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch {
    // not JSON
  }
  return `HTTP ${res.status}`;
}

// ---- messages with the widget's CIF library ----

function emit(name, data) {
  if (!frame.contentWindow) return;
  frame.contentWindow.postMessage({ protocol: PROTOCOL, cifId, kind: "event", name, data: JSON.stringify(data) }, widgetOrigin);
}

window.addEventListener("message", async (ev) => {
  // Only the widget iframe, from the channel's origin, may use the CIF API:
  // Dynamics accepts only origins of a provider's Channel URL.
  if (ev.source !== frame.contentWindow || ev.origin !== widgetOrigin) return;
  const m = ev.data;
  if (!m || m.protocol !== PROTOCOL) return;
  const reply = (msg) => ev.source.postMessage({ protocol: PROTOCOL, cifId: m.cifId, ...msg }, ev.origin);
  if (m.kind === "hello") {
    cifId = m.cifId || cifId;
    reply({ kind: "ready" });
    return;
  }
  if (m.kind !== "request" || !m.id) return;
  try {
    const result = await (await hostReady).handle(m.method, m.args);
    reply({ kind: "response", id: m.id, ok: true, result });
  } catch (err) {
    reply({ kind: "response", id: m.id, ok: false, error: errorReply(err) });
  }
});

// ui is what createCIFHost drives.
const ui = {
  openRecord: (entity, id) => openRecord(entity, id),
  showSearch: (entity, text, rows) => showSearch(entity, text, rows),
  showNewForm: (entity, params) => showNewForm(entity, params),
  setClickToAct(on) {
    clickToAct = on;
    for (const a of document.querySelectorAll("a.phone-link")) a.dataset.enabled = String(on);
    toast(on ? "Click-to-act enabled by the widget" : "Click-to-act disabled by the widget");
  },
  setMode(mode) {
    const panel = $("cif-panel");
    panel.dataset.mode = String(mode);
    const toggle = $("panel-toggle");
    toggle.setAttribute("aria-expanded", String(mode === 1));
    toggle.textContent = mode === 1 ? "–" : "+";
    toggle.title = mode === 1 ? "Minimise the panel" : "Dock the panel";
  },
  setWidth(px) {
    const w = Math.max(240, Math.min(640, Math.round(px)));
    document.documentElement.style.setProperty("--panel-width", `${w}px`);
    return w;
  },
  emit,
  page: () => page,
};

function navigate(next) {
  page = next;
  emit("onpagenavigate", { value: pageURL(location.origin, next) });
}

// ---- record pane ----

function setView(view, { entity = "", id = "" } = {}) {
  pane.dataset.view = view;
  if (entity) pane.dataset.entity = entity;
  else delete pane.dataset.entity;
  if (id) pane.dataset.recordId = id;
  else delete pane.dataset.recordId;
}

function paneError(text) {
  setView("error");
  pane.replaceChildren(el("div", { class: "empty-state" }, el("h2", { text: "Something went wrong" }), el("p", { class: "error", id: "form-error", role: "alert", text })));
}

function fieldInput(entity, col, value, { forNew = false } = {}) {
  const id = `field-${col}`;
  if (isFlagField(col)) {
    const box = el("input", { type: "checkbox", id, name: col });
    box.checked = value === true || value === "true";
    return el("div", { class: "field flag", dataset: { field: col } }, box, el("label", { for: id, text: columnLabel(col, entity) }));
  }
  const input = el("input", { id, name: col, value: value === undefined || value === null ? "" : String(value), autocomplete: "off" });
  const row = el("div", { class: "field", dataset: { field: col } }, el("label", { for: id, text: columnLabel(col, entity) }));
  if (!forNew && isPhoneField(col, value)) {
    const link = el("a", {
      href: `tel:${value}`,
      class: "phone-link",
      "data-testid": "phone-link",
      dataset: { field: col, enabled: String(clickToAct) },
      title: "Call this number",
      "aria-label": `Call ${value}`,
      onclick: (e) => {
        e.preventDefault();
        if (!clickToAct) {
          toast("Click-to-act is off: the widget has not enabled it");
          return;
        }
        // CIF's documented onclicktoact event data.
        emit("onclicktoact", { value: String(value), name: col, format: "phone", entityLogicalName: entity });
        toast(`Calling ${value}…`);
      },
    }, "☎");
    row.append(el("div", { class: "with-action" }, input, link));
  } else {
    row.append(input);
  }
  return row;
}

function formValues(form) {
  const out = {};
  for (const input of form.querySelectorAll("input[name]")) {
    out[input.name] = input.type === "checkbox" ? input.checked : input.value.trim();
  }
  return out;
}

async function openRecord(entity, id) {
  id = cleanId(id);
  setView("loading", { entity, id });
  let record;
  try {
    record = await api.retrieve(entitySet(settings, entity), id);
  } catch (err) {
    paneError(`Could not open ${entity} ${id}: ${err.message}`);
    throw err;
  }
  renderRecord(entity, id, record);
  navigate({ pageType: "entityrecord", entity, id });
}

function renderRecord(entity, id, record) {
  const nameCol = entityNameColumn(settings, entity);
  const title = record[nameCol] || `${entityLabel(entity)} ${id}`;
  const cols = formColumns(settings, entity, record);
  const form = el("form", { id: "record-form", class: "form", novalidate: true });
  for (const c of cols) form.append(fieldInput(entity, c, record[c]));
  const err = el("p", { id: "form-error", class: "error", role: "alert" });
  const save = el("button", { id: "record-save", class: "primary", type: "submit", text: "Save" });
  form.append(el("div", { class: "form-actions" }, save), err);
  const original = formValues(form);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    const now = formValues(form);
    const changed = {};
    for (const [k, v] of Object.entries(now)) if (v !== original[k]) changed[k] = v;
    if (Object.keys(changed).length === 0) {
      toast("Nothing to save");
      return;
    }
    save.disabled = true;
    try {
      await api.update(entitySet(settings, entity), id, recordFromForm(changed, { update: true }));
      toast("Saved");
      await openRecord(entity, id);
    } catch (ex) {
      err.textContent = `Could not save: ${ex.message}`;
    } finally {
      save.disabled = false;
    }
  });
  setView("record", { entity, id });
  pane.replaceChildren(
    el("div", { class: "pane-head" },
      el("span", { class: "entity-tag", text: entityLabel(entity) }),
      el("h2", { id: "record-title", text: title }),
      el("span", { class: "hint", id: "record-id", text: id })),
    form,
  );
}

function showSearch(entity, text, rows) {
  const def = (settings.entities || []).find((e) => e.name === entity);
  const key = entityKey(settings, entity);
  const cols = def && def.columns && def.columns.length ? def.columns : [entityNameColumn(settings, entity)];
  const input = el("input", { id: "search-text", type: "search", value: text || "", "aria-label": `Search ${entityLabel(entity)} records` });
  const form = el("form", { class: "search-bar", role: "search" },
    input, el("button", { id: "search-submit", class: "secondary", type: "submit", text: "Search" }));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await host.handle("renderSearchPage", [entity, input.value.trim()]);
    } catch (ex) {
      paneError(`Search failed: ${ex.message}`);
    }
  });
  const body = el("tbody");
  for (const r of rows) {
    const id = cleanId(r[key]);
    const open = () => openRecord(entity, id).catch(() => {});
    const tr = el("tr", { dataset: { id, entity }, tabindex: "0", onclick: open, onkeydown: (e) => e.key === "Enter" && open() });
    cols.forEach((c, i) => {
      const v = r[c];
      const shown = typeof v === "boolean" ? (v ? "Yes" : "No") : v === undefined || v === null ? "" : String(v);
      tr.append(el("td", { dataset: { col: c } }, i === 0 ? el("a", { href: "#", onclick: (e) => e.preventDefault(), text: shown || id }) : shown));
    });
    body.append(tr);
  }
  const table = el("table", { id: "search-results", class: "grid" },
    el("thead", {}, el("tr", {}, cols.map((c) => el("th", { scope: "col", text: columnLabel(c, entity) })))), body);
  setView("search", { entity });
  pane.replaceChildren(
    el("div", { class: "pane-head" },
      el("span", { class: "entity-tag", text: "Search" }),
      el("h2", { id: "search-title", text: text ? `${entityLabel(entity)} results for “${text}”` : `${entityLabel(entity)} records` }),
      el("span", { id: "search-count", class: "hint", text: `${rows.length} ${rows.length === 1 ? "record" : "records"}` })),
    form,
    rows.length ? table : el("p", { class: "empty-note", text: "No records found." }),
  );
  navigate({ pageType: "search", entity, id: "", searchText: text || "" });
}

// showNewForm opens the new-record form, prefilled. A contact's or lead's
// full name is computed from first and last name (newRecordForm), so the
// form asks for those: a name typed in a full-name box would be lost.
function showNewForm(entity, params) {
  const { columns, values } = newRecordForm(settings, entity, params);
  const form = el("form", { id: "new-form", class: "form", novalidate: true });
  for (const c of columns) form.append(fieldInput(entity, c, values[c], { forNew: true }));
  const err = el("p", { id: "form-error", class: "error", role: "alert" });
  const save = el("button", { id: "new-save", class: "primary", type: "submit", text: "Save" });
  form.append(el("div", { class: "form-actions" }, save), err);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    const data = recordFromForm(formValues(form));
    if (Object.keys(data).filter((k) => typeof data[k] !== "boolean").length === 0) {
      err.textContent = "Fill in at least one field.";
      return;
    }
    save.disabled = true;
    try {
      const id = await api.create(entitySet(settings, entity), data, entityKey(settings, entity));
      toast(`${entityLabel(entity)} created`);
      await openRecord(entity, id);
    } catch (ex) {
      err.textContent = `Could not save: ${ex.message}`;
      save.disabled = false;
    }
  });
  setView("new", { entity });
  pane.replaceChildren(
    el("div", { class: "pane-head" },
      el("span", { class: "entity-tag", text: entityLabel(entity) }),
      el("h2", { id: "new-title", text: `New ${entityLabel(entity)}` })),
    form,
  );
  navigate({ pageType: "entityrecord", entity, id: "" });
  const first = form.querySelector("input");
  if (first) first.focus({ preventScroll: true });
}

// ---- simulated telephony ----

function selectedAgent() {
  return $("agent-select").value;
}

function renderControls() {
  const agents = settings.agents || [];
  const sel = $("agent-select");
  sel.replaceChildren(...agents.map((a) => el("option", { value: a.id, text: `Agent ${a.id}` })));
  const hint = () => {
    const a = agents.find((x) => x.id === sel.value);
    $("agent-hint").textContent = a ? `Log in to the widget as ${a.id} with PIN ${a.pin}.` : "No demo agents are configured.";
  };
  sel.onchange = () => {
    hint();
    callView = { call: null, last: null };
    renderCurrentCall();
    refreshCall();
  };
  hint();

  const buttons = $("call-buttons");
  const scenarios = normalizeScenarios(settings.scenarios);
  buttons.replaceChildren(...scenarios.map((s) =>
    el("button", { type: "button", class: "secondary", dataset: { scenario: s.id, callType: s.callType || "inbound" }, text: s.label,
      onclick: (e) => placeCall({ ...s, callType: s.callType || "inbound" }, e.currentTarget) })));
  if (settings.sip) {
    // Real SIP calls: the customer phone places them, the widget shows them.
    $("tel-title").textContent = "SIP telephony";
    $("sip-phone").hidden = false;
    $("phone-link").href = settings.sip.phone;
    for (const id of ["call-buttons", "current-call", "hangup"]) $(id).hidden = true;
  } else if (scenarios.length === 0) buttons.append(el("p", { class: "hint", text: "The demo server lists no call scenarios." }));

  $("entity-nav").replaceChildren(...(settings.entities || []).map((e) =>
    el("li", {}, el("button", { type: "button", class: "nav-item", dataset: { entity: e.name }, text: humanize(e.plural || e.name),
      onclick: () => host.handle("renderSearchPage", [e.name, ""]).catch((err) => paneError(err.message)) }))));
}

function renderCurrentCall() {
  const panel = callPanel(callView, callLabels);
  const box = $("current-call");
  box.dataset.interactionId = panel.interactionId;
  box.dataset.phase = panel.phase;
  $("current-call-text").textContent = panel.text;
  const last = $("last-call");
  last.textContent = panel.lastText;
  last.hidden = !panel.lastText;
  $("hangup").disabled = !panel.canHangUp;
}

// refreshCall reads the selected agent's calls from the simulator. The
// widget learns of a skip or a wrap from the server; this page asks.
async function refreshCall() {
  const agentId = selectedAgent();
  if (!agentId) return;
  const generation = callGeneration;
  try {
    const res = await fetch(`/demo/api/agents/${encodeURIComponent(agentId)}/call`, { headers: { Accept: "application/json" } });
    if (!res.ok) return;
    const view = await res.json();
    if (generation !== callGeneration || agentId !== selectedAgent()) return;
    callView = { call: view.call || null, last: view.last || null };
    renderCurrentCall();
  } catch {
    // The next poll tries again; the demo server may be restarting.
  }
}

// placeCall places the scenario's call; its button is disabled until the
// server answers, so a double click places one call, not a refused second.
async function placeCall(scenario, button) {
  const agentId = selectedAgent();
  if (!agentId) {
    status("Choose an agent first.", true);
    return;
  }
  if (button) button.disabled = true;
  status(`Placing “${scenario.label}” for agent ${agentId}…`);
  try {
    const res = await fetch("/demo/api/calls", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ agentId, callType: scenario.callType, scenario: scenario.id }),
    });
    if (!res.ok) {
      status(`The call was not placed: ${await errorText(res)}`, true);
      return;
    }
    const body = await res.json().catch(() => ({}));
    const interactionId = body.interactionId || (body.call && body.call.interactionId) || body.id || "";
    if (interactionId) {
      callGeneration++;
      callLabels.set(interactionId, `${scenario.callType}, ${scenario.label}`);
      // Shown at once; the next poll adds the lead and the phase.
      callView = { ...callView, call: { interactionId, callType: scenario.callType, phase: "" } };
      renderCurrentCall();
      refreshCall();
    }
    status(interactionId ? `Call ${interactionId} presented to agent ${agentId}.` : "Call placed, but the server returned no interactionId.", !interactionId);
  } catch (err) {
    status(`The call was not placed: ${err.message}`, true);
  } finally {
    if (button) button.disabled = false;
  }
}

async function hangUp() {
  const id = callPanel(callView).interactionId;
  if (!id) return;
  $("hangup").disabled = true; // until the next poll: one hang-up per click
  status(`Hanging up ${id}…`);
  try {
    const res = await fetch(`/demo/api/calls/${encodeURIComponent(id)}/hangup`, { method: "POST", headers: { Accept: "application/json" } });
    if (!res.ok) {
      status(`Could not hang up ${id}: ${await errorText(res)}`, true);
      return;
    }
    status(`Call ${id} hung up: the agent can now wrap it in the widget.`);
    callGeneration++;
    $("hangup").disabled = true;
    refreshCall();
  } catch (err) {
    status(`Could not hang up ${id}: ${err.message}`, true);
  }
}

// ---- activities ----

let activityBusy = false;

async function refreshActivities() {
  if (activityBusy) return;
  activityBusy = true;
  const errEl = $("activity-error");
  try {
    const q = activityQueries(settings.fields || {});
    const headers = { Prefer: 'odata.include-annotations="*"' };
    const [calls, tasks] = await Promise.all([
      api.request("GET", q.phonecalls, { headers }).then((r) => (r.json && r.json.value) || []),
      api.request("GET", q.tasks, { headers }).then((r) => (r.json && r.json.value) || []).catch(() => []),
    ]);
    const rows = activityRows(calls, tasks, { names: regardingNames, fields: settings.fields || {} });
    renderActivities(rows);
    resolveRegarding(rows);
    errEl.hidden = true;
    $("activity-updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    errEl.hidden = false;
    errEl.textContent = `Activities could not be read: ${err.message}`;
  } finally {
    activityBusy = false;
  }
}

function renderActivities(rows) {
  const body = $("activity-list").tBodies[0];
  const stateLabel = { open: "Open", completed: "Completed", canceled: "Canceled" };
  body.replaceChildren(...rows.map((r) => el("tr", { dataset: { kind: r.kind, state: r.state, interactionId: r.interactionId, id: r.id } },
    el("td", { dataset: { col: "kind" }, text: r.kind === "task" ? "Task" : "Phone call" }),
    el("td", { dataset: { col: "subject" }, text: r.subject }),
    el("td", { dataset: { col: "number" }, text: r.number }),
    el("td", { dataset: { col: "state" } }, el("span", { class: `state ${r.state}`, text: stateLabel[r.state] || r.state })),
    el("td", { dataset: { col: "wrapCode" }, text: r.wrapCode }),
    el("td", { dataset: { col: "regarding" } }, r.regardingRef && r.regardingRef.entity
      ? el("a", { href: "#", text: r.regarding, onclick: (e) => { e.preventDefault(); openRecord(r.regardingRef.entity, r.regardingRef.id).catch(() => {}); } })
      : r.regarding),
    el("td", { dataset: { col: "interactionId" }, text: r.interactionId }),
  )));
  if (rows.length === 0) body.append(el("tr", { class: "empty" }, el("td", { colspan: "7", text: "No activities yet." })));
}

// resolveRegarding looks up the names of regarding records the Web API did
// not annotate, once each.
function resolveRegarding(rows) {
  for (const r of rows) {
    const ref = r.regardingRef;
    if (!ref || !ref.entity) continue;
    const k = `${ref.entity}:${ref.id}`;
    if (regardingNames.has(k) || regardingPending.has(k)) continue;
    regardingPending.add(k);
    const col = entityNameColumn(settings, ref.entity);
    api.retrieve(entitySet(settings, ref.entity), ref.id, `?$select=${col}`)
      .then((rec) => regardingNames.set(k, rec[col] || ref.id))
      .catch(() => regardingNames.set(k, `${ref.entity} ${ref.id.slice(0, 8)}…`))
      .finally(() => regardingPending.delete(k));
  }
}

// ---- start ----

async function loadSettings() {
  try {
    const res = await fetch("/demo/api/settings", { headers: { Accept: "application/json" } });
    if (!res.ok) throw new Error(await errorText(res));
    const s = await res.json();
    settings = { entities: [], agents: [], scenarios: [], ...s };
  } catch (err) {
    status(`Demo settings could not be read (${err.message}): calls cannot be placed.`, true);
  }
  // getEnvironment reports the signed-in CRM user, as Dynamics does; the
  // widget relates calls with it (the agent is a party of the phone call),
  // so it must be a systemuser the CRM holds: ask the CRM who we are.
  let userId = "";
  try {
    const who = await api.request("GET", "/WhoAmI");
    if (who.json && who.json.UserId) userId = `{${who.json.UserId}}`;
  } catch (err) {
    status(`The CRM user could not be read (${err.message}): relating calls to records will fail.`, true);
  }
  host = createCIFHost({ api, settings, ui, origin: location.origin, user: { username: $("demo-user").textContent, userId } });
  resolveHost(host);
  renderControls();
}

$("hangup").addEventListener("click", hangUp);
$("panel-toggle").addEventListener("click", () => {
  const docked = $("cif-panel").dataset.mode === "1";
  const mode = docked ? 0 : 1;
  ui.setMode(mode);
  if (host) host.state.mode = mode;
  emit("onmodechanged", { value: mode });
});

renderCurrentCall();
await loadSettings();
refreshActivities();
setInterval(refreshActivities, 2000);
refreshCall();
setInterval(refreshCall, 1000);
