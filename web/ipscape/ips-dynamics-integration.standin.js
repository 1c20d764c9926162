/*
 * ips-dynamics-integration.standin.js: ctibridge's STAND-IN for ipSCAPE's
 * Dynamics integration bundle (ips-dynamics-integration.vX.min.js) and the
 * CTI Adaptor behind it. It is NOT ipSCAPE's code and contains none of it.
 *
 * It follows the public package page of @ipscape/web-client (npm): the
 * constructor `new IpscapeWebClient()`, the listeners onAgentLogin,
 * onAgentLogout, onAgentPresenceChange, onCallStarted, onCallFailed,
 * onCallHangup, onCallWrapped, onPreviewAllocated, onComponentChanged,
 * onInteractionOpen and onInteractionClosed, each called with
 * {result, error}, `isAuthorised(callback)`, and the click-to-dial message
 * {event: "clickToDial", number}. clickToDial(message) and
 * addComponentOption({name, option: {label, value, selected}}) as promise
 * methods are how a public third-party integration built on the package
 * calls them (awangpermadi/IPScapeDigiserve).
 *
 * NOT checked against a live ipSCAPE (see web/ipscape/README.md):
 *   - the data each listener delivers: here {result: {interaction,
 *     timestamp}, error: null} for call listeners, the interaction in
 *     ctibridge's event format (docs/events.md), which is also what the
 *     reference config's paths read; {result: {agent, state, reason}} for
 *     login and {result: {state, reason}} for presence;
 *   - the component names "person" and "organisation", and
 *     onComponentChanged's {result: {name, value}};
 *   - what clickToDial, addComponentOption and isAuthorised answer;
 *   - when ipSCAPE fires onInteractionOpen and onCallStarted relative to
 *     ringing, dialling and connecting (here: open when offered or dialled,
 *     started when connected).
 * The provider (web/widget/providers/ipscape.mjs) keeps its reading of this
 * surface in one ADAPTER section; the two must change together.
 *
 * A classic script: the widget page loads it from the config's scripts, in
 * place of ipSCAPE's bundle. It defines window.IpscapeWebClient, renders a
 * small panel standing in for the adaptor (<section id="ipscape-adaptor">,
 * appended to body), and exposes a driver for tests and the demo:
 *
 *   window.ipscapeStandIn = {
 *     login(agent)        agent: "1042" or {agentId, fullName}; Paused
 *     logout()
 *     ready(), pause(reason)
 *     presentInbound({interactionId, cli, queue, campaign, ddi})
 *                         offers a ringing inbound call (onInteractionOpen)
 *     presentPreview({interactionId, lead: {leadId, name, phones: [{index, phone, type}], campaignName}})
 *                         allocates a preview lead (onPreviewAllocated, onInteractionOpen)
 *     start(id)           the call connects (onCallStarted)
 *     fail(id, reason)    the call ends unconnected (onCallFailed; reason into activity.dialStatusName)
 *     hangup(id)          the connected call ends (onCallHangup)
 *     wrap(id, code, description)   onCallWrapped, then onInteractionClosed
 *     dials               every clickToDial message received, in order
 *     interaction(id), state(), components()   read-only copies, for tests
 *   }
 * A clickToDial while a preview is offered dials the preview; otherwise it
 * opens a manual interaction "MAN-n" (onInteractionOpen) that start(id)
 * connects.
 */
