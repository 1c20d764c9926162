package loadtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func dialRelay(t *testing.T, ctx context.Context, srv *httptest.Server, agentID string) *websocket.Conn {
	t.Helper()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/api/v1/ws?agent="+agentID, nil)
	if err != nil {
		t.Fatalf("dial as %s: %v", agentID, err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	return conn
}

func waitConnections(t *testing.T, r *Relay, n int) {
	t.Helper()
	// Registration happens just after the upgrade is answered.
	for deadline := time.Now().Add(5 * time.Second); r.Connections() != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("relay has %d connections, want %d", r.Connections(), n)
		}
	}
}

func TestRelayPushesTheEventToTheAddressedAgentOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	relay := NewRelay()
	srv := httptest.NewServer(relay.Handler())
	defer srv.Close()
	alice := dialRelay(t, ctx, srv, "alice")
	bob := dialRelay(t, ctx, srv, "bob")
	waitConnections(t, relay, 2)

	post := func(body string) int {
		resp, err := http.Post(srv.URL+"/api/v1/events", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		name   string
		body   string
		status int
	}{
		{name: "an event for a connected agent", body: `{"id":"e1","type":"callAlerting","agentId":"bob"}`, status: http.StatusAccepted},
		{name: "an event for an agent without a socket", body: `{"id":"e2","agentId":"carol"}`, status: http.StatusNotFound},
		{name: "an event without an agent", body: `{"id":"e3"}`, status: http.StatusBadRequest},
		{name: "not JSON", body: `nope`, status: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := post(tt.body); got != tt.status {
				t.Errorf("POST %s = %d, want %d", tt.body, got, tt.status)
			}
		})
	}

	_, data, err := bob.Read(ctx)
	if err != nil || string(data) != `{"id":"e1","type":"callAlerting","agentId":"bob"}` {
		t.Fatalf("bob read %q, %v; want the event unchanged", data, err)
	}
	// Alice must get nothing: a marker sent to her after the events is the
	// first thing she reads.
	if got := post(`{"id":"marker","agentId":"alice"}`); got != http.StatusAccepted {
		t.Fatalf("marker POST = %d", got)
	}
	if _, data, err := alice.Read(ctx); err != nil || !strings.Contains(string(data), `"marker"`) {
		t.Fatalf("alice read %q, %v; want only her marker", data, err)
	}
}

func TestRelayForgetsAClosedSocket(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	relay := NewRelay()
	srv := httptest.NewServer(relay.Handler())
	defer srv.Close()
	conn := dialRelay(t, ctx, srv, "alice")
	waitConnections(t, relay, 1)
	conn.Close(websocket.StatusNormalClosure, "")
	waitConnections(t, relay, 0)
	resp, err := http.Post(srv.URL+"/api/v1/events", "application/json", strings.NewReader(`{"agentId":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST after the socket closed = %d, want 404", resp.StatusCode)
	}
}
