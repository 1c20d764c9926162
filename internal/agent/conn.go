package agent

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// sendQueue is how many messages may wait for a slow widget before the
// hub drops the connection (the widget reconnects and gets a fresh hello).
const sendQueue = 16

// writeTimeout bounds a write that waits for a busy socket; directWriteTimeout
// one made on a sender's goroutine. A live widget's socket takes a small
// message at once: one that cannot in a second is not being read, and the
// failed write closes it (the widget reconnects, and its hello carries
// what it missed).
const (
	writeTimeout       = 10 * time.Second
	directWriteTimeout = time.Second
)

// widgetConn is one widget's socket as the hub writes to it.
//
// A message for an idle socket is written right away on the sender's
// goroutine, as a bare relay would: handing it to a write loop costs a
// goroutine switch that, on a busy server, waits behind whatever the
// sender does next (a pop waited for its event's store transaction). A
// message for a busy socket is queued, and a flusher goroutine, started
// when needed, writes the queue out and ends. No goroutine waits on an
// idle connection but the one reading it.
type widgetConn struct {
	ctx     context.Context // ends when the connection is served no more
	agentID string
	ws      *websocket.Conn
	out     chan []byte
	closed  chan struct{}
	once    sync.Once

	// writing is held by whoever writes to ws: the hello, a sender writing
	// straight to an idle socket, or the flusher. queued counts the
	// messages in out not yet written, so a sender writes straight only
	// when nothing it could overtake is waiting. flushing is set while a
	// flusher runs.
	writing  sync.Mutex
	queued   atomic.Int32
	flushing atomic.Bool
}

func newWidgetConn(ctx context.Context, agentID string, ws *websocket.Conn) *widgetConn {
	return &widgetConn{ctx: ctx, agentID: agentID, ws: ws, out: make(chan []byte, sendQueue), closed: make(chan struct{})}
}

// close stops writes to the connection and closes its socket, once.
func (c *widgetConn) close(code websocket.StatusCode, reason string) {
	c.once.Do(func() {
		close(c.closed)
		if code == websocket.StatusNormalClosure {
			c.ws.Close(code, reason)
			return
		}
		// The close handshake waits for the widget: not on a sender's time.
		go c.ws.Close(code, reason)
	})
}

func (c *widgetConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// send writes data or queues it behind the messages waiting, and reports
// false when the queue is full or the connection is closed (a direct write
// that failed closes it): nothing queued on a closed connection is ever
// written.
func (c *widgetConn) send(data []byte) bool {
	if c.writeIfIdle(data) {
		return true
	}
	if c.isClosed() || !c.enqueue(data) {
		return false
	}
	if c.flushing.CompareAndSwap(false, true) {
		go c.flush()
	}
	return true
}

// writeIfIdle writes data straight to the socket when no other write is
// under way and nothing is queued, and reports whether it did.
func (c *widgetConn) writeIfIdle(data []byte) bool {
	if c.queued.Load() != 0 || !c.writing.TryLock() {
		return false
	}
	defer c.writing.Unlock()
	if c.queued.Load() != 0 || c.isClosed() {
		return false
	}
	ctx, cancel := context.WithTimeout(c.ctx, directWriteTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, data); err != nil {
		c.close(websocket.StatusPolicyViolation, "too slow: reconnect")
		return false
	}
	return true
}

// enqueue puts data in the queue, and reports false when it is full.
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

// flush writes the queue out, in order, until it is empty.
func (c *widgetConn) flush() {
	for {
		c.writing.Lock()
		ok := c.writeQueued()
		c.writing.Unlock()
		c.flushing.Store(false)
		if !ok {
			c.close(websocket.StatusPolicyViolation, "too slow: reconnect")
			return
		}
		// A message queued after the queue was found empty, whose sender
		// saw this flusher still running, would wait for nobody: take it.
		if c.queued.Load() == 0 || !c.flushing.CompareAndSwap(false, true) {
			return
		}
	}
}

// writeQueued writes what is queued; the caller holds c.writing. On a
// closed connection it drops what is queued: every message taken is
// uncounted, or flush would find it still waiting and loop for ever.
func (c *widgetConn) writeQueued() bool {
	for {
		select {
		case data := <-c.out:
			if c.isClosed() {
				c.queued.Add(-1)
				continue
			}
			ctx, cancel := context.WithTimeout(c.ctx, writeTimeout)
			err := c.ws.Write(ctx, websocket.MessageText, data)
			cancel()
			c.queued.Add(-1)
			if err != nil {
				return false
			}
		default:
			return true
		}
	}
}
