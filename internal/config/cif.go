package config

import (
	"regexp"
	"strings"
)

// CIF session modes (the cif block's "sessions").
const (
	// SessionsAuto: the widget detects whether the app is multi-session (a
	// CIF 2.0 library whose canCreateSession answers true) and works
	// single-session where it cannot tell.
	SessionsAuto = "auto"
	// SessionsSingle: today's behaviour, one pop in the app's page, as in
	// CIF 1.0 or a single-session app such as Sales Hub.
	SessionsSingle = "single"
	// SessionsMulti: each accepted call gets its own CIF 2.0 session in
	// Customer Service workspace.
	SessionsMulti = "multi"
)

// SessionModes lists the cif block's session modes.
var SessionModes = []string{SessionsAuto, SessionsSingle, SessionsMulti}

// CIF is the cif block, a ctibridge extension: how the widget uses CIF 2.0's
// multi-session APIs (docs/deploy.md, "Multi-session: CIF 2.0").
type CIF struct {
	// Sessions is one of SessionModes; "auto" when the block is absent.
	Sessions string `json:"sessions"`
	// SessionTemplate and NotificationTemplate are the unique names of the
	// Customer Service session and notification templates createSession
	// and notifyEvent open.
	SessionTemplate      string `json:"sessionTemplate,omitempty"`
	NotificationTemplate string `json:"notificationTemplate,omitempty"`
	// Presence maps agent states to the app's presence texts: "Ready",
	// "Paused", and "busy" (a call in progress). Missing keys keep the
	// defaults Available, Busy and Busy.
	Presence map[string]string `json:"presence,omitempty"`
}

var cifKeys = []string{"sessions", "sessionTemplate", "notificationTemplate", "presence"}

var presenceKeys = []string{"Ready", "Paused", "busy"}

// templateName is a Dataverse unique name: a publisher prefix, letters,
// digits and underscores.
var templateName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,99}$`)

func (r *reader) cif(n *node, path string) {
	obj, ok := r.object(n, path, `{"sessions": "multi", "sessionTemplate": "new_ctibridge_call", "notificationTemplate": "new_ctibridge_incoming_call"}`)
	if !ok {
		return
	}
	keys := r.keys(obj, path, cifKeys)
	c := &r.cfg.CIF
	badMode := false
	if v := keys["sessions"]; v != nil {
		at := joinKey(path, "sessions")
		if s, ok := r.str(v, at); ok {
			switch s {
			case SessionsAuto, SessionsSingle, SessionsMulti:
				c.Sessions = s
			default:
				badMode = true
				r.errorf(at, "use one of "+strings.Join(SessionModes, ", "), "%s is not a session mode", quoteShort(s))
			}
		}
	}
	for _, k := range []struct {
		key  string
		dest *string
	}{{"sessionTemplate", &c.SessionTemplate}, {"notificationTemplate", &c.NotificationTemplate}} {
		v := keys[k.key]
		if v == nil {
			continue
		}
		at := joinKey(path, k.key)
		if s, ok := r.str(v, at); ok {
			if !templateName.MatchString(s) {
				r.errorf(at, "write the template's unique name as Customer Service admin center shows it, e.g. new_ctibridge_call", "%s is not a template unique name", quoteShort(s))
				continue
			}
			*k.dest = s
		}
	}
	if v := keys["presence"]; v != nil {
		at := joinKey(path, "presence")
		if pobj, ok := r.object(v, at, `{"Ready": "Available", "Paused": "Busy", "busy": "Busy"}`); ok {
			pk := r.keys(pobj, at, presenceKeys)
			c.Presence = map[string]string{}
			for _, k := range presenceKeys {
				if pv := pk[k]; pv != nil {
					kat := joinKey(at, k)
					if s, ok := r.str(pv, kat); ok {
						if strings.TrimSpace(s) == "" || len(s) > 100 {
							r.errorf(kat, "write the presence text exactly as the app names it, e.g. Available", "%s is not a presence text", quoteShort(s))
							continue
						}
						c.Presence[k] = s
					}
				}
			}
		}
	}
	if c.Sessions == SessionsMulti {
		if c.SessionTemplate == "" && keys["sessionTemplate"] == nil {
			r.errorf(joinKey(path, "sessionTemplate"), `add "sessionTemplate": the unique name of the session template calls open in, e.g. "new_ctibridge_call"`, "missing: multi-session needs a session template")
		}
		if c.NotificationTemplate == "" && keys["notificationTemplate"] == nil {
			r.errorf(joinKey(path, "notificationTemplate"), `add "notificationTemplate": the unique name of the notification template calls raise, e.g. "new_ctibridge_incoming_call"`, "missing: multi-session needs a notification template")
		}
	}
	if c.Sessions == SessionsAuto && !badMode && (c.SessionTemplate == "" || c.NotificationTemplate == "") {
		r.warnf(path, `add "sessionTemplate" and "notificationTemplate", or set "sessions": "single"`, "sessions is auto without both templates: the widget stays single-session even in Customer Service workspace")
	}
}
