package telephony

import (
	"fmt"
	"strings"
)

// AgentState is an agent's state on the telephony platform, after the states
// ipSCAPE's agent adaptor shows (Connection, Paused, Ready, Dialling, On call,
// On wrap). The values are the widget protocol's (docs/widget-protocol.md).
type AgentState string

// Agent states.
const (
	// AgentLoggedOut: not connected to the platform (ipSCAPE's "Connection").
	AgentLoggedOut AgentState = "LoggedOut"
	// AgentPaused: connected but not offered queue or campaign calls; manual
	// calls are still allowed.
	AgentPaused AgentState = "Paused"
	// AgentReady: available for inbound, outbound and preview calls.
	AgentReady AgentState = "Ready"
	// AgentDialling: an outbound, preview or manual call is being placed.
	AgentDialling AgentState = "Dialling"
	// AgentOnCall: connected to a customer.
	AgentOnCall AgentState = "OnCall"
	// AgentOnWrap: the call ended; the agent is wrapping up.
	AgentOnWrap AgentState = "OnWrap"
)

// AgentStates lists every agent state, in the order documentation shows them.
var AgentStates = []AgentState{AgentLoggedOut, AgentPaused, AgentReady, AgentDialling, AgentOnCall, AgentOnWrap}

// agentStateAliases maps a folded spelling (lower case, no spaces, dashes or
// underscores) to a state, so platforms may send ipSCAPE's display names
// ("On call", "Available") or other common spellings.
var agentStateAliases = map[string]AgentState{
	"loggedout":  AgentLoggedOut,
	"connection": AgentLoggedOut,
	"offline":    AgentLoggedOut,
	"paused":     AgentPaused,
	"ready":      AgentReady,
	"available":  AgentReady,
	"dialling":   AgentDialling,
	"dialing":    AgentDialling,
	"oncall":     AgentOnCall,
	"onwrap":     AgentOnWrap,
	"wrapup":     AgentOnWrap,
}

// ParseAgentState reads an agent state. Case, spaces, dashes and underscores
// are ignored, and ipSCAPE's display names are accepted: "On call", "ON_CALL"
// and "OnCall" are all AgentOnCall, "Available" is AgentReady and
// "Connection" is AgentLoggedOut.
func ParseAgentState(s string) (AgentState, error) {
	folded := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '_':
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(s)))
	if st, ok := agentStateAliases[folded]; ok {
		return st, nil
	}
	return "", fmt.Errorf("unknown agent state %q: use one of %s", s, agentStateList())
}

// Valid reports whether s is one of AgentStates, spelled exactly.
func (s AgentState) Valid() bool {
	for _, st := range AgentStates {
		if s == st {
			return true
		}
	}
	return false
}

// String returns the state's protocol spelling.
func (s AgentState) String() string { return string(s) }

// UnmarshalText parses the state with ParseAgentState, so JSON documents may
// use any spelling it accepts.
func (s *AgentState) UnmarshalText(text []byte) error {
	st, err := ParseAgentState(string(text))
	if err != nil {
		return err
	}
	*s = st
	return nil
}

// agentStateList is "LoggedOut, Paused, Ready, Dialling, OnCall, OnWrap".
func agentStateList() string {
	names := make([]string, len(AgentStates))
	for i, st := range AgentStates {
		names[i] = string(st)
	}
	return strings.Join(names, ", ")
}
