// sip.mjs: the SIP/WebRTC softphone provider of the agent widget. The
// browser registers the agent's SIP account over WebSocket with JsSIP (the
// vendored build, web/vendor/jssip), rings, answers and places calls itself,
// and turns what happens into the call events of the telephony event format
// (docs/events.md) through ctx.emit. The provider seam (createProvider, ctx)
// is described in the telephony contract; the decisions (who is calling,
// which events a call produces, why it failed) are in sipmap.mjs, tested
// without a browser.
//
// Choices the agent and the PBX can observe:
// - One call at a time. A second INVITE during a call is answered 486 Busy
//   Here and reported with a callFailed of its own (dialStatusName "Busy"),
//   unless it names the interaction already in progress, which must not be
//   failed. Call waiting would need a second session view and a hold/swap
//   flow in the CIF panel; a queue re-offers a call answered 486.
// - Declining answers 486 Busy Here, never 603 (see sipmap.DECLINE).
// - An outgoing call is announced (callAlerting) at the first response from
//   the far end (180/183, or the final answer), not when the button is
//   pressed: that response may carry the PBX's interaction id and campaign
//   header, which choose the interaction id and make the call "outbound".
//   A call that never left the browser (microphone refused, WebRTC failure)
//   emits nothing: there is no interaction to record.
// - DTMF is sent in the media (RFC 4733, JsSIP's "RFC2833" transport), which
//   IVRs and media servers expect; JsSIP's own default is SIP INFO. Settings
//   may ask for INFO with the config's telephony.sip.dtmf "info"; with no audio sender
//   able to send RFC 4733 (no microphone track), INFO is used.
// - A blind transfer sends REFER and hangs up once the transferee reports
//   progress (NOTIFY), or TRANSFER_NOTIFY_WAIT_MS after the REFER was accepted
//   when no NOTIFY comes; a refused REFER or a failing NOTIFY keeps the call.
//
// The SIP password is in the UA configuration and nowhere else: it is never
// logged, shown or put in an error message.

import * as sipmap from "./sipmap.mjs";

// Resolved against this module, so it is /vendor/jssip/jssip.min.mjs when
// the widget is served at /widget/ and still right behind a path prefix.
const JSSIP_URL = new URL("../../vendor/jssip/jssip.min.mjs", import.meta.url).href;

/** How long start() waits for the first registration before it reports
 * the failure; the phone keeps trying after that. */
export const START_TIMEOUT_MS = 15000;
/** Wait before registering again after a failure that may pass (408, 480,
 * 5xx, no answer). A refused account is not retried by itself. */
export const REGISTER_RETRY_MS = 30000;
/** How long a blind transfer waits for the transferee's first NOTIFY before
 * hanging up anyway (some PBXs send none). */
export const TRANSFER_NOTIFY_WAIT_MS = 5000;
/** The <audio> element the remote party plays in (created when absent). */
export const AUDIO_ELEMENT_ID = "sp-remote-audio";

const MEDIA_CONSTRAINTS = Object.freeze({ audio: true, video: false });

/**
 * The JsSIP UA configuration of the settings (hello.settings.telephony.sip).
 * Exported for tests, which check it against the real JsSIP's validation.
 */
export function uaConfiguration(JsSIP, sip) {
  const config = {
    sockets: [new JsSIP.WebSocketInterface(sip.server)],
    uri: `sip:${sip.user}@${sip.domain}`,
    authorization_user: sip.authUser || sip.user,
    password: sip.password || "",
    register: true,
    session_timers: false,
    user_agent: `ctibridge (JsSIP ${JsSIP.version || ""})`.replace(" )", ")"),
  };
  if (sip.displayName) config.display_name = sip.displayName;
  return config;
}

/** The message of a JsSIP configuration error, naming the parameter but not
 * showing a secret's value. */
function configErrorText(err) {
  if (err && err.parameter) {
    if (/password|ha1|jwt/i.test(err.parameter)) return `the setting ${err.parameter} is invalid`;
    return err.message || `the setting ${err.parameter} is invalid`;
  }
  return (err && err.message) || String(err);
}

