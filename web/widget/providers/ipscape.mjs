// ipscape.mjs: ipSCAPE's CTI Adaptor as the widget's telephony provider.
//
// The adaptor runs beside the widget (its integration bundle,
// ips-dynamics-integration, is one of the config's scripts) and tells its
// integrations what happens through ipSCAPE's Web Client (@ipscape/web-client):
// `new IpscapeWebClient()`, one listener per event, each callback receiving
// {result, error}. This module turns those callbacks into ctibridge's
// telephony events (docs/events.md) and hands them to the widget
// (ctx.emit), which sends them to the server until they are acknowledged.
//
// ipSCAPE publishes the Web Client's listener names, `isAuthorised` and the
// click-to-dial message {event: "clickToDial", number}, but not the data each
// listener delivers nor how a plugin sends a message or fills a component.
// Every guess about that unpublished surface is in the ADAPTER section below
// and nowhere else: when the real package is at hand, correct it there
// (web/ipscape/README.md lists what is unverified).
//
// Mapping (the ADAPTER section says where each value is read from):
//   onPreviewAllocated             -> previewAllocated (callType must be preview)
//   onInteractionOpen, inbound     -> callAlerting: the adaptor opens an
//                                     inbound interaction when it is offered
//                                     to the agent, before it is answered.
//                                     Other call types emit nothing here
//                                     (preview has onPreviewAllocated; an
//                                     outgoing call's onCallStarted implies
//                                     its alerting), nor does an inbound one
//                                     this provider already saw answered
//                                     (the agent refocusing it).
//   onInteractionClosed            -> nothing (the wrap ends the call); the
//                                     component options are forgotten
//   onCallStarted                  -> callStarted
//   onCallFailed                   -> callFailed
//   onCallHangup                   -> callHangup
//   onCallWrapped                  -> callWrapped (wrapCode, wrapDescription
//                                     are read from interaction.activity)
//   onAgentLogin                   -> agentState of the presence it carries
//                                     (Paused when it carries none)
//   onAgentPresenceChange          -> agentState Ready, Paused (with reason)
//                                     or LoggedOut (ipSCAPE's "Connection")
//   onAgentLogout                  -> agentState LoggedOut
//   onComponentChanged             -> ctx.relate({box: "person"|"entity", value})
// Dialling, On call and On wrap are shown (status().agentState) but not
// emitted: the server derives them from the call events.
//
// The interaction is carried unchanged (a deep copy), so the config's paths
// (interaction.activity.customerCli, interaction.activity.sourcePhoneNumber,
// interaction.leadData.phones.index=1[phone]) read what ipSCAPE sent. A
// payload that would not make a valid event (no interaction id, an unknown
// call type, a field of the wrong JSON type) is not emitted: it is logged and
// shown as status().lastError, naming the listener and the path, e.g.
// "onCallStarted: result.interaction.agentInteractionId: missing".
//
// Event ids are `ipscape:INTERACTIONID:TYPE`, so an event the widget sends
// again after a reconnect is recognised as a duplicate. Agent states have no
// interaction: `ipscape:agent-AGENTID:agentState:STAMP`, unique per change.

/** Call types the event format accepts (docs/events.md). */
export const CALL_TYPES = Object.freeze(["manual", "inbound", "outbound", "preview"]);

/** The widget's select boxes (index.html data-box) by component. */
export const BOXES = Object.freeze({ person: "person", organisation: "entity" });

