package outbox

import (
	"context"
	"fmt"
	"testing"

	"github.com/ctibridge/ctibridge/internal/activity"
	"github.com/ctibridge/ctibridge/internal/sandbox"
	"github.com/ctibridge/ctibridge/internal/store"
)

// A $batch carries one caller: writes due together that are made as
// different users go in batches of their own, each impersonating its user,
// and the application user's writes in another.
func TestWritesOfDifferentCallersGoInDifferentBatches(t *testing.T) {
	c := newCRM(t)
	alex, sam := sandbox.DemoAgents[0], sandbox.DemoAgents[1]
	asAlex := &activity.Caller{SystemUserID: alex.SystemUserID, ObjectID: alex.ObjectID} // CallerObjectId
	asSam := &activity.Caller{SystemUserID: sam.SystemUserID}                            // MSCRMCallerID
	want := map[string]string{}
	for _, tt := range []struct {
		ix     string
		caller *activity.Caller
		owner  string
	}{
		{"IX-A1", asAlex, alex.SystemUserID},
		{"IX-P1", nil, sandbox.DefaultUserID},
		{"IX-S1", asSam, sam.SystemUserID},
		{"IX-A2", asAlex, alex.SystemUserID},
		{"IX-P2", nil, sandbox.DefaultUserID},
	} {
		w := upsertCall(tt.ix)
		w.Caller = tt.caller // as the call flow queues it
		enqueue(t, c.db, tt.ix, w)
		want["Call "+tt.ix] = tt.owner
	}
	opt := quietOptions()
	drain(t, New(store.NewOutbox(c.db), c.x, opt))

	sent, batched := c.requests()
	if sent["POST $batch"] != 2 || batched["PATCH phonecalls"] != 4 || sent["PATCH phonecalls"] != 1 {
		t.Errorf("requests %v, batched %v; want Alex's two and the application user's two in a $batch each, Sam's alone", sent, batched)
	}
	page, err := c.client.RetrieveMultiple(context.Background(), "phonecalls", "?$select=subject,_ownerid_value,_createdby_value")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range page.Records {
		subject := fmt.Sprint(r["subject"])
		if r["_ownerid_value"] != want[subject] || r["_createdby_value"] != want[subject] {
			t.Errorf("%s: owner %v, created by %v; want %s", subject, r["_ownerid_value"], r["_createdby_value"], want[subject])
		}
		delete(want, subject)
	}
	if len(want) != 0 {
		t.Errorf("not written: %v", want)
	}
}

func TestSplitByCallerKeepsOrderWithinEachCaller(t *testing.T) {
	a, b := &activity.Caller{SystemUserID: "a"}, &activity.Caller{SystemUserID: "b", ObjectID: "ob"}
	entry := func(ix string, c *activity.Caller) Entry {
		return Entry{InteractionID: ix, Write: activity.Write{Caller: c}}
	}
	due := []Entry{entry("1", a), entry("2", nil), entry("3", a), entry("4", b), entry("5", a)}
	for _, tt := range []struct {
		name string
		size int
		want string
	}{
		{"one batch per caller", 10, "[1 3 5] [2] [4]"},
		{"and no larger than size", 2, "[1] [3 5] [2] [4]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, g := range splitByCaller(due, tt.size) {
				var ixs []string
				for _, e := range g {
					ixs = append(ixs, e.InteractionID)
				}
				got = append(got, fmt.Sprint(ixs))
			}
			if s := fmt.Sprint(got); s != "["+tt.want+"]" {
				t.Errorf("groups %s, want [%s]", s, tt.want)
			}
		})
	}
}
