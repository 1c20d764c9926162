// sipmap.mjs: the SIP softphone's decisions, free of JsSIP and the DOM so
// node's test runner covers them (sipmap.test.mjs). sip.mjs feeds it what
// JsSIP reports; everything here is a plain function over values.
//
// - messageView: one read-only view of a SIP message (a JsSIP message, or a
//   plain {callId, headers} in tests), so nothing else touches JsSIP's types.
// - identityOf, inboundInteraction, outgoingInteraction: who is calling and
//   the interaction object of the telephony event format (docs/events.md),
//   following the contract's mapping rules (caller id precedence
//   P-Asserted-Identity > Remote-Party-ID > From; interaction id = the PBX's
//   header else the Call-ID; queue and campaign headers).
// - advance: which call events a session's lifecycle produces, exactly once each.
// - callEvent: one event as the widget sends it (id sip:INTERACTIONID:TYPE).
// - failureReason, answeredElsewhere: why a call failed, in the words
//   callFailed carries (activity.dialStatusName, as ipSCAPE names it).
// - registrationReason, transportReason: what the agent reads when the
//   phone cannot register, with what to do about it.
// - dialTarget: a typed or clicked number made dialable, or a clear refusal.
//
// Header values come from the network: a caller or a misconfigured PBX
// controls them. Everything read from a message goes through cleanText
// (control and direction-override characters removed, length capped), and no
// function here throws on any header value.

/** Header names used when the settings name none (telephony.sip.headers). */
export const DEFAULT_HEADER_NAMES = Object.freeze({
  interactionId: "X-Interaction-Id",
  queue: "X-Queue",
  campaign: "X-Campaign",
});

/** Longest values kept, in characters. Real values are far shorter; the caps
 * keep a hostile header from filling the CRM or the agent's panel. */
export const LIMITS = Object.freeze({ id: 128, number: 64, name: 80, text: 128, reason: 200 });

// Raw header values longer than this are cut before parsing, which keeps
// every parse linear and small whatever the network sends.
const MAX_RAW = 4096;

/** The JsSIP cause strings (JsSIP.C.causes) the decisions below read. */
export const Causes = Object.freeze({
  CONNECTION_ERROR: "Connection Error",
  REQUEST_TIMEOUT: "Request Timeout",
  SIP_FAILURE_CODE: "SIP Failure Code",
  INTERNAL_ERROR: "Internal Error",
  BUSY: "Busy",
  REJECTED: "Rejected",
  REDIRECTED: "Redirected",
  UNAVAILABLE: "Unavailable",
  NOT_FOUND: "Not Found",
  ADDRESS_INCOMPLETE: "Address Incomplete",
  INCOMPATIBLE_SDP: "Incompatible SDP",
  MISSING_SDP: "Missing SDP",
  AUTHENTICATION_ERROR: "Authentication Error",
  BYE: "Terminated",
  WEBRTC_ERROR: "WebRTC Error",
  CANCELED: "Canceled",
  NO_ANSWER: "No Answer",
  EXPIRES: "Expires",
  NO_ACK: "No ACK",
  DIALOG_ERROR: "Dialog Error",
  USER_DENIED_MEDIA_ACCESS: "User Denied Media Access",
  BAD_MEDIA_DESCRIPTION: "Bad Media Description",
  RTP_TIMEOUT: "RTP Timeout",
});

/** The status code and phrase the phone answers when the agent declines a
 * ringing call, and when a second call arrives during one. 486 rather than
 * 603 Decline: a 6xx is a global failure (RFC 3261 16.7), so a proxy ringing
 * several agents at once would cancel them all and the caller would be
 * dropped, while 486 lets the queue offer the call to someone else. */
export const DECLINE = Object.freeze({ status_code: 486, reason_phrase: "Busy Here" });

