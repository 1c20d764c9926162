package activity

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/interaction"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	contactID = "0b7c5a1e-8f3d-4c2a-9e61-5d4f3b2a1c0e"
	accountID = "a3e1f2d4-5b6c-4d7e-8f90-1a2b3c4d5e6f"
	leadID    = "5e0d9c8b-7a6f-4e5d-8c3b-2a1f0e9d8c7b"
	// userID is written as CIF's getEnvironment returns it: braces, upper case.
	userID     = "{7D2E4F6A-1B3C-4D5E-8F70-9A1B2C3D4E5F}"
	userIDNorm = "7d2e4f6a-1b3c-4d5e-8f70-9a1b2c3d4e5f"
)

var (
	contact = &RecordRef{Entity: "contact", ID: contactID}
	account = &RecordRef{Entity: "account", ID: accountID}
)

// referenceConfig is the reference config of the ipSCAPE documentation, as
// the loader leaves it (field names lower-cased), with the two options set.
func referenceConfig(complete, task bool) *config.Config {
	return &config.Config{
		Options: config.Options{
			CompleteActivityRecordOnWrap: complete,
			CreateTaskOnPreview:          task,
			Fields:                       config.Fields{CallDispositionField: "new_wrapcode", AgentInteractionID: "new_agentinteractionid"},
		},
		Entities: map[string]*config.Entity{
			"contact": {LogicalName: "contact", Plural: "contacts", Key: "contactid",
				Columns: []string{"fullname", "telephone1", "mobilephone", "donotphone"}, Type: config.EntityPerson},
			"account": {LogicalName: "account", Plural: "accounts", Key: "accountid",
				Columns: []string{"name", "telephone1", "donotphone"}, Type: config.EntityOrganisation},
		},
		EntityOrder: []string{"contact", "account"},
	}
}

// loadEvents decodes one of interaction's example calls.
func loadEvents(t testing.TB, name string) []*interaction.Event {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "interaction", "testdata", "calls", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		t.Fatal(err)
	}
	events := make([]*interaction.Event, len(raws))
	for i, raw := range raws {
		if events[i], err = interaction.DecodeEvent(raw); err != nil {
			t.Fatalf("%s event %d: %v", name, i, err)
		}
	}
	return events
}

// run applies events in order, planning each transition, and returns the
// call and every write planned.
func run(t testing.TB, cfg *config.Config, events []*interaction.Event, sel Selection) (*interaction.Call, []Write) {
	t.Helper()
	var call interaction.Call
	var writes []Write
	for _, ev := range events {
		tr, err := call.Apply(ev)
		if err != nil {
			t.Fatalf("apply %s %s: %v", ev.Type, ev.ID, err)
		}
		writes = append(writes, PlanTransition(cfg, &call, tr, sel).Writes...)
	}
	return &call, writes
}

func steps(writes []Write) []Step {
	out := make([]Step, len(writes))
	for i, w := range writes {
		out[i] = w.Step
	}
	return out
}

// lifecycleCalls are the example calls with the selection each is run with.
var lifecycleCalls = []struct {
	name string
	sel  Selection
}{
	{name: "inbound", sel: Selection{Person: contact, Organisation: account, User: userID}},
	{name: "outbound", sel: Selection{Person: contact, User: userID}},
	{name: "preview", sel: Selection{Person: contact}},
	{name: "manual", sel: Selection{}},
	{name: "outbound-failed", sel: Selection{Organisation: account}},
}

