package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ctibridge/ctibridge/internal/agent"
	"github.com/ctibridge/ctibridge/internal/store"
)

type helloOnly struct{}

func (helloOnly) Hello(context.Context, string) (any, error) {
	return map[string]string{"type": "hello"}, nil
}
func (helloOnly) HandleWidgetMessage(context.Context, string, agent.WidgetMessage) error {
	return nil
}

// A PIN changed with "ctibridge agent set" (another process, its own
// connection to the store) ends the sessions the running server issued.
func TestAgentSetEndsTheAgentsSessionsInTheServer(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ctibridge.db")
	if code, _, stderr := run("agent", "--store", path, "set", "1001", "1234"); code != 0 {
		t.Fatalf("agent set: %d %s", code, stderr)
	}
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	signer, _ := agent.NewSigner([]byte("0123456789abcdef0123456789abcdef"), time.Hour, nil)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := agent.NewSessions(agent.NewCredentials(store.NewAgents(db)), signer, agent.NewHub(helloOnly{}, log), log)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/sessions", s.ServeLogin)
	mux.HandleFunc("GET /api/v1/ws", s.ServeWS)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Post(srv.URL+"/api/v1/sessions", "application/json", strings.NewReader(`{"agentId":"1001","pin":"1234"}`))
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	dial := func() (*http.Response, error) {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		ws, resp, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/api/v1/ws",
			&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + out.Token}}})
		if err == nil {
			ws.CloseNow()
		}
		return resp, err
	}
	if _, err := dial(); err != nil {
		t.Fatalf("socket before the PIN change: %v", err)
	}
	if code, _, stderr := run("agent", "--store", path, "set", "1001", "5678"); code != 0 {
		t.Fatalf("agent set: %d %s", code, stderr)
	}
	if resp, err := dial(); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("token issued before \"agent set\" opened a socket (%v), want 401", err)
	}

	resp, err = http.Post(srv.URL+"/api/v1/sessions", "application/json", strings.NewReader(`{"agentId":"1001","pin":"5678"}`))
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if _, err := dial(); err != nil {
		t.Fatalf("socket after logging in with the new PIN: %v", err)
	}
	if code, stdout, stderr := run("agent", "--store", path, "remove", "1001"); code != 0 || !strings.Contains(stdout, "can no longer log in") {
		t.Fatalf("agent remove: %d %s%s", code, stdout, stderr)
	}
	if resp, err := dial(); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("token issued before \"agent remove\" opened a socket (%v), want 401", err)
	}
	if code, _, stderr := run("agent", "--store", path, "remove", "nobody"); code != 1 || !strings.Contains(stderr, "no such agent") {
		t.Fatalf("agent remove of an unknown agent: %d %s", code, stderr)
	}
}
