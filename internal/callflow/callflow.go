// Package callflow turns telephony events and widget messages into what the
// agent sees and what the CRM gets. For each event it applies the call's
// lifecycle, sends the screen pop to the agent's widget the first time the
// call is presented, plans the CRM writes, and stores the call's new state
// and its writes in one transaction, so a crash at any point either keeps
// both or neither and the outbox carries the writes out exactly once.
package callflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ctibridge/ctibridge/internal/activity"
	"github.com/ctibridge/ctibridge/internal/agent"
	"github.com/ctibridge/ctibridge/internal/interaction"
	"github.com/ctibridge/ctibridge/internal/metrics"
	"github.com/ctibridge/ctibridge/internal/outbox"
	"github.com/ctibridge/ctibridge/internal/screenpop"
	"github.com/ctibridge/ctibridge/internal/store"
)

// Notifier delivers messages to an agent's widgets (internal/agent.Hub).
type Notifier interface {
	Send(agentID string, msg any) int
}

// Telephony is what the flow asks of the telephony provider on the agent's
// behalf (internal/telephony.Provider).
type Telephony interface {
	Dial(ctx context.Context, agentID, number string) (string, error)
	Wrap(ctx context.Context, agentID, interactionID, wrapCode, notes string) error
	SetAgentState(ctx context.Context, agentID, state, reason string) error
}

// ErrNotSupported is returned by a Telephony that cannot do what was asked;
// for Wrap the flow then wraps the call itself.
var ErrNotSupported = errors.New("not supported by the telephony provider")

// CallStore keeps calls and, saved with each, the CRM writes it queues
// (internal/store.Calls, on SQLite or PostgreSQL).
type CallStore interface {
	Load(ctx context.Context, interactionID string) (data string, found bool, err error)
	Current(ctx context.Context, agentID string) (data string, found bool, err error)
	// InProgress calls each with the stored form of up to limit calls not
	// wrapped, newest first.
	InProgress(ctx context.Context, limit int, each func(data string)) error
	SaveAll(ctx context.Context, saves []*store.CallSave) []error
}

// Options wire a Flow.
type Options struct {
	Calls     CallStore
	Engine    *screenpop.Engine
	Outbox    *outbox.Outbox // woken after writes are committed; may be nil in tests
	Notifier  Notifier
	Telephony Telephony // may be nil: dial and state requests are then refused
	Metrics   *metrics.Metrics
	Log       *slog.Logger
	Now       func() time.Time
	// WrapCodes are offered in the widget's wrap-code picker.
	WrapCodes []WrapCode
	// ClickToDial tells the widget to enable CIF click-to-act: the provider
	// can place calls.
	ClickToDial bool
	// WriteMode is "server" (the outbox writes through the Dataverse client)
	// or "cif" (the agent's browser writes through CIF).
	WriteMode string
	// TelephonySettings returns what an agent's widget needs of the
	// telephony source (hello.settings.telephony): the source, and for a
	// browser source the agent's own settings, such as its SIP account.
	// Nil: {"source": ""}.
	TelephonySettings func(ctx context.Context, agentID string) (any, error)
	// Impersonate writes each call's activities as its agent's Dynamics
	// user (--impersonate-agents), which DynamicsUser returns: the one an
	// administrator set, never one a widget names.
	Impersonate  bool
	DynamicsUser func(ctx context.Context, agentID string) (agent.DynamicsUser, bool, error)
}

// WrapCode is one choice of the widget's wrap-code picker.
type WrapCode struct {
	Code  string `json:"code"`
	Label string `json:"label"`
}

