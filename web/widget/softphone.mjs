// softphone.mjs: the SIP softphone panel of the agent widget, for a ~340 px
// CIF panel. It shows what provider.status() says (providers/sip.mjs) and
// calls the provider's actions; it holds no call state of its own, so
// render() may run at any time (the widget calls it from provider.changed).
//
// Element ids (stable: the browser tests drive the panel by them):
//   root[data-call=none|ringing|dialling|connected|held]
//       [data-registration=unregistered|registering|registered|failed]
//   #sp-registration[data-registration=...]  the status pill
//   #sp-reason      why the phone is not registered (e.g. "403 Forbidden: ...")
//   #sp-retry       register again
//   #sp-active[data-state=none|ringing|dialling|connected|held][data-direction=incoming|outgoing]
//     #sp-direction #sp-remote (the other party: name and number) #sp-call-state #sp-timer
//     #sp-answer #sp-decline          while an incoming call rings
//     #sp-hangup                      while dialling or in a call
//     #sp-hold[data-on=true|false]    Hold / Resume
//     #sp-mute[data-on=true|false]    Mute / Unmute
//                   (the label says what a press does, so no aria-pressed:
//                   "Resume, pressed" would contradict itself)
//   #sp-dial-form #sp-number #sp-backspace #sp-call   (dialling, no call)
//   #sp-keypad #sp-key-0 … #sp-key-9 #sp-key-star #sp-key-hash
//                   adds to #sp-number with no call; sends DTMF when connected
//   #sp-dtmf        the tones sent on this call
//   #sp-transfer-form #sp-transfer-target #sp-transfer #sp-transfer-status
//   #sp-last[data-state=ended|failed]   how the last call ended, or why it failed
//   #sp-remote-audio (made by providers/sip.mjs)   the other party's audio
// Digits and * # typed anywhere in the panel outside a text field do the
// same as the keypad.
//
// All text is set with textContent: caller names come from the network.

import { formatDuration } from "./core.mjs";

const KEYS = [
  ["1", "1"], ["2", "2"], ["3", "3"],
  ["4", "4"], ["5", "5"], ["6", "6"],
  ["7", "7"], ["8", "8"], ["9", "9"],
  ["*", "star"], ["0", "0"], ["#", "hash"],
];

const REGISTRATION_LABELS = {
  unregistered: "Phone off",
  registering: "Registering…",
  registered: "Registered",
  failed: "Not registered",
};

const CALL_STATES = new Set(["ringing", "dialling", "connected", "held"]);

/**
 * Renders the softphone into root and returns {render(), destroy()}.
 * provider: the sip provider (status, dial, answer, decline, hangup, hold,
 * unhold, mute, unmute, sendDTMF, transfer, retry). onError(message) shows
 * an action's failure to the agent (the widget's error banner).
 */
