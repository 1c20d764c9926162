package agent

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"
)

// Sessions serves the agent login and the widget WebSocket.
type Sessions struct {
	creds  *Credentials
	signer *Signer
	hub    *Hub
	log    *slog.Logger
	// OriginPatterns are extra origins allowed to open the WebSocket
	// (host patterns as coder/websocket takes them); same-origin always is.
	OriginPatterns []string

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// NewSessions wires the login and WebSocket handlers.
func NewSessions(creds *Credentials, signer *Signer, hub *Hub, log *slog.Logger) *Sessions {
	return &Sessions{creds: creds, signer: signer, hub: hub, log: log, limiters: make(map[string]*rate.Limiter)}
}

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
	if !s.limiter(req.AgentID).Allow() {
		w.Header().Set("Retry-After", "60")
		WriteError(w, http.StatusTooManyRequests, "too_many_attempts", "too many login attempts for this agent id: wait a minute")
		return
	}
	if err := s.creds.Verify(r.Context(), req.AgentID, req.PIN); err != nil {
		if errors.Is(err, ErrBadCredentials) {
			WriteError(w, http.StatusUnauthorized, "bad_credentials", err.Error())
			return
		}
		s.log.Error("verify agent", "err", err)
		WriteError(w, http.StatusInternalServerError, "internal", "could not check the credentials")
		return
	}
	token, exp := s.signer.Issue(req.AgentID)
	s.log.Info("agent logged in", "agent", req.AgentID)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(loginResponse{Token: token, AgentID: req.AgentID, ExpiresAt: exp})
}

// limiter allows 5 login attempts per agent id per minute, so a 4-digit PIN
// cannot be guessed online.
func (s *Sessions) limiter(agentID string) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.limiters[agentID]
	if l == nil {
		if len(s.limiters) > 100_000 {
			clear(s.limiters) // bound memory against id spraying
		}
		l = rate.NewLimiter(rate.Every(12*time.Second), 5)
		s.limiters[agentID] = l
	}
	return l
}

// ServeWS handles GET /api/v1/ws?token=...: it checks the session token
// before upgrading, so an unauthenticated client never gets a socket.
func (s *Sessions) ServeWS(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if token == "" {
		token, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	claims, err := s.signer.Verify(token)
	if err != nil {
		WriteError(w, http.StatusUnauthorized, "bad_token", err.Error()+": log in again")
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.OriginPatterns})
	if err != nil {
		return // Accept has answered the client
	}
	s.hub.Serve(r.Context(), ws, claims.AgentID)
}

// WriteError writes the JSON error shape every ctibridge API uses.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
}
