package outbox

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/activity"
	"github.com/ctibridge/ctibridge/internal/store"
)

// BenchmarkDueHeads measures the claim the outbox runs after every write
// (or batch), over a table holding 20,000 written writes: with a short
// queue (16 calls' writes due) and with a throttled backlog (1,000 calls
// with 3 writes each, all but 10 waiting out a Retry-After).
func BenchmarkDueHeads(b *testing.B) {
	shapes := []struct {
		name          string
		calls, due    int
		writesPerCall int
	}{
		{name: "short queue", calls: 16, due: 16, writesPerCall: 1},
		{name: "throttled backlog", calls: 1000, due: 10, writesPerCall: 3},
	}
	for _, sh := range shapes {
		{
			b.Run(sh.name, func(b *testing.B) {
				db := openDB(b, "")
				ctx := context.Background()
				now := time.Now()
				q := store.NewOutbox(db)
				defer q.Close()
				queue := func(ix string, ws ...activity.Write) {
					encoded, err := Encode(ws)
					if err == nil {
						err = q.Enqueue(ctx, ix, encoded, now)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				for i := range 20000 / 3 {
					ix := fmt.Sprintf("DONE-%d", i)
					queue(ix, write(ix, "0"), write(ix, "1"), write(ix, "2"))
				}
				if _, err := db.Exec(`UPDATE outbox SET status = 'done'`); err != nil {
					b.Fatal(err)
				}
				for i := range sh.calls {
					ix := fmt.Sprintf("IX-%d", i)
					var ws []activity.Write
					for s := range sh.writesPerCall {
						ws = append(ws, write(ix, fmt.Sprint(s)))
					}
					queue(ix, ws...)
					if i >= sh.due {
						if _, err := db.Exec(`UPDATE outbox SET next_attempt_at = ? WHERE interaction_id = ?`, now.Add(time.Hour).UnixMilli(), ix); err != nil {
							b.Fatal(err)
						}
					}
				}
				o := New(store.NewOutbox(db), &scriptedExecutor{}, quietOptions())
				for b.Loop() {
					due, err := o.dueHeads(ctx, 64)
					if err != nil || len(due) != sh.due {
						b.Fatalf("claimed %d, %v; want %d", len(due), err, sh.due)
					}
					for _, e := range due {
						o.release(e.InteractionID)
					}
				}
			})
		}
	}
}
