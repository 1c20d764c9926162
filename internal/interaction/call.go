package interaction

import (
	"fmt"
	"slices"
	"time"
)

// State is where a call is in its lifecycle.
//
// A call moves forward only:
//
//	Idle → Previewing → Alerting → Connected → Ended → Wrapped
//	                        └─────→ Failed ─────────────↗
//
// Previewing happens only to preview calls. Failed is a call that ended
// without connecting; its agent still wraps it, so Failed leads to Wrapped.
// Wrapped is final.
type State string

// The lifecycle states.
const (
	Idle       State = "idle"
	Previewing State = "previewing"
	Alerting   State = "alerting"
	Connected  State = "connected"
	Ended      State = "ended"
	Failed     State = "failed"
	Wrapped    State = "wrapped"
)

// rank orders states along the lifecycle. Ended and Failed share a rank: both
// are "the call is over, not yet wrapped", so neither can follow the other.
func (s State) rank() int {
	switch s {
	case Previewing:
		return 1
	case Alerting:
		return 2
	case Connected:
		return 3
	case Ended, Failed:
		return 4
	case Wrapped:
		return 5
	}
	return 0 // Idle and the zero State
}

// The two routes through the lifecycle, in order; Apply lists the states a
// skipping event implies from these.
var (
	connectedRoute = []State{Previewing, Alerting, Connected, Ended, Wrapped}
	failedRoute    = []State{Previewing, Alerting, Failed, Wrapped}
)

// eventState is the state each event type announces.
var eventState = map[EventType]State{
	PreviewAllocated: Previewing,
	CallAlerting:     Alerting,
	CallStarted:      Connected,
	CallFailed:       Failed,
	CallHangup:       Ended,
	CallWrapped:      Wrapped,
}

// MaxSeenEvents bounds the event ids a Call remembers for duplicate
// detection. A call has at most six lifecycle events, so 32 covers many
// redeliveries; an older duplicate that falls out of the window is still
// harmless, because it is then stale and stale events never move the state.
const MaxSeenEvents = 32

// Call is the lifecycle state of one interaction, built by applying its
// events in whatever order they arrive. The zero Call is Idle and adopts the
// interaction of the first event applied.
//
// Its JSON form is stable (the outbox and the store persist it): field names
// never change meaning, times are RFC 3339 and absent when unknown.
type Call struct {
	InteractionID string   `json:"interactionId"`
	AgentID       string   `json:"agentId"`
	CallType      CallType `json:"callType"`
	State         State    `json:"state"`
	// Path lists every state the call has entered, in order, including
	// states implied by events that skipped them. Each state appears once.
	Path []State `json:"path,omitempty"`
	// SeenEventIDs are the ids of the last MaxSeenEvents events applied,
	// oldest first.
	SeenEventIDs []string `json:"seenEventIds,omitempty"`

	// When each state was reached, from the events' timestamps; zero when the
	// state was implied or its event carried no timestamp. A late (stale)
	// event still fills its own time in.
	PreviewedAt time.Time `json:"previewedAt,omitzero"`
	AlertingAt  time.Time `json:"alertingAt,omitzero"`
	ConnectedAt time.Time `json:"connectedAt,omitzero"`
	EndedAt     time.Time `json:"endedAt,omitzero"`
	FailedAt    time.Time `json:"failedAt,omitzero"`
	WrappedAt   time.Time `json:"wrappedAt,omitzero"`

	// WrapCode and WrapDescription are those of the callWrapped event that
	// wrapped the call. The first wrap wins; see Apply.
	WrapCode        string `json:"wrapCode,omitempty"`
	WrapDescription string `json:"wrapDescription,omitempty"`

	// Interaction is the interaction data merged from every event applied.
	Interaction Interaction `json:"interaction"`

	// PhoneCallID and TaskID are the CRM record ids of the call's phone call
	// activity and preview task, recorded when the plan that creates them
	// chooses them (no alternate key configured: ids derived from the
	// interaction). With an alternate key Dataverse chooses the ids, these
	// stay empty, and writes address the records by the key.
	PhoneCallID string `json:"phoneCallId,omitempty"`
	TaskID      string `json:"taskId,omitempty"`
}

// Transition is what applying one event changed.
type Transition struct {
	Event   EventType `json:"event"`
	EventID string    `json:"eventId"`
	From    State     `json:"from"`
	To      State     `json:"to"`
	// Duplicate: the event id was seen before; nothing changed.
	Duplicate bool `json:"duplicate,omitempty"`
	// Stale: the event is for a state the call has already reached or
	// passed. It filled in data the call lacked but the state did not move.
	Stale bool `json:"stale,omitempty"`
	// Implied lists, in order, the states the call passed through without
	// their own event (a callHangup with no callStarted implies Connected),
	// between From and To.
	Implied []State `json:"implied,omitempty"`
}

