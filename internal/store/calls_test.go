package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestCallsOnBothEngines(t *testing.T) {
	onBothEngines(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		calls := NewCalls(db)
		defer calls.Close()
		now := time.UnixMilli(1_700_000_000_000)
		save := func(saves ...*CallSave) {
			t.Helper()
			for i, err := range calls.SaveAll(ctx, saves) {
				if err != nil {
					t.Fatalf("save %s: %v", saves[i].InteractionID, err)
				}
			}
		}
		write := func(key string) QueuedWrite {
			return QueuedWrite{IdempotencyKey: key, Step: "create", Data: `{"step":"create"}`}
		}
		save(&CallSave{InteractionID: "IX-1", AgentID: "1001", State: "alerting", Data: `{"v":1}`, Writes: []QueuedWrite{write("IX-1/create")}, Now: now},
			&CallSave{InteractionID: "IX-2", AgentID: "1001", State: "wrapped", Data: `{"v":2}`, Now: now.Add(time.Second)},
			&CallSave{InteractionID: "IX-3", AgentID: "1002", State: "connected", Data: `{"v":3}`, Now: now})
		// A later save replaces the call; a write queued again is kept once.
		save(&CallSave{InteractionID: "IX-1", AgentID: "1001", State: "connected", Data: `{"v":4}`, Writes: []QueuedWrite{write("IX-1/create")}, Now: now})

		if data, found, err := calls.Load(ctx, "IX-1"); err != nil || !found || data != `{"v":4}` {
			t.Errorf("load IX-1 = %q, %v, %v", data, found, err)
		}
		if _, found, err := calls.Load(ctx, "IX-9"); err != nil || found {
			t.Errorf("load of a call never stored: found %v, %v", found, err)
		}
		// IX-2 is newer but wrapped: the current call is IX-1.
		if data, found, err := calls.Current(ctx, "1001"); err != nil || !found || data != `{"v":4}` {
			t.Errorf("current call of 1001 = %q, %v, %v", data, found, err)
		}
		if _, found, err := calls.Current(ctx, "1009"); err != nil || found {
			t.Errorf("current call of an agent without calls: found %v, %v", found, err)
		}
		if agent, found, err := calls.AgentOf(ctx, "IX-3"); err != nil || !found || agent != "1002" {
			t.Errorf("agent of IX-3 = %q, %v, %v", agent, found, err)
		}
		entries, err := NewOutbox(db).Entries(ctx, "IX-1")
		if err != nil || len(entries) != 1 || entries[0].Status != "pending" {
			t.Fatalf("IX-1's writes = %+v, %v; want its create once", entries, err)
		}
	})
}

func TestOutboxQueueOnBothEngines(t *testing.T) {
	onBothEngines(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := NewOutbox(db)
		defer q.Close()
		now := time.UnixMilli(1_700_000_000_000)
		relate := func(ix, n string) QueuedWrite {
			return QueuedWrite{IdempotencyKey: ix + "/relate/" + n, Step: "relate", Replaces: true, Data: `{"step":"relate","n":"` + n + `"}`}
		}
		create := func(ix string) QueuedWrite {
			return QueuedWrite{IdempotencyKey: ix + "/create", Step: "create", Data: `{"step":"create"}`}
		}
		for _, ix := range []string{"IX-A", "IX-B"} {
			if err := q.Enqueue(ctx, ix, []QueuedWrite{create(ix), relate(ix, "1"), relate(ix, "2")}, now); err != nil {
				t.Fatal(err)
			}
		}
		// A redelivered relate replaces nothing.
		if err := q.Enqueue(ctx, "IX-A", []QueuedWrite{relate("IX-A", "1")}, now); err != nil {
			t.Fatal(err)
		}
		entries, err := q.Entries(ctx, "IX-A")
		if err != nil {
			t.Fatal(err)
		}
		var statuses []string
		for _, e := range entries {
			statuses = append(statuses, e.Status)
		}
		if got := fmt.Sprint(statuses); got != "[pending superseded pending]" {
			t.Fatalf("IX-A's writes: %s; want the first relate superseded by the second", got)
		}
		if n, err := q.Depth(ctx); err != nil || n != 4 {
			t.Fatalf("depth = %d, %v; want 4", n, err)
		}

		heads := func(at time.Time) []Head {
			var got []Head
			if err := q.DueHeads(ctx, at, 10, func(h Head) bool { got = append(got, h); return true }); err != nil {
				t.Fatal(err)
			}
			return got
		}
		got := heads(now)
		if len(got) != 2 || got[0].InteractionID != "IX-A" || got[1].InteractionID != "IX-B" || got[0].Write != `{"step":"create"}` {
			t.Fatalf("due heads: %+v; want each call's create, oldest first", got)
		}
		// IX-A's create is done, IX-B's waits to be retried.
		if err := q.Record(ctx, []Outcome{
			{Seq: got[0].Seq, Attempts: 1, Status: "done", RecordID: "rec-1", At: now},
			{Seq: got[1].Seq, Attempts: 1, Status: "pending", LastError: "throttled", NextAttempt: now.Add(time.Minute), At: now},
		}); err != nil {
			t.Fatal(err)
		}
		got = heads(now)
		if len(got) != 1 || got[0].InteractionID != "IX-A" || got[0].Write != `{"step":"relate","n":"2"}` {
			t.Fatalf("due heads after the outcomes: %+v; want IX-A's second relate only", got)
		}
		if got := heads(now.Add(time.Minute)); len(got) != 2 || got[1].Attempts != 1 {
			t.Fatalf("due heads a minute later: %+v; want IX-B's create again, once tried", got)
		}
		if err := q.Record(ctx, []Outcome{{Seq: got[0].Seq, Attempts: 1, Status: "failed", LastError: "refused", At: now}}); err != nil {
			t.Fatal(err)
		}
		entries, _ = q.Entries(ctx, "IX-A")
		if entries[0].RecordID != "rec-1" || entries[2].Status != "failed" || entries[2].LastError != "refused" {
			t.Fatalf("IX-A's writes: %+v", entries)
		}
		// Done and superseded writes older than the cutoff go; failed and
		// pending ones stay.
		if n, err := q.Sweep(ctx, now.Add(time.Millisecond)); err != nil || n != 3 {
			t.Fatalf("swept %d, %v; want IX-A's done create and both superseded relates", n, err)
		}
		if n, err := q.Depth(ctx); err != nil || n != 2 {
			t.Fatalf("depth after the sweep = %d, %v; want IX-B's two pending writes", n, err)
		}
	})
}
