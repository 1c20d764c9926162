// sessions.mjs: the widget's CIF 2.0 multi-session decisions (Customer
// Service / Copilot Service workspace), free of the DOM so node's test
// runner checks them (sessions.test.mjs). widget.js carries them out.
//
// Every shape here follows Microsoft Learn's CIF 2.0 reference (the pages are
// cited in docs/deploy.md, "Multi-session: CIF 2.0"); none of it has been
// seen against a live workspace yet.
//
// - withTimeout: CIF 2.0 gives up on an API call after 10 s; the widget
//   does not wait longer for one either, so a pop never hangs on it.
// - notificationInput / notificationOutcome: notifyEvent's input and its
//   answer read as accepted, rejected or missed.
// - sessionInput / sessionTitle: createSession's input, setSessionTitle's.
// - CallSessions: which session holds which call, the focused one, the
//   10-session maximum, and what closing a session means for its call.
// - PresenceSync: agent state <-> presence through a documented mapping,
//   without echoing a change back to where it came from.

/** The most sessions createSession allows at once (Microsoft Learn,
 * createSession: "a maximum of 10 sessions simultaneously"). */
export const SESSION_MAX = 10;

/** How long the widget waits for a CIF 2.0 API call: CIF's own timeout. */
export const CIF_V2_TIMEOUT_MS = 10000;

/** Rejects with "what: no answer within 10 s" when p does not settle in ms. */
export function withTimeout(p, ms, what, { setTimer = setTimeout, clearTimer = clearTimeout } = {}) {
  return new Promise((resolve, reject) => {
    const timer = setTimer(() => reject(new Error(`${what}: no answer within ${Math.round(ms / 1000)} s`)), ms);
    Promise.resolve(p).then(
      (v) => {
        clearTimer(timer);
        resolve(v);
      },
      (err) => {
        clearTimer(timer);
        reject(err);
      },
    );
  });
}

/** Template parameters are shown to the agent and fill session titles: each
 * is a short string, never an object from the event. */
function param(v, max = 100) {
  if (v === undefined || v === null) return "";
  return String(v).slice(0, max);
}

/** The caller as the agent should see it: the matched record's or lead's
 * name, else the number, else "Unknown caller". */
export function callerName(call, matchName = "") {
  return param(matchName || (call && call.lead && call.lead.name) || (call && call.number) || "Unknown caller");
}

/**
 * notifyEvent's input for a call presented to the agent (Microsoft Learn,
 * notifyEvent: {templateName, templateParameters, cancellationToken}).
 * The parameters a notification template may show: customerName (the
 * matched record's name, or the number), phoneNumber, queue, campaign,
 * callType and interactionId. The cancellation token is the interaction
 * id's, so cancelEvent finds it when the call stops ringing.
 */
export function notificationInput(call, { template, matchName = "" } = {}) {
  if (!template) throw new Error("cif.notificationTemplate: no notification template is configured; name the Customer Service notification template ctibridge raises for calls");
  const id = param(call && call.interactionId, 200);
  return {
    templateName: template,
    templateParameters: {
      customerName: callerName(call, matchName),
      phoneNumber: param(call && call.number),
      queue: param(call && call.queue),
      campaign: param(call && call.campaign),
      callType: param(call && call.callType),
      interactionId: id,
    },
    cancellationToken: cancellationToken(id),
  };
}

/** The cancellation token of an interaction's notification. */
export function cancellationToken(interactionId) {
  return `ctibridge-${interactionId}`;
}

/** What notifyEvent's answer means for the call. */
export const NotificationOutcome = Object.freeze({ ACCEPTED: "accepted", REJECTED: "rejected", MISSED: "missed" });

/**
 * Reads notifyEvent's answer ({"value": {"actionName", "responseReason"}},
 * a JSON string) as {outcome, reason}:
 *   Accept (Accept, AutoAccept)                 -> accepted
 *   Reject DeclinedByAgent                      -> rejected (the agent said no)
 *   Reject NotificationQueueLimitExceeded,
 *          NotificationQueueTimeLimitExceeded,
 *   Timeout DisplayTimeout                      -> missed (nobody answered it)
 * Anything else is missed, with CIF's words as the reason.
 */