// Flow processes events and widget messages. It is safe for concurrent use;
// events of one interaction are processed one at a time.
type Flow struct {
	opt    Options
	engine atomic.Pointer[screenpop.Engine]
	locks  interactionLocks
	// popped remembers the interactions this process has popped, so the pop
	// can go out before the store is read (see handle); an interaction
	// whose pop was not stored is forgotten again.
	poppedMu sync.Mutex
	popped   map[string]struct{}
	// stored holds the calls in progress as they were last saved, so an
	// event or widget message takes its call from memory instead of
	// queueing for the store's connection and decoding it. Only this
	// process writes the calls table, and every read and write of a call
	// holds its interaction's lock, so a held call is never stale. load
	// takes the call out and a successful save puts it back: a call changed
	// by an event that is then refused, or whose save fails, is read from
	// the store again, as is one not held (after a restart, or evicted).
	storedMu sync.Mutex
	stored   map[string]*record
	// commits groups the saves that wait for the store at the same time
	// into one transaction.
	commits groupCommit

	writeResults WriteResults

	mu     sync.Mutex
	agents map[string]*agentStatus
	// warnedNoUser are the agents without a Dynamics user already warned
	// about (Impersonate), so the log says it once per agent, not per call.
	warnedNoUser sync.Map
}

type agentStatus struct {
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// New returns a Flow.
func New(opt Options) *Flow {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.WriteMode == "" {
		opt.WriteMode = "server"
	}
	f := &Flow{opt: opt, agents: make(map[string]*agentStatus),
		popped: make(map[string]struct{}), stored: make(map[string]*record)}
	f.engine.Store(opt.Engine)
	return f
}

// SetEngine swaps in a new config's engine (config reload). Calls in
// progress keep their plans; new decisions use the new config.
func (f *Flow) SetEngine(e *screenpop.Engine) { f.engine.Store(e) }

// Engine returns the engine in use.
func (f *Flow) Engine() *screenpop.Engine { return f.engine.Load() }

// record is what the store keeps per call.
type record struct {
	Call      interaction.Call   `json:"call"`
	Selection activity.Selection `json:"selection"`
	Popped    bool               `json:"popped"`
	// Pop is the decision sent, kept until the widget answers it
	// (PopAnswered) so a widget that was away gets it with its hello.
	Pop         *screenpop.Decision `json:"pop,omitempty"`
	PopAnswered bool                `json:"popAnswered,omitempty"`
	// Matches are the records the widget's pop found, for the select boxes
	// of a reconnecting widget.
	Matches []Match `json:"matches,omitempty"`
	// Caller is the Dynamics user every CRM write of the call is made as
	// (Impersonate), decided when the call is first stored and kept with
	// it: the writes of one call are one user's, and a later change of the
	// agent's user changes the calls that start after it, not history.
	// Nil: the application user.
	Caller *activity.Caller `json:"caller,omitempty"`
}

// Match is one record a pop found.
type Match struct {
	Entity string `json:"entity"`
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
}

// RefusedError is an event or request the flow will not process; the
// webhook answers it with a 4xx.
type RefusedError struct {
	Code string
	Msg  string
	// CloseSocket: the widget that sent the message may not go on (its
	// Dynamics user is not its agent's); the hub closes its socket.
	CloseSocket bool
}

func (e *RefusedError) Error() string { return e.Msg }

// ClosesSocket tells the hub to close the socket of a widget refused so.
func (e *RefusedError) ClosesSocket() bool { return e.CloseSocket }

// ErrorCode is the code the widget gets in an "error" message.
func (e *RefusedError) ErrorCode() string { return e.Code }

// HandleEvent processes one telephony event from the platform's side (the
// webhook, the simulator): its agentId says whose call it is.
func (f *Flow) HandleEvent(ctx context.Context, ev *interaction.Event) error {
	return f.handle(ctx, ev, "")
}

// HandleEventFor processes an event an agent's own session reported (its
// browser's softphone or telephony SDK). The event is agentID's, whatever
// it says, and it may neither create nor change another agent's call: such
// a call is answered as unknown, as the widget's other messages are. Events
// of one interaction from both sides make one call, deduplicated by the
// lifecycle as any redelivery is.
func (f *Flow) HandleEventFor(ctx context.Context, agentID string, ev *interaction.Event) error {
	ev.AgentID = agentID
	return f.handle(ctx, ev, agentID)
}

// handle processes ev; owner, when set, is the only agent whose call it may
// create or change.
func (f *Flow) handle(ctx context.Context, ev *interaction.Event, owner string) error {
	received := f.opt.Now()
	ix := ev.Interaction.AgentInteractionID
	defer f.locks.lock(ix)()
	// stored: the event's outcome, and a pop it sent, are in the store.
	stored := false

	// An agent's own event is checked against the call first, so that it
	// cannot pop, nor mark as popped, another agent's call. Any other event
	// is checked against the call when it is held in memory, which costs
	// nothing: it may not pop a call that is another agent's or that will
	// refuse it.
	rec := f.takeHeld(ix)
	if rec == nil && owner != "" {
		var err error
		if rec, err = f.load(ctx, ix); err != nil {
			return err
		}
	}
	if rec != nil {
		if owner != "" && rec.Call.InteractionID != "" && rec.Call.AgentID != owner {
			f.hold(rec) // another agent's call, unchanged
			f.count(ev.Type, "rejected")
			return &RefusedError{Code: "not_found", Msg: fmt.Sprintf("interaction.agentInteractionId: no call %q for this agent", ix)}
		}
		if err := rec.Call.Check(ev); err != nil {
			f.hold(rec) // refused, unchanged
			f.count(ev.Type, "rejected")
			return &RefusedError{Code: "conflict", Msg: err.Error()}
		}
	}

	// The pop is what the agent waits for, so it goes out before the store
	// is read and written: an event that presents a call this process has
	// not popped pops it now. A call not held (a new one, or one stored
	// before a restart) is popped before it is read: the pop shows only
	// what the event carries, which a sender that signs events could pop
	// to any agent under a new interaction id anyway. After a restart a
	// redelivered event may pop again; a widget that ran the pop answers a
	// repeat with its earlier popResult, without popping again.
	engine := f.engine.Load()
	var early *screenpop.Decision
	earlyDelivered := 0
	if presents(ev.Type) && f.firstPop(ix) {
		agentID := ev.AgentID
		if rec != nil && rec.Call.AgentID != "" {
			agentID = rec.Call.AgentID // checked: the event names it, or none
		}
		early, earlyDelivered = f.pop(ev, agentID, ix, engine, received)
		defer func() {
			if !stored {
				// The event failed or was refused: the call's own event,
				// or this one redelivered, pops again and stores the pop,
				// for a widget that joins later.
				f.forgetPop(ix)
			}
		}()
	}

	if rec == nil {
		var err error
		if rec, err = f.load(ctx, ix); err != nil {
			return err
		}
	}
	isNew := rec.Call.InteractionID == ""
	t, err := rec.Call.Apply(ev)
	if err != nil {
		f.count(ev.Type, "rejected")
		return &RefusedError{Code: "conflict", Msg: err.Error()}
	}
	if t.Duplicate {
		f.hold(rec) // a duplicate changes nothing
		f.count(ev.Type, "duplicate")
		stored = true // as it was
		return nil
	}
	cfg := engine.Config()
	if isNew && f.opt.Impersonate {
		if rec.Caller, err = f.callerFor(ctx, rec.Call.AgentID); err != nil {
			return err
		}
	}
	if t.Moved() && rec.Call.State == interaction.Wrapped && rec.Call.PhoneCallID == "" {
		// Addressed by alternate key, the phone call's id is Dataverse's:
		// the outbox has it once the create ran, which by the wrap it
		// almost always has. callEnded then names it, and the wrap's
		// update addresses the record by id.
		rec.Call.PhoneCallID = f.writtenRecordID(ctx, ix, activity.StepCreateActivity)
	}

	switch {
	case rec.Popped:
	case early != nil:
		rec.Popped, rec.Pop = true, early
	case presented(t) && !rec.Call.Reached(interaction.Wrapped) && f.firstPop(ix):
		rec.Popped = true
		rec.Pop, _ = f.pop(ev, rec.Call.AgentID, ix, engine, received)
		defer func() {
			if !stored {
				f.forgetPop(ix)
			}
		}()
	}
	plan := activity.PlanTransition(cfg, &rec.Call, t, rec.Selection)
	if id := plan.CreatedID(activity.StepCreateActivity); id != "" {
		rec.Call.PhoneCallID = id
	}
	if id := plan.CreatedID(activity.StepPreviewTask); id != "" {
		rec.Call.TaskID = id
	}
	if err := f.save(ctx, rec, plan.Writes); err != nil {
		return err
	}
	stored = true
	if early != nil && earlyDelivered == 0 {
		// No widget had the early pop. One that joins now finds the call in
		// the store with its pop, but one that joined in between built its
		// hello before the save: send the pop again (a widget that ran it
		// answers with its earlier popResult, without popping again).
		f.opt.Notifier.Send(rec.Call.AgentID, f.popMessage(ix, early, received))
	}
	if t.Stale {
		f.count(ev.Type, "stale")
	} else {
		f.count(ev.Type, "processed")
	}
	if t.Moved() {
		f.setAgentState(rec.Call.AgentID, agentStateFor(rec.Call.State), "")
		f.opt.Notifier.Send(rec.Call.AgentID, callMessage(viewOf(rec)))
		if rec.Call.State == interaction.Wrapped {
			f.opt.Notifier.Send(rec.Call.AgentID, map[string]string{
				"type": "callEnded", "interactionId": rec.Call.InteractionID, "activityId": rec.Call.PhoneCallID,
			})
		}
	}
	return nil
}

// presented reports whether the transition is the call being put in front
// of the agent: a preview, a ringing call, or a connect we saw first.
func presented(t interaction.Transition) bool {
	for _, s := range t.Entered() {
		switch s {
		case interaction.Previewing, interaction.Alerting, interaction.Connected:
			return true
		}
	}
	return false
}

// presents reports whether an event type puts a call in front of the agent.
func presents(t interaction.EventType) bool {
	return t == interaction.PreviewAllocated || t == interaction.CallAlerting || t == interaction.CallStarted
}

// firstPop records that interactionID is popped and reports whether it was
// not before. The memory is bounded: past the cap it starts afresh, which at
// worst pops a long-finished call's redelivered event again.
func (f *Flow) firstPop(interactionID string) bool {
	f.poppedMu.Lock()
	defer f.poppedMu.Unlock()
	if _, ok := f.popped[interactionID]; ok {
		return false
	}
	if len(f.popped) >= 100_000 {
		clear(f.popped)
	}
	f.popped[interactionID] = struct{}{}
	return true
}

// forgetPop undoes firstPop for an interaction whose pop was not stored.
func (f *Flow) forgetPop(interactionID string) {
	f.poppedMu.Lock()
	defer f.poppedMu.Unlock()
	delete(f.popped, interactionID)
}

// pop decides the screen pop for ev and sends it to the agent's widgets. It
// returns the decision (nil when there is none) and how many widget
// connections it was queued on.
func (f *Flow) pop(ev *interaction.Event, agentID, interactionID string, engine *screenpop.Engine, received time.Time) (*screenpop.Decision, int) {
	d, err := engine.Decide(ev)
	if err != nil {
		f.opt.Log.Error("screen pop", "interaction", interactionID, "err", err)
		f.popCount("error")
		return nil, 0
	}
	if d == nil {
		f.popCount("no_rule")
		return nil, 0
	}
	for _, p := range d.Problems {
		f.opt.Log.Warn("screen pop value missing", "interaction", interactionID, "problem", p)
	}
	n := f.opt.Notifier.Send(agentID, f.popMessage(interactionID, d, received))
	if f.opt.Metrics != nil {
		f.opt.Metrics.PopLatency.Observe(f.opt.Now().Sub(received).Seconds())
	}
	switch {
	case n == 0:
		f.popCount("no_widget")
	case d.Skip:
		f.popCount("skipped")
	default:
		f.popCount("sent")
	}
	return d, n
}

// popMessage is the pop of decision d for interactionID, stamped now and
// with when its event was received (zero: not known, as in a hello).
func (f *Flow) popMessage(interactionID string, d *screenpop.Decision, received time.Time) popMessage {
	m := popMessage{Type: "pop", InteractionID: interactionID, Decision: d, SentAt: epochMillis(f.opt.Now())}
	if !received.IsZero() {
		m.ReceivedAt = epochMillis(received)
	}
	return m
}

type popMessage struct {
	Type          string              `json:"type"`
	InteractionID string              `json:"interactionId"`
	Decision      *screenpop.Decision `json:"decision"`
	// ReceivedAt and SentAt are milliseconds since the epoch with their
	// microseconds as the fraction, so that the time between them, and
	// from them to the widget on the same machine, shows below a
	// millisecond.
	ReceivedAt float64 `json:"receivedAt,omitempty"`
	SentAt     float64 `json:"sentAt"`
}

// epochMillis is t in milliseconds since the epoch, to the microsecond.
func epochMillis(t time.Time) float64 { return float64(t.UnixMicro()) / 1000 }

func (f *Flow) count(t interaction.EventType, outcome string) {
	if f.opt.Metrics != nil {
		f.opt.Metrics.EventsReceived.WithLabelValues(string(t), outcome).Inc()
	}
}

func (f *Flow) popCount(outcome string) {
	if f.opt.Metrics != nil {
		f.opt.Metrics.Pops.WithLabelValues(outcome).Inc()
	}
}

// load reads a call; the caller holds the interaction's lock. A call held
// in memory is taken out: save, or hold when nothing changed, puts it back.
func (f *Flow) load(ctx context.Context, interactionID string) (*record, error) {
	if held := f.takeHeld(interactionID); held != nil {
		return held, nil
	}
	data, found, err := f.opt.Calls.Load(ctx, interactionID)
	if err != nil {
		return nil, fmt.Errorf("load call %s: %w", interactionID, err)
	}
	if !found {
		return &record{}, nil
	}
	rec := &record{}
	if err := json.Unmarshal([]byte(data), rec); err != nil {
		return nil, fmt.Errorf("decode stored call %s: %w", interactionID, err)
	}
	return rec, nil
}

// LoadCallsInProgress holds in memory the calls in progress the store
// has, newest first and at most half of maxHeldCalls, so that after a
// restart an event for one of them is checked against it before it pops
// (see handle): an event naming another agent, or one the call refuses,
// pops nothing. A call not held (a brand-new one) still pops before the
// store is read. It returns how many calls it holds; call it before
// events flow.
func (f *Flow) LoadCallsInProgress(ctx context.Context) (int, error) {
	var recs []*record
	err := f.opt.Calls.InProgress(ctx, maxHeldCalls/2, func(data string) {
		rec := &record{}
		if err := json.Unmarshal([]byte(data), rec); err != nil || rec.Call.InteractionID == "" {
			return // read again, and refused, when an event comes for it
		}
		recs = append(recs, rec)
	})
	if err != nil {
		return 0, fmt.Errorf("load the calls in progress: %w", err)
	}
	for _, rec := range recs {
		unlock := f.locks.lock(rec.Call.InteractionID)
		if held := f.takeHeld(rec.Call.InteractionID); held != nil {
			rec = held // an event got there first: its save is newer
		}
		f.hold(rec)
		unlock()
	}
	return len(recs), nil
}

// takeHeld takes the call out of memory, or returns nil when it is not
// held; the caller holds the interaction's lock.
func (f *Flow) takeHeld(interactionID string) *record {
	f.storedMu.Lock()
	defer f.storedMu.Unlock()
	held := f.stored[interactionID]
	delete(f.stored, interactionID)
	return held
}

// maxHeldCalls bounds the calls held in memory: more than any contact
// centre has in progress at once. Past it they are let go, and read from
// the store again.
const maxHeldCalls = 20_000

// save stores the call and queues its writes in one transaction; the
// caller holds the interaction's lock.
func (f *Flow) save(ctx context.Context, rec *record, writes []activity.Write) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode call: %w", err)
	}
	if rec.Caller != nil {
		for i := range writes {
			writes[i].Caller = rec.Caller
		}
	}
	queued, err := outbox.Encode(writes)
	if err != nil {
		return err
	}
	req := &saveRequest{ctx: ctx, save: &store.CallSave{InteractionID: rec.Call.InteractionID, AgentID: rec.Call.AgentID,
		State: string(rec.Call.State), Data: string(data), Writes: queued, Now: f.opt.Now()}, done: make(chan saveTurn, 1)}
	if err := f.commits.save(f, req); err != nil {
		return err
	}
	f.hold(rec)
	if len(writes) > 0 && f.opt.Outbox != nil {
		f.opt.Outbox.Notify()
	}
	return nil
}

