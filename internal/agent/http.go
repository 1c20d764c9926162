package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Sessions serves the agent login and logout and the widget WebSocket.
type Sessions struct {
	creds  *Credentials
	signer *Signer
	hub    *Hub
	log    *slog.Logger
	// OriginPatterns are extra origins allowed to open the WebSocket
	// (host patterns as coder/websocket takes them); same-origin always is.
	OriginPatterns []string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// a login's source address (ParseTrustedProxies). Without them every
	// login behind a proxy comes from the proxy's address, and shares its
	// per-source limit.
	TrustedProxies []netip.Prefix
	// LoggedOut, when set, is told about an agent whose sessions ended in
	// this process (logout, PIN changed or removed): the telephony platform
	// should stop presenting it calls its widget can no longer take.
	LoggedOut func(agentID string)

	guard *loginGuard
	now   func() time.Time

	// RequireDynamicsUser refuses the login of an agent that has no
	// Dynamics user set (--impersonate-agents: its activities would be
	// written as the application user, not as the agent).
	RequireDynamicsUser bool

	// recheck is how often the sessions of open sockets are checked, for a
	// PIN changed by another process (the agent command).
	recheck  time.Duration
	liveMu   sync.Mutex
	live     map[*websocket.Conn]Claims
	checking bool // a goroutine runs checkLive
}

// NewSessions wires the login, logout and WebSocket handlers. A session
// that ends in this process (PIN changed or removed, logout) closes the
// agent's sockets through hub.
func NewSessions(creds *Credentials, signer *Signer, hub *Hub, log *slog.Logger) *Sessions {
	s := &Sessions{creds: creds, signer: signer, hub: hub, log: log, guard: newLoginGuard(), now: time.Now,
		recheck: 30 * time.Second, live: make(map[*websocket.Conn]Claims)}
	creds.ended = s.ended
	return s
}

// ended closes the agent's sockets and reports it logged out.
func (s *Sessions) ended(agentID string) {
	s.hub.CloseAgent(agentID)
	if s.LoggedOut != nil {
		s.LoggedOut(agentID)
	}
}

// Subprotocols of the widget socket. A browser cannot set headers on a
// WebSocket, so the widget offers [SubprotocolV1, SubprotocolTokenPrefix +
// token] and the server answers with SubprotocolV1 alone: the token never
// travels in a URL, which proxies and access logs keep.
const (
	SubprotocolV1          = "ctibridge.v1"
	SubprotocolTokenPrefix = "ctibridge.token."
)

type loginRequest struct {
	AgentID string `json:"agentId"`
	PIN     string `json:"pin"`
}

