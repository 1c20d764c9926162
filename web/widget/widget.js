// widget.js: the CIF widget's page wiring: login, the agent WebSocket, the
// DOM, and Microsoft.CIFramework. Decisions live in core.mjs (tested with
// node --test); this file only connects them to the browser.
//
// Element ids for browser tests (all in index.html):
//   #login-form #login-agent #login-pin #login-submit #login-error
//   #connection-status[data-status=offline|connecting|connected|reconnecting]
//   #logout  #error-banner #error-text #error-dismiss
//   #agent (shown once logged in)  #agent-id
//   #agent-state[data-state=LoggedOut|Paused|Ready|Dialling|OnCall|OnWrap]  #state-toggle
//   #call-banner[data-state=idle|active|ended][data-interaction-id]
//     #call-number #call-type #call-state #call-campaign #call-lead #call-timer
//     #call-dial (shown while a preview is offered: dials the lead)
//   #pop-outcome[data-outcome=record|search|new|none]
//   #pop-picker (several matches CIF cannot list: a button per record, data-entity, data-id)
//   #select-person #select-organisation (option value "entity:id")
//   #select-person-text #select-organisation-text (the chosen record's full name, shown on a narrow panel)
//   #wrap-code #wrap-error #wrap-notes  #wrap-submit (in #wrap-bar, sticky at the panel's bottom)  #call-ended-note
//   #agent-announce (polite status: the agent's state when it changes)
//   #cif-status[data-status=waiting|ready|absent]
//   #telephony[data-source=""|sip|ipscape][data-status=off|starting|ready|failed]  #telephony-text
//   #softphone (the SIP softphone, web/widget/softphone.mjs; shown when the source is sip)

import * as core from "./core.mjs";
import * as cif2 from "./sessions.mjs";
import { agentStateLabel, Announcer, ErrorScope, RelateCommitter, focusTarget } from "./agentui.mjs";

const $ = (id) => document.getElementById(id);
const SESSION_KEY = "ctibridge.session";
const POPPED_KEY = "ctibridge.popped";
const EVENTS_KEY = "ctibridge.events";
// What the error banner is about (agentui.ErrorScope); first, as the
// settings below may already show an error.
const errorScope = new ErrorScope();

const pageSettings = (() => {
  try {
    return core.readSettings($("ctibridge-settings").textContent);
  } catch (err) {
    showError(`The widget's settings are unreadable (${err.message}); using this server's defaults.`);
    return {};
  }
})();

const session = new core.WidgetSession({ popped: loadPopped() });
let cif = null;
let cifState = "waiting";
let cifProblem = ""; // why there is no CIF library, for the agent
let cifHandlersAdded = false;
let clickToActOn = false;
let lastRecord = null; // {entity, id} of the record the agent last opened
let ws = null;
let wsOpened = false;
let reconnectAttempt = 0;
let reconnectTimer = null;
let loggedIn = false;
let machineQueue = []; // popResult/writeResult waiting for a connection
let writesChain = Promise.resolve();
const naming = new Set(); // "entity:id" of records whose names are being looked up
let wrapPendingRef = "";
let wrapTimer = null;
// The browser telephony provider (web/widget/providers/SOURCE.mjs) when the
// server's source is sip or ipscape, its softphone UI, and the events it
// reported that the server has not acknowledged yet.
let provider = null;
let providerSource = "";
let providerStatus = { status: "off", text: "" };
let softphone = null;
let events = new core.EventOutbox();
let nextEventRef = 1;
let eventRetryTimer = null;
let relationsKey = "";
// providerRun counts provider starts and stops, so a start that awaited
// (the module, the softphone lock) knows whether it is still wanted.
let providerRun = 0;
// What the agent sees and hears change with: the banner's error (gone with
// the call it was about), the state announcements, the relate choice being
// settled, the preview dial on its way, and the call shown at the last
// render (for focus).
const announcer = new Announcer();
const relateCommitter = new RelateCommitter({
  keyOf: () => JSON.stringify(session.relateMessage()),
  send: () => !!(session.call && sendUser(session.relateMessage(), "Relate")),
});
let dialPendingFor = ""; // the preview whose Dial is on its way
let dialPendingRef = "";
let renderedCallId = "";
let focusAfter = ""; // "call" or "wrapped": focus moves once it is lost

// CIF 1.0 and 2.0 both raise CIFInitDone before their APIs may be called:
// the widget waits for it, and says why when it does not come.
const cifReady = core
  .waitForCIF(window, { initDone: () => window.__ctibridgeCIFInitDone === true })
  .then(({ lib, problem }) => {
    cif = lib;
    cifProblem = problem;
    cifState = lib ? "ready" : "absent";
    renderCIFStatus();
    if (lib) {
      configureCIF();
      loadUserId(lib);
    }
    return lib;
  });

// ---- storage ----

function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    if (!s || !s.token) return null;
    if (s.expiresAt && Date.parse(s.expiresAt) <= Date.now()) return null;
    return s;
  } catch {
    return null;
  }
}