// ======================================================================
// ADAPTER: every guess about @ipscape/web-client's unpublished surface.
//
// Published (npm package page of @ipscape/web-client): the constructor, the
// eleven listener names, callbacks reading `result` and `error`,
// `isAuthorised(callback)`, the message {event: "clickToDial", number}.
// Seen in a public third-party integration built on the package
// (awangpermadi/IPScapeDigiserve, main.js and index.html):
// `webClient.clickToDial({event: "clickToDial", number})` and
// `webClient.addComponentOption({name, option: {label, value, selected}})`,
// both returning promises, and `isAuthorised()` returning a promise.
// Everything else here is designed by us and unverified against a live
// adaptor; the stand-in (web/ipscape/ips-dynamics-integration.standin.js)
// implements exactly this.
// ======================================================================
export const ADAPTER = Object.freeze({
  /** The global the integration bundle defines (published constructor name). */
  globalName: "IpscapeWebClient",

  /** Listener registration methods (published names). */
  listeners: Object.freeze([
    "onAgentLogin", "onAgentLogout", "onAgentPresenceChange",
    "onCallStarted", "onCallFailed", "onCallHangup", "onCallWrapped",
    "onPreviewAllocated", "onComponentChanged", "onInteractionOpen", "onInteractionClosed",
  ]),

  // GUESS: a call listener's result holds the interaction object the
  // config's paths read, under `interaction`, and may carry an RFC 3339
  // `timestamp` of the moment it happened.
  interactionPath: "result.interaction",
  interactionOf: (result) => result.interaction,
  timestampOf: (result) => result.timestamp,

  // GUESS: presence results are {state, reason}, state in the adaptor's
  // display names; onAgentLogin's result is {agent: {agentId, fullName},
  // state, reason}.
  presenceOf: (result) => ({ state: result.state, reason: result.reason }),
  agentIdOf: (result) => (result.agent && typeof result.agent === "object" ? result.agent.agentId : undefined),

  // GUESS: the adaptor's agent states (knowledge-hub display names, and
  // "Available" its other name for Ready), folded (lower case, no spaces,
  // dashes or underscores), to ctibridge's spelling.
  states: Object.freeze({
    connection: "LoggedOut",
    loggedout: "LoggedOut",
    paused: "Paused",
    ready: "Ready",
    available: "Ready",
    dialling: "Dialling",
    dialing: "Dialling",
    oncall: "OnCall",
    onwrap: "OnWrap",
  }),

  // GUESS: the Dynamics integration's two components are named "person"
  // and "organisation" (a Salesforce integration names its own whoId and
  // whatId), and onComponentChanged's result is {name, value}.
  componentNames: Object.freeze({ person: "person", organisation: "organisation" }),
  componentChangeOf: (result) => ({ name: result.name, value: result.value }),

  /** Whether isAuthorised's answer means logged in: published as a truthy
   * callback argument; GUESS: {result: true} means the same. */
  authorisedFrom: (answer) => answer === true || !!(answer && typeof answer === "object" && answer.result === true),

  /**
   * Asks isAuthorised, calling done(answer) once. Published with a callback;
   * the third-party sample uses the promise it returns, so both are read.
   */
  isAuthorised(client, done) {
    let answered = false;
    const once = (v) => {
      if (!answered) {
        answered = true;
        done(v);
      }
    };
    const p = client.isAuthorised(once);
    if (p && typeof p.then === "function") p.then(once, () => once(false));
  },

  /** Sends click-to-dial (published message; method seen in the sample). */
  clickToDial: (client, number) => client.clickToDial({ event: "clickToDial", number }),

  /** Adds or updates one option of a component (method and argument seen in
   * the sample; GUESS: an option with a value already listed replaces it,
   * and selected: true deselects the box's other options). */
  addComponentOption: (client, name, option) => client.addComponentOption({ name, option }),

  /** The error of an answer to clickToDial or addComponentOption, if any
   * (GUESS: answers are {result, error} like listener data). */
  answerError: (answer) => (answer && typeof answer === "object" && answer.error ? answer.error : null),
});
// ====================== end of ADAPTER ================================

/** How long start() waits for isAuthorised before going on without it. */
const AUTH_TIMEOUT_MS = 5000;

/** Interactions whose emitted event ids are remembered (a long shift). */
const MAX_REMEMBERED = 100;

/** A payload that cannot become an event: path names what is wrong. */
class PayloadError extends Error {
  constructor(path, problem) {
    super(`${path}: ${problem}`);
    this.path = path;
  }
}