// C0 and C1 controls, DEL, zero-width and bidirectional formatting
// characters (which can make "1001" display as something else), the BOM and
// lone surrogates.
const UNWANTED = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Makes a value from the network safe to show and to store: anything but a
 * string or number is "", unwanted characters (above) are removed, runs of
 * whitespace become one space, and the result is trimmed and cut to max
 * characters without splitting a surrogate pair.
 */
export function cleanText(value, max = LIMITS.text) {
  if (typeof value !== "string" && typeof value !== "number") return "";
  let s = String(value);
  if (s.length > MAX_RAW * 2) s = s.slice(0, MAX_RAW * 2);
  s = s.replace(UNWANTED, " ").replace(/\s+/g, " ").trim();
  if (s.length <= max) return s;
  let cut = s.slice(0, max);
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
  return cut.trimEnd();
}

/**
 * A read-only view of a SIP message: {callId, statusCode, reasonPhrase,
 * all(name) -> string[], first(name) -> string}. It reads a JsSIP message
 * (getHeaders, call_id, status_code) or a plain object {callId, statusCode,
 * headers: {name: value | [values]}} (tests); a missing message gives an
 * empty view. Header names are matched without regard to case.
 */
export function messageView(msg) {
  const m = msg && typeof msg === "object" ? msg : null;
  let all;
  if (m && typeof m.getHeaders === "function") {
    all = (name) => {
      try {
        const v = m.getHeaders(name);
        return Array.isArray(v) ? v.filter((x) => typeof x === "string") : [];
      } catch {
        return [];
      }
    };
  } else if (m && typeof m.getHeader === "function") {
    all = (name) => {
      try {
        const v = m.getHeader(name);
        return typeof v === "string" ? [v] : [];
      } catch {
        return [];
      }
    };
  } else {
    const table = new Map();
    const h = m && m.headers && typeof m.headers === "object" ? m.headers : {};
    for (const [k, v] of Object.entries(h)) {
      const key = k.toLowerCase();
      const list = table.get(key) || [];
      for (const x of Array.isArray(v) ? v : [v]) if (typeof x === "string") list.push(x);
      table.set(key, list);
    }
    all = (name) => table.get(String(name).toLowerCase()) || [];
  }
  const first = (name) => all(name)[0] || "";
  const callId = cleanText((m && (m.call_id || m.callId)) || first("Call-ID"), LIMITS.id);
  const code = m && Number(m.status_code || m.statusCode);
  return {
    callId,
    statusCode: Number.isInteger(code) && code >= 100 && code < 700 ? code : 0,
    reasonPhrase: cleanText(m && (m.reason_phrase || m.reasonPhrase), LIMITS.text),
    all,
    first,
  };
}

/** Splits s at sep where sep is outside double quotes and angle brackets
 * (commas and semicolons may appear inside both). */
