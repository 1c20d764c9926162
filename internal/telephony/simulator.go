package telephony

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ctibridge/ctibridge/internal/interaction"
)

// ScenarioNumbers maps a demo scenario to the customer numbers that produce
// it in the CRM: "single" (one contact matches), "several", "none",
// "account", "lead", ... A scenario with no numbers gets a fictitious one.
type ScenarioNumbers map[string][]string

// LeadNames maps a customer number to the name the platform's lead list
// holds for it, as the CRM record with that number is named, so a preview
// or outbound lead shows the same person the screen pop opens. Numbers
// match by their digits ("+61 2 9999 0000" is "+61299990000").
type LeadNames map[string]string

// Timing sets the pace of simulated calls. Durations are measured on the real
// clock; zero values make tests drive every step explicitly.
type Timing struct {
	// PreviewTime is how long a preview lead is shown before it is dialled
	// automatically; 0 waits for the agent's Dial.
	PreviewTime time.Duration
	// RingTime is how long a call alerts before it connects; 0 connects at
	// once.
	RingTime time.Duration
	// TalkTime is how long a connected call lasts; 0 waits for Hangup.
	TalkTime time.Duration
	// WrapTime is how long the agent may take to wrap before the call is
	// wrapped automatically with the auto-wrap code; 0 waits for Wrap.
	WrapTime time.Duration
}

// DemoTiming is a pace that feels like a contact centre in a demo: calls ring
// briefly, talk long enough to look around the CRM, and the agent wraps in
// the widget (or is wrapped after three minutes); previews wait for the
// agent to dial.
func DemoTiming() Timing {
	return Timing{RingTime: 3 * time.Second, TalkTime: 45 * time.Second, WrapTime: 3 * time.Minute}
}

// Campaign is an ipSCAPE campaign calls belong to.
type Campaign struct {
	ID   string
	Name string
}

// SimulatorOptions configures NewSimulator. Only Numbers matters for most
// uses; the rest have realistic defaults.
type SimulatorOptions struct {
	// Numbers are the customer numbers per scenario.
	Numbers ScenarioNumbers
	// NewNumber, when set, may give a call of the scenario a number of its
	// own ("" keeps Numbers'): a scenario about a number nobody holds needs
	// a new one for each call once the agent has created a record for the
	// last.
	NewNumber func(scenario string) string
	// LeadNames names the leads of outbound and preview calls to these
	// numbers; a lead to any other number gets a generated name.
	LeadNames LeadNames
	Timing    Timing
	// Rand drives every random choice (numbers, queues, campaigns, lead
	// names); a seeded one makes the simulator deterministic. Default:
	// seeded from the clock.
	Rand *rand.Rand
	// Now stamps events (default time.Now). Event times always advance, by
	// a millisecond when the clock does not.
	Now func() time.Time
	// ServiceNumber is the contact centre's number: inbound callers dial it
	// and outbound calls present it (default +61255501234, a number ACMA
	// reserves for fiction).
	ServiceNumber string
	// Queues are the inbound queues calls arrive on.
	Queues []string
	// InboundCampaigns and OutboundCampaigns are the campaigns inbound and
	// outbound or preview calls belong to.
	InboundCampaigns  []Campaign
	OutboundCampaigns []Campaign
	// WrapCodes describes wrap codes (code → description, e.g. "12" → "Sale")
	// for the wrapDescription of callWrapped; codes not listed have none.
	WrapCodes map[string]string
	// AutoWrapCode is the wrap code of a call wrapped because WrapTime ran
	// out (default "0", described as "Auto wrap").
	AutoWrapCode string
	// FirstID numbers the first interaction (IX-<FirstID>) and event. The
	// default, the clock in milliseconds, keeps ids unique across restarts:
	// the CRM treats a repeated agentInteractionId as the same call.
	FirstID int64
	// Logger reports events the sink refused (default slog.Default()).
	Logger *slog.Logger
}

// The providers implement Provider; the webhook is also the HTTP handler.
var (
	_ Provider     = (*Simulator)(nil)
	_ Provider     = (*Webhook)(nil)
	_ http.Handler = (*Webhook)(nil)
)

