package activity

import (
	"crypto/sha256"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/interaction"
)

// PlanTransition plans the CRM writes a transition implies. call is the call
// after the transition was applied; sel is what the activity relates to, as
// far as it is known now (the screen pop may still be searching: relations
// chosen later go through PlanRelate).
//
// Each state a call enters plans its writes once, implied states included,
// in lifecycle order; duplicate and stale transitions plan nothing:
//
//   - Previewing, with options.createTaskOnPreview: a task "Preview: <lead>"
//     regarding the selection.
//   - Connected: the phone call activity, with subject, phone number,
//     direction, start time and the selection as regarding and party.
//   - Failed, for outbound, preview and manual calls: the same phone call,
//     subjected "Unanswered ... call to ...": a contact centre logs every
//     dial attempt, and the wrap then completes it as Made like any other
//     outgoing call. An inbound call that never connected leaves nothing:
//     the caller goes back to the queue and is logged by whoever answers.
//   - Wrapped: one update of the phone call with the wrap code
//     (fields.callDispositionField), the wrap description and notes, end time
//     and duration, completing it in the same request when
//     options.completeActivityRecordOnWrap is set (statecode 1 with statuscode
//     2 Made for outgoing, 4 Received for incoming). Without the option the
//     activity stays open. With both options the preview task is completed
//     too (statuscode 5).
//
// A completed call thus costs at most two requests for its phone call: the
// create with relations, and the update that wraps and completes.
//
// The phone call and task are created (POST) with a primary key
// (activityid) derived from the interaction id, and with the interaction id
// in fields.agentInteractionId's column when configured: a create re-sent
// after a crash meets its own record (Dataverse answers 412, which the
// executor confirms with a read before taking it as done), and later
// updates address that same id. See createOp for why a create and not an
// upsert by the alternate key.
func PlanTransition(cfg *config.Config, call *interaction.Call, t interaction.Transition, sel Selection) Plan {
	if t.Duplicate || t.Stale {
		return Plan{}
	}
	p := newPlanner(cfg, call)
	for _, s := range t.Entered() {
		switch s {
		case interaction.Previewing:
			if cfg.Options.CreateTaskOnPreview {
				p.createPreviewTask(sel)
			}
		case interaction.Connected:
			p.createPhoneCall(sel)
		case interaction.Failed:
			if call.CallType != interaction.CallInbound {
				p.createPhoneCall(sel)
			}
		case interaction.Wrapped:
			p.wrap()
		}
	}
	return p.plan
}

// PlanRelate plans relating the call's records to sel, the agent's choice in
// the widget's select boxes: the phone call's and the preview task's
// regarding record.
//
// Regarding takes one record: the person when one is chosen (a phone call is
// with a person, and Dynamics rolls a contact's activities up to its parent
// account), else the organisation. It is set through the single-valued
// navigation property, as "Associate and disassociate table rows using the
// Web API" documents. The parties (from, to) are set only when the activity
// is created, the one way Microsoft documents for them: a choice made after
// the create changes the regarding record, not the parties.
//
// It plans nothing for a record that does not exist yet (PlanTransition
// carries the selection into the create), for a record already completed
// (read-only in Dataverse), or when sel binds nothing.
func PlanRelate(cfg *config.Config, call *interaction.Call, sel Selection) Plan {
	p := newPlanner(cfg, call)
	if p.completed() {
		return Plan{}
	}
	rel := p.relations(sel)
	if rel.regarding == nil {
		return Plan{}
	}
	if hasPhoneCall(call) {
		body := map[string]any{}
		rel.addRegardingTo(body, phoneCallEntity)
		w := p.write(OpUpdate, phoneCallSet, phoneCallEntity, StepRelate, body)
		w.IdempotencyKey += "/" + strconv.Itoa(sel.Revision)
		p.target(&w, call.PhoneCallID, StepCreateActivity)
		p.add(w)
	}
	if p.hasTask() {
		body := map[string]any{}
		rel.addRegardingTo(body, taskEntity)
		w := p.write(OpUpdate, taskSet, taskEntity, StepRelateTask, body)
		w.IdempotencyKey += "/" + strconv.Itoa(sel.Revision)
		p.target(&w, call.TaskID, StepPreviewTask)
		p.add(w)
	}
	return p.plan
}