(function (root) {
  "use strict";

  var LISTENERS = [
    "onAgentLogin", "onAgentLogout", "onAgentPresenceChange",
    "onCallStarted", "onCallFailed", "onCallHangup", "onCallWrapped",
    "onPreviewAllocated", "onComponentChanged", "onInteractionOpen", "onInteractionClosed",
  ];
  var COMPONENTS = ["person", "organisation"];
  var COMPONENT_LABELS = { person: "Person", organisation: "Organisation" };

  // The one adaptor every IpscapeWebClient on the page talks to.
  var adaptor = {
    listeners: {},
    authorised: false,
    agent: null, // {agentId, fullName}
    state: "Logged out", // the adaptor's display name
    reason: "",
    idleState: "Paused", // the state to return to after a wrap
    interactions: {}, // id -> {interaction, phase}
    currentId: "",
    components: { person: [], organisation: [] },
    dials: [],
    manualSeq: 0,
  };
  LISTENERS.forEach(function (name) {
    adaptor.listeners[name] = [];
  });

  function copy(v) {
    return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
  }

  function nowISO() {
    return new Date().toISOString();
  }

  function logError(msg, err) {
    if (root.console && root.console.error) root.console.error("ipSCAPE stand-in: " + msg, err);
  }

  // fire calls every callback of a listener with its own copy of the data.
  function fire(name, result) {
    var list = adaptor.listeners[name].slice();
    for (var i = 0; i < list.length; i++) {
      try {
        list[i]({ result: copy(result), error: null });
      } catch (e) {
        logError(name + " callback threw", e);
      }
    }
  }

  function answer(result, error) {
    return Promise.resolve({ result: result === undefined ? null : copy(result), error: error ? { message: error } : null });
  }

  // ---- the Web Client ----

  function IpscapeWebClient() {
    if (!(this instanceof IpscapeWebClient)) throw new TypeError("IpscapeWebClient is a constructor: use new IpscapeWebClient()");
    this.version = "ctibridge-stand-in";
  }

  LISTENERS.forEach(function (name) {
    IpscapeWebClient.prototype[name] = function (callback) {
      if (typeof callback !== "function") throw new TypeError(name + ": expected a callback");
      adaptor.listeners[name].push(callback);
    };
  });

  IpscapeWebClient.prototype.isAuthorised = function (callback) {
    var v = adaptor.authorised;
    return Promise.resolve().then(function () {
      if (typeof callback === "function") {
        try {
          callback(v);
        } catch (e) {
          logError("isAuthorised callback threw", e);
        }
      }
      return v;
    });
  };

  IpscapeWebClient.prototype.clickToDial = function (message) {
    if (!message || message.event !== "clickToDial") return answer(null, 'clickToDial: expected {event: "clickToDial", number}');
    var number = typeof message.number === "string" ? message.number.trim() : "";
    if (!number) return answer(null, "clickToDial: number is missing");
    adaptor.dials.push({ event: message.event, number: number });
    render();
    if (!adaptor.authorised) return answer(null, "the agent is not logged in to the CTI Adaptor");
    var cur = adaptor.currentId && adaptor.interactions[adaptor.currentId];
    if (cur && cur.phase === "previewing") {
      dialPreview(cur, number);
      return answer({ event: "clickToDial", number: number, agentInteractionId: cur.interaction.agentInteractionId });
    }
    if (cur && cur.phase !== "wrapped") return answer(null, "the agent is on interaction " + adaptor.currentId + ": wrap it first");
    var id = "MAN-" + ++adaptor.manualSeq;
    var it = {
      agentInteractionId: id,
      callType: "manual",
      activity: {
        customerCli: number,
        sourcePhoneNumber: (adaptor.agent && adaptor.agent.ddi) || "",
        destinationPhoneNumber: number,
      },
    };
    open(it, "dialling");
    presence("Dialling", "");
    fire("onInteractionOpen", { interaction: it, timestamp: nowISO() });
    return answer({ event: "clickToDial", number: number, agentInteractionId: id });
  };

  IpscapeWebClient.prototype.addComponentOption = function (data) {
    var name = data && data.name;
    var option = data && data.option;
    if (COMPONENTS.indexOf(name) < 0) return answer(null, "addComponentOption: no component " + JSON.stringify(name) + "; use person or organisation");
    if (!option || typeof option.value !== "string" || option.value === "") return answer(null, "addComponentOption: option.value is missing");
    var list = adaptor.components[name];
    var opt = { label: typeof option.label === "string" && option.label ? option.label : option.value, value: option.value, selected: !!option.selected };
    var found = false;
    for (var i = 0; i < list.length; i++) {
      if (list[i].value === opt.value) {
        list[i] = opt;
        found = true;
      } else if (opt.selected) {
        list[i].selected = false;
      }
    }
    if (!found) list.push(opt);
    render();
    return answer({ name: name, option: opt });
  };

  // ---- the adaptor's state ----

  function setState(state, reason) {
    adaptor.state = state;
    adaptor.reason = state === "Paused" ? reason || "" : "";
    render();
  }

  function presence(state, reason) {
    setState(state, reason);
    fire("onAgentPresenceChange", { state: adaptor.state, reason: adaptor.reason });
  }

  function open(it, phase) {
    adaptor.interactions[it.agentInteractionId] = { interaction: it, phase: phase };
    adaptor.currentId = it.agentInteractionId;
    adaptor.components = { person: [], organisation: [] };
    render();
  }

  function need(id, what) {
    var rec = adaptor.interactions[id];
    if (!rec) throw new Error("ipscapeStandIn." + what + ": no interaction " + JSON.stringify(id));
    return rec;
  }

  function needLogin(what) {
    if (!adaptor.authorised) throw new Error("ipscapeStandIn." + what + ": log the agent in first (ipscapeStandIn.login)");
  }

  function digits(s) {
    return String(s).replace(/[^0-9]/g, "");
  }

  function dialPreview(rec, number) {
    var it = rec.interaction;
    it.activity = it.activity || {};
    it.activity.customerCli = number;
    it.activity.destinationPhoneNumber = number;
    var phones = (it.leadData && it.leadData.phones) || [];
    for (var i = 0; i < phones.length; i++) {
      if (digits(phones[i].phone) === digits(number)) it.leadData.phoneIndex = phones[i].index;
    }
    rec.phase = "dialling";
    presence("Dialling", "");
  }

  function event(id, what, listener, phase, state) {
    var rec = need(id, what);
    rec.phase = phase;
    presence(state, "");
    fire(listener, { interaction: rec.interaction, timestamp: nowISO() });
    return copy(rec.interaction);
  }

  // ---- the driver ----

  var driver = {
    dials: adaptor.dials,

    login: function (agent) {
      var a = typeof agent === "object" && agent !== null ? agent : { agentId: String(agent || "") };
      if (!a.agentId) throw new Error("ipscapeStandIn.login: give the agent id, e.g. login(\"1042\")");
      adaptor.agent = { agentId: String(a.agentId), fullName: a.fullName || "Agent " + a.agentId };
      if (a.ddi) adaptor.agent.ddi = String(a.ddi);
      adaptor.authorised = true;
      adaptor.idleState = "Paused";
      setState("Paused", "");
      fire("onAgentLogin", { agent: { agentId: adaptor.agent.agentId, fullName: adaptor.agent.fullName }, state: "Paused", reason: "" });
    },

    logout: function () {
      var agent = adaptor.agent;
      adaptor.authorised = false;
      adaptor.agent = null;
      setState("Logged out", "");
      fire("onAgentLogout", { agent: agent ? { agentId: agent.agentId, fullName: agent.fullName } : null });
    },

    ready: function () {
      needLogin("ready");
      adaptor.idleState = "Ready";
      presence("Ready", "");
    },

    pause: function (reason) {
      needLogin("pause");
      adaptor.idleState = "Paused";
      presence("Paused", reason || "");
    },

    presentInbound: function (opts) {
      needLogin("presentInbound");
      opts = opts || {};
      if (!opts.interactionId) throw new Error("ipscapeStandIn.presentInbound: interactionId is required");
      var cli = opts.cli || "";
      var it = {
        agentInteractionId: String(opts.interactionId),
        callType: "inbound",
        activity: {
          customerCli: cli,
          sourcePhoneNumber: cli,
          destinationPhoneNumber: opts.ddi || "",
          queueName: opts.queue || "",
          campaignName: opts.campaign || "",
        },
      };
      open(it, "ringing");
      fire("onInteractionOpen", { interaction: it, timestamp: nowISO() });
      return copy(it);
    },

    presentPreview: function (opts) {
      needLogin("presentPreview");
      opts = opts || {};
      if (!opts.interactionId) throw new Error("ipscapeStandIn.presentPreview: interactionId is required");
      var lead = opts.lead || {};
      var phones = (lead.phones || []).map(function (p, i) {
        var o = { index: typeof p.index === "number" ? p.index : i + 1, phone: String(p.phone) };
        if (p.type) o.type = p.type;
        return o;
      });
      var it = {
        agentInteractionId: String(opts.interactionId),
        callType: "preview",
        activity: { campaignName: lead.campaignName || opts.campaign || "" },
        leadData: { leadId: lead.leadId || "", name: lead.name || "", phoneIndex: phones.length ? phones[0].index : 0, phones: phones },
      };
      open(it, "previewing");
      fire("onPreviewAllocated", { interaction: it, timestamp: nowISO() });
      fire("onInteractionOpen", { interaction: it, timestamp: nowISO() });
      return copy(it);
    },

    start: function (id) {
      var rec = need(id, "start");
      if (rec.phase === "previewing") {
        // Started without a clickToDial: the adaptor dials the lead's phone.
        var phones = (rec.interaction.leadData && rec.interaction.leadData.phones) || [];
        if (phones.length) dialPreview(rec, phones[0].phone);
      }
      return event(id, "start", "onCallStarted", "connected", "On call");
    },

    fail: function (id, reason) {
      var rec = need(id, "fail");
      rec.interaction.activity = rec.interaction.activity || {};
      rec.interaction.activity.dialStatusName = reason || "No Answer";
      return event(id, "fail", "onCallFailed", "failed", "On wrap");
    },

    hangup: function (id) {
      return event(id, "hangup", "onCallHangup", "ended", "On wrap");
    },

    wrap: function (id, code, description) {
      var rec = need(id, "wrap");
      if (code === undefined || code === null || code === "") throw new Error("ipscapeStandIn.wrap: a wrap code is required");
      rec.interaction.activity = rec.interaction.activity || {};
      rec.interaction.activity.wrapCode = code;
      if (description) rec.interaction.activity.wrapDescription = description;
      rec.phase = "wrapped";
      fire("onCallWrapped", { interaction: rec.interaction, timestamp: nowISO() });
      if (adaptor.currentId === id) {
        adaptor.currentId = "";
        adaptor.components = { person: [], organisation: [] };
      }
      fire("onInteractionClosed", { interaction: { agentInteractionId: rec.interaction.agentInteractionId, callType: rec.interaction.callType } });
      presence(adaptor.idleState, "");
      return copy(rec.interaction);
    },

    interaction: function (id) {
      var rec = adaptor.interactions[id];
      return rec ? copy({ phase: rec.phase, interaction: rec.interaction }) : null;
    },

    state: function () {
      return { authorised: adaptor.authorised, agent: copy(adaptor.agent), state: adaptor.state, reason: adaptor.reason, currentId: adaptor.currentId };
    },

    components: function () {
      return copy(adaptor.components);
    },
  };

  // ---- the panel ----

  var panel = null;

  function el(doc, tag, attrs, text) {
    var e = doc.createElement(tag);
    for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function build() {
    var doc = root.document;
    if (!doc || !doc.body || panel) return;
    var section = el(doc, "section", { id: "ipscape-adaptor", "aria-label": "ipSCAPE CTI Adaptor (stand-in)" });
    section.setAttribute("style", "border:1px solid #c8ccd4;border-radius:6px;padding:8px;margin:8px;font:13px system-ui,sans-serif;background:#f7f8fa");
    section.appendChild(el(doc, "h2", { style: "font-size:14px;margin:0 0 6px" }, "ipSCAPE CTI Adaptor (stand-in)"));
    var p1 = el(doc, "p", { style: "margin:2px 0" });
    p1.appendChild(el(doc, "span", {}, "Agent: "));
    var agent = el(doc, "span", { id: "ips-agent" });
    p1.appendChild(agent);
    p1.appendChild(el(doc, "span", {}, " · "));
    var state = el(doc, "span", { id: "ips-agent-state" });
    p1.appendChild(state);
    section.appendChild(p1);
    var p2 = el(doc, "p", { style: "margin:2px 0" });
    p2.appendChild(el(doc, "span", {}, "Interaction: "));
    var inter = el(doc, "span", { id: "ips-interaction" });
    p2.appendChild(inter);
    section.appendChild(p2);
    var selects = {};
    COMPONENTS.forEach(function (name) {
      var id = "ips-component-" + name;
      var label = el(doc, "label", { for: id, style: "display:block;margin-top:4px" }, COMPONENT_LABELS[name]);
      var sel = el(doc, "select", { id: id, "data-component": name, style: "display:block;width:100%" });
      sel.addEventListener("change", function () {
        var value = sel.value;
        var list = adaptor.components[name];
        for (var i = 0; i < list.length; i++) list[i].selected = list[i].value === value;
        fire("onComponentChanged", { name: name, value: value });
      });
      section.appendChild(label);
      section.appendChild(sel);
      selects[name] = sel;
    });
    var p3 = el(doc, "p", { style: "margin:4px 0 0" });
    p3.appendChild(el(doc, "span", {}, "Last click-to-dial: "));
    var dial = el(doc, "span", { id: "ips-last-dial" });
    p3.appendChild(dial);
    section.appendChild(p3);
    doc.body.appendChild(section);
    panel = { doc: doc, agent: agent, state: state, interaction: inter, selects: selects, dial: dial, optionKeys: {} };
    render();
  }

  function render() {
    if (!panel) return;
    var a = adaptor.agent;
    panel.agent.textContent = a ? a.fullName + " (" + a.agentId + ")" : "not logged in";
    panel.state.textContent = adaptor.state + (adaptor.reason ? ": " + adaptor.reason : "");
    panel.state.setAttribute("data-state", adaptor.state);
    var rec = adaptor.currentId && adaptor.interactions[adaptor.currentId];
    if (rec) {
      var it = rec.interaction;
      var num = (it.activity && it.activity.customerCli) || (it.leadData && it.leadData.name) || "";
      panel.interaction.textContent = it.agentInteractionId + " · " + it.callType + (num ? " · " + num : "") + " · " + rec.phase;
      panel.interaction.setAttribute("data-interaction-id", it.agentInteractionId);
    } else {
      panel.interaction.textContent = "none";
      panel.interaction.setAttribute("data-interaction-id", "");
    }
    COMPONENTS.forEach(function (name) {
      var sel = panel.selects[name];
      var list = adaptor.components[name];
      var key = JSON.stringify(list.map(function (o) {
        return [o.value, o.label];
      }));
      if (panel.optionKeys[name] !== key) {
        panel.optionKeys[name] = key;
        while (sel.firstChild) sel.removeChild(sel.firstChild);
        sel.appendChild(el(panel.doc, "option", { value: "" }, "— none —"));
        for (var i = 0; i < list.length; i++) sel.appendChild(el(panel.doc, "option", { value: list[i].value }, list[i].label));
      }
      var chosen = "";
      for (var j = 0; j < list.length; j++) if (list[j].selected) chosen = list[j].value;
      sel.value = chosen;
    });
    var last = adaptor.dials[adaptor.dials.length - 1];
    panel.dial.textContent = last ? last.number : "none";
  }

  root.IpscapeWebClient = IpscapeWebClient;
  root.ipscapeStandIn = driver;

  var doc = root.document;
  if (doc && doc.body) build();
  else if (doc && doc.addEventListener) doc.addEventListener("DOMContentLoaded", build);
})(typeof window !== "undefined" ? window : this);