/** Capitalises a reason for use as a sentence of its own. */
function sentence(s) {
  return s ? s.charAt(0).toUpperCase() + s.slice(1) : s;
}

/**
 * A ring tone made with Web Audio, so no sound file is needed: 440+480 Hz,
 * two seconds on, four off. Browsers start an AudioContext only after the
 * page had a user gesture (the agent's login click is one); if they refuse,
 * the panel still shows the ringing call.
 */
function createRinger(win) {
  const AC = win && (win.AudioContext || win.webkitAudioContext);
  let ctx = null;
  let timer = null;
  const burst = () => {
    try {
      const t0 = ctx.currentTime;
      const gain = ctx.createGain();
      gain.gain.setValueAtTime(0.05, t0);
      gain.gain.setValueAtTime(0, t0 + 2);
      gain.connect(ctx.destination);
      for (const f of [440, 480]) {
        const osc = ctx.createOscillator();
        osc.frequency.value = f;
        osc.connect(gain);
        osc.start(t0);
        osc.stop(t0 + 2);
      }
    } catch {
      // No sound: the panel shows the call anyway.
    }
  };
  return {
    start() {
      if (!AC || timer) return;
      try {
        ctx = ctx || new AC();
        if (ctx.state === "suspended" && ctx.resume) ctx.resume().catch(() => {});
        burst();
        timer = setInterval(burst, 6000);
      } catch {
        timer = null;
      }
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
      // Suspending silences a burst in progress at once.
      if (ctx && ctx.state === "running" && ctx.suspend) ctx.suspend().catch(() => {});
    },
  };
}

/** createProvider(ctx) per the widget's provider seam. ctx.JsSIP, when
 * present, is used instead of the vendored JsSIP (tests pass a fake). */
export function createProvider(ctx) {
  return new SipProvider(ctx);
}

class SipProvider {
  constructor(ctx) {
    this.name = "sip";
    this.ctx = ctx;
    this.win = ctx.window || globalThis;
    const t = (ctx.settings && ctx.settings.telephony) || ctx.settings || {};
    this.sip = (t && t.sip) || {};
    this.now = typeof ctx.now === "function" ? ctx.now : () => Date.now();
    this.registration = "unregistered";
    this.reason = "";
    this.JsSIP = null;
    this.ua = null;
    this.call = null;
    this.last = null;
    this.everConnected = false;
    this.starting = null;
    this.pendingStart = null;
    this.startTimer = null;
    this.retryTimer = null;
    this.stopping = false;
    this.dialling = null;
    this.ringer = createRinger(this.win);
    this.onPageHide = () => {
      // Closing the tab mid-call: hang up and unregister rather than leave
      // the PBX ringing a dead registration. Best effort, nothing to await.
      try {
        if (this.ua) this.ua.stop();
      } catch {
        // The page is going away.
      }
    };
  }

  // ---- what the UI shows ----

  /** See the file comment of softphone.mjs for how each field is shown. */
  status() {
    const c = this.call;
    return {
      registration: this.registration,
      reason: this.reason,
      server: sipmap.displayServer(this.sip.server || ""),
      user: String(this.sip.user || ""),
      call: c
        ? {
            id: c.id,
            direction: c.direction,
            state: c.state === "connected" && c.held ? "held" : c.state,
            remote: { ...c.remote },
            muted: c.muted,
            held: c.held,
            remoteHeld: c.remoteHeld,
            answering: c.answering,
            startedAt: c.startedAt,
            dtmf: c.dtmf,
            transfer: c.transfer ? { ...c.transfer } : null,
          }
        : null,
      last: this.last ? { ...this.last, remote: { ...this.last.remote } } : null,
    };
  }

  changed() {
    try {
      if (typeof this.ctx.changed === "function") this.ctx.changed();
    } catch (err) {
      this.log("error", `re-rendering the softphone failed: ${err && err.message}`);
    }
  }

