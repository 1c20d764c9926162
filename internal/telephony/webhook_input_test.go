package telephony

import (
	"net/http"
	"testing"

	"github.com/ctibridge/ctibridge/internal/testclock"
)

func TestWebhookRefusesInvalidUTF8AndBadIDs(t *testing.T) {
	// Two interaction ids that differ only in an invalid byte: before, both
	// became "IX-\uFFFD" and so one call.
	tests := []struct {
		name, body, wantPath string
	}{
		{name: "invalid UTF-8 in the interaction id", wantPath: "interaction.agentInteractionId",
			body: "{\"id\":\"e1\",\"type\":\"callAlerting\",\"agentId\":\"1042\",\"interaction\":{\"agentInteractionId\":\"IX-\xff\",\"callType\":\"inbound\"}}"},
		{name: "invalid UTF-8 in a batch item", wantPath: "[1].interaction.agentInteractionId",
			body: "[" + eventJSON("e1") + ",{\"id\":\"e2\",\"type\":\"callAlerting\",\"agentId\":\"1042\",\"interaction\":{\"agentInteractionId\":\"IX-\xfe\",\"callType\":\"inbound\"}}]"},
		{name: "a control character in the agent id", wantPath: "agentId",
			body: `{"id":"e1","type":"callAlerting","agentId":"10\u001b42","interaction":{"agentInteractionId":"IX-1","callType":"inbound"}}`},
		{name: "an agent state event's agent id, as login allows", wantPath: "agentId",
			body: `{"id":"s1","type":"agentState","agentId":"agent 1042","state":"Paused"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &stateSink{}
			w := startWebhook(t, testOptions(testclock.New(testNow)), sink)
			r := serve(t, w, signedRequest(testSecret, testNow, tt.body))
			if r.Status != http.StatusBadRequest || r.code() != codeInvalidEvent || r.path() != tt.wantPath {
				t.Fatalf("status %d %q at %q, want 400 %s at %q", r.Status, r.code(), r.path(), codeInvalidEvent, tt.wantPath)
			}
			if sink.callCount() != 0 || len(sink.states) != 0 {
				t.Fatal("an event was delivered")
			}
		})
	}
}