func TestPlanLifecycle(t *testing.T) {
	create, wrap := StepCreateActivity, StepWrap
	tests := []struct {
		call           string
		complete, task bool
		want           []Step
	}{
		{call: "inbound", complete: false, task: false, want: []Step{create, wrap}},
		{call: "inbound", complete: true, task: false, want: []Step{create, wrap}},
		{call: "inbound", complete: false, task: true, want: []Step{create, wrap}},
		{call: "inbound", complete: true, task: true, want: []Step{create, wrap}},
		{call: "outbound", complete: false, task: false, want: []Step{create, wrap}},
		{call: "outbound", complete: true, task: false, want: []Step{create, wrap}},
		{call: "outbound", complete: false, task: true, want: []Step{create, wrap}},
		{call: "outbound", complete: true, task: true, want: []Step{create, wrap}},
		{call: "manual", complete: false, task: false, want: []Step{create, wrap}},
		{call: "manual", complete: true, task: false, want: []Step{create, wrap}},
		{call: "manual", complete: false, task: true, want: []Step{create, wrap}},
		{call: "manual", complete: true, task: true, want: []Step{create, wrap}},
		{call: "preview", complete: false, task: false, want: []Step{create, wrap}},
		{call: "preview", complete: true, task: false, want: []Step{create, wrap}},
		{call: "preview", complete: false, task: true, want: []Step{StepPreviewTask, create, wrap}},
		{call: "preview", complete: true, task: true, want: []Step{StepPreviewTask, create, wrap, StepCompleteTask}},
		{call: "outbound-failed", complete: false, task: false, want: []Step{create, wrap}},
		{call: "outbound-failed", complete: true, task: false, want: []Step{create, wrap}},
		{call: "outbound-failed", complete: false, task: true, want: []Step{create, wrap}},
		{call: "outbound-failed", complete: true, task: true, want: []Step{create, wrap}},
	}
	golden := map[string]map[string][]Write{}
	for _, tt := range tests {
		name := fmt.Sprintf("%s/complete=%v/task=%v", tt.call, tt.complete, tt.task)
		t.Run(name, func(t *testing.T) {
			cfg := referenceConfig(tt.complete, tt.task)
			i := slices.IndexFunc(lifecycleCalls, func(c struct {
				name string
				sel  Selection
			}) bool {
				return c.name == tt.call
			})
			call, writes := run(t, cfg, loadEvents(t, tt.call), lifecycleCalls[i].sel)
			if got := steps(writes); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("steps %v, want %v", got, tt.want)
			}
			for _, w := range writes {
				if w.Entity == phoneCallEntity && w.Step == StepWrap {
					_, completes := w.Body["statecode"]
					if completes != tt.complete {
						t.Errorf("wrap completes the phone call: %v, want %v", completes, tt.complete)
					}
				}
				if w.KeyColumn != "new_agentinteractionid" || w.KeyValue != call.InteractionID {
					t.Errorf("%s targets %s=%s, want new_agentinteractionid=%s", w.Step, w.KeyColumn, w.KeyValue, call.InteractionID)
				}
			}
			if golden[tt.call] == nil {
				golden[tt.call] = map[string][]Write{}
			}
			golden[tt.call][fmt.Sprintf("complete=%v task=%v", tt.complete, tt.task)] = writes
		})
	}
	for call, plans := range golden {
		checkGolden(t, filepath.Join("testdata", "lifecycle", call+".json"), plans)
	}
}

// checkGolden compares v's indented JSON with a golden file (rewritten with
// -update).
func checkGolden(t *testing.T, path string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update if intended); got:\n%s", path, got)
	}
}

// TestInboundBodies spells out the two requests of a completed inbound call.
func TestInboundBodies(t *testing.T) {
	_, writes := run(t, referenceConfig(true, false), loadEvents(t, "inbound"),
		Selection{Person: contact, Organisation: account, User: userID})
	phoneCallID := derivedRecordID("AI-10001", StepCreateActivity)
	want := []Write{
		{
			Op: OpCreate, EntitySet: "phonecalls", Entity: "phonecall",
			KeyColumn: "new_agentinteractionid", KeyValue: "AI-10001", RecordID: phoneCallID,
			Body: map[string]any{
				"activityid":             phoneCallID,
				"subject":                "Inbound call from +61299990000 (Support)",
				"phonenumber":            "+61299990000",
				"directioncode":          false,
				"actualstart":            "2025-03-04T09:15:07Z",
				"new_agentinteractionid": "AI-10001",
				"regardingobjectid_contact_phonecall@odata.bind": "/contacts(" + contactID + ")",
				"phonecall_activity_parties": []any{
					map[string]any{"partyid_contact@odata.bind": "/contacts(" + contactID + ")", "participationtypemask": float64(1)},
					map[string]any{"partyid_account@odata.bind": "/accounts(" + accountID + ")", "participationtypemask": float64(1)},
					map[string]any{"partyid_systemuser@odata.bind": "/systemusers(" + userIDNorm + ")", "participationtypemask": float64(2)},
				},
			},
			IdempotencyKey: "AI-10001/create-activity", Step: StepCreateActivity,
		},
		{
			Op: OpUpdate, EntitySet: "phonecalls", Entity: "phonecall",
			KeyColumn: "new_agentinteractionid", KeyValue: "AI-10001", RecordID: phoneCallID,
			Body: map[string]any{
				"new_wrapcode":          "3",
				"description":           "Wrap: Query resolved (3)\n\nAsked when the policy renews; told 1 July.",
				"actualstart":           "2025-03-04T09:15:07Z",
				"actualend":             "2025-03-04T09:19:42Z",
				"actualdurationminutes": float64(5),
				"statecode":             float64(1),
				"statuscode":            float64(4),
			},
			IdempotencyKey: "AI-10001/wrap", Step: StepWrap,
		},
	}
	if !reflect.DeepEqual(writes, want) {
		got, _ := json.MarshalIndent(writes, "", "  ")
		t.Errorf("writes:\n%s", got)
	}
}