function loadPopped() {
  try {
    const v = JSON.parse(sessionStorage.getItem(POPPED_KEY) || "[]");
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

function savePopped() {
  try {
    sessionStorage.setItem(POPPED_KEY, JSON.stringify([...session.popped].slice(-50)));
  } catch {
    // Storage full or blocked: only a reload would re-pop, and hello guards that too.
  }
}

// ---- errors ----

// showError shows an error about the widget itself (settings, connection):
// it stays until dismissed. actionError shows one about what the agent did
// during the current call, which goes once that call is wrapped or another
// arrives.
function showError(text) {
  errorScope.shownForWidget();
  const banner = $("error-banner");
  $("error-text").textContent = text;
  banner.hidden = false;
}

function actionError(text) {
  showError(text);
  errorScope.shownForCall(session.call ? session.call.interactionId : "");
}

function clearError() {
  $("error-banner").hidden = true;
  $("error-text").textContent = "";
}

// ---- login ----

async function login(event) {
  event.preventDefault();
  const agentId = $("login-agent").value.trim();
  const pin = $("login-pin").value;
  const errEl = $("login-error");
  errEl.textContent = "";
  if (!agentId) {
    errEl.textContent = "Enter your agent ID.";
    $("login-agent").focus();
    return;
  }
  if (!pin) {
    errEl.textContent = "Enter your PIN.";
    $("login-pin").focus();
    return;
  }
  const button = $("login-submit");
  button.disabled = true;
  button.textContent = "Logging in…";
  try {
    let res;
    try {
      // 503 means the server's PIN checks are all busy (many agents log in
      // at once): try again after its Retry-After, a few times, unasked.
      for (let attempt = 0; ; attempt++) {
        res = await fetch(core.apiURL(pageSettings.apiBase, "/api/v1/sessions", location.href), {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ agentId, pin }),
        });
        const wait = Number(res.headers.get("Retry-After"));
        if (res.status !== 503 || attempt >= 4 || !(wait > 0 && wait <= 5)) break;
        await new Promise((resolve) => setTimeout(resolve, wait * 1000 * (1 + Math.random())));
      }
    } catch {
      errEl.textContent = core.loginError(0, null);
      return;
    }
    let body = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (!res.ok) {
      errEl.textContent = core.loginError(res.status, body);
      $("login-pin").select();
      return;
    }
    sessionStorage.setItem(SESSION_KEY, JSON.stringify({ token: body.token, agentId: body.agentId || agentId, expiresAt: body.expiresAt }));
    $("login-pin").value = "";
    startSession();
    $("state-toggle").focus();
  } finally {
    button.disabled = false;
    button.textContent = "Log in";
  }
}

function startSession() {
  const s = loadSession();
  if (!s) {
    showLogin("");
    return;
  }
  loggedIn = true;
  $("login").hidden = true;
  $("agent").hidden = false;
  $("logout").hidden = false;
  $("agent-id").textContent = s.agentId;
  events = new core.EventOutbox({ agentId: s.agentId, saved: loadSavedEvents() });
  reconnectAttempt = 0;
  connect();
}

function showLogin(message) {
  loggedIn = false;
  announcer.reset();
  $("login").hidden = false;
  $("agent").hidden = true;
  $("logout").hidden = true;
  $("login-error").textContent = message || "";
  setConnection("offline");
}

// endSession asks the server to end the agent's sessions (this tab's and
// the others', which then close), so the token is worth nothing to whoever
// copies it after. Logging out in this tab does not wait for it.
function endSession() {
  const s = loadSession();
  if (!s) return;
  fetch(core.apiURL(pageSettings.apiBase, "/api/v1/sessions", location.href), {
    method: "DELETE",
    headers: { Authorization: `Bearer ${s.token}` },
    keepalive: true,
  }).catch(() => {});
}

function logout(message) {
  sessionStorage.removeItem(SESSION_KEY);
  loggedIn = false;
  clearTimeout(reconnectTimer);
  if (ws) {
    const old = ws;
    ws = null;
    old.close(1000, "logged out");
  }
  machineQueue = [];
  stopProvider();
  showLogin(message);
  $("login-agent").focus();
}

// ---- connection ----

function setConnection(status) {
  const el = $("connection-status");
  el.dataset.status = status;
  el.textContent = { offline: "Offline", connecting: "Connecting…", connected: "Connected", reconnecting: "Reconnecting…" }[status] || status;
}

