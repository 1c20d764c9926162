// cif2host.mjs: the demo host's answers to CIF 2.0's multi-session APIs, as
// Microsoft Learn's CIF 2.0 reference documents them (notifyEvent,
// cancelEvent, canCreateSession, createSession, getFocusedSession,
// requestFocusSession, setSessionTitle, createTab, focusTab,
// notifyNewActivity, setPresence, getPresence) and the events it raises
// (onSessionSwitched, onSessionClosed, onPresenceChange). Built from the
// documentation only: nothing here was compared with a live Customer
// Service workspace. createCIFHost (host.mjs) adds these methods when its
// option cif2 is given; host.test.mjs and cif2host.test.mjs check them.
//
// ui (the page, demo.js) gives:
//   notify(input) -> Promise<{actionName, responseReason}>   the toast
//   cancelNotification(token)                                 remove the toast
//   sessionsChanged([{id, title, focused, newActivity, focusRequested}])
//   emit(name, data)                                          raise an event in the widget

/** Sessions a provider may have open at once (createSession). */
export const SESSION_MAX = 10;

/** The presences the demo app offers, as Omnichannel's built-in ones. */
export const PRESENCES = Object.freeze([
  { presenceId: "d1", presenceText: "Available", basePresenceStatus: "AVAILABLE", presenceColor: "#00ff00" },
  { presenceId: "d2", presenceText: "Busy", basePresenceStatus: "BUSY", presenceColor: "#ff0000" },
  { presenceId: "d3", presenceText: "Do not disturb", basePresenceStatus: "BUSY_DND", presenceColor: "#8b0000" },
  { presenceId: "d4", presenceText: "Away", basePresenceStatus: "AWAY", presenceColor: "#ffd700" },
  { presenceId: "d5", presenceText: "Offline", basePresenceStatus: "OFFLINE", presenceColor: "#808080" },
]);

function input(v, what) {
  if (v && typeof v === "object") return v;
  if (typeof v !== "string" || v === "") throw new Error(`${what}: is required`);
  try {
    const o = JSON.parse(v);
    if (o && typeof o === "object") return o;
  } catch (e) {
    throw new Error(`${what}: not valid JSON (${e.message})`);
  }
  throw new Error(`${what}: expected a JSON object`);
}

/**
 * createCIF2Host returns {methods, focusSession, closeSession, choosePresence, state}.
 * multiSession() says whether the app is a multi-session one: in a
 * single-session app the session APIs are refused, as Microsoft documents
 * them for Customer Service workspace only. templates: {notification: [...],
 * session: [...]} the template unique names the app knows.
 */