func TestWritesSurviveJSON(t *testing.T) {
	for _, c := range lifecycleCalls {
		t.Run(c.name, func(t *testing.T) {
			_, writes := run(t, referenceConfig(true, true), loadEvents(t, c.name), c.sel)
			data, err := json.Marshal(writes)
			if err != nil {
				t.Fatal(err)
			}
			var back []Write
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, writes) {
				t.Errorf("writes changed through JSON:\n got %+v\nwant %+v", back, writes)
			}
		})
	}
}

func TestDuplicatesPlanNothing(t *testing.T) {
	for _, c := range lifecycleCalls {
		t.Run(c.name, func(t *testing.T) {
			cfg := referenceConfig(true, true)
			events := loadEvents(t, c.name)
			_, once := run(t, cfg, events, c.sel)
			var twice []*interaction.Event
			for _, ev := range events {
				twice = append(twice, ev, ev)
			}
			twice = append(twice, events...) // and the whole call again after the wrap
			_, got := run(t, cfg, twice, c.sel)
			if !reflect.DeepEqual(got, once) {
				t.Errorf("redelivered events planned %v, want %v", steps(got), steps(once))
			}
		})
	}
}

// TestResentUnderNewIDsPlansNothingMore covers providers that give a resent
// event a new id: each copy is stale, so nothing is planned twice.
func TestResentUnderNewIDsPlansNothingMore(t *testing.T) {
	for _, c := range lifecycleCalls {
		t.Run(c.name, func(t *testing.T) {
			cfg := referenceConfig(true, true)
			events := loadEvents(t, c.name)
			_, once := run(t, cfg, events, c.sel)
			var resent []*interaction.Event
			for _, ev := range events {
				again := *ev
				again.ID += "-resent"
				resent = append(resent, ev, &again)
			}
			_, got := run(t, cfg, resent, c.sel)
			if !reflect.DeepEqual(got, once) {
				t.Errorf("events resent under new ids planned %v, want %v", steps(got), steps(once))
			}
		})
	}
}

// TestAnyOrderPlansEachStepOnce delivers each example call's events in every
// order and checks the same steps are planned, once each, in lifecycle order.
func TestAnyOrderPlansEachStepOnce(t *testing.T) {
	for _, c := range lifecycleCalls {
		t.Run(c.name, func(t *testing.T) {
			cfg := referenceConfig(true, true)
			events := loadEvents(t, c.name)
			_, inOrder := run(t, cfg, events, c.sel)
			for _, order := range permutations(len(events)) {
				shuffled := make([]*interaction.Event, len(events))
				for i, j := range order {
					shuffled[i] = events[j]
				}
				call, writes := run(t, cfg, shuffled, c.sel)
				if !reflect.DeepEqual(steps(writes), steps(inOrder)) {
					t.Fatalf("order %v planned %v, want %v", order, steps(writes), steps(inOrder))
				}
				if call.State != interaction.Wrapped {
					t.Fatalf("order %v ends %s", order, call.State)
				}
			}
		})
	}
}

func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			out = append(out, slices.Insert(slices.Clone(p), i, n-1))
		}
	}
	return out
}

func TestOutOfOrderBodies(t *testing.T) {
	events := loadEvents(t, "inbound")
	alert, start, hangup, wrap := events[0], events[1], events[2], events[3]
	tests := []struct {
		name   string
		events []*interaction.Event
		// bodies are the expected times of each write, in order.
		want []map[string]any
	}{
		{
			name:   "hangup before started: the create has the end, the late start reaches the wrap",
			events: []*interaction.Event{alert, hangup, start, wrap},
			want: []map[string]any{
				{"actualend": "2025-03-04T09:19:42Z"},
				{"actualstart": "2025-03-04T09:15:07Z", "actualend": "2025-03-04T09:19:42Z", "actualdurationminutes": float64(5)},
			},
		},
		{
			name:   "wrap before hangup: the wrap has no end, the late hangup writes nothing",
			events: []*interaction.Event{alert, start, wrap, hangup},
			want: []map[string]any{
				{"actualstart": "2025-03-04T09:15:07Z"},
				{"actualstart": "2025-03-04T09:15:07Z"},
			},
		},
		{
			name:   "wrap first: create and wrap in one plan, create first",
			events: []*interaction.Event{wrap, start, hangup, alert},
			want:   []map[string]any{{}, {}},
		},
		{
			name:   "started after hangup and wrap: nothing more",
			events: []*interaction.Event{hangup, wrap, start},
			want: []map[string]any{
				{"actualend": "2025-03-04T09:19:42Z"},
				{"actualend": "2025-03-04T09:19:42Z"},
			},
		},
	}
	timeColumns := []string{"actualstart", "actualend", "actualdurationminutes"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, writes := run(t, referenceConfig(true, false), tt.events, Selection{})
			if !reflect.DeepEqual(steps(writes), []Step{StepCreateActivity, StepWrap}) {
				t.Fatalf("steps %v, want create-activity then wrap", steps(writes))
			}
			for i, w := range writes {
				got := map[string]any{}
				for _, col := range timeColumns {
					if v, ok := w.Body[col]; ok {
						got[col] = v
					}
				}
				if !reflect.DeepEqual(got, tt.want[i]) {
					t.Errorf("%s times %v, want %v", w.Step, got, tt.want[i])
				}
			}
		})
	}
}

