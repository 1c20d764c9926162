package config

import (
	"reflect"
	"testing"
)

// withTelephony adds a telephony block (and extra scripts) to a config that
// is otherwise valid.
func withTelephony(block string, extraScripts ...string) string {
	list := `{"src": "https://contoso.crm6.dynamics.com/webresources/Widget/msdyn_ciLibrary.js", "dataset": {"crmurl": "https://contoso.crm6.dynamics.com", "cifid": "CIFMainLibrary"}}`
	for _, s := range extraScripts {
		list += `, {"src": "` + s + `"}`
	}
	cfg := `{"scripts": [` + list + `], ` + okEntities + `, "screenPop": {` + okDefault + `}`
	if block != "" {
		cfg += `, "telephony": ` + block
	}
	return cfg + `}`
}

const ipscapeBundle = "https://developer.onipscape.com/integrations/v8/dynamics/ips-dynamics-integration.v8.1.0.min.js"

func TestParseChecksTheTelephonySource(t *testing.T) {
	tests := []struct {
		name         string
		json         string
		wantErrors   []string
		wantWarnings []string
	}{
		{
			name:       "an unknown source with a near miss",
			json:       withTelephony(`{"source": "sipp"}`),
			wantErrors: []string{`telephony.source: "sipp" is not a telephony source (did you mean "sip"?)`},
		},
		{
			name:       "a source that is not a string",
			json:       withTelephony(`{"source": 1}`),
			wantErrors: []string{`telephony.source: expected a string, got 1 (put the value in double quotes: "1")`},
		},
		{
			name:       "no source",
			json:       withTelephony(`{}`),
			wantErrors: []string{`telephony.source: missing: the telephony block names where call events come from (add "source": one of webhook, simulator, sip, ipscape)`},
		},
		{
			name:       "sip without its server",
			json:       withTelephony(`{"source": "sip"}`),
			wantErrors: []string{`telephony.sip: missing: the sip source needs the SIP server the agents' softphones register to (add "sip": {"server": "wss://pbx.example.com:8089/ws", "domain": "pbx.example.com"})`},
		},
		{
			name: "plain ws to a remote host, and a domain with a scheme",
			json: withTelephony(`{"source": "sip", "sip": {"server": "ws://pbx.example.com:8088/ws", "domain": "sip:pbx.example.com"}}`),
			wantErrors: []string{
				`telephony.sip.server: "ws://pbx.example.com:8088/ws" is plain ws:// to a host that is not loopback (use wss:// with a certificate the agents' browsers trust (Dynamics is served over https, and browsers block ws:// from it))`,
				`telephony.sip.domain: "sip:pbx.example.com" is not a SIP domain (write a host name or IP address, such as pbx.example.com, without sip: or a port)`,
			},
		},
		{
			name:       "an http URL for the SIP server",
			json:       withTelephony(`{"source": "sip", "sip": {"server": "https://pbx.example.com/ws", "domain": "pbx.example.com"}}`),
			wantErrors: []string{`telephony.sip.server: "https://pbx.example.com/ws" is not a ws:// or wss:// URL (write the SIP server's WebSocket URL, such as wss://pbx.example.com:8089/ws)`},
		},
		{
			name:       "credentials in the server URL are refused, without echoing the password",
			json:       withTelephony(`{"source": "sip", "sip": {"server": "wss://agent:hunter2@pbx.example.com/ws", "domain": "pbx.example.com"}}`),
			wantErrors: []string{`telephony.sip.server: "wss://agent:xxxxx@pbx.example.com/ws" carries credentials (remove the user and password: each agent's SIP account is stored with the agent's login (ctibridge agent sip))`},
		},
		{
			name:       "a header name with a space, and a bad ICE URL",
			json:       withTelephony(`{"source": "sip", "sip": {"server": "wss://pbx.example.com/ws", "domain": "pbx.example.com", "headers": {"queue": "X Queue"}, "iceServers": [{"urls": "http://stun.example.com"}]}}`),
			wantErrors: []string{`telephony.sip.headers.queue: "X Queue" is not a header name (write a SIP header name such as X-Queue (letters, digits and -), or "" to read none)`, `telephony.sip.iceServers[0].urls[0]: "http://stun.example.com" is not an ICE server URL (write a stun:, stuns:, turn: or turns: URL)`},
		},
		{
			name:       "an unknown DTMF mode",
			json:       withTelephony(`{"source": "sip", "sip": {"server": "wss://pbx.example.com/ws", "domain": "pbx.example.com", "dtmf": "inband"}}`),
			wantErrors: []string{`telephony.sip.dtmf: "inband" is not a DTMF mode (write "rfc4733" (tones in the media, the default) or "info" (SIP INFO))`},
		},
		{
			name:       "ipscape without ipSCAPE's bundle",
			json:       withTelephony(`{"source": "ipscape"}`),
			wantErrors: []string{`telephony.source: is ipscape, but no script loads ipSCAPE's integration bundle (ips-dynamics-integration), which brings the CTI Adaptor and its events (add ipSCAPE's integration bundle to "scripts": {"src": "https://developer.onipscape.com/integrations/<version>/dynamics/ips-dynamics-integration.v<semantic-version>.min.js"})`},
		},
		{
			name:         "ipSCAPE's bundle with another source",
			json:         withTelephony(`{"source": "webhook"}`, ipscapeBundle),
			wantWarnings: []string{`telephony.source: is webhook: the ipSCAPE bundle in scripts is loaded, but its events are not taken (set "source": "ipscape" to take the adaptor's calls, or remove the bundle from "scripts")`},
		},
		{
			name:         "a sip block with another source",
			json:         withTelephony(`{"source": "webhook", "sip": {"server": "wss://pbx.example.com/ws", "domain": "pbx.example.com"}}`),
			wantWarnings: []string{`telephony.sip: is ignored: the source is "webhook" (set "source": "sip", or remove the sip block)`},
		},
		{
			name:         "an unknown key",
			json:         withTelephony(`{"source": "webhook", "sorce": "sip"}`),
			wantWarnings: []string{`telephony.sorce: unknown key "sorce" is ignored (did you mean "source"?)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs, warnings := parseProblems(t, tt.json)
			if !reflect.DeepEqual(nilIfEmpty(errs), nilIfEmpty(tt.wantErrors)) {
				t.Errorf("errors:\n%s\nwant:\n%s", lines(errs), lines(tt.wantErrors))
			}
			if !reflect.DeepEqual(nilIfEmpty(warnings), nilIfEmpty(tt.wantWarnings)) {
				t.Errorf("warnings:\n%s\nwant:\n%s", lines(warnings), lines(tt.wantWarnings))
			}
		})
	}
}

func TestParseReadsTheSIPSettings(t *testing.T) {
	cfg, err := Parse([]byte(withTelephony(`{"source": "sip", "sip": {"server": "ws://127.0.0.1:5066", "domain": "ctibridge.test",
		"headers": {"interactionId": "X-Asterisk-Uniqueid", "campaign": ""}, "dtmf": "info", "iceServers": [{"urls": ["turns:turn.example.com:443"], "username": "u", "credential": "c"}]}}`)))
	if err != nil {
		t.Fatal(err)
	}
	want := Telephony{Source: SourceSIP, SIP: SIPSettings{
		Server: "ws://127.0.0.1:5066", Domain: "ctibridge.test",
		Headers:    SIPHeaders{InteractionID: "X-Asterisk-Uniqueid", Queue: DefaultQueueHeader, Campaign: ""},
		ICEServers: []ICEServer{{URLs: []string{"turns:turn.example.com:443"}, Username: "u", Credential: "c"}},
		DTMF:       "info",
	}}
	if !reflect.DeepEqual(cfg.Telephony, want) {
		t.Errorf("telephony = %+v\nwant %+v", cfg.Telephony, want)
	}
	if cfg.EffectiveSource() != SourceSIP {
		t.Errorf("EffectiveSource = %q, want sip", cfg.EffectiveSource())
	}
}

func TestEffectiveSource(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"no telephony block", withTelephony(""), ""},
		{"ipSCAPE's bundle in the scripts", withTelephony("", ipscapeBundle), SourceIPScape},
		{"the bundle as the reference writes it, with placeholders", withTelephony("", "https://developer.onipscape.com/integrations/<version>/dynamics/ips-dynamics-integration.v<semantic-version>.min.js"), SourceIPScape},
		{"a source named beside the bundle wins", withTelephony(`{"source": "webhook"}`, ipscapeBundle), SourceWebhook},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.EffectiveSource(); got != tt.want {
				t.Errorf("EffectiveSource = %q, want %q", got, tt.want)
			}
			if cfg.Telephony.SIP.Headers.InteractionID != DefaultInteractionIDHeader {
				t.Errorf("default interaction id header = %q", cfg.Telephony.SIP.Headers.InteractionID)
			}
		})
	}
}