function kindOf(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  switch (typeof v) {
    case "object":
      return "an object";
    case "boolean":
      return `the boolean ${v}`;
    case "number":
      return `the number ${v}`;
    case "string":
      return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v)}`;
    default:
      return `a ${typeof v}`;
  }
}

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

// text fields take a string or a finite number (docs/events.md "Text").
function checkText(v, path) {
  if (v === undefined || v === null || typeof v === "string") return;
  if (typeof v === "number" && Number.isFinite(v)) return;
  throw new PayloadError(path, `is ${kindOf(v)}; write a string`);
}

function checkWhole(v, path, min) {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new PayloadError(path, `is ${kindOf(v)}; it must be a whole JSON number from ${min}, e.g. ${Math.max(min, 1)}`);
  }
}

const ACTIVITY_TEXT = [
  "activityId", "customerCli", "sourcePhoneNumber", "destinationPhoneNumber",
  "campaignId", "campaignName", "queueName", "wrapCode", "wrapDescription", "notes",
];

/**
 * Checks an interaction as docs/events.md defines it and returns its id as
 * text. at is the path it was read from ("result.interaction").
 */
export function checkInteraction(it, at) {
  if (it === undefined || it === null) throw new PayloadError(at, "missing");
  if (!isObject(it)) throw new PayloadError(at, `is ${kindOf(it)}; expected an object`);
  const id = it.agentInteractionId;
  if (id === undefined || id === null || id === "") throw new PayloadError(`${at}.agentInteractionId`, "missing");
  checkText(id, `${at}.agentInteractionId`);
  if (typeof id === "string" && id.trim() === "") throw new PayloadError(`${at}.agentInteractionId`, "is blank");
  const ct = it.callType;
  if (ct === undefined || ct === null || ct === "") throw new PayloadError(`${at}.callType`, "missing");
  if (typeof ct !== "string") throw new PayloadError(`${at}.callType`, `is ${kindOf(ct)}; use manual, inbound, outbound or preview`);
  if (!CALL_TYPES.includes(ct)) throw new PayloadError(`${at}.callType`, `${JSON.stringify(ct)} is not a call type; use manual, inbound, outbound or preview`);
  if (it.activity !== undefined && it.activity !== null) {
    if (!isObject(it.activity)) throw new PayloadError(`${at}.activity`, `is ${kindOf(it.activity)}; expected an object`);
    for (const f of ACTIVITY_TEXT) checkText(it.activity[f], `${at}.activity.${f}`);
  }
  const lead = it.leadData;
  if (lead !== undefined && lead !== null) {
    if (!isObject(lead)) throw new PayloadError(`${at}.leadData`, `is ${kindOf(lead)}; expected an object`);
    checkText(lead.leadId, `${at}.leadData.leadId`);
    checkText(lead.name, `${at}.leadData.name`);
    if (lead.phoneIndex !== undefined && lead.phoneIndex !== null) checkWhole(lead.phoneIndex, `${at}.leadData.phoneIndex`, 0);
    if (lead.phones !== undefined && lead.phones !== null) {
      if (!Array.isArray(lead.phones)) throw new PayloadError(`${at}.leadData.phones`, `is ${kindOf(lead.phones)}; expected a list`);
      lead.phones.forEach((p, i) => {
        const pp = `${at}.leadData.phones[${i}]`;
        if (!isObject(p)) throw new PayloadError(pp, `is ${kindOf(p)}; expected an object`);
        checkWhole(p.index, `${pp}.index`, 1);
        checkText(p.phone, `${pp}.phone`);
        checkText(p.type, `${pp}.type`);
      });
    }
  }
  return String(id);
}

/** Folds an ipSCAPE state name ("On call", "ON_CALL") for ADAPTER.states. */
function foldState(s) {
  return String(s).toLowerCase().replace(/[\s_-]/g, "");
}

/** Agent states emitted as agentState; the busy ones follow from calls. */
const EMITTED_STATES = new Set(["Ready", "Paused", "LoggedOut"]);

function errorText(err) {
  if (err == null) return "unknown error";
  if (typeof err === "string") return err;
  if (err.message) return String(err.message);
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}

/**
 * createProvider returns the ipSCAPE provider.
 *
 * ctx, beyond the contract's {settings, agentId, emit, changed, log, window}:
 *   relate({box: "person"|"entity", value})  the agent chose a record in one
 *       of the adaptor's component boxes; the widget selects it in its own
 *       box and sends relate. value is the option value the widget gave
 *       ("contact:GUID"), "" for none.
 *   now()  optional clock (ms) for events whose data carries no timestamp.
 */
export function createProvider(ctx) {
  const log = (level, msg) => {
    try {
      ctx.log(level, msg);
    } catch {
      // Logging must never break event handling.
    }
  };
  const changed = () => {
    try {
      ctx.changed();
    } catch (err) {
      log("error", `ipscape: changed() threw: ${errorText(err)}`);
    }
  };
  const now = () => (typeof ctx.now === "function" ? ctx.now() : Date.now());
  const win = ctx.window || {};
  const timers = {
    set: (fn, ms) => (win.setTimeout ? win.setTimeout(fn, ms) : setTimeout(fn, ms)),
    clear: (id) => (win.clearTimeout ? win.clearTimeout(id) : clearTimeout(id)),
  };

  let client = null;
  let running = false;
  // Each start() registers its listeners anew; the Web Client publishes no
  // way to remove them, so listeners of an earlier start check this.
  let generation = 0;
  let authorised = false;
  let agentState = "";
  let reason = "";
  let lastError = "";
  let current = null; // {interactionId, callType, state}
  const emitted = new Map(); // interactionId -> Set of event types emitted
  let sentOptions = { person: new Map(), organisation: new Map() }; // value -> {label, selected}
  let stateSeq = 0;

  function fail(listener, err) {
    const msg = `${listener}: ${errorText(err)}`;
    lastError = msg;
    log("warn", `ipscape: not emitted: ${msg}`);
    changed();
  }

  function timestamp(result) {
    const ts = ADAPTER.timestampOf(result);
    if (typeof ts === "string" && !Number.isNaN(Date.parse(ts)) && /^\d{4}-\d\d-\d\dT/.test(ts)) return ts;
    return new Date(now()).toISOString();
  }

  function remember(id, type) {
    let set = emitted.get(id);
    if (!set) {
      set = new Set();
      emitted.set(id, set);
      if (emitted.size > MAX_REMEMBERED) emitted.delete(emitted.keys().next().value);
    }
    if (set.has(type)) return false;
    set.add(type);
    return true;
  }

  function emit(event) {
    try {
      ctx.emit(event);
    } catch (err) {
      log("error", `ipscape: emit ${event.id} threw: ${errorText(err)}`);
    }
  }

  // readCall checks a call listener's data and returns {id, interaction,
  // timestamp}, or throws a PayloadError naming the path.
  function readCall(data) {
    if (!isObject(data)) throw new PayloadError("data", `is ${kindOf(data)}; expected {result, error}`);
    if (data.error) throw new PayloadError("error", errorText(data.error));
    const result = data.result;
    if (result === undefined || result === null) throw new PayloadError("result", "missing");
    if (!isObject(result)) throw new PayloadError("result", `is ${kindOf(result)}; expected an object`);
    const raw = ADAPTER.interactionOf(result);
    const id = checkInteraction(raw, ADAPTER.interactionPath);
    return { id, interaction: JSON.parse(JSON.stringify(raw)), timestamp: timestamp(result) };
  }

  function setCurrent(id, callType, state) {
    if (!current || current.interactionId !== id) {
      sentOptions = { person: new Map(), organisation: new Map() };
    }
    current = { interactionId: id, callType, state };
  }

  // callListener maps one call listener to an event type; decide(read)
  // returns false when this data emits nothing.
  function callListener(listener, type, { decide, state, before } = {}) {
    return (data) => {
      if (!running) return;
      let read;
      try {
        read = readCall(data);
        if (before) before(read);
      } catch (err) {
        fail(listener, err);
        return;
      }
      const wanted = decide ? decide(read) : true;
      if (state) setCurrent(read.id, read.interaction.callType, state);
      if (wanted && remember(read.id, type)) {
        emit({ id: `ipscape:${read.id}:${type}`, type, timestamp: read.timestamp, interaction: read.interaction });
      }
      changed();
    };
  }

  function answeredOrLater(id) {
    const set = emitted.get(id);
    if (!set) return false;
    return ["callStarted", "callFailed", "callHangup", "callWrapped"].some((t) => set.has(t));
  }

  function setAgentState(listener, state, why) {
    const prev = agentState;
    const prevReason = reason;
    agentState = state;
    reason = state === "Paused" ? why : "";
    if (!EMITTED_STATES.has(state) || (prev === state && prevReason === reason)) {
      changed();
      return;
    }
    stateSeq++;
    const ts = new Date(now());
    emit({
      id: `ipscape:agent-${ctx.agentId}:agentState:${ts.getTime().toString(36)}-${stateSeq}`,
      type: "agentState",
      timestamp: ts.toISOString(),
      state,
      reason,
    });
    log("info", `ipscape: ${listener}: agent ${state}${reason ? ` (${reason})` : ""}`);
    changed();
  }

  // readPresence returns {state, reason} in ctibridge's spelling, or throws.
  function readPresence(result, at) {
    const p = ADAPTER.presenceOf(result);
    if (typeof p.state !== "string" || p.state.trim() === "") {
      throw new PayloadError(`${at}.state`, p.state === undefined || p.state === null ? "missing" : `is ${kindOf(p.state)}; expected an agent state`);
    }
    const state = ADAPTER.states[foldState(p.state)];
    if (!state) throw new PayloadError(`${at}.state`, `${JSON.stringify(p.state)} is not an agent state; expected Connection, Paused, Ready, Dialling, On call or On wrap`);
    if (p.reason !== undefined && p.reason !== null && typeof p.reason !== "string") {
      throw new PayloadError(`${at}.reason`, `is ${kindOf(p.reason)}; write a string`);
    }
    return { state, reason: p.reason || "" };
  }

  function resultOf(data) {
    if (!isObject(data)) throw new PayloadError("data", `is ${kindOf(data)}; expected {result, error}`);
    if (data.error) throw new PayloadError("error", errorText(data.error));
    if (data.result === undefined || data.result === null) throw new PayloadError("result", "missing");
    if (!isObject(data.result)) throw new PayloadError("result", `is ${kindOf(data.result)}; expected an object`);
    return data.result;
  }

  const handlers = {
    onPreviewAllocated: callListener("onPreviewAllocated", "previewAllocated", {
      state: "previewing",
      before: (read) => {
        if (read.interaction.callType !== "preview") {
          throw new PayloadError(`${ADAPTER.interactionPath}.callType`, `${JSON.stringify(read.interaction.callType)} on a preview allocation; expected preview`);
        }
      },
    }),
    onInteractionOpen: (data) => {
      if (!running) return;
      let read;
      try {
        read = readCall(data);
      } catch (err) {
        fail("onInteractionOpen", err);
        return;
      }
      const ringing = read.interaction.callType === "inbound" && !answeredOrLater(read.id);
      if (!current || current.interactionId !== read.id) {
        setCurrent(read.id, read.interaction.callType, ringing ? "alerting" : read.interaction.callType === "preview" ? "previewing" : "open");
      }
      if (ringing && remember(read.id, "callAlerting")) {
        emit({ id: `ipscape:${read.id}:callAlerting`, type: "callAlerting", timestamp: read.timestamp, interaction: read.interaction });
      }
      changed();
    },
    onInteractionClosed: (data) => {
      if (!running) return;
      let result;
      try {
        result = resultOf(data);
      } catch (err) {
        fail("onInteractionClosed", err);
        return;
      }
      const it = ADAPTER.interactionOf(result);
      const id = isObject(it) && it.agentInteractionId != null ? String(it.agentInteractionId) : "";
      // A close without an id, or of the current interaction, ends it here.
      if (current && (!id || id === current.interactionId)) {
        current = null;
        sentOptions = { person: new Map(), organisation: new Map() };
      }
      changed();
    },
    onCallStarted: callListener("onCallStarted", "callStarted", { state: "connected" }),
    onCallFailed: callListener("onCallFailed", "callFailed", { state: "failed" }),
    onCallHangup: callListener("onCallHangup", "callHangup", { state: "ended" }),
    onCallWrapped: callListener("onCallWrapped", "callWrapped", { state: "wrapped" }),
    onAgentLogin: (data) => {
      if (!running) return;
      let result;
      let presence;
      try {
        result = resultOf(data);
        const p = ADAPTER.presenceOf(result);
        presence = p.state === undefined || p.state === null ? { state: "Paused", reason: "" } : readPresence(result, "result");
      } catch (err) {
        fail("onAgentLogin", err);
        return;
      }
      authorised = true;
      const ipsAgent = ADAPTER.agentIdOf(result);
      if (ipsAgent !== undefined && ipsAgent !== null && String(ipsAgent) !== String(ctx.agentId)) {
        log("warn", `ipscape: the CTI Adaptor is logged in as agent ${ipsAgent}, ctibridge as agent ${ctx.agentId}: calls are reported for ${ctx.agentId}`);
      }
      setAgentState("onAgentLogin", presence.state, presence.reason);
    },
    onAgentPresenceChange: (data) => {
      if (!running) return;
      let presence;
      try {
        presence = readPresence(resultOf(data), "result");
      } catch (err) {
        fail("onAgentPresenceChange", err);
        return;
      }
      if (presence.state !== "LoggedOut") authorised = true;
      setAgentState("onAgentPresenceChange", presence.state, presence.reason);
    },
    onAgentLogout: (data) => {
      if (!running) return;
      if (isObject(data) && data.error) {
        fail("onAgentLogout", new PayloadError("error", errorText(data.error)));
        return;
      }
      authorised = false;
      setAgentState("onAgentLogout", "LoggedOut", "");
    },
    onComponentChanged: (data) => {
      if (!running) return;
      let change;
      try {
        const result = resultOf(data);
        change = ADAPTER.componentChangeOf(result);
        const box = Object.keys(ADAPTER.componentNames).find((k) => ADAPTER.componentNames[k] === change.name);
        if (!box) {
          throw new PayloadError("result.name", `${change.name === undefined ? "missing" : JSON.stringify(change.name)}: not a component of this integration; expected ${Object.values(ADAPTER.componentNames).join(" or ")}`);
        }
        if (change.value !== undefined && change.value !== null && typeof change.value !== "string") {
          throw new PayloadError("result.value", `is ${kindOf(change.value)}; expected an option value (a string)`);
        }
        change = { box, value: change.value || "" };
      } catch (err) {
        fail("onComponentChanged", err);
        return;
      }
      // The adaptor shows this choice now; remember it so relations() does
      // not send it back.
      const sent = sentOptions[change.box];
      for (const [v, o] of sent) sent.set(v, { ...o, selected: v === change.value });
      if (typeof ctx.relate !== "function") {
        fail("onComponentChanged", new Error("the widget gave the provider no relate(): the choice is not sent"));
        return;
      }
      try {
        ctx.relate({ box: BOXES[change.box], value: change.value });
      } catch (err) {
        fail("onComponentChanged", new Error(`relate: ${errorText(err)}`));
      }
    },
  };

  function waitAuthorised() {
    return new Promise((resolve) => {
      const timer = timers.set(() => {
        log("warn", `ipscape: isAuthorised gave no answer within ${AUTH_TIMEOUT_MS / 1000} s; waiting for onAgentLogin`);
        resolve(false);
      }, AUTH_TIMEOUT_MS);
      try {
        ADAPTER.isAuthorised(client, (answer) => {
          timers.clear(timer);
          resolve(ADAPTER.authorisedFrom(answer));
        });
      } catch (err) {
        timers.clear(timer);
        log("warn", `ipscape: isAuthorised threw: ${errorText(err)}`);
        resolve(false);
      }
    });
  }

  const provider = {
    name: "ipscape",

    async start() {
      if (running) return;
      const Ctor = win[ADAPTER.globalName];
      if (typeof Ctor !== "function") {
        throw new Error(
          `ipSCAPE's CTI Adaptor is not on this page (window.${ADAPTER.globalName} is missing): the config's scripts must load ipSCAPE's integration bundle (ips-dynamics-integration) before the widget`,
        );
      }
      try {
        client = new Ctor();
      } catch (err) {
        throw new Error(`ipSCAPE's CTI Adaptor could not be reached: new ${ADAPTER.globalName}() failed: ${errorText(err)}`);
      }
      const missing = ADAPTER.listeners.filter((l) => typeof client[l] !== "function");
      if (missing.length > 0) {
        throw new Error(`ipSCAPE's Web Client has no ${missing.join(", ")}: it is older than the CTI Adaptor v8 integration API this widget needs`);
      }
      running = true;
      const gen = ++generation;
      for (const l of ADAPTER.listeners) {
        client[l]((data) => {
          if (gen === generation) handlers[l](data);
        });
      }
      const auth = await waitAuthorised();
      // A login event that came while isAuthorised was answering wins.
      authorised = authorised || auth;
      if (!authorised && !agentState) agentState = "LoggedOut";
      log("info", `ipscape: connected to the CTI Adaptor; agent ${authorised ? "logged in" : "not logged in"}`);
      changed();
    },

    async stop() {
      // The Web Client publishes no way to remove listeners or log the
      // adaptor out: the agent's ipSCAPE session is the adaptor's own. From
      // here on its events are ignored.
      running = false;
      generation++;
      client = null;
      authorised = false;
      agentState = "";
      reason = "";
      current = null;
      sentOptions = { person: new Map(), organisation: new Map() };
      changed();
    },

    status() {
      let message = "";
      if (!running) message = "Not connected to ipSCAPE's CTI Adaptor.";
      else if (!authorised) message = "Log in to ipSCAPE's CTI Adaptor to take calls.";
      return {
        connected: running,
        authorised,
        agentState,
        reason,
        interaction: current ? { ...current } : null,
        message,
        lastError,
      };
    },

    async dial(number) {
      const n = typeof number === "string" || typeof number === "number" ? String(number).trim() : "";
      if (!n) throw new Error("Dial: there is no number to dial.");
      if (!running) throw new Error("Dial: not connected to ipSCAPE's CTI Adaptor.");
      if (!authorised) throw new Error(`Dial ${n}: log in to ipSCAPE's CTI Adaptor first.`);
      let answer;
      try {
        answer = await ADAPTER.clickToDial(client, n);
      } catch (err) {
        throw new Error(`Dial ${n}: ipSCAPE's CTI Adaptor refused: ${errorText(err)}`);
      }
      const err = ADAPTER.answerError(answer);
      if (err) throw new Error(`Dial ${n}: ipSCAPE's CTI Adaptor refused: ${errorText(err)}`);
      log("info", `ipscape: clickToDial ${n}`);
    },

    /**
     * Fills the adaptor's two component boxes with the widget's choices:
     * {person: [{label, value, selected}], organisation: [...]}. Only options
     * that are new or changed since the last call are sent (the Web Client
     * can add options but not remove them: an option the widget drops stays
     * in the adaptor until the interaction closes). Resolves once sent;
     * failures are logged and shown as lastError, never thrown.
     */
    async relations(boxes) {
      if (!running || !client) return;
      const sends = [];
      for (const box of ["person", "organisation"]) {
        const list = boxes && boxes[box];
        if (list === undefined || list === null) continue;
        if (!Array.isArray(list)) {
          fail("relations", new PayloadError(box, `is ${kindOf(list)}; expected a list of {label, value, selected}`));
          continue;
        }
        const sent = sentOptions[box];
        const wanted = new Map();
        list.forEach((o, i) => {
          if (!isObject(o) || typeof o.value !== "string" || o.value === "") {
            fail("relations", new PayloadError(`${box}[${i}].value`, "expected a non-empty string"));
            return;
          }
          wanted.set(o.value, { label: typeof o.label === "string" && o.label ? o.label : o.value, selected: !!o.selected });
        });
        const changes = new Map();
        for (const [value, o] of wanted) {
          const before = sent.get(value);
          if (!before || before.label !== o.label || before.selected !== o.selected) changes.set(value, { value, ...o });
        }
        // The adaptor still selects an option the widget no longer lists:
        // send it unselected.
        for (const [value, o] of sent) {
          if (o.selected && !wanted.has(value)) changes.set(value, { value, label: o.label, selected: false });
        }
        // Unselections first, so the box ends with the widget's choice.
        const toSend = [...changes.values()].sort((a, b) => Number(a.selected) - Number(b.selected));
        for (const o of toSend) {
          sent.set(o.value, { label: o.label, selected: o.selected });
          const option = { label: o.label, value: o.value, selected: o.selected };
          sends.push(
            Promise.resolve()
              .then(() => ADAPTER.addComponentOption(client, ADAPTER.componentNames[box], option))
              .then((answer) => {
                const err = ADAPTER.answerError(answer);
                if (err) throw err;
              })
              .catch((err) => fail("addComponentOption", new Error(`${ADAPTER.componentNames[box]} ${o.value}: ${errorText(err)}`))),
          );
        }
      }
      await Promise.all(sends);
    },
  };
  return provider;
}
