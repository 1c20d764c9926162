// core.mjs: the widget's decisions, free of the DOM and the network so node's
// test runner can check them (core.test.mjs).
//
// - executePop: runs a screen-pop decision through a Microsoft.CIFramework-like
//   object exactly as docs/widget-protocol.md "Executing a pop" says.
// - runWrite: runs one CRM write (write mode "cif") through the same object;
//   an upsert by alternate key searches first, so a retry never duplicates.
// - RelationChoices: the model behind the Person and Organisation select boxes.
// - WidgetSession: what each server message does to the widget's state, and
//   which side effects (pop, writes, click-to-act) it asks for.
// - EventOutbox: the telephony events a browser provider reports, kept until
//   the server acknowledges them and sent again after a reconnect.
// - small helpers: records from CIF's JSON strings, page URLs, back-off, timers.
//
// CIF takes and returns JSON strings; everything here parses and stringifies
// at that boundary and works with plain objects inside.

/** Pop outcomes reported in popResult. */
export const Outcome = Object.freeze({ RECORD: "record", SEARCH: "search", NEW: "new", NONE: "none" });

/** Most matches a popResult carries and the select boxes list; CIF returns
 * up to 5000 rows and the server reads at most 64 KiB per widget message. */
export const MAX_MATCHES = 50;

/** Entity types of the config's entities, one per select box. */
export const EntityType = Object.freeze({ PERSON: "person", ORGANISATION: "entity" });

// Tables whose primary key is activityid rather than <logicalname>id.
const ACTIVITY_TABLES = new Set([
  "activitypointer", "phonecall", "task", "appointment", "email", "letter", "fax",
  "recurringappointmentmaster", "socialactivity", "campaignactivity", "serviceappointment",
]);

/**
 * Parses the JSON string CIF resolves searchAndOpenRecords with. Dynamics
 * answers an object keyed by row number ({"0": {...}, "1": {...}}); an array
 * or a Web API collection ({"value": [...]}) is read the same way.
 * @param {string|object} result
 * @returns {object[]}
 */
export function parseRecords(result) {
  let data = result;
  if (typeof result === "string") {
    data = result.trim() === "" ? {} : JSON.parse(result);
  }
  if (data == null) return [];
  if (Array.isArray(data)) return data;
  if (typeof data !== "object") throw new Error(`search result: expected a JSON object of records, got ${typeof data}`);
  if (Array.isArray(data.value)) return data.value;
  return Object.keys(data)
    .filter((k) => /^\d+$/.test(k))
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => data[k]);
}

/** Parses a JSON string CIF resolved with; "" and undefined are {}. */
export function parseJSONResult(result, what) {
  if (result == null || result === "") return {};
  if (typeof result !== "string") return result;
  try {
    return JSON.parse(result);
  } catch (err) {
    throw new Error(`${what}: CIF answered something that is not JSON: ${String(result).slice(0, 80)}`);
  }
}

/** Returns the config entity named name, or undefined when it is not listed. */
export function findEntity(entities, name) {
  return (entities || []).find((e) => e && e.name === name);
}

/** The primary key column of an entity: the config's key, else Dataverse's
 * convention (activityid for activity tables, <name>id otherwise). */
export function primaryKeyOf(entityName, entities) {
  const def = findEntity(entities, entityName);
  if (def && def.key) return def.key;
  if (ACTIVITY_TABLES.has(entityName)) return "activityid";
  return `${entityName}id`;
}

/** The column that names a record: fullname or name when the entity's query
 * columns list them, else its first column, else Dataverse's usual names. */
export function nameColumn(entityName, entities) {
  const def = findEntity(entities, entityName);
  const cols = (def && def.columns) || [];
  for (const c of ["fullname", "name", "subject", "title"]) {
    if (cols.includes(c)) return c;
  }
  if (cols.length > 0) return cols[0];
  if (entityName === "contact" || entityName === "lead" || entityName === "systemuser") return "fullname";
  if (ACTIVITY_TABLES.has(entityName)) return "subject";
  return "name";
}

/** The display name of a record: its name column, else other usual name
 * columns, else its id. */
export function recordName(record, entityName, entities) {
  const col = nameColumn(entityName, entities);
  for (const c of [col, "fullname", "name", "subject"]) {
    const v = record && record[c];
    if (typeof v === "string" && v.trim() !== "") return v;
  }
  return String(recordId(record, entityName, entities) || "(no name)");
}

/** The id of a record, from the entity's primary key column. */
export function recordId(record, entityName, entities) {
  if (!record) return "";
  const key = primaryKeyOf(entityName, entities);
  return record[key] || record.id || "";
}

/** Turns CIF records into popResult matches [{entity, id, name}]. */
export function recordsToMatches(entityName, records, entities, limit = MAX_MATCHES) {
  const out = [];
  for (const r of records) {
    if (out.length >= limit) break;
    const id = recordId(r, entityName, entities);
    if (!id) continue;
    out.push({ entity: entityName, id: String(id), name: recordName(r, entityName, entities) });
  }
  return out;
}

/** The new-record form parameters of a decision: mapped values that are set. */
export function prefillOf(decision) {
  const m = {};
  for (const v of decision.values || []) {
    if (v && v.name && v.value !== undefined && v.value !== null && v.value !== "") m[v.name] = v.value;
  }
  return m;
}

/**
 * The message of a failed CIF call, for the agent. CIF rejects with a JSON
 * string such as {"message": "...", "msdyn_name": "NotifyEvent"} (Microsoft
 * Learn, e.g. notifyEvent's errorCallback), not an Error, so err.message is
 * undefined: the message is read from inside the string. Errors, plain
 * objects and other strings give their own text.
 */
