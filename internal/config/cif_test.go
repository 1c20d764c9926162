package config

import (
	"reflect"
	"strings"
	"testing"
)

// withCIF adds a cif block to a config that is otherwise valid.
func withCIF(block string) string {
	cfg := withTelephony("")
	return strings.TrimSuffix(cfg, "}") + `, "cif": ` + block + `}`
}

func TestParseChecksTheCIFBlock(t *testing.T) {
	tests := []struct {
		name         string
		json         string
		wantErrors   []string
		wantWarnings []string
		want         CIF
	}{
		{
			name: "multi-session with both templates and a presence mapping",
			json: withCIF(`{"sessions": "multi", "sessionTemplate": "new_ctibridge_call", "notificationTemplate": "new_ctibridge_incoming_call", "presence": {"Paused": "Do not disturb"}}`),
			want: CIF{Sessions: SessionsMulti, SessionTemplate: "new_ctibridge_call", NotificationTemplate: "new_ctibridge_incoming_call", Presence: map[string]string{"Paused": "Do not disturb"}},
		},
		{
			name: "multi-session without its templates",
			json: withCIF(`{"sessions": "multi"}`),
			wantErrors: []string{
				`cif.sessionTemplate: missing: multi-session needs a session template (add "sessionTemplate": the unique name of the session template calls open in, e.g. "new_ctibridge_call")`,
				`cif.notificationTemplate: missing: multi-session needs a notification template (add "notificationTemplate": the unique name of the notification template calls raise, e.g. "new_ctibridge_incoming_call")`,
			},
		},
		{
			name:       "an unknown mode and a template name with spaces",
			json:       withCIF(`{"sessions": "many", "sessionTemplate": "ctibridge call", "notificationTemplate": "new_n"}`),
			wantErrors: []string{`cif.sessions: "many" is not a session mode (use one of auto, single, multi)`, `cif.sessionTemplate: "ctibridge call" is not a template unique name (write the template's unique name as Customer Service admin center shows it, e.g. new_ctibridge_call)`},
		},
		{
			name:       "an empty presence text",
			json:       withCIF(`{"sessions": "single", "presence": {"Ready": " "}}`),
			wantErrors: []string{`cif.presence.Ready: " " is not a presence text (write the presence text exactly as the app names it, e.g. Available)`},
		},
		{
			name:         "auto without templates works single-session, and says so",
			json:         withCIF(`{}`),
			wantWarnings: []string{`cif: sessions is auto without both templates: the widget stays single-session even in Customer Service workspace (add "sessionTemplate" and "notificationTemplate", or set "sessions": "single")`},
			want:         CIF{Sessions: SessionsAuto},
		},
		{
			name: "no cif block: auto, without a warning",
			json: withTelephony(""),
			want: CIF{Sessions: SessionsAuto},
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
			if len(tt.wantErrors) == 0 {
				cfg, err := Parse([]byte(tt.json))
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(cfg.CIF, tt.want) {
					t.Errorf("CIF = %+v, want %+v", cfg.CIF, tt.want)
				}
			}
		})
	}
}
