package agent

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/coder/websocket"
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

// sendQueue is how many messages may wait for a slow widget before the
// hub drops the connection (the widget reconnects and gets a fresh hello).
const sendQueue = 16

// maxWidgetMessage bounds what a widget may send in one message.
const maxWidgetMessage = 64 << 10

// Hub routes messages to the widget connections of each agent.
type Hub struct {
	handler WidgetHandler
	log     *slog.Logger

	mu     sync.RWMutex
	agents map[string]map[*widgetConn]struct{}
}

type widgetConn struct {
	agentID string
	out     chan []byte
	closed  chan struct{}
	once    sync.Once
}

func (c *widgetConn) close() { c.once.Do(func() { close(c.closed) }) }

// NewHub returns an empty hub.
func NewHub(handler WidgetHandler, log *slog.Logger) *Hub {
	return &Hub{handler: handler, log: log, agents: make(map[string]map[*widgetConn]struct{})}
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
	defer h.mu.RUnlock()
	n := 0
	for c := range h.agents[agentID] {
		select {
		case c.out <- data:
			n++
		default:
			h.log.Warn("widget too slow, dropping its connection", "agent", agentID)
			c.close()
		}
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

// Serve runs one accepted WebSocket for agentID until it closes or ctx ends.
func (h *Hub) Serve(ctx context.Context, ws *websocket.Conn, agentID string) {
	ws.SetReadLimit(maxWidgetMessage)
	c := &widgetConn{agentID: agentID, out: make(chan []byte, sendQueue), closed: make(chan struct{})}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Join before building hello, so nothing sent meanwhile (a pop) is
	// missed: it waits in the queue, and hello is written straight to the
	// socket ahead of it, the first message the widget sees.
	h.add(c)
	defer h.remove(c)
	hello, err := h.handler.Hello(ctx, agentID)
	if err != nil {
		h.log.Error("build hello", "agent", agentID, "err", err)
		ws.Close(websocket.StatusInternalError, "could not load agent state")
		return
	}
	data, err := json.Marshal(hello)
	if err != nil {
		ws.Close(websocket.StatusInternalError, "could not encode agent state")
		return
	}
	wctx, cancelWrite := context.WithTimeout(ctx, 10*time.Second)
	err = ws.Write(wctx, websocket.MessageText, data)
	cancelWrite()
	if err != nil {
		ws.CloseNow()
		return
	}

	go func() {
		defer cancel()
		h.readLoop(ctx, ws, c)
	}()
	h.writeLoop(ctx, ws, c)
}

func (h *Hub) writeLoop(ctx context.Context, ws *websocket.Conn, c *widgetConn) {
	for {
		select {
		case data := <-c.out:
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := ws.Write(wctx, websocket.MessageText, data)
			cancel()
			if err != nil {
				ws.CloseNow()
				return
			}
		case <-c.closed:
			ws.Close(websocket.StatusPolicyViolation, "too slow: reconnect")
			return
		case <-ctx.Done():
			ws.Close(websocket.StatusNormalClosure, "")
			return
		}
	}
}

func (h *Hub) readLoop(ctx context.Context, ws *websocket.Conn, c *widgetConn) {
	for {
		typ, data, err := ws.Read(ctx)
		if err != nil {
			return
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
		}
	}
}

func (h *Hub) reply(c *widgetConn, ref, code, message string) {
	data, _ := json.Marshal(map[string]string{"type": "error", "ref": ref, "code": code, "message": message})
	select {
	case c.out <- data:
	default:
	}
}
