package callflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ctibridge/ctibridge/internal/activity"
	"github.com/ctibridge/ctibridge/internal/agent"
	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/interaction"
	"github.com/ctibridge/ctibridge/internal/phone"
)

// CallView is the call as the widget shows it.
type CallView struct {
	InteractionID string               `json:"interactionId"`
	CallType      interaction.CallType `json:"callType"`
	State         interaction.State    `json:"state"`
	Number        string               `json:"number,omitempty"`
	Campaign      string               `json:"campaign,omitempty"`
	Queue         string               `json:"queue,omitempty"`
	Lead          *LeadView            `json:"lead,omitempty"`
	StartedAt     *time.Time           `json:"startedAt,omitempty"`
	ActivityID    string               `json:"activityId,omitempty"`
	Selection     activity.Selection   `json:"selection"`
	Matches       []Match              `json:"matches,omitempty"`
	WrapCode      string               `json:"wrapCode,omitempty"`
}

// LeadView is the lead of an outbound or preview call.
type LeadView struct {
	Name   string `json:"name,omitempty"`
	LeadID string `json:"leadId,omitempty"`
}

func viewOf(rec *record) *CallView {
	c := &rec.Call
	v := &CallView{
		InteractionID: c.InteractionID,
		CallType:      c.CallType,
		State:         c.State,
		Number:        activity.CustomerNumber(c),
		Campaign:      c.Interaction.Activity.CampaignName,
		Queue:         c.Interaction.Activity.QueueName,
		ActivityID:    c.PhoneCallID,
		Selection:     rec.Selection,
		Matches:       rec.Matches,
		WrapCode:      c.WrapCode,
	}
	if l := c.Interaction.LeadData; l != nil && (l.Name != "" || l.LeadID != "") {
		v.Lead = &LeadView{Name: l.Name, LeadID: l.LeadID}
	}
	for _, t := range []time.Time{c.ConnectedAt, c.AlertingAt, c.PreviewedAt} {
		if !t.IsZero() {
			t := t
			v.StartedAt = &t
			break
		}
	}
	return v
}

func callMessage(v *CallView) map[string]any {
	return map[string]any{"type": "call", "call": v}
}

// EntityView is a config entity as the widget needs it.
type EntityView struct {
	Name    string            `json:"name"`
	Plural  string            `json:"plural"`
	Key     string            `json:"key"`
	Columns []string          `json:"columns"`
	Type    config.EntityType `json:"type"`
}

// Settings are the widget settings of hello.
type Settings struct {
	Entities    []EntityView `json:"entities"`
	WrapCodes   []WrapCode   `json:"wrapCodes"`
	WriteMode   string       `json:"writeMode"`
	ClickToDial bool         `json:"clickToDial"`
	// CIF is the config's cif block: whether calls get CIF 2.0 sessions,
	// the session and notification templates, the presence mapping.
	CIF config.CIF `json:"cif"`
	// Telephony is Options.TelephonySettings's answer for the agent; it is
	// only in the hello of the agent's own authenticated socket.
	Telephony any `json:"telephony,omitempty"`
}

// WidgetSettings returns the settings a widget gets with hello.
func (f *Flow) WidgetSettings() Settings {
	cfg := f.engine.Load().Config()
	s := Settings{WrapCodes: f.opt.WrapCodes, WriteMode: f.opt.WriteMode, ClickToDial: f.opt.ClickToDial && f.opt.Telephony != nil, CIF: cfg.CIF}
	for _, name := range cfg.EntityOrder {
		e := cfg.Entities[name]
		s.Entities = append(s.Entities, EntityView{Name: name, Plural: e.Plural, Key: e.Key, Columns: e.Columns, Type: e.Type})
	}
	if s.WrapCodes == nil {
		s.WrapCodes = []WrapCode{}
	}
	return s
}

