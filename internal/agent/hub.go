package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"
)

// WidgetHandler is what the hub needs from the rest of the adapter.
type WidgetHandler interface {
	// Hello returns the first message a (re)connecting widget gets: the
	// agent's state and current call.
	Hello(ctx context.Context, agentID string) (any, error)
	// HandleWidgetMessage processes one message from an agent's widget. An
	// error is sent back to that widget as an "error" message.
	HandleWidgetMessage(ctx context.Context, agentID string, msg WidgetMessage) error
}

// WidgetMessage is one message from a widget: its type, the optional ref the
// widget wants echoed in an error reply, and the whole JSON object.
type WidgetMessage struct {
	Type string          `json:"type"`
	Ref  string          `json:"ref,omitempty"`
	Raw  json.RawMessage `json:"-"`
}

// maxWidgetMessage bounds what a widget may send in one message.
const maxWidgetMessage = 64 << 10

// A widget socket may send widgetMessageRate messages a second, in bursts
// of widgetMessageBurst. A real widget sends a pop result, a few relates, a
// wrap and its telephony events: the burst covers the per-agent burst of
// telephony events (60, internal/telephony) that a widget resends after a
// reconnect, plus a call's own messages, so the socket limit never starves
// events the event limit would take. A message over the limit is answered
// "too_many_messages" and not processed; a socket still over it after
// widgetFloodClose of excess is closed (policy violation).
const (
	widgetMessageRate  = 20
	widgetMessageBurst = 80
	widgetFloodClose   = 5 * time.Second
)

// maxSocketsPerAgent is how many widget sockets one agent may have open.
// An agent has a socket per tab that shows the widget: a few. One agent
// opened 1,000; a connect past the cap is refused before the upgrade.
const maxSocketsPerAgent = 10

// Hub routes messages to the widget connections of each agent.
type Hub struct {
	handler WidgetHandler
	log     *slog.Logger

	mu     sync.RWMutex
	agents map[string]map[*widgetConn]struct{}
	// sockets counts each agent's sockets from before the upgrade (reserve)
	// until they are served no more, so concurrent connects cannot pass
	// the cap together.
	sockets map[string]int
}

// NewHub returns an empty hub.
func NewHub(handler WidgetHandler, log *slog.Logger) *Hub {
	return &Hub{handler: handler, log: log, agents: make(map[string]map[*widgetConn]struct{}),
		sockets: make(map[string]int)}
}

// Send delivers msg to every connection of agentID and returns how many
// connections it was queued on. It never blocks on a slow widget.
func (h *Hub) Send(agentID string, msg any) int {
	data, err := json.Marshal(msg)
	if err != nil {
		h.log.Error("encode widget message", "err", err)
		return 0
	}
	return h.SendRaw(agentID, data)
}

// SendRaw is Send for an already encoded message.
func (h *Hub) SendRaw(agentID string, data []byte) int {
	h.mu.RLock()
	conns := make([]*widgetConn, 0, len(h.agents[agentID]))
	for c := range h.agents[agentID] {
		conns = append(conns, c)
	}
	h.mu.RUnlock()
	n := 0
	for _, c := range conns {
		if c.send(data) {
			n++
			continue
		}
		h.log.Warn("widget too slow, dropping its connection", "agent", agentID)
		c.close(websocket.StatusPolicyViolation, "too slow: reconnect")
	}
	return n
}

// Connected reports whether agentID has at least one widget connected.
func (h *Hub) Connected(agentID string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.agents[agentID]) > 0
}

// Connections returns how many widget connections are open.
func (h *Hub) Connections() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, conns := range h.agents {
		n += len(conns)
	}
	return n
}

// reserve takes one of agentID's maxSocketsPerAgent places, and reports
// false when they are all taken. A place taken is given back by release.
func (h *Hub) reserve(agentID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sockets[agentID] >= maxSocketsPerAgent {
		return false
	}
	h.sockets[agentID]++
	return true
}

func (h *Hub) release(agentID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sockets[agentID] <= 1 {
		delete(h.sockets, agentID)
		return
	}
	h.sockets[agentID]--
}

func (h *Hub) add(c *widgetConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	conns := h.agents[c.agentID]
	if conns == nil {
		conns = make(map[*widgetConn]struct{}, 1)
		h.agents[c.agentID] = conns
	}
	conns[c] = struct{}{}
}

func (h *Hub) remove(c *widgetConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.agents[c.agentID], c)
	if len(h.agents[c.agentID]) == 0 {
		delete(h.agents, c.agentID)
	}
}

// Serve runs one accepted WebSocket for agentID until it closes or ctx
// ends. The calling goroutine reads the widget's messages; writes happen on
// the goroutine of whoever sends, or on a short-lived flusher when the
// socket is busy (see widgetConn), so an idle connection costs one
// goroutine.
func (h *Hub) Serve(ctx context.Context, ws *websocket.Conn, agentID string) {
	ws.SetReadLimit(maxWidgetMessage)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := newWidgetConn(ctx, agentID, ws)
	defer c.close(websocket.StatusNormalClosure, "")

	// Join before building hello, so nothing sent meanwhile (a pop) is
	// missed: holding the write lock, hello goes out first and what was
	// sent meanwhile waits in the queue behind it.
	c.writing.Lock()
	h.add(c)
	defer h.remove(c)
	ok := h.writeHello(ctx, ws, agentID)
	c.writing.Unlock()
	if !ok {
		return
	}
	h.readLoop(ctx, ws, c)
}