// CheckSelection reports the first record of sel the planner would ignore,
// and why, so the widget can tell the agent.
func CheckSelection(cfg *config.Config, sel Selection) error {
	for _, r := range []struct {
		name string
		ref  *RecordRef
	}{{"person", sel.Person}, {"organisation", sel.Organisation}} {
		if r.ref == nil {
			continue
		}
		if _, err := bind(cfg, r.ref); err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
	}
	if sel.User != "" {
		if _, ok := normaliseGUID(sel.User); !ok {
			return fmt.Errorf("user: %q is not a systemuserid GUID; pass CIF getEnvironment().userId", sel.User)
		}
	}
	return nil
}

type planner struct {
	cfg  *config.Config
	call *interaction.Call
	// keyColumn is fields.agentInteractionId as a logical name, or "".
	keyColumn string
	plan      Plan
}

func newPlanner(cfg *config.Config, call *interaction.Call) *planner {
	return &planner{
		cfg:       cfg,
		call:      call,
		keyColumn: strings.ToLower(strings.TrimSpace(cfg.Options.Fields.AgentInteractionID)),
	}
}

func (p *planner) add(w Write) { p.plan.Writes = append(p.plan.Writes, w) }

func (p *planner) write(op Op, set, entity string, step Step, body map[string]any) Write {
	return Write{Op: op, EntitySet: set, Entity: entity, Body: body,
		IdempotencyKey: p.call.InteractionID + "/" + string(step), Step: step}
}

// createOp makes w a create of a record whose primary key (activityid) is
// derived from the interaction, with the interaction id in its column when
// fields.agentInteractionId names one.
//
// A create (POST) is the one operation Microsoft documents for setting an
// activity's parties together with the record ("Create a table row",
// "Activity tables"), which an upsert PATCH is not. The derived id makes it
// as safe to resend as an upsert: a create re-sent after a crash or a lost
// answer meets its own record, Dataverse refuses it as a duplicate (412),
// and the executor confirms with a read that the record is there before
// taking it as done. Later updates address the same id, which works for any
// interaction id, even one an alternate key cannot address (AddressableKey):
// KeyColumn and KeyValue name the interaction id's column and value, which
// an executor may search by ($filter works for any value) but must address
// by only when AddressableKey says so.
func (p *planner) createOp(w *Write) {
	w.Op = OpCreate
	w.RecordID = derivedRecordID(p.call.InteractionID, w.Step)
	w.Body[activityIDColumn] = w.RecordID
	if p.keyColumn != "" {
		w.Body[p.keyColumn] = p.call.InteractionID
		w.KeyColumn, w.KeyValue = p.keyColumn, p.call.InteractionID
	}
}

// target fills in every identification of the record created by createStep.
func (p *planner) target(w *Write, recordID string, createStep Step) {
	if p.keyColumn != "" {
		w.KeyColumn, w.KeyValue = p.keyColumn, p.call.InteractionID
	}
	w.RecordID = recordID
	if recordID == "" {
		w.RecordID = derivedRecordID(p.call.InteractionID, createStep)
	}
}

// AddressableKey reports whether Dataverse can address a record by an
// alternate key with this value. Microsoft's "Define alternate keys using
// Power Apps" says GET and PATCH by a key whose value contains / # < > * %
// & : \ ? or + do not work, encoded or not.
func AddressableKey(value string) bool {
	return value != "" && !strings.ContainsAny(value, `/#<>*%&:\?+`)
}

// activityIDColumn is the primary key of every activity table.
const activityIDColumn = "activityid"