export function cifErrorMessage(err) {
  if (err == null) return "unknown error";
  if (typeof err === "string") {
    const t = err.trim();
    if (t.startsWith("{")) {
      try {
        const o = JSON.parse(t);
        if (o && typeof o === "object") return cifErrorMessage(o);
      } catch {
        // Not JSON after all: the string is the message.
      }
    }
    return err;
  }
  if (typeof err === "object") {
    const m = err.message !== undefined ? err.message : err.errorMessage;
    if (typeof m === "string" && m !== "") return m.trim().startsWith("{") ? cifErrorMessage(m) : m;
    if (m && typeof m === "object") return cifErrorMessage(m);
  }
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}

const errorMessage = cifErrorMessage;

/** Entities whose records CIF's searchAndOpenRecords shows on its search page
 * when several match: "only account, contact and activity" (Microsoft
 * Learn, searchAndOpenRecords, CIF 1.0). */
export function cifSearchPageShows(entity) {
  return entity === "account" || entity === "contact" || ACTIVITY_TABLES.has(entity);
}

/**
 * Executes a screen-pop decision through cif (Microsoft.CIFramework or a test
 * double) as docs/widget-protocol.md "Executing a pop" says:
 *  1. skip: nothing is searched; with addNewRecord the new-record form opens.
 *  2. searchAndOpenRecords(entity, lookupQuery, true) counts the matches.
 *  3. one match: searchAndOpenRecords(entity, lookupQuery, false) opens it
 *     (lookupQuery has no $search, so CIF opens the record, not a search page).
 *  4. none: addNewRecord opens the new-record form, otherwise renderSearchPage.
 *  5. several: renderSearchPage(entity, searchText) with the decoded search
 *     text; without one, searchAndOpenRecords(entity, lookupQuery, false)
 *     for the entities CIF's search page lists (account, contact,
 *     activities). For any other entity the result has picker: true and
 *     the widget lists the matches to open (CIF would not show them).
 * A query that is nothing but $search has no lookup to count with: the search
 * page opens with the search text.
 *
 * @param {object} cif the CIF API
 * @param {object} decision the pop message's decision
 * @param {{entities?: object[], now?: () => number}} opts
 * @returns {Promise<{outcome: string, matches: object[], total: number, ms: number, error?: string}>}
 *   total is the number of records the lookup found (matches holds at most MAX_MATCHES).
 */
export async function executePop(cif, decision, opts = {}) {
  const now = opts.now || (() => Date.now());
  const entities = opts.entities || [];
  const started = now();
  const done = (outcome, matches, total, error) => {
    const r = { outcome, matches, total, ms: Math.max(0, Math.round(now() - started)) };
    if (error) r.error = error;
    return r;
  };
  if (!decision || !decision.entity) {
    return done(Outcome.NONE, [], 0, "pop: the decision names no entity");
  }
  const entity = decision.entity;
  const openNewForm = () =>
    cif.openForm(JSON.stringify({ entityName: entity }), JSON.stringify(prefillOf(decision)));
  try {
    if (decision.skip) {
      if (decision.addNewRecord) {
        await openNewForm();
        return done(Outcome.NEW, [], 0);
      }
      return done(Outcome.NONE, [], 0);
    }
    if (!decision.lookupQuery) {
      await cif.renderSearchPage(entity, decision.searchText || "");
      return done(Outcome.SEARCH, [], 0);
    }
    const records = parseRecords(await cif.searchAndOpenRecords(entity, decision.lookupQuery, true));
    const matches = recordsToMatches(entity, records, entities);
    if (records.length === 1) {
      await cif.searchAndOpenRecords(entity, decision.lookupQuery, false);
      return done(Outcome.RECORD, matches, 1);
    }
    if (records.length === 0) {
      if (decision.addNewRecord) {
        await openNewForm();
        return done(Outcome.NEW, [], 0);
      }
      await cif.renderSearchPage(entity, decision.searchText || "");
      return done(Outcome.SEARCH, [], 0);
    }
    // Several matches. The search page gets the decoded search text, as in
    // the no-match case (searchAndOpenRecords would take it from the
    // query's percent-encoded $search). Without search text, CIF's own
    // search page lists only accounts, contacts and activities; for any
    // other entity the widget lists the matches itself (picker).
    if (decision.searchText) {
      await cif.renderSearchPage(entity, decision.searchText);
    } else if (cifSearchPageShows(entity)) {
      await cif.searchAndOpenRecords(entity, decision.lookupQuery, false);
    }
    const several = done(Outcome.SEARCH, matches, records.length);
    if (!cifSearchPageShows(entity)) several.picker = true;
    return several;
  } catch (err) {
    return done(Outcome.NONE, [], 0, `pop ${entity}: ${errorMessage(err)}`);
  }
}

/** A one-line description of a pop result for the agent. */
export function describePop(result, decision) {
  const entity = (decision && decision.entity) || "record";
  const time = ` (${result.ms} ms)`;
  if (result.error) return `Screen pop failed: ${result.error}`;
  switch (result.outcome) {
    case Outcome.RECORD:
      return `Opened ${result.matches[0] ? result.matches[0].name : "the matching " + entity}${time}`;
    case Outcome.SEARCH:
      if (result.total > 1 && result.picker && !(decision && decision.searchText)) return `${result.total} ${entity} matches: choose one below${time}`;
      if (result.total > 1) return `${result.total} ${entity} matches: search page opened${time}`;
      return `No ${entity} match: search page opened${time}`;
    case Outcome.NEW:
      if (decision && decision.skip) return `No number to search: new ${entity} form opened${time}`;
      return `No ${entity} match: new ${entity} form opened${time}`;
    default:
      if (decision && decision.skip) return "No number to search: nothing popped";
      return "Nothing popped";
  }
}