// Simulator is an in-process ipSCAPE-like telephony platform for the demo and
// tests. It produces inbound queue calls, outbound campaign calls, preview
// calls and manual calls with the events and agent states a real platform
// would, driven by PlaceCall, Hangup and the Provider methods, and paced by
// Timing.
//
// An agent is created Ready the first time it is named. An agent has one
// interaction at a time; queue, campaign and preview calls need a Ready
// agent, manual calls are also allowed while Paused (as in ipSCAPE). A state
// change requested during a call takes effect once the call is wrapped.
type Simulator struct {
	timing            Timing
	numbers           ScenarioNumbers
	newNumber         func(scenario string) string
	scenarios         []string          // sorted, for deterministic random choice
	leadNames         map[string]string // digits of a number → lead name
	now               func() time.Time
	serviceNumber     string
	queues            []string
	inboundCampaigns  []Campaign
	outboundCampaigns []Campaign
	wrapCodes         map[string]string
	autoWrapCode      string
	logger            *slog.Logger

	// wake tells Run that events were queued or the schedule changed.
	wake chan struct{}

	mu       sync.Mutex
	rand     *rand.Rand
	running  bool
	nextID   int64
	nextEvt  int64
	lastTime time.Time
	agents   map[string]*simAgent
	calls    map[string]*simCall
	queue    []simItem
}

// simAgent is one agent's state on the simulated platform.
type simAgent struct {
	id     string
	state  AgentState
	reason string
	call   *simCall // the agent's interaction, nil when free
	// pending is a state the agent asked for during a call, applied when
	// the call is wrapped.
	pending       AgentState
	pendingReason string
	// last is the agent's latest wrapped call, nil before the first.
	last *CallStatus
}

// callPhase is where a simulated call is.
type callPhase int

const (
	phasePreview   callPhase = iota // lead shown, not dialled
	phaseAlerting                   // ringing or dialling
	phaseConnected                  // talking
	phaseWrapping                   // hung up or failed; the agent wraps
)

// simCall is one simulated interaction.
type simCall struct {
	n     int64
	agent *simAgent
	phase callPhase
	data  interaction.Interaction
	// due is when the phase's automatic next step happens (real clock);
	// zero when it waits for a command.
	due time.Time
	// stateBefore is the agent's state before the call, restored after the
	// wrap unless the agent asked for another.
	stateBefore  AgentState
	reasonBefore string
	// skipped is set when the call was a preview wrapped without a dial.
	skipped bool
}

// progress says where the call is, in the words the agent sees.
func (c *simCall) progress() string {
	switch c.phase {
	case phasePreview:
		return "a preview, not dialled yet"
	case phaseAlerting:
		if c.data.CallType == interaction.CallInbound {
			return "ringing"
		}
		return "dialling"
	case phaseConnected:
		return "connected"
	}
	return "ended, waiting for its wrap"
}

// simItem is one queued delivery.
type simItem struct {
	event *interaction.Event
	state *AgentStateChange
}

// Defaults of SimulatorOptions.
const defaultServiceNumber = "+61255501234"

var (
	defaultQueues            = []string{"Sales", "Customer Service", "Accounts"}
	defaultInboundCampaigns  = []Campaign{{ID: "201", Name: "Customer Service"}, {ID: "202", Name: "Sales Enquiries"}}
	defaultOutboundCampaigns = []Campaign{{ID: "301", Name: "Renewals Q1"}, {ID: "302", Name: "Win-back"}}
	// Generated lead names share no first or last name with the sandbox's
	// demo records, so a lead to an unknown number is not mistaken for one.
	leadFirstNames = []string{"Jane", "Arjun", "Mei", "Tom", "Aroha", "Luca", "Fatima", "Sam", "Ruby", "Kenji"}
	leadLastNames  = []string{"Citizen", "Nguyen", "Smith", "Patel", "O'Neill", "Rossi", "Novak", "Tran", "Walker", "Ngata"}
)