// Moved reports whether the state changed.
func (t Transition) Moved() bool { return t.From != t.To }

// Entered lists the states the call entered, in order: the implied ones, then
// To. Over a call's life every state appears in exactly one Transition's
// Entered, which is what lets a planner act once per state.
func (t Transition) Entered() []State {
	if !t.Moved() {
		return nil
	}
	return append(slices.Clone(t.Implied), t.To)
}

// Reached reports whether the call has entered s (Idle always).
func (c *Call) Reached(s State) bool {
	return s == Idle || slices.Contains(c.Path, s)
}

// Apply applies one event and reports what changed. It tolerates the
// redeliveries and reordering of at-least-once delivery:
//
//   - An event whose id was seen before is a duplicate: nothing changes.
//   - An event for the current state or an earlier one is stale: it fills in
//     data the call lacks (a late callStarted after callHangup supplies the
//     connect time) and never moves the state back.
//   - An event for a later state moves the call there even when states were
//     skipped, and lists them in Transition.Implied: a callHangup with no
//     callStarted implies Connected; a callWrapped before any callHangup
//     implies Connected and Ended (an agent wraps after talking; a call that
//     failed is expected to say so with callFailed before its wrap).
//   - A callFailed for a call that has connected is taken as its end (Ended):
//     a connected call cannot fail to connect.
//   - Wrapped is final and the first wrap wins: a later callWrapped, even with
//     another wrap code, is stale and only fills a code or description the
//     first lacked. A wrap ends the interaction in ipSCAPE, so a second one is
//     a redelivery rather than a correction, and with
//     completeActivityRecordOnWrap the activity is read-only by then anyway;
//     the rule is the same with or without that option.
//
// The call type is fixed by the first event. The one change allowed is
// between preview and outbound, in either order: a preview call may be
// reported as outbound once it is dialled, and the call keeps (or takes)
// "preview", the type screen-pop rules and the preview task were chosen by.
//
// Apply returns an error, and changes nothing, for an event of another
// interaction or agent, an unknown event type, or a call type change.
func (c *Call) Apply(ev *Event) (Transition, error) {
	if err := c.Check(ev); err != nil {
		return Transition{}, err
	}
	target := eventState[ev.Type]
	in := &ev.Interaction

	from := c.State
	if from == "" {
		from = Idle
	}
	t := Transition{Event: ev.Type, EventID: ev.ID, From: from, To: from}
	if slices.Contains(c.SeenEventIDs, ev.ID) {
		t.Duplicate = true
		return t, nil
	}

	if c.InteractionID == "" {
		c.InteractionID = in.AgentInteractionID
		c.AgentID = ev.AgentID
		c.CallType = in.CallType
		c.Interaction.AgentInteractionID = in.AgentInteractionID
	} else if in.CallType == CallPreview {
		c.CallType = CallPreview // outbound reported first; see the doc above
	}
	c.Interaction.CallType = c.CallType
	if c.AgentID == "" {
		c.AgentID = ev.AgentID
	}
	c.remember(ev.ID)

	if target == Failed && c.Reached(Connected) {
		target = Ended
	}
	if target.rank() <= from.rank() {
		t.Stale = true
		c.mergeInteraction(in, false)
		c.stamp(target, ev.Time)
		if target == Wrapped {
			c.WrapCode = firstNonEmpty(c.WrapCode, in.Activity.WrapCode)
			c.WrapDescription = firstNonEmpty(c.WrapDescription, in.Activity.WrapDescription)
		}
		return t, nil
	}

	t.Implied = c.implied(from, target)
	c.Path = append(c.Path, t.Implied...)
	c.Path = append(c.Path, target)
	c.State = target
	t.To = target
	c.mergeInteraction(in, true)
	c.stamp(target, ev.Time)
	if target == Wrapped {
		c.WrapCode = in.Activity.WrapCode
		c.WrapDescription = in.Activity.WrapDescription
	}
	return t, nil
}

// Check returns the error Apply would return for ev, changing nothing: a
// caller that acts on an event before applying it (the flow pops the call)
// asks first whether the call takes the event at all.
func (c *Call) Check(ev *Event) error {
	if ev == nil {
		return &EventError{Msg: "no event to apply"}
	}
	if _, ok := eventState[ev.Type]; !ok {
		return &EventError{Path: "type", Msg: fmt.Sprintf("%q is not an event type; use %s", ev.Type, eventTypeList)}
	}
	if ev.ID == "" {
		return &EventError{Path: "id", Msg: "missing; every event needs an id for duplicate detection"}
	}
	if ev.Interaction.AgentInteractionID == "" {
		return &EventError{Path: "interaction.agentInteractionId", Msg: "missing; events are matched to calls by it"}
	}
	return c.checkBelongs(ev)
}

