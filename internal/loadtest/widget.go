package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/ctibridge/ctibridge/internal/agent"
)

// widgets are the simulated agent widgets of a run: one WebSocket each,
// answering pops and wrapping calls as the CIF widget does.
type widgets struct {
	sc      Scenario
	relay   bool // the target is the bare relay: messages are raw events
	url     func(agentID string) string
	token   func(agentID string) string // nil: the socket carries none (relay)
	track   *tracker
	http    *http.Client
	persist bool // reconnect after a lost connection (fault run)

	all []*widget

	connected  atomic.Int64 // sockets open now
	reconnects atomic.Int64
	sendFails  atomic.Int64
}

type widget struct {
	pool    *widgets
	agentID string
	ready   chan struct{} // closed at the first hello (server) or open (relay)
	once    sync.Once

	mu   sync.Mutex
	conn *websocket.Conn

	// wrapped is 1 + the call whose wrap this widget sent last (0: none).
	wrapped atomic.Int64
}

// start dials every widget, at most parallel at a time, and returns once
// each has its first hello (or is open, for the relay) or failed.
func (p *widgets) start(ctx context.Context, parallel int) error {
	p.all = make([]*widget, p.sc.Agents)
	for i := range p.all {
		p.all[i] = &widget{pool: p, agentID: AgentID(i), ready: make(chan struct{})}
	}
	sem := make(chan struct{}, parallel)
	errc := make(chan error, len(p.all))
	for _, w := range p.all {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		go func() {
			conn, err := w.dial(ctx)
			if err != nil {
				<-sem
				errc <- err
				return
			}
			go w.run(ctx, conn)
			select {
			case <-w.ready:
			case <-ctx.Done():
			case <-time.After(30 * time.Second):
				errc <- fmt.Errorf("agent %s: no hello within 30s of connecting", w.agentID)
				<-sem
				return
			}
			<-sem
			errc <- nil
		}()
	}
	var first error
	failed := 0
	for range p.all {
		if err := <-errc; err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	if first != nil {
		return fmt.Errorf("%d of %d widgets could not connect; first: %w", failed, len(p.all), first)
	}
	return nil
}

func (w *widget) dial(ctx context.Context) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	opts := &websocket.DialOptions{HTTPClient: w.pool.http}
	if w.pool.token != nil {
		// As the widget does: the token in the subprotocols, never in the URL.
		opts.Subprotocols = []string{agent.SubprotocolV1, agent.SubprotocolTokenPrefix + w.pool.token(w.agentID)}
	}
	conn, resp, err := websocket.Dial(dctx, w.pool.url(w.agentID), opts)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("agent %s: connect: %s: %w", w.agentID, resp.Status, err)
		}
		return nil, fmt.Errorf("agent %s: connect: %w", w.agentID, err)
	}
	conn.SetReadLimit(1 << 20)
	return conn, nil
}

// run reads the socket until it fails; in a fault run it reconnects with
// back-off, as the real widget does, until ctx ends.
func (w *widget) run(ctx context.Context, conn *websocket.Conn) {
	for attempt := 0; ; {
		w.mu.Lock()
		w.conn = conn
		w.mu.Unlock()
		w.pool.connected.Add(1)
		if w.pool.relay {
			w.once.Do(func() { close(w.ready) })
		}
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				break
			}
			attempt = 0
			w.handle(ctx, data)
		}
		w.mu.Lock()
		w.conn = nil
		w.mu.Unlock()
		w.pool.connected.Add(-1)
		conn.CloseNow()
		if ctx.Err() != nil {
			return
		}
		if !w.pool.persist {
			w.pool.track.fail("widget_disconnected", fmt.Sprintf("agent %s: the server closed the socket", w.agentID))
			return
		}
		for {
			// Back-off with jitter: thousands of widgets reconnect at once
			// when the server restarts.
			delay := min(100*time.Millisecond<<attempt, 2*time.Second)
			delay = delay/2 + rand.N(delay)
			attempt++
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			var err error
			if conn, err = w.dial(ctx); err == nil {
				w.pool.reconnects.Add(1)
				break
			}
		}
	}
}

