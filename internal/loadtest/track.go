package loadtest

import (
	"sync"
	"sync/atomic"
	"time"
)

// tracker follows every call of a run, shared by the sender and the
// widgets. Calls are numbered densely, so it is a slice of atomics rather
// than a locked map: 500 events a second must not queue on one mutex of
// the measuring side.
type tracker struct {
	start time.Time // monotonic origin of every recorded time
	calls []callTrack

	popLatency Latencies // presenting event sent → pop at the widget
	// popWindows holds the pop latencies by the window of the run their
	// event was sent in, to show whether latency drifts as the run goes on.
	popWindows []Latencies
	sendOrigin atomic.Int64 // ns since start when sending began
	// The pop latency split at the server's stamps (wall clock, to the
	// microsecond): POST sent → event received by the server, received →
	// pop sent, and pop sent → pop at the widget.
	intakePart   Latencies
	serverPart   Latencies
	deliveryPart Latencies
	postLatency  Latencies // webhook POST sent → response
	sendLag      Latencies // event due → its POST started

	pops      atomic.Int64 // first pops
	repops    atomic.Int64 // further pops of a call already popped
	completed atomic.Int64 // calls wrapped, as the widget learnt
	wrapsSent atomic.Int64
	// unpopped counts calls the widget learnt of from a "call" message
	// without having had their pop or seen them in a hello: the agent
	// sees the call, but nothing was opened in the CRM.
	unpopped atomic.Int64

	mu       sync.Mutex
	answered []time.Duration // when each accepted event was answered
	statuses map[int]int64   // webhook responses by HTTP status; 0 = no response
	errors   map[string]int64
	examples []string
}

type callTrack struct {
	sentNanos   atomic.Int64 // presenting POST first sent, ns since start + 1; 0 = not yet
	sentWallUs  atomic.Int64 // presenting POST first sent, µs since the epoch
	popped      atomic.Bool
	wrapPending atomic.Bool // a wrap is scheduled or sent, not yet seen done
	resumed     atomic.Bool // a hello showed the call
	unpopped    atomic.Bool // a call message came for the call before any pop or hello
	done        atomic.Bool
}

// latencyWindow is the width of the windows of popWindows.
const latencyWindow = 10 * time.Second

func newTracker(calls int, span time.Duration) *tracker {
	return &tracker{
		start: time.Now(), calls: make([]callTrack, calls), statuses: map[int]int64{}, errors: map[string]int64{},
		// Retries and restarts can push events past the span: room to spare.
		popWindows: make([]Latencies, 2*int(span/latencyWindow)+2),
	}
}

func (t *tracker) since() time.Duration { return time.Since(t.start) }

// presenting records the first time the presenting event of a call is
// sent; later attempts keep the first time, so a retried event's latency
// includes its retries.
func (t *tracker) presenting(call int) {
	c := &t.calls[call]
	if c.sentNanos.CompareAndSwap(0, int64(t.since())+1) {
		c.sentWallUs.Store(time.Now().UnixMicro())
	}
}

// serverStamps are a pop's receivedAt and sentAt: ms since the epoch,
// microseconds as the fraction; zero when the pop has none.
type serverStamps struct{ receivedAt, sentAt float64 }

// popped records a pop's arrival and reports whether it is the call's first.
func (t *tracker) popped(call int, stamps serverStamps) bool {
	now := t.since()
	nowWallUs := time.Now().UnixMicro()
	c := &t.calls[call]
	if !c.popped.CompareAndSwap(false, true) {
		t.repops.Add(1)
		return false
	}
	t.pops.Add(1)
	if sent := c.sentNanos.Load(); sent > 0 {
		lat := now - time.Duration(sent-1)
		t.popLatency.Add(lat)
		if w := int((time.Duration(sent-1) - time.Duration(t.sendOrigin.Load())) / latencyWindow); w >= 0 && w < len(t.popWindows) {
			t.popWindows[w].Add(lat)
		}
		if sentUs := c.sentWallUs.Load(); stamps.receivedAt > 0 && stamps.sentAt > 0 && sentUs > 0 {
			received, sent := int64(stamps.receivedAt*1000), int64(stamps.sentAt*1000)
			t.intakePart.Add(time.Duration(received-sentUs) * time.Microsecond)
			t.serverPart.Add(time.Duration(sent-received) * time.Microsecond)
			t.deliveryPart.Add(time.Duration(nowWallUs-sent) * time.Microsecond)
		}
	}
	return true
}

func (t *tracker) complete(call int) {
	c := &t.calls[call]
	c.wrapPending.Store(false)
	if c.done.CompareAndSwap(false, true) {
		t.completed.Add(1)
	}
}

func (t *tracker) status(code int) {
	t.mu.Lock()
	t.statuses[code]++
	t.mu.Unlock()
}

// accept records an accepted event.
func (t *tracker) accept() {
	at := t.since()
	t.mu.Lock()
	t.answered = append(t.answered, at)
	t.mu.Unlock()
}

// fail counts an error by kind and keeps a few examples.
func (t *tracker) fail(kind, example string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.errors[kind]++
	if len(t.examples) < maxExamples {
		t.examples = append(t.examples, kind+": "+example)
	}
}

func (t *tracker) snapshotErrors() (map[string]int64, map[int]int64, []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	errs := make(map[string]int64, len(t.errors))
	for k, v := range t.errors {
		errs[k] = v
	}
	st := make(map[int]int64, len(t.statuses))
	for k, v := range t.statuses {
		st[k] = v
	}
	return errs, st, append([]string(nil), t.examples...)
}
