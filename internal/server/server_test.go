package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/sandbox"
	"github.com/ctibridge/ctibridge/internal/server"
	"github.com/ctibridge/ctibridge/internal/store/pgserver"
)

func TestMain(m *testing.M) { os.Exit(pgserver.RunTests(m)) }

const sampleConfig = "../../testdata/sample.json"

func TestWebhookRefusesUnsignedForgedAndReplayedEvents(t *testing.T) {
	h := newHarness(t, sampleConfig)
	body := []byte(event("ev-1", "callAlerting", "IX-A1", "inbound", ""))

	status, _ := h.post(body, false, time.Now())
	if status != http.StatusUnauthorized {
		t.Fatalf("unsigned: %d, want 401", status)
	}
	req, _ := http.NewRequest("POST", h.url+"/api/v1/events", strings.NewReader(string(body)))
	req.Header.Set("X-Ctibridge-Timestamp", fmt.Sprint(time.Now().Unix()))
	req.Header.Set("X-Ctibridge-Signature", "v1="+strings.Repeat("ab", 32))
	if status, _ := h.do(req); status != http.StatusUnauthorized {
		t.Fatalf("badly signed: %d, want 401", status)
	}
	if status, _ := h.post(body, true, time.Now().Add(-time.Hour)); status != http.StatusUnauthorized {
		t.Fatalf("signed an hour ago: %d, want 401", status)
	}
	ts := time.Now()
	if status, body := h.post(body, true, ts); status != http.StatusAccepted {
		t.Fatalf("signed: %d %s, want 202", status, body)
	}
	if status, _ := h.post(body, true, ts); status != http.StatusUnauthorized {
		t.Fatalf("replayed: %d, want 401", status)
	}

	var calls int
	h.srv.DB.QueryRow(`SELECT count(*) FROM calls`).Scan(&calls)
	if calls != 1 {
		t.Fatalf("calls stored = %d, want only the signed event's call", calls)
	}
}

func TestMalformedEventsAre400NamingTheField(t *testing.T) {
	h := newHarness(t, sampleConfig)
	tests := []struct {
		name, body, wantField string
	}{
		{"unknown call type", event("ev-1", "callAlerting", "IX-B1", "fax", ""), "interaction.callType"},
		{"unknown event type", event("ev-2", "callExploded", "IX-B2", "inbound", ""), "type"},
		{"no interaction id", `{"id":"ev-3","type":"callAlerting","agentId":"1001","interaction":{"callType":"inbound"}}`, "interaction.agentInteractionId"},
		{"not JSON", `{"id":`, "line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := h.post([]byte(tt.body), true, time.Now())
			if status != http.StatusBadRequest || !strings.Contains(body, tt.wantField) {
				t.Fatalf("got %d %s, want 400 naming %s", status, body, tt.wantField)
			}
		})
	}
	var calls int
	h.srv.DB.QueryRow(`SELECT count(*) FROM calls`).Scan(&calls)
	if calls != 0 {
		t.Fatalf("calls stored = %d after only malformed events, want 0", calls)
	}
}

func TestInboundCallPopsAndWritesOneCompletedActivity(t *testing.T) {
	inboundCallPopsAndWritesOneCompletedActivity(t, newHarness(t, sampleConfig))
}

func TestInboundCallOnPostgreSQL(t *testing.T) {
	inboundCallPopsAndWritesOneCompletedActivity(t, newHarnessWith(t, sampleConfig, func(s *server.Settings) {
		s.StorePath = pgserver.Database(t)
	}))
}

