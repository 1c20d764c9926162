package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ctibridge/ctibridge/internal/agent"
	"github.com/ctibridge/ctibridge/internal/sandbox"
	"github.com/ctibridge/ctibridge/internal/sandbox/sandboxtest"
	"github.com/ctibridge/ctibridge/internal/server"
	"github.com/ctibridge/ctibridge/internal/telephony"
)

const (
	webhookSecret = "test-webhook-secret-0123456789abcdef"
	sessionKey    = "test-session-key-0123456789abcdef0123"
	clientID      = "ctibridge-test"
	clientSecret  = "test-client-secret"
)

// harness is a ctibridge server with the sandbox CRM behind it, both on
// loopback.
type harness struct {
	t        *testing.T
	sandbox  *sandbox.Sandbox
	crmURL   string
	settings server.Settings
	srv      *server.Server
	url      string
	stop     context.CancelFunc
	done     chan struct{}
	// logs receives the server's info-level JSON log, as production writes it.
	logs *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent logging.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newHarness(t *testing.T, configPath string) *harness {
	t.Helper()
	return newHarnessWith(t, configPath)
}

// newHarnessWith is newHarness with the settings changed by each of change.
func newHarnessWith(t *testing.T, configPath string, change ...func(*server.Settings)) *harness {
	t.Helper()
	sb, crm := sandboxtest.NewTestServer(t, sandbox.Options{
		ExtraColumns: []string{"new_wrapcode"}, AlternateKey: "new_agentinteractionid",
		Clients: map[string]string{clientID: clientSecret}, RequireAuth: true, Seed: true, SeedContacts: 20,
	})
	s := server.DefaultSettings()
	s.ConfigPath = configPath
	s.StorePath = filepath.Join(t.TempDir(), "ctibridge.db")
	s.WebhookSecret = webhookSecret
	s.SessionKey = sessionKey
	s.OrgURL = crm.URL
	s.ClientID, s.ClientSecret = clientID, clientSecret
	s.TokenURL = crm.URL + "/test-tenant/oauth2/v2.0/token"
	for _, c := range change {
		c(&s)
	}
	h := &harness{t: t, sandbox: sb, crmURL: crm.URL, settings: s, logs: &syncBuffer{}}
	h.start()
	t.Cleanup(h.shutdown)
	return h
}

// start runs a server on the harness's settings (again, after a restart).
func (h *harness) start() {
	h.t.Helper()
	var out io.Writer = h.logs
	if testing.Verbose() {
		out = io.MultiWriter(h.logs, os.Stderr)
	}
	log := slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := server.New(context.Background(), h.settings, log, server.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := srv.Creds.Set(context.Background(), "1001", "1234", ""); err != nil {
		h.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.srv, h.url, h.stop, h.done = srv, "http://"+ln.Addr().String(), cancel, make(chan struct{})
	go func() {
		defer close(h.done)
		srv.Serve(ctx, ln)
	}()
}

func (h *harness) shutdown() {
	if h.stop == nil {
		return
	}
	h.stop()
	<-h.done
	h.srv.Close()
	h.stop = nil
}

// post sends a webhook body signed at ts (or unsigned when sign is false).
func (h *harness) post(body []byte, sign bool, ts time.Time) (int, string) {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.url+"/api/v1/events", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sign {
		tsHeader, sig := telephony.Sign([]byte(webhookSecret), ts, body)
		req.Header.Set("X-Ctibridge-Timestamp", tsHeader)
		req.Header.Set("X-Ctibridge-Signature", sig)
	}
	return h.do(req)
}

func (h *harness) do(req *http.Request) (int, string) {
	h.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// send posts a signed event and fails the test unless it is accepted.
func (h *harness) send(ev string) {
	h.t.Helper()
	if status, body := h.post([]byte(ev), true, time.Now()); status != http.StatusAccepted {
		h.t.Fatalf("event refused: %d %s\n%s", status, body, ev)
	}
}

// event builds an event JSON for interaction ix.
func event(id, typ, ix, callType, extra string) string {
	activity := `"customerCli":"+61299990000"`
	if extra != "" {
		activity += "," + extra
	}
	return fmt.Sprintf(`{"id":%q,"type":%q,"timestamp":%q,"agentId":"1001","interaction":{"agentInteractionId":%q,"callType":%q,"activity":{%s}}}`,
		id, typ, time.Now().UTC().Format(time.RFC3339Nano), ix, callType, activity)
}

// login returns a session token for agent 1001.
func (h *harness) login() string {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.url+"/api/v1/sessions", strings.NewReader(`{"agentId":"1001","pin":"1234"}`))
	status, body := h.do(req)
	if status != http.StatusOK {
		h.t.Fatalf("login: %d %s", status, body)
	}
	var out struct{ Token string }
	json.Unmarshal([]byte(body), &out)
	return out.Token
}

type widget struct {
	t  *testing.T
	ws *websocket.Conn
}

func (h *harness) connect(token string) *widget {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// As the widget does: the token in the subprotocols, never in the URL.
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.url, "http")+"/api/v1/ws",
		&websocket.DialOptions{Subprotocols: []string{agent.SubprotocolV1, agent.SubprotocolTokenPrefix + token}})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { ws.CloseNow() })
	return &widget{t: h.t, ws: ws}
}

// next returns the next message of the given type, skipping others.
func (w *widget) next(typ string) map[string]any {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, data, err := w.ws.Read(ctx)
		if err != nil {
			w.t.Fatalf("waiting for %q: %v", typ, err)
		}
		var m map[string]any
		json.Unmarshal(data, &m)
		if m["type"] == typ {
			return m
		}
	}
}

func (w *widget) send(msg string) {
	w.t.Helper()
	if err := w.ws.Write(context.Background(), websocket.MessageText, []byte(msg)); err != nil {
		w.t.Fatal(err)
	}
}

// phonecalls returns the sandbox's phone calls for interaction ix.
func (h *harness) phonecalls(ix string) []map[string]any {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.crmURL+"/api/data/v9.2/phonecalls?$select=subject,statecode,statuscode,new_wrapcode,_regardingobjectid_value&$filter="+url.QueryEscape("new_agentinteractionid eq '"+ix+"'"), nil)
	req.Header.Set("Authorization", "Bearer "+h.crmToken())
	status, body := h.do(req)
	if status != http.StatusOK {
		h.t.Fatalf("query sandbox: %d %s", status, body)
	}
	var out struct{ Value []map[string]any }
	json.Unmarshal([]byte(body), &out)
	return out.Value
}

func (h *harness) crmToken() string {
	h.t.Helper()
	resp, err := http.PostForm(h.crmURL+"/test-tenant/oauth2/v2.0/token", map[string][]string{
		"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}, "scope": {h.crmURL + "/.default"},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	return tok.AccessToken
}

// waitFor polls cond for up to 20 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) outboxDepth() int {
	n, err := h.srv.Outbox.Depth(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}
