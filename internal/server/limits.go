package server

import (
	"net/http"
	"sync"
	"time"

	"github.com/ctibridge/ctibridge/internal/agent"
)

// httpLimits bound what a client can make the HTTP server hold: how long a
// request may take to arrive and to be answered, how long an idle keep-alive
// connection stays open, and how much of a request is buffered before it is
// authenticated. docs/deploy.md (Security) lists them.
type httpLimits struct {
	// readHeader is the time allowed to send the request headers.
	readHeader time.Duration
	// read is the time allowed to send the whole request, body included:
	// a webhook batch is at most 1 MiB, which takes seconds even on a slow
	// link, so a body that stalls is cut off rather than held.
	read time.Duration
	// write is the time from the end of the headers to the end of the
	// response, the handler's work included. It is above every handler's
	// own bound (a store write, a widget page), so it only cuts off a
	// client that stops reading.
	write time.Duration
	// idle is how long a keep-alive connection may wait for its next
	// request. It is above the 60 s idle timeout of common load balancers,
	// so the proxy, not ctibridge, closes first and never reuses a
	// connection ctibridge has just closed.
	idle time.Duration
	// headerBytes caps the request line and headers.
	headerBytes int
	// pendingBodies caps the bytes of request bodies that may be held, all
	// requests together, before they are authenticated (webhook batches,
	// logins). A request that would go over is answered 503 busy at once.
	pendingBodies int64
}

// defaultLimits are the limits ctibridge serves with. The agent WebSocket is
// exempt from read, write and idle: net/http clears a connection's deadlines
// when the WebSocket takes it over (Hijack), and the hub bounds its own
// writes and message sizes.
var defaultLimits = httpLimits{
	readHeader:    10 * time.Second,
	read:          30 * time.Second,
	write:         60 * time.Second,
	idle:          120 * time.Second,
	headerBytes:   64 << 10,
	pendingBodies: 32 << 20,
}

// bodyBudget counts the body bytes that unauthenticated requests may hold at
// once. Each request is charged what it can hold: its Content-Length (the
// server never reads past it), or the route's maximum when the length is
// unknown (chunked).
type bodyBudget struct {
	mu   sync.Mutex
	used int64
	max  int64
}

func (b *bodyBudget) acquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

func (b *bodyBudget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// limit charges each request to h (whose body is at most maxBody bytes)
// against the budget, and answers 503 busy when the budget is spent, so that
// many slow or stalled requests cannot together hold more than the budget.
// Senders retry after Retry-After; a stalled request gives its share back
// when the read timeout cuts it off.
func (b *bodyBudget) limit(maxBody int64, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := r.ContentLength
		if n < 0 || n > maxBody {
			// Unknown length, or one the handler refuses unread (413):
			// charge what it may read at most.
			n = maxBody
		}
		if n > 0 {
			if !b.acquire(n) {
				w.Header().Set("Retry-After", "1")
				w.Header().Set("Connection", "close")
				agent.WriteError(w, http.StatusServiceUnavailable, "busy",
					"ctibridge is receiving too many request bodies at once: retry after the Retry-After seconds")
				return
			}
			defer b.release(n)
		}
		h.ServeHTTP(w, r)
	})
}