export function mountSoftphone(root, provider, { onError } = {}) {
  const doc = root.ownerDocument;
  const report = (err) => {
    const message = (err && err.message) || String(err);
    if (typeof onError === "function") onError(message);
    else console.error(message);
  };

  function h(tag, attrs = {}, ...children) {
    const e = doc.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") e.textContent = v;
      else if (k === "hidden") e.hidden = true;
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) e.appendChild(c);
    return e;
  }

  // ---- structure ----
  const pill = h("span", { id: "sp-registration", class: "pill sp-pill", role: "status", "data-registration": "unregistered", text: REGISTRATION_LABELS.unregistered });
  const reason = h("p", { id: "sp-reason", class: "sp-reason", hidden: true });
  const retry = h("button", { id: "sp-retry", class: "link sp-retry", type: "button", hidden: true, text: "Register again" });

  const direction = h("span", { id: "sp-direction", class: "chip" });
  const timer = h("span", { id: "sp-timer", class: "call-timer", title: "Call duration", "aria-live": "off", hidden: true, text: "0:00" });
  const remoteName = h("span", { class: "sp-remote-name" });
  const remoteNumber = h("span", { class: "sp-remote-number" });
  const remote = h("p", { id: "sp-remote", class: "sp-remote" }, remoteName, remoteNumber);
  const callState = h("p", { id: "sp-call-state", class: "sp-call-state" });
  const answer = h("button", { id: "sp-answer", class: "sp-btn sp-go", type: "button", hidden: true, text: "Answer" });
  const decline = h("button", { id: "sp-decline", class: "sp-btn sp-stop", type: "button", hidden: true, text: "Decline", title: "Decline (486 Busy Here: the queue may offer the call to someone else)" });
  const hold = h("button", { id: "sp-hold", class: "secondary sp-toggle", type: "button", "data-on": "false", hidden: true, text: "Hold" });
  const mute = h("button", { id: "sp-mute", class: "secondary sp-toggle", type: "button", "data-on": "false", hidden: true, text: "Mute" });
  const hangup = h("button", { id: "sp-hangup", class: "sp-btn sp-stop", type: "button", hidden: true, text: "Hang up" });
  const active = h(
    "div",
    { id: "sp-active", class: "sp-active", "data-state": "none", role: "group", "aria-label": "Phone call", hidden: true },
    h("div", { class: "sp-active-top" }, direction, timer),
    remote,
    h("div", { "aria-live": "polite", "aria-atomic": "true" }, callState),
    h("div", { class: "sp-actions" }, answer, decline, hold, mute, hangup),
  );

  const number = h("input", { id: "sp-number", type: "tel", inputmode: "tel", autocomplete: "off", maxlength: "64", placeholder: "Number or extension" });
  const backspace = h("button", { id: "sp-backspace", class: "secondary sp-backspace", type: "button", "aria-label": "Delete the last digit", title: "Delete the last digit", text: "⌫" });
  const callButton = h("button", { id: "sp-call", class: "primary", type: "submit", text: "Call" });
  const numberRow = h("div", { class: "sp-number-row" }, number, backspace);
  const numberLabel = h("label", { for: "sp-number", text: "Number" });
  const keypad = h("div", { id: "sp-keypad", class: "sp-keypad", role: "group", "aria-label": "Dial pad" });
  const keyButtons = KEYS.map(([key, name]) => {
    const b = h("button", { id: `sp-key-${name}`, class: "sp-key", type: "button", "data-key": key, text: key });
    if (name === "star") b.setAttribute("aria-label", "Star");
    if (name === "hash") b.setAttribute("aria-label", "Hash");
    keypad.appendChild(b);
    return b;
  });
  const dialForm = h("form", { id: "sp-dial-form", class: "sp-dial", novalidate: true }, numberLabel, numberRow, keypad, callButton);
  const dtmf = h("p", { id: "sp-dtmf", class: "sp-dtmf", "aria-live": "polite", hidden: true });

  const transferTarget = h("input", { id: "sp-transfer-target", type: "tel", inputmode: "tel", autocomplete: "off", maxlength: "64", placeholder: "Number or extension" });
  const transferButton = h("button", { id: "sp-transfer", class: "secondary", type: "submit", text: "Transfer" });
  const transferStatus = h("p", { id: "sp-transfer-status", class: "sp-transfer-status", "aria-live": "polite", hidden: true });
  const transferForm = h(
    "form",
    { id: "sp-transfer-form", class: "sp-transfer", novalidate: true, hidden: true },
    h("label", { for: "sp-transfer-target", text: "Transfer to" }),
    h("div", { class: "sp-number-row" }, transferTarget, transferButton),
    transferStatus,
  );
  const last = h("p", { id: "sp-last", class: "sp-last", role: "status", hidden: true });

  // The page may already give the section its class and label; destroy()
  // takes back only what mount added.
  const addedClass = !root.classList.contains("softphone");
  const addedLabel = !root.getAttribute("aria-label");
  if (addedClass) root.classList.add("softphone");
  if (addedLabel) root.setAttribute("aria-label", "Phone");
  root.replaceChildren(
    h("div", { class: "sp-head" }, h("h2", { class: "sp-title", text: "Phone" }), pill),
    reason,
    retry,
    active,
    dialForm,
    dtmf,
    transferForm,
    last,
  );

  // ---- actions ----
  let status = provider.status();

  const run = (fn) =>
    Promise.resolve()
      .then(fn)
      .catch(report)
      .finally(render);

  const callOf = () => (status.call && CALL_STATES.has(status.call.state) ? status.call : null);

  function press(key) {
    const call = callOf();
    if (call && call.state === "connected") {
      run(() => provider.sendDTMF(key));
    } else if (!call) {
      number.value = (number.value + key).slice(0, 64);
    }
  }

  const listeners = [];
  const listen = (target, type, fn) => {
    target.addEventListener(type, fn);
    listeners.push([target, type, fn]);
  };

  listen(dialForm, "submit", (ev) => {
    ev.preventDefault();
    if (callOf()) return;
    const value = number.value;
    run(async () => {
      await provider.dial(value);
      number.value = "";
    });
  });
  listen(keypad, "click", (ev) => {
    const b = ev.target && typeof ev.target.closest === "function" ? ev.target.closest("button[data-key]") : ev.target;
    const key = b && b.getAttribute && b.getAttribute("data-key");
    if (key) press(key);
  });
  listen(backspace, "click", () => {
    number.value = number.value.slice(0, -1);
    number.focus();
  });
  listen(answer, "click", () => run(() => provider.answer()));
  listen(decline, "click", () => run(() => provider.decline()));
  listen(hangup, "click", () => run(() => provider.hangup()));
  listen(hold, "click", () => run(() => (callOf() && callOf().held ? provider.unhold() : provider.hold())));
  listen(mute, "click", () => run(() => (callOf() && callOf().muted ? provider.unmute() : provider.mute())));
  listen(retry, "click", () => run(() => provider.retry()));
  listen(transferForm, "submit", (ev) => {
    ev.preventDefault();
    const value = transferTarget.value;
    run(async () => {
      await provider.transfer(value);
      transferTarget.value = "";
    });
  });
  listen(root, "keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const tag = ev.target && ev.target.tagName ? ev.target.tagName.toLowerCase() : "";
    if (tag === "input" || tag === "textarea" || tag === "select") return;
    if (!/^[0-9*#]$/.test(ev.key || "")) return;
    ev.preventDefault();
    press(ev.key);
  });

  // ---- rendering ----

  function text(el, value) {
    if (el.textContent !== value) el.textContent = value;
  }

  function show(el, visible) {
    if (el.hidden === !!visible) el.hidden = !visible;
  }

  function setAttr(el, name, value) {
    if (el.getAttribute(name) !== value) el.setAttribute(name, value);
  }

  function setData(el, name, value) {
    setAttr(el, `data-${name}`, value);
  }

  function sentence(s) {
    return s ? s.charAt(0).toUpperCase() + s.slice(1) : "";
  }

  function timerText(call) {
    if (!call || !call.startedAt) return "0:00";
    const t = Date.parse(call.startedAt);
    return Number.isNaN(t) ? "0:00" : formatDuration(Date.now() - t);
  }

  function callStateText(call) {
    switch (call.state) {
      case "ringing":
        return call.answering ? "Connecting…" : "Ringing";
      case "dialling":
        return "Dialling…";
      case "held":
        return "On hold";
      default:
        if (call.remoteHeld) return "Connected: the other party put the call on hold";
        return call.muted ? "Connected (muted)" : "Connected";
    }
  }

  function transferText(t) {
    if (!t) return "";
    switch (t.state) {
      case "requested":
        return `Transferring to ${t.target}…`;
      case "accepted":
        return `Transfer to ${t.target} accepted; hanging up…`;
      case "completed":
        return `Transferred to ${t.target}.`;
      case "failed":
        return `Transfer to ${t.target} failed (${t.reason}); the caller is still on the line.`;
      default:
        return "";
    }
  }

  function isShown(el) {
    for (let e = el; e && e !== root; e = e.parentNode) if (e.hidden) return false;
    return true;
  }

  function render() {
    status = provider.status();
    const reg = status.registration || "unregistered";
    const call = callOf();
    const state = call ? call.state : "none";
    // Remember whether the panel had the focus before buttons come and go.
    const focused = doc.activeElement;
    const hadFocus = !!(focused && focused !== root && typeof root.contains === "function" && root.contains(focused));

    setData(root, "registration", reg);
    setData(root, "call", state);

    setData(pill, "registration", reg);
    text(pill, reg === "registered" && status.user ? `${REGISTRATION_LABELS.registered} · ${status.user}` : REGISTRATION_LABELS[reg] || reg);
    if (status.reason) pill.setAttribute("title", sentence(status.reason));
    else pill.removeAttribute("title");
    show(reason, reg === "failed" && !!status.reason);
    text(reason, reg === "failed" ? sentence(status.reason) : "");
    setAttr(reason, "role", reg === "failed" ? "alert" : "note");
    show(retry, reg === "failed" && typeof provider.retry === "function");

    show(active, !!call);
    setData(active, "state", state);
    if (call) {
      setData(active, "direction", call.direction);
      text(direction, call.direction === "incoming" ? "Incoming call" : "Outgoing call");
      const num = (call.remote && call.remote.number) || "";
      const name = (call.remote && call.remote.name) || "";
      text(remoteName, name);
      show(remoteName, !!name);
      text(remoteNumber, num || (call.direction === "incoming" ? "Withheld number" : ""));
      text(callState, callStateText(call));
      const inCall = state === "connected" || state === "held";
      show(timer, inCall);
      text(timer, timerText(call));
      const ringing = state === "ringing" && call.direction === "incoming";
      show(answer, ringing);
      answer.disabled = !!call.answering;
      show(decline, ringing);
      decline.disabled = !!call.answering;
      show(hangup, !ringing);
      show(hold, inCall);
      text(hold, call.held ? "Resume" : "Hold");
      setData(hold, "on", call.held ? "true" : "false");
      show(mute, inCall || state === "dialling");
      text(mute, call.muted ? "Unmute" : "Mute");
      setData(mute, "on", call.muted ? "true" : "false");
    }

    // The pad dials with no call and sends tones on a connected one.
    show(numberLabel, !call);
    show(numberRow, !call);
    show(callButton, !call);
    callButton.disabled = reg !== "registered";
    if (reg !== "registered") callButton.setAttribute("title", "The phone is not registered");
    else callButton.removeAttribute("title");
    show(keypad, !call || state === "connected");
    setAttr(keypad, "aria-label", state === "connected" ? "Send tones" : "Dial pad");

    const tones = call && state === "connected" ? call.dtmf || "" : "";
    show(dtmf, !!tones);
    text(dtmf, tones ? `Tones sent: ${tones}` : "");

    const canTransfer = state === "connected" || state === "held";
    show(transferForm, canTransfer);
    const tt = canTransfer ? transferText(call.transfer) : "";
    show(transferStatus, !!tt);
    text(transferStatus, tt);
    transferButton.disabled = !!(call && call.transfer && (call.transfer.state === "requested" || call.transfer.state === "accepted"));

    const lastCall = !call && status.last ? status.last : null;
    show(last, !!lastCall);
    text(last, lastCall ? lastCall.detail || "" : "");
    setData(last, "state", lastCall ? lastCall.state : "");

    // A focused button that has just been hidden (Answer, once answered)
    // would drop the focus to the page: move it to the panel's next action.
    if (hadFocus && !isShown(focused)) {
      const next = [answer, hangup, number, keyButtons[0]].find((b) => isShown(b) && !b.disabled);
      if (next && typeof next.focus === "function") next.focus();
    }
  }

  const tick = setInterval(() => {
    const call = callOf();
    if (call && (call.state === "connected" || call.state === "held")) text(timer, timerText(call));
  }, 1000);

  render();

  return {
    render,
    destroy() {
      clearInterval(tick);
      for (const [target, type, fn] of listeners) target.removeEventListener(type, fn);
      listeners.length = 0;
      root.replaceChildren();
      if (addedClass) root.classList.remove("softphone");
      if (addedLabel) root.removeAttribute("aria-label");
      root.removeAttribute("data-call");
      root.removeAttribute("data-registration");
    },
  };
}
