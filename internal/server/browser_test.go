package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/agent"
)

// sipConfig is the sample config with the SIP softphone as its telephony
// source.
func sipConfig(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(sampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["telephony"] = map[string]any{"source": "sip", "sip": map[string]any{
		"server": "ws://127.0.0.1:5066", "domain": "ctibridge.test", "headers": map[string]any{"queue": "X-Queue-Name"},
	}}
	out, _ := json.Marshal(cfg)
	path := filepath.Join(t.TempDir(), "sip.json")
	os.WriteFile(path, out, 0o600)
	return path
}

// loginAs returns a session token for agentID, creating its login.
func (h *harness) loginAs(agentID, pin string) string {
	h.t.Helper()
	if err := h.srv.Creds.Set(context.Background(), agentID, pin, ""); err != nil {
		h.t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", h.url+"/api/v1/sessions", strings.NewReader(fmt.Sprintf(`{"agentId":%q,"pin":%q}`, agentID, pin)))
	status, body := h.do(req)
	if status != http.StatusOK {
		h.t.Fatalf("login %s: %d %s", agentID, status, body)
	}
	var out struct{ Token string }
	json.Unmarshal([]byte(body), &out)
	return out.Token
}

// browserEvent is a telephonyEvent widget message with ref, whose event
// claims agentId "9999": the server must ignore that.
func browserEvent(ref, id, typ, ix, callType string) string {
	return fmt.Sprintf(`{"type":"telephonyEvent","ref":%q,"event":{"id":%q,"type":%q,"timestamp":%q,"agentId":"9999","interaction":{"agentInteractionId":%q,"callType":%q,"activity":{"customerCli":"+61299990000","queueName":"Sales"}}}}`,
		ref, id, typ, time.Now().UTC().Format(time.RFC3339Nano), ix, callType)
}

// reply returns the widget's next ack or error, skipping other messages.
func (w *widget) reply() map[string]any {
	w.t.Helper()
	for {
		m := w.nextAny()
		if m["type"] == "ack" || m["type"] == "error" {
			return m
		}
	}
}

func (w *widget) nextAny() map[string]any {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, data, err := w.ws.Read(ctx)
	if err != nil {
		w.t.Fatalf("waiting for a message: %v", err)
	}
	var m map[string]any
	json.Unmarshal(data, &m)
	return m
}

func (h *harness) storedCall(ix string) (agentID, state string) {
	h.t.Helper()
	h.srv.DB.QueryRow(`SELECT agent_id, state FROM calls WHERE interaction_id = ?`, ix).Scan(&agentID, &state)
	return agentID, state
}

func TestBrowserEventsRunThroughTheCallFlowAsTheSessionsAgent(t *testing.T) {
	h := newHarness(t, sipConfig(t))
	w := h.connect(h.login())
	w.next("hello")

	w.send(browserEvent("w1", "sip:IX-S1:callAlerting", "callAlerting", "IX-S1", "inbound"))
	if pop := w.next("pop"); pop["interactionId"] != "IX-S1" {
		t.Fatalf("pop = %v", pop)
	}
	if r := w.reply(); r["type"] != "ack" || r["ref"] != "w1" {
		t.Fatalf("reply = %v, want the ack of w1", r)
	}
	if agentID, state := h.storedCall("IX-S1"); agentID != "1001" || state != "alerting" {
		t.Fatalf("stored call: agent %q state %q, want 1001's call alerting (the message's agentId 9999 ignored)", agentID, state)
	}

	// The same event again (a widget that lost the ack sends it again) is
	// acknowledged and changes nothing.
	w.send(browserEvent("w2", "sip:IX-S1:callAlerting", "callAlerting", "IX-S1", "inbound"))
	if r := w.reply(); r["type"] != "ack" || r["ref"] != "w2" {
		t.Fatalf("repeat: %v", r)
	}
	for _, typ := range []string{"callStarted", "callHangup"} {
		w.send(browserEvent("w-"+typ, "sip:IX-S1:"+typ, typ, "IX-S1", "inbound"))
		if r := w.reply(); r["type"] != "ack" {
			t.Fatalf("%s: %v", typ, r)
		}
	}
	w.send(`{"type":"wrap","ref":"w9","interactionId":"IX-S1","wrapCode":"1","notes":"sold"}`)
	w.next("callEnded")
	waitFor(t, "the phone call completed with its wrap code", func() bool {
		pcs := h.phonecalls("IX-S1")
		return len(pcs) == 1 && pcs[0]["new_wrapcode"] == "1" && pcs[0]["statecode"] == float64(1)
	})
}

func TestBrowserEventsCannotTouchAnotherAgentsCall(t *testing.T) {
	h := newHarness(t, sipConfig(t))
	alice := h.connect(h.login())
	alice.next("hello")
	alice.send(browserEvent("a1", "sip:IX-T1:callAlerting", "callAlerting", "IX-T1", "inbound"))
	if r := alice.reply(); r["type"] != "ack" {
		t.Fatalf("alice's event: %v", r)
	}

	mallory := h.connect(h.loginAs("1002", "2345"))
	mallory.next("hello")
	for i, typ := range []string{"callStarted", "callHangup", "callWrapped", "callAlerting"} {
		ref := fmt.Sprint("m", i)
		mallory.send(browserEvent(ref, "evil:"+typ, typ, "IX-T1", "inbound"))
		r := mallory.reply()
		if r["type"] != "error" || r["ref"] != ref || r["code"] != "not_found" || strings.Contains(fmt.Sprint(r["message"]), "1001") {
			t.Fatalf("mallory's %s: %v, want not_found naming no agent", typ, r)
		}
	}
	if agentID, state := h.storedCall("IX-T1"); agentID != "1001" || state != "alerting" {
		t.Fatalf("after mallory: agent %q state %q, want 1001's call still alerting", agentID, state)
	}
}

func TestMalformedBrowserEventsAreRefusedWithTheirPath(t *testing.T) {
	h := newHarness(t, sipConfig(t))
	w := h.connect(h.login())
	w.next("hello")
	tests := []struct{ name, msg, wantMessage string }{
		{"no event", `{"type":"telephonyEvent","ref":"r1"}`, "event: missing"},
		{"an event that is a list", `{"type":"telephonyEvent","ref":"r1","event":[1]}`, "event: is not a JSON object"},
		{"an unknown call type", browserEvent("r1", "e1", "callAlerting", "IX-U1", "fax"), `event.interaction.callType: "fax" is not a call type`},
		{"no interaction id", `{"type":"telephonyEvent","ref":"r1","event":{"id":"e2","type":"callStarted","interaction":{"callType":"inbound"}}}`, "event.interaction.agentInteractionId: missing"},
		{"an unknown agent state", `{"type":"telephonyEvent","ref":"r1","event":{"id":"e3","type":"agentState","state":"Asleep"}}`, "event.state:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.send(tt.msg)
			r := w.reply()
			if r["type"] != "error" || r["code"] != "invalid_event" || !strings.HasPrefix(fmt.Sprint(r["message"]), tt.wantMessage) {
				t.Fatalf("reply = %v, want invalid_event %q", r, tt.wantMessage)
			}
		})
	}
	var calls int
	h.srv.DB.QueryRow(`SELECT count(*) FROM calls`).Scan(&calls)
	if calls != 0 {
		t.Fatalf("%d calls stored from malformed events", calls)
	}
}

func TestWebhookAndBrowserEventsOfOneInteractionMakeOneCall(t *testing.T) {
	h := newHarness(t, sipConfig(t))
	w := h.connect(h.login())
	w.next("hello")
	w.send(browserEvent("w1", "sip:IX-W1:callAlerting", "callAlerting", "IX-W1", "inbound"))
	w.reply()
	h.send(event("pbx-1", "callStarted", "IX-W1", "inbound", ""))
	w.send(browserEvent("w2", "sip:IX-W1:callStarted", "callStarted", "IX-W1", "inbound"))
	w.reply()
	h.send(event("pbx-2", "callHangup", "IX-W1", "inbound", ""))
	w.send(browserEvent("w3", "sip:IX-W1:callHangup", "callHangup", "IX-W1", "inbound"))
	w.reply()
	h.send(event("pbx-3", "callWrapped", "IX-W1", "inbound", `"wrapCode":"2"`))
	w.next("callEnded")
	waitFor(t, "one completed phone call", func() bool {
		pcs := h.phonecalls("IX-W1")
		return len(pcs) == 1 && pcs[0]["statecode"] == float64(1) && pcs[0]["new_wrapcode"] == "2"
	})
	waitFor(t, "the outbox drained", func() bool { return h.outboxDepth() == 0 })
	if pcs := h.phonecalls("IX-W1"); len(pcs) != 1 {
		t.Fatalf("%d phone calls, want 1", len(pcs))
	}
}

func TestHelloHandsTheAgentItsOwnSIPAccount(t *testing.T) {
	h := newHarness(t, sipConfig(t))
	ctx := context.Background()
	if err := h.srv.Creds.SetSIP(ctx, "1001", agent.SIPAccount{User: "agent1001", Password: "pw-1001", DisplayName: "Alex"}); err != nil {
		t.Fatal(err)
	}
	w := h.connect(h.login())
	hello := w.next("hello")
	tel, _ := hello["settings"].(map[string]any)["telephony"].(map[string]any)
	sip, _ := tel["sip"].(map[string]any)
	if tel["source"] != "sip" || sip["server"] != "ws://127.0.0.1:5066" || sip["domain"] != "ctibridge.test" || sip["user"] != "agent1001" || sip["password"] != "pw-1001" {
		t.Fatalf("hello telephony = %v", tel)
	}
	if sip["dtmf"] != "rfc4733" {
		t.Errorf("dtmf = %v, want the default rfc4733", sip["dtmf"])
	}
	if headers := sip["headers"].(map[string]any); headers["queue"] != "X-Queue-Name" || headers["interactionId"] != "X-Interaction-Id" {
		t.Fatalf("headers = %v", headers)
	}

	other := h.connect(h.loginAs("1002", "2345"))
	sip2 := other.next("hello")["settings"].(map[string]any)["telephony"].(map[string]any)["sip"].(map[string]any)
	if sip2["user"] != "" || sip2["password"] != "" {
		t.Fatalf("agent 1002, who has no SIP account, got %v", sip2)
	}
	if strings.Contains(h.logs.String(), "pw-1001") {
		t.Fatal("the SIP password is in the server's log")
	}
}

func TestBrowserEventsAreRefusedWhenTheSourceIsTheWebhook(t *testing.T) {
	h := newHarness(t, sampleConfig)
	w := h.connect(h.login())
	if tel := w.next("hello")["settings"].(map[string]any)["telephony"].(map[string]any); tel["source"] != "webhook" {
		t.Fatalf("hello telephony = %v", tel)
	}
	w.send(browserEvent("w1", "sip:IX-X1:callAlerting", "callAlerting", "IX-X1", "inbound"))
	if r := w.reply(); r["code"] != "not_supported" {
		t.Fatalf("reply = %v, want not_supported", r)
	}
}

func TestLogoutThroughTheServerEndsTheSession(t *testing.T) {
	h := newHarness(t, sampleConfig)
	token := h.login()
	req, _ := http.NewRequest("DELETE", h.url+"/api/v1/sessions", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if status, body := h.do(req); status != http.StatusNoContent {
		t.Fatalf("DELETE /api/v1/sessions: %d %s, want 204", status, body)
	}
	probe, _ := http.NewRequest("GET", h.url+"/api/v1/ws", nil)
	probe.Header.Set("Authorization", "Bearer "+token)
	if status, _ := h.do(probe); status != http.StatusUnauthorized {
		t.Fatalf("the ended session's token opens the socket endpoint with %d, want 401", status)
	}
}
