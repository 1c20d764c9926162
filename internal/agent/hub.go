package agent

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
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
	ws      *websocket.Conn
	out     chan []byte
	closed  chan struct{}
	once    sync.Once

	// writing is held by whoever writes to ws: the write loop, the hello,
	// or a sender writing straight to an idle socket. queued counts the
	// messages in out not yet written, so a sender writes straight only
	// when nothing it could overtake is waiting.
	writing sync.Mutex
	queued  atomic.Int32
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
//
// A connection with nothing queued and no write under way is written to
// right here, on the sender's goroutine, as a bare relay would: handing the
// message to the connection's write loop costs a goroutine switch that,
// on a busy server, waits behind whatever the sender does next (a pop
// waited for its event's store transaction). Otherwise the message is
// queued behind the others.
func (h *Hub) SendRaw(agentID string, data []byte) int {
	h.mu.RLock()
	conns := make([]*widgetConn, 0, len(h.agents[agentID]))
	for c := range h.agents[agentID] {
		conns = append(conns, c)
	}
	h.mu.RUnlock()
	n := 0
	for _, c := range conns {
		if c.writeIfIdle(data) || c.enqueue(data) {
			n++
			continue
		}
		h.log.Warn("widget too slow, dropping its connection", "agent", agentID)
		c.close()
	}
	return n
}

// directWriteTimeout bounds a write made on a sender's goroutine. A live
// widget's socket takes a small message at once; one that cannot in this
// time is not reading, and the failed write closes it (it reconnects and
// its hello carries what it missed).
const directWriteTimeout = time.Second

// writeIfIdle writes data straight to the socket when no other write is
// under way and nothing is queued, and reports whether it did.
func (c *widgetConn) writeIfIdle(data []byte) bool {
	if c.queued.Load() != 0 || !c.writing.TryLock() {
		return false
	}
	defer c.writing.Unlock()
	if c.queued.Load() != 0 {
		return false
	}
	select {
	case <-c.closed:
		return false
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), directWriteTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, data); err != nil {
		c.close()
		return false
	}
	return true
}

// enqueue hands data to the write loop, and reports false when the queue
// is full.
func (c *widgetConn) enqueue(data []byte) bool {
	c.queued.Add(1)
	select {
	case c.out <- data:
		return true
	default:
		c.queued.Add(-1)
		return false
	}
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
	c := &widgetConn{agentID: agentID, ws: ws, out: make(chan []byte, sendQueue), closed: make(chan struct{})}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Join before building hello, so nothing sent meanwhile (a pop) is
	// missed: holding the write lock, hello goes out first and what was
	// sent meanwhile waits in the queue behind it.
	c.writing.Lock()
	h.add(c)
	defer h.remove(c)
	if !h.writeHello(ctx, ws, agentID) {
		c.writing.Unlock()
		return
	}
	c.writing.Unlock()

	go func() {
		defer cancel()
		h.readLoop(ctx, ws, c)
	}()
	h.writeLoop(ctx, ws, c)
}

// writeHello builds the agent's hello and writes it, and reports whether
// the connection can go on.
func (h *Hub) writeHello(ctx context.Context, ws *websocket.Conn, agentID string) bool {
	hello, err := h.handler.Hello(ctx, agentID)
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
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := ws.Write(wctx, websocket.MessageText, data); err != nil {
		ws.CloseNow()
		return false
	}
	return true
}

func (h *Hub) writeLoop(ctx context.Context, ws *websocket.Conn, c *widgetConn) {
	for {
		select {
		case data := <-c.out:
			c.writing.Lock()
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := ws.Write(wctx, websocket.MessageText, data)
			cancel()
			c.queued.Add(-1)
			c.writing.Unlock()
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
	if !c.writeIfIdle(data) {
		c.enqueue(data)
	}
}