function connect() {
  clearTimeout(reconnectTimer);
  const s = loadSession();
  if (!s) {
    logout("Your session has expired: log in again.");
    return;
  }
  const urls = core.socketURLs(pageSettings.wsURL, location.href);
  setConnection(reconnectAttempt === 0 ? "connecting" : "reconnecting");
  wsOpened = false;
  let sock;
  try {
    sock = new WebSocket(urls.ws, core.socketProtocols(s.token));
  } catch (err) {
    showError(`Cannot open the connection to ctibridge: ${err.message}`);
    scheduleReconnect(urls.http, s.token);
    return;
  }
  ws = sock;
  sock.onopen = () => {
    if (ws !== sock) return;
    wsOpened = true;
    reconnectAttempt = 0;
    setConnection("connected");
    flushEvents();
    reportDynamicsUser();
    const queued = machineQueue;
    machineQueue = [];
    for (const m of queued) sock.send(JSON.stringify(m));
  };
  sock.onmessage = (ev) => {
    if (ws !== sock) return;
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      showError("ctibridge sent a message that is not JSON; it was ignored.");
      return;
    }
    handleMessage(msg);
  };
  sock.onclose = (ev) => {
    if (ws !== sock) return;
    ws = null;
    events.disconnected();
    if (!loggedIn) return;
    if (ev.code === core.SESSION_ENDED) {
      // Logged out in another tab, or the PIN was changed.
      logout("Your session has ended: log in again.");
      return;
    }
    if (ev.code === core.REFUSED) {
      logout(core.refusalMessage(ev.reason));
      return;
    }
    setConnection("reconnecting");
    scheduleReconnect(wsOpened ? "" : urls.http, s.token);
  };
}

// scheduleReconnect waits with back-off; after a connection that never
// opened it first asks the endpoint over plain HTTP, which answers 401 when
// the token is no longer valid (the server restarted with a new key, or the
// session expired or was ended), so the agent is sent to the login form
// instead of retrying for ever. The token goes in the Authorization header,
// never in the URL.
async function scheduleReconnect(probeURL, token) {
  if (probeURL) {
    try {
      const res = await fetch(probeURL, { headers: { Accept: "application/json", Authorization: `Bearer ${token}` } });
      if (res.status === 401) {
        logout("Your session has expired: log in again.");
        return;
      }
    } catch {
      // Server unreachable: keep retrying.
    }
  }
  if (!loggedIn) return;
  const delay = core.backoffDelay(reconnectAttempt++);
  reconnectTimer = setTimeout(connect, delay);
}

// sendMachine sends the widget's own reports (popResult, writeResult),
// queueing them while disconnected; a refusal of one is only logged.
function sendMachine(msg, what) {
  const withRef = session.withRef(msg, what, { quiet: true });
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(withRef));
  else if (machineQueue.length < 200) machineQueue.push(withRef);
}

// sendUser sends what the agent asked for, or says plainly why it cannot.
function sendUser(msg, what) {
  if (!ws || ws.readyState !== WebSocket.OPEN) {
    actionError(`${what}: not connected to ctibridge. Try again when the status shows Connected.`);
    return "";
  }
  const withRef = session.withRef(msg, what);
  ws.send(JSON.stringify(withRef));
  return withRef.ref;
}

// ---- server messages ----

function handleMessage(msg) {
  if (msg && (msg.type === "ack" || msg.type === "error") && eventReply(msg)) return;
  const effects = session.receive(msg);
  for (const fx of effects) {
    switch (fx.do) {
      case "configure":
        renderWrapCodes();
        configureCIF();
        startProvider(session.settings.telephony);
        break;
      case "pop":
        runPop(fx.interactionId, fx.decision);
        break;
      case "writes":
        runWritesInOrder(fx.interactionId, fx.writes);
        break;
      case "error":
        if (fx.ref && fx.ref === wrapPendingRef) endWrapPending();
        if (fx.ref && fx.ref === dialPendingRef) endDialPending();
        actionError(fx.message);
        break;
      case "log":
        console.warn(`ctibridge refused ${fx.message} (${fx.code})`);
        break;
      case "report":
        sendMachine(fx.message, fx.what);
        break;
      case "callEnded":
        endWrapPending();
        $("wrap-notes").value = "";
        $("wrap-code").value = "";
        showWrapError("");
        break;
    }
  }
  if (msg && msg.type === "pop") savePopped();
  if (msg && (msg.type === "agentState" || msg.type === "hello")) syncPresence();
  render();
}

// CIF 2.0 multi-session (sessions.mjs): which session holds which call, the
// agent-state <-> presence mapping, and the mode, decided once per settings.
const callSessions = new cif2.CallSessions();
let presenceSync = new cif2.PresenceSync();
let modeKey = "";
let modeP = Promise.resolve("single");
function sessionMode(lib) {
  const key = JSON.stringify(session.settings.cif || {});
  if (key !== modeKey) {
    modeKey = key;
    presenceSync = new cif2.PresenceSync((session.settings.cif && session.settings.cif.presence) || {});
    modeP = cif2.sessionMode(lib, session.settings.cif);
  }
  return modeP;
}

async function runPop(interactionId, decision) {
  const lib = await cifReady;
  let result;
  const pop = (l) => core.executePop(l, decision, { entities: session.settings.entities });
  if (!lib) {
    result = { outcome: core.Outcome.NONE, matches: [], total: 0, ms: 0, error: `the CIF library is not available: ${cifProblem || "open the widget inside Dynamics 365"}` };
  } else if ((await sessionMode(lib)) === "multi") {
    // A notification first, then the call's own session with the pop in
    // it. Whatever fails there, the call is still popped and logged.
    const call = session.call && session.call.interactionId === interactionId ? session.call : { interactionId };
    const offered = await cif2.offerCall(lib, { call, decision, settings: session.settings.cif, sessions: callSessions, pop });
    result = offered.result;
    for (const note of offered.notes) console.warn(`ctibridge: call ${interactionId}: ${note}`);
    if (offered.notes.length) actionError(`Call ${interactionId}: ${offered.notes.join("; ")}.`);
  } else {
    result = await pop(lib);
  }
  sendMachine(session.popDone(interactionId, decision, result), `Screen pop result for ${interactionId}`);
  render();
}