export function notificationOutcome(result) {
  let data = result;
  if (typeof result === "string") {
    try {
      data = JSON.parse(result);
    } catch {
      return { outcome: NotificationOutcome.MISSED, reason: `notifyEvent answered ${result.slice(0, 80)}` };
    }
  }
  const v = (data && (data.value || data)) || {};
  const action = String(v.actionName || "");
  const reason = String(v.responseReason || action || "no answer");
  if (action === "Accept") return { outcome: NotificationOutcome.ACCEPTED, reason };
  if (action === "Reject" && reason === "DeclinedByAgent") return { outcome: NotificationOutcome.REJECTED, reason };
  return { outcome: NotificationOutcome.MISSED, reason };
}

/**
 * createSession's input (Microsoft Learn, createSession: {templateName,
 * templateParameters}). The anchor tab's application tab template reads
 * entityName and entityId (one match: the record), or searchText (several
 * or none: the search page), or the new-record form's data as a JSON
 * string, as the pop decided; customerName and phoneNumber are for the
 * session title ("Call from {customerName}").
 */
export function sessionInput(call, { template, pop = {}, matchName = "" } = {}) {
  if (!template) throw new Error("cif.sessionTemplate: no session template is configured; name the Customer Service session template ctibridge opens for calls");
  const p = {
    customerName: callerName(call, matchName),
    phoneNumber: param(call && call.number),
    interactionId: param(call && call.interactionId, 200),
    entityName: param(pop.entity),
  };
  if (pop.id) p.entityId = param(pop.id);
  if (pop.searchText) p.searchText = param(pop.searchText, 256);
  if (pop.formData) p.data = JSON.stringify(pop.formData);
  return { templateName: template, templateParameters: p };
}

/** setSessionTitle's input: the session and the title slug's value
 * (Microsoft Learn, setSessionTitle: {sessionId, <slug>: value}). */
export function sessionTitle(sessionId, call, matchName = "") {
  return { sessionId, customerName: callerName(call, matchName) };
}

/**
 * CallSessions keeps which CIF session holds which call. A call without a
 * session (the 11th while 10 are open, or createSession failed) is still
 * popped, in the focused session, and logged: it is only not given a
 * session of its own.
 */
export class CallSessions {
  constructor() {
    this.byInteraction = new Map(); // interactionId -> sessionId
    this.bySession = new Map(); // sessionId -> interactionId
    this.focused = "";
  }

  /** How many of the calls' sessions are open. */
  get size() {
    return this.bySession.size;
  }

  /** Whether another session may be created (the 10-session maximum). */
  canOpen() {
    return this.bySession.size < SESSION_MAX;
  }

  /** Records the session created for a call; it is focused, as CIF does. */
  opened(interactionId, sessionId) {
    if (!interactionId || !sessionId) return;
    this.byInteraction.set(interactionId, sessionId);
    this.bySession.set(sessionId, interactionId);
    this.focused = sessionId;
  }

  sessionOf(interactionId) {
    return this.byInteraction.get(interactionId) || "";
  }

  callOf(sessionId) {
    return this.bySession.get(sessionId) || "";
  }

  /**
   * Takes onSessionSwitched's data ({sessionId, focussed}, a JSON string):
   * returns the interaction whose call the widget should now show, or ""
   * when the focused session is not one of the calls' (the home session,
   * another provider's): the widget then keeps what it shows.
   */
  switched(eventData) {
    const d = parse(eventData);
    const id = String(d.sessionId || "");
    if (!id) return "";
    if (d.focussed === false || d.focused === false) {
      if (this.focused === id) this.focused = "";
      return "";
    }
    this.focused = id;
    return this.callOf(id);
  }

