/*
 * msdyn_ciLibrary.js: ctibridge's stand-in for Dynamics 365's Channel
 * Integration Framework library, served by `ctibridge demo` at
 * /webresources/Widget/msdyn_ciLibrary.js in place of Dynamics' own.
 *
 * Like the real library it is loaded by the widget page inside the CIF panel
 * iframe, from a script tag carrying data-crmurl (the Dynamics origin) and
 * data-cifid, and defines window.Microsoft.CIFramework with the documented
 * promise-based API. Data goes in and out as JSON strings. Every call is
 * forwarded by postMessage to the parent window (the host page standing in
 * for Dynamics), only ever to the data-crmurl origin, and only answers from
 * that origin and that window are read. A call the host does not answer is
 * rejected after 100 s, as CIF does. The window event CIFInitDone fires once
 * the host has answered the library's handshake (CIF v2 behaviour).
 *
 * Messages (all objects carry protocol "ctibridge-cif/1" and the cifId):
 *   widget -> host  {kind: "hello"}                            handshake, repeated until answered
 *   host -> widget  {kind: "ready"}                            handshake answer: CIFInitDone fires
 *   widget -> host  {kind: "request", id, method, args: [...]} one API call
 *   host -> widget  {kind: "response", id, ok: true, result: "<JSON string>"}
 *                   {kind: "response", id, ok: false, error: {message}}
 *   host -> widget  {kind: "event", name: "onclicktoact", data: "<JSON string>"}
 *                   handlers added with addHandler(name) are called with data
 */