function runWritesInOrder(interactionId, writes) {
  writesChain = writesChain.then(async () => {
    const lib = await cifReady;
    if (!lib) {
      for (const w of writes) {
        sendMachine({ type: "writeResult", idempotencyKey: (w && w.idempotencyKey) || "", error: "the CIF library is not available: open the widget inside Dynamics 365" }, "Write result");
      }
      return;
    }
    const results = await core.runWrites(lib, writes, { entities: session.settings.entities });
    for (const r of results) {
      sendMachine(r, "Write result");
      if (r.error) actionError(`CRM write for ${interactionId} failed: ${r.error}`);
    }
  });
}

// ---- CIF ----

function configureCIF() {
  if (!cif) return;
  if (!cifHandlersAdded) {
    cifHandlersAdded = true;
    cif.addHandler("onclicktoact", onClickToAct);
    cif.addHandler("onpagenavigate", onPageNavigate);
    cif.addHandler("onSessionClosed", onSessionClosed);
    cif.addHandler("onPresenceChange", onPresenceChange);
  }
  const want = !!session.settings.clickToDial;
  if (want !== clickToActOn) {
    clickToActOn = want;
    cif.setClickToAct(want).catch((err) => showError(`Click-to-dial could not be ${want ? "enabled" : "disabled"}: ${core.cifErrorMessage(err)}`));
  }
}

// loadUserId reads the agent's Dynamics user id, which relate sends so the
// agent becomes the phone call's other party.
async function loadUserId(lib) {
  try {
    const env = core.parseJSONResult(await lib.getEnvironment(), "getEnvironment");
    if (env && typeof env.userId === "string") {
      session.userId = env.userId;
      reportDynamicsUser();
    }
  } catch (err) {
    console.warn("CIF getEnvironment failed; relate goes without the agent's user id", err);
  }
}

// reportDynamicsUser tells ctibridge, on every connection, which Dynamics
// user this CIF session is signed in as. With --impersonate-agents the
// server compares it with the user its agent writes as, and closes the
// socket with REFUSED when they differ (docs/widget-protocol.md).
function reportDynamicsUser() {
  if (session.userId && ws && ws.readyState === WebSocket.OPEN) {
    sendMachine({ type: "environment", userId: session.userId }, "Dynamics user");
  }
}

// nameRecords looks up, once each, the names of records the boxes list by id
// only (chosen in another tab, or opened before their name could be read).
function nameRecords() {
  if (!cif) return;
  for (const r of session.relations.unnamed()) {
    const k = `${r.entity}:${r.id}`;
    if (naming.has(k)) continue;
    naming.add(k);
    const col = core.nameColumn(r.entity, session.settings.entities);
    cif
      .retrieveRecord(r.entity, r.id, `?$select=${col}`)
      .then((res) => {
        const name = core.recordName(core.parseJSONResult(res, "retrieveRecord"), r.entity, session.settings.entities);
        if (session.relations.rename(r.entity, r.id, name)) render();
      })
      .catch(() => {});
  }
}

function onClickToAct(data) {
  let dial;
  try {
    dial = core.dialFromClickToAct(data, lastRecord);
  } catch (err) {
    actionError(`Click-to-dial: ${err.message}`);
    return Promise.resolve();
  }
  if (dial) placeCall(dial);
  return Promise.resolve();
}

// onSessionClosed: a call's session closed before its wrap keeps the call in
// the widget, to wrap here, and says so.
function onSessionClosed(data) {
  const closed = callSessions.closed(data, (id) => !(session.call && session.call.interactionId === id));
  if (closed && closed.keepsCall) actionError(`The session of call ${closed.interactionId} was closed before its wrap: the call stays here, wrap it in the widget.`);
  return Promise.resolve();
}

// onPresenceChange: a presence the agent chose in the app changes the
// agent's state through the telephony provider (cif.presence's mapping).
async function onPresenceChange(data) {
  if (!cif || (await sessionMode(cif)) !== "multi") return;
  const change = presenceSync.stateFor(data, (session.agent && session.agent.state) || "");
  if (change) sendUser({ type: "state", state: change.state, reason: change.reason }, change.state === "Paused" ? "Pause" : "Ready");
}

// syncPresence sets the app's presence for the agent's state.
let presenceShown = "";
async function syncPresence() {
  const state = session.agent && session.agent.state;
  if (!cif || !state || (await sessionMode(cif)) !== "multi") return;
  const text = presenceSync.presenceFor(state);
  if (!text || text === presenceShown) return;
  presenceShown = text;
  presenceSync.set(text);
  cif2.withTimeout(cif.setPresence(text), cif2.CIF_V2_TIMEOUT_MS, "setPresence").catch((err) => console.warn(`ctibridge: setPresence ${text}: ${core.cifErrorMessage(err)}`));
}

