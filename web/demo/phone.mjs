// phone.mjs: the customer's phone (phone.html), a SIP user agent built on
// JsSIP (/vendor/jssip/jssip.min.mjs). It registers as a customer account,
// calls an agent's SIP user with optional PBX headers, answers or declines
// the agent's calls, and reports the audio it receives. Like a desk phone, it
// follows a blind transfer: a REFER from the other party is accepted at once
// and the phone calls the transfer target, which becomes its call.
//
// Settings come from the query string, else from GET /demo/api/phone (the
// demo with --sip), else from the form:
//   ?server=ws://127.0.0.1:5066&domain=ctibridge.test&user=customer&password=...
//    &name=Customer&target=1001&cli=+61299990000
//    &interactionId=...&queue=Sales&campaign=...&header=Name:value (repeatable)
//    &autoanswer=1 (answer incoming calls at once)
// cli is presented to the agent as P-Asserted-Identity (the PBX's asserted
// caller id), so one account can call from any of the demo's numbers.
//
// Element ids and attributes for browser tests:
//   body[data-state=idle|registering|registered|calling|ringing|connected|ended]
//       [data-registration=unregistered|registering|registered|failed]
//       [data-call-direction=outgoing|incoming] [data-confirmed=true]
//       [data-remote] (the other party's SIP user) [data-dialled] (the user
//       an incoming call was for: To, e.g. the number the agent dialled)
//       [data-end-cause] [data-end-originator=local|remote|system]
//       [data-ended-by=bye|cancel|reply|local|...] [data-end-status=SIP status]
//       [data-bytes-received] [data-audio-direction] (the audio transceiver's
//       negotiated direction: sendrecv, or recvonly while the other party
//       holds the call)
//   #status (registration; the reason when refused)  #call-status
//   #account (#server #domain #user #password #name #register)
//   #dial (#target #cli #interaction-id #queue #campaign #call)
//   #answer #decline #hangup #bytes-received #log
// window.phone: {call(options), answer(), decline(), hangup(), stats(),
//   register(settings), state(), log, observed}: the same actions as the
//   buttons. stats() resolves to the call's audio so far: {received, sent
//   (bytes), energy (audioEnergy)}. observed is what the other party did in the current call:
//   {held (the call is on hold now), holds, unholds (counts of the other
//   party's hold and resume re-INVITEs), dtmf (tones received as SIP INFO),
//   referredTo, referredBy (set on the call a transfer started: the REFER's
//   target and who sent it)}.

// Header names of the PBX fields, as ctibridge's config has them by default
// (telephony.sip.headers).
export const HEADERS = { interactionId: "X-Interaction-Id", queue: "X-Queue", campaign: "X-Campaign" };

// phoneSettings reads the phone's settings from a query string.
export function phoneSettings(search) {
  const q = new URLSearchParams(search);
  const get = (name) => (q.get(name) || "").trim();
  return {
    server: get("server"),
    domain: get("domain"),
    user: get("user"),
    password: q.get("password") || "",
    name: get("name"),
    target: get("target"),
    cli: get("cli"),
    interactionId: get("interactionId"),
    queue: get("queue"),
    campaign: get("campaign"),
    headers: q.getAll("header").map((h) => h.trim()).filter(Boolean),
    autoAnswer: ["1", "true", "yes"].includes(get("autoanswer").toLowerCase()),
  };
}

// sipTarget turns what the user typed (a user, user@host or a SIP URI)
// into a SIP URI in domain.
export function sipTarget(target, domain) {
  const t = (target || "").trim();
  if (!t) throw new Error("say whom to call: the agent's SIP user");
  if (/^sips?:/i.test(t)) return t;
  if (t.includes("@")) return "sip:" + t;
  if (!domain) throw new Error("the domain is missing");
  return `sip:${t}@${domain}`;
}

// callHeaders are the extra headers of a call: the PBX fields that are set,
// the presented number, and any other "Name: value" headers.
export function callHeaders({ interactionId = "", queue = "", campaign = "", cli = "", domain = "", headers = [] } = {}) {
  const out = [];
  const add = (name, value) => {
    value = String(value).trim();
    if (!value) return;
    if (/[\r\n]/.test(value) || !/^[A-Za-z0-9-]+$/.test(name)) throw new Error(`header ${name}: no line breaks, and a name of letters, digits and '-'`);
    out.push(`${name}: ${value}`);
  };
  add(HEADERS.interactionId, interactionId);
  add(HEADERS.queue, queue);
  add(HEADERS.campaign, campaign);
  if (cli.trim()) add("P-Asserted-Identity", `<${sipTarget(cli.trim(), domain)}>`);
  for (const h of headers) {
    const i = h.indexOf(":");
    if (i <= 0) throw new Error(`header ${JSON.stringify(h)}: write it Name:value`);
    add(h.slice(0, i).trim(), h.slice(i + 1));
  }
  return out;
}