  /**
   * Takes onSessionClosed's data ({sessionId}): forgets the session and
   * returns {interactionId, keepsCall} where keepsCall says the call was not
   * wrapped yet (wrapped(interactionId) tells): the call stays in the widget
   * to wrap, and the agent is told so. Returns null for a session that is
   * not a call's.
   */
  closed(eventData, wrapped) {
    const d = parse(eventData);
    const id = String(d.sessionId || "");
    const interactionId = this.callOf(id);
    if (!interactionId) return null;
    this.bySession.delete(id);
    this.byInteraction.delete(interactionId);
    if (this.focused === id) this.focused = "";
    return { interactionId, keepsCall: !wrapped(interactionId) };
  }

  /** Forgets a wrapped call's session (the session stays open in the app
   * until the agent closes it). */
  forget(interactionId) {
    const s = this.byInteraction.get(interactionId);
    if (!s) return;
    this.byInteraction.delete(interactionId);
    this.bySession.delete(s);
  }
}

function parse(data) {
  if (data && typeof data === "object") return data;
  try {
    const v = JSON.parse(String(data || "{}"));
    return v && typeof v === "object" ? v : {};
  } catch {
    return {};
  }
}

/** The default mapping between ctibridge's agent states and the app's
 * presence texts (Omnichannel's built-in presences). */
export const DEFAULT_PRESENCE = Object.freeze({ Ready: "Available", Paused: "Busy", busy: "Busy" });

/** Agent states of a call in progress: they show as the busy presence. */
const ON_CALL_STATES = new Set(["Dialling", "OnCall", "OnWrap"]);

/**
 * PresenceSync keeps the agent's state and the app's presence in step both
 * ways. mapping: {Ready: text, Paused: text, busy: text} (the presence
 * texts as the administrator named them; setPresence needs the exact text).
 *   agent state -> presence: Ready -> mapping.Ready, Paused -> mapping.Paused,
 *     Dialling/OnCall/OnWrap -> mapping.busy; LoggedOut changes nothing.
 *   presence -> agent state: mapping.Ready -> Ready; any other presence
 *     whose base status is not AVAILABLE -> Paused with the presence text as
 *     the reason; nothing while a call is in progress (the telephony
 *     platform owns those states), and nothing for the presence the widget
 *     itself set last (so a change is never echoed back).
 */
export class PresenceSync {
  constructor(mapping = {}) {
    this.map = { ...DEFAULT_PRESENCE, ...mapping };
    this.lastSet = "";
  }

  /** The presence text to set for an agent state, or "" for none. */
  presenceFor(state) {
    if (state === "Ready") return this.map.Ready;
    if (state === "Paused") return this.map.Paused;
    if (ON_CALL_STATES.has(state)) return this.map.busy;
    return "";
  }

  /** Records that the widget asked for text (setPresence). */
  set(text) {
    this.lastSet = text;
  }

  /**
   * Reads onPresenceChange's data ({"presenceInfo": {basePresenceStatus,
   * presenceText, ...}}) and returns the state message to send
   * ({state, reason}), or null.
   */
  stateFor(eventData, currentState) {
    const d = parse(eventData);
    const info = d.presenceInfo || d;
    const text = String(info.presenceText || "");
    if (!text) return null;
    if (text === this.lastSet) {
      this.lastSet = "";
      return null;
    }
    if (ON_CALL_STATES.has(currentState)) return null;
    const base = String(info.basePresenceStatus || "").toUpperCase();
    if (text === this.map.Ready || (base === "AVAILABLE" && text !== this.map.Paused)) {
      return currentState === "Ready" ? null : { state: "Ready", reason: "" };
    }
    if (base === "OFFLINE") return null;
    return currentState === "Paused" ? null : { state: "Paused", reason: text.slice(0, 100) };
  }
}

/**
 * Decides whether calls get sessions: "multi" or "single". settings is
 * hello's settings.cif. "single", a library without the session APIs (CIF
 * 1.0), or missing templates: single. "multi": multi. "auto": multi when
 * canCreateSession answers true within the timeout; a refusal (a
 * single-session app) or no answer means the widget cannot tell, and works
 * single-session as the config's default says.
 */
