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

// A completion re-sent after a crash is refused (the call is completed
// and read-only); whether that is its own earlier success takes a read of
// the record. If that read is throttled, the completion must be tried
// again, not failed for good.
func TestACompletionWhoseCheckIsThrottledIsRetriedNotFailed(t *testing.T) {
	c := newCRM(t)
	ctx := context.Background()
	create := upsertCall("IX-1")
	wrap := wrapCall("IX-1", create)
	for _, w := range []activity.Write{create, wrap} {
		if _, err := c.x.Execute(ctx, "IX-1", w); err != nil {
			t.Fatalf("%s: %v", w.IdempotencyKey, err)
		}
	}

	// The wrap again, after a crash, with the read it needs throttled.
	if err := c.sb.SetFaults(sandbox.Faults{ThrottleCount: 1, RetryAfterSeconds: 1, Methods: []string{"GET"}}); err != nil {
		t.Fatal(err)
	}
	_, err := c.x.Execute(ctx, "IX-1", wrap)
	if err == nil || !isRetryable(err) {
		t.Fatalf("with the check throttled: %v, want a retryable error", err)
	}
	if _, err := c.x.Execute(ctx, "IX-1", wrap); err != nil {
		t.Fatalf("once the CRM answers the check: %v, want done", err)
	}
	for _, batch := range [][]BatchWrite{{{"IX-1", wrap}, {"IX-1b", upsertCall("IX-1b")}}} {
		if err := c.sb.SetFaults(sandbox.Faults{ThrottleCount: 1, RetryAfterSeconds: 1, Methods: []string{"GET"}}); err != nil {
			t.Fatal(err)
		}
		outcomes, err := c.x.ExecuteBatch(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		if err := outcomes[0].Err; err == nil || !isRetryable(err) {
			t.Fatalf("in a batch, with the check throttled: %v, want a retryable error", err)
		}
	}
}
