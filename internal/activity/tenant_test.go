package activity

import (
	"reflect"
	"testing"

	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/interaction"
)

// The inbound events wrap with code "3", description "Query resolved".
func TestWrapCodeWrittenAsTheColumnTypeNeeds(t *testing.T) {
	choice := &config.Column{LogicalName: "new_wrapcode", Kind: config.ColumnChoice, AttributeType: "Picklist",
		Options: []config.Option{{Value: 100000000, Label: "Sale"}, {Value: 100000001, Label: "Query resolved"}}}
	choiceByValue := &config.Column{LogicalName: "new_wrapcode", Kind: config.ColumnChoice,
		Options: []config.Option{{Value: 3, Label: "Resolved"}, {Value: 100000001, Label: "Query resolved"}}}
	tests := []struct {
		name   string
		tenant *config.Tenant
		want   any // nil: the column is left out
	}{
		{name: "unknown type: text, as before", tenant: nil, want: "3"},
		{name: "text column", tenant: &config.Tenant{Disposition: &config.Column{Kind: config.ColumnText}}, want: "3"},
		{name: "whole number column", tenant: &config.Tenant{Disposition: &config.Column{Kind: config.ColumnWhole}}, want: float64(3)},
		{name: "choice matched by the wrap code's label", tenant: &config.Tenant{Disposition: choice}, want: float64(100000001)},
		{name: "choice matched by value before label", tenant: &config.Tenant{Disposition: choiceByValue}, want: float64(3)},
		{name: "choice without the option leaves the column out", want: nil, tenant: &config.Tenant{Disposition: &config.Column{
			Kind: config.ColumnChoice, Options: []config.Option{{Value: 100000000, Label: "Sale"}}}}},
		{name: "column of another type is left out", want: nil, tenant: &config.Tenant{Disposition: &config.Column{Kind: config.ColumnOther}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := referenceConfig(true, false)
			cfg.Tenant = tt.tenant
			_, writes := run(t, cfg, loadEvents(t, "inbound"), Selection{})
			wrap := writes[len(writes)-1]
			if wrap.Step != StepWrap {
				t.Fatalf("last write is %s, want the wrap", wrap.Step)
			}
			got, present := wrap.Body["new_wrapcode"]
			if tt.want == nil {
				if present {
					t.Fatalf("new_wrapcode = %#v, want it left out", got)
				}
			} else if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("new_wrapcode = %#v, want %#v", got, tt.want)
			}
			// The wrap-up still completes the call, and the description keeps the code.
			if wrap.Body["statecode"] != float64(1) || wrap.Body["description"] == nil {
				t.Fatalf("wrap body lost its completion or description: %v", wrap.Body)
			}
		})
	}
}

func TestInteractionIDsAnAlternateKeyCannotAddress(t *testing.T) {
	for _, id := range []string{"IX/1", "IX#2", "a<b", "a>b", "a*b", "50%", "a&b", "a:b", `a\b`, "a?b", "a+b"} {
		t.Run(id, func(t *testing.T) {
			if AddressableKey(id) {
				t.Fatalf("AddressableKey(%q) = true", id)
			}
			cfg := referenceConfig(true, false)
			call := &interaction.Call{InteractionID: id, CallType: interaction.CallInbound}
			p := newPlanner(cfg, call)
			p.createPhoneCall(Selection{})
			w := p.plan.Writes[0]
			if w.Op != OpCreate || w.RecordID != derivedRecordID(id, StepCreateActivity) {
				t.Fatalf("create = %+v, want a create with the derived id", w)
			}
			if w.Body["new_agentinteractionid"] != id || w.Body["activityid"] != w.RecordID {
				t.Fatalf("create body %v lacks the interaction id or the derived activityid", w.Body)
			}
			var update Write
			p.target(&update, "", StepCreateActivity)
			if update.RecordID != w.RecordID {
				t.Fatalf("update target = %+v, want the derived id", update)
			}
		})
	}
	if !AddressableKey("IX-1_2.3 4") {
		t.Fatal(`AddressableKey("IX-1_2.3 4") = false`)
	}
}
