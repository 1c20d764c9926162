// host.mjs: the demo host page's logic, apart from the DOM (demo.js) so
// node's test runner can check it (host.test.mjs).
//
// The demo host stands in for the Dynamics 365 page around the CIF panel. It
// answers the CIF library stand-in (web/cif/msdyn_ciLibrary.js) by calling the
// sandbox's Dataverse Web API on its own origin, as Dynamics answers the real
// library with Xrm.WebApi. createCIFHost maps each CIF method onto Web API
// requests and onto what the record pane shows (the ui object demo.js gives).

/** The Web API root the demo calls. */
export const API_BASE = "/api/data/v9.2";

/** Protocol name shared with msdyn_ciLibrary.js. */
export const PROTOCOL = "ctibridge-cif/1";

/** Headers every Web API request carries. */
export const ODATA_HEADERS = Object.freeze({
  "OData-Version": "4.0",
  "OData-MaxVersion": "4.0",
  Accept: "application/json",
});

const ACTIVITY_TABLES = new Set(["activitypointer", "phonecall", "task", "appointment", "email", "letter", "fax"]);

/** The call types of the reference config. */
export const CALL_TYPES = Object.freeze(["inbound", "outbound", "preview", "manual"]);

/** A Web API error: message is Dataverse's, detail names the request. */
export class WebAPIError extends Error {
  constructor(method, path, status, code, message) {
    super(message || `HTTP ${status}`);
    this.name = "WebAPIError";
    this.status = status;
    this.code = code || "";
    this.detail = `${method} ${path}: HTTP ${status}${code ? " " + code : ""}`;
  }
}

/** Returns the config entity named name, or undefined. */
export function entityDef(settings, name) {
  return ((settings && settings.entities) || []).find((e) => e && e.name === name);
}

/** The Web API entity set of a logical name: the config's plural, else name + "s". */
export function entitySet(settings, name) {
  const def = entityDef(settings, name);
  if (def && def.plural) return def.plural;
  if (name === "activitypointer") return "activitypointers";
  return `${name}s`;
}

/** The primary key column of a logical name. */
export function entityKey(settings, name) {
  const def = entityDef(settings, name);
  if (def && def.key) return def.key;
  return ACTIVITY_TABLES.has(name) ? "activityid" : `${name}id`;
}

/** The column that names records of a logical name. */
export function entityNameColumn(settings, name) {
  const cols = (entityDef(settings, name) || {}).columns || [];
  for (const c of ["fullname", "name", "subject"]) if (cols.includes(c)) return c;
  if (cols.length) return cols[0];
  if (name === "contact" || name === "lead") return "fullname";
  return ACTIVITY_TABLES.has(name) ? "subject" : "name";
}

/** A record id without braces, lower case. */
export function cleanId(id) {
  return String(id || "").replace(/[{}]/g, "").trim().toLowerCase();
}

/** The id at the end of an OData-EntityId header (…/contacts(<guid>)). */
export function idFromEntityIdHeader(header) {
  const m = /\(([^()]+)\)\s*$/.exec(header || "");
  return m ? cleanId(m[1]) : "";
}

/**
 * Splits CIF queryParameters into the Web API query (without $search, which
 * the Web API does not have) and the decoded search text.
 */
export function stripSearch(query) {
  const body = String(query || "").replace(/^\?/, "");
  const kept = [];
  let searchText = "";
  let hadSearch = false;
  for (const part of body.split("&")) {
    if (part === "") continue;
    if (part.startsWith("$search=")) {
      hadSearch = true;
      const raw = part.slice("$search=".length);
      try {
        searchText = decodeURIComponent(raw.replace(/\+/g, " "));
      } catch {
        searchText = raw;
      }
      continue;
    }
    kept.push(part);
  }
  return { lookup: kept.length ? "?" + kept.join("&") : "", searchText, hadSearch };
}