func inboundCallPopsAndWritesOneCompletedActivity(t *testing.T, h *harness) {
	w := h.connect(h.login())
	if hello := w.next("hello"); hello["call"] != nil {
		t.Fatalf("hello before any call has call %v", hello["call"])
	}
	h.send(event("ev-1", "callAlerting", "IX-C1", "inbound", ""))
	pop := w.next("pop")
	decision := pop["decision"].(map[string]any)
	if decision["entity"] != "contact" || !strings.Contains(decision["lookupQuery"].(string), "9999") {
		t.Fatalf("pop decision = %v", decision)
	}
	one := sandbox.DemoNumberByKey("single-contact").Records[0]
	w.send(fmt.Sprintf(`{"type":"popResult","interactionId":"IX-C1","outcome":"record","matches":[{"entity":"contact","id":%q,"name":"x"}],"ms":12}`, one.ID))
	h.send(event("ev-2", "callStarted", "IX-C1", "inbound", ""))
	h.send(event("ev-2", "callStarted", "IX-C1", "inbound", "")) // a redelivery
	h.send(event("ev-3", "callHangup", "IX-C1", "inbound", ""))
	h.send(event("ev-4", "callWrapped", "IX-C1", "inbound", `"wrapCode":"1","wrapDescription":"Sale"`))

	waitFor(t, "the outbox to drain", func() bool { return h.outboxDepth() == 0 })
	calls := h.phonecalls("IX-C1")
	if len(calls) != 1 {
		t.Fatalf("phone calls for IX-C1 = %d, want exactly 1", len(calls))
	}
	c := calls[0]
	if fmt.Sprint(c["statecode"]) != "1" || fmt.Sprint(c["statuscode"]) != "4" || c["new_wrapcode"] != "1" {
		t.Fatalf("activity = %v, want completed (1/4 Received) with wrap code 1", c)
	}
	if c["_regardingobjectid_value"] != one.ID {
		t.Fatalf("regarding = %v, want the popped contact %s", c["_regardingobjectid_value"], one.ID)
	}
	logs := h.logs.String()
	for _, secret := range []string{"99990000", "9999 0000", clientSecret, webhookSecret, sessionKey} {
		if strings.Contains(logs, secret) {
			t.Errorf("info-level log contains %q:\n%s", secret, logs)
		}
	}
	if !strings.Contains(logs, "ctibridge ready") {
		t.Fatalf("log does not look like the server's: %s", logs)
	}
}

func TestWidgetReconnectingMidCallGetsTheCallBack(t *testing.T) {
	h := newHarness(t, sampleConfig)
	token := h.login()
	w := h.connect(token)
	w.next("hello")
	h.send(event("ev-1", "callAlerting", "IX-D1", "inbound", ""))
	w.next("pop")
	h.send(event("ev-2", "callStarted", "IX-D1", "inbound", ""))
	w.ws.CloseNow()

	w2 := h.connect(token)
	hello := w2.next("hello")
	call, ok := hello["call"].(map[string]any)
	if !ok || call["interactionId"] != "IX-D1" || call["state"] != "connected" {
		t.Fatalf("hello after reconnect has call %v, want IX-D1 connected", hello["call"])
	}
	w2.send(`{"type":"wrap","interactionId":"IX-D1","wrapCode":"2","notes":"call back Tuesday"}`)
	waitFor(t, "the wrap to be written", func() bool {
		calls := h.phonecalls("IX-D1")
		return len(calls) == 1 && calls[0]["new_wrapcode"] == "2"
	})
}

func TestCRMThrottlingAndOutageDrainAfterwards(t *testing.T) {
	h := newHarness(t, sampleConfig)
	h.sandbox.SetFaults(sandbox.Faults{ThrottleCount: 6, RetryAfterSeconds: 1, UnavailableCount: 6, Methods: []string{"PATCH", "POST"}, EntitySets: []string{"phonecalls"}})
	for i := 1; i <= 5; i++ {
		ix := fmt.Sprintf("IX-E%d", i)
		h.send(event(ix+"-1", "callStarted", ix, "inbound", ""))
		h.send(event(ix+"-2", "callWrapped", ix, "inbound", `"wrapCode":"3"`))
	}
	waitFor(t, "the outbox to drain after the CRM recovers", func() bool { return h.outboxDepth() == 0 })
	for i := 1; i <= 5; i++ {
		calls := h.phonecalls(fmt.Sprintf("IX-E%d", i))
		if len(calls) != 1 || fmt.Sprint(calls[0]["statecode"]) != "1" {
			t.Fatalf("IX-E%d: %v, want one completed activity", i, calls)
		}
	}
	var failed int
	h.srv.DB.QueryRow(`SELECT count(*) FROM outbox WHERE status = 'failed'`).Scan(&failed)
	if failed != 0 {
		t.Fatalf("%d writes failed permanently, want all retried to success", failed)
	}
}

