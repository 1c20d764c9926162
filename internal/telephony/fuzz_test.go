package telephony

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/ctibridge/ctibridge/internal/testclock"
)

// FuzzWebhookBody sends arbitrary, correctly signed bodies through the
// handler: it must never panic, must answer JSON with 202 or a 4xx naming the
// problem, and on 202 must have delivered exactly the events it counts.
func FuzzWebhookBody(f *testing.F) {
	typical, err := os.ReadFile("testdata/outbound_event.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(typical),
		"[" + eventJSON("a") + "," + eventJSON("b") + "]",
		`{"id":"s1","type":"agentState","agentId":"1042","state":"On call"}`,
		`[{"id":"s1","type":"agentState","agentId":"1042","state":3}]`,
		`[]`, `[null]`, `{`, ``, `"x"`, `[1,2`, `{"type":"agentState"}`,
	} {
		f.Add(seed)
	}
	w, err := NewWebhook(WebhookOptions{Secret: testSecret, Now: testclock.New(testNow).Now})
	if err != nil {
		f.Fatal(err)
	}
	sink := &stateSink{}
	w.runs.current = &run{sink: sink, ctx: f.Context()}
	f.Fuzz(func(t *testing.T, body string) {
		// Each input is a new request to the same handler; a fresh replay
		// memory keeps a repeated input from being a replay.
		w.replay = newReplayMemory(w.tolerance, DefaultReplayCapacity)
		sink.mu.Lock()
		sink.events, sink.states, sink.calls = nil, nil, 0
		sink.mu.Unlock()

		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, signedRequest(testSecret, testNow, body))
		var r response
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatalf("response %q is not JSON: %v", rec.Body.String(), err)
		}
		delivered := len(sink.events) + len(sink.states)
		switch rec.Code {
		case http.StatusAccepted:
			if r.Accepted == nil || *r.Accepted != delivered {
				t.Fatalf("accepted %v but %d delivered", r.Accepted, delivered)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if r.Error == nil || r.Error.Code == "" || r.Error.Message == "" {
				t.Fatalf("status %d without an error code and message: %s", rec.Code, rec.Body)
			}
			if delivered != 0 {
				t.Fatalf("status %d after delivering %d events", rec.Code, delivered)
			}
			if r.Error.Path != "" && !strings.HasPrefix(r.Error.Message, r.Error.Path+": ") {
				t.Fatalf("message %q does not start with its path %q", r.Error.Message, r.Error.Path)
			}
		default:
			t.Fatalf("status %d for a signed body: %s", rec.Code, rec.Body)
		}
	})
}

// FuzzParseSignatures checks the signature header parser never panics and
// only reports success with well-formed signatures.
func FuzzParseSignatures(f *testing.F) {
	_, valid := Sign(testSecret, testNow, []byte("{}"))
	for _, seed := range []string{valid, valid + "," + valid, "v0=abc, " + valid, "v1=", "v1=zz", ",,,", strings.Repeat("v1=00,", 9)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		sigs, ok := parseSignatures(header)
		if ok != (len(sigs) > 0) {
			t.Fatalf("ok %v with %d signatures", ok, len(sigs))
		}
		if len(sigs) > maxSignatures {
			t.Fatalf("%d signatures accepted, more than %d", len(sigs), maxSignatures)
		}
	})
}

// FuzzParseAgentState checks that whatever parses is a valid state that
// parses to itself.
func FuzzParseAgentState(f *testing.F) {
	for _, seed := range []string{"OnCall", "On call", "ON_WRAP", "available", "Connection", "", "busy", " r-e_a d y "} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseAgentState(s)
		if err != nil {
			return
		}
		if !st.Valid() {
			t.Fatalf("ParseAgentState(%q) = %q, not a valid state", s, st)
		}
		if again, err := ParseAgentState(string(st)); err != nil || again != st {
			t.Fatalf("%q does not parse to itself: %q, %v", st, again, err)
		}
	})
}