func TestSelectionBinding(t *testing.T) {
	withLeadAndProject := referenceConfig(false, false)
	withLeadAndProject.Entities["lead"] = &config.Entity{LogicalName: "lead", Plural: "leads", Key: "leadid", Type: config.EntityPerson}
	withLeadAndProject.Entities["new_project"] = &config.Entity{LogicalName: "new_project", Plural: "new_projects", Key: "new_projectid", Type: config.EntityOrganisation}
	// A tenant whose metadata lists lead among the phone call's party
	// targets (Dynamics 365 Sales installed).
	leadTenant := referenceConfig(false, false)
	leadTenant.Entities = withLeadAndProject.Entities
	leadTenant.Tenant = &config.Tenant{PhoneCallPartyTargets: []string{"account", "contact", "lead", "systemuser"}}
	// A tenant whose phone calls take contacts alone.
	contactsOnly := referenceConfig(false, false)
	contactsOnly.Tenant = &config.Tenant{PhoneCallPartyTargets: []string{"contact"}}
	noPlural := referenceConfig(false, false)
	noPlural.Entities["contact"].Plural = ""

	tests := []struct {
		name string
		cfg  *config.Config
		sel  Selection
		want map[string]any // the relation part of the outbound create body
	}{
		{name: "nothing selected", cfg: referenceConfig(false, false), sel: Selection{}, want: map[string]any{}},
		{name: "person is regarding and the To party", cfg: referenceConfig(false, false), sel: Selection{Person: contact},
			want: map[string]any{
				"regardingobjectid_contact_phonecall@odata.bind": "/contacts(" + contactID + ")",
				"phonecall_activity_parties": []any{
					map[string]any{"partyid_contact@odata.bind": "/contacts(" + contactID + ")", "participationtypemask": float64(2)},
				},
			}},
		{name: "person takes regarding over organisation; both are parties; agent is From",
			cfg: referenceConfig(false, false), sel: Selection{Person: contact, Organisation: account, User: userID},
			want: map[string]any{
				"regardingobjectid_contact_phonecall@odata.bind": "/contacts(" + contactID + ")",
				"phonecall_activity_parties": []any{
					map[string]any{"partyid_contact@odata.bind": "/contacts(" + contactID + ")", "participationtypemask": float64(2)},
					map[string]any{"partyid_account@odata.bind": "/accounts(" + accountID + ")", "participationtypemask": float64(2)},
					map[string]any{"partyid_systemuser@odata.bind": "/systemusers(" + userIDNorm + ")", "participationtypemask": float64(1)},
				},
			}},
		{name: "organisation alone is regarding", cfg: referenceConfig(false, false), sel: Selection{Organisation: account},
			want: map[string]any{
				"regardingobjectid_account_phonecall@odata.bind": "/accounts(" + accountID + ")",
				"phonecall_activity_parties": []any{
					map[string]any{"partyid_account@odata.bind": "/accounts(" + accountID + ")", "participationtypemask": float64(2)},
				},
			}},
		{name: "entity not listed is ignored; the organisation takes regarding", cfg: referenceConfig(false, false),
			sel: Selection{Person: &RecordRef{Entity: "lead", ID: leadID}, Organisation: account},
			want: map[string]any{
				"regardingobjectid_account_phonecall@odata.bind": "/accounts(" + accountID + ")",
				"phonecall_activity_parties": []any{
					map[string]any{"partyid_account@odata.bind": "/accounts(" + accountID + ")", "participationtypemask": float64(2)},
				},
			}},
		{name: "entity not listed alone binds nothing", cfg: referenceConfig(false, false),
			sel: Selection{Person: &RecordRef{Entity: "incident", ID: contactID}}, want: map[string]any{}},
		{name: "listed lead is regarding, not a party, where the metadata is unknown", cfg: withLeadAndProject,
			sel:  Selection{Person: &RecordRef{Entity: "lead", ID: leadID}},
			want: map[string]any{"regardingobjectid_lead_phonecall@odata.bind": "/leads(" + leadID + ")"}},
		{name: "only the tenant's party targets become parties", cfg: contactsOnly,
			sel: Selection{Person: contact, Organisation: account, User: userID},
			want: map[string]any{
				"regardingobjectid_contact_phonecall@odata.bind": "/contacts(" + contactID + ")",
				"phonecall_activity_parties": []any{
					map[string]any{"partyid_contact@odata.bind": "/contacts(" + contactID + ")", "participationtypemask": float64(2)},
				},
			}},
		{name: "listed lead is a party where the tenant's metadata allows it", cfg: leadTenant, sel: Selection{Person: &RecordRef{Entity: "lead", ID: leadID}},
			want: map[string]any{
				"regardingobjectid_lead_phonecall@odata.bind": "/leads(" + leadID + ")",
				"phonecall_activity_parties": []any{
					map[string]any{"partyid_lead@odata.bind": "/leads(" + leadID + ")", "participationtypemask": float64(2)},
				},
			}},
		{name: "listed custom entity is regarding but cannot be a party", cfg: withLeadAndProject,
			sel:  Selection{Organisation: &RecordRef{Entity: "new_project", ID: accountID}},
			want: map[string]any{"regardingobjectid_new_project_phonecall@odata.bind": "/new_projects(" + accountID + ")"}},
		{name: "id that is not a GUID is ignored", cfg: referenceConfig(false, false),
			sel: Selection{Person: &RecordRef{Entity: "contact", ID: "1)/../accounts(2"}}, want: map[string]any{}},
		{name: "GUID in braces and upper case is normalised", cfg: referenceConfig(false, false),
			sel: Selection{Person: &RecordRef{Entity: "contact", ID: "{" + strings.ToUpper(contactID) + "}"}},
			want: map[string]any{
				"regardingobjectid_contact_phonecall@odata.bind": "/contacts(" + contactID + ")",
				"phonecall_activity_parties": []any{
					map[string]any{"partyid_contact@odata.bind": "/contacts(" + contactID + ")", "participationtypemask": float64(2)},
				},
			}},
		{name: "entity without a plural is ignored", cfg: noPlural, sel: Selection{Person: contact}, want: map[string]any{}},
		{name: "agent alone is the From party", cfg: referenceConfig(false, false), sel: Selection{User: userID},
			want: map[string]any{
				"phonecall_activity_parties": []any{
					map[string]any{"partyid_systemuser@odata.bind": "/systemusers(" + userIDNorm + ")", "participationtypemask": float64(1)},
				},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, writes := run(t, tt.cfg, loadEvents(t, "outbound")[:2], tt.sel)
			if len(writes) != 1 || writes[0].Step != StepCreateActivity {
				t.Fatalf("planned %v, want one create-activity", steps(writes))
			}
			got := map[string]any{}
			for k, v := range writes[0].Body {
				if strings.HasPrefix(k, "regardingobjectid_") || k == "phonecall_activity_parties" {
					got[k] = v
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				g, _ := json.MarshalIndent(got, "", "  ")
				w, _ := json.MarshalIndent(tt.want, "", "  ")
				t.Errorf("relations\n got %s\nwant %s", g, w)
			}
		})
	}
}

func TestCheckSelection(t *testing.T) {
	tests := []struct {
		name    string
		sel     Selection
		wantErr string
	}{
		{name: "listed entities and GUIDs pass", sel: Selection{Person: contact, Organisation: account, User: userID}},
		{name: "empty selection passes", sel: Selection{}},
		{name: "unlisted entity", sel: Selection{Person: &RecordRef{Entity: "lead", ID: leadID}},
			wantErr: `person: entity "lead" is not listed in options.entities, so the integration ignores it`},
		{name: "id not a GUID", sel: Selection{Organisation: &RecordRef{Entity: "account", ID: "42"}},
			wantErr: `organisation: id "42" of the account record is not a GUID`},
		{name: "user not a GUID", sel: Selection{User: "alex@example.com"},
			wantErr: `user: "alex@example.com" is not a systemuserid GUID`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSelection(referenceConfig(false, false), tt.sel)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfigFields(t *testing.T) {
	noKey := referenceConfig(true, true)
	noKey.Options.Fields.AgentInteractionID = ""
	schemaCase := referenceConfig(true, false)
	schemaCase.Options.Fields = config.Fields{CallDispositionField: "new_WrapCode", AgentInteractionID: "new_agentInteractionId"}
	noDisposition := referenceConfig(true, false)
	noDisposition.Options.Fields.CallDispositionField = ""

	tests := []struct {
		name        string
		cfg         *config.Config
		call        string
		phoneCallID string
		check       func(t *testing.T, writes []Write)
	}{
		{
			name: "schema-cased field names are written as logical names", cfg: schemaCase, call: "inbound",
			check: func(t *testing.T, writes []Write) {
				if writes[0].KeyColumn != "new_agentinteractionid" || writes[0].Body["new_agentinteractionid"] != "AI-10001" {
					t.Errorf("create keyed by %q with body %v", writes[0].KeyColumn, writes[0].Body)
				}
				if writes[1].Body["new_wrapcode"] != "3" {
					t.Errorf("wrap body %v, want new_wrapcode 3", writes[1].Body)
				}
			},
		},
		{
			name: "without an interaction id field records are created with a primary key derived from the interaction", cfg: noKey, call: "preview",
			check: func(t *testing.T, writes []Write) {
				task, phoneCall := derivedRecordID("AI-10003", StepPreviewTask), derivedRecordID("AI-10003", StepCreateActivity)
				if task == phoneCall || derivedRecordID("AI-10004", StepPreviewTask) == task {
					t.Fatalf("derived ids collide: %s %s", task, phoneCall)
				}
				want := []struct {
					op Op
					id string
				}{
					{OpCreate, task}, {OpCreate, phoneCall}, {OpUpdate, phoneCall}, {OpUpdate, task},
				}
				for i, w := range writes {
					if w.Op != want[i].op || w.RecordID != want[i].id || w.KeyColumn != "" {
						t.Errorf("%s: op %s key %q id %q, want op %s id %q", w.Step, w.Op, w.KeyColumn, w.RecordID, want[i].op, want[i].id)
					}
					if w.Op == OpCreate && w.Body["activityid"] != w.RecordID {
						t.Errorf("%s creates without its derived activityid: %v", w.Step, w.Body)
					}
					for k := range w.Body {
						if strings.Contains(k, "agentinteractionid") {
							t.Errorf("%s writes %s without the field configured", w.Step, k)
						}
					}
				}
			},
		},
		{
			name: "a known phone call id is targeted directly", cfg: noKey, call: "inbound", phoneCallID: "6f1c2b7e-0a4d-4c61-9b7f-3e2a1d0c9b8a",
			check: func(t *testing.T, writes []Write) {
				if w := writes[1]; w.RecordID != "6f1c2b7e-0a4d-4c61-9b7f-3e2a1d0c9b8a" {
					t.Errorf("wrap targets id %q", w.RecordID)
				}
			},
		},
		{
			name: "without a disposition field the wrap code is only in the description", cfg: noDisposition, call: "outbound",
			check: func(t *testing.T, writes []Write) {
				body := writes[1].Body
				if _, ok := body["new_wrapcode"]; ok {
					t.Errorf("wrap body %v has new_wrapcode", body)
				}
				if body["description"] != "Wrap: Sale (SALE)" {
					t.Errorf("description %q", body["description"])
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var call interaction.Call
			var writes []Write
			for _, ev := range loadEvents(t, tt.call) {
				tr, err := call.Apply(ev)
				if err != nil {
					t.Fatal(err)
				}
				if tr.To == interaction.Connected {
					call.PhoneCallID = tt.phoneCallID // the executor learnt it from the create
				}
				writes = append(writes, PlanTransition(tt.cfg, &call, tr, Selection{}).Writes...)
			}
			tt.check(t, writes)
		})
	}
}

// callAt applies the first n events of an example call.
func callAt(t *testing.T, name string, n int) *interaction.Call {
	t.Helper()
	var call interaction.Call
	for _, ev := range loadEvents(t, name)[:n] {
		if _, err := call.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	return &call
}

func TestPlanRelate(t *testing.T) {
	sel := Selection{Person: contact, Organisation: account, User: userID, Revision: 2}
	tests := []struct {
		name      string
		cfg       *config.Config
		call      *interaction.Call
		sel       Selection
		wantSteps []Step
		wantKeys  []string
	}{
		{name: "inbound still ringing: nothing, the create will carry the selection",
			cfg: referenceConfig(true, true), call: callAt(t, "inbound", 1), sel: sel},
		{name: "inbound connected: update the phone call",
			cfg: referenceConfig(true, true), call: callAt(t, "inbound", 2), sel: sel,
			wantSteps: []Step{StepRelate}, wantKeys: []string{"AI-10001/relate/2"}},
		{name: "ended, not yet wrapped: update",
			cfg: referenceConfig(true, false), call: callAt(t, "outbound", 3), sel: sel,
			wantSteps: []Step{StepRelate}, wantKeys: []string{"AI-10002/relate/2"}},
		{name: "wrapped and completed: read-only, nothing",
			cfg: referenceConfig(true, false), call: callAt(t, "outbound", 4), sel: sel},
		{name: "wrapped but left open: update",
			cfg: referenceConfig(false, false), call: callAt(t, "outbound", 4), sel: sel,
			wantSteps: []Step{StepRelate}, wantKeys: []string{"AI-10002/relate/2"}},
		{name: "preview presented with a task: relate the task only",
			cfg: referenceConfig(true, true), call: callAt(t, "preview", 1), sel: sel,
			wantSteps: []Step{StepRelateTask}, wantKeys: []string{"AI-10003/relate-task/2"}},
		{name: "preview presented without a task: nothing",
			cfg: referenceConfig(true, false), call: callAt(t, "preview", 1), sel: sel},
		{name: "preview connected with a task: the phone call and the task",
			cfg: referenceConfig(true, true), call: callAt(t, "preview", 3), sel: sel,
			wantSteps: []Step{StepRelate, StepRelateTask}, wantKeys: []string{"AI-10003/relate/2", "AI-10003/relate-task/2"}},
		{name: "failed outbound has a phone call to relate",
			cfg: referenceConfig(true, false), call: callAt(t, "outbound-failed", 2), sel: sel,
			wantSteps: []Step{StepRelate}, wantKeys: []string{"AI-10005/relate/2"}},
		{name: "selection of unlisted entities: nothing",
			cfg: referenceConfig(true, false), call: callAt(t, "inbound", 2),
			sel: Selection{Person: &RecordRef{Entity: "incident", ID: contactID}, User: userID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := PlanRelate(tt.cfg, tt.call, tt.sel)
			if got := steps(plan.Writes); !reflect.DeepEqual(got, tt.wantSteps) && (len(got) > 0 || len(tt.wantSteps) > 0) {
				t.Fatalf("steps %v, want %v", got, tt.wantSteps)
			}
			for i, w := range plan.Writes {
				if w.Op != OpUpdate || w.IdempotencyKey != tt.wantKeys[i] || w.KeyColumn != "new_agentinteractionid" || w.KeyValue != tt.call.InteractionID {
					t.Errorf("write %d: %s key %q targets %s=%s", i, w.Op, w.IdempotencyKey, w.KeyColumn, w.KeyValue)
				}
			}
		})
	}
}

func TestPlanRelateBodies(t *testing.T) {
	plan := PlanRelate(referenceConfig(true, true), callAt(t, "preview", 3), Selection{Person: contact, Organisation: account})
	checkGolden(t, filepath.Join("testdata", "relate-preview.json"), plan)
}

func TestSubjectAndNumber(t *testing.T) {
	long := strings.Repeat("Ü", 300)
	tests := []struct {
		name        string
		ct          interaction.CallType
		activity    interaction.Activity
		lead        *interaction.Lead
		failed      bool
		wantSubject string
		wantNumber  string
	}{
		{name: "inbound names the caller and the queue", ct: interaction.CallInbound,
			activity:    interaction.Activity{CustomerCLI: "+61299990000", QueueName: "Support", CampaignName: "Care"},
			wantSubject: "Inbound call from +61299990000 (Support)", wantNumber: "+61299990000"},
		{name: "inbound without CLI uses the source number", ct: interaction.CallInbound,
			activity:    interaction.Activity{SourcePhoneNumber: "+61299990000", DestinationPhoneNumber: "+61280001000"},
			wantSubject: "Inbound call from +61299990000", wantNumber: "+61299990000"},
		{name: "outbound names the campaign", ct: interaction.CallOutbound,
			activity:    interaction.Activity{CustomerCLI: "+61412345678", QueueName: "Sales", CampaignName: "Renewals"},
			wantSubject: "Outbound call to +61412345678 (Renewals)", wantNumber: "+61412345678"},
		{name: "outbound without CLI uses the destination", ct: interaction.CallOutbound,
			activity:    interaction.Activity{SourcePhoneNumber: "+61280001000", DestinationPhoneNumber: "+61412345678"},
			wantSubject: "Outbound call to +61412345678", wantNumber: "+61412345678"},
		{name: "preview without numbers uses the lead's dialled phone", ct: interaction.CallPreview,
			lead:        &interaction.Lead{PhoneIndex: 2, Phones: []interaction.LeadPhone{{Index: 1, Phone: "0299990000"}, {Index: 2, Phone: "0412345678"}}},
			wantSubject: "Preview call to 0412345678", wantNumber: "0412345678"},
		{name: "manual call with no number at all", ct: interaction.CallManual,
			wantSubject: "Manual call", wantNumber: ""},
		{name: "unanswered outbound call", ct: interaction.CallOutbound, failed: true,
			activity:    interaction.Activity{CustomerCLI: "+61298765432", CampaignName: "Renewals Q1"},
			wantSubject: "Unanswered outbound call to +61298765432 (Renewals Q1)", wantNumber: "+61298765432"},
		{name: "long subject is cut to 200 characters", ct: interaction.CallInbound,
			activity:    interaction.Activity{CustomerCLI: "1", QueueName: long},
			wantSubject: ("Inbound call from 1 (" + long)[:len("Inbound call from 1 (")] + strings.Repeat("Ü", 200-len("Inbound call from 1 (")), wantNumber: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := interaction.CallStarted
			if tt.failed {
				typ = interaction.CallFailed
			}
			ev := &interaction.Event{ID: "e1", Type: typ, AgentID: "1042", Interaction: interaction.Interaction{
				AgentInteractionID: "AI-1", CallType: tt.ct, Activity: tt.activity, LeadData: tt.lead}}
			_, writes := run(t, referenceConfig(false, false), []*interaction.Event{ev}, Selection{})
			if len(writes) != 1 {
				t.Fatalf("planned %v", steps(writes))
			}
			body := writes[0].Body
			if body["subject"] != tt.wantSubject {
				t.Errorf("subject %q, want %q", body["subject"], tt.wantSubject)
			}
			number, _ := body["phonenumber"].(string)
			if number != tt.wantNumber {
				t.Errorf("phonenumber %q, want %q", number, tt.wantNumber)
			}
			if body["directioncode"] != (tt.ct != interaction.CallInbound) {
				t.Errorf("directioncode %v for a %s call", body["directioncode"], tt.ct)
			}
		})
	}
}

func TestDurationMinutes(t *testing.T) {
	base := time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		talk time.Duration
		want float64
	}{
		{name: "no talk time", talk: 0, want: 0},
		{name: "twenty seconds is a minute", talk: 20 * time.Second, want: 1},
		{name: "exactly a minute", talk: time.Minute, want: 1},
		{name: "a minute and a second is two", talk: 61 * time.Second, want: 2},
		{name: "an hour", talk: time.Hour, want: 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mk := func(id string, typ interaction.EventType, at time.Time) *interaction.Event {
				return &interaction.Event{ID: id, Type: typ, Time: at, AgentID: "1", Interaction: interaction.Interaction{
					AgentInteractionID: "AI-1", CallType: interaction.CallInbound}}
			}
			_, writes := run(t, referenceConfig(false, false), []*interaction.Event{
				mk("s", interaction.CallStarted, base), mk("h", interaction.CallHangup, base.Add(tt.talk)),
				mk("w", interaction.CallWrapped, base.Add(tt.talk+time.Minute)),
			}, Selection{})
			if got := writes[len(writes)-1].Body["actualdurationminutes"]; got != tt.want {
				t.Errorf("actualdurationminutes %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFailedInboundWritesNothing(t *testing.T) {
	mk := func(id string, typ interaction.EventType) *interaction.Event {
		return &interaction.Event{ID: id, Type: typ, AgentID: "1", Interaction: interaction.Interaction{
			AgentInteractionID: "AI-1", CallType: interaction.CallInbound}}
	}
	tests := []struct {
		name string
		cfg  *config.Config
	}{
		{name: "activity left open", cfg: referenceConfig(false, true)},
		{name: "activity completed on wrap", cfg: referenceConfig(true, true)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, writes := run(t, tt.cfg, []*interaction.Event{
				mk("a", interaction.CallAlerting), mk("f", interaction.CallFailed), mk("w", interaction.CallWrapped),
			}, Selection{Person: contact})
			if len(writes) != 0 {
				t.Errorf("an unanswered inbound call planned %v", steps(writes))
			}
		})
	}
}

func TestNormaliseGUID(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		ok   bool
	}{
		{name: "lower case", in: contactID, want: contactID, ok: true},
		{name: "braces and upper case", in: userID, want: userIDNorm, ok: true},
		{name: "surrounding space", in: " " + contactID + " ", want: contactID, ok: true},
		{name: "no hyphens", in: strings.ReplaceAll(contactID, "-", ""), ok: false},
		{name: "hyphen misplaced", in: "0b7c5a1e8-f3d-4c2a-9e61-5d4f3b2a1c0e", ok: false},
		{name: "not hex", in: "0b7c5a1e-8f3d-4c2a-9e61-5d4f3b2a1c0g", ok: false},
		{name: "one brace", in: "{" + contactID, ok: false},
		{name: "path injection", in: "0b7c5a1e-8f3d-4c2a-9e61-5d4f3b)/(x1c0e", ok: false},
		{name: "empty", in: "", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := normaliseGUID(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("normaliseGUID(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}