func TestRestartBetweenConnectAndWrapCompletesTheActivityOnce(t *testing.T) {
	h := newHarness(t, sampleConfig)
	h.send(event("ev-1", "callStarted", "IX-F1", "inbound", ""))
	waitFor(t, "the activity to be created", func() bool { return len(h.phonecalls("IX-F1")) == 1 })

	h.shutdown()
	h.start()

	h.send(event("ev-2", "callHangup", "IX-F1", "inbound", ""))
	h.send(event("ev-3", "callWrapped", "IX-F1", "inbound", `"wrapCode":"1"`))
	waitFor(t, "the outbox to drain", func() bool { return h.outboxDepth() == 0 })
	calls := h.phonecalls("IX-F1")
	if len(calls) != 1 || fmt.Sprint(calls[0]["statecode"]) != "1" || calls[0]["new_wrapcode"] != "1" {
		t.Fatalf("after restart: %v, want one completed activity with wrap code 1", calls)
	}
}

func TestReloadKeepsTheLastGoodConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(sampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, data, 0o600)
	h := newHarness(t, path)

	os.WriteFile(path, []byte(`{"screenPop": {"rules": [{"callType": ["fax"]}]}}`), 0o600)
	if err := h.srv.Reload(); err == nil || !strings.Contains(err.Error(), "keeping the config in use") {
		t.Fatalf("reload of a bad config = %v, want a refusal", err)
	}
	if h.srv.Config().ScreenPop.Default == nil {
		t.Fatal("bad config replaced the good one")
	}
	w := h.connect(h.login())
	w.next("hello")
	h.send(event("ev-1", "callAlerting", "IX-G1", "inbound", ""))
	if pop := w.next("pop"); pop["decision"].(map[string]any)["entity"] != "contact" {
		t.Fatalf("pop after refused reload = %v", pop)
	}
	_ = context.Background()
}

func TestHealthAndMetrics(t *testing.T) {
	h := newHarness(t, sampleConfig)
	h.send(event("ev-1", "callAlerting", "IX-H1", "inbound", ""))
	for _, tt := range []struct{ path, want string }{
		{"/healthz", `"ok"`},
		{"/readyz", `"ready":true`},
		{"/metrics", `ctibridge_events_received_total{outcome="processed",type="callAlerting"} 1`},
		{"/metrics", `ctibridge_pops_total{outcome="no_widget"} 1`},
		{"/metrics", "ctibridge_outbox_depth"},
	} {
		req, _ := http.NewRequest("GET", h.url+tt.path, nil)
		status, body := h.do(req)
		if status != http.StatusOK || !strings.Contains(body, tt.want) {
			t.Fatalf("GET %s = %d, want it to contain %s:\n%s", tt.path, status, tt.want, body[:min(len(body), 2000)])
		}
	}
}

func TestAnAgentCannotSeeOrTouchAnotherAgentsCall(t *testing.T) {
	h := newHarness(t, sampleConfig)
	if err := h.srv.Creds.Set(context.Background(), "1002", "9999", ""); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", h.url+"/api/v1/sessions", strings.NewReader(`{"agentId":"1002","pin":"9999"}`))
	_, body := h.do(req)
	var out struct{ Token string }
	json.Unmarshal([]byte(body), &out)
	other := h.connect(out.Token)
	other.next("hello")
	mine := h.connect(h.login())
	mine.next("hello")

	h.send(event("ev-1", "callStarted", "IX-J1", "inbound", ""))
	mine.next("pop")
	for _, msg := range []string{
		`{"type":"wrap","ref":"w","interactionId":"IX-J1","wrapCode":"1"}`,
		`{"type":"relate","ref":"r","interactionId":"IX-J1","person":{"entity":"contact","id":"6f9619ff-8b86-d011-b42d-00cf4fc964ff"}}`,
	} {
		other.send(msg)
		reply := other.next("error")
		if reply["code"] != "not_found" {
			t.Fatalf("another agent's %s got %v, want not_found", msg, reply)
		}
	}
	var state string
	h.srv.DB.QueryRow(`SELECT state FROM calls WHERE interaction_id = 'IX-J1'`).Scan(&state)
	if state != "connected" {
		t.Fatalf("call state = %s after another agent's wrap, want connected", state)
	}
}

