package config

import (
	"fmt"
	"net/url"
	"strings"
)

// Telephony sources: where call events come from (docs/telephony.md).
const (
	// SourceWebhook: the platform POSTs signed events to /api/v1/events.
	SourceWebhook = "webhook"
	// SourceSimulator: the in-process call simulator of the demo and tests.
	SourceSimulator = "simulator"
	// SourceSIP: the widget's SIP/WebRTC softphone, registered to the
	// contact centre's SIP server, reports the calls it rings and places.
	SourceSIP = "sip"
	// SourceIPScape: ipSCAPE's CTI Adaptor in the panel reports its calls
	// through ipSCAPE's Web Client.
	SourceIPScape = "ipscape"
)

// Sources lists every telephony source, in the order documentation shows them.
var Sources = []string{SourceWebhook, SourceSimulator, SourceSIP, SourceIPScape}

// IsBrowserSource reports whether events of source come from the agent's
// browser, over the widget's socket, rather than from the server's side.
func IsBrowserSource(source string) bool { return source == SourceSIP || source == SourceIPScape }

// Default SIP headers a PBX adds for the interaction id, the queue and the
// campaign (docs/telephony.md lists what Asterisk, FreeSWITCH and Kamailio
// send and how to map them).
const (
	DefaultInteractionIDHeader = "X-Interaction-Id"
	DefaultQueueHeader         = "X-Queue"
	DefaultCampaignHeader      = "X-Campaign"
)

// Telephony is the telephony block, a ctibridge extension.
type Telephony struct {
	// Source is one of Sources, or "" when the config names none (the
	// server then takes its --telephony setting, or ipscape when Scripts
	// list ipSCAPE's integration bundle: see EffectiveSource).
	Source string
	SIP    SIPSettings
}

// SIPSettings are what every agent's softphone shares; each agent's account
// (user, password) is stored with the agent's login.
type SIPSettings struct {
	// Server is the SIP server's WebSocket URL (wss://, or ws:// on loopback).
	Server string
	// Domain is the host of the agents' SIP URIs (sip:USER@DOMAIN).
	Domain string
	// Headers name the SIP headers that carry the interaction id, the queue
	// and the campaign.
	Headers SIPHeaders
	// ICEServers are RTCIceServer objects (STUN/TURN) passed to the browser
	// as written; empty means host candidates only.
	ICEServers []ICEServer
	// DTMF is how the softphone sends tones: "rfc4733" in the media (the
	// default, WebRTC's), or "info" as SIP INFO for PBXs set up for it.
	DTMF string
}

// SIPHeaders names the SIP headers a PBX adds to the calls it sends.
type SIPHeaders struct {
	InteractionID string `json:"interactionId"`
	Queue         string `json:"queue"`
	Campaign      string `json:"campaign"`
}

// ICEServer is one RTCIceServer.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// EffectiveSource is the source the config asks for: its telephony.source,
// else ipscape when the scripts load ipSCAPE's integration bundle, else "".
func (c *Config) EffectiveSource() string {
	if c.Telephony.Source != "" {
		return c.Telephony.Source
	}
	if c.LoadsIPScapeBundle() {
		return SourceIPScape
	}
	return ""
}

// LoadsIPScapeBundle reports whether the scripts list ipSCAPE's Dynamics
// integration bundle, which brings ipSCAPE's CTI Adaptor into the panel.
func (c *Config) LoadsIPScapeBundle() bool {
	for _, s := range c.Scripts {
		if IsIPScapeBundle(s.Src) {
			return true
		}
	}
	return false
}

// IsIPScapeBundle reports whether src is ipSCAPE's integration bundle, as the
// reference names it (.../dynamics/ips-dynamics-integration.vX.min.js).
func IsIPScapeBundle(src string) bool {
	return strings.Contains(src, "ips-dynamics-integration")
}

var telephonyKeys = []string{"source", "sip"}

var sipKeys = []string{"server", "domain", "headers", "iceServers", "dtmf"}

var sipHeaderKeys = []string{"interactionId", "queue", "campaign"}