// hold keeps a call as it is stored for the next event or message of a
// call in progress, and lets a wrapped call go: little more comes for it.
// The caller holds the interaction's lock and leaves rec alone afterwards.
func (f *Flow) hold(rec *record) {
	f.storedMu.Lock()
	defer f.storedMu.Unlock()
	if rec.Call.State == interaction.Wrapped {
		delete(f.stored, rec.Call.InteractionID)
		return
	}
	if len(f.stored) >= maxHeldCalls {
		clear(f.stored)
	}
	f.stored[rec.Call.InteractionID] = rec
}

// agentStateFor maps the call's state to the agent state ipSCAPE shows.
func agentStateFor(s interaction.State) string {
	switch s {
	case interaction.Previewing, interaction.Alerting:
		return "Dialling"
	case interaction.Connected:
		return "OnCall"
	case interaction.Ended, interaction.Failed:
		return "OnWrap"
	default:
		return "Ready"
	}
}

func (f *Flow) setAgentState(agentID, state, reason string) {
	f.mu.Lock()
	st := f.agents[agentID]
	if st == nil {
		st = &agentStatus{}
		f.agents[agentID] = st
	}
	changed := st.State != state || st.Reason != reason
	st.State, st.Reason = state, reason
	f.mu.Unlock()
	if changed {
		f.opt.Notifier.Send(agentID, map[string]string{"type": "agentState", "state": state, "reason": reason})
	}
}