/**
 * Escapes a string literal for an OData $filter inside a query string: a
 * single quote is doubled, then the value is percent-encoded so '&', '+', '#'
 * and '$' cannot end or change the query.
 */
export function odataLiteral(value) {
  return encodeURIComponent(String(value).replace(/'/g, "''"));
}

/**
 * Reads one internal/activity.Write, as a `writes` message carries it, into
 * the form runWrite uses: {op, entity, recordId, key: {column, value} |
 * null, body, idempotencyKey}. Throws naming the field to fix.
 *
 * The Write names its target every way it knows: an alternate key
 * (keyColumn, keyValue) or the record id, which the server derives for
 * creates without an alternate key so a later update can name it.
 */
export function normalizeWrite(w, index = 0) {
  const at = `writes[${index}]`;
  if (!w || typeof w !== "object") throw new Error(`${at}: expected an object`);
  const op = String(w.op || "");
  if (!w.idempotencyKey) throw new Error(`${at}.idempotencyKey: is required`);
  if (!w.entity) throw new Error(`${at}.entity: is required (the table's logical name, which CIF takes)`);
  if (!["create", "update", "upsert"].includes(op)) throw new Error(`${at}.op: "${op}" is not create, update or upsert`);
  if (w.body !== undefined && (w.body === null || typeof w.body !== "object" || Array.isArray(w.body))) {
    throw new Error(`${at}.body: expected an object of columns`);
  }
  const key = w.keyColumn ? { column: String(w.keyColumn), value: w.keyValue == null ? "" : String(w.keyValue) } : null;
  if (key && key.value === "") throw new Error(`${at}.keyValue: is empty while keyColumn is ${key.column}`);
  const recordId = w.recordId ? String(w.recordId) : "";
  if (op === "upsert" && !key) throw new Error(`${at}.keyColumn: an upsert needs the alternate key (keyColumn, keyValue)`);
  if (op === "update" && !key && !recordId) throw new Error(`${at}: an update needs keyColumn or recordId`);
  return { op, entity: String(w.entity), recordId, key, body: w.body || {}, idempotencyKey: String(w.idempotencyKey) };
}

/** Finds the id of the record whose alternate key column holds value, or "". */
export async function findByKey(cif, entity, key, entities) {
  const pk = primaryKeyOf(entity, entities);
  const query = `?$select=${pk}&$filter=${key.column} eq '${odataLiteral(key.value)}'`;
  const rows = parseRecords(await cif.searchAndOpenRecords(entity, query, true));
  if (rows.length === 0) return "";
  return String(rows[0][pk] || rows[0].id || "");
}

/** Reports whether the record entity(id) exists; a failed lookup says no. */
async function recordExists(cif, entity, id, entities) {
  try {
    const rec = parseJSONResult(await cif.retrieveRecord(entity, id, `?$select=${primaryKeyOf(entity, entities)}`), "retrieveRecord");
    return !!rec && typeof rec === "object";
  } catch {
    return false;
  }
}

/**
 * Runs one CRM write through cif and returns the writeResult message.
 *  - create makes a record with the body;
 *  - update changes the record with recordId, else the one the alternate
 *    key finds;
 *  - upsert searches by the alternate key first and updates what it finds,
 *    or creates the record with the key column set: running it twice never
 *    makes two records.
 * opts: {entities, index}.
 */
export async function runWrite(cif, write, opts = {}) {
  const entities = opts.entities || [];
  let w;
  try {
    w = normalizeWrite(write, opts.index || 0);
  } catch (err) {
    return { type: "writeResult", idempotencyKey: (write && write.idempotencyKey) || "", error: errorMessage(err) };
  }
  const done = (id) => ({ type: "writeResult", idempotencyKey: w.idempotencyKey, id: String(id) });
  try {
    const create = async () => {
      const data = { ...w.body };
      if (w.key && data[w.key.column] === undefined) data[w.key.column] = w.key.value;
      const res = parseJSONResult(await cif.createRecord(w.entity, JSON.stringify(data)), "createRecord");
      if (!res.id) throw new Error("createRecord returned no id");
      return res.id;
    };
    const update = async (id) => {
      await cif.updateRecord(w.entity, id, JSON.stringify(w.body));
      return id;
    };
    switch (w.op) {
      case "create":
        try {
          return done(await create());
        } catch (err) {
          // A create that names its record id (the server derives it when
          // there is no alternate key) and is refused may be this very
          // create, run before its answer was lost: Dataverse refuses a
          // second record with the same id. If that record exists, it is done.
          if (w.recordId && (await recordExists(cif, w.entity, w.recordId, entities))) return done(w.recordId);
          throw err;
        }
      case "update": {
        let id = w.recordId;
        if (!id) {
          id = await findByKey(cif, w.entity, w.key, entities);
          if (!id) throw new Error(`no record has ${w.key.column} = ${w.key.value}`);
        }
        return done(await update(id));
      }
      default: {
        const id = await findByKey(cif, w.entity, w.key, entities);
        return done(id ? await update(id) : await create());
      }
    }
  } catch (err) {
    return { type: "writeResult", idempotencyKey: w.idempotencyKey, error: `${w.op} ${w.entity}: ${errorMessage(err)}` };
  }
}

/** Runs writes in order (a later write may update what an earlier one made)
 * and returns one writeResult per write. */
export async function runWrites(cif, writes, opts = {}) {
  const out = [];
  for (let i = 0; i < (writes || []).length; i++) out.push(await runWrite(cif, writes[i], { ...opts, index: i }));
  return out;
}

/**
 * The Person and Organisation select boxes: pop matches and records the agent
 * opens, for entities the config lists, grouped by the entity's type.
 */
export class RelationChoices {
  constructor(entities = []) {
    this.entities = entities;
    this.reset("");
  }

  /** Empties both boxes for a new interaction. */
  reset(interactionId) {
    this.interactionId = interactionId || "";
    this.items = [];
    this.chosen = { [EntityType.PERSON]: null, [EntityType.ORGANISATION]: null };
  }

  /** Sets the config entities (from hello.settings). */
  setEntities(entities) {
    this.entities = entities || [];
    this.items = this.items.filter((it) => this.typeOf(it.entity));
  }

  /** The select box type of an entity, or "" when the config does not list it. */
  typeOf(entity) {
    const def = findEntity(this.entities, entity);
    if (!def) return "";
    return def.type === EntityType.ORGANISATION ? EntityType.ORGANISATION : EntityType.PERSON;
  }

  /** Adds a record; returns false when its entity is not listed or it is
   * already there. source is "pop" or "navigate". */
  add(match, source = "pop") {
    if (!match || !match.entity || !match.id) return false;
    const type = this.typeOf(match.entity);
    if (!type) return false;
    const value = optionValue(match);
    const existing = this.items.find((it) => it.value === value);
    if (existing) {
      // A name that is only the id (a record listed before its name was
      // known) never replaces a real name.
      if (match.name && match.name !== String(match.id) && existing.name !== match.name) existing.name = match.name;
      return false;
    }
    if (this.items.filter((it) => it.type === type).length >= MAX_MATCHES * 2) return false;
    this.items.push({ value, type, entity: match.entity, id: String(match.id), name: match.name || String(match.id), source });
    return true;
  }

  /** Adds pop matches; a single match is also chosen in its box, since it
   * becomes the activity's default relation on the server. */
  addPopMatches(matches) {
    let added = 0;
    for (const m of matches || []) if (this.add(m, "pop")) added++;
    if ((matches || []).length === 1) {
      const type = this.typeOf(matches[0].entity);
      if (type && !this.chosen[type]) this.chosen[type] = optionValue(matches[0]);
    }
    return added;
  }

  /** The options of one box: [{value, label, entity, id, selected}]. */
  options(type) {
    const several = new Set(this.items.filter((i) => i.type === type).map((i) => i.entity)).size > 1;
    return this.items
      .filter((it) => it.type === type)
      .map((it) => ({
        value: it.value,
        label: several ? `${it.name} (${it.entity})` : it.name,
        entity: it.entity,
        id: it.id,
        selected: this.chosen[type] === it.value,
      }));
  }

  /** Chooses an option ("" for none); returns whether the choice changed. */
  select(type, value) {
    if (type !== EntityType.PERSON && type !== EntityType.ORGANISATION) throw new Error(`select: unknown box ${type}`);
    const v = value || null;
    if (v && !this.items.some((it) => it.value === v && it.type === type)) {
      throw new Error(`select ${type}: ${v} is not one of the options`);
    }
    if (this.chosen[type] === v) return false;
    this.chosen[type] = v;
    return true;
  }

  /**
   * Takes the server's view of the call: its pop matches, and the relation
   * the server holds (selection, from a pop's single match or an agent's
   * choice in any tab). A selection with revision 0 is no choice yet and
   * leaves the boxes as they are.
   */
  applyServer(matches, selection) {
    for (const m of matches || []) this.add(m, "pop");
    if (!selection || !(selection.revision > 0)) return;
    for (const [slot, type] of [["person", EntityType.PERSON], ["organisation", EntityType.ORGANISATION]]) {
      const ref = selection[slot];
      if (!ref || !ref.entity || !ref.id) {
        this.chosen[type] = null;
        continue;
      }
      // A record chosen in another tab may be unknown here: list it by id.
      this.add({ entity: ref.entity, id: ref.id, name: ref.name || String(ref.id) }, "server");
      const value = optionValue(ref);
      if (this.items.some((it) => it.value === value && it.type === type)) this.chosen[type] = value;
    }
  }

  /** Records listed by id only, whose names are still to be looked up. */
  unnamed() {
    return this.items.filter((it) => it.name === it.id).map((it) => ({ entity: it.entity, id: it.id }));
  }

  /** Sets the name of a listed record. */
  rename(entity, id, name) {
    const it = this.items.find((i) => i.value === optionValue({ entity, id }));
    if (!it || !name || it.name === name) return false;
    it.name = name;
    return true;
  }

  /** The chosen record of a box as {entity, id}, or null. */
  selected(type) {
    const v = this.chosen[type];
    if (!v) return null;
    const it = this.items.find((i) => i.value === v);
    return it ? { entity: it.entity, id: it.id } : null;
  }

  /** The relate message for the current choices. */
  relateMessage() {
    return {
      type: "relate",
      interactionId: this.interactionId,
      person: this.selected(EntityType.PERSON),
      organisation: this.selected(EntityType.ORGANISATION),
    };
  }
}

/** The select option value of a record. */
export function optionValue(match) {
  return `${match.entity}:${match.id}`;
}

/**
 * Reads a Unified Interface page URL (onpagenavigate's value) into
 * {pageType, entity, id}. Record ids lose their braces and are lower-cased.
 */
export function parsePageURL(value) {
  const out = { pageType: "", entity: "", id: "" };
  if (!value) return out;
  let params;
  try {
    params = new URL(value, "https://placeholder.invalid/").searchParams;
  } catch {
    return out;
  }
  out.pageType = (params.get("pagetype") || "").toLowerCase();
  out.entity = params.get("etn") || "";
  out.id = (params.get("id") || "").replace(/[{}]/g, "").toLowerCase();
  return out;
}

/**
 * The dial message for CIF's onclicktoact event data (a JSON string such as
 * {"value":"123","name":"mobilephone","format":"phone","entityLogicalName":"contact"}).
 * The event names no record, so the record the agent last opened of that
 * entity (lastRecord {entity, id}) supplies recordId. Returns null when the
 * value is not a phone number.
 */
export function dialFromClickToAct(eventData, lastRecord) {
  const d = parseJSONResult(eventData, "onclicktoact");
  const number = String(d.value || "").trim();
  if (!number || (d.format && d.format !== "phone")) return null;
  const entity = d.entityLogicalName || "";
  let recordId = d.recordId || d.entityId || d.id || "";
  if (!recordId && lastRecord && lastRecord.entity === entity) recordId = lastRecord.id;
  return { type: "dial", number, entity, recordId: String(recordId).replace(/[{}]/g, "") };
}

/** The dial message that places a previewed call (the call is in state
 * "previewing": the lead is shown, nothing dialled yet), or null. */
export function previewDialMessage(call) {
  if (!call || call.state !== "previewing" || !call.number) return null;
  return { type: "dial", number: String(call.number), entity: "", recordId: "" };
}

/** Back-off before reconnect attempt n (0-based): 0.5 s doubling to 15 s,
 * with up to 30 % jitter (rand in [0,1)) so many widgets do not reconnect in step. */
export function backoffDelay(attempt, rand = Math.random) {
  const base = Math.min(15000, 500 * 2 ** Math.max(0, Math.min(attempt, 10)));
  return Math.round(base * (1 - 0.3 * rand()));
}

/** Formats a call duration as m:ss or h:mm:ss. */
export function formatDuration(ms) {
  const total = Math.max(0, Math.floor((ms || 0) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  if (h > 0) return `${h}:${String(m).padStart(2, "0")}:${ss}`;
  return `${m}:${ss}`;
}

/**
 * The WebSocket URL. wsURL may be absolute (ws:, wss:, http:, https:) or a
 * path resolved against the page; http(s) becomes ws(s). Returns {ws,
 * http}: http is the same endpoint for a plain GET with the token in the
 * Authorization header, which the server answers 401 when the token is no
 * longer valid. The token is never in a URL (proxies log URLs): the socket
 * carries it in its subprotocols (socketProtocols).
 */
export function socketURLs(wsURL, pageHref) {
  const u = new URL(wsURL || "/api/v1/ws", pageHref);
  if (u.protocol === "http:") u.protocol = "ws:";
  if (u.protocol === "https:") u.protocol = "wss:";
  const h = new URL(u.href);
  h.protocol = u.protocol === "wss:" ? "https:" : "http:";
  return { ws: u.href, http: h.href };
}

/**
 * The subprotocols the widget offers: the protocol version, which the
 * server answers with, and the session token (a browser cannot set the
 * Authorization header on a WebSocket). Tokens are base64url and ".",
 * which a subprotocol name may hold.
 */
export function socketProtocols(token) {
  return ["ctibridge.v1", "ctibridge.token." + token];
}

/** The WebSocket close code of a session ended by logout or a PIN change. */
export const SESSION_ENDED = 4001;

/**
 * The WebSocket close code of a widget the server refused for good: with
 * --impersonate-agents, a Dynamics user (CIF getEnvironment().userId) that
 * is not the one its agent writes as. The reason is "refused: <code>".
 */
export const REFUSED = 4003;

/** What the login form says after a REFUSED close with this reason. */
export function refusalMessage(reason) {
  const code = String(reason || "").replace(/^refused: /, "");
  switch (code) {
    case "wrong_dynamics_user":
      return "You are signed in to Dynamics 365 as another user than the one this agent id writes activities as. Log in with your own agent id, or ask an administrator to check the agent's Dynamics user.";
    case "no_dynamics_user":
      return "This agent id has no Dynamics user to write activities as. Ask an administrator to set it (ctibridge agent dynamics-user).";
    default:
      return `ctibridge refused this widget (${code || "no reason given"}): log in again.`;
  }
}

/** Resolves an API path against apiBase ("" or "/" means the page's origin). */
export function apiURL(apiBase, path, pageHref) {
  const base = new URL(apiBase || "/", pageHref);
  const b = base.href.endsWith("/") ? base.href : base.href + "/";
  return new URL(path.replace(/^\//, ""), b).href;
}

/** Reads the settings blob of the widget page; it may be a JSON object or a
 * JSON string holding one. */
export function readSettings(text) {
  if (!text || !text.trim()) return {};
  let v = JSON.parse(text);
  if (typeof v === "string") v = v.trim() === "" ? {} : JSON.parse(v);
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("ctibridge-settings: expected a JSON object");
  return v;
}

/** The message a failed login shows, from the HTTP status and the server's
 * {"error": {"code", "message"}} body. */
export function loginError(status, body) {
  const msg = body && body.error && body.error.message;
  if (status === 401) return "Wrong agent id or PIN.";
  if (status === 429) return msg || "Too many attempts: wait a minute and try again.";
  if (status === 400) return msg ? `Check the form: ${msg}` : "Check the agent id and PIN.";
  if (status === 0) return "Cannot reach ctibridge: check the connection.";
  return msg ? `Login failed: ${msg}` : `Login failed (HTTP ${status}).`;
}

/** Agent states that count as "on a call or wrapping", when the Ready/Pause
 * toggle does not apply. */
const BUSY_STATES = new Set(["Dialling", "OnCall", "OnWrap"]);

/** Call states after which the call timer stops. */
const ENDED_CALL_STATES = new Set(["ended", "failed", "wrapped"]);

/** Whether a call's state means it is no longer connected. */
export function callEnded(call) {
  return !!call && ENDED_CALL_STATES.has(String(call.state || "").toLowerCase().replace(/[^a-z]/g, ""));
}

/** The Ready/Pause toggle for an agent state: {label, target, disabled}. */
export function stateToggle(state) {
  if (state === "Ready") return { label: "Pause", target: "Paused", disabled: false };
  if (BUSY_STATES.has(state)) return { label: "Ready", target: "Ready", disabled: true };
  return { label: "Ready", target: "Ready", disabled: false };
}

/** Human labels of call states (internal/interaction.State). */
export const CALL_STATE_LABELS = Object.freeze({
  idle: "Idle",
  previewing: "Preview",
  alerting: "Ringing",
  connected: "Connected",
  ended: "Ended",
  failed: "Failed",
  wrapped: "Wrapped",
});

/** Human labels of agent states. */
export const STATE_LABELS = Object.freeze({
  LoggedOut: "Logged out",
  Paused: "Paused",
  Ready: "Ready",
  Dialling: "Dialling",
  OnCall: "On call",
  OnWrap: "On wrap",
});

/**
 * WidgetSession holds what the server told the widget and decides what each
 * message does. receive(msg) returns the side effects widget.js carries out:
 *   {do: "pop", interactionId, decision}
 *   {do: "writes", interactionId, writes}
 *   {do: "configure", settings}   (hello: click-to-dial, entities)
 *   {do: "error", ref, code, message}   shown to the agent
 *   {do: "log", ref, code, message}     a refused report of the widget's own
 *   {do: "callEnded", interactionId}
 *   {do: "report", message, what}  a report of the widget's own to send again
 * Pops are executed once per interaction: a repeated pop, and the call a
 * hello restores after a reconnect, are not popped again.
 */
export class WidgetSession {
  constructor({ now = () => Date.now(), popped = [] } = {}) {
    this.now = now;
    this.agent = null;
    this.settings = { entities: [], wrapCodes: [], writeMode: "server", clickToDial: false, telephony: { source: "" } };
    this.call = null;
    this.callEndedAt = 0;
    this.popped = new Set(popped);
    // The popResult sent for each recent interaction, to send again when a
    // hello shows the server never got it (lost as the server restarted).
    this.popResults = new Map();
    this.relations = new RelationChoices([]);
    this.popOutcome = null; // {interactionId, text, outcome, error}
    this.lastEnded = null; // {interactionId, activityId}
    this.nextRef = 1;
    this.pending = new Map(); // ref -> {what, quiet}
    // The agent's Dynamics systemuserid (CIF getEnvironment().userId); relate
    // sends it so the agent becomes the phone call's other party.
    this.userId = "";
  }

  /** Applies one server message and returns the effects to carry out. */
  receive(msg) {
    if (!msg || typeof msg !== "object" || typeof msg.type !== "string") {
      return [{ do: "error", ref: "", code: "bad_message", message: "the server sent a message without a type" }];
    }
    switch (msg.type) {
      case "hello":
        return this.onHello(msg);
      case "agentState":
        this.agent = { ...(this.agent || {}), state: msg.state, reason: msg.reason || "" };
        return [];
      case "ack":
        if (msg.ref) this.pending.delete(msg.ref);
        return [];
      case "call":
        if (msg.call) this.setCall(msg.call);
        return [];
      case "pop":
        return this.onPop(msg);
      case "writes":
        if (!Array.isArray(msg.writes) || msg.writes.length === 0) return [];
        return [{ do: "writes", interactionId: msg.interactionId, writes: msg.writes }];
      case "callEnded":
        return this.onCallEnded(msg);
      case "error": {
        const asked = msg.ref ? this.pending.get(msg.ref) : undefined;
        if (msg.ref) this.pending.delete(msg.ref);
        const prefix = asked ? `${asked.what}: ` : "";
        const text = prefix + (msg.message || msg.code || "refused");
        // Refusals of the widget's own reports (a writeResult another tab
        // already gave, a popResult for a call that ended) are not the agent's to fix.
        if (asked && asked.quiet) return [{ do: "log", ref: msg.ref, code: msg.code || "", message: text }];
        return [{ do: "error", ref: msg.ref || "", code: msg.code || "", message: text }];
      }
      default:
        return [];
    }
  }

  onHello(msg) {
    if (msg.agent) this.agent = { id: msg.agent.id, state: msg.agent.state, reason: msg.agent.reason || "" };
    const s = msg.settings || {};
    this.settings = {
      entities: Array.isArray(s.entities) ? s.entities : [],
      wrapCodes: Array.isArray(s.wrapCodes) ? s.wrapCodes : [],
      writeMode: s.writeMode || "server",
      clickToDial: !!s.clickToDial,
      telephony: s.telephony && typeof s.telephony === "object" ? s.telephony : { source: "" },
      // CIF 2.0 sessions (config "cif"): auto, single or multi, with the
      // session and notification templates and the presence mapping.
      cif: s.cif && typeof s.cif === "object" ? s.cif : { sessions: "auto" },
    };
    this.relations.setEntities(this.settings.entities);
    const actions = [];
    if (msg.call && msg.call.interactionId) {
      this.setCall(msg.call);
      const id = msg.call.interactionId;
      if (msg.pop && msg.pop.interactionId === id) {
        // The server has no answer to this call's pop: the widget was away
        // when it was sent, or its answer was lost as the server went down.
        // Pop it now, or, if this page did, send its answer again.
        actions.push(...this.onPop(msg.pop));
      } else {
        // The call in progress when the widget (re)connected was popped
        // when it was presented, so restoring it must not pop again.
        this.popped.add(msg.call.interactionId);
      }
    } else if (this.call) {
      // The server has no call for this agent any more (it ended while the
      // widget was away): nothing is left to relate or wrap.
      this.call = null;
      this.callEndedAt = 0;
      this.relations.reset("");
      this.popOutcome = null;
    }
    return [{ do: "configure", settings: this.settings }, ...actions];
  }

  setCall(call) {
    const prev = this.call;
    if (!prev || prev.interactionId !== call.interactionId) {
      this.relations.reset(call.interactionId);
      this.popOutcome = null;
      this.callEndedAt = 0;
      this.lastEnded = null;
    }
    this.call = { ...(prev && prev.interactionId === call.interactionId ? prev : {}), ...call };
    if (callEnded(this.call) && !this.callEndedAt) this.callEndedAt = this.now();
    if (call.matches || call.selection) this.relations.applyServer(call.matches, call.selection);
  }

  onPop(msg) {
    const id = msg.interactionId;
    if (!id) return [];
    if (this.popped.has(id)) {
      // Popped already: a server that restarted pops again, and may never
      // have read this page's answer. Send the answer again (the server
      // ignores one it has), and do not pop again.
      const answer = this.popResults.get(id);
      return answer ? [{ do: "report", message: answer, what: `Screen pop result for ${id}` }] : [];
    }
    this.popped.add(id);
    if (this.popped.size > 200) {
      // Keep memory bounded over a long shift: the oldest interactions are long over.
      const first = this.popped.values().next().value;
      this.popped.delete(first);
    }
    if (!this.call || this.call.interactionId !== id) {
      // The pop can arrive before the call message; start the call view so the
      // pop's matches land in this interaction's select boxes.
      this.setCall({ interactionId: id, callType: msg.decision && msg.decision.callType, state: "presented" });
    }
    return [{ do: "pop", interactionId: id, decision: msg.decision || {} }];
  }

  onCallEnded(msg) {
    if (this.call && this.call.interactionId === msg.interactionId) {
      this.call = null;
      this.callEndedAt = 0;
      this.relations.reset("");
      this.popOutcome = null;
    }
    this.lastEnded = { interactionId: msg.interactionId, activityId: msg.activityId || "" };
    return [{ do: "callEnded", interactionId: msg.interactionId }];
  }

  /** Records the outcome of an executed pop and returns the popResult. */
  popDone(interactionId, decision, result) {
    if (this.call && this.call.interactionId === interactionId) {
      this.relations.addPopMatches(result.matches);
      this.popOutcome = {
        interactionId,
        outcome: result.outcome,
        text: describePop(result, decision),
        error: result.error || "",
        picker: result.picker ? result.matches : null,
      };
    }
    const msg = { type: "popResult", interactionId, outcome: result.outcome, matches: result.matches, ms: result.ms };
    if (result.error) msg.error = result.error;
    this.popResults.set(interactionId, msg);
    if (this.popResults.size > 50) this.popResults.delete(this.popResults.keys().next().value);
    return msg;
  }

  /** The relate message for the boxes' choices, with the agent's user id. */
  relateMessage() {
    const msg = this.relations.relateMessage();
    if (this.userId) msg.user = this.userId;
    return msg;
  }

  /** Adds a ref to a widget message and remembers what it was for, so an
   * error reply can say which action the server refused. quiet marks the
   * widget's own reports, whose refusals are logged, not shown. */
  withRef(msg, what, { quiet = false } = {}) {
    const ref = `w${this.nextRef++}`;
    this.pending.set(ref, { what, quiet });
    if (this.pending.size > 100) this.pending.delete(this.pending.keys().next().value);
    return { ...msg, ref };
  }

  /** The wrap message, or an error naming what is missing. */
  wrapMessage(wrapCode, notes) {
    if (!this.call) throw new Error("There is no call to wrap.");
    if (!wrapCode) throw new Error("Choose a wrap code.");
    return { type: "wrap", interactionId: this.call.interactionId, wrapCode, notes: notes || "" };
  }

  /** The call timer text: from startedAt, stopped when the call ended. */
  callTimer() {
    if (!this.call || !this.call.startedAt) return "0:00";
    const start = typeof this.call.startedAt === "number" ? this.call.startedAt : Date.parse(this.call.startedAt);
    if (Number.isNaN(start)) return "0:00";
    const end = this.callEndedAt || this.now();
    return formatDuration(end - start);
  }
}

/**
 * Waits for the CIF library and its window event CIFInitDone, which both CIF
 * 1.0 and 2.0 raise once their APIs may be called (Microsoft Learn,
 * "CIFInitDone event", v1 and v2 references). Resolves {lib, problem}: lib
 * is Microsoft.CIFramework once CIFInitDone fired, or null after timeoutMs
 * with problem saying what is wrong for the agent: no library (the widget
 * opened outside Dynamics), or a library that never reported ready (a
 * Channel URL or app the channel provider does not list). initDone tells
 * whether CIFInitDone fired before the caller started listening
 * (cifinit.js records it). Never rejects.
 */
export function waitForCIF(win, { timeoutMs = 15000, pollMs = 100, initDone = () => false, setTimer = setTimeout, clearTimer = clearTimeout } = {}) {
  const lib = () => (win.Microsoft && win.Microsoft.CIFramework) || null;
  return new Promise((resolve) => {
    let waited = 0;
    let timer = null;
    let finished = false;
    const finish = (v) => {
      if (finished) return;
      finished = true;
      if (timer) clearTimer(timer);
      win.removeEventListener("CIFInitDone", onInit);
      resolve(v);
    };
    const onInit = () => {
      if (lib()) finish({ lib: lib(), problem: "" });
    };
    win.addEventListener("CIFInitDone", onInit);
    const tick = () => {
      timer = null;
      if (initDone() && lib()) return finish({ lib: lib(), problem: "" });
      if (waited >= timeoutMs) {
        const secs = Math.round(timeoutMs / 1000);
        return finish({
          lib: null,
          problem: lib()
            ? `the CIF library loaded but did not report CIFInitDone within ${secs} s: check that the channel provider's Channel URL is this page and that it is enabled for this app, then reload`
            : "no CIF library: open the widget inside Dynamics 365, as a channel provider's Channel URL",
        });
      }
      waited += pollMs;
      timer = setTimer(tick, pollMs);
    };
    tick();
  });
}

/** Telephony sources whose events the agent's browser reports, each with its
 * provider module (web/widget/providers/NAME.mjs). */
export const BROWSER_SOURCES = Object.freeze(["sip", "ipscape"]);

/** Whether hello's telephony settings name a browser source. */
export function browserSource(telephony) {
  const source = telephony && telephony.source;
  return BROWSER_SOURCES.includes(source) ? source : "";
}

/** Error codes after which sending an event again cannot help: it is
 * malformed, or names a call that is not this agent's. */
const FINAL_EVENT_ERRORS = new Set(["invalid_event", "not_found", "conflict", "not_supported", "bad_message"]);

/** Most events kept unacknowledged: far more than a shift's calls produce
 * while the server is away. Past it the oldest are let go, and said so. */
export const MAX_PENDING_EVENTS = 500;

/**
 * EventOutbox keeps the telephony events a browser provider reports until
 * the server acknowledges each ({"type": "ack", "ref"}), so that none is
 * lost when the widget's socket drops mid-call: what was in flight is sent
 * again, in order, on the next connection. Event ids are deterministic per
 * interaction and type, so an event the server stored before its ack was
 * lost is recognised there as a duplicate and acknowledged again.
 *
 * The events belong to one agent: those saved by another agent's session in
 * this tab are dropped, never sent as the new agent's.
 */
export class EventOutbox {
  constructor({ agentId = "", saved = null } = {}) {
    this.agentId = agentId;
    this.pending = []; // [{event, ref}], ref "" while not in flight
    if (saved && saved.agentId === agentId && Array.isArray(saved.events)) {
      for (const ev of saved.events) if (ev && typeof ev === "object" && typeof ev.id === "string") this.pending.push({ event: ev, ref: "" });
    }
  }

  /** What to keep in sessionStorage. */
  toJSON() {
    return { agentId: this.agentId, events: this.pending.map((p) => p.event) };
  }

  /** Queues an event; an event whose id is already queued is not queued twice.
   * Returns the events let go to stay within MAX_PENDING_EVENTS. */
  add(event) {
    if (!event || typeof event.id !== "string" || !event.id) throw new Error("a telephony event needs an id");
    if (this.pending.some((p) => p.event.id === event.id)) return [];
    this.pending.push({ event, ref: "" });
    const over = this.pending.length - MAX_PENDING_EVENTS;
    return over > 0 ? this.pending.splice(0, over).map((p) => p.event) : [];
  }

  /** The messages to send now: every queued event not in flight, in order,
   * each given a ref by nextRef(). */
  toSend(nextRef) {
    const out = [];
    for (const p of this.pending) {
      if (p.ref) continue;
      p.ref = nextRef();
      out.push({ type: "telephonyEvent", ref: p.ref, event: p.event });
    }
    return out;
  }

  /** The socket closed: what was in flight goes again on the next one. */
  disconnected() {
    for (const p of this.pending) p.ref = "";
  }

  /**
   * Takes the server's reply to an event: an ack removes it; a final error
   * removes it and returns {refused: event, message}; another error (the
   * server is busy or restarting) leaves it to be sent again and returns
   * {retry: true}. Returns null when ref is not one of the events'.
   */
  reply(msg) {
    if (!msg || !msg.ref) return null;
    const i = this.pending.findIndex((p) => p.ref === msg.ref);
    if (i < 0) return null;
    if (msg.type === "ack") {
      this.pending.splice(i, 1);
      return { acked: true };
    }
    if (FINAL_EVENT_ERRORS.has(msg.code)) {
      const [p] = this.pending.splice(i, 1);
      return { refused: p.event, message: msg.message || msg.code };
    }
    this.pending[i].ref = "";
    return { retry: true };
  }

  /** How many events wait for an ack. */
  get size() {
    return this.pending.length;
  }
}
