package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ctibridge/ctibridge/internal/store"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestTokenVerify(t *testing.T) {
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	signer, err := NewSigner(testKey, time.Hour, clock)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewSigner([]byte("ffffffffffffffffffffffffffffffff"), time.Hour, clock)
	token, _ := signer.Issue("1001")
	payload, sig, _ := strings.Cut(token, ".")
	forgedPayload := strings.Replace(payload, payload[:4], "eyJz", 1)
	otherToken, _ := other.Issue("1001")

	tests := []struct {
		name    string
		token   string
		advance time.Duration
		want    error
	}{
		{name: "valid token", token: token},
		{name: "expired token", token: token, advance: time.Hour, want: ErrTokenExpired},
		{name: "signed by another key", token: otherToken, want: ErrTokenInvalid},
		{name: "no signature", token: payload, want: ErrTokenInvalid},
		{name: "empty", token: "", want: ErrTokenInvalid},
		{name: "tampered payload", token: forgedPayload + "x." + sig, want: ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC).Add(tt.advance)
			claims, err := signer.Verify(tt.token)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			if tt.want == nil && claims.AgentID != "1001" {
				t.Fatalf("agent = %q, want 1001", claims.AgentID)
			}
		})
	}
}

func TestNewSignerRefusesShortKey(t *testing.T) {
	if _, err := NewSigner([]byte("short"), time.Hour, nil); err == nil {
		t.Fatal("want an error for a short key")
	}
}

