package interaction

import (
	"errors"
	"strings"
	"testing"
)

// withIDs is minimal with its three ids replaced; each is inserted as is,
// so a test can put raw (and invalid) bytes in a JSON string.
func withIDs(id, agentID, interactionID string) []byte {
	return []byte(`{"id": "` + id + `", "type": "callStarted", "agentId": "` + agentID + `",
 "interaction": {"agentInteractionId": "` + interactionID + `", "callType": "inbound"}}`)
}

func TestDecodeEventRefusesInvalidUTF8NamingThePath(t *testing.T) {
	tests := []struct {
		name     string
		doc      []byte
		wantPath string
		wantMsg  string
	}{
		{name: "in the interaction id", doc: withIDs("e1", "1042", "IX-\xff1"), wantPath: "interaction.agentInteractionId", wantMsg: "not valid UTF-8 (byte 0xff at line 2, column 44)"},
		{name: "a truncated sequence in the event id", doc: withIDs("e\xc3", "1042", "IX-1"), wantPath: "id", wantMsg: "not valid UTF-8 (byte 0xc3"},
		{name: "in extra data, in a list", doc: []byte("{\"id\": \"e1\", \"type\": \"callStarted\", \"agentId\": \"1042\", \"extra\": {\"tags\": [\"ok\", \"b\xe2d\"]}," +
			"\"interaction\": {\"agentInteractionId\": \"IX-1\", \"callType\": \"inbound\"}}"), wantPath: "extra.tags[1]", wantMsg: "is not valid UTF-8"},
		{name: "in a lead phone", doc: []byte("{\"id\": \"e1\", \"type\": \"callStarted\", \"agentId\": \"1042\"," +
			"\"interaction\": {\"agentInteractionId\": \"IX-1\", \"callType\": \"inbound\", \"leadData\": {\"phones\": [{\"index\": 1, \"phone\": \"02\x80\"}]}}}"), wantPath: "interaction.leadData.phones[0].phone", wantMsg: "is not valid UTF-8"},
		{name: "in a key", doc: []byte("{\"id\": \"e1\", \"type\": \"callStarted\", \"agentId\": \"1042\"," +
			"\"interaction\": {\"agentInteractionId\": \"IX-1\", \"callType\": \"inbound\", \"n\xfeote\": \"x\"}}"), wantPath: "interaction", wantMsg: "has a key that is not valid UTF-8"},
		{name: "a UTF-16 surrogate encoded in UTF-8", doc: withIDs("e1", "1042", "IX-\xed\xa0\x80"), wantPath: "interaction.agentInteractionId", wantMsg: "0xed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeEvent(tt.doc)
			var ee *EventError
			if !errors.As(err, &ee) {
				t.Fatalf("err = %v, want an EventError", err)
			}
			if ee.Path != tt.wantPath || !strings.Contains(ee.Msg, tt.wantMsg) {
				t.Fatalf("err = %q at %q, want %q at %q", ee.Msg, ee.Path, tt.wantMsg, tt.wantPath)
			}
		})
	}
}

func TestDecodeEventIDRules(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name                     string
		id, agentID, interaction string
		wantPath, wantMsg        string
	}{
		// Real platforms' ids.
		{name: "a SIP Call-ID", id: "sip:a84b4c76e66710@pc33.example.com:callAlerting", agentID: "1042", interaction: "a84b4c76e66710@pc33.example.com"},
		{name: "an Asterisk linkedid", id: "evt-1", agentID: "1042", interaction: "1712345678.42"},
		{name: "a UUID and an e-mail agent id", id: "3f2c1a9e-8d7b-4c6a-9e5f-1b2c3d4e5f60", agentID: "jo.smith@example.com", interaction: "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"},
		{name: "Call-ID punctuation", id: "e1", agentID: "1042", interaction: `x!%*_+'~()<>:\"/[]?{}=`},
		{name: "the longest ids", id: long(MaxEventIDBytes), agentID: long(MaxAgentIDBytes), interaction: long(MaxInteractionIDBytes)},

		{name: "an agent id longer than login allows", id: "e1", agentID: long(65), interaction: "IX-1", wantPath: "agentId", wantMsg: "is 65 bytes long; an id is at most 64 bytes"},
		{name: "an interaction id too long", id: "e1", agentID: "1042", interaction: long(129), wantPath: "interaction.agentInteractionId", wantMsg: "at most 128 bytes"},
		{name: "an event id too long", id: long(257), agentID: "1042", interaction: "IX-1", wantPath: "id", wantMsg: "at most 256 bytes"},
		{name: "a space", id: "e1", agentID: "1042", interaction: "IX 1", wantPath: "interaction.agentInteractionId", wantMsg: "has the byte 0x20 at offset 2"},
		{name: "a newline, escaped", id: `e1\nINFO forged log line`, agentID: "1042", interaction: "IX-1", wantPath: "id", wantMsg: "0x0a"},
		{name: "a NUL, escaped", id: "e1", agentID: `10\u000042`, interaction: "IX-1", wantPath: "agentId", wantMsg: "0x00"},
		{name: "a tab", id: "e1", agentID: "1042", interaction: `IX-\t1`, wantPath: "interaction.agentInteractionId", wantMsg: "0x09"},
		{name: "DEL", id: "e1\x7f", agentID: "1042", interaction: "IX-1", wantPath: "id", wantMsg: "0x7f"},
		{name: "non-ASCII, which could look like another id", id: "e1", agentID: "1042", interaction: "IX-１", wantPath: "interaction.agentInteractionId", wantMsg: "printable ASCII"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := DecodeEvent(withIDs(tt.id, tt.agentID, tt.interaction))
			if tt.wantPath == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if ev.Interaction.AgentInteractionID != strings.ReplaceAll(tt.interaction, `\"`, `"`) {
					t.Fatalf("interaction id %q", ev.Interaction.AgentInteractionID)
				}
				return
			}
			var ee *EventError
			if !errors.As(err, &ee) || ee.Path != tt.wantPath || !strings.Contains(ee.Msg, tt.wantMsg) {
				t.Fatalf("err = %v, want %q at %q", err, tt.wantMsg, tt.wantPath)
			}
		})
	}
}