export async function sessionMode(lib, settings, { timeoutMs = CIF_V2_TIMEOUT_MS, timer = {} } = {}) {
  const s = settings || {};
  if (!lib || typeof lib.createSession !== "function" || typeof lib.notifyEvent !== "function") return "single";
  if (s.sessions === "single" || !s.sessionTemplate || !s.notificationTemplate) return "single";
  if (s.sessions === "multi") return "multi";
  try {
    const can = await withTimeout(lib.canCreateSession(), timeoutMs, "canCreateSession", timer);
    return can === true || can === "true" ? "multi" : "single";
  } catch {
    return "single";
  }
}

/**
 * offerCall runs a presented call through CIF 2.0: the notification, then,
 * once accepted, a session of its own in which the pop runs (so the popped
 * record is the session's anchor tab), and the session's title. pop(lib) runs
 * the screen pop and resolves with its result (core.executePop).
 *
 * Resolves {result, notification, sessionId, notes}: result is the pop's
 * result, for popResult. A rejected or missed notification pops nothing and
 * its result says why (outcome none, error). A notification or session call
 * that fails or times out is noted, and the call is popped all the same (in
 * the focused session), so nothing is lost.
 */
export async function offerCall(lib, { call, decision, settings, sessions, pop, matchName = "", notifyTimeoutMs = 120000, timeoutMs = CIF_V2_TIMEOUT_MS, timer = {} }) {
  const notes = [];
  let notification = null;
  try {
    const input = notificationInput(call, { template: settings.notificationTemplate, matchName });
    const answer = await withTimeout(lib.notifyEvent(JSON.stringify(input), "", input.cancellationToken), notifyTimeoutMs, "notifyEvent", timer);
    notification = notificationOutcome(answer);
  } catch (err) {
    notes.push(`the call's notification failed (${message(err)}): popped without it`);
  }
  if (notification && notification.outcome !== NotificationOutcome.ACCEPTED) {
    const what = notification.outcome === NotificationOutcome.REJECTED ? "rejected by the agent" : "missed";
    return {
      result: { outcome: "none", matches: [], total: 0, ms: 0, error: `notification ${what} (${notification.reason}): not popped` },
      notification,
      sessionId: "",
      notes,
    };
  }
  let sessionId = "";
  if (!sessions.canOpen()) {
    notes.push(`${SESSION_MAX} sessions are open, the most the app allows: this call is popped in the focused session`);
  } else {
    try {
      const can = await withTimeout(lib.canCreateSession(), timeoutMs, "canCreateSession", timer);
      if (can === true || can === "true") {
        const anchor = { entity: decision && decision.entity, searchText: decision && decision.searchText };
        sessionId = String(await withTimeout(lib.createSession(JSON.stringify(sessionInput(call, { template: settings.sessionTemplate, pop: anchor, matchName }))), timeoutMs, "createSession", timer));
        sessions.opened(call.interactionId, sessionId);
      } else {
        notes.push("the app allows no new session now: this call is popped in the focused session");
      }
    } catch (err) {
      notes.push(`the call's session could not be opened (${message(err)}): popped in the focused session`);
    }
  }
  const result = await pop(lib);
  if (sessionId) {
    const name = result && result.outcome === "record" && result.matches && result.matches[0] ? result.matches[0].name : matchName;
    try {
      await withTimeout(lib.setSessionTitle(JSON.stringify(sessionTitle(sessionId, call, name))), timeoutMs, "setSessionTitle", timer);
    } catch (err) {
      notes.push(`the session's title could not be set (${message(err)})`);
    }
  }
  return { result, notification, sessionId, notes };
}

function message(err) {
  if (err && typeof err === "object" && typeof err.message === "string") return err.message;
  if (typeof err === "string") {
    try {
      const o = JSON.parse(err);
      if (o && typeof o.message === "string") return o.message;
    } catch {
      // the string itself
    }
    return err;
  }
  return String(err);
}