async function onPageNavigate(data) {
  let page;
  try {
    page = core.parsePageURL(core.parseJSONResult(data, "onpagenavigate").value);
  } catch {
    return;
  }
  if (page.pageType !== "entityrecord" || !page.entity || !page.id) return;
  lastRecord = { entity: page.entity, id: page.id };
  const call = session.call;
  if (!call || !session.relations.typeOf(page.entity)) return;
  const interactionId = call.interactionId;
  let name = page.id;
  try {
    const col = core.nameColumn(page.entity, session.settings.entities);
    const rec = core.parseJSONResult(await cif.retrieveRecord(page.entity, page.id, `?$select=${col}`), "retrieveRecord");
    name = core.recordName(rec, page.entity, session.settings.entities) || page.id;
  } catch {
    // The record still goes in the box, by id, if its name cannot be read.
  }
  if (!session.call || session.call.interactionId !== interactionId) return;
  if (session.relations.add({ entity: page.entity, id: page.id, name }, "navigate")) render();
}

// ---- rendering ----

// renderPicker lists the matches of a pop that CIF cannot show on its search
// page (several records of an entity other than account, contact or an
// activity): each opens its record.
let pickerKey = "";
function renderPicker(matches) {
  const list = $("pop-picker");
  if (!list) return;
  const key = JSON.stringify(matches || []);
  if (key === pickerKey) return;
  pickerKey = key;
  list.replaceChildren();
  list.hidden = !matches || matches.length === 0;
  for (const m of matches || []) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = m.name || m.id;
    button.dataset.entity = m.entity;
    button.dataset.id = m.id;
    button.addEventListener("click", () => {
      if (!cif) return;
      cif
        .openForm(JSON.stringify({ entityName: m.entity, entityId: m.id }))
        .catch((err) => showError(`Open ${m.name || m.id}: ${core.cifErrorMessage(err)}`));
    });
    item.append(button);
    list.append(item);
  }
}

function renderCIFStatus() {
  const el = $("cif-status");
  el.dataset.status = cifState;
  el.textContent = {
    waiting: "CIF: waiting for Dynamics…",
    ready: "CIF: connected to Dynamics",
    absent: `CIF: screen pops are off: ${cifProblem || "not inside Dynamics"}`,
  }[cifState];
}

function renderWrapCodes() {
  const sel = $("wrap-code");
  const current = sel.value;
  const codes = session.settings.wrapCodes || [];
  const wanted = JSON.stringify(codes);
  if (sel.dataset.codes === wanted) return;
  sel.dataset.codes = wanted;
  sel.replaceChildren(new Option("Choose a wrap code", ""));
  for (const c of codes) sel.add(new Option(c.label ? `${c.label} (${c.code})` : c.code, c.code));
  sel.value = codes.some((c) => c.code === current) ? current : "";
}

function renderSelect(sel, type) {
  const options = session.relations.options(type);
  const key = JSON.stringify(options.map((o) => [o.value, o.label]));
  if (sel.dataset.options !== key) {
    sel.dataset.options = key;
    sel.replaceChildren(new Option("— none —", ""));
    for (const o of options) sel.add(new Option(o.label, o.value));
  }
  const chosen = options.find((o) => o.selected);
  sel.value = chosen ? chosen.value : "";
  // A narrow panel cuts the select box's text: the full name goes below.
  $(`${sel.id}-text`).textContent = chosen ? chosen.label : "";
}

function text(id, value) {
  $(id).textContent = value;
}

