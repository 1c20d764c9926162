package outbox

import (
	"context"
	"testing"

	"github.com/ctibridge/ctibridge/internal/activity"
	"github.com/ctibridge/ctibridge/internal/dataverse"
	"github.com/ctibridge/ctibridge/internal/sandbox"
	"github.com/ctibridge/ctibridge/internal/sandbox/sandboxtest"
)

// A create re-sent after a crash (its answer never recorded) must meet the
// record it made, not make a second one, even without an alternate key.
func TestACreateSentTwiceMakesOneRecordWithoutAnAlternateKey(t *testing.T) {
	_, crm := sandboxtest.NewTestServer(t, sandbox.Options{})
	client, err := dataverse.New(dataverse.Config{OrgURL: crm.URL})
	if err != nil {
		t.Fatal(err)
	}
	x := DataverseExecutor{Client: client}
	id := "0f8fad5b-d9cb-469f-a165-70867728950e"
	w := activity.Write{Op: activity.OpCreate, EntitySet: "phonecalls", Entity: "phonecall", RecordID: id,
		Body: map[string]any{"activityid": id, "subject": "Inbound call"}, IdempotencyKey: "IX-1/create-activity", Step: activity.StepCreateActivity}
	ctx := context.Background()
	for attempt := 1; attempt <= 2; attempt++ {
		got, err := x.Execute(ctx, "IX-1", w)
		if err != nil || got != id {
			t.Fatalf("attempt %d: id %q err %v, want %s", attempt, got, err, id)
		}
	}
	page, err := client.RetrieveMultiple(ctx, "phonecalls", "?$select=subject")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 1 {
		t.Fatalf("%d phone calls, want 1", len(page.Records))
	}
}