func (r *reader) telephony(n *node, path string) {
	obj, ok := r.object(n, path, `{"source": "sip", "sip": {"server": "wss://pbx.example.com:8089/ws", "domain": "pbx.example.com"}}`)
	if !ok {
		return
	}
	keys := r.keys(obj, path, telephonyKeys)
	t := &r.cfg.Telephony
	sourcePath := joinKey(path, "source")
	if v := keys["source"]; v == nil {
		r.errorf(sourcePath, `add "source": one of `+strings.Join(Sources, ", "), "missing: the telephony block names where call events come from")
	} else if s, ok := r.str(v, sourcePath); ok {
		switch s {
		case SourceWebhook, SourceSimulator, SourceSIP, SourceIPScape:
			t.Source = s
		default:
			fix := "use one of " + strings.Join(Sources, ", ")
			if near := suggest(s, Sources); near != "" {
				fix = fmt.Sprintf("did you mean %q?", near)
			}
			r.errorf(sourcePath, fix, "%s is not a telephony source", quoteShort(s))
		}
	}
	t.SIP.Headers = SIPHeaders{InteractionID: DefaultInteractionIDHeader, Queue: DefaultQueueHeader, Campaign: DefaultCampaignHeader}
	sipPath := joinKey(path, "sip")
	if v := keys["sip"]; v != nil {
		r.sip(v, sipPath)
	}
	if t.Source == SourceSIP && keys["sip"] == nil {
		r.errorf(sipPath, `add "sip": {"server": "wss://pbx.example.com:8089/ws", "domain": "pbx.example.com"}`,
			"missing: the sip source needs the SIP server the agents' softphones register to")
	}
	if t.Source != SourceSIP && keys["sip"] != nil && t.Source != "" {
		r.warnf(sipPath, `set "source": "sip", or remove the sip block`, "is ignored: the source is %q", t.Source)
	}
}

func (r *reader) sip(n *node, path string) {
	obj, ok := r.object(n, path, `{"server": "wss://pbx.example.com:8089/ws", "domain": "pbx.example.com"}`)
	if !ok {
		return
	}
	keys := r.keys(obj, path, sipKeys)
	s := &r.cfg.Telephony.SIP
	serverPath := joinKey(path, "server")
	if v := keys["server"]; v == nil {
		r.errorf(serverPath, `add "server": "wss://pbx.example.com:8089/ws"`, "missing: the WebSocket URL of the SIP server")
	} else if server, ok := r.str(v, serverPath); ok {
		s.Server = r.sipServer(server, serverPath)
	}
	domainPath := joinKey(path, "domain")
	if v := keys["domain"]; v == nil {
		r.errorf(domainPath, `add "domain": "pbx.example.com"`, "missing: the host of the agents' SIP addresses (sip:1001@DOMAIN)")
	} else if domain, ok := r.str(v, domainPath); ok {
		if !isSIPHost(domain) {
			r.errorf(domainPath, "write a host name or IP address, such as pbx.example.com, without sip: or a port",
				"%s is not a SIP domain", quoteShort(domain))
		} else {
			s.Domain = domain
		}
	}
	if v := keys["headers"]; v != nil {
		r.sipHeaders(v, joinKey(path, "headers"))
	}
	if v := keys["iceServers"]; v != nil {
		s.ICEServers = r.iceServers(v, joinKey(path, "iceServers"))
	}
	s.DTMF = "rfc4733"
	if v := keys["dtmf"]; v != nil {
		at := joinKey(path, "dtmf")
		if mode, ok := r.str(v, at); ok {
			switch mode {
			case "rfc4733", "info":
				s.DTMF = mode
			default:
				r.errorf(at, `write "rfc4733" (tones in the media, the default) or "info" (SIP INFO)`, "%s is not a DTMF mode", quoteShort(mode))
			}
		}
	}
}

// sipServer checks the softphones' WebSocket URL: wss, since browsers refuse
// ws from an https page such as Dynamics, except on loopback (tests, demo).
func (r *reader) sipServer(server, path string) string {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" || (u.Scheme != "wss" && u.Scheme != "ws") {
		r.errorf(path, "write the SIP server's WebSocket URL, such as wss://pbx.example.com:8089/ws",
			"%s is not a ws:// or wss:// URL", quoteShort(server))
		return ""
	}
	if u.Scheme == "ws" && !isLoopback(u.Hostname()) {
		r.errorf(path, "use wss:// with a certificate the agents' browsers trust (Dynamics is served over https, and browsers block ws:// from it)",
			"%s is plain ws:// to a host that is not loopback", quoteShort(server))
		return ""
	}
	if u.User != nil {
		r.errorf(path, "remove the user and password: each agent's SIP account is stored with the agent's login (ctibridge agent sip)",
			"%s carries credentials", quoteShort(u.Redacted()))
		return ""
	}
	return server
}