function render() {
  const agent = session.agent || {};
  const state = agent.state || "LoggedOut";
  const badge = $("agent-state");
  badge.dataset.state = state;
  const label = agentStateLabel(state, session.call);
  badge.textContent = label;
  if (loggedIn) {
    const say = announcer.next(label, session.call);
    if (say) $("agent-announce").textContent = say;
  }
  const reason = $("agent-reason");
  reason.hidden = !(state === "Paused" && agent.reason);
  reason.textContent = agent.reason ? `Reason: ${agent.reason}` : "";
  const toggle = core.stateToggle(state);
  const tb = $("state-toggle");
  tb.textContent = toggle.label;
  tb.dataset.target = toggle.target;
  tb.disabled = toggle.disabled;
  // ipSCAPE's adaptor owns the agent's state: it is changed there.
  tb.hidden = providerSource === "ipscape";

  const call = session.call;
  const banner = $("call-banner");
  if (call) {
    banner.dataset.state = core.callEnded(call) ? "ended" : "active";
    banner.dataset.interactionId = call.interactionId;
    $("call-idle").hidden = true;
    $("call-details").hidden = false;
    text("call-number", call.number || "Unknown number");
    text("call-type", call.callType ? call.callType.charAt(0).toUpperCase() + call.callType.slice(1) : "Call");
    text("call-state", core.CALL_STATE_LABELS[call.state] || call.state || "");
    text("call-campaign", [call.campaign, call.queue].filter(Boolean).join(" / ") || "–");
    text("call-lead", (call.lead && call.lead.name) || "–");
    text("call-timer", session.callTimer());
    const dial = core.previewDialMessage(call);
    const dialButton = $("call-dial");
    dialButton.hidden = !dial;
    if (!dial && dialPendingFor === call.interactionId) dialPendingFor = "";
    const dialling = !!dial && dialPendingFor === call.interactionId;
    dialButton.disabled = dialling;
    if (dial) dialButton.textContent = dialling ? `Dialling ${dial.number}…` : `Dial ${dial.number}`;
  } else {
    banner.dataset.state = "idle";
    delete banner.dataset.interactionId;
    $("call-idle").hidden = false;
    $("call-details").hidden = true;
  }

  const pop = $("pop-outcome");
  const po = session.popOutcome;
  pop.dataset.outcome = po ? po.outcome : "";
  pop.classList.toggle("failed", !!(po && po.error));
  pop.textContent = po ? po.text : "";
  renderPicker(po && po.picker);

  const ended = $("call-ended-note");
  if (!call && session.lastEnded) {
    ended.hidden = false;
    ended.textContent = `Call ${session.lastEnded.interactionId} wrapped.`;
  } else {
    ended.hidden = true;
  }

  renderSelect($("select-person"), core.EntityType.PERSON);
  renderSelect($("select-organisation"), core.EntityType.ORGANISATION);
  renderTelephony();
  $("relate").disabled = !call;
  $("wrap").disabled = !call || !!wrapPendingRef;
  $("wrap-submit").disabled = !call || !!wrapPendingRef;
  renderWrapCodes();
  nameRecords();
  renderCallChange(call);
}

// renderCallChange follows a call arriving or being wrapped: the relate
// choice of the last call is forgotten, an error about it goes, and focus
// that the change takes away (the focused Ready button is disabled once the
// agent is on the call, the wrap form after a wrap) moves somewhere
// meaningful. The state that disables a control may come a message after
// the call, so the move waits, for this call, until focus is lost.
function renderCallChange(call) {
  const callId = call ? call.interactionId : "";
  if (errorScope.outlived(callId)) clearError();
  if (callId !== renderedCallId) {
    const before = renderedCallId;
    renderedCallId = callId;
    relateCommitter.reset();
    focusAfter = callId ? "call" : before && session.lastEnded ? "wrapped" : "";
  }
  const dialShown = !$("call-dial").hidden && !$("call-dial").disabled;
  if (focusAfter === "dial") {
    // Focus went to the banner before the preview's Dial was shown.
    if (!dialShown) return;
    focusAfter = "";
    if (document.activeElement === $("call-banner") || focusLost()) $("call-dial").focus();
    return;
  }
  if (!focusAfter || !focusLost()) return;
  const target =
    focusAfter === "call"
      ? focusTarget("call", { previewDial: dialShown })
      : focusTarget("wrapped", { stateToggleEnabled: !$("state-toggle").disabled && !$("state-toggle").hidden });
  focusAfter = target === "call-banner" && call && (call.callType === "preview" || call.state === "previewing") ? "dial" : "";
  $(target).focus();
}

// focusLost tells whether the agent was in the widget and its focus went
// away with what it was on; focus in the CRM page around the widget is never
// taken.
function focusLost() {
  if (!loggedIn || !document.hasFocus()) return false;
  const el = document.activeElement;
  return !el || el === document.body || el.disabled || el.closest("[hidden]") !== null || el.closest("fieldset:disabled") !== null;
}

function endWrapPending() {
  wrapPendingRef = "";
  clearTimeout(wrapTimer);
  $("wrap-submit").textContent = "Wrap";
}

// ---- agent actions ----

function onStateToggle() {
  const target = $("state-toggle").dataset.target || "Ready";
  sendUser({ type: "state", state: target, reason: "" }, target === "Paused" ? "Pause" : "Ready");
}

// onPreviewDial dials the preview once: the button is disabled while the
// dial is on its way (a double click would otherwise send two), until the
// call moves on or the dial is refused.
function onPreviewDial() {
  const call = session.call;
  const dial = core.previewDialMessage(call);
  if (!dial || dialPendingFor === call.interactionId) return;
  dialPendingFor = call.interactionId;
  const ref = placeCall(dial, endDialPending);
  if (ref === "") endDialPending();
  else if (typeof ref === "string") dialPendingRef = ref;
  render();
}

function endDialPending() {
  dialPendingFor = "";
  dialPendingRef = "";
  render();
}

// placeCall dials through the browser provider when there is one (the
// softphone, ipSCAPE's adaptor), else asks the server's provider. It
// returns the message's ref ("" when it could not be sent), or nothing for
// the provider, which calls failed when the dial fails.
function placeCall(dial, failed = () => {}) {
  if (provider) {
    provider.dial(dial.number).catch((err) => {
      actionError(`Dial ${dial.number}: ${err.message || err}`);
      failed();
    });
    return undefined;
  }
  return sendUser(dial, `Dial ${dial.number}`);
}

