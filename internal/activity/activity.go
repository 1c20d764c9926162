// Package activity plans the CRM writes each step of a call implies: the
// phone call activity when a call connects (or an outbound attempt fails),
// its relations when the agent picks them, its wrap-up and completion, and
// the task a preview allocation creates.
//
// Plans are values. Any executor can carry them out later and more than once:
// the Dataverse Web API client on the server, or CIF's createRecord and
// updateRecord in the agent's browser. Every write names the record it
// targets by an alternate key where the config provides one, so a retried
// create never makes a second record, and carries an idempotency key for the
// outbox.
//
// Executors must run one call's writes in plan order (create before relate
// before wrap): each plan lists them in that order, and later plans only
// follow earlier ones.
package activity

import (
	"strings"

	"github.com/ctibridge/ctibridge/internal/config"
)

// Op is how a write reaches the CRM.
type Op string

// Write operations, as Dataverse Web API requests.
const (
	// OpCreate is POST /<entitySet>. The body carries a primary key derived
	// from the interaction (RecordID), so a create re-sent after a lost
	// response is refused as a duplicate (412) rather than making a second
	// record; the executor then reads the record to confirm it is there.
	OpCreate Op = "create"
	// OpUpdate is PATCH /<entitySet>(<target>) with If-Match: *, so it never
	// creates a record: updating a record that does not exist is an error,
	// not a half-filled new activity.
	OpUpdate Op = "update"
	// OpUpsert is PATCH /<entitySet>(<keyColumn>='<keyValue>') without
	// preconditions: it creates the record the first time and updates the
	// same record on every retry. The planner no longer plans it (a create
	// sets parties, an upsert cannot by any documented means); executors
	// still run upserts queued by earlier versions.
	OpUpsert Op = "upsert"
)

// Step names what a write does in the call's life; with the interaction id
// it makes the write's idempotency key.
type Step string

// Steps.
const (
	// StepCreateActivity creates the phone call activity.
	StepCreateActivity Step = "create-activity"
	// StepRelate sets the phone call's regarding record and parties to the
	// agent's choice.
	StepRelate Step = "relate"
	// StepRelateTask sets the preview task's regarding record.
	StepRelateTask Step = "relate-task"
	// StepWrap writes the wrap code, notes and times, and completes the phone
	// call when the config says so.
	StepWrap Step = "wrap"
	// StepPreviewTask creates the task for a preview allocation.
	StepPreviewTask Step = "preview-task"
	// StepCompleteTask completes the preview task when the call is wrapped.
	StepCompleteTask Step = "complete-task"
)

// Replaces reports whether a write of step s sets, whole, what an earlier
// write of the same step of the call set, so that an earlier one not yet
// sent need not be: a relate sets the regarding record and the parties to
// the agent's latest choice (PlanRelate).
func (s Step) Replaces() bool { return s == StepRelate || s == StepRelateTask }

// Write is one CRM write. It is plain data and JSON-serialisable: Body holds
// only JSON types (string, float64, bool, []any, map[string]any), so a Write
// survives a round trip through the outbox unchanged.
type Write struct {
	Op Op `json:"op"`
	// EntitySet is the Web API collection ("phonecalls"); Entity the logical
	// name ("phonecall"), which CIF's createRecord and updateRecord take.
	EntitySet string `json:"entitySet"`
	Entity    string `json:"entity"`

	// The record an update or upsert targets. Every identification known is
	// filled in; an executor uses the first it can:
	//
	// KeyColumn and KeyValue: an alternate key (new_agentinteractionid =
	// "AI-1"), addressed as /phonecalls(new_agentinteractionid='AI-1')
	// when AddressableKey(KeyValue) says Dataverse can address it.
	KeyColumn string `json:"keyColumn,omitempty"`
	KeyValue  string `json:"keyValue,omitempty"`
	// RecordID: the record's primary id, once the call knows it.
	RecordID string `json:"recordId,omitempty"`

	// Body is the Web API request body: columns by logical name, lookups as
	// "<navigation>@odata.bind": "/<entitySet>(<id>)", activity parties as
	// "phonecall_activity_parties": [...].
	Body map[string]any `json:"body"`
	// IdempotencyKey is unique per logical write: "<interaction id>/<step>",
	// plus "/<revision>" for relations.
	IdempotencyKey string `json:"idempotencyKey"`
	Step           Step   `json:"step"`

	// Caller is the Dynamics user the write is made as (impersonation,
	// --impersonate-agents); nil: the application user. It is set when the
	// write is queued, from its call, so the queue keeps it across a
	// restart.
	Caller *Caller `json:"caller,omitempty"`
}