func TestRelateRefusesAnUnlistedEntity(t *testing.T) {
	h := newHarness(t, sampleConfig)
	w := h.connect(h.login())
	w.next("hello")
	h.send(event("ev-1", "callStarted", "IX-K1", "inbound", ""))
	w.send(`{"type":"relate","ref":"r1","interactionId":"IX-K1","person":{"entity":"systemuser","id":"6f9619ff-8b86-d011-b42d-00cf4fc964ff"}}`)
	reply := w.next("error")
	if reply["ref"] != "r1" || reply["code"] != "bad_selection" || !strings.Contains(reply["message"].(string), "systemuser") {
		t.Fatalf("reply = %v, want bad_selection naming systemuser", reply)
	}
}

func TestAnActivityIsCreatedEvenWhenItsRelatedRecordIsGone(t *testing.T) {
	h := newHarness(t, sampleConfig)
	w := h.connect(h.login())
	w.next("hello")
	h.send(event("ev-1", "callAlerting", "IX-L1", "inbound", ""))
	w.next("pop")
	// A contact that matched the pop but no longer exists in the CRM.
	w.send(`{"type":"popResult","interactionId":"IX-L1","outcome":"record","matches":[{"entity":"contact","id":"6f9619ff-8b86-d011-b42d-00cf4fc964ff"}]}`)
	waitFor(t, "the selection to be stored", func() bool {
		var data string
		h.srv.DB.QueryRow(`SELECT data FROM calls WHERE interaction_id = 'IX-L1'`).Scan(&data)
		return strings.Contains(data, "6f9619ff")
	})
	h.send(event("ev-2", "callStarted", "IX-L1", "inbound", ""))
	h.send(event("ev-3", "callWrapped", "IX-L1", "inbound", `"wrapCode":"1"`))
	waitFor(t, "the outbox to drain", func() bool { return h.outboxDepth() == 0 })
	calls := h.phonecalls("IX-L1")
	if len(calls) != 1 || fmt.Sprint(calls[0]["statecode"]) != "1" || calls[0]["_regardingobjectid_value"] != nil {
		t.Fatalf("phone calls = %v, want one completed, unrelated activity", calls)
	}
}

func TestWithoutServerCredentialsTheWidgetWritesThroughCIF(t *testing.T) {
	h := newHarness(t, sampleConfig)
	h.shutdown()
	h.settings.OrgURL, h.settings.ClientID, h.settings.ClientSecret = "", "", ""
	h.start()

	w := h.connect(h.login())
	hello := w.next("hello")
	if mode := hello["settings"].(map[string]any)["writeMode"]; mode != "cif" {
		t.Fatalf("writeMode = %v, want cif", mode)
	}
	h.send(event("ev-1", "callStarted", "IX-M1", "inbound", ""))
	msg := w.next("writes")
	writes := msg["writes"].([]any)
	first := writes[0].(map[string]any)
	if first["op"] != "create" || first["entitySet"] != "phonecalls" || first["keyValue"] != "IX-M1" {
		t.Fatalf("write sent to the widget = %v", first)
	}
	// Nobody else's write can be answered, and an answer ends the write.
	w.send(`{"type":"writeResult","idempotencyKey":"IX-OTHER/create-activity","id":"x"}`)
	if reply := w.next("error"); reply["code"] != "not_found" {
		t.Fatalf("reply to a stray writeResult = %v", reply)
	}
	w.send(fmt.Sprintf(`{"type":"writeResult","idempotencyKey":%q,"id":"6f9619ff-8b86-d011-b42d-00cf4fc964ff"}`, first["idempotencyKey"]))
	waitFor(t, "the write to be marked done", func() bool { return h.outboxDepth() == 0 })
	var recordID string
	h.srv.DB.QueryRow(`SELECT record_id FROM outbox WHERE interaction_id = 'IX-M1'`).Scan(&recordID)
	if recordID != "6f9619ff-8b86-d011-b42d-00cf4fc964ff" {
		t.Fatalf("record id = %q, want the one the widget reported", recordID)
	}
}

