package loadtest

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/dataverse"
	"github.com/ctibridge/ctibridge/internal/sandbox"
	"github.com/ctibridge/ctibridge/internal/sandbox/sandboxtest"
)

func newTestCRM(t *testing.T) *CRM {
	t.Helper()
	_, srv := sandboxtest.NewTestServer(t, sandbox.Options{ExtraColumns: []string{"new_wrapcode"}, AlternateKey: "new_agentinteractionid"})
	return &CRM{BaseURL: srv.URL}
}

func createPhoneCall(t *testing.T, crm *CRM, body string) {
	t.Helper()
	resp, err := http.Post(crm.BaseURL+apiPath+"phonecalls", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("create phone call %s: %s", body, resp.Status)
	}
}

func interactionIDs(acts []Activity) []string {
	var ids []string
	for _, a := range acts {
		ids = append(ids, a.InteractionID)
	}
	sort.Strings(ids)
	return ids
}

func TestActivitiesFindsEveryPhoneCallOfTheRun(t *testing.T) {
	ctx := context.Background()
	crm := newTestCRM(t)
	before := time.Now().Add(-time.Second)
	createPhoneCall(t, crm, `{"subject":"a","new_agentinteractionid":"RUN-0000001","new_wrapcode":"1","description":"Wrap: Sale (1)\n\nctiload RUN-0000001"}`)
	createPhoneCall(t, crm, `{"subject":"b","new_agentinteractionid":"OTHER-0000001"}`)
	createPhoneCall(t, crm, `{"subject":"c, a duplicate create the wrap never reached"}`)
	createPhoneCall(t, crm, `{"subject":"d, wrapped, no key","description":"Wrap: Sale (1)\n\nctiload RUN-0000002"}`)

	tests := []struct {
		name  string
		cols  ActivityColumns
		since time.Time
		want  []string
	}{
		{
			name: "by the interaction id column; one with none is kept, unattributed",
			cols: ActivityColumns{InteractionID: "new_agentinteractionid", WrapCode: "new_wrapcode"}, since: before,
			want: []string{"", "", "RUN-0000001"},
		},
		{
			name: "by the wrap notes without the column",
			cols: ActivityColumns{WrapCode: "new_wrapcode"}, since: before,
			want: []string{"", "", "RUN-0000001", "RUN-0000002"},
		},
		{name: "nothing created since", cols: ActivityColumns{InteractionID: "new_agentinteractionid"}, since: time.Now().Add(time.Hour), want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acts, err := crm.Activities(ctx, "RUN", tt.cols, tt.since)
			if err != nil {
				t.Fatal(err)
			}
			if got := interactionIDs(acts); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("interaction ids %q, want %q", got, tt.want)
			}
		})
	}

	acts, err := crm.Activities(ctx, "RUN", ActivityColumns{InteractionID: "new_agentinteractionid", WrapCode: "new_wrapcode"}, before)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range acts {
		if a.InteractionID == "RUN-0000001" && (a.WrapCode != "1" || a.StateCode != 0 || a.ID == "") {
			t.Errorf("activity read back as %+v, want wrap code 1, open, with its id", a)
		}
	}
}

func TestActivitiesWaitsOutThrottling(t *testing.T) {
	ctx := context.Background()
	crm := newTestCRM(t)
	createPhoneCall(t, crm, `{"subject":"a","new_agentinteractionid":"RUN-0000001"}`)
	if err := crm.SetFaults(ctx, sandbox.Faults{ThrottleCount: 1, RetryAfterSeconds: 1}); err != nil {
		t.Fatal(err)
	}
	acts, err := crm.Activities(ctx, "RUN", ActivityColumns{InteractionID: "new_agentinteractionid"}, time.Time{})
	if err != nil {
		t.Fatalf("Activities after a 429: %v", err)
	}
	if len(acts) != 1 {
		t.Fatalf("%d activities, want 1", len(acts))
	}
	stats, err := crm.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Faults["429"] != 1 || stats.Requests["GET phonecalls"] != 2 {
		t.Errorf("sandbox saw %v requests and %v faults; want the GET throttled once, then repeated", stats.Requests, stats.Faults)
	}
}

// A $batch is one HTTP request carrying several operations: the counts
// keep both, so batching never reads as fewer writes.
func TestCountDataverseTellsRequestsFromOperations(t *testing.T) {
	crm := newTestCRM(t)
	ctx := context.Background()
	client, err := dataverse.New(dataverse.Config{OrgURL: crm.BaseURL})
	if err != nil {
		t.Fatal(err)
	}
	before, err := crm.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	upsert := func(ix string) map[string]any { return map[string]any{"subject": "Call " + ix} }
	for _, ix := range []string{"IX-1", "IX-2"} {
		if _, _, err := client.Upsert(ctx, "phonecalls", "new_agentinteractionid", ix, upsert(ix)); err != nil {
			t.Fatal(err)
		}
	}
	var batch []dataverse.BatchRequest
	for _, ix := range []string{"IX-3", "IX-4", "IX-5", "IX-6"} {
		batch = append(batch, dataverse.BatchUpsertByKey("phonecalls", "new_agentinteractionid", ix, upsert(ix)))
	}
	if _, err := client.BatchIndependent(ctx, batch); err != nil {
		t.Fatal(err)
	}
	after, err := crm.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}

	tr := &TargetReport{CallsCompleted: 6}
	countDataverse(tr, before, after)
	if tr.DataverseRequests != 3 || tr.DataverseRequestsPerCall != 0.5 {
		t.Errorf("requests %d (%.4f per call), want 3 (0.5): two upserts and one $batch", tr.DataverseRequests, tr.DataverseRequestsPerCall)
	}
	if tr.DataverseOperations != 6 || tr.DataverseOperationsPerCall != 1 || tr.DataverseBatchOperations["PATCH phonecalls"] != 4 {
		t.Errorf("operations %d (%.4f per call), batched %v; want 6 (1), 4 of them in the $batch",
			tr.DataverseOperations, tr.DataverseOperationsPerCall, tr.DataverseBatchOperations)
	}
}