export function createCIF2Host({ ui, multiSession = () => true, templates = {}, newId = null }) {
  let seq = 0;
  const id = newId || (() => `session-${++seq}`);
  const state = { sessions: [], focused: "", presence: PRESENCES[0], notifications: new Map() };
  const knows = (kind, name) => !templates[kind] || templates[kind].includes(name);
  const needMulti = (method) => {
    if (!multiSession()) throw new Error(`${method}: session management APIs work only in a multi-session app (Customer Service workspace); this app is single-session`);
  };
  const find = (sid) => state.sessions.find((s) => s.id === sid);
  const changed = () =>
    ui.sessionsChanged(state.sessions.map((s) => ({ id: s.id, title: s.title, focused: s.id === state.focused, newActivity: s.newActivity, focusRequested: s.focusRequested, parameters: s.parameters })));

  function focus(sid) {
    const prev = state.focused;
    if (prev === sid) return;
    state.focused = sid;
    const s = find(sid);
    if (s) {
      s.newActivity = 0;
      s.focusRequested = false;
    }
    changed();
    if (prev) ui.emit("onSessionSwitched", { sessionId: prev, focussed: false });
    if (sid) ui.emit("onSessionSwitched", { sessionId: sid, focussed: true });
  }

  const methods = {
    async notifyEvent(raw, correlationId, cancellationToken) {
      const n = input(raw, "notifyEvent input");
      if (!n.templateName || !knows("notification", n.templateName)) {
        throw new Error(JSON.stringify({ message: "NotificationTemplateNotFoundError", msdyn_name: "NotifyEvent" }));
      }
      const token = String(cancellationToken || n.cancellationToken || "");
      if (state.notifications.size >= 10) {
        return JSON.stringify({ value: { actionName: "Reject", responseReason: "NotificationQueueLimitExceeded" } });
      }
      const answer = new Promise((resolve) => {
        state.notifications.set(token, resolve);
        Promise.resolve(ui.notify({ ...n, cancellationToken: token })).then(resolve, () =>
          resolve({ actionName: "Reject", responseReason: "RejectAfterClientError" }),
        );
      });
      const value = await answer;
      state.notifications.delete(token);
      return JSON.stringify({ value });
    },

    async cancelEvent(token) {
      const t = String(token || "");
      if (!t) throw new Error("cancelEvent cancellationToken: is required");
      const resolve = state.notifications.get(t);
      if (resolve) {
        state.notifications.delete(t);
        ui.cancelNotification(t);
        // The documented answers have no "cancelled": the notify call ends
        // as one nobody answered.
        resolve({ actionName: "Timeout", responseReason: "Cancelled" });
      }
      return t;
    },

    async canCreateSession() {
      needMulti("canCreateSession");
      return JSON.stringify(state.sessions.length < SESSION_MAX);
    },

    async createSession(raw) {
      needMulti("createSession");
      const n = input(raw, "createSession input");
      if (!n.templateName || !knows("session", n.templateName)) throw new Error(`createSession: no session template ${JSON.stringify(n.templateName || "")}`);
      if (state.sessions.length >= SESSION_MAX) throw new Error(`createSession: ${SESSION_MAX} sessions are open, the most the app allows`);
      const p = n.templateParameters && typeof n.templateParameters === "object" ? n.templateParameters : {};
      const s = { id: id(), template: n.templateName, parameters: p, title: String(p.customerName || "Session"), newActivity: 0, focusRequested: false, tabs: [] };
      state.sessions.push(s);
      focus(s.id);
      return s.id;
    },

    async getFocusedSession() {
      needMulti("getFocusedSession");
      return state.focused;
    },

    async requestFocusSession(sid) {
      needMulti("requestFocusSession");
      const s = find(String(sid || ""));
      if (!s) throw new Error(`requestFocusSession: no session ${JSON.stringify(sid)} of this provider`);
      if (s.id !== state.focused) {
        s.focusRequested = true;
        changed();
      }
      return "";
    },

    async setSessionTitle(raw) {
      needMulti("setSessionTitle");
      const n = input(raw, "setSessionTitle input");
      const s = find(String(n.sessionId || ""));
      if (!s) throw new Error(`setSessionTitle: no session ${JSON.stringify(n.sessionId || "")} of this provider`);
      const { sessionId, ...slugs } = n;
      const values = Object.values(slugs).filter((v) => typeof v === "string" && v !== "");
      s.title = `Call from ${String(n.title || values[0] || s.title)}`.slice(0, 120);
      changed();
      return "";
    },

    async createTab(raw) {
      needMulti("createTab");
      const n = input(raw, "createTab input");
      const s = find(state.focused);
      if (!s) throw new Error("createTab: the focused session is not this provider's");
      const tab = { id: `${s.id}-tab-${s.tabs.length + 1}`, template: String(n.templateName || ""), parameters: n.templateParameters || {} };
      s.tabs.push(tab);
      return tab.id;
    },

    async focusTab(tabId) {
      needMulti("focusTab");
      if (!state.sessions.some((s) => s.tabs.some((t) => t.id === tabId))) throw new Error(`focusTab: no tab ${JSON.stringify(tabId)}`);
      return "";
    },

    async notifyNewActivity(sid, count) {
      needMulti("notifyNewActivity");
      const n = Number(count);
      if (!Number.isInteger(n) || n < 0) throw new Error(`notifyNewActivity count: ${count} is not a count of zero or more`);
      const s = find(String(sid || ""));
      if (!s) throw new Error(`notifyNewActivity: no session ${JSON.stringify(sid)} of this provider`);
      if (s.id !== state.focused) {
        s.newActivity = n;
        changed();
      }
      return "";
    },

    async setPresence(text) {
      const p = PRESENCES.find((x) => x.presenceText === text);
      if (!p) return JSON.stringify(false);
      choose(p);
      return JSON.stringify(true);
    },

    async getPresence() {
      return state.presence.presenceText;
    },
  };

  function choose(p) {
    if (state.presence === p) return;
    state.presence = p;
    ui.emit("onPresenceChange", { presenceInfo: { ...p } });
  }

  return {
    methods,
    state,
    /** The agent clicks a session in the session bar. */
    focusSession: (sid) => focus(sid),
    /** The agent closes a session: onSessionClosed, then the next one is focused. */
    closeSession(sid) {
      const i = state.sessions.findIndex((s) => s.id === sid);
      if (i < 0) return;
      state.sessions.splice(i, 1);
      ui.emit("onSessionClosed", { sessionId: sid });
      if (state.focused === sid) {
        state.focused = "";
        const next = state.sessions[Math.min(i, state.sessions.length - 1)];
        if (next) focus(next.id);
        else changed();
      } else changed();
    },
    /** The agent picks a presence in the app. */
    choosePresence(text) {
      const p = PRESENCES.find((x) => x.presenceText === text);
      if (!p) throw new Error(`no presence ${JSON.stringify(text)}`);
      choose(p);
    },
    /** The agent answers the notification toast. */
    answerNotification(token, accept) {
      const resolve = state.notifications.get(token);
      if (resolve) resolve(accept ? { actionName: "Accept", responseReason: "Accept" } : { actionName: "Reject", responseReason: "DeclinedByAgent" });
    },
  };
}
