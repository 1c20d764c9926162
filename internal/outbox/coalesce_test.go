package outbox

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/ctibridge/ctibridge/internal/activity"
	"github.com/ctibridge/ctibridge/internal/store"
)

// relate is the revision-th relate write of step for interaction, as
// activity.PlanRelate keys it.
func relate(interaction string, step activity.Step, revision string) activity.Write {
	w := write(interaction, string(step))
	w.IdempotencyKey += "/" + revision
	return w
}

func TestAPendingRelateIsReplacedByALaterOne(t *testing.T) {
	db := openDB(t, "")
	ix := "IX-1"
	enqueue(t, db, ix, write(ix, "create"), relate(ix, activity.StepRelate, "1"), relate(ix, activity.StepRelateTask, "1"))
	enqueue(t, db, ix, relate(ix, activity.StepRelate, "2"))
	enqueue(t, db, ix, relate(ix, activity.StepRelate, "1")) // redelivered: replaces nothing
	enqueue(t, db, ix, relate(ix, activity.StepRelate, "3"), write(ix, "wrap"))
	enqueue(t, db, "IX-2", relate("IX-2", activity.StepRelate, "1")) // another call's
	x := &scriptedExecutor{}
	o := New(store.NewOutbox(db), x, quietOptions())
	drain(t, o)

	want := "IX-1/create,IX-1/relate-task/1,IX-1/relate/3,IX-1/wrap"
	var got []string
	for _, k := range splitHistory(x.history()) {
		if k != "IX-2/relate/1" {
			got = append(got, k)
		}
	}
	if g := joinKeys(got); g != want {
		t.Fatalf("ran %s, want %s: a relate replaced before it went out costs no request", g, want)
	}
	if h := x.history(); !contains(splitHistory(h), "IX-2/relate/1") {
		t.Fatalf("ran %s: another call's relate was replaced", h)
	}
	entries, err := o.Entries(context.Background(), ix)
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, e := range entries {
		status[e.Write.IdempotencyKey] = e.Status
	}
	for key, want := range map[string]string{"IX-1/relate/1": StatusSuperseded, "IX-1/relate/2": StatusSuperseded, "IX-1/relate/3": StatusDone, "IX-1/relate-task/1": StatusDone} {
		if status[key] != want {
			t.Errorf("%s is %q, want %q", key, status[key], want)
		}
	}
}

func TestARelateInFlightStillRunsAndItsSuccessorToo(t *testing.T) {
	db := openDB(t, "")
	ix := "IX-1"
	enqueue(t, db, ix, relate(ix, activity.StepRelate, "1"))
	x := &scriptedExecutor{fail: map[string][]error{"IX-1/relate/1": {temporary{}}}}
	o := New(store.NewOutbox(db), x, quietOptions())
	ctx, cancel := context.WithCancel(context.Background())
	heads, err := o.dueHeads(ctx, 1) // relate/1 claimed, as a worker does
	cancel()
	if err != nil || len(heads) != 1 {
		t.Fatalf("claim = %v, %v", heads, err)
	}
	enqueue(t, db, ix, relate(ix, activity.StepRelate, "2"))
	o.attempt(context.Background(), heads[0]) // throttled: not retried, relate/2 replaces it
	o.release(ix)
	drain(t, o)
	if got := x.history(); got != "IX-1/relate/1,IX-1/relate/2" {
		t.Fatalf("ran %s, want IX-1/relate/1,IX-1/relate/2", got)
	}
}

func splitHistory(h string) []string {
	if h == "" {
		return nil
	}
	return strings.Split(h, ",")
}

func joinKeys(keys []string) string { return strings.Join(keys, ",") }

func contains(keys []string, key string) bool { return slices.Contains(keys, key) }
