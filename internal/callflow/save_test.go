package callflow

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ctibridge/ctibridge/internal/activity"
	"github.com/ctibridge/ctibridge/internal/interaction"
	"github.com/ctibridge/ctibridge/internal/store"
)

// storedFlow is a Flow over an in-memory store.
func storedFlow(t *testing.T) (*Flow, *store.DB) {
	t.Helper()
	db, err := store.Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return New(Options{Calls: store.NewCalls(db)}), db
}

func TestSavesMadeTogetherAreAllStoredAndABadOneCostsNoOther(t *testing.T) {
	ctx := context.Background()
	f, db := storedFlow(t)

	const calls = 200
	errs := make([]error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			ix := fmt.Sprintf("IX-%d", i)
			rec := &record{Call: interaction.Call{InteractionID: ix, AgentID: "1001", State: interaction.Alerting}}
			w := activity.Write{Op: activity.OpCreate, EntitySet: "phonecalls", IdempotencyKey: ix + "/create-activity"}
			if i == 77 {
				w.IdempotencyKey = "" // refused by the outbox: this save fails
			}
			errs[i] = f.save(ctx, rec, []activity.Write{w})
		})
	}
	wg.Wait()

	for i, err := range errs {
		if i == 77 {
			if err == nil || !strings.Contains(err.Error(), "idempotency key") {
				t.Errorf("the bad save returned %v, want its idempotency key error", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("save %d: %v", i, err)
		}
	}
	var stored, queued int
	db.QueryRow(`SELECT count(*) FROM calls`).Scan(&stored)
	db.QueryRow(`SELECT count(*) FROM outbox`).Scan(&queued)
	if stored != calls-1 || queued != calls-1 {
		t.Fatalf("stored %d calls and queued %d writes, want %d of each", stored, queued, calls-1)
	}
	if _, err := f.load(ctx, "IX-77"); err != nil {
		t.Fatal(err)
	}
	if rec, _ := f.load(ctx, "IX-77"); rec.Call.InteractionID != "" {
		t.Fatalf("the failed save left call IX-77 behind: %+v", rec.Call)
	}
}

func TestAFailedSaveLeavesTheCallAsItWasStored(t *testing.T) {
	ctx := context.Background()
	f, _ := storedFlow(t)
	if err := f.save(ctx, &record{Call: interaction.Call{InteractionID: "IX-1", AgentID: "1001", State: interaction.Alerting}}, nil); err != nil {
		t.Fatal(err)
	}

	rec, err := f.load(ctx, "IX-1")
	if err != nil {
		t.Fatal(err)
	}
	rec.Call.State = interaction.Connected
	refused := activity.Write{Op: activity.OpUpdate, EntitySet: "phonecalls"} // no idempotency key: the outbox refuses it
	if err := f.save(ctx, rec, []activity.Write{refused}); err == nil {
		t.Fatal("the save with a refused write succeeded")
	}

	again, err := f.load(ctx, "IX-1")
	if err != nil {
		t.Fatal(err)
	}
	if again.Call.State != interaction.Alerting {
		t.Fatalf("after the failed save the call is %q, want %q as stored", again.Call.State, interaction.Alerting)
	}
}