// derivedRecordID is the GUID of the record createStep makes for an
// interaction: a name-based (version 5 layout) GUID over SHA-256, the same
// every time, so retries and restarts address one record.
func derivedRecordID(interactionID string, createStep Step) string {
	sum := sha256.Sum256([]byte("ctibridge/" + interactionID + "/" + string(createStep)))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (p *planner) createPhoneCall(sel Selection) {
	c := p.call
	body := map[string]any{
		"subject":       cut(subject(c), maxSubject),
		"directioncode": outgoing(c.CallType),
	}
	if number := CustomerNumber(c); number != "" {
		body["phonenumber"] = cut(number, maxPhoneNumber)
	}
	// The times known already: a call first seen at its hangup or wrap has
	// its end too, which saves the wrap update nothing but costs nothing.
	addTimes(body, c)
	p.relations(sel).addTo(body, phoneCallEntity)
	w := p.write("", phoneCallSet, phoneCallEntity, StepCreateActivity, body)
	p.createOp(&w)
	p.add(w)
}

func (p *planner) createPreviewTask(sel Selection) {
	c := p.call
	body := map[string]any{"subject": cut(previewSubject(c), maxSubject)}
	if d := previewDescription(c); d != "" {
		body["description"] = cut(d, maxDescription)
	}
	p.relations(sel).addTo(body, taskEntity)
	w := p.write("", taskSet, taskEntity, StepPreviewTask, body)
	p.createOp(&w)
	p.add(w)
}

func (p *planner) wrap() {
	c, opts := p.call, p.cfg.Options
	if hasPhoneCall(c) {
		body := map[string]any{}
		if field := strings.ToLower(strings.TrimSpace(opts.Fields.CallDispositionField)); field != "" && c.WrapCode != "" {
			// Written as the column's type needs (the tenant's metadata):
			// a value Dataverse would refuse is left out, so the wrap-up
			// and the completion in the same request still happen, and
			// the code stays in the description.
			var column *config.Column
			if p.cfg.Tenant != nil {
				column = p.cfg.Tenant.Disposition
			}
			if v, ok := column.DispositionValue(c.WrapCode, c.WrapDescription); ok {
				body[field] = v
			}
		}
		if d := wrapDescription(c); d != "" {
			body["description"] = cut(d, maxDescription)
		}
		addTimes(body, c)
		if opts.CompleteActivityRecordOnWrap {
			body["statecode"] = float64(stateCompleted)
			body["statuscode"] = float64(statusMade)
			if !outgoing(c.CallType) {
				body["statuscode"] = float64(statusReceived)
			}
		}
		if len(body) > 0 {
			w := p.write(OpUpdate, phoneCallSet, phoneCallEntity, StepWrap, body)
			p.target(&w, c.PhoneCallID, StepCreateActivity)
			p.add(w)
		}
	}
	if opts.CompleteActivityRecordOnWrap && p.hasTask() {
		w := p.write(OpUpdate, taskSet, taskEntity, StepCompleteTask, map[string]any{
			"statecode":  float64(stateCompleted),
			"statuscode": float64(statusTaskCompleted),
		})
		p.target(&w, c.TaskID, StepPreviewTask)
		p.add(w)
	}
}

// completed reports whether the wrap completed the call's records, which
// makes them read-only.
func (p *planner) completed() bool {
	return p.call.State == interaction.Wrapped && p.cfg.Options.CompleteActivityRecordOnWrap
}

// hasTask reports whether a preview task was planned for the call.
func (p *planner) hasTask() bool {
	return p.cfg.Options.CreateTaskOnPreview && p.call.Reached(interaction.Previewing)
}

// hasPhoneCall reports whether a phone call activity was planned for the call.
func hasPhoneCall(c *interaction.Call) bool {
	return c.Reached(interaction.Connected) ||
		(c.Reached(interaction.Failed) && c.CallType != interaction.CallInbound)
}

// outgoing is the phone call's directioncode: only inbound calls come in.
func outgoing(ct interaction.CallType) bool { return ct != interaction.CallInbound }

// addTimes writes the activity's actual start, end and duration, those known.
// A connected call runs from connect to hangup; an unanswered one from the
// dial to the failure, for no minutes.
func addTimes(body map[string]any, c *interaction.Call) {
	start, end := c.ConnectedAt, c.EndedAt
	answered := c.Reached(interaction.Connected)
	if !answered {
		start, end = c.AlertingAt, c.FailedAt
	}
	if !start.IsZero() {
		body["actualstart"] = isoTime(start)
	}
	if !end.IsZero() {
		body["actualend"] = isoTime(end)
	}
	switch {
	case !answered && c.Reached(interaction.Failed):
		body["actualdurationminutes"] = float64(0)
	case answered && !start.IsZero() && !end.IsZero() && !end.Before(start):
		// Whole minutes, rounded up: a 20-second call took a minute of the
		// agent's time, not none.
		body["actualdurationminutes"] = math.Ceil(end.Sub(start).Minutes())
	}
}

// isoTime is a Dataverse date-time: UTC, to the second.
func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

var callTypeLabel = map[interaction.CallType]string{
	interaction.CallInbound:  "Inbound",
	interaction.CallOutbound: "Outbound",
	interaction.CallPreview:  "Preview",
	interaction.CallManual:   "Manual",
}

// subject is e.g. "Inbound call from +61299990000 (Support)" or
// "Unanswered outbound call to +61412345678 (Renewals Q1)".
func subject(c *interaction.Call) string {
	label := callTypeLabel[c.CallType]
	if label == "" {
		label = "Phone"
	}
	var b strings.Builder
	if !c.Reached(interaction.Connected) && c.Reached(interaction.Failed) {
		b.WriteString("Unanswered " + strings.ToLower(label) + " call")
	} else {
		b.WriteString(label + " call")
	}
	if number := CustomerNumber(c); number != "" {
		if c.CallType == interaction.CallInbound {
			b.WriteString(" from ")
		} else {
			b.WriteString(" to ")
		}
		b.WriteString(number)
	}
	if name := sourceName(c); name != "" {
		b.WriteString(" (" + name + ")")
	}
	return b.String()
}

// sourceName is the queue an inbound call came through or the campaign an
// outgoing one was made for, whichever the events named.
func sourceName(c *interaction.Call) string {
	a := c.Interaction.Activity
	if c.CallType == interaction.CallInbound {
		return firstOf(a.QueueName, a.CampaignName)
	}
	return firstOf(a.CampaignName, a.QueueName)
}

// CustomerNumber is the customer's end of the call: the CLI, else the
// caller (inbound) or the dialled number, else the lead's dialled phone.
// The activity records it and the widget shows it: both use this one.
func CustomerNumber(c *interaction.Call) string {
	a := c.Interaction.Activity
	if a.CustomerCLI != "" {
		return a.CustomerCLI
	}
	if c.CallType == interaction.CallInbound {
		return a.SourcePhoneNumber
	}
	if a.DestinationPhoneNumber != "" {
		return a.DestinationPhoneNumber
	}
	return leadPhone(c.Interaction.LeadData)
}

// leadPhone is the lead's phone at PhoneIndex, or its only phone.
func leadPhone(l *interaction.Lead) string {
	if l == nil {
		return ""
	}
	for _, p := range l.Phones {
		if p.Index == l.PhoneIndex {
			return p.Phone
		}
	}
	if len(l.Phones) == 1 {
		return l.Phones[0].Phone
	}
	return ""
}

// wrapDescription is "Wrap: Sale (3)" and the agent's notes below it.
func wrapDescription(c *interaction.Call) string {
	var parts []string
	switch code, desc := c.WrapCode, c.WrapDescription; {
	case desc != "" && code != "" && desc != code:
		parts = append(parts, "Wrap: "+desc+" ("+code+")")
	case desc != "":
		parts = append(parts, "Wrap: "+desc)
	case code != "":
		parts = append(parts, "Wrap code: "+code)
	}
	if notes := strings.TrimSpace(c.Interaction.Activity.Notes); notes != "" {
		parts = append(parts, notes)
	}
	return strings.Join(parts, "\n\n")
}

// previewSubject is "Preview: <lead name>", or the lead id or number when
// the lead has no name.
func previewSubject(c *interaction.Call) string {
	var name, id string
	if l := c.Interaction.LeadData; l != nil {
		name, id = l.Name, l.LeadID
	}
	who := firstOf(name, id, CustomerNumber(c), "lead")
	return "Preview: " + who
}

// previewDescription lists what the agent was presented: the lead, the
// campaign and the lead's phones.
func previewDescription(c *interaction.Call) string {
	var lines []string
	l := c.Interaction.LeadData
	if l != nil && l.LeadID != "" {
		lines = append(lines, "Lead: "+l.LeadID)
	}
	if name := c.Interaction.Activity.CampaignName; name != "" {
		lines = append(lines, "Campaign: "+name)
	}
	if l != nil && len(l.Phones) > 0 {
		phones := make([]string, len(l.Phones))
		for i, p := range l.Phones {
			phones[i] = strconv.Itoa(p.Index) + ". " + p.Phone
			if p.Type != "" {
				phones[i] += " (" + p.Type + ")"
			}
		}
		lines = append(lines, "Phones: "+strings.Join(phones, ", "))
	}
	return strings.Join(lines, "\n")
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// cut shortens s to at most n runes.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
