package telephony

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ctibridge/ctibridge/internal/interaction"
)

// AgentEventSink is implemented by sinks that take the events an agent's
// own browser reports: the event is agentID's, and may not touch another
// agent's call (callflow.Flow.HandleEventFor).
type AgentEventSink interface {
	HandleEventFor(ctx context.Context, agentID string, ev *interaction.Event) error
}

// Browser event limits. An agent's widget reports a handful of events per
// call; the bucket lets a widget that was away send its backlog at once,
// and stops a runaway (or hostile) page from filling the CRM with calls.
const (
	browserEventRate  = 10 // per second, per agent
	browserEventBurst = 60
)

// Browser is the provider for telephony whose events arrive in the agent's
// browser: the widget's SIP softphone, or a platform's agent SDK such as
// ipSCAPE's Web Client. A provider module in the widget turns what happens
// in the page into call events, and the widget sends each over its
// authenticated socket; HandleWidgetEvent takes them to the same sink as
// the webhook's (docs/telephony.md).
//
// The platform's commands run in the browser too (the softphone dials, the
// adaptor changes the agent's state), so Dial, SetAgentState and Wrap
// return ErrNotSupported: the flow then does its own part (it wraps the
// call, it records the state).
type Browser struct {
	source string
	now    func() time.Time

	runs runSlot

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// NewBrowser returns the provider for a browser source ("sip", "ipscape").
func NewBrowser(source string, now func() time.Time) *Browser {
	if now == nil {
		now = time.Now
	}
	return &Browser{source: source, now: now, limiters: make(map[string]*rate.Limiter)}
}

// Name returns the source, "sip" or "ipscape".
func (b *Browser) Name() string { return b.source }

// Running reports whether Run is in progress, i.e. events are accepted.
func (b *Browser) Running() bool { return b.runs.running() }

// Run delivers the events widgets report to sink until ctx ends, then waits
// for deliveries in progress.
func (b *Browser) Run(ctx context.Context, sink Sink) error {
	if sink == nil {
		return errors.New("browser telephony: Run needs a sink")
	}
	if _, ok := sink.(AgentEventSink); !ok {
		return errors.New("browser telephony: the sink must take agents' own events (HandleEventFor)")
	}
	return b.runs.serve(ctx, sink, "browser telephony")
}

// Dial returns ErrNotSupported: the agent's browser places the call.
func (b *Browser) Dial(context.Context, string, string) (string, error) {
	return "", fmt.Errorf("%w: the %s provider dials in the agent's browser", ErrNotSupported, b.source)
}

// SetAgentState returns ErrNotSupported: a state the platform keeps is
// changed in its own adaptor, and reported back as an agentState event.
func (b *Browser) SetAgentState(context.Context, string, AgentState, string) error {
	return fmt.Errorf("%w: the %s provider's agent states are the browser's", ErrNotSupported, b.source)
}

// Wrap returns ErrNotSupported: the flow wraps the call itself.
func (b *Browser) Wrap(context.Context, string, string, string, string) error {
	return fmt.Errorf("%w: the %s provider cannot wrap from the server", ErrNotSupported, b.source)
}

// BrowserEventError is a browser event refused as malformed; Path is the
// JSON path of the offending value within the widget message, such as
// "event.interaction.callType".
type BrowserEventError struct {
	Path string
	Msg  string
}

func (e *BrowserEventError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// ErrorCode is the code of the widget's "error" reply.
func (e *BrowserEventError) ErrorCode() string { return "invalid_event" }

// ErrTooManyEvents refuses a widget that reports events faster than any
// agent's calls could produce them.
var ErrTooManyEvents = &codedError{code: "too_many_events", msg: fmt.Sprintf("more than %d telephony events a second from this agent: the event was refused; send it again in a moment", browserEventRate)}

// errNotRunning refuses events while Run is not in progress.
var errNotRunning = &codedError{code: "unavailable", msg: "ctibridge is not taking telephony events right now (starting or stopping): send the event again"}

type codedError struct{ code, msg string }

func (e *codedError) Error() string     { return e.msg }
func (e *codedError) ErrorCode() string { return e.code }

// HandleWidgetEvent takes one "telephonyEvent" widget message of agentID's
// session, {"type": "telephonyEvent", "event": {...}}, to the sink of Run.
// The event is a call event in the webhook's format, or an agentState; its
// agentId, if any, is ignored: the agent is always the session's.
func (b *Browser) HandleWidgetEvent(ctx context.Context, agentID string, raw json.RawMessage) error {
	d, err := decodeBrowserEvent(raw, agentID, b.now)
	if err != nil {
		return err
	}
	if !b.limiter(agentID).Allow() {
		return ErrTooManyEvents
	}
	run := b.runs.acquire()
	if run == nil {
		return errNotRunning
	}
	defer run.inflight.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(run.ctx, cancel)()

	if d.event != nil {
		err = run.sink.(AgentEventSink).HandleEventFor(ctx, agentID, d.event)
	} else if states, ok := run.sink.(AgentStateSink); ok {
		err = states.HandleAgentState(ctx, *d.state)
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The widget keeps the event and sends it again.
		return &codedError{code: "unavailable", msg: "the event could not be stored right now (" + err.Error() + "): it is sent again"}
	}
	return err
}

// limiter is agentID's event bucket. Only logged-in agents reach here, so
// the map is bounded by the agents there are.
func (b *Browser) limiter(agentID string) *rate.Limiter {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.limiters[agentID]
	if l == nil {
		l = rate.NewLimiter(browserEventRate, browserEventBurst)
		b.limiters[agentID] = l
	}
	return l
}

// decodeBrowserEvent reads the event of a telephonyEvent message: the
// webhook's decoding, with every path under "event." and the session's
// agent in place of the message's.
func decodeBrowserEvent(raw json.RawMessage, agentID string, now func() time.Time) (delivery, error) {
	var msg struct {
		Event json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal(raw, &msg); err != nil {
		return delivery{}, &BrowserEventError{Msg: "the message is not a JSON object: " + err.Error()}
	}
	if len(msg.Event) == 0 || string(msg.Event) == "null" {
		return delivery{}, &BrowserEventError{Path: "event", Msg: `missing: send {"type": "telephonyEvent", "event": {"id": ..., "type": "callAlerting", ...}}`}
	}
	event, err := withAgent(msg.Event, agentID)
	if err != nil {
		return delivery{}, &BrowserEventError{Path: "event", Msg: err.Error()}
	}
	d, ee := decodeItem(event, now)
	if ee != nil {
		return delivery{}, &BrowserEventError{Path: joinPath("event", ee.Path), Msg: ee.Msg}
	}
	if d.state != nil {
		d.state.AgentID = agentID
	} else {
		d.event.AgentID = agentID
	}
	return d, nil
}

// withAgent sets the event object's agentId to agentID, so the webhook's
// decoder, which requires one, reads the session's agent and never the
// message's.
func withAgent(event json.RawMessage, agentID string) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(event, &fields); err != nil || fields == nil {
		return nil, errors.New(`is not a JSON object; an event is an object such as {"id": "sip:abc:callAlerting", "type": "callAlerting", "interaction": {...}}`)
	}
	id, _ := json.Marshal(agentID)
	fields["agentId"] = id
	return json.Marshal(fields)
}