// writeHello builds the agent's hello and writes it, and reports whether
// the connection can go on.
func (h *Hub) writeHello(ctx context.Context, ws *websocket.Conn, agentID string) bool {
	// Built on a goroutine of its own: the store query's deep stack would
	// otherwise stay with this connection's goroutine, which then idles on
	// a read for hours, and cost every idle widget several KiB.
	var hello any
	var err error
	built := make(chan struct{})
	go func() {
		defer close(built)
		hello, err = h.handler.Hello(ctx, agentID)
	}()
	<-built
	if err != nil {
		h.log.Error("build hello", "agent", agentID, "err", err)
		ws.Close(websocket.StatusInternalError, "could not load agent state")
		return false
	}
	data, err := json.Marshal(hello)
	if err != nil {
		ws.Close(websocket.StatusInternalError, "could not encode agent state")
		return false
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if err := ws.Write(wctx, websocket.MessageText, data); err != nil {
		ws.CloseNow()
		return false
	}
	return true
}

func (h *Hub) readLoop(ctx context.Context, ws *websocket.Conn, c *widgetConn) {
	limit := rate.NewLimiter(widgetMessageRate, widgetMessageBurst)
	var flood floodClock
	for {
		typ, data, err := ws.Read(ctx)
		if err != nil {
			return
		}
		if now := time.Now(); !limit.AllowN(now, 1) {
			if flood.excess(now) >= widgetFloodClose {
				h.log.Warn("widget keeps sending too many messages: closing its socket", "agent", c.agentID)
				c.close(websocket.StatusPolicyViolation, "too many messages")
				return
			}
			var msg WidgetMessage
			json.Unmarshal(data, &msg) // for its ref, if it has one
			h.reply(c, msg.Ref, "too_many_messages",
				fmt.Sprintf("more than %d messages a second on this socket: the message was not processed; send it again in a moment", widgetMessageRate))
			continue
		}
		if typ != websocket.MessageText {
			h.reply(c, "", "bad_message", "send JSON text messages")
			continue
		}
		var msg WidgetMessage
		if err := json.Unmarshal(data, &msg); err != nil || msg.Type == "" {
			h.reply(c, "", "bad_message", "a widget message must be a JSON object with a \"type\"")
			continue
		}
		msg.Raw = data
		if err := h.handler.HandleWidgetMessage(ctx, c.agentID, msg); err != nil {
			code := "refused"
			var coded interface{ ErrorCode() string }
			if errors.As(err, &coded) {
				code = coded.ErrorCode()
			}
			h.reply(c, msg.Ref, code, err.Error())
			var closing interface{ ClosesSocket() bool }
			if errors.As(err, &closing) && closing.ClosesSocket() {
				h.log.Warn("widget socket closed: its message was refused", "agent", c.agentID, "code", code)
				c.close(statusRefused, "refused: "+code)
				return
			}
		} else if msg.Ref != "" {
			// The widget keeps what it reported until it is acknowledged
			// (telephony events), and sends it again after a reconnect.
			c.send(ackMessage(msg.Ref))
		}
	}
}

// floodClock measures how long a socket has been over its message rate:
// since the first refusal that did not follow another within a second, so
// the messages a flooder gets through as tokens refill do not reset it.
type floodClock struct {
	since, last time.Time
}

// excess records a refused message at now and returns how long the excess
// has lasted.
func (f *floodClock) excess(now time.Time) time.Duration {
	if f.since.IsZero() || now.Sub(f.last) > time.Second {
		f.since = now
	}
	f.last = now
	return now.Sub(f.since)
}

// ackMessage is {"type": "ack", "ref": ref}: the message with that ref was
// processed, and what it changed is stored.
func ackMessage(ref string) []byte {
	data, _ := json.Marshal(struct {
		Type string `json:"type"`
		Ref  string `json:"ref"`
	}{"ack", ref})
	return data
}

func (h *Hub) reply(c *widgetConn, ref, code, message string) {
	data, _ := json.Marshal(map[string]string{"type": "error", "ref": ref, "code": code, "message": message})
	c.send(data)
}

// statusSessionEnded closes the sockets of a session that was ended (PIN
// changed or removed, logout): the widget goes back to its login form
// rather than reconnecting. 4000-4999 are for applications (RFC 6455).
const statusSessionEnded websocket.StatusCode = 4001

// statusRefused closes a socket whose widget sent what ends its session
// here (a CIF user other than the agent's Dynamics user): the widget shows
// the error it got just before and its login form, and does not reconnect.
const statusRefused websocket.StatusCode = 4003

// CloseAgent closes every connection of agentID, whose sessions have ended,
// and returns how many it closed.
func (h *Hub) CloseAgent(agentID string) int {
	h.mu.RLock()
	conns := make([]*widgetConn, 0, len(h.agents[agentID]))
	for c := range h.agents[agentID] {
		conns = append(conns, c)
	}
	h.mu.RUnlock()
	for _, c := range conns {
		c.close(statusSessionEnded, "session ended: log in again")
	}
	return len(conns)
}
