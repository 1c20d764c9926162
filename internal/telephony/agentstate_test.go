package telephony

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseAgentState(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    AgentState
		wantErr string
	}{
		{name: "the protocol spelling", in: "OnCall", want: AgentOnCall},
		{name: "ipSCAPE's display name", in: "On call", want: AgentOnCall},
		{name: "upper snake case", in: "ON_WRAP", want: AgentOnWrap},
		{name: "ipSCAPE's Connection is logged out", in: "Connection", want: AgentLoggedOut},
		{name: "logged out with a space", in: "Logged out", want: AgentLoggedOut},
		{name: "Available is Ready", in: "available", want: AgentReady},
		{name: "American spelling of dialling", in: "Dialing", want: AgentDialling},
		{name: "surrounding spaces", in: "  Paused ", want: AgentPaused},
		{name: "an unknown state lists the known ones", in: "Busy", wantErr: `unknown agent state "Busy": use one of LoggedOut, Paused, Ready, Dialling, OnCall, OnWrap`},
		{name: "empty", in: "", wantErr: `unknown agent state ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAgentState(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseAgentState(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			if !got.Valid() {
				t.Errorf("%q is not Valid", got)
			}
		})
	}
}

func TestAgentStateJSON(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    AgentState
		wantErr bool
	}{
		{name: "decodes any accepted spelling", json: `{"state":"On wrap"}`, want: AgentOnWrap},
		{name: "refuses an unknown state", json: `{"state":"Lunch"}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v struct{ State AgentState }
			err := json.Unmarshal([]byte(tt.json), &v)
			if (err != nil) != tt.wantErr || v.State != tt.want {
				t.Errorf("got %q, %v; want %q, error %v", v.State, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestAgentStateValid(t *testing.T) {
	tests := []struct {
		name  string
		state AgentState
		want  bool
	}{
		{name: "every listed state", state: AgentOnWrap, want: true},
		{name: "a display spelling is not exact", state: "On call", want: false},
		{name: "empty", state: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.state.Valid(); got != tt.want {
				t.Errorf("Valid(%q) = %v, want %v", tt.state, got, tt.want)
			}
		})
	}
}