// Hello implements agent.WidgetHandler: the agent's state and current call.
func (f *Flow) Hello(ctx context.Context, agentID string) (any, error) {
	current, err := f.currentCall(ctx, agentID)
	if err != nil {
		return nil, err
	}
	settings := f.WidgetSettings()
	settings.Telephony = map[string]string{"source": ""}
	if f.opt.TelephonySettings != nil {
		if settings.Telephony, err = f.opt.TelephonySettings(ctx, agentID); err != nil {
			return nil, fmt.Errorf("telephony settings of agent %s: %w", agentID, err)
		}
	}
	msg := map[string]any{
		"type":     "hello",
		"agent":    map[string]any{"id": agentID, "state": f.agentState(agentID).State},
		"call":     nil,
		"settings": settings,
	}
	if current != nil {
		msg["call"] = viewOf(current)
		if current.Pop != nil && !current.PopAnswered {
			// The widget was away when the call was popped (a reconnect,
			// a restart): it gets the pop now.
			msg["pop"] = f.popMessage(current.Call.InteractionID, current.Pop, time.Time{})
		}
	}
	return msg, nil
}

// currentCall is the agent's latest call not yet wrapped, if any.
func (f *Flow) currentCall(ctx context.Context, agentID string) (*record, error) {
	data, found, err := f.opt.Calls.Current(ctx, agentID)
	if err != nil {
		return nil, fmt.Errorf("load current call of agent %s: %w", agentID, err)
	}
	if !found {
		return nil, nil
	}
	rec := &record{}
	if err := json.Unmarshal([]byte(data), rec); err != nil {
		return nil, err
	}
	return rec, nil
}

type widgetRequest struct {
	InteractionID  string              `json:"interactionId"`
	Outcome        string              `json:"outcome"`
	Matches        []Match             `json:"matches"`
	Ms             float64             `json:"ms"`
	Person         *activity.RecordRef `json:"person"`
	Organisation   *activity.RecordRef `json:"organisation"`
	User           string              `json:"user"`
	UserID         string              `json:"userId"`
	WrapCode       string              `json:"wrapCode"`
	Notes          string              `json:"notes"`
	Number         string              `json:"number"`
	State          string              `json:"state"`
	IdempotencyKey string              `json:"idempotencyKey"`
	ID             string              `json:"id"`
	Error          string              `json:"error"`
	Reason         string              `json:"reason"`
}

// HandleWidgetMessage implements agent.WidgetHandler.
func (f *Flow) HandleWidgetMessage(ctx context.Context, agentID string, msg agent.WidgetMessage) error {
	var req widgetRequest
	if err := json.Unmarshal(msg.Raw, &req); err != nil {
		return &RefusedError{Code: "bad_message", Msg: fmt.Sprintf("%s: %v", msg.Type, err)}
	}
	switch msg.Type {
	case "popResult":
		return f.popResult(ctx, agentID, &req)
	case "relate":
		return f.relate(ctx, agentID, &req)
	case "environment":
		return f.checkDynamicsUser(ctx, agentID, req.UserID)
	case "wrap":
		return f.wrap(ctx, agentID, &req)
	case "dial":
		if strings.TrimSpace(req.Number) == "" {
			return &RefusedError{Code: "bad_message", Msg: "dial: number is required"}
		}
		if f.opt.Telephony == nil {
			return &RefusedError{Code: "not_supported", Msg: "dial: click-to-dial is not available with this telephony provider"}
		}
		// CIF hands over the number as the CRM holds it ("(02) 9999 0000");
		// the platform dials E.164.
		number := f.engine.Load().Phones().Format(req.Number, phone.FormatE164)
		if number == "" {
			return &RefusedError{Code: "bad_message", Msg: fmt.Sprintf("number: %q has no digits to dial", req.Number)}
		}
		_, err := f.opt.Telephony.Dial(ctx, agentID, number)
		return err
	case "writeResult":
		if f.writeResults == nil || !f.writeResults.Resolve(agentID, req.IdempotencyKey, req.ID, req.Error) {
			return &RefusedError{Code: "not_found", Msg: fmt.Sprintf("idempotencyKey: no write %q is waiting for this agent", req.IdempotencyKey)}
		}
		return nil
	case "state":
		if req.State != "Ready" && req.State != "Paused" {
			return &RefusedError{Code: "bad_message", Msg: fmt.Sprintf("state: %q is not a state an agent can choose; use Ready or Paused", req.State)}
		}
		if f.opt.Telephony != nil {
			if err := f.opt.Telephony.SetAgentState(ctx, agentID, req.State, req.Reason); err != nil && !errors.Is(err, ErrNotSupported) {
				return err
			}
		}
		f.setAgentState(agentID, req.State, req.Reason)
		return nil
	default:
		return &RefusedError{Code: "bad_message", Msg: fmt.Sprintf("type: %q is not a widget message; see docs/widget-protocol.md", msg.Type)}
	}
}