// A relate is a CRM write: browsing the box with the arrow keys must not
// relate the call to every record on the way (agentui.RelateCommitter).
function onRelateChange(event) {
  const sel = event.target;
  try {
    if (!session.relations.select(sel.dataset.box, sel.value)) return;
  } catch (err) {
    actionError(err.message);
    return;
  }
  relateCommitter.changed();
  render();
}

function showWrapError(text) {
  const el = $("wrap-error");
  el.textContent = text;
  el.hidden = !text;
  if (text) $("wrap-code").setAttribute("aria-invalid", "true");
  else $("wrap-code").removeAttribute("aria-invalid");
}

function onWrap(event) {
  event.preventDefault();
  // The choice the agent just made goes before the wrap that completes the
  // activity.
  relateCommitter.commit();
  if (session.call && !$("wrap-code").value) {
    showWrapError("Choose a wrap code.");
    $("wrap-code").focus();
    return;
  }
  let msg;
  try {
    msg = session.wrapMessage($("wrap-code").value, $("wrap-notes").value);
  } catch (err) {
    actionError(err.message);
    return;
  }
  showWrapError("");
  const ref = sendUser(msg, "Wrap");
  if (!ref) return;
  wrapPendingRef = ref;
  $("wrap-submit").textContent = "Wrapping…";
  // The server answers a wrap with callEnded, or an error naming this ref;
  // if neither comes the agent can try again.
  wrapTimer = setTimeout(() => {
    endWrapPending();
    render();
  }, 15000);
  render();
}

// ---- browser telephony ----

function loadSavedEvents() {
  try {
    return JSON.parse(sessionStorage.getItem(EVENTS_KEY) || "null");
  } catch {
    return null;
  }
}

function saveEvents() {
  try {
    sessionStorage.setItem(EVENTS_KEY, JSON.stringify(events));
  } catch {
    // Storage full or blocked: the events are still kept in memory.
  }
}

// How long a call another device answered waits before the widget reports
// it failed here: long enough for that device's own callStarted to reach the
// server first when the device is this agent's (another browser).
const ELSEWHERE_GRACE_MS = 2000;

// emitEvent takes one event from the provider. A call that another device
// answered is held back briefly, then dropped if the server shows that call
// connected (the agent answered it on another of its devices), and reported
// failed otherwise (a colleague answered it), so the ringing does not stay
// open here. Every other event goes out at once.
function emitEvent(event) {
  const ix = event && event.interaction && event.interaction.agentInteractionId;
  if (event && event.type === "callFailed" && event.interaction && event.interaction.activity &&
      event.interaction.activity.dialStatusName === "Answered elsewhere") {
    setTimeout(() => {
      const call = session.call;
      if (call && call.interactionId === ix && ["connected", "ended", "wrapped"].includes(call.state)) return;
      queueEvent(event);
    }, ELSEWHERE_GRACE_MS);
    return;
  }
  queueEvent(event);
}

// queueEvent stores the event, sends it, and sends it again after a
// reconnect until the server acknowledges it.
function queueEvent(event) {
  let dropped;
  try {
    dropped = events.add(event);
  } catch (err) {
    console.error("ctibridge: the telephony provider reported an event without an id", err);
    return;
  }
  if (dropped.length > 0) showError(`${dropped.length} telephony event(s) could not be kept while ctibridge was unreachable.`);
  saveEvents();
  flushEvents();
}

function flushEvents() {
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  for (const m of events.toSend(() => `e${nextEventRef++}`)) ws.send(JSON.stringify(m));
}

// eventReply handles the server's answer to an event; false when msg
// answers something else.
function eventReply(msg) {
  const r = events.reply(msg);
  if (!r) return false;
  saveEvents();
  if (r.refused) {
    actionError(`ctibridge refused the ${r.refused.type} of call ${(r.refused.interaction && r.refused.interaction.agentInteractionId) || ""}: ${r.message}`);
  } else if (r.retry && !eventRetryTimer) {
    eventRetryTimer = setTimeout(() => {
      eventRetryTimer = null;
      flushEvents();
    }, 2000);
  }
  return true;
}