func TestTheAgentsChoiceIsKeptWhenTheirCRMUserIsUnknown(t *testing.T) {
	h := newHarness(t, sampleConfig)
	w := h.connect(h.login())
	w.next("hello")
	h.send(event("ev-1", "callStarted", "IX-N1", "inbound", ""))
	w.next("pop")
	waitFor(t, "the activity", func() bool { return len(h.phonecalls("IX-N1")) == 1 })
	person := sandbox.DemoNumberByKey("several-contacts").Records[1]
	w.send(fmt.Sprintf(`{"type":"relate","interactionId":"IX-N1","person":{"entity":"contact","id":%q},"user":"{6f9619ff-8b86-d011-b42d-00cf4fc964ff}"}`, person.ID))
	waitFor(t, "the relation", func() bool {
		calls := h.phonecalls("IX-N1")
		return len(calls) == 1 && calls[0]["_regardingobjectid_value"] == person.ID
	})
	h.send(event("ev-2", "callWrapped", "IX-N1", "inbound", `"wrapCode":"1"`))
	ended := w.next("callEnded")
	if ended["interactionId"] != "IX-N1" {
		t.Fatalf("callEnded = %v", ended)
	}
}

func TestAWidgetThatWasAwayGetsTheUnansweredPopWithItsHello(t *testing.T) {
	h := newHarness(t, sampleConfig)
	token := h.login()
	h.send(event("ev-1", "callAlerting", "IX-P1", "inbound", ""))

	w := h.connect(token)
	hello := w.next("hello")
	pop, ok := hello["pop"].(map[string]any)
	if !ok || pop["interactionId"] != "IX-P1" || pop["decision"].(map[string]any)["entity"] != "contact" {
		t.Fatalf("hello = %v, want it to carry IX-P1's pop", hello)
	}
	w.send(`{"type":"popResult","interactionId":"IX-P1","outcome":"none","matches":[]}`)
	waitFor(t, "the pop to be answered", func() bool {
		var data string
		h.srv.DB.QueryRow(`SELECT data FROM calls WHERE interaction_id = 'IX-P1'`).Scan(&data)
		return strings.Contains(data, `"popAnswered":true`)
	})
	w.ws.CloseNow()
	if hello := h.connect(token).next("hello"); hello["pop"] != nil {
		t.Fatalf("hello after the pop was answered still carries it: %v", hello["pop"])
	}
}

// The config's cif block reaches the widget in hello, where it decides
// whether calls get CIF 2.0 sessions and with which templates.
func TestHelloCarriesTheCIFSessionSettings(t *testing.T) {
	data, err := os.ReadFile(sampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.TrimSpace(string(data))
	text = strings.TrimSuffix(text, "}") + `, "cif": {"sessions": "multi", "sessionTemplate": "new_ctibridge_call", "notificationTemplate": "new_ctibridge_incoming_call", "presence": {"Paused": "Do not disturb"}}}`
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, path)
	hello := h.connect(h.login()).next("hello")
	cif, _ := hello["settings"].(map[string]any)["cif"].(map[string]any)
	want := map[string]any{"sessions": "multi", "sessionTemplate": "new_ctibridge_call", "notificationTemplate": "new_ctibridge_incoming_call", "presence": map[string]any{"Paused": "Do not disturb"}}
	if !reflect.DeepEqual(cif, want) {
		t.Fatalf("hello settings.cif = %v, want %v", cif, want)
	}
}
