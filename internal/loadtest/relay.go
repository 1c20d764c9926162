package loadtest

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"

	"github.com/coder/websocket"
)

// Relay is the floor the adapter is measured against: it receives an event
// by HTTP POST and pushes it, unchanged, to the WebSocket of the agent the
// event names. It checks no signature, keeps no state and stores nothing,
// so the difference between its latency and ctibridge's is what the
// adapter's work costs. It uses the same WebSocket library as the server.
type Relay struct {
	mu    sync.RWMutex
	conns map[string]*websocket.Conn
}

// NewRelay returns a relay with no agent connected.
func NewRelay() *Relay { return &Relay{conns: make(map[string]*websocket.Conn)} }

// Handler serves POST /api/v1/events (one event object; the response is
// 202 once it is written to the agent's socket, 404 if the agent has
// none), GET /api/v1/ws?agent=ID, and GET /healthz for the tool to
// know it has started.
func (r *Relay) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/events", r.serveEvent)
	mux.HandleFunc("GET /api/v1/ws", r.serveWS)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	return mux
}

// Connections returns how many agents have a socket.
func (r *Relay) Connections() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.conns)
}

func (r *Relay) serveEvent(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, 1<<20))
	if err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return
	}
	var head struct {
		AgentID string `json:"agentId"`
	}
	if err := json.Unmarshal(body, &head); err != nil || head.AgentID == "" {
		http.Error(w, "body: expected an event object with an agentId", http.StatusBadRequest)
		return
	}
	r.mu.RLock()
	ws := r.conns[head.AgentID]
	r.mu.RUnlock()
	if ws == nil {
		http.Error(w, "agentId: no socket for agent "+head.AgentID, http.StatusNotFound)
		return
	}
	if err := ws.Write(req.Context(), websocket.MessageText, body); err != nil {
		http.Error(w, "write to the agent's socket: "+err.Error(), http.StatusBadGateway)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (r *Relay) serveWS(w http.ResponseWriter, req *http.Request) {
	agentID := req.URL.Query().Get("agent")
	if agentID == "" {
		http.Error(w, "agent: query parameter is required", http.StatusBadRequest)
		return
	}
	ws, err := websocket.Accept(w, req, nil)
	if err != nil {
		return // Accept has answered
	}
	r.mu.Lock()
	if old := r.conns[agentID]; old != nil {
		old.CloseNow()
	}
	r.conns[agentID] = ws
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		if r.conns[agentID] == ws {
			delete(r.conns, agentID)
		}
		r.mu.Unlock()
	}()
	// Widget messages are read and dropped: a socket must be read for its
	// control frames, and the relay does nothing else with them.
	ctx := req.Context()
	for {
		if _, _, err := ws.Read(ctx); err != nil {
			ws.CloseNow()
			return
		}
	}
}