async function startProvider(telephony) {
  const source = core.browserSource(telephony);
  // A hello after a reconnect finds the provider started, or starting.
  if (!source || providerSource === source) return;
  stopProvider();
  const s = loadSession();
  if (!s) return;
  const run = ++providerRun;
  providerSource = source;
  providerStatus = { status: "starting", text: source === "sip" ? "Softphone: registering…" : "ipSCAPE adaptor: connecting…" };
  render();
  let p;
  try {
    // The name comes from a fixed list (core.BROWSER_SOURCES), never from
    // the message as sent.
    const mod = await import(`./providers/${source}.mjs`);
    p = mod.createProvider({
      settings: telephony,
      agentId: s.agentId,
      emit: emitEvent,
      changed: () => {
        if (softphone) softphone.render();
        render();
      },
      relate: relateFromProvider,
      log: (level, message) => (console[level] || console.log)(`ctibridge ${source}: ${message}`),
      window,
    });
  } catch (err) {
    providerStatus = { status: "failed", text: `The ${source} telephony provider could not load: ${err.message || err}` };
    render();
    return;
  }
  if (run !== providerRun) return; // logged out meanwhile
  if (source === "sip" && !(await holdSoftphone(s.agentId, run))) return;
  provider = p;
  if (source === "sip") {
    try {
      const ui = await import("./softphone.mjs");
      softphone = ui.mountSoftphone($("softphone"), provider, { onError: showError });
      $("softphone").hidden = false;
    } catch (err) {
      showError(`The softphone could not be shown: ${err.message || err}`);
    }
  }
  try {
    await provider.start();
    providerStatus = { status: "ready", text: "" };
  } catch (err) {
    // The softphone panel shows its own failures (a refused registration,
    // with Register again); said twice they would crowd the panel.
    providerStatus = { status: "failed", text: softphone ? "" : err.message || String(err) };
  }
  render();
}

// holdSoftphone makes this tab the agent's one softphone in this browser
// (Web Locks): two tabs registered for one agent would both ring, and the
// one not answering would report the call failed. A second tab waits,
// saying so, and takes over when the first closes. It reports false when
// the provider was stopped meanwhile.
let releaseSoftphone = null;
async function holdSoftphone(agentId, run) {
  const locks = navigator.locks;
  if (!locks) return true;
  const name = `ctibridge.softphone.${agentId}`;
  const hold = (options) =>
    new Promise((resolve) => {
      locks
        .request(name, options, (lock) => {
          if (!lock) {
            resolve(false);
            return undefined;
          }
          return new Promise((release) => {
            releaseSoftphone = release;
            resolve(true);
          });
        })
        .catch(() => resolve(true));
    });
  if (await hold({ ifAvailable: true })) return true;
  providerStatus = { status: "starting", text: "The softphone is open in another tab of this browser: calls ring there. This tab takes over when that one closes." };
  render();
  await hold({});
  if (run !== providerRun) {
    if (releaseSoftphone) releaseSoftphone();
    releaseSoftphone = null;
    return false;
  }
  return true;
}

function stopProvider() {
  providerRun++;
  if (releaseSoftphone) {
    releaseSoftphone();
    releaseSoftphone = null;
  }
  const p = provider;
  provider = null;
  providerSource = "";
  providerStatus = { status: "off", text: "" };
  relationsKey = "";
  if (softphone) {
    softphone.destroy();
    softphone = null;
  }
  $("softphone").hidden = true;
  if (p) p.stop().catch((err) => console.warn("ctibridge: stopping the telephony provider failed", err));
}

// relateFromProvider takes a choice made in the provider's own UI (ipSCAPE's
// component select boxes) as if the agent had made it in the widget's.
function relateFromProvider({ box, value }) {
  try {
    if (!session.relations.select(box, value)) return;
  } catch (err) {
    actionError(err.message);
    return;
  }
  render();
  if (session.call) sendUser(session.relateMessage(), "Relate");
}

function renderTelephony() {
  const el = $("telephony");
  el.dataset.source = providerSource;
  el.dataset.status = providerStatus.status;
  // Once started, the provider says what the agent must do, if anything
  // (log in to ipSCAPE's adaptor, an error it met).
  let text = providerStatus.text;
  if (!text && provider && typeof provider.status === "function") {
    const st = provider.status() || {};
    text = st.lastError || st.message || "";
  }
  el.hidden = !providerSource || !text;
  $("telephony-text").textContent = text;
  if (provider && typeof provider.relations === "function") {
    const boxes = {
      person: session.relations.options(core.EntityType.PERSON).map(({ label, value, selected }) => ({ label, value, selected })),
      organisation: session.relations.options(core.EntityType.ORGANISATION).map(({ label, value, selected }) => ({ label, value, selected })),
    };
    const key = JSON.stringify(boxes);
    if (key !== relationsKey) {
      relationsKey = key;
      try {
        provider.relations(boxes);
      } catch (err) {
        console.warn("ctibridge: filling the provider's select boxes failed", err);
      }
    }
  }
}

// ---- start ----

$("login-form").addEventListener("submit", login);
$("logout").addEventListener("click", () => {
  endSession();
  logout("");
});
$("error-dismiss").addEventListener("click", clearError);
$("state-toggle").addEventListener("click", onStateToggle);
$("call-dial").addEventListener("click", onPreviewDial);
for (const id of ["select-person", "select-organisation"]) {
  $(id).addEventListener("change", onRelateChange);
  $(id).addEventListener("blur", () => relateCommitter.commit());
  $(id).addEventListener("keydown", (e) => {
    if (e.key === "Enter") relateCommitter.commit();
  });
}
$("wrap-code").addEventListener("change", () => {
  if ($("wrap-code").value) showWrapError("");
});
$("wrap-form").addEventListener("submit", onWrap);
setInterval(() => {
  if (session.call) text("call-timer", session.callTimer());
}, 1000);

renderCIFStatus();
render();
if (loadSession()) startSession();
else showLogin("");