// NewSimulator checks the options and returns a simulator. Run it before
// placing calls.
func NewSimulator(opts SimulatorOptions) (*Simulator, error) {
	for name, d := range map[string]time.Duration{
		"PreviewTime": opts.Timing.PreviewTime, "RingTime": opts.Timing.RingTime,
		"TalkTime": opts.Timing.TalkTime, "WrapTime": opts.Timing.WrapTime,
	} {
		if d < 0 {
			return nil, fmt.Errorf("simulator timing %s is %v: use 0 or a positive duration", name, d)
		}
	}
	s := &Simulator{
		timing:            opts.Timing,
		numbers:           opts.Numbers,
		newNumber:         opts.NewNumber,
		now:               opts.Now,
		serviceNumber:     orDefault(opts.ServiceNumber, defaultServiceNumber),
		queues:            sliceOrDefault(opts.Queues, defaultQueues),
		inboundCampaigns:  sliceOrDefault(opts.InboundCampaigns, defaultInboundCampaigns),
		outboundCampaigns: sliceOrDefault(opts.OutboundCampaigns, defaultOutboundCampaigns),
		wrapCodes:         opts.WrapCodes,
		autoWrapCode:      orDefault(opts.AutoWrapCode, "0"),
		logger:            opts.Logger,
		rand:              opts.Rand,
		wake:              make(chan struct{}, 1),
	}
	for name, list := range opts.Numbers {
		if strings.TrimSpace(name) == "" {
			return nil, errors.New("simulator numbers: a scenario name is empty: name every scenario")
		}
		for i, n := range list {
			if strings.TrimSpace(n) == "" {
				return nil, fmt.Errorf("simulator numbers[%q][%d] is empty: remove it or give a number", name, i)
			}
		}
		s.scenarios = append(s.scenarios, name)
	}
	slices.Sort(s.scenarios)
	s.leadNames = make(map[string]string, len(opts.LeadNames))
	for number, name := range opts.LeadNames {
		key := digits(number)
		if key == "" {
			return nil, fmt.Errorf("simulator lead names: number %q has no digits: key each name by its customer number", number)
		}
		if strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("simulator lead names[%q] is empty: name the lead or leave the number out", number)
		}
		s.leadNames[key] = name
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.rand == nil {
		seed := uint64(time.Now().UnixNano())
		s.rand = rand.New(rand.NewPCG(seed, seed>>32))
	}
	s.nextID = opts.FirstID
	if s.nextID <= 0 {
		s.nextID = s.now().UnixMilli()
	}
	s.nextEvt = s.nextID
	s.reset()
	return s, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func sliceOrDefault[T any](v, def []T) []T {
	if len(v) == 0 {
		return def
	}
	return v
}

// reset forgets every agent and call: the simulated platform restarts with
// each Run.
func (s *Simulator) reset() {
	s.agents = make(map[string]*simAgent)
	s.calls = make(map[string]*simCall)
	s.queue = nil
}

// Name returns "simulator".
func (s *Simulator) Name() string { return "simulator" }

// Scenarios lists the scenario names PlaceCall accepts, sorted.
func (s *Simulator) Scenarios() []string { return slices.Clone(s.scenarios) }

// Run delivers the simulator's events and agent state changes (to sinks that
// implement AgentStateSink) in the order they happen, and runs the timed
// steps of calls, until ctx ends. Then every timer stops, calls in progress
// are dropped and Run returns nil; nothing of the simulator runs after it.
func (s *Simulator) Run(ctx context.Context, sink Sink) error {
	if sink == nil {
		return errors.New("simulator: Run needs a sink")
	}
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("simulator: already running; one Run at a time")
	}
	s.running = true
	s.mu.Unlock()

	timer := time.NewTimer(0)
	timer.Stop()
	defer func() {
		timer.Stop()
		s.mu.Lock()
		s.running = false
		s.reset()
		s.mu.Unlock()
	}()

	stateSink, wantsStates := sink.(AgentStateSink)
	for {
		s.mu.Lock()
		next := s.runDue(time.Now())
		items := s.queue
		s.queue = nil
		s.mu.Unlock()

		for _, it := range items {
			if ctx.Err() != nil {
				return nil
			}
			switch {
			case it.event != nil:
				if err := sink.HandleEvent(ctx, it.event); err != nil && ctx.Err() == nil {
					s.logger.Error("simulator: sink refused event", "eventId", it.event.ID, "type", it.event.Type,
						"interactionId", it.event.Interaction.AgentInteractionID, "err", err)
				}
			case wantsStates:
				if err := stateSink.HandleAgentState(ctx, *it.state); err != nil && ctx.Err() == nil {
					s.logger.Error("simulator: sink refused agent state", "agentId", it.state.AgentID, "state", it.state.State, "err", err)
				}
			}
		}

		if next.IsZero() {
			timer.Stop()
		} else {
			timer.Reset(time.Until(next))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-timer.C:
		}
	}
}

