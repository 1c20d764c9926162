package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/sandbox"
	"github.com/ctibridge/ctibridge/internal/telephony"
)

// startTestDemo runs a demo whose calls wait for each command, until the
// test ends.
func startTestDemo(t *testing.T) *Demo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d, err := Start(ctx, Options{
		Listen: "127.0.0.1:0",
		Dir:    t.TempDir(),
		Timing: &telephony.Timing{},
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		cancel()
		t.Fatalf("start the demo: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("the demo stopped with: %v", err)
		}
	})
	// Serve starts the simulator; calls are refused until it runs. Logging
	// out an agent nobody uses changes nothing and tells when it does.
	deadline := time.Now().Add(10 * time.Second)
	for errors.Is(d.Server.Simulator.SetAgentState(ctx, "probe", telephony.AgentLoggedOut, ""), telephony.ErrNotRunning) {
		if time.Now().After(deadline) {
			t.Fatal("the demo's simulator did not start within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return d
}

// agentCall is GET /demo/api/agents/{id}/call.
type agentCall struct {
	Call *telephony.CallStatus `json:"call"`
	Last *telephony.CallStatus `json:"last"`
}

func getAgentCall(t *testing.T, d *Demo, agentID string) agentCall {
	t.Helper()
	res, err := http.Get(d.BaseURL + "/demo/api/agents/" + agentID + "/call")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out agentCall
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET the agent's call: HTTP %d", res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("GET the agent's call: %v", err)
	}
	return out
}

func placeCall(t *testing.T, d *Demo, agentID, scenario string) string {
	t.Helper()
	body, _ := json.Marshal(placeCallRequest{AgentID: agentID, Scenario: scenario})
	res, err := http.Post(d.BaseURL+"/demo/api/calls", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var placed struct {
		InteractionID string `json:"interactionId"`
	}
	if err := json.NewDecoder(res.Body).Decode(&placed); err != nil || res.StatusCode != http.StatusOK || placed.InteractionID == "" {
		t.Fatalf("place %s: HTTP %d, %+v, %v", scenario, res.StatusCode, placed, err)
	}
	return placed.InteractionID
}

func TestDemoLeadsAreTheSeededRecords(t *testing.T) {
	d := startTestDemo(t)
	var seededNames []string
	for _, n := range sandbox.DemoNumbers {
		for _, r := range n.Records {
			seededNames = append(seededNames, r.Name)
		}
	}
	tests := []struct {
		name     string
		agentID  string
		scenario string
		// record is the one record the scenario's number finds; nil for a
		// number no record holds.
		record *sandbox.DemoRecord
		phase  string
	}{
		{name: "a preview of a known contact is that contact", agentID: "t1", scenario: "preview-single",
			record: &sandbox.DemoNumberByKey("single-contact").Records[0], phase: telephony.PhasePreviewing},
		{name: "an outbound campaign lead is the seeded lead", agentID: "t2", scenario: "outbound-lead",
			record: &sandbox.DemoNumberByKey("lead-match").Records[0], phase: telephony.PhaseConnected},
		{name: "a preview of a new prospect is nobody the CRM holds", agentID: "t3", scenario: "preview-none", phase: telephony.PhasePreviewing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := placeCall(t, d, tt.agentID, tt.scenario)
			got := getAgentCall(t, d, tt.agentID).Call
			if got == nil || got.InteractionID != id || got.Phase != tt.phase {
				t.Fatalf("the agent's call is %+v, want %s %s", got, id, tt.phase)
			}
			var scenario Scenario
			for _, s := range Scenarios {
				if s.ID == tt.scenario {
					scenario = s
				}
			}
			if want := sandbox.DemoNumberByKey(scenario.DemoNumber).E164; tt.record != nil && got.Number != want {
				t.Errorf("the lead's number is %s, want the demo number %s", got.Number, want)
			}
			switch {
			case tt.record != nil && got.LeadName != tt.record.Name:
				t.Errorf("the lead is %q, want %q, whose %s record the pop opens", got.LeadName, tt.record.Name, tt.record.Entity)
			case tt.record == nil && (got.LeadName == "" || slices.Contains(seededNames, got.LeadName)):
				t.Errorf("the lead is %q, want a generated name that no demo record has", got.LeadName)
			}
		})
	}
}

func TestDemoAgentCallFollowsASkippedPreview(t *testing.T) {
	d := startTestDemo(t)
	if got := getAgentCall(t, d, "1001"); got.Call != nil || got.Last != nil {
		t.Fatalf("before any call: %+v, want no call and no last call", got)
	}
	id := placeCall(t, d, "1001", "preview-single")
	// The agent skips the preview in the widget: the server wraps it.
	if err := d.Server.Simulator.Wrap(context.Background(), "1001", id, "5", ""); err != nil {
		t.Fatal(err)
	}
	got := getAgentCall(t, d, "1001")
	if got.Call != nil {
		t.Errorf("after the skip the agent's call is %+v, want none", got.Call)
	}
	if got.Last == nil || got.Last.InteractionID != id || got.Last.Phase != telephony.PhaseSkipped || got.Last.WrapCode != "5" {
		t.Errorf("after the skip the last call is %+v, want %s skipped with wrap code 5", got.Last, id)
	}
}

// A newcomer reads a WARN line as "broken": the demo's own config must load
// without a single warning.
func TestTheBundledConfigHasNoWarnings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, bytes.ReplaceAll(demoConfig, []byte("DEMO_ORIGIN"), []byte("http://127.0.0.1:8080")), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("the bundled demo config does not load: %v", err)
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("the bundled demo config warns: %v", cfg.Warnings)
	}
}