// send writes one message, or counts it lost when the socket is down (a
// message to a restarting server is lost as in a browser; the agent's
// next hello tells what to redo).
func (w *widget) send(ctx context.Context, msg any) {
	data, err := json.Marshal(msg)
	if err != nil {
		panic(err)
	}
	w.mu.Lock()
	conn := w.conn
	w.mu.Unlock()
	if conn == nil {
		w.pool.sendFails.Add(1)
		return
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := conn.Write(wctx, websocket.MessageText, data); err != nil {
		w.pool.sendFails.Add(1)
	}
}

// serverMessage holds the fields of every server → widget message the
// simulated widget reads (docs/widget-protocol.md).
type serverMessage struct {
	Type          string    `json:"type"`
	InteractionID string    `json:"interactionId"`
	ReceivedAt    float64   `json:"receivedAt"`
	SentAt        float64   `json:"sentAt"`
	Call          *callView `json:"call"`
	// Pop is a hello's pop for a call the widget was away for.
	Pop *struct {
		InteractionID string  `json:"interactionId"`
		ReceivedAt    float64 `json:"receivedAt"`
		SentAt        float64 `json:"sentAt"`
	} `json:"pop"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// A raw event pushed by the relay.
	Interaction struct {
		AgentInteractionID string `json:"agentInteractionId"`
	} `json:"interaction"`
}

type callView struct {
	InteractionID string `json:"interactionId"`
	State         string `json:"state"`
	Selection     struct {
		Person       *struct{ ID string } `json:"person"`
		Organisation *struct{ ID string } `json:"organisation"`
	} `json:"selection"`
}

func (w *widget) handle(ctx context.Context, data []byte) {
	var m serverMessage
	if err := json.Unmarshal(data, &m); err != nil {
		w.pool.track.fail("widget_bad_message", fmt.Sprintf("agent %s: %v", w.agentID, err))
		return
	}
	if w.pool.relay {
		w.handleRelayed(ctx, &m)
		return
	}
	switch m.Type {
	case "hello":
		w.once.Do(func() { close(w.ready) })
		if last := int(w.wrapped.Load()) - 1; last >= 0 && (m.Call == nil || m.Call.InteractionID != w.pool.sc.InteractionID(last)) {
			// The server shows no call where this widget wrapped one: the
			// wrap took effect, and its callEnded was lost with the
			// connection (as the real widget, the hello clears the call).
			w.pool.track.complete(last)
		}
		if m.Pop != nil {
			// The server has no answer to this pop: run it, or, when this
			// widget ran it already and its answer was lost as the server
			// went down, send that answer again (as web/widget does).
			if call, ok := w.callOf(m.Pop.InteractionID); ok {
				w.pool.track.popped(call, serverStamps{m.Pop.ReceivedAt, m.Pop.SentAt})
				w.popResult(ctx, call)
			}
		}
		if m.Call != nil {
			w.resume(ctx, m.Call, m.Pop != nil && m.Pop.InteractionID == m.Call.InteractionID)
		}
	case "pop":
		call, ok := w.callOf(m.InteractionID)
		if !ok {
			return
		}
		// A repeated pop (a restarted server pops again) gets the answer
		// again, as web/widget sends it: the server may never have read it.
		w.pool.track.popped(call, serverStamps{m.ReceivedAt, m.SentAt})
		w.popResult(ctx, call)
	case "call":
		if m.Call == nil {
			return
		}
		call, ok := w.callOf(m.Call.InteractionID)
		if !ok {
			return
		}
		if c := &w.pool.track.calls[call]; !c.popped.Load() && !c.resumed.Load() && c.unpopped.CompareAndSwap(false, true) {
			w.pool.track.unpopped.Add(1)
		}
		switch m.Call.State {
		case "ended", "failed":
			w.wrapLater(ctx, call)
		case "wrapped":
			w.pool.track.complete(call)
		}
	case "callEnded":
		if call, ok := w.callOf(m.InteractionID); ok {
			w.pool.track.complete(call)
		}
	case "error":
		w.pool.track.fail("widget_error_"+m.Code, fmt.Sprintf("agent %s: %s", w.agentID, m.Message))
	}
}

// handleRelayed plays the widget's part against the relay, which pushes raw
// events: the presenting event is the pop, the hangup starts the wrap. The
// widget sends the same popResult and wrap messages (the relay drops them)
// so both targets carry the same traffic.
func (w *widget) handleRelayed(ctx context.Context, m *serverMessage) {
	call, ok := w.callOf(m.Interaction.AgentInteractionID)
	if !ok {
		return
	}
	switch m.Type {
	case string(Alerting.eventType()):
		if w.pool.track.popped(call, serverStamps{}) {
			w.popResult(ctx, call)
		}
	case string(Hangup.eventType()):
		w.wrapLater(ctx, call)
	}
}

func (w *widget) callOf(interactionID string) (int, bool) {
	call, ok := w.pool.sc.CallOf(interactionID)
	if !ok {
		w.pool.track.fail("widget_unknown_call", fmt.Sprintf("agent %s: interaction %q is not of this run", w.agentID, interactionID))
	}
	return call, ok
}

// popResult reports what CIF found for the pop: the one contact the
// sandbox holds the caller's number on.
func (w *widget) popResult(ctx context.Context, call int) {
	c := w.pool.sc.CustomerOf(call)
	w.send(ctx, map[string]any{
		"type": "popResult", "interactionId": w.pool.sc.InteractionID(call), "outcome": "record",
		"matches": []map[string]string{{"entity": c.Entity, "id": c.ID, "name": c.Name}}, "ms": 5,
	})
}

// wrapLater wraps the call WrapAfter from now, once; a wrap the agent
// still sees pending after a reconnect is sent again by resume.
func (w *widget) wrapLater(ctx context.Context, call int) {
	if !w.pool.track.calls[call].wrapPending.CompareAndSwap(false, true) {
		return
	}
	time.AfterFunc(w.pool.sc.WrapAfter, func() { w.wrap(ctx, call) })
}

func (w *widget) wrap(ctx context.Context, call int) {
	if ctx.Err() != nil {
		return
	}
	id := w.pool.sc.InteractionID(call)
	w.pool.track.wrapsSent.Add(1)
	w.wrapped.Store(int64(call) + 1)
	// The notes carry the interaction id, so the activity can be found
	// even when the config writes no interaction id column.
	w.send(ctx, map[string]any{"type": "wrap", "interactionId": id, "wrapCode": w.pool.sc.WrapCode, "notes": "ctiload " + id})
	if w.pool.relay {
		w.pool.track.complete(call)
	}
}

// resume is what an agent does with the call a (re)connecting widget's
// hello shows: relate it to the caller when the pop's result never reached
// the server (unless the hello brought the pop, whose result does that),
// and wrap it again when it has ended but is not wrapped (the wrap sent
// before the restart was lost).
func (w *widget) resume(ctx context.Context, cv *callView, popped bool) {
	call, ok := w.callOf(cv.InteractionID)
	if !ok {
		return
	}
	w.pool.track.calls[call].resumed.Store(true)
	if !popped && cv.Selection.Person == nil && cv.Selection.Organisation == nil {
		c := w.pool.sc.CustomerOf(call)
		w.send(ctx, map[string]any{
			"type": "relate", "interactionId": cv.InteractionID,
			"person": map[string]string{"entity": c.Entity, "id": c.ID}, "organisation": nil,
		})
	}
	switch cv.State {
	case "ended", "failed":
		w.pool.track.calls[call].wrapPending.Store(true)
		w.wrap(ctx, call)
	}
}

// close closes every socket.
func (p *widgets) close() {
	for _, w := range p.all {
		if w == nil {
			continue
		}
		w.mu.Lock()
		if w.conn != nil {
			w.conn.CloseNow()
		}
		w.mu.Unlock()
	}
}