// checkBelongs rejects an event of another interaction, another agent or an
// incompatible call type, before anything changes.
func (c *Call) checkBelongs(ev *Event) error {
	in := &ev.Interaction
	switch in.CallType {
	case CallManual, CallInbound, CallOutbound, CallPreview:
	default:
		return &EventError{Path: "interaction.callType", Msg: fmt.Sprintf("%q is not a call type; use %s", in.CallType, callTypeList)}
	}
	if c.InteractionID == "" {
		return nil
	}
	if in.AgentInteractionID != c.InteractionID {
		return &EventError{Path: "interaction.agentInteractionId", Msg: fmt.Sprintf("%q is another interaction than this call's %q; route events to calls by agentInteractionId", in.AgentInteractionID, c.InteractionID)}
	}
	if c.AgentID != "" && ev.AgentID != "" && ev.AgentID != c.AgentID {
		return &EventError{Path: "agentId", Msg: fmt.Sprintf("%q differs from %q, the agent of interaction %q; one interaction belongs to one agent", ev.AgentID, c.AgentID, c.InteractionID)}
	}
	if in.CallType != c.CallType && !previewOrOutbound(in.CallType, c.CallType) {
		return &EventError{Path: "interaction.callType", Msg: fmt.Sprintf("%q differs from %q, the call type of interaction %q; a call keeps its type (only a preview call may be reported as outbound once dialled)", in.CallType, c.CallType, c.InteractionID)}
	}
	return nil
}

func previewOrOutbound(a, b CallType) bool {
	return (a == CallPreview && b == CallOutbound) || (a == CallOutbound && b == CallPreview)
}

// implied lists the states strictly between from and to on the route the
// call is taking.
func (c *Call) implied(from, to State) []State {
	route := connectedRoute
	if to == Failed || from == Failed {
		route = failedRoute
	}
	var out []State
	for _, s := range route {
		if s == Previewing && c.CallType != CallPreview {
			continue
		}
		if s.rank() > from.rank() && s.rank() < to.rank() {
			out = append(out, s)
		}
	}
	return out
}

func (c *Call) remember(id string) {
	if len(c.SeenEventIDs) >= MaxSeenEvents {
		c.SeenEventIDs = slices.Delete(c.SeenEventIDs, 0, len(c.SeenEventIDs)-MaxSeenEvents+1)
	}
	c.SeenEventIDs = append(c.SeenEventIDs, id)
}

// stamp records when s was reached, unless that is already known: the first
// event to announce a state is the one that dated it.
func (c *Call) stamp(s State, at time.Time) {
	var dst *time.Time
	switch s {
	case Previewing:
		dst = &c.PreviewedAt
	case Alerting:
		dst = &c.AlertingAt
	case Connected:
		dst = &c.ConnectedAt
	case Ended:
		dst = &c.EndedAt
	case Failed:
		dst = &c.FailedAt
	case Wrapped:
		dst = &c.WrappedAt
	default:
		return
	}
	if dst.IsZero() {
		*dst = at
	}
}

// mergeInteraction folds an event's interaction data into the call's. A
// forward event's values replace older ones (later data is more current); a
// stale event only fills in what is missing.
func (c *Call) mergeInteraction(src *Interaction, overwrite bool) {
	dst := &c.Interaction
	a, s := &dst.Activity, &src.Activity
	for _, f := range []struct{ dst, src *string }{
		{&a.ActivityID, &s.ActivityID},
		{&a.CustomerCLI, &s.CustomerCLI},
		{&a.SourcePhoneNumber, &s.SourcePhoneNumber},
		{&a.DestinationPhoneNumber, &s.DestinationPhoneNumber},
		{&a.CampaignID, &s.CampaignID},
		{&a.CampaignName, &s.CampaignName},
		{&a.QueueName, &s.QueueName},
		{&a.WrapCode, &s.WrapCode},
		{&a.WrapDescription, &s.WrapDescription},
		{&a.Notes, &s.Notes},
	} {
		mergeString(f.dst, *f.src, overwrite)
	}
	if src.LeadData == nil {
		return
	}
	if dst.LeadData == nil {
		dst.LeadData = &Lead{}
	}
	dl, sl := dst.LeadData, src.LeadData
	mergeString(&dl.LeadID, sl.LeadID, overwrite)
	mergeString(&dl.Name, sl.Name, overwrite)
	if sl.PhoneIndex != 0 && (overwrite || dl.PhoneIndex == 0) {
		dl.PhoneIndex = sl.PhoneIndex
	}
	if len(sl.Phones) > 0 && (overwrite || len(dl.Phones) == 0) {
		dl.Phones = slices.Clone(sl.Phones)
	}
}

func mergeString(dst *string, src string, overwrite bool) {
	if src != "" && (overwrite || *dst == "") {
		*dst = src
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