func (r *reader) sipHeaders(n *node, path string) {
	obj, ok := r.object(n, path, `{"interactionId": "X-Interaction-Id", "queue": "X-Queue", "campaign": "X-Campaign"}`)
	if !ok {
		return
	}
	keys := r.keys(obj, path, sipHeaderKeys)
	h := &r.cfg.Telephony.SIP.Headers
	for _, f := range []struct {
		key string
		dst *string
	}{{"interactionId", &h.InteractionID}, {"queue", &h.Queue}, {"campaign", &h.Campaign}} {
		v := keys[f.key]
		if v == nil {
			continue
		}
		at := joinKey(path, f.key)
		name, ok := r.str(v, at)
		if !ok {
			continue
		}
		if !isHeaderName(name) {
			r.errorf(at, "write a SIP header name such as X-Queue (letters, digits and -), or \"\" to read none",
				"%s is not a header name", quoteShort(name))
			continue
		}
		*f.dst = name
	}
}

func (r *reader) iceServers(n *node, path string) []ICEServer {
	items, ok := r.list(n, path, `[{"urls": ["turns:turn.example.com:443"], "username": "...", "credential": "..."}]`)
	if !ok {
		return nil
	}
	out := make([]ICEServer, 0, len(items))
	for i, item := range items {
		at := joinIndex(path, i)
		obj, ok := r.object(item, at, `{"urls": ["stun:stun.example.com:3478"]}`)
		if !ok {
			continue
		}
		keys := r.keys(obj, at, []string{"urls", "username", "credential"})
		var s ICEServer
		urlsPath := joinKey(at, "urls")
		switch v := keys["urls"]; {
		case v == nil:
			r.errorf(urlsPath, `add "urls": ["stun:stun.example.com:3478"]`, "missing")
		case v.kind == kindString:
			s.URLs = []string{v.text}
		default:
			list, ok := r.list(v, urlsPath, `["turn:turn.example.com:3478"]`)
			if !ok {
				break
			}
			for j, u := range list {
				if text, ok := r.str(u, joinIndex(urlsPath, j)); ok {
					s.URLs = append(s.URLs, text)
				}
			}
		}
		for j, u := range s.URLs {
			scheme, _, _ := strings.Cut(u, ":")
			if scheme != "stun" && scheme != "stuns" && scheme != "turn" && scheme != "turns" {
				r.errorf(joinIndex(urlsPath, j), "write a stun:, stuns:, turn: or turns: URL", "%s is not an ICE server URL", quoteShort(u))
			}
		}
		if v := keys["username"]; v != nil {
			s.Username, _ = r.str(v, joinKey(at, "username"))
		}
		if v := keys["credential"]; v != nil {
			s.Credential, _ = r.str(v, joinKey(at, "credential"))
		}
		out = append(out, s)
	}
	return out
}

// checkTelephony checks the telephony source against the scripts, once
// both are read.
func (r *reader) checkTelephony() {
	bundle := r.cfg.LoadsIPScapeBundle()
	switch source := r.cfg.Telephony.Source; {
	case source == SourceIPScape && !bundle:
		r.errorf("telephony.source", `add ipSCAPE's integration bundle to "scripts": {"src": "https://developer.onipscape.com/integrations/<version>/dynamics/ips-dynamics-integration.v<semantic-version>.min.js"}`,
			"is ipscape, but no script loads ipSCAPE's integration bundle (ips-dynamics-integration), which brings the CTI Adaptor and its events")
	case source != "" && source != SourceIPScape && bundle:
		r.warnf("telephony.source", `set "source": "ipscape" to take the adaptor's calls, or remove the bundle from "scripts"`,
			"is %s: the ipSCAPE bundle in scripts is loaded, but its events are not taken", source)
	}
}

// isSIPHost accepts a DNS name, an IPv4 address or a bracketed IPv6 one.
func isSIPHost(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return strings.Count(s, ":") >= 2
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// isHeaderName accepts "" (read no header) and RFC 3261 token characters
// that header names use in practice.
func isHeaderName(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
