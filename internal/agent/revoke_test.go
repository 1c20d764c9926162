package agent

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ctibridge/ctibridge/internal/store"
)

// dialWith opens the widget socket the way the widget does: the token in
// the Sec-WebSocket-Protocol header, never in the URL.
func dialWith(t *testing.T, srv *httptest.Server, token string) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/api/v1/ws",
		&websocket.DialOptions{Subprotocols: []string{"ctibridge.v1", "ctibridge.token." + token}})
}

// closedSoon reports whether the server closes ws within two seconds, with
// the status that sends the widget to its login form.
func closedSoon(ws *websocket.Conn) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for {
		if _, _, err := ws.Read(ctx); err != nil {
			return ctx.Err() == nil && websocket.CloseStatus(err) == statusSessionEnded
		}
	}
}

func TestTheTokenTravelsInTheSubprotocolNotTheURL(t *testing.T) {
	_, _, _, srv := newTestSessions(t)
	_, token := login(t, srv, `{"agentId":"1001","pin":"1234"}`)

	ws, _, err := dialWith(t, srv, token)
	if err != nil {
		t.Fatalf("socket with the token in Sec-WebSocket-Protocol: %v", err)
	}
	defer ws.CloseNow()
	if ws.Subprotocol() != "ctibridge.v1" {
		t.Errorf("server chose subprotocol %q, want ctibridge.v1 (never the token)", ws.Subprotocol())
	}
	if hello := read(t, ws); hello["agent"] != "1001" {
		t.Fatalf("hello = %v", hello)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	old, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/api/v1/ws?token="+token, nil)
	if err == nil {
		old.CloseNow()
		t.Fatal("a token in the URL opened a socket, want 401: proxies log URLs")
	}
	if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("token in the URL: %v, want 401", resp)
	}
}

func TestChangingThePINEndsTheAgentsSessions(t *testing.T) {
	s, _, _, srv := newTestSessions(t)
	_, token := login(t, srv, `{"agentId":"1001","pin":"1234"}`)
	_, other := login(t, srv, `{"agentId":"1002","pin":"1234"}`)
	ws, _, err := dialWith(t, srv, token)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	read(t, ws)

	if err := s.creds.Set(context.Background(), "1001", "5678", ""); err != nil {
		t.Fatal(err)
	}
	if !closedSoon(ws) {
		t.Error("the open socket stayed open after the PIN changed")
	}
	if _, resp, err := dialWith(t, srv, token); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("old token after a PIN change: %v %v, want 401", resp, err)
	}
	// Another agent's session is untouched.
	ws2, _, err := dialWith(t, srv, other)
	if err != nil {
		t.Fatalf("agent 1002's session ended with 1001's PIN: %v", err)
	}
	ws2.CloseNow()
	if status, _ := login(t, srv, `{"agentId":"1001","pin":"5678"}`); status != http.StatusOK {
		t.Fatalf("login with the new PIN = %d", status)
	}
}

func TestLogoutEndsTheAgentsSessions(t *testing.T) {
	_, _, _, srv := newTestSessions(t)
	_, token := login(t, srv, `{"agentId":"1001","pin":"1234"}`)
	_, tab2 := login(t, srv, `{"agentId":"1001","pin":"1234"}`)
	ws, _, err := dialWith(t, srv, tab2)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	read(t, ws)

	logout := func(token string) int {
		req, _ := http.NewRequest("DELETE", srv.URL+"/api/v1/sessions", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status := logout(token); status != http.StatusNoContent {
		t.Fatalf("logout = %d, want 204", status)
	}
	if !closedSoon(ws) {
		t.Error("the agent's other socket stayed open after logout")
	}
	for _, tok := range []string{token, tab2} {
		if _, resp, err := dialWith(t, srv, tok); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("token after logout: %v %v, want 401", resp, err)
		}
	}
	if status := logout(token); status != http.StatusNoContent {
		t.Errorf("second logout = %d, want 204 (already ended)", status)
	}
	if status := logout("forged.token"); status != http.StatusUnauthorized {
		t.Errorf("logout with a forged token = %d, want 401", status)
	}
}

// The widget's check after a socket that did not open: a plain GET with
// the token in the Authorization header says 401 only for an ended token.
func TestTheReconnectProbeTellsAnEndedSession(t *testing.T) {
	s, _, _, srv := newTestSessions(t)
	_, token := login(t, srv, `{"agentId":"1001","pin":"1234"}`)
	probe := func() int {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/ws", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status := probe(); status == http.StatusUnauthorized {
		t.Fatalf("probe with a live token = 401")
	}
	if err := s.creds.Remove(context.Background(), "1001"); err != nil {
		t.Fatal(err)
	}
	if status := probe(); status != http.StatusUnauthorized {
		t.Fatalf("probe after the PIN was removed = %d, want 401", status)
	}
	if status, _ := login(t, srv, `{"agentId":"1001","pin":"1234"}`); status != http.StatusUnauthorized {
		t.Fatalf("login after the PIN was removed = %d, want 401", status)
	}
}

// ctiload mints tokens with the session key for agents without a login;
// a token without a generation opens no socket for an agent that has one.
func TestATokenMintedWithoutALogin(t *testing.T) {
	s, _, _, srv := newTestSessions(t)
	minted, _ := s.signer.Issue("load-1")
	ws, _, err := dialWith(t, srv, minted)
	if err != nil {
		t.Fatalf("minted token for an agent without a login: %v", err)
	}
	ws.CloseNow()
	minted, _ = s.signer.Issue("1001")
	if _, resp, err := dialWith(t, srv, minted); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("minted token for an agent with a login: %v %v, want 401", resp, err)
	}
}

// A PIN changed by another process (the agent command, its own connection
// to the store) closes the sockets open here too, at the next check.
func TestAPINChangedElsewhereClosesOpenSockets(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ctibridge.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	creds := NewCredentials(store.NewAgents(db))
	creds.Set(ctx, "1001", "1234", "")
	signer, _ := NewSigner(testKey, time.Hour, nil)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := NewSessions(creds, signer, NewHub(&recordingHandler{}, log), log)
	s.recheck = 20 * time.Millisecond
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/sessions", s.ServeLogin)
	mux.HandleFunc("GET /api/v1/ws", s.ServeWS)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	_, token := login(t, srv, `{"agentId":"1001","pin":"1234"}`)
	ws, _, err := dialWith(t, srv, token)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	read(t, ws)
	time.Sleep(60 * time.Millisecond) // a check or two that changes nothing

	other, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := NewCredentials(store.NewAgents(other)).Set(ctx, "1001", "5678", ""); err != nil {
		t.Fatal(err)
	}
	if !closedSoon(ws) {
		t.Fatal("the socket stayed open after another process changed the PIN")
	}
}
