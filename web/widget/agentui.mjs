// agentui.mjs: what the widget shows and says to the agent, decided apart
// from the DOM so that node --test checks it: the state badge's words, the
// polite announcements of state changes for screen readers, when an error
// banner has outlived its cause, and when a relate choice is committed.

import { STATE_LABELS } from "./core.mjs";

/**
 * The agent state badge's text. ipSCAPE, and the call flow after it, report
 * an agent with a preview lead allocated, or a queue call ringing, as
 * Dialling: the agent has dialled nothing yet, so the badge says what is
 * happening instead.
 * @param {string} state the agent state (LoggedOut, Ready, Dialling, ...)
 * @param {{state?: string, callType?: string}|null} call the current call
 */
export function agentStateLabel(state, call) {
  if (state === "Dialling" && call) {
    if (call.state === "previewing") return "Preview";
    if (call.state === "alerting" && call.callType === "inbound") return "Ringing";
  }
  return STATE_LABELS[state] || state || STATE_LABELS.LoggedOut;
}

/**
 * Announcer decides what the widget's polite status region says: the agent's
 * state when it changes (Ready, On call, On wrap, ...), with the caller's
 * number when a call starts ringing or connects; "" when nothing changed, so
 * the region is not rewritten. The call timer is never part of it: a
 * screen reader would read it every second.
 */
export class Announcer {
  constructor() {
    this.last = "";
  }

  /**
   * @param {string} label the badge's text (agentStateLabel)
   * @param {{number?: string}|null} call the current call
   * @returns {string} the text to announce, or "" for nothing new
   */
  next(label, call) {
    if (!label || label === this.last) return "";
    this.last = label;
    const number = call && call.number ? String(call.number) : "";
    switch (label) {
      case "Ringing":
      case "Preview":
      case "Dialling":
      case "On call":
        return number ? `${label}: ${number}` : label;
      default:
        return label;
    }
  }

  /** Forgets the last state (logged out): the next one is announced. */
  reset() {
    this.last = "";
  }
}

/**
 * ErrorScope tracks what the error banner is about, so that an error about
 * an agent's action (a refused dial, relate or wrap, a failed CRM write of a
 * call) goes once that call is wrapped or another call arrives, while an
 * error about the widget itself (its settings, the connection) stays until
 * dismissed.
 */
export class ErrorScope {
  constructor() {
    this.callId = null; // null: no action error shown
  }

  /** An error about an action during the call callId ("" for no call). */
  shownForCall(callId) {
    this.callId = callId || "";
  }

  /** An error about the widget: it stays until dismissed. */
  shownForWidget() {
    this.callId = null;
  }

  /**
   * Whether the banner should go now that the current call is callId ("" for
   * none): the call it was about was wrapped, or another call arrived.
   */
  outlived(callId) {
    if (this.callId === null) return false;
    if (this.callId === (callId || "")) return false;
    this.callId = null;
    return true;
  }
}

/**
 * RelateCommitter sends the agent's Person/Organisation choice once it has
 * settled. A select box changes its value with every arrow key, and each
 * relate is a CRM write (the phone call's regarding record and parties): the
 * choice is committed on Enter, when the box loses focus, or after delayMs
 * without another change, and only when it differs from the last one sent.
 */
export class RelateCommitter {
  /**
   * @param {{keyOf: () => string, send: () => boolean, delayMs?: number, setTimer?: Function, clearTimer?: Function}} opts
   *   keyOf names the current choice; send sends it and reports whether it
   *   went (not without a call or a connection).
   */
  constructor({ keyOf, send, delayMs = 1000, setTimer = setTimeout, clearTimer = clearTimeout }) {
    this.keyOf = keyOf;
    this.send = send;
    this.delayMs = delayMs;
    // Called as plain functions: window.setTimeout refuses another this.
    this.setTimer = (fn, ms) => setTimer(fn, ms);
    this.clearTimer = (id) => clearTimer(id);
    this.timer = null;
    this.pending = false;
    this.lastSent = "";
  }

  /** The choice changed (a change event): commit it after the pause. */
  changed() {
    this.pending = true;
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = this.setTimer(() => {
      this.timer = null;
      this.commit();
    }, this.delayMs);
  }

  /**
   * Commits a pending choice now (Enter, blur, the pause ended, the agent
   * wraps); a choice equal to the last one sent is not sent again.
   */
  commit() {
    if (this.timer !== null) {
      this.clearTimer(this.timer);
      this.timer = null;
    }
    if (!this.pending) return;
    this.pending = false;
    const key = this.keyOf();
    if (key === this.lastSent) return;
    if (this.send()) this.lastSent = key;
  }

  /** A new call: nothing is pending, nothing was sent for it. */
  reset() {
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    this.pending = false;
    this.lastSent = "";
  }
}

/**
 * Where focus goes when something the agent was using goes away: when a
 * call arrives (the focused Ready/Pause button becomes disabled) and after a
 * wrap (the wrap form is disabled). It moves only when focus was lost (on
 * the body, or on a control that is now disabled or hidden), never away
 * from a control the agent is still using.
 * @param {"call"|"wrapped"} what
 * @param {{previewDial: boolean, stateToggleEnabled: boolean}} ui
 * @returns {string} the element id to focus
 */
export function focusTarget(what, ui) {
  if (what === "call") return ui.previewDial ? "call-dial" : "call-banner";
  return ui.stateToggleEnabled ? "state-toggle" : "call-ended-note";
}