export function splitOutside(s, sep) {
  const out = [];
  let quoted = false;
  let angle = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quoted) {
      if (c === "\\") i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === "<") angle++;
    else if (c === ">" && angle > 0) angle--;
    else if (c === sep && angle === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

function decodeUser(user) {
  try {
    return decodeURIComponent(user);
  } catch {
    return user;
  }
}

/** The header parameters after a name-addr or addr-spec (";party=calling;tag=x"),
 * names lower-cased, quotes removed. */
function headerParams(rest) {
  const params = {};
  for (const p of splitOutside(rest, ";")) {
    const eq = p.indexOf("=");
    const name = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
    if (!name) continue;
    let value = eq < 0 ? "" : p.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    params[name] = value;
  }
  return params;
}

/**
 * Parses one name-addr or addr-spec header value, as From, P-Asserted-Identity
 * and Remote-Party-ID carry it:
 *   "Alice Smith" <sip:+61299990000@pbx.example.com;user=phone>;tag=x
 *   Alice <tel:+61299990000;phone-context=example.com>
 *   sip:1001@pbx.example.com
 * Returns {name, scheme, user, host, params} or null when it holds no sip,
 * sips or tel URI. user is percent-decoded and loses its own parameters
 * ("+6129;npdi" is "+6129"); name and user are cleaned. Never throws.
 */
export function parseNameAddr(raw) {
  if (typeof raw !== "string") return null;
  let s = raw.slice(0, MAX_RAW).trim();
  let name = "";
  let uri;
  let rest = "";
  if (s.startsWith('"')) {
    let i = 1;
    let out = "";
    for (; i < s.length; i++) {
      const c = s[i];
      if (c === "\\" && i + 1 < s.length) out += s[++i];
      else if (c === '"') break;
      else out += c;
    }
    name = out;
    s = s.slice(i + 1);
  }
  const lt = s.indexOf("<");
  if (lt >= 0) {
    if (!name) name = s.slice(0, lt);
    const gt = s.indexOf(">", lt + 1);
    uri = gt < 0 ? s.slice(lt + 1) : s.slice(lt + 1, gt);
    rest = gt < 0 ? "" : s.slice(gt + 1);
  } else {
    // addr-spec without brackets: its parameters belong to the header
    // (RFC 3261 20.10), so the URI ends at the first semicolon.
    const semi = s.indexOf(";");
    uri = (semi < 0 ? s : s.slice(0, semi)).trim();
    rest = semi < 0 ? "" : s.slice(semi);
  }
  uri = uri.trim();
  const colon = uri.indexOf(":");
  if (colon <= 0) return null;
  const scheme = uri.slice(0, colon).toLowerCase();
  const body = uri.slice(colon + 1);
  let user = "";
  let host = "";
  if (scheme === "tel") {
    user = body.split(";")[0];
  } else if (scheme === "sip" || scheme === "sips") {
    const at = body.lastIndexOf("@");
    if (at >= 0) {
      user = body.slice(0, at).split(":")[0].split(";")[0];
      host = body.slice(at + 1);
    } else {
      host = body;
    }
    host = host.split(/[;?]/)[0].split(":")[0];
    if (host.startsWith("[")) host = body.slice(at + 1).split("]")[0] + "]";
  } else {
    return null;
  }
  return {
    name: cleanText(name, LIMITS.name),
    scheme,
    user: cleanText(decodeUser(user), LIMITS.number),
    host: cleanText(host, LIMITS.text).toLowerCase(),
    params: headerParams(rest.trim().startsWith(";") ? rest.trim().slice(1) : rest),
  };
}

/** Whether an identity is a withheld number ("Anonymous" <sip:anonymous@anonymous.invalid>):
 * its user part is not a number to search the CRM for. */
function withheld(id) {
  const u = id.user.toLowerCase();
  return u === "anonymous" || u === "restricted" || u === "unavailable" || id.host === "anonymous.invalid";
}

/** The identities one header holds, best first: a tel URI before a sip URI
 * (P-Asserted-Identity may carry both; tel is the network's E.164 number),
 * and a Remote-Party-ID of the called party is skipped. */
function identitiesIn(view, header) {
  const found = [];
  for (const raw of view.all(header)) {
    for (const part of splitOutside(raw.slice(0, MAX_RAW), ",")) {
      const id = parseNameAddr(part);
      if (!id) continue;
      if (header === "Remote-Party-ID" && id.params.party && id.params.party.toLowerCase() !== "calling") continue;
      found.push(id);
    }
  }
  return found.sort((a, b) => (a.scheme === "tel" ? 0 : 1) - (b.scheme === "tel" ? 0 : 1));
}

/** Caller-id headers in the contract's order of precedence. */
export const IDENTITY_HEADERS = Object.freeze(["P-Asserted-Identity", "Remote-Party-ID", "From"]);

/**
 * The caller of an incoming request: {number, name, source}. number is the
 * user part of P-Asserted-Identity, else Remote-Party-ID, else From ("" when
 * withheld); name is that header's display name, else From's; source names
 * the header the number came from ("" when none had one).
 */
export function identityOf(view) {
  const fromName = (identitiesIn(view, "From")[0] || {}).name || "";
  for (const header of IDENTITY_HEADERS) {
    for (const id of identitiesIn(view, header)) {
      if (!id.user) continue;
      if (withheld(id)) return { number: "", name: id.name && id.name.toLowerCase() !== "anonymous" ? id.name : "", source: header };
      return { number: id.user, name: id.name || fromName, source: header };
    }
  }
  return { number: "", name: fromName, source: "" };
}

/** The header names of the settings (telephony.sip.headers), defaults filled in. */
export function headerNames(settingsHeaders) {
  const h = settingsHeaders && typeof settingsHeaders === "object" ? settingsHeaders : {};
  const pick = (k) => (typeof h[k] === "string" && h[k].trim() ? h[k].trim() : DEFAULT_HEADER_NAMES[k]);
  return { interactionId: pick("interactionId"), queue: pick("queue"), campaign: pick("campaign") };
}

/** The interaction id of a message: the PBX's header when it holds text,
 * else fallbackCallId (the SIP Call-ID). */
export function interactionIdOf(view, names, fallbackCallId) {
  const fromHeader = cleanText(view.first(names.interactionId), LIMITS.id);
  return fromHeader || cleanText(fallbackCallId, LIMITS.id);
}

/**
 * The interaction of an incoming INVITE (callType inbound):
 * {interaction, remote: {number, name}, callId}.
 * opts: {agentUser, headers (settings.sip.headers)}.
 */
export function inboundInteraction(view, opts = {}) {
  const names = headerNames(opts.headers);
  const caller = identityOf(view);
  const agentUser = cleanText(opts.agentUser, LIMITS.number);
  return {
    callId: view.callId,
    remote: { number: caller.number, name: caller.name },
    interaction: {
      agentInteractionId: interactionIdOf(view, names, view.callId),
      callType: "inbound",
      activity: {
        customerCli: caller.number,
        sourcePhoneNumber: caller.number,
        destinationPhoneNumber: agentUser,
        queueName: cleanText(view.first(names.queue), LIMITS.text),
        campaignName: cleanText(view.first(names.campaign), LIMITS.text),
      },
    },
  };
}

/**
 * The interaction of a call the agent placed. view is the first response
 * that told something about the call (a 18x, the 2xx, or the final failure),
 * or an empty view when none did: the PBX may name the interaction and, with
 * the campaign header, report a campaign call, which makes it "outbound"
 * rather than "manual". opts: {number (dialled), callId, agentUser, headers}.
 */
export function outgoingInteraction(view, opts = {}) {
  const names = headerNames(opts.headers);
  const number = cleanText(opts.number, LIMITS.number);
  const campaign = cleanText(view.first(names.campaign), LIMITS.text);
  return {
    agentInteractionId: interactionIdOf(view, names, opts.callId),
    callType: campaign ? "outbound" : "manual",
    activity: {
      customerCli: number,
      sourcePhoneNumber: cleanText(opts.agentUser, LIMITS.number),
      destinationPhoneNumber: number,
      queueName: cleanText(view.first(names.queue), LIMITS.text),
      campaignName: campaign,
    },
  };
}

/** The callFailed reason (activity.dialStatusName) of a call another device
 * answered: the widget knows it by this text. */
export const ANSWERED_ELSEWHERE = "Answered elsewhere";

/** Event types a SIP session produces. */
export const EventType = Object.freeze({
  ALERTING: "callAlerting",
  STARTED: "callStarted",
  FAILED: "callFailed",
  HANGUP: "callHangup",
});

/**
 * Which call events a session's lifecycle produces, each at most once.
 * track is {alerted, started, done} (start with {}); happening is one of:
 *   {kind: "alerting"}   ringing at the agent, or the far end answered the dialling
 *   {kind: "started"}    accepted or confirmed
 *   {kind: "failed", elsewhere, reached, announce}
 *   {kind: "ended"}      hung up after connecting
 * A failure after connecting is a hang-up. Before connecting it is a
 * callFailed, except:
 *  - elsewhere: a fork CANCELled because another device answered is a
 *    callFailed like any other ("Answered elsewhere", ANSWERED_ELSEWHERE),
 *    so the agent's ringing call does not stay open for ever; the widget
 *    holds it back when that other device was the agent's own (the server
 *    shows the call connected);
 *  - reached false: an outgoing call that never left the browser (the
 *    microphone was refused, WebRTC failed) is no interaction at all;
 *  - announce false: a call that never rang here (declined because the
 *    agent was busy) gets its callFailed without a callAlerting first.
 * Returns {track, events} with a new track object.
 */
export function advance(track, happening) {
  const t = { alerted: !!(track && track.alerted), started: !!(track && track.started), done: !!(track && track.done) };
  const events = [];
  if (t.done || !happening) return { track: t, events };
  const alert = () => {
    if (!t.alerted) {
      t.alerted = true;
      events.push(EventType.ALERTING);
    }
  };
  switch (happening.kind) {
    case "alerting":
      alert();
      break;
    case "started":
      alert();
      if (!t.started) {
        t.started = true;
        events.push(EventType.STARTED);
      }
      break;
    case "ended":
      t.done = true;
      alert();
      events.push(EventType.HANGUP);
      break;
    case "failed":
      t.done = true;
      if (t.started) {
        events.push(EventType.HANGUP);
        break;
      }
      if (happening.reached === false) break;
      if (happening.announce !== false) alert();
      events.push(EventType.FAILED);
      break;
    default:
      break;
  }
  return { track: t, events };
}

/**
 * One call event as the widget sends it: {id: "sip:INTERACTIONID:TYPE", type,
 * timestamp (ISO 8601), interaction}. The id is the same for a resend, so the
 * server recognises a duplicate. A callFailed carries the failure in
 * activity.dialStatusName (ipSCAPE's field, which config paths can read);
 * every other activity field is the interaction's, unchanged.
 */
export function callEvent(type, interaction, when, dialStatusName) {
  const activity = { ...(interaction.activity || {}) };
  if (type === EventType.FAILED && dialStatusName) activity.dialStatusName = dialStatusName;
  const date = when instanceof Date ? when : new Date(when);
  return {
    id: `sip:${interaction.agentInteractionId}:${type}`,
    type,
    timestamp: (Number.isNaN(date.getTime()) ? new Date() : date).toISOString(),
    interaction: { ...interaction, activity },
  };
}

/**
 * Whether a CANCEL says another device answered the call: a Reason header
 * (any of them, any comma-separated value) with protocol SIP and cause=200
 * (RFC 3326; "SIP;cause=200;text=\"Call completed elsewhere\"").
 */
export function answeredElsewhere(view) {
  for (const raw of view.all("Reason")) {
    for (const value of splitOutside(raw.slice(0, MAX_RAW), ",")) {
      const parts = splitOutside(value, ";");
      if (parts[0].trim().toUpperCase() !== "SIP") continue;
      const params = headerParams(parts.slice(1).join(";"));
      if (params.cause && params.cause.trim() === "200") return true;
    }
  }
  return false;
}

/** The standard reason phrase of a status code, for responses that lack one. */
const PHRASES = {
  400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 407: "Proxy Authentication Required",
  408: "Request Timeout", 410: "Gone", 480: "Temporarily Unavailable", 484: "Address Incomplete", 486: "Busy Here",
  487: "Request Terminated", 488: "Not Acceptable Here", 500: "Server Internal Error", 502: "Bad Gateway",
  503: "Service Unavailable", 504: "Server Time-out", 600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
};

/** "486 Busy Here": a status line for the agent, from a code and its phrase. */
export function statusText(code, phrase) {
  if (!code) return "";
  return `${code} ${cleanText(phrase, LIMITS.text) || PHRASES[code] || ""}`.trim();
}

/**
 * Why a call failed before connecting, in the words of callFailed's
 * activity.dialStatusName. f: {direction: "incoming"|"outgoing", cause
 * (JsSIP's), originator ("local"|"remote"|"system"), statusCode (of the final
 * response, if any), agentAction ("declined"|"busy"|"hangup"|"")}.
 */
export function failureReason(f) {
  const code = Number(f.statusCode) || 0;
  if (f.agentAction === "busy") return "Busy";
  if (f.agentAction === "declined") return "Declined";
  switch (f.cause) {
    case Causes.CANCELED:
      // The caller hung up while it rang here; the agent hung up while dialling.
      if (f.direction === "incoming") return "Missed";
      return "Cancelled";
    case Causes.NO_ANSWER:
    case Causes.EXPIRES:
      return "No Answer";
    case Causes.BUSY:
      return "Busy";
    case Causes.REJECTED:
      if (code === 603) return "Declined";
      return f.direction === "incoming" && f.originator === "local" ? "Declined" : "Rejected";
    case Causes.UNAVAILABLE:
      return code === 408 ? "No Answer" : "Unavailable";
    case Causes.NOT_FOUND:
      return "Not Found";
    case Causes.ADDRESS_INCOMPLETE:
      return "Invalid Number";
    case Causes.REDIRECTED:
      return "Redirected";
    case Causes.AUTHENTICATION_ERROR:
      return "Not Authorised";
    case Causes.USER_DENIED_MEDIA_ACCESS:
      return "Microphone Blocked";
    case Causes.WEBRTC_ERROR:
    case Causes.INCOMPATIBLE_SDP:
    case Causes.MISSING_SDP:
    case Causes.BAD_MEDIA_DESCRIPTION:
    case Causes.RTP_TIMEOUT:
      return "Media Error";
    case Causes.CONNECTION_ERROR:
      return "Network Error";
    case Causes.REQUEST_TIMEOUT:
      return "No Response";
    default:
      return "Failed";
  }
}

/** What the agent is told about a failed call: the reason, the SIP status
 * when there was one, and what to do when the agent can do something. */
export function failureDetail(reason, code, phrase) {
  const status = statusText(code, phrase);
  const head = status && status.toLowerCase() !== reason.toLowerCase() ? `${reason} (${status})` : reason;
  switch (reason) {
    case "Microphone Blocked":
      return `${head}: allow this site to use the microphone (the icon in the address bar), then try again.`;
    case "Media Error":
      return `${head}: the browser could not set up the call audio; check the headset and try again.`;
    case "Network Error":
      return `${head}: the connection to the SIP server failed during the call.`;
    case "Invalid Number":
      return `${head}: check the number and dial it in full.`;
    default:
      return head;
  }
}

/** A server URL as the agent may see it: no user, password, query or
 * fragment, which could hold a secret. */
export function displayServer(url) {
  const s = cleanText(url, 400);
  try {
    const u = new URL(s);
    return `${u.protocol}//${u.host}${u.pathname === "/" ? "" : u.pathname}`;
  } catch {
    return s.replace(/\/\/[^/@]*@/, "//").split(/[?#]/)[0];
  }
}

/**
 * Why a registration failed, for the agent: {reason, retry}. retry says the
 * failure may pass by itself (the phone tries again later); a refused
 * account does not. r: {statusCode, reasonPhrase, cause, server, account}.
 */
export function registrationReason(r) {
  const code = Number(r.statusCode) || 0;
  const account = cleanText(r.account, LIMITS.text) || "this agent's SIP account";
  const server = displayServer(r.server);
  if (code) {
    const head = statusText(code, r.reasonPhrase);
    if (code === 401 || code === 407) {
      return { reason: `${head}: the SIP server did not accept the password of ${account}; ask your administrator to check it (ctibridge agent sip).`, retry: false };
    }
    if (code === 403) {
      return { reason: `${head}: the SIP server refused ${account}; ask your administrator to check the SIP account (ctibridge agent sip).`, retry: false };
    }
    if (code === 404) {
      return { reason: `${head}: the SIP server does not know ${account}; ask your administrator to check the SIP user and domain.`, retry: false };
    }
    if (code === 408 || code === 480 || code >= 500) {
      return { reason: `${head}: the SIP server could not register ${account} now; the phone tries again shortly.`, retry: true };
    }
    return { reason: `${head}: the SIP server refused to register ${account}.`, retry: false };
  }
  if (r.cause === Causes.REQUEST_TIMEOUT) {
    return { reason: `the SIP server at ${server} did not answer the registration; the phone tries again shortly.`, retry: true };
  }
  if (r.cause === Causes.CONNECTION_ERROR) {
    // JsSIP reconnects by itself and registers again once connected.
    return { reason: `the connection to the SIP server at ${server} failed; reconnecting.`, retry: false };
  }
  return { reason: `the registration of ${account} failed (${cleanText(r.cause, LIMITS.text) || "unknown cause"}).`, retry: true };
}

/** Why the phone has no connection to its SIP server. everConnected: it had
 * one since start (then it was lost, not unreachable). */
export function transportReason(server, everConnected) {
  const s = displayServer(server);
  if (everConnected) return `lost the connection to the SIP server at ${s}; reconnecting.`;
  return `the SIP server at ${s} did not answer; check that it is running and reachable from this computer (retrying).`;
}

// Visual separators people type and CRM fields hold in phone numbers.
const SEPARATORS = /[\s().\-/\u00a0]/g;
const PHONE = /^\+?[0-9*#]{1,40}$/;
const SIP_USER = /^[A-Za-z0-9][A-Za-z0-9._~!$&'*+=-]{0,63}$/;

/**
 * Makes a typed or clicked number dialable: {user, host}. host is "" when
 * the call goes to the agent's own domain. Visual separators are removed
 * from phone numbers ("+61 (2) 9999-0000" dials +61299990000); an extension
 * or SIP user name ("sales-queue") and sip:user@host are kept; a tel: URI
 * loses its scheme and parameters. Anything else throws an Error the agent
 * can read.
 */
export function dialTarget(input) {
  const typed = cleanText(input, 256);
  if (!typed) throw new Error("Enter a number to dial.");
  let s = typed;
  if (/^tel:/i.test(s)) s = s.slice(4).split(";")[0];
  if (/^sips?:/i.test(s)) {
    const id = parseNameAddr(s);
    if (id && id.user && id.host && SIP_USER.test(id.user.replace(SEPARATORS, "")) && /^[a-z0-9.[\]:-]+$/.test(id.host)) {
      return { user: id.user.replace(SEPARATORS, ""), host: id.host };
    }
    throw new Error(`"${typed}" is not a SIP address this phone can call.`);
  }
  const compact = s.replace(SEPARATORS, "");
  if (PHONE.test(compact)) return { user: compact, host: "" };
  // A name, not a number: a run of digits too long for PHONE stays refused.
  if (SIP_USER.test(s) && /[A-Za-z]/.test(s)) return { user: s, host: "" };
  throw new Error(`"${typed}" is not a phone number or extension.`);
}

/** DTMF tones the keypad may send: 0-9, *, #, A-D (RFC 4733 events 0-15). */
export function dtmfTones(input) {
  const s = String(input == null ? "" : input).toUpperCase();
  if (!/^[0-9*#A-D]{1,32}$/.test(s)) throw new Error(`"${cleanText(input, 40)}" is not a DTMF tone; use 0-9, * and #.`);
  return s;
}