/** Escapes a string literal for a $filter in a query string. */
export function odataLiteral(value) {
  return encodeURIComponent(String(value).replace(/'/g, "''"));
}

/** Whether a column is searched by the search page's text: text columns,
 * not the do-not-contact flags. */
function searchable(col) {
  return !/^donot/.test(col) && !/^_.*_value$/.test(col) && !/code$/.test(col);
}

/**
 * The Web API query the search page runs for a search text: contains() on
 * the entity's text columns (Dataverse search is a separate endpoint the
 * sandbox need not have), 50 rows at most.
 */
export function textSearchQuery(settings, entity, text) {
  const def = entityDef(settings, entity);
  const cols = ((def && def.columns) || []).filter(searchable);
  const key = entityKey(settings, entity);
  const parts = [];
  const select = def && def.columns && def.columns.length ? [key, ...def.columns.filter((c) => c !== key)] : [];
  if (select.length) parts.push(`$select=${select.join(",")}`);
  const t = String(text || "").trim();
  if (t) {
    const targets = cols.length ? cols : [entityNameColumn(settings, entity)];
    parts.push(`$filter=${targets.map((c) => `contains(${c},'${odataLiteral(t)}')`).join(" or ")}`);
  }
  parts.push("$top=50");
  return "?" + parts.join("&");
}

/** A Unified Interface page URL, the value of onpagenavigate. */
export function pageURL(origin, { pageType, entity, id, searchText } = {}) {
  const u = new URL("/main.aspx", origin);
  u.searchParams.set("appid", "ctibridge-demo");
  u.searchParams.set("pagetype", pageType || "dashboard");
  if (entity) u.searchParams.set("etn", entity);
  if (id) u.searchParams.set("id", id);
  if (searchText) u.searchParams.set("searchText", searchText);
  return u.href;
}

/** Whether a column holds a phone number shown as a click-to-act link. */
export function isPhoneField(name, value) {
  if (typeof value !== "string" || value.trim() === "") return false;
  return /^(telephone\d*|mobilephone|phonenumber|address\d+_telephone\d+|businessphone|homephone|phone\d*)$/i.test(name);
}

/** Whether a column is a Yes/No flag in the demo's forms. */
export function isFlagField(name) {
  return /^donot/.test(name);
}

// System columns Dynamics keeps off the main form.
const SYSTEM_COLUMNS = /^(createdon|modifiedon|overriddencreatedon|versionnumber|statecode|statuscode|importsequencenumber|timezoneruleversionnumber|utcconversiontimezonecode|exchangerate)$/;

/**
 * The columns a record form shows: the entity's configured columns first,
 * then any other plain attribute of the record (no annotations, lookups,
 * keys or system columns).
 */
export function formColumns(settings, entity, record) {
  const def = entityDef(settings, entity);
  const key = entityKey(settings, entity);
  const cols = [];
  for (const c of (def && def.columns) || []) if (c !== key && !cols.includes(c)) cols.push(c);
  for (const c of Object.keys(record || {})) {
    if (c === key || c.includes("@") || /^_.*_value$/.test(c) || SYSTEM_COLUMNS.test(c) || cols.includes(c)) continue;
    const v = record[c];
    if (v !== null && typeof v === "object") continue;
    cols.push(c);
  }
  return cols;
}

/** Turns form values {column: string|boolean} into a record body: empty text
 * is left out on create and sent as null on update, so clearing a field works. */
export function recordFromForm(values, { update = false } = {}) {
  const out = {};
  for (const [k, v] of Object.entries(values)) {
    if (typeof v === "boolean") out[k] = v;
    else if (v === "" || v == null) {
      if (update) out[k] = null;
    } else out[k] = v;
  }
  return out;
}

// Display names of common Dataverse columns, as Dynamics' forms label them.
const COLUMN_LABELS = {
  fullname: "Full name",
  firstname: "First name",
  lastname: "Last name",
  name: "Name",
  telephone1: "Business phone",
  telephone2: "Home phone",
  telephone3: "Other phone",
  mobilephone: "Mobile phone",
  fax: "Fax",
  emailaddress1: "Email",
  jobtitle: "Job title",
  donotphone: "Do not allow phone calls",
  donotemail: "Do not allow emails",
  subject: "Subject",
  phonenumber: "Phone number",
  description: "Description",
};

// Where a table's form names a column otherwise (an account's telephone1 is
// its main phone, not a business phone; it has no home phone).
const ENTITY_COLUMN_LABELS = {
  account: { telephone1: "Main phone", telephone2: "Other phone", telephone3: "Telephone 3", name: "Account name" },
  lead: { companyname: "Company name" },
};

Object.assign(COLUMN_LABELS, {
  companyname: "Company name",
  websiteurl: "Website",
  address1_city: "City",
  address1_line1: "Street",
  address1_postalcode: "Postal code",
  address1_country: "Country",
  emailaddress2: "Email address 2",
});

/** The form label of a column: Dynamics' display name for common columns
 * (of entity's table when it names it otherwise), else the logical name
 * made readable. */
export function columnLabel(col, entity = "") {
  const own = ENTITY_COLUMN_LABELS[entity];
  return (own && own[col]) || COLUMN_LABELS[col] || humanize(String(col).replace(/^new_/, ""));
}

// Tables whose fullname Dataverse computes from firstname and lastname: a
// form cannot write it, so it offers first and last name instead.
const COMPUTED_FULLNAME = new Set(["contact", "lead"]);

/**
 * The new-record form's columns and values for entity, prefilled with
 * params: the entity's columns, then those params add. A contact's or a
 * lead's full name is computed from its first and last name, so the form
 * offers those two in its place, and a prefilled full name is split between
 * them (the last word is the last name).
 * @returns {{columns: string[], values: object}}
 */
export function newRecordForm(settings, entity, params = {}) {
  const values = { ...(params || {}) };
  const columns = [];
  const add = (c) => {
    if (!columns.includes(c)) columns.push(c);
  };
  const nameCol = entityNameColumn(settings, entity);
  const def = entityDef(settings, entity);
  add(nameCol);
  for (const c of (def && def.columns) || []) add(c);
  for (const c of Object.keys(values)) add(c);
  if (!COMPUTED_FULLNAME.has(entity)) return { columns, values };
  const at = columns.indexOf("fullname");
  if (at < 0) return { columns, values };
  columns.splice(at, 1, "firstname", "lastname");
  const full = String(values.fullname || "").trim();
  delete values.fullname;
  if (full && values.firstname === undefined && values.lastname === undefined) {
    const cut = full.lastIndexOf(" ");
    if (cut < 0) values.lastname = full;
    else {
      values.firstname = full.slice(0, cut).trim();
      values.lastname = full.slice(cut + 1);
    }
  }
  return { columns: columns.filter((c, i) => columns.indexOf(c) === i), values };
}

/** Humanises a scenario id: "inbound-single-match" → "Inbound single match". */
export function humanize(id) {
  const s = String(id || "").replace(/[-_]+/g, " ").trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

// Labels of the telephony simulator's scenarios (internal/telephony).
const SCENARIO_LABELS = {
  single: "One contact matches",
  several: "Several contacts match",
  none: "No match",
  account: "An account matches",
  lead: "A lead matches",
};

/**
 * Reads settings.scenarios into [{id, label, callType}]. A scenario is the
 * simulator's scenario name ("single", "several", "none", ...), placed with
 * the call type chosen on the page (callType ""), or an object
 * {id|name, label, callType} fixing its call type.
 */
export function normalizeScenarios(scenarios) {
  const out = [];
  for (const s of scenarios || []) {
    const obj = typeof s === "string" ? { id: s } : s || {};
    const id = String(obj.id || obj.name || obj.scenario || "");
    if (!id) continue;
    const callType = String(obj.callType || "").toLowerCase();
    if (callType && !CALL_TYPES.includes(callType)) continue;
    out.push({ id, label: String(obj.label || obj.title || obj.description || SCENARIO_LABELS[id] || humanize(id)), callType });
  }
  return out;
}

// How the telephony panel names the simulator's call phases
// (internal/telephony.CallStatus.Phase).
const PHASE_LABELS = {
  previewing: "Preview, not dialled",
  alerting: "Ringing",
  connected: "Connected",
  wrapping: "Wrapping up",
};

/**
 * What the telephony panel shows, from GET /demo/api/agents/{id}/call
 * ({call, last}, the simulator's view of the agent's calls) and labels, the
 * scenario labels of calls this page placed (interactionId → label):
 *   {interactionId, phase, text, lastText, canHangUp}
 * interactionId is "" when the agent has no call in progress: a preview the
 * agent skipped, or any call wrapped, leaves the panel as it leaves the
 * widget, and lastText says how it ended.
 */
export function callPanel(view, labels = new Map()) {
  const call = view && view.call;
  const last = view && view.last;
  const out = { interactionId: "", phase: "", text: "No simulated call", lastText: "", canHangUp: false };
  if (call && call.interactionId) {
    const parts = [call.interactionId, labels.get(call.interactionId) || humanize(call.callType || "call")];
    if (call.leadName) parts.push(call.leadName);
    if (call.number) parts.push(call.number);
    parts.push(PHASE_LABELS[call.phase] || humanize(call.phase || ""));
    const due = dueText(call);
    if (due) parts.push(due);
    out.interactionId = call.interactionId;
    out.phase = call.phase || "";
    out.text = parts.filter(Boolean).join(" · ");
    // Only a call that is ringing or talking can be hung up: a preview is
    // dialled or skipped, and an ended call is wrapped, in the widget.
    out.canHangUp = call.phase === "alerting" || call.phase === "connected";
  }
  if (last && last.interactionId && last.interactionId !== out.interactionId) {
    const code = last.wrapCode ? ` (wrap code ${last.wrapCode})` : "";
    out.lastText = last.phase === "skipped"
      ? `Preview ${last.interactionId}${last.leadName ? " to " + last.leadName : ""} skipped${code}.`
      : `Call ${last.interactionId} wrapped${code}.`;
  }
  return out;
}

// What the simulator does by itself when a phase's time runs out (demo
// --ring-time, --talk-time, --wrap-time).
const DUE_STEPS = {
  previewing: "dialled automatically",
  alerting: "connects",
  connected: "customer hangs up",
  wrapping: "auto-wrap",
};

/** The countdown to the simulator's next step of the call, "" for none:
 * "customer hangs up in 0:42". */
export function dueText(call) {
  const ms = Number(call && call.dueInMs);
  const step = call && DUE_STEPS[call.phase];
  if (!step || !(ms > 0)) return "";
  const secs = Math.ceil(ms / 1000);
  return `${step} in ${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, "0")}`;
}

/** Activity state names by statecode. */
export const ACTIVITY_STATES = Object.freeze({ 0: "open", 1: "completed", 2: "canceled" });

const FORMATTED = "@OData.Community.Display.V1.FormattedValue";
const LOOKUP_ENTITY = "@Microsoft.Dynamics.CRM.lookuplogicalname";

/**
 * The Activities list rows from the Web API's phonecalls and tasks:
 * newest first, at most limit. names maps "entity:id" to a resolved
 * regarding name; fields names the wrap code and interaction id columns.
 */
export function activityRows(phonecalls, tasks, { names = new Map(), fields = {}, limit = 20 } = {}) {
  const wrapCol = fields.callDispositionField || "new_wrapcode";
  const ixCol = fields.agentInteractionId || "new_agentinteractionid";
  const row = (kind) => (r) => {
    const regId = r._regardingobjectid_value || "";
    const regEntity = r[`_regardingobjectid_value${LOOKUP_ENTITY}`] || "";
    const regName = r[`_regardingobjectid_value${FORMATTED}`] || (regId && names.get(`${regEntity}:${cleanId(regId)}`)) || "";
    return {
      kind,
      id: r.activityid || "",
      subject: r.subject || "",
      number: r.phonenumber || "",
      state: ACTIVITY_STATES[r.statecode] || (r.statecode === undefined ? "open" : String(r.statecode)),
      wrapCode: r[wrapCol] || "",
      interactionId: r[ixCol] || "",
      regarding: regName || (regId ? `${regEntity ? regEntity + " " : ""}${cleanId(regId).slice(0, 8)}…` : ""),
      regardingRef: regId ? { entity: regEntity, id: cleanId(regId) } : null,
      createdon: r.createdon || "",
    };
  };
  const rows = [...(phonecalls || []).map(row("phonecall")), ...(tasks || []).map(row("task"))];
  rows.sort((a, b) => (a.createdon < b.createdon ? 1 : a.createdon > b.createdon ? -1 : 0));
  return rows.slice(0, limit);
}

/** The Activities list's Web API queries. */
export function activityQueries(fields = {}) {
  const wrapCol = fields.callDispositionField || "new_wrapcode";
  const ixCol = fields.agentInteractionId || "new_agentinteractionid";
  return {
    phonecalls: `/phonecalls?$select=subject,phonenumber,statecode,statuscode,${wrapCol},${ixCol},_regardingobjectid_value,createdon&$orderby=createdon desc&$top=20`,
    tasks: `/tasks?$select=subject,statecode,statuscode,${ixCol},_regardingobjectid_value,createdon&$orderby=createdon desc&$top=20`,
  };
}

/**
 * WebAPI calls the Dataverse Web API under base with fetchFn (window.fetch or
 * a test double). Errors throw WebAPIError carrying Dataverse's message.
 */
export class WebAPI {
  constructor(fetchFn, base = API_BASE) {
    this.fetch = fetchFn;
    this.base = base;
  }

  async request(method, path, { body, headers = {} } = {}) {
    const h = { ...ODATA_HEADERS, ...headers };
    const init = { method, headers: h };
    if (body !== undefined) {
      h["Content-Type"] = "application/json; charset=utf-8";
      init.body = typeof body === "string" ? body : JSON.stringify(body);
    }
    const res = await this.fetch(this.base + path, init);
    const text = res.status === 204 ? "" : await res.text();
    let json = null;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
    }
    if (!res.ok) {
      const err = (json && json.error) || {};
      throw new WebAPIError(method, path, res.status, err.code, err.message || text.slice(0, 200) || res.statusText);
    }
    return { status: res.status, headers: res.headers, json };
  }

  /** Rows of a collection query (path is "/contacts?..."). */
  async list(path) {
    const r = await this.request("GET", path);
    return (r.json && r.json.value) || [];
  }

  /** One record. */
  async retrieve(set, id, query = "") {
    const r = await this.request("GET", `/${set}(${cleanId(id)})${query || ""}`);
    return r.json || {};
  }

  /** Creates a record and returns its id. */
  async create(set, data, key) {
    const r = await this.request("POST", `/${set}`, { body: data });
    const header = r.headers && (r.headers.get ? r.headers.get("OData-EntityId") : r.headers["OData-EntityId"]);
    const id = idFromEntityIdHeader(header) || (r.json && key && cleanId(r.json[key])) || "";
    if (!id) throw new WebAPIError("POST", `/${set}`, r.status, "", "the Web API returned no OData-EntityId for the new record");
    return id;
  }

  /** Updates an existing record (If-Match: * so a missing record is a 404, not a new record). */
  async update(set, id, data) {
    await this.request("PATCH", `/${set}(${cleanId(id)})`, { body: data, headers: { "If-Match": "*" } });
  }

  /** Deletes a record. */
  async remove(set, id) {
    await this.request("DELETE", `/${set}(${cleanId(id)})`);
  }
}

function parseJSONArg(s, what) {
  if (s === undefined || s === null || s === "") return {};
  if (typeof s !== "string") return s;
  try {
    return JSON.parse(s);
  } catch (e) {
    throw new Error(`${what}: not valid JSON (${e.message})`);
  }
}

function truthy(v) {
  return v === true || v === "true" || v === 1 || v === "1";
}

/** The error object sent back to the library for a failed call. */
export function errorReply(err) {
  return { message: (err && err.message) || String(err), code: (err && err.code) || "" };
}

/**
 * createCIFHost answers CIF calls. ui is what the page does:
 *   openRecord(entity, id)            show the record form (and raise onpagenavigate)
 *   showSearch(entity, text, records) show the search page
 *   showNewForm(entity, params)       show a new-record form prefilled with params
 *   setClickToAct(bool)               make phone fields clickable or not
 *   setMode(n), setWidth(px) -> px    change the CIF panel
 *   emit(name, data)                  raise an event in the widget
 *   page() -> {pageType, entity, id}  what the record pane shows
 * Each method resolves with the JSON string CIF would resolve with. cif2,
 * from createCIF2Host (cif2host.mjs), adds CIF 2.0's multi-session APIs.
 */
export function createCIFHost({ api, settings, ui, origin, user = {}, cif2 = null }) {
  const state = { clickToAct: false, mode: 1, width: 340 };
  const set = (entity) => entitySet(settings, entity);
  const keyed = (rows) => JSON.stringify(Object.fromEntries(rows.map((r, i) => [String(i), r])));
  const need = (v, what) => {
    if (typeof v !== "string" || v === "") throw new Error(`${what}: is required`);
    return v;
  };

  const methods = {
    async searchAndOpenRecords(entity, queryParameters, searchOnly) {
      need(entity, "searchAndOpenRecords entityLogicalName");
      const { lookup, searchText, hadSearch } = stripSearch(queryParameters);
      const rows = await api.list(`/${set(entity)}${lookup}`);
      if (!truthy(searchOnly)) {
        // CIF opens the record only for exactly one match and no $search.
        if (rows.length === 1 && !hadSearch) {
          await ui.openRecord(entity, cleanId(rows[0][entityKey(settings, entity)]));
        } else {
          await ui.showSearch(entity, searchText, rows);
        }
      }
      return keyed(rows.slice(0, 5000));
    },

    async renderSearchPage(entity, searchString) {
      need(entity, "renderSearchPage entityLogicalName");
      const rows = await api.list(`/${set(entity)}${textSearchQuery(settings, entity, searchString)}`);
      await ui.showSearch(entity, searchString || "", rows);
      return "";
    },

    async openForm(entityFormOptions, formParameters) {
      const opts = parseJSONArg(entityFormOptions, "openForm entityFormOptions");
      const params = parseJSONArg(formParameters, "openForm formParameters");
      need(opts.entityName, "openForm entityFormOptions.entityName");
      if (params === null || typeof params !== "object" || Array.isArray(params)) {
        throw new Error("openForm formParameters: expected a JSON object of column values");
      }
      if (opts.entityId) {
        await ui.openRecord(opts.entityName, cleanId(opts.entityId));
      } else {
        await ui.showNewForm(opts.entityName, params);
      }
      return JSON.stringify({ savedEntityReference: [] });
    },

    async createRecord(entity, data) {
      need(entity, "createRecord entityLogicalName");
      const id = await api.create(set(entity), parseJSONArg(data, "createRecord data"), entityKey(settings, entity));
      return JSON.stringify({ id, entityType: entity });
    },

    async updateRecord(entity, id, data) {
      need(entity, "updateRecord entityLogicalName");
      need(id, "updateRecord entityId");
      await api.update(set(entity), id, parseJSONArg(data, "updateRecord data"));
      return JSON.stringify({ id: cleanId(id), entityType: entity });
    },

    async retrieveRecord(entity, id, options) {
      need(entity, "retrieveRecord entityLogicalName");
      need(id, "retrieveRecord entityId");
      const q = options ? (String(options).startsWith("?") ? options : "?" + options) : "";
      return JSON.stringify(await api.retrieve(set(entity), id, q));
    },

    async deleteRecord(entity, id) {
      need(entity, "deleteRecord entityLogicalName");
      need(id, "deleteRecord entityId");
      await api.remove(set(entity), id);
      return JSON.stringify({ id: cleanId(id), entityType: entity });
    },

    async setClickToAct(value) {
      state.clickToAct = truthy(value);
      ui.setClickToAct(state.clickToAct);
      return "";
    },

    async getClickToAct() {
      return JSON.stringify(state.clickToAct);
    },

    async setMode(mode) {
      const m = Number(mode);
      if (![0, 1, 2].includes(m)) throw new Error(`setMode: ${mode} is not 0 (minimised), 1 (docked) or 2 (hidden)`);
      if (m !== state.mode) {
        state.mode = m;
        ui.setMode(m);
        ui.emit("onmodechanged", { value: m });
      }
      return "";
    },

    async getMode() {
      return JSON.stringify(state.mode);
    },

    async setWidth(width) {
      const w = Number(width);
      if (!Number.isFinite(w) || w <= 0) throw new Error(`setWidth: ${width} is not a width in pixels`);
      const actual = ui.setWidth(w) || w;
      if (actual !== state.width) {
        state.width = actual;
        ui.emit("onsizechanged", { value: actual });
      }
      return "";
    },

    async getWidth() {
      return JSON.stringify(state.width);
    },

    async getEnvironment() {
      const page = (ui.page && ui.page()) || {};
      return JSON.stringify({
        appid: "ctibridge-demo",
        clientUrl: origin,
        crmVersion: "9.2.0.0",
        orgId: settings.orgId || "00000000-0000-0000-0000-00000000d3e0",
        orgUniqueName: settings.orgUniqueName || "ctibridgedemo",
        orgGeo: "local",
        userId: user.userId || "{00000000-0000-0000-0000-0000000a6e47}",
        username: user.username || "Demo Agent",
        userLcid: 1033,
        pagetype: page.pageType || "dashboard",
        etn: page.entity || "",
        id: page.id || "",
        customParams: settings.customParams || "",
      });
    },
  };

  return {
    state,
    /** Answers one CIF call: resolves with its JSON string, rejects with an Error. */
    async handle(method, args) {
      // cif2 (cif2host.mjs) adds CIF 2.0's session, notification and
      // presence APIs.
      const all = cif2 ? { ...methods, ...cif2.methods } : methods;
      const fn = Object.prototype.hasOwnProperty.call(all, method) ? all[method] : null;
      if (!fn) throw new Error(`Microsoft.CIFramework.${method} is not supported by the ctibridge demo host`);
      return fn(...(Array.isArray(args) ? args : []));
    },
  };
}