(function (root) {
  "use strict";

  var PROTOCOL = "ctibridge-cif/1";
  var TIMEOUT_MS = 100000;
  var HELLO_EVERY_MS = 1000;
  var HELLO_TRIES = 60;

  // Which arguments of each forwarded method must be JSON strings, strings,
  // booleans or numbers. CIF refuses objects where it documents JSON strings.
  var METHODS = {
    searchAndOpenRecords: ["string", "string", "boolean", "optional", "optional"],
    renderSearchPage: ["string", "string", "optional"],
    openForm: ["json", "optional-json"],
    createRecord: ["string", "json"],
    updateRecord: ["string", "string", "json"],
    retrieveRecord: ["string", "string", "optional"],
    deleteRecord: ["string", "string"],
    setClickToAct: ["boolean"],
    getClickToAct: [],
    setMode: ["number"],
    getMode: [],
    setWidth: ["number"],
    getWidth: [],
    getEnvironment: [],
    // CIF 2.0 (Microsoft Learn, CIF 2.0 JavaScript API reference). Their
    // input is documented as a JSON object: an object or a JSON string.
    notifyEvent: ["input", "optional", "optional"],
    cancelEvent: ["string", "optional"],
    canCreateSession: [],
    createSession: ["input", "optional"],
    getFocusedSession: [],
    requestFocusSession: ["string", "optional"],
    setSessionTitle: ["input"],
    createTab: ["input", "optional"],
    focusTab: ["string", "optional"],
    notifyNewActivity: ["string", "number"],
    setPresence: ["string"],
    getPresence: [],
  };

  function checkArgs(method, args) {
    var spec = METHODS[method];
    for (var i = 0; i < spec.length; i++) {
      var want = spec[i];
      var v = args[i];
      var where = method + " argument " + (i + 1);
      if (want === "optional") continue;
      if (want === "optional-json" && (v === undefined || v === null)) continue;
      if (want === "input") {
        if (v !== null && typeof v === "object" && !Array.isArray(v)) continue;
        want = "json";
      }
      if (want === "json" || want === "optional-json") {
        if (typeof v !== "string") return where + ": expected a JSON string, got " + typeof v;
        try {
          JSON.parse(v);
        } catch (e) {
          return where + ": not valid JSON: " + e.message;
        }
        continue;
      }
      if (want === "boolean") {
        if (typeof v === "boolean" || v === "true" || v === "false") continue;
        return where + ": expected true or false, got " + JSON.stringify(v);
      }
      if (want === "number") {
        if (typeof v === "number" || (typeof v === "string" && v !== "" && !isNaN(Number(v)))) continue;
        return where + ": expected a number, got " + JSON.stringify(v);
      }
      if (typeof v !== "string") return where + ": expected a string, got " + typeof v;
    }
    return "";
  }

  /**
   * createCIFramework builds the API object. env: {win, targetOrigin,
   * cifId, problem (why calls cannot work, or "")}.
   */
  function createCIFramework(env) {
    var win = env.win;
    var parent = win.parent;
    var pending = {};
    var handlers = {};
    var seq = 0;
    var initDone = false;
    var helloTimer = null;

    function post(msg) {
      msg.protocol = PROTOCOL;
      msg.cifId = env.cifId;
      parent.postMessage(msg, env.targetOrigin);
    }

    function call(method, args) {
      return new Promise(function (resolve, reject) {
        if (env.problem) {
          reject(new Error("Microsoft.CIFramework." + method + ": " + env.problem));
          return;
        }
        var bad = checkArgs(method, args);
        if (bad) {
          reject(new Error(bad));
          return;
        }
        var id = env.cifId + "-" + ++seq;
        var timer = win.setTimeout(function () {
          delete pending[id];
          reject(new Error("Microsoft.CIFramework." + method + ": no answer within " + TIMEOUT_MS / 1000 + " s"));
        }, TIMEOUT_MS);
        pending[id] = { resolve: resolve, reject: reject, timer: timer, method: method };
        post({ kind: "request", id: id, method: method, args: args });
      });
    }

    function onMessage(ev) {
      if (ev.origin !== env.targetOrigin || ev.source !== parent) return;
      var m = ev.data;
      if (!m || m.protocol !== PROTOCOL || m.cifId !== env.cifId) return;
      if (m.kind === "ready") {
        if (helloTimer !== null) {
          win.clearTimeout(helloTimer);
          helloTimer = null;
        }
        if (!initDone) {
          initDone = true;
          win.dispatchEvent(new win.CustomEvent("CIFInitDone"));
        }
        return;
      }
      if (m.kind === "response") {
        var p = pending[m.id];
        if (!p) return; // answered already, or timed out
        delete pending[m.id];
        win.clearTimeout(p.timer);
        if (m.ok) {
          var r = m.result;
          p.resolve(r === undefined || r === null ? "" : typeof r === "string" ? r : JSON.stringify(r));
        } else {
          var err = new Error((m.error && m.error.message) || "Microsoft.CIFramework." + p.method + " failed");
          if (m.error && m.error.code) err.code = m.error.code;
          p.reject(err);
        }
        return;
      }
      if (m.kind === "event" && typeof m.name === "string") {
        var list = (handlers[m.name.toLowerCase()] || []).slice();
        var data = typeof m.data === "string" ? m.data : JSON.stringify(m.data === undefined ? {} : m.data);
        for (var i = 0; i < list.length; i++) {
          try {
            list[i](data);
          } catch (e) {
            if (win.console) win.console.error("CIF handler " + m.name + " threw", e);
          }
        }
      }
    }

    function hello(triesLeft) {
      helloTimer = null;
      if (initDone || triesLeft <= 0) return;
      post({ kind: "hello" });
      helloTimer = win.setTimeout(function () {
        hello(triesLeft - 1);
      }, HELLO_EVERY_MS);
    }

    var api = {};
    Object.keys(METHODS).forEach(function (method) {
      api[method] = function () {
        return call(method, Array.prototype.slice.call(arguments));
      };
    });
    api.addHandler = function (name, fn) {
      if (typeof name !== "string" || typeof fn !== "function") {
        return Promise.reject(new Error("addHandler: expected an event name and a function"));
      }
      var key = name.toLowerCase();
      (handlers[key] = handlers[key] || []).push(fn);
      return Promise.resolve(true);
    };
    api.removeHandler = function (name, fn) {
      var key = String(name).toLowerCase();
      var list = handlers[key] || [];
      handlers[key] = list.filter(function (f) {
        return fn !== undefined && f !== fn;
      });
      return Promise.resolve(true);
    };

    if (!env.problem) {
      win.addEventListener("message", onMessage);
      hello(HELLO_TRIES);
    }
    return api;
  }

  function install(win, doc) {
    var script = doc.currentScript;
    if (!script || !script.dataset || !script.dataset.crmurl) {
      script = doc.querySelector('script[data-crmurl][src*="msdyn_ciLibrary"]') || doc.querySelector("script[data-crmurl]");
    }
    var crmurl = script && script.dataset ? script.dataset.crmurl : "";
    var cifId = (script && script.dataset && script.dataset.cifid) || "CIFMainLibrary";
    var problem = "";
    var targetOrigin = "";
    if (!crmurl) {
      problem = "the msdyn_ciLibrary.js script tag has no data-crmurl: set it to the Dynamics URL (scripts[].dataset.crmurl)";
    } else {
      try {
        targetOrigin = new URL(crmurl).origin;
      } catch (e) {
        problem = "data-crmurl " + JSON.stringify(crmurl) + " is not an absolute URL: set scripts[].dataset.crmurl to e.g. https://ORG.crm.dynamics.com";
      }
    }
    if (!problem && win.parent === win) {
      problem = "the widget is not inside a host page (no parent window): open the demo host page, not /widget";
    }
    if (problem && win.console) win.console.error("msdyn_ciLibrary.js: " + problem);
    win.Microsoft = win.Microsoft || {};
    win.Microsoft.CIFramework = createCIFramework({ win: win, targetOrigin: targetOrigin, cifId: cifId, problem: problem });
  }

  install(root, root.document);
})(window);