// Caller is a Dynamics user to write as: by Microsoft Entra object id
// (CallerObjectId, which Microsoft prefers) when known, else by
// systemuserid (MSCRMCallerID).
type Caller struct {
	SystemUserID string `json:"systemUserId"`
	ObjectID     string `json:"objectId,omitempty"`
}

// Key identifies the caller among others: writes of one key can share a
// request. "" for the application user.
func (c *Caller) Key() string {
	if c == nil {
		return ""
	}
	if c.ObjectID != "" {
		return "oid:" + c.ObjectID
	}
	return "uid:" + c.SystemUserID
}

// Plan is the writes one transition or choice implies, in the order they
// must run.
type Plan struct {
	Writes []Write `json:"writes"`
}

// CreatedID is the primary id of the record the plan's step creates, when
// the plan chose it (no alternate key: the id is derived from the
// interaction), or "" (Dataverse chooses it when the record is upserted).
func (p Plan) CreatedID(step Step) string {
	for _, w := range p.Writes {
		if w.Step == step && w.Op == OpCreate {
			return w.RecordID
		}
	}
	return ""
}

// RecordRef is a CRM record: its entity's logical name and its id.
type RecordRef struct {
	Entity string `json:"entity"`
	ID     string `json:"id"`
}

// Selection is what a call's activity relates to: the screen pop's single
// match, or what the agent chose in the widget's two select boxes (people and
// organisations).
//
// Records of entities not listed in the config's entities are ignored, as
// are ids that are not GUIDs (they would end up inside a URL); CheckSelection
// says why.
type Selection struct {
	Person       *RecordRef `json:"person,omitempty"`
	Organisation *RecordRef `json:"organisation,omitempty"`
	// User is the agent's Dynamics systemuserid (CIF getEnvironment's
	// userId; braces allowed). When set, the agent is the call's other
	// party: From on outgoing calls, To on incoming ones.
	User string `json:"user,omitempty"`
	// Revision counts the agent's choices for the call (1, 2, ...). It keeps
	// the idempotency keys of successive relate writes distinct, so choosing
	// A, then B, then A again writes A last.
	Revision int `json:"revision,omitempty"`
}

// Dataverse names and values the planner writes.
const (
	phoneCallEntity = "phonecall"
	phoneCallSet    = "phonecalls"
	taskEntity      = "task"
	taskSet         = "tasks"
	partiesProperty = "phonecall_activity_parties"

	// participationtypemask values of activity parties.
	partyFrom = 1
	partyTo   = 2

	// statecode and statuscode of completed activities.
	stateCompleted      = 1
	statusMade          = 2 // phone call, outgoing
	statusReceived      = 4 // phone call, incoming
	statusTaskCompleted = 5

	// Column lengths of the standard activity tables; longer values fail the
	// whole request, so they are cut.
	maxSubject     = 200
	maxPhoneNumber = 200
	maxDescription = 2000
)

// lookupEntity finds a config entity by logical name.
func lookupEntity(cfg *config.Config, name string) *config.Entity {
	if e := cfg.Entities[name]; e != nil {
		return e
	}
	for key, e := range cfg.Entities {
		if e != nil && (strings.EqualFold(key, name) || strings.EqualFold(e.LogicalName, name)) {
			return e
		}
	}
	return nil
}