// audioBytes sums the audio bytes received and sent in a getStats report.
export function audioBytes(report) {
  let received = 0;
  let sent = 0;
  for (const s of report.values()) {
    const audio = s.kind === "audio" || s.mediaType === "audio";
    if (s.type === "inbound-rtp" && audio) received += s.bytesReceived || 0;
    if (s.type === "outbound-rtp" && audio) sent += s.bytesSent || 0;
  }
  return { received, sent };
}

// audioEnergy sums the energy of the audio received in a getStats report
// (inbound-rtp totalAudioEnergy): it grows while the other party sends
// sound and stays put while it sends silence (muted, or holding the call).
export function audioEnergy(report) {
  let energy = 0;
  for (const s of report.values()) {
    if (s.type === "inbound-rtp" && (s.kind === "audio" || s.mediaType === "audio")) energy += s.totalAudioEnergy || 0;
  }
  return energy;
}

// endInfo describes how a JsSIP session ended or failed: its cause, who
// ended it, and by which message (a remote BYE, CANCEL, a final reply).
export function endInfo(e) {
  const msg = e && e.message;
  let by = e && e.originator === "local" ? "local" : "system";
  if (msg && msg.method === "BYE") by = "bye";
  else if (msg && msg.method === "CANCEL") by = "cancel";
  else if (msg && msg.status_code) by = "reply";
  return {
    cause: (e && e.cause) || "",
    originator: (e && e.originator) || "",
    by,
    status: msg && msg.status_code ? String(msg.status_code) : "",
  };
}

// registrationReason is what to show when the SIP server refused the
// registration.
export function registrationReason(e) {
  const r = e && e.response;
  if (r && r.status_code) return `${r.status_code} ${r.reason_phrase || ""}`.trim() + (e.cause ? ` (${e.cause})` : "");
  return (e && e.cause) || "no answer from the SIP server";
}

// newObserved is what a call has seen of the other party so far: nothing.
export function newObserved() {
  return { held: false, holds: 0, unholds: 0, dtmf: [], referredTo: "", referredBy: "" };
}

// The page itself runs only in a browser with phone.html loaded.
if (typeof document !== "undefined" && document.getElementById("dial")) {
  main().catch((err) => {
    console.error("phone:", err);
    const s = document.getElementById("status");
    if (s) s.textContent = "The phone could not start: " + err.message;
  });
}

