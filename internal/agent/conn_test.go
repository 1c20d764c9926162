package agent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// brokenSocket returns a socket whose every write fails at once, as one
// whose direct write timed out does after it.
func brokenSocket(t *testing.T) *websocket.Conn {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		ws.Read(r.Context()) // until the client goes
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.CloseNow()
	return ws
}

func TestAFailedDirectWriteIsNotCountedNorQueued(t *testing.T) {
	c := newWidgetConn(context.Background(), "1001", brokenSocket(t))
	if c.send([]byte(`{"type":"pop"}`)) {
		t.Error("send reported a message delivered whose write failed")
	}
	if !c.isClosed() {
		t.Error("the connection whose write failed is still open")
	}
	// Nothing waits for a socket that is gone, and no flusher runs for it.
	waitFor(t, func() bool { return c.queued.Load() == 0 && !c.flushing.Load() })
	if c.send([]byte(`{"type":"call"}`)) {
		t.Error("send to a closed connection reported the message delivered")
	}
}

func TestTheFlusherOfAClosedConnectionEnds(t *testing.T) {
	// Messages queued behind a write that then failed: the connection is
	// closed with them still waiting.
	c := newWidgetConn(context.Background(), "1001", nil)
	c.enqueue([]byte("1"))
	c.enqueue([]byte("2"))
	c.once.Do(func() { close(c.closed) }) // no socket to close
	c.flushing.Store(true)

	done := make(chan struct{})
	go func() {
		defer close(done)
		c.flush()
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("flush of a closed connection still running after 5s (%d messages counted as queued)", c.queued.Load())
	}
	if n := c.queued.Load(); n != 0 {
		t.Errorf("%d messages counted as queued after the flush, want 0", n)
	}
}