// An agent who logged out of the widget would not see a call's pop, and its
// activity would be written related to nothing: the simulator presents it
// no more calls.
func TestALoggedOutAgentGetsNoCalls(t *testing.T) {
	d := startTestDemo(t)
	agent := Agents[0]
	body, _ := json.Marshal(map[string]string{"agentId": agent.ID, "pin": agent.PIN})
	res, err := http.Post(d.BaseURL+"/api/v1/sessions", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		Token string `json:"token"`
	}
	json.NewDecoder(res.Body).Decode(&login)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || login.Token == "" {
		t.Fatalf("log in as %s: HTTP %d", agent.ID, res.StatusCode)
	}
	ctx := context.Background()
	if err := d.Server.Simulator.SetAgentState(ctx, agent.ID, telephony.AgentReady, ""); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodDelete, d.BaseURL+"/api/v1/sessions", nil)
	req.Header.Set("Authorization", "Bearer "+login.Token)
	if res, err = http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("log out: %v %v", res, err)
	}
	res.Body.Close()

	deadline := time.Now().Add(5 * time.Second)
	for {
		state, _ := d.Server.Simulator.StateOf(agent.ID)
		if state == telephony.AgentLoggedOut {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the widget's logout the simulator shows agent %s %s, want LoggedOut", agent.ID, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
	body, _ = json.Marshal(placeCallRequest{AgentID: agent.ID, Scenario: "inbound-single"})
	res, err = http.Post(d.BaseURL+"/demo/api/calls", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusConflict || !bytes.Contains(msg, []byte("logged out")) {
		t.Errorf("a call for the logged-out agent = HTTP %d %s, want 409 saying the agent is logged out", res.StatusCode, msg)
	}
}

// Once the agent has created a contact for the unknown caller, the next
// unknown caller must still be unknown: each call of a "no-match" scenario
// has a number of its own, which no seeded record holds.
func TestUnknownCallersHaveANewNumberEachCall(t *testing.T) {
	d := startTestDemo(t)
	seeded := map[string]bool{}
	for _, n := range sandbox.DemoNumbers {
		seeded[n.E164] = true
	}
	seen := map[string]bool{}
	for _, scenario := range []string{"inbound-none", "preview-none", "inbound-none"} {
		id := placeCall(t, d, "1001", scenario)
		call := getAgentCall(t, d, "1001").Call
		if call == nil || call.Number == "" || seen[call.Number] || seeded[call.Number] && call.Number != sandbox.DemoNumberByKey("no-match").E164 {
			t.Fatalf("%s: call %+v, want a number of its own (earlier: %v)", scenario, call, seen)
		}
		seen[call.Number] = true
		if err := d.Server.Simulator.Wrap(context.Background(), "1001", id, "5", ""); err != nil {
			t.Fatal(err)
		}
	}
}
