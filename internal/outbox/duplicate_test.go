package outbox

import (
	"context"
	"errors"
	"testing"

	"github.com/ctibridge/ctibridge/internal/activity"
	"github.com/ctibridge/ctibridge/internal/dataverse"
	"github.com/ctibridge/ctibridge/internal/sandbox"
)

// keyedCreate is the planner's create of a phone call: the derived id and
// the interaction id in its column.
func keyedCreate(ix, id string) activity.Write {
	return activity.Write{Op: activity.OpCreate, EntitySet: "phonecalls", Entity: "phonecall", RecordID: id,
		KeyColumn: "new_agentinteractionid", KeyValue: ix,
		Body:           map[string]any{"activityid": id, "new_agentinteractionid": ix, "subject": "Call " + ix},
		IdempotencyKey: ix + "/create-activity", Step: activity.StepCreateActivity}
}

// A create refused as a duplicate (412) is done only when a read finds
// the record it names holding its interaction id.
func TestADuplicateCreateIsConfirmedByARead(t *testing.T) {
	ctx := context.Background()
	const id = "0f8fad5b-d9cb-469f-a165-70867728950e"

	t.Run("the record is this create's: done", func(t *testing.T) {
		c := newCRM(t)
		w := keyedCreate("IX-1", id)
		for attempt := 1; attempt <= 2; attempt++ {
			if got, err := c.x.Execute(ctx, "IX-1", w); err != nil || got != id {
				t.Fatalf("attempt %d: %q %v, want %s", attempt, got, err, id)
			}
		}
		sent, _ := c.requests()
		if sent["GET phonecalls"] != 1 {
			t.Fatalf("requests %v, want the duplicate confirmed by one GET", sent)
		}
	})
	t.Run("the id holds another interaction: not done", func(t *testing.T) {
		c := newCRM(t)
		if _, err := c.x.Execute(ctx, "IX-1", keyedCreate("IX-1", id)); err != nil {
			t.Fatal(err)
		}
		_, err := c.x.Execute(ctx, "IX-2", keyedCreate("IX-2", id))
		if !errors.Is(err, dataverse.ErrPreconditionFailed) {
			t.Fatalf("err %v, want the 412 returned", err)
		}
	})
	t.Run("the interaction's record has another id (an earlier upsert): its id", func(t *testing.T) {
		c := newCRM(t)
		earlier, err := c.x.Execute(ctx, "IX-1", upsertCall("IX-1"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.x.Execute(ctx, "IX-1", keyedCreate("IX-1", id))
		if err != nil || got != earlier {
			t.Fatalf("%q %v, want the earlier record %s", got, err, earlier)
		}
	})
	t.Run("in a batch too", func(t *testing.T) {
		c := newCRM(t)
		w := keyedCreate("IX-1", id)
		if _, err := c.x.Execute(ctx, "IX-1", w); err != nil {
			t.Fatal(err)
		}
		other := keyedCreate("IX-2", id)
		out, err := c.x.ExecuteBatch(ctx, []BatchWrite{{"IX-1", w}, {"IX-2", other}})
		if err != nil {
			t.Fatal(err)
		}
		if out[0].Err != nil || out[0].RecordID != id || !errors.Is(out[1].Err, dataverse.ErrPreconditionFailed) {
			t.Fatalf("outcomes %+v, want IX-1 done and IX-2's 412", out)
		}
	})
	t.Run("the read is throttled: retried, not done", func(t *testing.T) {
		c := newCRM(t)
		w := keyedCreate("IX-1", id)
		if _, err := c.x.Execute(ctx, "IX-1", w); err != nil {
			t.Fatal(err)
		}
		if err := c.sb.SetFaults(sandbox.Faults{ThrottleCount: 1, RetryAfterSeconds: 1, Methods: []string{"GET"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.x.Execute(ctx, "IX-1", w); err == nil || !isRetryable(err) {
			t.Fatalf("err %v, want a retryable error", err)
		}
	})
}

// Interaction ids an alternate key cannot address (Microsoft: / # < > * %
// & : \ ? +) still get their activity created, wrapped and completed, by
// the derived activityid.
func TestInteractionIDsAKeyCannotAddressAreWrittenByID(t *testing.T) {
	ctx := context.Background()
	c := newCRM(t)
	for i, ix := range []string{"IX/1 #2", "50%+1", `a\b?c&d:e`} {
		id := []string{"11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"}[i]
		create := keyedCreate(ix, id)
		wrap := wrapCall(ix, create)
		for _, w := range []activity.Write{create, create, wrap, wrap} {
			if _, err := c.x.Execute(ctx, ix, w); err != nil {
				t.Fatalf("%s: %v", w.IdempotencyKey, err)
			}
		}
		rec, err := c.client.Retrieve(ctx, "phonecalls", id, "?$select=new_agentinteractionid,statecode")
		if err != nil || rec["new_agentinteractionid"] != ix || rec["statecode"].(interface{ String() string }).String() != "1" {
			t.Fatalf("%s: %v %v, want the completed call holding its interaction id", ix, rec, err)
		}
		// Without the id, the write says why it cannot address the record.
		bare := wrap
		bare.RecordID = ""
		if _, err := c.x.Execute(ctx, ix, bare); err == nil {
			t.Fatalf("%s: an update by an unaddressable key was sent", ix)
		}
	}
}

// seedContact creates a contact and returns its id.
func seedContact(t *testing.T, c crm) string {
	t.Helper()
	id, err := c.client.Create(context.Background(), "contacts", map[string]any{"firstname": "Ada", "lastname": "Lovelace"})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// A party Dataverse refuses costs the activity its parties, never its
// regarding record.
func TestARefusedPartyKeepsTheRegardingRecord(t *testing.T) {
	ctx := context.Background()
	c := newCRM(t)
	contactID := seedContact(t, c)
	w := keyedCreate("IX-1", "0f8fad5b-d9cb-469f-a165-70867728950e")
	w.Body["regardingobjectid_contact_phonecall@odata.bind"] = "/contacts(" + contactID + ")"
	w.Body["phonecall_activity_parties"] = []any{
		map[string]any{"partyid_contact@odata.bind": "/contacts(" + contactID + ")", "participationtypemask": float64(1)},
		map[string]any{"partyid_systemuser@odata.bind": "/systemusers(00000000-0000-0000-0000-0000000000ff)", "participationtypemask": float64(2)},
	}
	if _, err := c.x.Execute(ctx, "IX-1", w); err != nil {
		t.Fatal(err)
	}
	r := c.phoneCalls(t)["Call IX-1"]
	if r["_regardingobjectid_value"] != contactID {
		t.Fatalf("call %v, want it regarding the contact", r)
	}
}