  log(level, message) {
    try {
      if (typeof this.ctx.log === "function") this.ctx.log(level, `sip: ${message}`);
    } catch {
      // Logging must never break a call.
    }
  }

  setRegistration(state, reason) {
    if (this.registration === state && this.reason === reason) return;
    this.registration = state;
    this.reason = reason;
    this.changed();
  }

  // ---- start and stop ----

  /** Connects and registers. Resolves once registered; rejects with what the
   * agent can do about it. A transport that does not answer is retried by
   * JsSIP after the rejection, and the status follows. */
  start() {
    if (!this.starting) {
      this.starting = this.startOnce();
      // The caller reads the rejection; this copy must not be reported as unhandled.
      this.starting.catch(() => {});
    }
    return this.starting;
  }

  async startOnce() {
    const sip = this.sip;
    const fail = (reason) => {
      this.setRegistration("failed", reason);
      this.starting = null;
      throw new Error(sentence(reason));
    };
    // The contract's wording, which the widget and its browser tests show as is.
    if (!sip.user) fail(`No SIP account for agent ${this.ctx.agentId || "(unknown)"}: ask your administrator to set one (ctibridge agent sip)`);
    if (!sip.server) fail("no SIP server is configured: set telephony.sip.server in the ctibridge config.");
    if (!sip.domain) fail("no SIP domain is configured: set telephony.sip.domain in the ctibridge config.");
    if (!this.win.RTCPeerConnection) fail("this browser cannot make WebRTC calls: use a current Edge, Chrome or Firefox.");
    const media = this.win.navigator && this.win.navigator.mediaDevices;
    if (!media || typeof media.getUserMedia !== "function") {
      fail("the browser gives this page no microphone: open the widget over https.");
    }
    let JsSIP = this.ctx.JsSIP;
    if (!JsSIP) {
      try {
        JsSIP = (await import(JSSIP_URL)).default;
      } catch (err) {
        fail(`the SIP library could not be loaded from ${JSSIP_URL} (${err && err.message}); reload the page.`);
      }
    }
    let ua;
    try {
      ua = new JsSIP.UA(uaConfiguration(JsSIP, sip));
    } catch (err) {
      fail(`the SIP settings are not usable: ${configErrorText(err)}.`);
    }
    this.JsSIP = JsSIP;
    this.ua = ua;
    this.everConnected = false;
    this.wire(ua);
    this.setRegistration("registering", "");
    if (typeof this.win.addEventListener === "function") this.win.addEventListener("pagehide", this.onPageHide);
    return new Promise((resolve, reject) => {
      this.pendingStart = { resolve, reject };
      this.startTimer = setTimeout(() => {
        const reason = `the SIP server at ${sipmap.displayServer(sip.server)} did not register the phone within ${START_TIMEOUT_MS / 1000} s; still trying.`;
        this.setRegistration("failed", reason);
        this.settleStart(reason);
      }, START_TIMEOUT_MS);
      try {
        ua.start();
      } catch (err) {
        const reason = `the phone could not start: ${err && err.message}.`;
        this.setRegistration("failed", reason);
        this.settleStart(reason);
      }
    });
  }

  /** Ends start()'s wait: registered (no reason) or failed (reason). */
  settleStart(reason) {
    const p = this.pendingStart;
    if (!p) return;
    this.pendingStart = null;
    clearTimeout(this.startTimer);
    this.startTimer = null;
    if (reason) p.reject(new Error(`The phone is not registered: ${reason}`));
    else p.resolve();
  }