type loginResponse struct {
	Token     string    `json:"token"`
	AgentID   string    `json:"agentId"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// ServeLogin handles POST /api/v1/sessions.
//
// Each attempt costs a PIN hash, so it is refused before hashing when the
// agent id is locked out (5 failures in a row: 1 minute, doubling with
// each failure after a lockout up to an hour), when its source address or
// all sources together are over their rate, or when as many hashes run as
// the guard allows (503: it does not queue).
func (s *Sessions) ServeLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		WriteError(w, http.StatusBadRequest, "bad_request", "body: expected {\"agentId\": \"...\", \"pin\": \"...\"}: "+err.Error())
		return
	}
	if err := ValidateAgentID(req.AgentID); err != nil {
		WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if req.PIN == "" {
		WriteError(w, http.StatusBadRequest, "bad_request", "pin: is required")
		return
	}
	now := s.now()
	source := sourceOf(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), s.TrustedProxies)
	if d := s.guard.lockedFor(req.AgentID, now); d > 0 {
		s.refuseLocked(w, d)
		return
	}
	if ok, global, wait := s.guard.allowSource(source, now); !ok {
		retryAfter(w, wait)
		if global {
			s.log.Warn("login refused: all sources are over the login rate", "source", source.Addr().String())
			WriteError(w, http.StatusTooManyRequests, "too_many_attempts", "too many login attempts: try again in a few seconds")
			return
		}
		WriteError(w, http.StatusTooManyRequests, "too_many_attempts", "too many login attempts from this address: try again in a few seconds")
		return
	}
	if !s.guard.acquireHash() {
		retryAfter(w, time.Second)
		WriteError(w, http.StatusServiceUnavailable, "busy", "too many logins at once: try again in a second")
		return
	}
	defer s.guard.releaseHash()
	failures, locked := s.guard.attempt(req.AgentID, now)
	if locked > 0 {
		s.refuseLocked(w, locked)
		return
	}
	gen, err := s.creds.verify(r.Context(), req.AgentID, req.PIN)
	if err != nil {
		if errors.Is(err, ErrBadCredentials) {
			args := []any{"agent", req.AgentID, "source", source.Addr().String(), "failures", failures}
			if failures >= lockoutAfter {
				args = append(args, "lockedFor", lockoutDuration(failures-lockoutAfter).String())
			}
			s.log.Warn("login failed", args...)
			WriteError(w, http.StatusUnauthorized, "bad_credentials", err.Error())
			return
		}
		s.log.Error("verify agent", "err", err)
		WriteError(w, http.StatusInternalServerError, "internal", "could not check the credentials")
		return
	}
	s.guard.succeeded(req.AgentID)
	if s.RequireDynamicsUser {
		// Checked after the PIN, so it tells nothing to who does not know it.
		_, ok, err := s.creds.DynamicsUser(r.Context(), req.AgentID)
		if err != nil {
			s.log.Error("look up the agent's Dynamics user", "agent", req.AgentID, "err", err)
			WriteError(w, http.StatusServiceUnavailable, "unavailable", "could not check the agent's Dynamics user: try again")
			return
		}
		if !ok {
			s.log.Warn("login refused: the agent has no Dynamics user to write activities as", "agent", req.AgentID)
			WriteError(w, http.StatusForbidden, "no_dynamics_user",
				fmt.Sprintf("agent %s has no Dynamics user set, which --impersonate-agents needs: ask an administrator to run ctibridge agent dynamics-user %s <sign-in name>", req.AgentID, req.AgentID))
			return
		}
	}
	token, exp := s.signer.IssueSession(req.AgentID, gen)
	s.log.Info("agent logged in", "agent", req.AgentID, "source", source.Addr().String())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(loginResponse{Token: token, AgentID: req.AgentID, ExpiresAt: exp})
}

func (s *Sessions) refuseLocked(w http.ResponseWriter, d time.Duration) {
	retryAfter(w, d)
	WriteError(w, http.StatusTooManyRequests, "too_many_attempts",
		fmt.Sprintf("too many wrong PINs for this agent id: locked for %s", d.Round(time.Second)))
}

// retryAfter sets Retry-After to d in whole seconds, at least 1.
func retryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))))
}

// ServeLogout handles DELETE /api/v1/sessions with the session token in
// "Authorization: Bearer". It ends every session of the token's agent
// (all its tabs: they share one login) and closes their sockets.
func (s *Sessions) ServeLogout(w http.ResponseWriter, r *http.Request) {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	claims, err := s.signer.Verify(token)
	if err != nil {
		WriteError(w, http.StatusUnauthorized, "bad_token", err.Error())
		return
	}
	current, err := s.current(r.Context(), claims)
	if err != nil {
		s.log.Error("logout", "agent", claims.AgentID, "err", err)
		WriteError(w, http.StatusServiceUnavailable, "unavailable", "could not end the session: try again")
		return
	}
	if current {
		if err := s.creds.EndSessions(r.Context(), claims.AgentID); err != nil {
			s.log.Error("logout", "agent", claims.AgentID, "err", err)
			WriteError(w, http.StatusServiceUnavailable, "unavailable", "could not end the session: try again")
			return
		}
		s.hub.CloseAgent(claims.AgentID) // for a token minted without a login
		s.log.Info("agent logged out", "agent", claims.AgentID)
	}
	w.WriteHeader(http.StatusNoContent)
}

// current reports whether a token's session has not been ended: its
// generation is the agent's. A token minted without a login (generation 0)
// is current only for an agent id with no stored login.
func (s *Sessions) current(ctx context.Context, c Claims) (bool, error) {
	gen, found, err := s.creds.Generation(ctx, c.AgentID)
	if err != nil {
		return false, err
	}
	if !found {
		return c.Generation == 0, nil
	}
	return c.Generation == gen, nil
}

// currentOffStack is current run on a goroutine of its own, as the hub
// builds the hello: the store query's deep stack would otherwise stay with
// the caller, a socket's goroutine that then idles for hours, and cost
// every idle widget several KiB.
func (s *Sessions) currentOffStack(ctx context.Context, c Claims) (current bool, err error) {
	checked := make(chan struct{})
	go func() {
		defer close(checked)
		current, err = s.current(ctx, c)
	}()
	<-checked
	return current, err
}

// ServeWS handles GET /api/v1/ws: it checks the session token (in the
// Sec-WebSocket-Protocol header as SubprotocolTokenPrefix+token, or in
// "Authorization: Bearer" for clients that can set headers) before
// upgrading, so an unauthenticated client never gets a socket. A token in
// the URL is not read. A plain GET with a valid token is answered 426
// (not an upgrade), with an invalid or ended one 401: the widget asks so
// when a socket does not open. An agent with maxSocketsPerAgent sockets
// open is answered 429 too_many_sockets, also before the upgrade.
func (s *Sessions) ServeWS(w http.ResponseWriter, r *http.Request) {
	token := tokenFromSubprotocols(r.Header.Values("Sec-WebSocket-Protocol"))
	if token == "" {
		token, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	claims, err := s.signer.Verify(token)
	if err != nil {
		WriteError(w, http.StatusUnauthorized, "bad_token", err.Error()+": log in again")
		return
	}
	current, err := s.currentOffStack(r.Context(), claims)
	if err != nil {
		s.log.Error("check session", "agent", claims.AgentID, "err", err)
		WriteError(w, http.StatusServiceUnavailable, "unavailable", "could not check the session: try again")
		return
	}
	if !current {
		WriteError(w, http.StatusUnauthorized, "bad_token", "session has ended (PIN changed or logged out): log in again")
		return
	}
	// Past the cap the newest connect is refused, not the oldest socket
	// closed: a flood then cannot evict the tabs the agent works in, and
	// tabs past the cap do not close each other in turn as they reconnect.
	if !s.hub.reserve(claims.AgentID) {
		s.log.Warn("widget socket refused: too many for this agent", "agent", claims.AgentID, "max", maxSocketsPerAgent)
		WriteError(w, http.StatusTooManyRequests, "too_many_sockets",
			fmt.Sprintf("this agent has %d widget sockets open, the most allowed: close a tab or window that shows the widget", maxSocketsPerAgent))
		return
	}
	defer s.hub.release(claims.AgentID)
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.OriginPatterns, Subprotocols: []string{SubprotocolV1}})
	if err != nil {
		return // Accept has answered the client
	}
	s.watch(ws, claims)
	defer s.unwatch(ws)
	s.hub.Serve(r.Context(), ws, claims.AgentID)
}

// watch has an open socket's session checked every recheck, so a PIN
// changed or removed by another process closes it too. One goroutine
// checks them all while any is open: one indexed read per socket.
func (s *Sessions) watch(ws *websocket.Conn, c Claims) {
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	s.live[ws] = c
	if !s.checking {
		s.checking = true
		go s.checkLive()
	}
}

func (s *Sessions) unwatch(ws *websocket.Conn) {
	s.liveMu.Lock()
	delete(s.live, ws)
	s.liveMu.Unlock()
}

func (s *Sessions) checkLive() {
	t := time.NewTicker(s.recheck)
	defer t.Stop()
	for range t.C {
		s.liveMu.Lock()
		if len(s.live) == 0 {
			s.checking = false
			s.liveMu.Unlock()
			return
		}
		live := make(map[*websocket.Conn]Claims, len(s.live))
		maps.Copy(live, s.live)
		s.liveMu.Unlock()
		for ws, c := range live {
			if current, err := s.current(context.Background(), c); err != nil || current {
				continue // a store error ends no session
			}
			s.unwatch(ws)
			s.log.Info("session ended elsewhere: closing its socket", "agent", c.AgentID)
			go ws.Close(statusSessionEnded, "session ended: log in again")
		}
	}
}

// tokenFromSubprotocols finds SubprotocolTokenPrefix+token among the
// offered subprotocols (comma-separated, in one header or several).
func tokenFromSubprotocols(headers []string) string {
	for _, h := range headers {
		for p := range strings.SplitSeq(h, ",") {
			if t, ok := strings.CutPrefix(strings.TrimSpace(p), SubprotocolTokenPrefix); ok {
				return t
			}
		}
	}
	return ""
}

// WriteError writes the JSON error shape every ctibridge API uses.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
}