func TestCredentials(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	creds := NewCredentials(store.NewAgents(db))
	if err := creds.Set(ctx, "1001", "4321", "Ada"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, agent, pin string
		want             error
	}{
		{"right pin", "1001", "4321", nil},
		{"wrong pin", "1001", "4322", ErrBadCredentials},
		{"unknown agent", "9999", "4321", ErrBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := creds.Verify(ctx, tt.agent, tt.pin); !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
	if err := creds.Set(ctx, "bad id", "4321", ""); err == nil || !strings.Contains(err.Error(), "agentId") {
		t.Fatalf("Set with a space in the id = %v, want an agentId error", err)
	}
}

// recordingHandler is a WidgetHandler that answers hello with the agent id
// and records every widget message.
type recordingHandler struct {
	mu   sync.Mutex
	msgs []string
}

func (h *recordingHandler) Hello(_ context.Context, agentID string) (any, error) {
	return map[string]string{"type": "hello", "agent": agentID}, nil
}

func (h *recordingHandler) HandleWidgetMessage(_ context.Context, agentID string, msg WidgetMessage) error {
	h.mu.Lock()
	h.msgs = append(h.msgs, agentID+":"+msg.Type)
	h.mu.Unlock()
	if msg.Type == "relate" {
		return errors.New("activity not found")
	}
	return nil
}

func newTestSessions(t *testing.T) (*Sessions, *Hub, *recordingHandler, *httptest.Server) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	creds := NewCredentials(store.NewAgents(db))
	for _, id := range []string{"1001", "1002"} {
		if err := creds.Set(ctx, id, "1234", ""); err != nil {
			t.Fatal(err)
		}
	}
	signer, _ := NewSigner(testKey, time.Hour, nil)
	handler := &recordingHandler{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub := NewHub(handler, log)
	s := NewSessions(creds, signer, hub, log)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/sessions", s.ServeLogin)
	mux.HandleFunc("GET /api/v1/ws", s.ServeWS)
	mux.HandleFunc("DELETE /api/v1/sessions", s.ServeLogout)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return s, hub, handler, srv
}

func login(t *testing.T, srv *httptest.Server, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(srv.URL+"/api/v1/sessions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Token string                   `json:"token"`
		Error struct{ Message string } `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	if out.Token != "" {
		return resp.StatusCode, out.Token
	}
	return resp.StatusCode, out.Error.Message
}

func TestLogin(t *testing.T) {
	_, _, _, srv := newTestSessions(t)
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantText   string
	}{
		{"right pin gets a token", `{"agentId":"1001","pin":"1234"}`, 200, "."},
		{"wrong pin", `{"agentId":"1001","pin":"0000"}`, 401, "unknown agent id or wrong PIN"},
		{"missing pin", `{"agentId":"1001"}`, 400, "pin: is required"},
		{"missing agent", `{"pin":"1234"}`, 400, "agentId: is required"},
		{"not JSON", `agent=1001`, 400, "body:"},
		{"unknown field", `{"agentId":"1001","pin":"1234","admin":true}`, 400, "admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, text := login(t, srv, tt.body)
			if status != tt.wantStatus || !strings.Contains(text, tt.wantText) {
				t.Fatalf("login = %d %q, want %d containing %q", status, text, tt.wantStatus, tt.wantText)
			}
		})
	}
}

func TestLoginIsRateLimitedPerAgent(t *testing.T) {
	_, _, _, srv := newTestSessions(t)
	for i := 0; i < 5; i++ {
		login(t, srv, `{"agentId":"1002","pin":"0000"}`)
	}
	if status, _ := login(t, srv, `{"agentId":"1002","pin":"1234"}`); status != http.StatusTooManyRequests {
		t.Fatalf("6th attempt within a minute = %d, want 429", status)
	}
	if status, _ := login(t, srv, `{"agentId":"1001","pin":"1234"}`); status != http.StatusOK {
		t.Fatalf("another agent's login = %d, want 200", status)
	}
}

func dial(t *testing.T, srv *httptest.Server, token string) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/v1/ws"
	return websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{SubprotocolV1, SubprotocolTokenPrefix + token}})
}

func read(t *testing.T, ws *websocket.Conn) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, data, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m map[string]string
	json.Unmarshal(data, &m)
	return m
}

func TestWebSocketRefusesBadTokens(t *testing.T) {
	_, _, _, srv := newTestSessions(t)
	for _, token := range []string{"", "garbage", "eyJzdWIiOiIxMDAxIn0.AAAA"} {
		_, resp, err := dial(t, srv, token)
		if err == nil {
			t.Fatalf("token %q: socket opened, want 401", token)
		}
		if resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("token %q: response %v, want 401", token, resp)
		}
	}
}

func TestMessagesReachOnlyTheAddressedAgent(t *testing.T) {
	_, hub, handler, srv := newTestSessions(t)
	_, token1 := login(t, srv, `{"agentId":"1001","pin":"1234"}`)
	_, token2 := login(t, srv, `{"agentId":"1002","pin":"1234"}`)
	ws1, _, err := dial(t, srv, token1)
	if err != nil {
		t.Fatal(err)
	}
	defer ws1.CloseNow()
	ws2, _, err := dial(t, srv, token2)
	if err != nil {
		t.Fatal(err)
	}
	defer ws2.CloseNow()
	if hello := read(t, ws1); hello["type"] != "hello" || hello["agent"] != "1001" {
		t.Fatalf("first message = %v, want hello for 1001", hello)
	}
	if hello := read(t, ws2); hello["agent"] != "1002" {
		t.Fatalf("first message = %v, want hello for 1002", hello)
	}

	if n := hub.Send("1002", map[string]string{"type": "pop", "for": "1002"}); n != 1 {
		t.Fatalf("Send delivered to %d connections, want 1", n)
	}
	hub.Send("1001", map[string]string{"type": "pop", "for": "1001"})
	if got := read(t, ws1); got["for"] != "1001" {
		t.Fatalf("agent 1001 got %v", got)
	}
	if got := read(t, ws2); got["for"] != "1002" {
		t.Fatalf("agent 1002 got %v", got)
	}

	// A widget message reaches the handler under the token's agent id, and
	// a refused one comes back as an error with the ref.
	ctx := context.Background()
	ws1.Write(ctx, websocket.MessageText, []byte(`{"type":"relate","ref":"r1","agentId":"1002"}`))
	reply := read(t, ws1)
	if reply["type"] != "error" || reply["ref"] != "r1" || reply["message"] != "activity not found" {
		t.Fatalf("reply = %v, want error for ref r1", reply)
	}
	ws1.Write(ctx, websocket.MessageText, []byte(`not json`))
	if reply := read(t, ws1); reply["code"] != "bad_message" {
		t.Fatalf("reply to garbage = %v, want bad_message", reply)
	}
	handler.mu.Lock()
	got := strings.Join(handler.msgs, ",")
	handler.mu.Unlock()
	if got != "1001:relate" {
		t.Fatalf("handler saw %q, want 1001:relate (the token's agent, not the body's)", got)
	}
}

func TestReconnectGetsHelloAgain(t *testing.T) {
	_, hub, _, srv := newTestSessions(t)
	_, token := login(t, srv, `{"agentId":"1001","pin":"1234"}`)
	ws, _, err := dial(t, srv, token)
	if err != nil {
		t.Fatal(err)
	}
	read(t, ws)
	ws.Close(websocket.StatusNormalClosure, "")
	waitFor(t, func() bool { return !hub.Connected("1001") })
	ws, _, err = dial(t, srv, token)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if hello := read(t, ws); hello["type"] != "hello" {
		t.Fatalf("after reconnect got %v, want hello", hello)
	}
	waitFor(t, func() bool { return hub.Connected("1001") })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// slowHelloHandler holds every hello until release is closed.
type slowHelloHandler struct {
	recordingHandler
	building chan struct{}
	release  chan struct{}
}

func (h *slowHelloHandler) Hello(ctx context.Context, agentID string) (any, error) {
	close(h.building)
	<-h.release
	return h.recordingHandler.Hello(ctx, agentID)
}

func TestMessagesSentWhileHelloIsBuiltFollowItInOrder(t *testing.T) {
	handler := &slowHelloHandler{building: make(chan struct{}), release: make(chan struct{})}
	hub := NewHub(handler, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ws, _, err := dial(t, serveOne(t, hub), "")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()

	// Sent while the hello is being built: these wait behind it. Sent just
	// after: these may go straight to the socket, but never ahead of the
	// ones waiting.
	<-handler.building
	for i := range 5 {
		if n := hub.Send("1001", map[string]string{"type": "pop", "n": strconv.Itoa(i)}); n != 1 {
			t.Fatalf("message %d reached %d connections, want 1", i, n)
		}
	}
	close(handler.release)
	for i := 5; i < 10; i++ {
		hub.Send("1001", map[string]string{"type": "pop", "n": strconv.Itoa(i)})
	}

	if hello := read(t, ws); hello["type"] != "hello" {
		t.Fatalf("first message = %v, want hello", hello)
	}
	for i := range 10 {
		if got := read(t, ws); got["n"] != strconv.Itoa(i) {
			t.Fatalf("message %d = %v, want n=%d: messages overtook each other", i, got, i)
		}
	}
}

func TestAMessageWaitsBehindQueuedOnesInsteadOfOvertakingThem(t *testing.T) {
	hub := NewHub(&recordingHandler{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	// A connection whose flusher has not taken the queue yet: the socket is
	// free, but two messages wait. (No socket: writing to it would be the
	// bug.)
	c := newWidgetConn(context.Background(), "1001", nil)
	c.flushing.Store(true)
	hub.add(c)
	c.enqueue([]byte("1"))
	c.enqueue([]byte("2"))

	if n := hub.SendRaw("1001", []byte("3")); n != 1 {
		t.Fatalf("SendRaw reached %d connections, want 1", n)
	}
	for _, want := range []string{"1", "2", "3"} {
		if got := string(<-c.out); got != want {
			t.Fatalf("queue holds %q where %q was due", got, want)
		}
	}
}

// serveOne serves every WebSocket as agent 1001 on hub.
func serveOne(t *testing.T, hub *Hub) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		hub.Serve(r.Context(), ws, "1001")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// connectedWidget serves agent 1001 on a new hub and returns the hub and a
// widget socket that has read its hello.
func connectedWidget(t *testing.T) (*Hub, *websocket.Conn) {
	t.Helper()
	hub := NewHub(&recordingHandler{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ws, _, err := dial(t, serveOne(t, hub), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	read(t, ws) // hello
	return hub, ws
}

func TestConcurrentSendersEachKeepTheirOrder(t *testing.T) {
	hub, ws := connectedWidget(t)

	// Four senders at once: some messages go straight to the socket, some
	// wait for the flusher; at most sendQueue wait, so none is dropped.
	const senders, each = 4, sendQueue / 4
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for n := range each {
				hub.Send("1001", map[string]string{"type": "pop", "s": strconv.Itoa(s), "n": strconv.Itoa(n)})
			}
		})
	}
	next := make(map[string]int)
	for range senders * each {
		got := read(t, ws)
		if want := strconv.Itoa(next[got["s"]]); got["n"] != want {
			t.Fatalf("sender %s: got message %s, want %s", got["s"], got["n"], want)
		}
		next[got["s"]]++
	}
	wg.Wait()
}

func TestAWidgetThatDoesNotReadIsDropped(t *testing.T) {
	hub, _ := connectedWidget(t) // the widget reads its hello, then nothing more
	waitFor(t, func() bool { return hub.Connected("1001") })

	// Enough to fill the socket's buffers many times over.
	big := []byte(`{"type":"pop","pad":"` + strings.Repeat("x", 256<<10) + `"}`)
	for range 200 {
		hub.SendRaw("1001", big)
	}
	waitFor(t, func() bool { return !hub.Connected("1001") })
}