async function main() {
  const { default: JsSIP } = await import("/vendor/jssip/jssip.min.mjs");
  const $ = (id) => document.getElementById(id);
  const body = document.body;
  const log = [];
  let ua = null;
  let session = null;
  let statsTimer = null;
  let lastBytes = { received: 0, sent: 0, energy: 0 };
  // Each call gets a record of its own (follow), which its handlers fill.
  let observed = newObserved();
  let settings = phoneSettings(location.search);

  const note = (text) => {
    const line = `${new Date().toISOString().slice(11, 23)} ${text}`;
    log.push(line);
    console.info("phone:", text);
    const li = document.createElement("li");
    li.textContent = line;
    $("log").append(li);
    $("log").scrollTop = $("log").scrollHeight;
  };
  const setState = (state, text) => {
    body.dataset.state = state;
    if (text !== undefined) $("call-status").textContent = text;
    const registered = body.dataset.registration === "registered";
    $("call").disabled = !registered || !!session;
    $("answer").disabled = state !== "ringing";
    $("decline").disabled = state !== "ringing";
    $("hangup").disabled = !session;
  };
  const setRegistration = (reg, text) => {
    body.dataset.registration = reg;
    $("status").textContent = text;
    if (!session) setState(reg === "registered" ? "registered" : reg === "registering" ? "registering" : "idle");
    else setState(body.dataset.state);
  };

  // The form shows the settings; the demo fills what the query leaves out.
  if (!settings.server) {
    try {
      const r = await fetch("/demo/api/phone");
      if (r.ok) {
        const demo = await r.json();
        settings = { ...settings, ...Object.fromEntries(Object.entries(demo).filter(([k, v]) => typeof v === "string" && !settings[k])) };
        for (const t of demo.targets || []) $("targets").append(new Option(t.label, t.user));
        for (const n of demo.numbers || []) $("numbers").append(new Option(n.label, n.number));
      }
    } catch {
      // Not the demo: the user fills the form.
    }
  }
  const fields = { server: "server", domain: "domain", user: "user", password: "password", name: "name",
    target: "target", cli: "cli", interactionId: "interaction-id", queue: "queue", campaign: "campaign" };
  for (const [key, id] of Object.entries(fields)) if (settings[key]) $(id).value = settings[key];

  function register(s) {
    if (ua) {
      ua.stop();
      ua = null;
    }
    settings = { ...settings, ...s };
    const { server, domain, user, password, name } = settings;
    if (!server || !domain || !user) {
      setRegistration("unregistered", "Fill in the SIP server, domain and user");
      return;
    }
    setRegistration("registering", `Registering ${user}@${domain} with ${server}…`);
    note(`register ${user}@${domain} at ${server}`);
    ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(server)],
      uri: `sip:${user}@${domain}`,
      password: password || undefined,
      display_name: name || undefined,
      register: true,
      register_expires: 600,
      session_timers: false,
      user_agent: "ctibridge customer phone",
    });
    const thisUA = ua;
    ua.on("registered", () => {
      if (thisUA !== ua) return;
      note("registered");
      setRegistration("registered", `Registered as ${user}@${domain}`);
    });
    ua.on("unregistered", () => {
      if (thisUA === ua) setRegistration("unregistered", "Not registered");
    });
    ua.on("registrationFailed", (e) => {
      if (thisUA !== ua) return;
      const reason = registrationReason(e);
      note("registration refused: " + reason);
      setRegistration("failed", "Registration refused: " + reason);
    });
    ua.on("disconnected", () => {
      if (thisUA === ua) note("WebSocket to the SIP server closed");
    });
    ua.on("newRTCSession", (e) => {
      if (thisUA !== ua) return;
      if (e.originator === "remote" && session) {
        note(`busy: refused a call from ${e.request.from.uri.user}`);
        e.session.terminate({ status_code: 486, reason_phrase: "Busy Here" });
        return;
      }
      follow(e.session, e.originator === "local" ? "outgoing" : "incoming", e.request);
    });
    ua.start();
  }

  function follow(s, direction, request) {
    session = s;
    lastBytes = { received: 0, sent: 0, energy: 0 };
    // This call's handlers write to this call's record, never a later one's.
    const seen = (observed = newObserved());
    window.phone.observed = seen;
    for (const k of ["confirmed", "endCause", "endOriginator", "endedBy", "endStatus", "dialled", "audioDirection"]) delete body.dataset[k];
    body.dataset.callDirection = direction;
    body.dataset.remote = direction === "outgoing" ? s.remote_identity.uri.user : request.from.uri.user;
    if (direction === "incoming") body.dataset.dialled = request.to.uri.user;
    body.dataset.bytesReceived = "0";
    $("bytes-received").textContent = "0";
    const other = direction === "outgoing" ? s.remote_identity.uri.user : request.from.uri.user + (request.from.display_name ? ` (${request.from.display_name})` : "");
    if (direction === "outgoing") setState("calling", `Calling ${other}…`);
    else setState("ringing", `Call from ${other}`);
    note(`${direction} call ${s.id} ${direction === "outgoing" ? "to" : "from"} ${other}`);

    const watchTracks = (pc) =>
      pc.addEventListener("track", (ev) => {
        if (ev.streams[0]) $("remote-audio").srcObject = ev.streams[0];
      });
    if (s.connection) watchTracks(s.connection);
    s.on("peerconnection", (e) => watchTracks(e.peerconnection));
    s.on("progress", (e) => note(`progress ${e.response ? e.response.status_code : ""}`.trim()));
    s.on("accepted", () => note("accepted"));
    s.on("hold", (e) => {
      note(`held by the ${e.originator === "remote" ? "other party" : "phone"}`);
      if (e.originator !== "remote") return;
      seen.held = true;
      seen.holds++;
    });
    s.on("unhold", (e) => {
      note(`resumed by the ${e.originator === "remote" ? "other party" : "phone"}`);
      if (e.originator !== "remote") return;
      seen.held = false;
      seen.unholds++;
    });
    s.on("newDTMF", (e) => {
      if (e.originator !== "remote") return;
      note(`DTMF ${e.dtmf.tone} (SIP INFO)`);
      seen.dtmf.push(e.dtmf.tone);
    });
    // A blind transfer: the new call (newRTCSession, followed like any
    // call) takes the page over; this one ends when the transferor hangs up.
    s.on("refer", (e) => {
      const target = e.request.refer_to.uri;
      const by = e.request.from.uri.user;
      note(`transferred by ${by} to ${target}`);
      e.accept(undefined, media);
      if (session !== s) Object.assign(observed, { referredTo: target.user || target.toString(), referredBy: by });
    });
    s.on("confirmed", () => {
      note("confirmed");
      body.dataset.confirmed = "true";
      setState("connected", `Connected with ${other}`);
      clearInterval(statsTimer);
      statsTimer = setInterval(stats, 500);
    });
    const end = (kind) => (e) => {
      const info = endInfo(e);
      note(`${kind}: ${info.cause} (${info.originator}${info.status ? ", " + info.status : ""}, by ${info.by})`);
      // The call a transfer started is the page's call now.
      if (session && session !== s) return;
      clearInterval(statsTimer);
      Object.assign(body.dataset, { endCause: info.cause, endOriginator: info.originator, endedBy: info.by, endStatus: info.status });
      if (session === s) session = null;
      setState("ended", `Call ${kind === "failed" ? "failed" : "ended"}: ${info.cause}`);
    };
    s.on("ended", end("ended"));
    s.on("failed", end("failed"));
    if (direction === "incoming" && settings.autoAnswer) answer();
  }

  async function stats() {
    const pc = session && session.connection;
    if (!pc) return lastBytes;
    try {
      const report = await pc.getStats();
      lastBytes = { ...audioBytes(report), energy: audioEnergy(report) };
    } catch {
      return lastBytes;
    }
    body.dataset.bytesReceived = String(lastBytes.received);
    const audio = pc.getTransceivers().find((t) => t.receiver.track && t.receiver.track.kind === "audio");
    body.dataset.audioDirection = (audio && audio.currentDirection) || "";
    $("bytes-received").textContent = String(lastBytes.received);
    return lastBytes;
  }

  const media = { mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] } };

  function call(opts = {}) {
    if (!ua || body.dataset.registration !== "registered") throw new Error("register first");
    if (session) throw new Error("a call is in progress");
    const o = { ...settings, ...opts };
    const extraHeaders = callHeaders(o);
    note(`call ${o.target}${extraHeaders.length ? " with " + extraHeaders.join("; ") : ""}`);
    ua.call(sipTarget(o.target, o.domain), { ...media, extraHeaders });
  }
  function answer() {
    if (!session || body.dataset.state !== "ringing") throw new Error("no call is ringing");
    note("answer");
    session.answer(media);
  }
  function decline() {
    if (!session || body.dataset.state !== "ringing") throw new Error("no call is ringing");
    note("decline");
    session.terminate({ status_code: 603, reason_phrase: "Decline" });
  }
  function hangup() {
    if (!session) throw new Error("no call");
    note("hang up");
    session.terminate();
  }

  const act = (fn) => () => {
    try {
      fn();
    } catch (err) {
      note("error: " + err.message);
      $("call-status").textContent = err.message;
    }
  };
  $("account").addEventListener("submit", (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    register(Object.fromEntries(["server", "domain", "user", "password", "name"].map((k) => [k, String(f.get(k) || "").trim()])));
  });
  $("dial").addEventListener("submit", (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    act(() => call(Object.fromEntries(["target", "cli", "interactionId", "queue", "campaign"].map((k) => [k, String(f.get(k) || "")]))))();
  });
  $("answer").addEventListener("click", act(answer));
  $("decline").addEventListener("click", act(decline));
  $("hangup").addEventListener("click", act(hangup));
  addEventListener("pagehide", () => ua && ua.stop());

  window.phone = { call, answer, decline, hangup, stats, register, state: () => ({ ...body.dataset }), log, observed };
  if (settings.server && settings.user) register({});
  else setRegistration("unregistered", "Fill in the account and press Register");
}