  wire(ua) {
    const on = (name, fn) =>
      ua.on(name, (e) => {
        // A stopped UA may still report its last events; they are not ours.
        if (ua !== this.ua) return;
        try {
          fn(e || {});
        } catch (err) {
          this.log("error", `handling ${name} failed: ${err && err.stack ? err.stack : err}`);
        }
      });
    on("connected", () => {
      this.everConnected = true;
      if (this.registration !== "registered") this.setRegistration("registering", "");
    });
    on("disconnected", () => {
      if (this.stopping) return;
      const reason = transportReasonOf(this);
      this.setRegistration("failed", reason);
      this.settleStart(reason);
    });
    on("registered", () => {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.setRegistration("registered", "");
      this.settleStart("");
    });
    on("unregistered", () => {
      if (this.stopping) return;
      // A registration the server ends on its own; a closed transport or a
      // refused refresh has already said why.
      if (this.registration === "registered") {
        this.setRegistration("failed", "the SIP server ended the registration; use Retry to register again.");
      }
    });
    on("registrationFailed", (e) => {
      const resp = sipmap.messageView(e.response);
      const { reason, retry } = sipmap.registrationReason({
        statusCode: resp.statusCode,
        reasonPhrase: resp.reasonPhrase,
        cause: e.cause,
        server: this.sip.server,
        account: `${this.sip.authUser || this.sip.user}@${this.sip.domain}`,
      });
      this.log("warn", `registration failed: ${reason}`);
      this.setRegistration("failed", reason);
      this.settleStart(reason);
      if (retry && !this.stopping) this.scheduleRetry();
    });
    on("newRTCSession", (e) => {
      if (e.originator === "local") this.onOutgoing(e.session, e.request);
      else this.onIncoming(e.session, e.request);
    });
  }