// withCall runs fn on the agent's call under the interaction's lock,
// saves what fn changed with the writes it returns, and returns the call
// as saved. The call itself is not for the caller: once the lock is let
// go, the next event of the call may change it.
func (f *Flow) withCall(ctx context.Context, agentID, interactionID string, fn func(rec *record) ([]activity.Write, error)) (*CallView, error) {
	if interactionID == "" {
		return nil, &RefusedError{Code: "bad_message", Msg: "interactionId: is required"}
	}
	defer f.locks.lock(interactionID)()
	rec, err := f.agentCall(ctx, agentID, interactionID)
	if err != nil {
		return nil, err
	}
	writes, err := fn(rec)
	if err != nil {
		return nil, err
	}
	if err := f.save(ctx, rec, writes); err != nil {
		return nil, err
	}
	return viewOf(rec), nil
}

// agentCall loads agentID's call interactionID. An unknown call and another
// agent's call get the same answer.
func (f *Flow) agentCall(ctx context.Context, agentID, interactionID string) (*record, error) {
	rec, err := f.load(ctx, interactionID)
	if err != nil {
		return nil, err
	}
	if rec.Call.InteractionID == "" || rec.Call.AgentID != agentID {
		if rec.Call.InteractionID != "" {
			f.hold(rec) // another agent's call, unchanged
		}
		return nil, &RefusedError{Code: "not_found", Msg: fmt.Sprintf("interactionId: no call %q for this agent", interactionID)}
	}
	return rec, nil
}

func (f *Flow) popResult(ctx context.Context, agentID string, req *widgetRequest) error {
	if f.opt.Metrics != nil && req.Outcome != "" {
		f.opt.Metrics.PopResults.WithLabelValues(popOutcome(req.Outcome)).Inc()
		if req.Ms > 0 {
			f.opt.Metrics.WidgetPopDuration.Observe(req.Ms / 1000)
		}
	}
	cfg := f.engine.Load().Config()
	_, err := f.withCall(ctx, agentID, req.InteractionID, func(rec *record) ([]activity.Write, error) {
		rec.PopAnswered, rec.Pop = true, nil
		rec.Matches = keepListed(cfg, req.Matches, 50)
		// A single match is the activity's relation unless the agent chose.
		if len(rec.Matches) != 1 || rec.Selection.Revision > 0 {
			return nil, nil
		}
		sel := rec.Selection
		m := rec.Matches[0]
		ref := &activity.RecordRef{Entity: m.Entity, ID: m.ID}
		if cfg.Entities[m.Entity].Type == config.EntityPerson {
			sel.Person = ref
		} else {
			sel.Organisation = ref
		}
		if activity.CheckSelection(cfg, sel) != nil {
			return nil, nil
		}
		sel.Revision = 1
		rec.Selection = sel
		return activity.PlanRelate(cfg, &rec.Call, sel).Writes, nil
	})
	return err
}

// wrapLabel is the picker's label for a wrap code, its description.
func (f *Flow) wrapLabel(code string) string {
	for _, wc := range f.opt.WrapCodes {
		if wc.Code == code {
			return wc.Label
		}
	}
	return ""
}

func popOutcome(s string) string {
	switch s {
	case "record", "search", "new", "none":
		return s
	}
	return "other"
}

// keepListed keeps matches of listed entities, at most max of them.
func keepListed(cfg *config.Config, matches []Match, max int) []Match {
	var out []Match
	for _, m := range matches {
		if cfg.Entities[m.Entity] != nil && len(out) < max {
			out = append(out, m)
		}
	}
	return out
}