// runDue performs every timed step that is due at now and returns when the
// next one is (zero if none).
func (s *Simulator) runDue(now time.Time) (next time.Time) {
	for {
		var due *simCall
		for _, c := range s.calls {
			// Ties broken by interaction number, so the order is
			// deterministic whatever the map's.
			if !c.due.IsZero() && (due == nil || c.due.Before(due.due) || c.due.Equal(due.due) && c.n < due.n) {
				due = c
			}
		}
		if due == nil {
			return time.Time{}
		}
		if due.due.After(now) {
			return due.due
		}
		due.due = time.Time{}
		s.advance(due)
	}
}

// advance performs the call's next step on its own: dial a preview, connect,
// hang up, or wrap with the auto-wrap code.
func (s *Simulator) advance(c *simCall) {
	switch c.phase {
	case phasePreview:
		s.dial(c, c.data.LeadData.PhoneIndex)
	case phaseAlerting:
		s.connect(c)
	case phaseConnected:
		s.hangup(c)
	case phaseWrapping:
		s.wrap(c, s.autoWrapCode, "")
	}
}

// PlaceCall presents a call of the given type to the agent, with a customer
// number of the scenario (any scenario when empty): an inbound queue call
// rings, an outbound campaign call dials, a preview call allocates its lead
// (dialled after PreviewTime, or by Dial), and a manual call dials as if
// from the dial pad. It returns the interaction id.
func (s *Simulator) PlaceCall(ctx context.Context, agentID string, callType interaction.CallType, scenario string) (string, error) {
	if strings.TrimSpace(agentID) == "" {
		return "", errors.New("place call: agentID is empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return "", fmt.Errorf("place call: %w", ErrNotRunning)
	}
	number, err := s.pickNumber(scenario)
	if err != nil {
		return "", fmt.Errorf("place call: %w", err)
	}
	agent := s.agent(agentID)
	if err := s.checkAvailable(agent, callType); err != nil {
		return "", fmt.Errorf("place call: %w", err)
	}
	c := s.newCall(agent, callType)
	switch callType {
	case interaction.CallInbound:
		q := s.queues[s.rand.IntN(len(s.queues))]
		camp := s.inboundCampaigns[s.rand.IntN(len(s.inboundCampaigns))]
		c.data.Activity = interaction.Activity{
			ActivityID:             strconv.FormatInt(c.n, 10),
			CustomerCLI:            number,
			SourcePhoneNumber:      number,
			DestinationPhoneNumber: s.serviceNumber,
			CampaignID:             camp.ID,
			CampaignName:           camp.Name,
			QueueName:              q,
		}
		c.phase = phaseAlerting
		s.emit(c, interaction.CallAlerting)
		s.schedule(c, s.timing.RingTime, true)
	case interaction.CallOutbound:
		// The scenario's number is the one dialled, so the screen pop of
		// customerCli finds the scenario's records.
		s.allocateLead(c, number, 1+s.rand.IntN(2))
		s.dial(c, c.data.LeadData.PhoneIndex)
	case interaction.CallPreview:
		// The reference config pops previews on phones.index=1, so the
		// scenario's number is phone 1 and it is the one dialled.
		s.allocateLead(c, number, 1)
		c.phase = phasePreview
		s.emit(c, interaction.PreviewAllocated)
		s.schedule(c, s.timing.PreviewTime, false)
	case interaction.CallManual:
		s.dialManual(c, number)
	}
	return c.data.AgentInteractionID, nil
}

// Dial places a manual call for the agent (click-to-dial). When the agent has
// a preview lead allocated, Dial dials it instead: number picks which of the
// lead's phones (by its digits), or empty dials the allocated phoneIndex.
func (s *Simulator) Dial(ctx context.Context, agentID, number string) (string, error) {
	if strings.TrimSpace(agentID) == "" {
		return "", errors.New("dial: agentID is empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return "", fmt.Errorf("dial: %w", ErrNotRunning)
	}
	agent := s.agent(agentID)
	if c := agent.call; c != nil && c.phase == phaseAlerting && c.data.CallType == interaction.CallPreview {
		// The agent's Dial arrived twice (a double click, a retry after a
		// lost reply): the preview is already being dialled, which is what
		// both asked for.
		if index, err := leadPhoneIndex(c.data.LeadData, number); err == nil && index == c.data.LeadData.PhoneIndex {
			return c.data.AgentInteractionID, nil
		}
	}
	if c := agent.call; c != nil && c.phase == phasePreview {
		index, err := leadPhoneIndex(c.data.LeadData, number)
		if err != nil {
			return "", fmt.Errorf("dial: agent %s has preview %s allocated: %w", agentID, c.data.AgentInteractionID, err)
		}
		s.dial(c, index)
		return c.data.AgentInteractionID, nil
	}
	if strings.TrimSpace(number) == "" {
		return "", errors.New("dial: number is empty")
	}
	if err := s.checkAvailable(agent, interaction.CallManual); err != nil {
		return "", fmt.Errorf("dial: %w", err)
	}
	c := s.newCall(agent, interaction.CallManual)
	s.dialManual(c, number)
	return c.data.AgentInteractionID, nil
}

// leadPhoneIndex finds the lead's phone to dial: the one whose digits match
// number, or the allocated phoneIndex when number is empty.
func leadPhoneIndex(lead *interaction.Lead, number string) (int, error) {
	if strings.TrimSpace(number) == "" {
		return lead.PhoneIndex, nil
	}
	want := digits(number)
	var known []string
	for _, p := range lead.Phones {
		if digits(p.Phone) == want {
			return p.Index, nil
		}
		known = append(known, p.Phone)
	}
	return 0, fmt.Errorf("%s is not one of the lead's phones (%s): dial one of them, or wrap the preview to skip it", number, strings.Join(known, ", "))
}

func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// Hangup ends the call: a connected call hangs up (callHangup) and the agent
// wraps; a call still ringing or dialling fails (callFailed: abandoned, no
// answer), and the agent wraps it too.
func (s *Simulator) Hangup(ctx context.Context, interactionID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return fmt.Errorf("hangup: %w", ErrNotRunning)
	}
	c, ok := s.calls[interactionID]
	if !ok {
		return fmt.Errorf("hangup: no interaction %q in progress", interactionID)
	}
	switch c.phase {
	case phasePreview:
		return fmt.Errorf("hangup: %s is a preview that was not dialled: dial it, or wrap it to skip it", interactionID)
	case phaseAlerting:
		s.fail(c)
	case phaseConnected:
		s.hangup(c)
	case phaseWrapping:
		return fmt.Errorf("hangup: %s has already ended: wrap it", interactionID)
	}
	return nil
}

// SetAgentState changes the agent's state: Ready, Paused (with a reason) or
// LoggedOut. During a call the change waits until the call is wrapped.
func (s *Simulator) SetAgentState(ctx context.Context, agentID string, state AgentState, reason string) error {
	if strings.TrimSpace(agentID) == "" {
		return errors.New("set agent state: agentID is empty")
	}
	switch state {
	case AgentReady, AgentPaused, AgentLoggedOut:
	default:
		return fmt.Errorf("set agent state: %q cannot be requested: ask for Ready, Paused or LoggedOut (the other states follow calls)", state)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return fmt.Errorf("set agent state: %w", ErrNotRunning)
	}
	// An agent's first state is the one it asks for, not an implicit Ready.
	agent := s.loggedOutAgent(agentID)
	if state != AgentPaused {
		reason = ""
	}
	if agent.call != nil {
		agent.pending, agent.pendingReason = state, reason
		return nil
	}
	s.setState(agent, state, reason)
	return nil
}

// Wrap wraps the agent's interaction with the wrap code and notes. Wrapping a
// call that is still in progress ends it first (callHangup, or callFailed if
// it never connected); wrapping an undialled preview skips it, reported as a
// failed call since it never connected.
func (s *Simulator) Wrap(ctx context.Context, agentID, interactionID, wrapCode, notes string) error {
	if strings.TrimSpace(wrapCode) == "" {
		return errors.New("wrap: wrapCode is empty: choose a wrap code")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return fmt.Errorf("wrap: %w", ErrNotRunning)
	}
	c, ok := s.calls[interactionID]
	if !ok {
		return fmt.Errorf("wrap: no interaction %q in progress (it may be wrapped already)", interactionID)
	}
	if c.agent.id != agentID {
		return fmt.Errorf("wrap: interaction %s belongs to agent %s, not %s", interactionID, c.agent.id, agentID)
	}
	switch c.phase {
	case phasePreview:
		c.skipped = true
		s.fail(c)
	case phaseAlerting:
		s.fail(c)
	case phaseConnected:
		s.hangup(c)
	}
	s.wrap(c, wrapCode, notes)
	return nil
}

// Call phases as CallStatus reports them.
const (
	PhasePreviewing = "previewing" // a preview lead is shown, not dialled
	PhaseAlerting   = "alerting"   // ringing or dialling
	PhaseConnected  = "connected"  // talking
	PhaseWrapping   = "wrapping"   // hung up or failed; the agent wraps
	PhaseWrapped    = "wrapped"    // over
	PhaseSkipped    = "skipped"    // a preview wrapped without being dialled
)

// CallStatus is what the simulated platform shows of a call: the demo's
// telephony panel follows it.
type CallStatus struct {
	InteractionID string               `json:"interactionId"`
	CallType      interaction.CallType `json:"callType"`
	// Phase is one of the Phase constants.
	Phase string `json:"phase"`
	// Number is the customer's number: the one dialled, or for an undialled
	// preview the lead's allocated phone.
	Number   string `json:"number"`
	LeadName string `json:"leadName,omitempty"`
	WrapCode string `json:"wrapCode,omitempty"`
	// DueInMs is how long until the simulator takes the call's next step
	// by itself (Timing): a preview is dialled, a ringing call connects,
	// the customer hangs up, an unwrapped call is wrapped with the auto-wrap
	// code. 0 when the step waits for a command.
	DueInMs int64 `json:"dueInMs,omitempty"`
}

// AgentCalls returns the agent's call in progress (nil when it has none)
// and the last call it wrapped (nil before the first).
func (s *Simulator) AgentCalls(agentID string) (current, last *CallStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.agents[agentID]
	if !ok {
		return nil, nil
	}
	if a.call != nil {
		current = statusOf(a.call)
	}
	if a.last != nil {
		copied := *a.last
		last = &copied
	}
	return current, last
}

// statusOf is the call's CallStatus.
func statusOf(c *simCall) *CallStatus {
	st := &CallStatus{
		InteractionID: c.data.AgentInteractionID,
		CallType:      c.data.CallType,
		Phase:         [...]string{phasePreview: PhasePreviewing, phaseAlerting: PhaseAlerting, phaseConnected: PhaseConnected, phaseWrapping: PhaseWrapping}[c.phase],
		Number:        c.data.Activity.CustomerCLI,
		WrapCode:      c.data.Activity.WrapCode,
	}
	if lead := c.data.LeadData; lead != nil {
		st.LeadName = lead.Name
	}
	if !c.due.IsZero() {
		st.DueInMs = max(1, time.Until(c.due).Milliseconds())
	}
	return st
}

// StateOf returns the agent's state and pause reason; LoggedOut for an agent
// the simulator has not seen.
func (s *Simulator) StateOf(agentID string) (AgentState, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.agents[agentID]; ok {
		return a.state, a.reason
	}
	return AgentLoggedOut, ""
}

// agent returns the agent, logging it in as Ready the first time it is named.
func (s *Simulator) agent(id string) *simAgent {
	a, known := s.agents[id]
	if !known {
		a = s.loggedOutAgent(id)
		s.setState(a, AgentReady, "")
	}
	return a
}

// loggedOutAgent returns the agent, creating it logged out if it is new.
func (s *Simulator) loggedOutAgent(id string) *simAgent {
	a, known := s.agents[id]
	if !known {
		a = &simAgent{id: id, state: AgentLoggedOut}
		s.agents[id] = a
	}
	return a
}

func (s *Simulator) checkAvailable(a *simAgent, callType interaction.CallType) error {
	switch {
	case a.call != nil:
		return fmt.Errorf("agent %s already has call %s (%s) and takes one call at a time: wrap that one first", a.id, a.call.data.AgentInteractionID, a.call.progress())
	case a.state == AgentLoggedOut:
		return fmt.Errorf("agent %s is logged out: log in to the widget and choose Ready first", a.id)
	case a.state == AgentPaused && callType != interaction.CallManual:
		return fmt.Errorf("agent %s is Paused: %s calls go to Ready agents only (manual calls are allowed while paused)", a.id, callType)
	}
	switch callType {
	case interaction.CallInbound, interaction.CallOutbound, interaction.CallPreview, interaction.CallManual:
		return nil
	}
	return fmt.Errorf("call type %q is not one of manual, inbound, outbound, preview", callType)
}

func (s *Simulator) newCall(a *simAgent, callType interaction.CallType) *simCall {
	n := s.nextID
	s.nextID++
	c := &simCall{
		n:            n,
		agent:        a,
		stateBefore:  a.state,
		reasonBefore: a.reason,
		data: interaction.Interaction{
			AgentInteractionID: "IX-" + strconv.FormatInt(n, 10),
			CallType:           callType,
		},
	}
	a.call = c
	s.calls[c.data.AgentInteractionID] = c
	return c
}

// allocateLead gives an outbound or preview call its campaign and lead: two
// phones, the scenario's number at dialIndex and a fictitious mobile at the
// other, and the name LeadNames gives the number (else a generated one).
func (s *Simulator) allocateLead(c *simCall, number string, dialIndex int) {
	camp := s.outboundCampaigns[s.rand.IntN(len(s.outboundCampaigns))]
	other := fictitiousMobile(s.rand)
	phones := []interaction.LeadPhone{{Index: 1, Phone: number, Type: "home"}, {Index: 2, Phone: other, Type: "mobile"}}
	if dialIndex == 2 {
		phones[0].Phone, phones[1].Phone = other, number
	}
	c.data.Activity = interaction.Activity{CampaignID: camp.ID, CampaignName: camp.Name, CustomerCLI: number}
	name, known := s.leadNames[digits(number)]
	if !known {
		name = leadFirstNames[s.rand.IntN(len(leadFirstNames))] + " " + leadLastNames[s.rand.IntN(len(leadLastNames))]
	}
	c.data.LeadData = &interaction.Lead{
		LeadID:     "L-" + strconv.FormatInt(c.n, 10),
		Name:       name,
		Phones:     phones,
		PhoneIndex: dialIndex,
	}
}

// fictitiousMobile is a number from the range ACMA reserves for fiction
// (0491 570 006 to 0491 570 159), so it never reaches a real person.
func fictitiousMobile(r *rand.Rand) string {
	return fmt.Sprintf("0491570%03d", 6+r.IntN(154))
}

// pickNumber returns a number of the scenario, or of any scenario when
// scenario is empty; a fictitious one when there are none.
func (s *Simulator) pickNumber(scenario string) (string, error) {
	if scenario == "" {
		if len(s.scenarios) == 0 {
			return fictitiousMobile(s.rand), nil
		}
		scenario = s.scenarios[s.rand.IntN(len(s.scenarios))]
	}
	list, ok := s.numbers[scenario]
	if ok && s.newNumber != nil {
		if n := s.newNumber(scenario); n != "" {
			return n, nil
		}
	}
	if !ok {
		if len(s.scenarios) == 0 {
			return "", fmt.Errorf("unknown scenario %q: the simulator has no scenarios; leave it empty", scenario)
		}
		return "", fmt.Errorf("unknown scenario %q: use one of %s, or empty for any", scenario, strings.Join(s.scenarios, ", "))
	}
	if len(list) == 0 {
		return fictitiousMobile(s.rand), nil
	}
	return list[s.rand.IntN(len(list))], nil
}

// dial places an outbound or preview call to the lead's phone at index.
func (s *Simulator) dial(c *simCall, index int) {
	lead := c.data.LeadData
	lead.PhoneIndex = index
	for _, p := range lead.Phones {
		if p.Index == index {
			c.data.Activity.CustomerCLI = p.Phone
		}
	}
	a := &c.data.Activity
	a.ActivityID = strconv.FormatInt(c.n, 10)
	a.SourcePhoneNumber = s.serviceNumber
	a.DestinationPhoneNumber = a.CustomerCLI
	s.startDialling(c)
}

// dialManual places a manual call to number.
func (s *Simulator) dialManual(c *simCall, number string) {
	c.data.Activity = interaction.Activity{
		ActivityID:             strconv.FormatInt(c.n, 10),
		CustomerCLI:            number,
		SourcePhoneNumber:      s.serviceNumber,
		DestinationPhoneNumber: number,
	}
	s.startDialling(c)
}

func (s *Simulator) startDialling(c *simCall) {
	c.phase = phaseAlerting
	s.setState(c.agent, AgentDialling, "")
	s.emit(c, interaction.CallAlerting)
	s.schedule(c, s.timing.RingTime, true)
}

func (s *Simulator) connect(c *simCall) {
	c.phase = phaseConnected
	s.setState(c.agent, AgentOnCall, "")
	s.emit(c, interaction.CallStarted)
	s.schedule(c, s.timing.TalkTime, false)
}

func (s *Simulator) hangup(c *simCall) {
	c.phase = phaseWrapping
	s.setState(c.agent, AgentOnWrap, "")
	s.emit(c, interaction.CallHangup)
	s.schedule(c, s.timing.WrapTime, false)
}

func (s *Simulator) fail(c *simCall) {
	c.phase = phaseWrapping
	s.setState(c.agent, AgentOnWrap, "")
	s.emit(c, interaction.CallFailed)
	s.schedule(c, s.timing.WrapTime, false)
}

// wrap ends the interaction and returns the agent to the state it asked for
// during the call, or the one it had before.
func (s *Simulator) wrap(c *simCall, code, notes string) {
	c.data.Activity.WrapCode = code
	c.data.Activity.WrapDescription = s.wrapCodes[code]
	if code == s.autoWrapCode && c.data.Activity.WrapDescription == "" {
		c.data.Activity.WrapDescription = "Auto wrap"
	}
	c.data.Activity.Notes = notes
	s.emit(c, interaction.CallWrapped)
	delete(s.calls, c.data.AgentInteractionID)
	c.due = time.Time{}
	a := c.agent
	a.call = nil
	a.last = statusOf(c)
	a.last.Phase = PhaseWrapped
	if c.skipped {
		a.last.Phase = PhaseSkipped
	}
	state, reason := c.stateBefore, c.reasonBefore
	if a.pending != "" {
		state, reason = a.pending, a.pendingReason
		a.pending, a.pendingReason = "", ""
	}
	s.setState(a, state, reason)
}

// schedule sets when the call's next step happens on its own: after d, or
// when d is 0 either at once (immediate: it happens before schedule returns,
// so commands see its result) or never (it waits for a command).
func (s *Simulator) schedule(c *simCall, d time.Duration, immediate bool) {
	switch {
	case d > 0:
		c.due = time.Now().Add(d)
		s.signal()
	case immediate:
		c.due = time.Time{}
		s.advance(c)
	default:
		c.due = time.Time{}
	}
}

func (s *Simulator) setState(a *simAgent, state AgentState, reason string) {
	if a.state == state && a.reason == reason {
		return
	}
	a.state, a.reason = state, reason
	s.queue = append(s.queue, simItem{state: &AgentStateChange{AgentID: a.id, State: state, Reason: reason, Time: s.clock()}})
	s.signal()
}

// emit queues an event about the call. The event goes through JSON and
// interaction.DecodeEvent, exactly like a webhook event, so it carries the
// same Document and is validated the same way.
func (s *Simulator) emit(c *simCall, typ interaction.EventType) {
	ev := interaction.Event{
		ID:          "EV-" + strconv.FormatInt(s.nextEvt, 10),
		Type:        typ,
		Time:        s.clock(),
		AgentID:     c.agent.id,
		Interaction: c.data,
	}
	s.nextEvt++
	if lead := c.data.LeadData; lead != nil {
		copied := *lead
		copied.Phones = slices.Clone(lead.Phones)
		ev.Interaction.LeadData = &copied
	}
	data, err := json.Marshal(ev)
	if err == nil {
		var decoded *interaction.Event
		if decoded, err = interaction.DecodeEvent(data); err == nil {
			s.queue = append(s.queue, simItem{event: decoded})
			s.signal()
			return
		}
	}
	// A simulator bug, not the caller's: report it and carry on.
	s.logger.Error("simulator: produced an invalid event", "eventId", ev.ID, "type", typ, "err", err)
}

// clock returns the time for the next event: Now, or a millisecond after the
// previous event when Now has not moved on, so events always advance.
func (s *Simulator) clock() time.Time {
	t := s.now()
	if !t.After(s.lastTime) {
		t = s.lastTime.Add(time.Millisecond)
	}
	s.lastTime = t
	return t
}

// signal wakes Run without blocking; one pending wake-up is enough.
func (s *Simulator) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