  scheduleRetry() {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.retry().catch(() => {});
    }, REGISTER_RETRY_MS);
  }

  /** Registers again now (the softphone's Retry button); starts the phone
   * when it was never started or start() failed before it had a UA. */
  async retry() {
    if (!this.ua) return this.start();
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.setRegistration("registering", "");
    try {
      if (typeof this.ua.isConnected === "function" && this.ua.isConnected()) this.ua.register();
      else this.ua.start(); // JsSIP reconnects (and then registers) when its transport is down.
    } catch (err) {
      const reason = `the phone could not register again: ${err && err.message}.`;
      this.setRegistration("failed", reason);
      throw new Error(sentence(reason));
    }
  }

  /** Logout: hangs up, unregisters and closes the connection. */
  async stop() {
    this.stopping = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.settleStart("the phone was stopped.");
    this.ringer.stop();
    if (typeof this.win.removeEventListener === "function") this.win.removeEventListener("pagehide", this.onPageHide);
    const ua = this.ua;
    if (ua) {
      // ua.stop() ends the sessions at once (their events are still emitted:
      // a call in progress gets its callHangup), then unregisters and closes
      // the WebSocket once those transactions finish.
      await new Promise((resolve) => {
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(finish, 3000);
        try {
          ua.on("disconnected", finish);
          ua.stop();
        } catch (err) {
          this.log("warn", `stopping the SIP UA failed: ${err && err.message}`);
          finish();
        }
      });
    }
    this.ua = null;
    this.call = null;
    this.starting = null;
    this.stopping = false;
    this.setRegistration("unregistered", "");
  }

  // ---- calls ----

  newCall(fields) {
    return {
      id: fields.callId,
      callId: fields.callId,
      session: fields.session,
      direction: fields.direction,
      state: fields.state,
      number: fields.number || "",
      remote: fields.remote,
      interaction: fields.interaction || null,
      track: {},
      reached: fields.direction === "incoming",
      muted: false,
      held: false,
      remoteHeld: false,
      answering: false,
      startedAt: null,
      agentAction: "",
      dtmf: "",
      transfer: null,
      transferTimer: null,
    };
  }

  onIncoming(session, request) {
    const view = sipmap.messageView(request);
    const mapped = sipmap.inboundInteraction(view, { agentUser: this.sip.user, headers: this.sip.headers });
    const who = mapped.remote.number || mapped.remote.name || "a withheld number";
    if (this.call) {
      try {
        session.terminate({ ...sipmap.DECLINE });
      } catch (err) {
        this.log("warn", `declining a second call failed: ${err && err.message}`);
      }
      // A second INVITE for the interaction in progress (the PBX offering the
      // same call again) must not fail the call the agent is on.
      if (mapped.interaction.agentInteractionId !== (this.call.interaction && this.call.interaction.agentInteractionId)) {
        const { events } = sipmap.advance({}, { kind: "failed", reached: true, announce: false });
        this.emitAll(events, mapped.interaction, "Busy");
      }
      this.log("info", `declined a call from ${who} with 486: already on a call`);
      this.last = {
        id: mapped.interaction.agentInteractionId,
        direction: "incoming",
        state: "failed",
        remote: mapped.remote,
        reason: "Busy",
        detail: `Declined a call from ${who} (486 Busy Here): you were on another call.`,
        endedAt: new Date(this.now()).toISOString(),
      };
      this.changed();
      return;
    }
    const call = this.newCall({
      session,
      direction: "incoming",
      state: "ringing",
      callId: mapped.callId,
      remote: mapped.remote,
      interaction: mapped.interaction,
    });
    call.id = mapped.interaction.agentInteractionId;
    this.call = call;
    this.watch(call);
    this.step(call, { kind: "alerting" }, null);
    this.ringer.start();
    this.changed();
  }

  onOutgoing(session, request) {
    const dial = this.dialling;
    const view = sipmap.messageView(request);
    // Only dial() places calls; a session it did not start is not followed.
    if (!dial || this.call) return;
    const call = this.newCall({
      session,
      direction: "outgoing",
      state: "dialling",
      callId: view.callId,
      number: dial.number,
      remote: { number: dial.number, name: "" },
    });
    this.call = call;
    this.watch(call);
    this.changed();
  }

  watch(call) {
    const s = call.session;
    const on = (name, fn) =>
      s.on(name, (e) => {
        try {
          fn(e || {});
        } catch (err) {
          this.log("error", `handling the call's ${name} failed: ${err && err.stack ? err.stack : err}`);
        }
      });
    on("sending", () => {
      call.reached = true;
    });
    on("progress", (e) => {
      if (call.direction !== "outgoing" || e.originator !== "remote") return;
      call.reached = true;
      this.step(call, { kind: "alerting" }, e.response);
      this.changed();
    });
    on("accepted", (e) => this.connected(call, e.response));
    on("confirmed", () => this.connected(call, null));
    on("hold", (e) => {
      if (e.originator === "remote") call.remoteHeld = true;
      else call.held = true;
      this.changed();
    });
    on("unhold", (e) => {
      if (e.originator === "remote") call.remoteHeld = false;
      else call.held = false;
      this.changed();
    });
    on("muted", () => {
      call.muted = true;
      this.changed();
    });
    on("unmuted", () => {
      call.muted = false;
      this.changed();
    });
    on("peerconnection", (e) => this.attachAudio(e.peerconnection));
    on("ended", (e) => this.finish(call, "ended", e));
    on("failed", (e) => this.finish(call, "failed", e));
    // An outgoing session has its RTCPeerConnection before newRTCSession,
    // so its 'peerconnection' event has already fired.
    if (s.connection) this.attachAudio(s.connection);
  }

  connected(call, response) {
    if (call.track.done) return;
    if (call.state === "ringing" || call.state === "dialling") {
      call.state = "connected";
      call.startedAt = new Date(this.now()).toISOString();
    }
    call.answering = false;
    call.reached = true;
    this.ringer.stop();
    this.step(call, { kind: "started" }, response);
    this.changed();
  }

  finish(call, kind, e) {
    if (call.track.done) return;
    const msg = sipmap.messageView(e.message);
    const elsewhere =
      kind === "failed" && e.originator === "remote" && e.cause === sipmap.Causes.CANCELED && sipmap.answeredElsewhere(msg);
    const failedBeforeConnect = kind === "failed" && !call.track.started;
    const code = msg.statusCode;
    const reason = elsewhere
      ? sipmap.ANSWERED_ELSEWHERE
      : failedBeforeConnect
      ? sipmap.failureReason({ direction: call.direction, cause: e.cause, originator: e.originator, statusCode: code, agentAction: call.agentAction })
      : "";
    const reached = call.reached || code > 0;
    this.step(call, { kind, elsewhere, reached, announce: true }, code ? e.message : null, reason);
    clearTimeout(call.transferTimer);
    this.ringer.stop();
    this.detachAudio();
    const who = call.remote.number || call.remote.name || "a withheld number";
    let detail;
    if (elsewhere) detail = `The call from ${who} was answered elsewhere.`;
    else if (failedBeforeConnect) {
      const text = sipmap.failureDetail(reason, code, msg.reasonPhrase);
      detail = call.direction === "incoming" ? `Call from ${who}: ${text}` : `Call to ${who} failed: ${text}`;
      if (!reached) detail = `Call to ${who} not placed: ${text}`;
    } else if (call.agentAction === "transfer") detail = `Transferred the call with ${who} to ${call.transfer ? call.transfer.target : "the target"}.`;
    else detail = `Call with ${who} ended by ${e.originator === "local" ? "you" : "the other party"}.`;
    this.last = {
      id: call.id,
      direction: call.direction,
      state: failedBeforeConnect ? "failed" : "ended",
      remote: { ...call.remote },
      reason,
      detail,
      startedAt: call.startedAt,
      endedAt: new Date(this.now()).toISOString(),
    };
    this.log("info", `call ${call.id} ${kind}: ${detail}`);
    if (this.call === call) this.call = null;
    this.changed();
  }

  /** Applies one lifecycle happening and emits the events it produces. An
   * outgoing call's interaction is fixed by the first event, from the
   * response at hand (see the file comment). */
  step(call, happening, response, failure = "") {
    const { track, events } = sipmap.advance(call.track, happening);
    call.track = track;
    if (events.length === 0) return;
    if (!call.interaction) {
      call.interaction = sipmap.outgoingInteraction(sipmap.messageView(response), {
        number: call.number,
        callId: call.callId,
        agentUser: this.sip.user,
        headers: this.sip.headers,
      });
      call.id = call.interaction.agentInteractionId;
    }
    this.emitAll(events, call.interaction, failure);
  }

  emitAll(types, interaction, failure) {
    for (const type of types) {
      const event = sipmap.callEvent(type, interaction, this.now(), failure);
      try {
        this.ctx.emit(event);
      } catch (err) {
        this.log("error", `handing ${event.id} to the widget failed: ${err && err.message}`);
      }
    }
  }

  // ---- audio ----

  audioElement() {
    const doc = this.win.document;
    if (!doc || typeof doc.getElementById !== "function") return null;
    let el = doc.getElementById(AUDIO_ELEMENT_ID);
    if (!el) {
      el = doc.createElement("audio");
      el.id = AUDIO_ELEMENT_ID;
      el.autoplay = true;
      el.hidden = true;
      (doc.body || doc.documentElement).appendChild(el);
    }
    return el;
  }

  attachAudio(pc) {
    if (!pc || typeof pc.addEventListener !== "function") return;
    pc.addEventListener("track", (ev) => {
      if (!ev || !ev.track || ev.track.kind !== "audio") return;
      const el = this.audioElement();
      if (!el) return;
      let stream = ev.streams && ev.streams[0];
      if (!stream && this.win.MediaStream) stream = new this.win.MediaStream([ev.track]);
      if (!stream) return;
      if (el.srcObject !== stream) el.srcObject = stream;
      const played = typeof el.play === "function" ? el.play() : null;
      if (played && typeof played.catch === "function") {
        played.catch((err) => this.log("warn", `the browser did not start the call audio (${err && err.name}); click in the panel to allow sound`));
      }
    });
  }

  detachAudio() {
    const doc = this.win.document;
    const el = doc && typeof doc.getElementById === "function" ? doc.getElementById(AUDIO_ELEMENT_ID) : null;
    if (el) el.srcObject = null;
  }

  mediaOptions() {
    return {
      mediaConstraints: { ...MEDIA_CONSTRAINTS },
      pcConfig: { iceServers: Array.isArray(this.sip.iceServers) ? this.sip.iceServers : [] },
    };
  }

  // ---- the agent's actions (each rejects with a message for the agent) ----

  requireCall(what, states) {
    const call = this.call;
    if (!call) throw new Error(`There is no call to ${what}.`);
    const state = call.state === "connected" && call.held ? "held" : call.state;
    if (states && !states.includes(state)) throw new Error(`Cannot ${what}: the call is ${STATE_WORDS[state] || state}.`);
    return call;
  }

  /** Click-to-dial, the dial pad and preview Dial. Resolves once the call is
   * being placed; its progress shows in status() and the events. */
  async dial(number) {
    const target = sipmap.dialTarget(number);
    if (!this.ua) throw new Error("The phone is not started: log in again to start it.");
    if (this.registration !== "registered") {
      throw new Error(`The phone is not registered${this.reason ? ` (${this.reason.replace(/\.$/, "")})` : ""}; calls can be placed once it shows Registered.`);
    }
    if (this.call) throw new Error("Finish the current call before dialling another number.");
    const shown = target.host ? `${target.user}@${target.host}` : target.user;
    this.dialling = { number: target.user };
    try {
      this.ua.call(`${target.user}@${target.host || this.sip.domain}`, this.mediaOptions());
    } catch (err) {
      throw new Error(`Cannot call ${shown}: ${err && err.message}`);
    } finally {
      this.dialling = null;
    }
    if (!this.call) throw new Error(`Cannot call ${shown}: the SIP library did not start the call.`);
  }

  async answer() {
    const call = this.requireCall("answer", ["ringing"]);
    if (call.direction !== "incoming") throw new Error("Cannot answer a call you are dialling.");
    if (call.answering) return;
    call.answering = true;
    this.ringer.stop();
    this.changed();
    try {
      call.session.answer(this.mediaOptions());
    } catch (err) {
      call.answering = false;
      this.changed();
      throw new Error(`The call could not be answered: ${err && err.message}`);
    }
  }

  /** Declines a ringing call with 486 Busy Here (sipmap.DECLINE). */
  async decline() {
    const call = this.requireCall("decline", ["ringing"]);
    if (call.direction !== "incoming") throw new Error("Cannot decline a call you are dialling: hang up instead.");
    call.agentAction = "declined";
    try {
      call.session.terminate({ ...sipmap.DECLINE });
    } catch (err) {
      if (this.call === call) throw new Error(`The call could not be declined: ${err && err.message}`);
    }
  }

  /** Hangs up: declines a ringing call, cancels one being dialled, ends a connected one. */
  async hangup() {
    const call = this.requireCall("hang up");
    if (call.state === "ringing" && call.direction === "incoming") return this.decline();
    call.agentAction = call.agentAction || "hangup";
    try {
      call.session.terminate();
    } catch (err) {
      // Already ending (the other party hung up at the same moment).
      if (this.call === call) throw new Error(`The call could not be ended: ${err && err.message}`);
    }
  }

  async hold() {
    const call = this.requireCall("hold", ["connected", "held"]);
    if (call.held) return;
    if (call.session.hold() === false) throw new Error("The call cannot be put on hold right now; try again in a moment.");
    call.held = true;
    this.changed();
  }

  async unhold() {
    const call = this.requireCall("resume", ["connected", "held"]);
    if (!call.held) return;
    if (call.session.unhold() === false) throw new Error("The call cannot be resumed right now; try again in a moment.");
    call.held = false;
    this.changed();
  }

  async mute() {
    const call = this.requireCall("mute", ["dialling", "connected", "held"]);
    call.session.mute({ audio: true });
    call.muted = true;
    this.changed();
  }

  async unmute() {
    const call = this.requireCall("unmute", ["dialling", "connected", "held"]);
    call.session.unmute({ audio: true });
    call.muted = false;
    this.changed();
  }

  /** Sends DTMF tones on the connected call (see the file comment for the transport). */
  async sendDTMF(tones) {
    const call = this.requireCall("send tones", ["connected"]);
    const t = sipmap.dtmfTones(tones);
    const info = String(this.sip.dtmf || "").toLowerCase() === "info" || !hasDTMFSender(call.session.connection);
    const kinds = (this.JsSIP && this.JsSIP.C && this.JsSIP.C.DTMF_TRANSPORT) || { INFO: "INFO", RFC2833: "RFC2833" };
    try {
      call.session.sendDTMF(t, { transportType: info ? kinds.INFO : kinds.RFC2833 });
    } catch (err) {
      throw new Error(`The tones could not be sent: ${err && err.message}`);
    }
    call.dtmf = (call.dtmf + t).slice(-24);
    this.changed();
  }

  /** Blind transfer of the connected call to target (a number, extension or
   * sip: address). Resolves once the far end accepted the REFER. */
  async transfer(targetInput) {
    const call = this.requireCall("transfer", ["connected", "held"]);
    if (call.transfer && (call.transfer.state === "requested" || call.transfer.state === "accepted")) {
      throw new Error("A transfer of this call is already in progress.");
    }
    const target = sipmap.dialTarget(targetInput);
    const shown = target.host ? `${target.user}@${target.host}` : target.user;
    const transfer = { target: shown, state: "requested", reason: "" };
    call.transfer = transfer;
    this.changed();
    const complete = () => {
      clearTimeout(call.transferTimer);
      if (this.call !== call || call.track.done || transfer.state === "failed" || transfer.state === "completed") return;
      transfer.state = "completed";
      call.agentAction = "transfer";
      try {
        call.session.terminate();
      } catch {
        // The transferee or the PBX hung up first.
      }
    };
    const fail = (why) => {
      clearTimeout(call.transferTimer);
      transfer.state = "failed";
      transfer.reason = why;
      this.log("warn", `transfer of ${call.id} to ${shown} failed: ${why}`);
      this.changed();
    };
    await new Promise((resolve, reject) => {
      const handlers = {
        requestSucceeded: () => {
          transfer.state = "accepted";
          call.transferTimer = setTimeout(complete, TRANSFER_NOTIFY_WAIT_MS);
          this.changed();
          resolve();
        },
        requestFailed: (e) => {
          const r = sipmap.messageView(e && e.response);
          const why = sipmap.statusText(r.statusCode, r.reasonPhrase) || sipmap.cleanText(e && e.cause) || "refused";
          fail(why);
          reject(new Error(`The transfer to ${shown} was refused (${why}); the caller is still on the line.`));
        },
        trying: complete,
        progress: complete,
        accepted: complete,
        failed: (e) => {
          const sl = (e && e.status_line) || {};
          fail(sipmap.statusText(Number(sl.status_code) || 0, sl.reason_phrase) || "failed");
        },
      };
      let sent;
      try {
        sent = call.session.refer(`${target.user}@${target.host || this.sip.domain}`, { eventHandlers: handlers });
      } catch (err) {
        fail(err && err.message);
        reject(new Error(`The call could not be transferred: ${err && err.message}`));
        return;
      }
      if (sent === false) {
        fail("not possible right now");
        reject(new Error("The call cannot be transferred right now; try again in a moment."));
      }
    });
  }
}

const STATE_WORDS = { ringing: "still ringing", dialling: "still dialling", connected: "connected", held: "on hold" };

/** Whether the connection has an audio sender that can send RFC 4733 tones. */
function hasDTMFSender(pc) {
  try {
    if (!pc || typeof pc.getSenders !== "function") return false;
    return pc.getSenders().some((s) => s && s.track && s.track.kind === "audio" && s.dtmf);
  } catch {
    return false;
  }
}

function transportReasonOf(p) {
  return sipmap.transportReason(p.sip.server || "", p.everConnected);
}
