package callflow

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/ctibridge/ctibridge/internal/activity"
	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/interaction"
)

func TestCallEndedCarriesThePhoneCallsRecordID(t *testing.T) {
	// Without an alternate key the record's id is chosen with its create.
	f, db, n := poppingFlow(t, func(cfg *config.Config) { cfg.Options.Fields.AgentInteractionID = "" })
	ctx := context.Background()
	for i, typ := range []string{"callAlerting", "callStarted", "callHangup", "callWrapped"} {
		if err := f.HandleEvent(ctx, inboundEvent(t, fmt.Sprintf("e%d", i), typ, "1001", "IX-1")); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
	}

	var data string
	if err := db.QueryRow(`SELECT write FROM outbox WHERE idempotency_key = 'IX-1/create-activity'`).Scan(&data); err != nil {
		t.Fatal(err)
	}
	var create activity.Write
	if err := json.Unmarshal([]byte(data), &create); err != nil {
		t.Fatal(err)
	}
	if create.RecordID == "" {
		t.Fatal("the create has no record id")
	}

	var ended []map[string]string
	n.mu.Lock()
	for _, m := range n.sent {
		if m.msgType == "callEnded" {
			var msg map[string]string
			json.Unmarshal(m.data, &msg)
			ended = append(ended, msg)
		}
	}
	n.mu.Unlock()
	if len(ended) != 1 {
		t.Fatalf("%d callEnded messages, want 1", len(ended))
	}
	if got := ended[0]["activityId"]; got != create.RecordID {
		t.Errorf("callEnded activityId = %q, want the phone call's id %q", got, create.RecordID)
	}
}

func TestTheWidgetShowsTheNumberTheActivityRecords(t *testing.T) {
	cfg, err := config.Load("../../testdata/sample.json")
	if err != nil {
		t.Fatal(err)
	}
	lead := &interaction.Lead{Name: "Ada", PhoneIndex: 2, Phones: []interaction.LeadPhone{{Index: 1, Phone: "+61400000001"}, {Index: 2, Phone: "+61400000002"}}}
	tests := []struct {
		name string
		call interaction.Call
	}{
		{"outbound with a dialled number and a lead phone", interaction.Call{CallType: interaction.CallOutbound,
			Interaction: interaction.Interaction{Activity: interaction.Activity{DestinationPhoneNumber: "+61299990000"}, LeadData: lead}}},
		{"inbound with a caller and a lead phone", interaction.Call{CallType: interaction.CallInbound,
			Interaction: interaction.Interaction{Activity: interaction.Activity{SourcePhoneNumber: "+61299990001"}, LeadData: lead}}},
		{"preview with only lead phones", interaction.Call{CallType: interaction.CallPreview,
			Interaction: interaction.Interaction{LeadData: lead}}},
		{"with a CLI", interaction.Call{CallType: interaction.CallOutbound,
			Interaction: interaction.Interaction{Activity: interaction.Activity{CustomerCLI: "+61299990003", DestinationPhoneNumber: "+61299990000"}, LeadData: lead}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.call
			c.InteractionID, c.AgentID = "IX-1", "1001"
			c.Interaction.AgentInteractionID, c.Interaction.CallType = "IX-1", c.CallType
			c.State, c.Path = interaction.Connected, []interaction.State{interaction.Alerting, interaction.Connected}
			plan := activity.PlanTransition(cfg, &c, interaction.Transition{Event: interaction.CallStarted, From: interaction.Idle, To: interaction.Connected,
				Implied: []interaction.State{interaction.Alerting}}, activity.Selection{})
			if len(plan.Writes) == 0 {
				t.Fatal("no create planned")
			}
			written, _ := plan.Writes[0].Body["phonenumber"].(string)
			if shown := viewOf(&record{Call: c}).Number; shown != written {
				t.Errorf("widget shows %q, the activity records %q", shown, written)
			}
		})
	}
}