func (f *Flow) relate(ctx context.Context, agentID string, req *widgetRequest) error {
	cfg := f.engine.Load().Config()
	saved, err := f.withCall(ctx, agentID, req.InteractionID, func(rec *record) ([]activity.Write, error) {
		user := req.User
		if rec.Caller != nil {
			// The agent party is the user the call writes as, whatever the
			// widget says; one that says another is refused.
			if user != "" && !sameGUID(user, rec.Caller.SystemUserID) {
				return nil, f.wrongUser(agentID, "relate.user")
			}
			user = rec.Caller.SystemUserID
		}
		sel := activity.Selection{Person: req.Person, Organisation: req.Organisation, User: user, Revision: rec.Selection.Revision + 1}
		if err := activity.CheckSelection(cfg, sel); err != nil {
			return nil, &RefusedError{Code: "bad_selection", Msg: err.Error()}
		}
		rec.Selection = sel
		return activity.PlanRelate(cfg, &rec.Call, sel).Writes, nil
	})
	if err == nil {
		f.opt.Notifier.Send(agentID, callMessage(saved))
	}
	return err
}

func (f *Flow) wrap(ctx context.Context, agentID string, req *widgetRequest) error {
	if strings.TrimSpace(req.WrapCode) == "" {
		return &RefusedError{Code: "bad_message", Msg: "wrapCode: choose a wrap code"}
	}
	// The call is only read here, under its lock, and held again as it is.
	unlock := f.locks.lock(req.InteractionID)
	rec, err := f.agentCall(ctx, agentID, req.InteractionID)
	var callType interaction.CallType
	if err == nil {
		callType = rec.Call.CallType
		f.hold(rec)
	}
	unlock()
	if err != nil {
		return err
	}
	if f.opt.Telephony != nil {
		err := f.opt.Telephony.Wrap(ctx, agentID, req.InteractionID, req.WrapCode, req.Notes)
		if err == nil || !errors.Is(err, ErrNotSupported) {
			return err
		}
	}
	// The provider cannot wrap: the widget's wrap is the wrap event.
	ev := &interaction.Event{
		ID:      "widget-wrap:" + req.InteractionID,
		Type:    interaction.CallWrapped,
		Time:    f.opt.Now(),
		AgentID: agentID,
		Interaction: interaction.Interaction{
			AgentInteractionID: req.InteractionID,
			CallType:           callType,
			Activity:           interaction.Activity{WrapCode: req.WrapCode, WrapDescription: f.wrapLabel(req.WrapCode), Notes: req.Notes},
		},
	}
	ev.Document = map[string]any{}
	return f.HandleEvent(ctx, ev)
}

// checkDynamicsUser compares the Dynamics user the widget's CIF session
// reports (getEnvironment().userId) with the one the administrator set for
// agentID. With Impersonate, a mismatch means the agent login is used in
// someone else's Dynamics session: the activities would be written as a
// user who is not at the desk. It is refused, logged, and the socket
// closed; the widget shows its login form. Without Impersonate nothing is
// written as the agent and any user is accepted.
func (f *Flow) checkDynamicsUser(ctx context.Context, agentID, userID string) error {
	if !f.opt.Impersonate || f.opt.DynamicsUser == nil {
		return nil
	}
	if strings.TrimSpace(userID) == "" {
		return &RefusedError{Code: "bad_message", Msg: "environment.userId: is required (CIF getEnvironment().userId)"}
	}
	u, ok, err := f.opt.DynamicsUser(ctx, agentID)
	if err != nil {
		return err
	}
	if !ok {
		f.opt.Log.Warn("widget refused: the agent has no Dynamics user", "agent", agentID)
		return &RefusedError{Code: "no_dynamics_user", CloseSocket: true,
			Msg: fmt.Sprintf("agent %s has no Dynamics user set: ask an administrator to run ctibridge agent dynamics-user %s <sign-in name>", agentID, agentID)}
	}
	if !u.SameUser(userID) {
		return f.wrongUser(agentID, "environment.userId")
	}
	return nil
}

// wrongUser logs and refuses a widget whose Dynamics user is not its
// agent's (ids only: nothing secret).
func (f *Flow) wrongUser(agentID, field string) error {
	f.opt.Log.Warn("widget refused: its Dynamics user is not the agent's", "agent", agentID, "field", field)
	return &RefusedError{Code: "wrong_dynamics_user", CloseSocket: true,
		Msg: fmt.Sprintf("%s: this Dynamics session's user is not the one agent %s writes as: log in with your own agent id, or ask an administrator to check ctibridge agent dynamics-user %s", field, agentID, agentID)}
}

func sameGUID(a, b string) bool {
	norm := func(s string) string { return strings.ToLower(strings.Trim(strings.TrimSpace(s), "{}")) }
	return norm(a) == norm(b)
}