// SetAgentState records an agent state reported by the telephony provider.
func (f *Flow) SetAgentState(agentID, state, reason string) { f.setAgentState(agentID, state, reason) }

func (f *Flow) agentState(agentID string) agentStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st := f.agents[agentID]; st != nil {
		return *st
	}
	return agentStatus{State: "Ready"}
}

// callerFor is the Dynamics user agentID's new call writes as, or nil (the
// application user) when the administrator set none: the activities are
// still written, and the log says once per agent what to fix. (With
// Impersonate such an agent cannot log in to the widget, but the
// telephony platform may still route calls to it.)
func (f *Flow) callerFor(ctx context.Context, agentID string) (*activity.Caller, error) {
	if agentID == "" || f.opt.DynamicsUser == nil {
		return nil, nil
	}
	u, ok, err := f.opt.DynamicsUser(ctx, agentID)
	if err != nil {
		return nil, err
	}
	if !ok {
		if _, warned := f.warnedNoUser.LoadOrStore(agentID, true); !warned {
			f.opt.Log.Warn("agent has no Dynamics user: its activities are written as the application user; set one with ctibridge agent dynamics-user",
				"agent", agentID)
		}
		return nil, nil
	}
	f.warnedNoUser.Delete(agentID)
	return &activity.Caller{SystemUserID: u.SystemUserID, ObjectID: u.ObjectID}, nil
}

// writtenRecordID is the id of the record step of interactionID wrote, or
// "" when the write has not run (or there is no outbox).
func (f *Flow) writtenRecordID(ctx context.Context, interactionID string, step activity.Step) string {
	if f.opt.Outbox == nil {
		return ""
	}
	id, err := f.opt.Outbox.RecordID(ctx, interactionID+"/"+string(step))
	if err != nil {
		f.opt.Log.Warn("look up a written record's id", "interaction", interactionID, "step", step, "err", err)
	}
	return id
}
