package store

import (
	"context"
	"testing"
)

func TestReplayMemoryOnBothEngines(t *testing.T) {
	onBothEngines(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		r := NewWebhookReplay(db)
		defer r.Close()
		a, b := [16]byte{1, 2, 3}, [16]byte{4, 5, 6}
		for _, add := range []struct {
			ts  int64
			key [16]byte
		}{{100, a}, {100, a}, {200, b}, {300, a}} { // the second is a repeat, kept once
			if err := r.AddReplay(ctx, add.ts, add.key); err != nil {
				t.Fatalf("add %d: %v", add.ts, err)
			}
		}
		load := func(since int64) map[int64][16]byte {
			got := map[int64][16]byte{}
			n := 0
			if err := r.LoadReplay(ctx, since, func(ts int64, key [16]byte) { got[ts] = key; n++ }); err != nil {
				t.Fatal(err)
			}
			if n != len(got) {
				t.Fatalf("loaded %d entries for %d timestamps: a repeat was kept twice", n, len(got))
			}
			return got
		}
		if got := load(150); len(got) != 2 || got[200] != b || got[300] != a {
			t.Fatalf("since 150: %v", got)
		}
		if err := r.ForgetReplay(ctx, 200, b); err != nil {
			t.Fatal(err)
		}
		if err := r.ExpireReplay(ctx, 150); err != nil {
			t.Fatal(err)
		}
		if got := load(0); len(got) != 1 || got[300] != a {
			t.Fatalf("after forgetting 200 and expiring before 150: %v", got)
		}
	})
}
