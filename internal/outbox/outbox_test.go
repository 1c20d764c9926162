package outbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/activity"
	"github.com/ctibridge/ctibridge/internal/store"
)

// scriptedExecutor records the writes it runs and fails the ones its
// script says to, the given number of times.
type scriptedExecutor struct {
	mu   sync.Mutex
	ran  []string
	fail map[string][]error // idempotency key → errors to return, in order
	ids  map[string]string
}

func (x *scriptedExecutor) Execute(_ context.Context, _ string, w activity.Write) (string, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.ran = append(x.ran, w.IdempotencyKey)
	if errs := x.fail[w.IdempotencyKey]; len(errs) > 0 {
		x.fail[w.IdempotencyKey] = errs[1:]
		return "", errs[0]
	}
	return x.ids[w.IdempotencyKey], nil
}

func (x *scriptedExecutor) history() string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return strings.Join(x.ran, ",")
}

type temporary struct{ after time.Duration }

func (t temporary) Error() string                  { return "throttled" }
func (t temporary) Retryable() bool                { return true }
func (t temporary) RetryAfterDelay() time.Duration { return t.after }

func write(interaction, step string) activity.Write {
	return activity.Write{Op: activity.OpUpdate, EntitySet: "phonecalls", Entity: "phonecall", KeyColumn: "new_agentinteractionid",
		KeyValue: interaction, Body: map[string]any{"subject": step}, IdempotencyKey: interaction + "/" + step, Step: activity.Step(step)}
}

func openDB(t testing.TB, path string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func enqueue(t *testing.T, db *store.DB, interaction string, writes ...activity.Write) {
	t.Helper()
	q := store.NewOutbox(db)
	defer q.Close()
	if err := New(q, nil, quietOptions()).Enqueue(context.Background(), interaction, writes, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func quietOptions() Options {
	return Options{BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, PollInterval: 5 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// drain runs the outbox until nothing is pending (or 5 s pass).
func drain(t *testing.T, o *Outbox) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := o.Depth(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("outbox still has %d pending writes after 5s", n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestWritesRunInOrderPerInteraction(t *testing.T) {
	db := openDB(t, "")
	enqueue(t, db, "IX-1", write("IX-1", "create"), write("IX-1", "relate"), write("IX-1", "wrap"))
	enqueue(t, db, "IX-2", write("IX-2", "create"))
	x := &scriptedExecutor{fail: map[string][]error{"IX-1/create": {temporary{}, temporary{}}}}
	drain(t, New(store.NewOutbox(db), x, quietOptions()))

	var ix1 []string
	for _, k := range strings.Split(x.history(), ",") {
		if strings.HasPrefix(k, "IX-1/") {
			ix1 = append(ix1, k)
		}
	}
	want := "IX-1/create,IX-1/create,IX-1/create,IX-1/relate,IX-1/wrap"
	if got := strings.Join(ix1, ","); got != want {
		t.Fatalf("IX-1 ran %s, want %s (retried create before anything after it)", got, want)
	}
}

func TestEnqueueIgnoresAWriteAlreadyQueued(t *testing.T) {
	db := openDB(t, "")
	enqueue(t, db, "IX-1", write("IX-1", "create"))
	enqueue(t, db, "IX-1", write("IX-1", "create"))
	x := &scriptedExecutor{}
	drain(t, New(store.NewOutbox(db), x, quietOptions()))
	enqueue(t, db, "IX-1", write("IX-1", "create")) // even after it ran
	drain(t, New(store.NewOutbox(db), x, quietOptions()))
	if got := x.history(); got != "IX-1/create" {
		t.Fatalf("ran %q, want the create once", got)
	}
}

func TestEnqueueRefusesAWriteWithoutKey(t *testing.T) {
	db := openDB(t, "")
	err := New(store.NewOutbox(db), nil, quietOptions()).Enqueue(context.Background(), "IX-1", []activity.Write{{Op: activity.OpCreate, EntitySet: "phonecalls"}}, time.Now())
	if err == nil || !strings.Contains(err.Error(), "idempotency key") {
		t.Fatalf("err = %v, want an idempotency key error", err)
	}
}

func TestPermanentFailureIsKeptAndLaterWritesGoOn(t *testing.T) {
	db := openDB(t, "")
	enqueue(t, db, "IX-1", write("IX-1", "create"), write("IX-1", "wrap"))
	x := &scriptedExecutor{fail: map[string][]error{"IX-1/create": {errors.New("0x80040217: column new_wrapcode does not exist")}}}
	o := New(store.NewOutbox(db), x, quietOptions())
	drain(t, o)
	entries, err := o.Entries(context.Background(), "IX-1")
	if err != nil {
		t.Fatal(err)
	}
	if entries[0].Status != StatusFailed || !strings.Contains(entries[0].LastError, "new_wrapcode") || entries[0].Attempts != 1 {
		t.Fatalf("create entry = %+v, want failed once with the CRM's message", entries[0])
	}
	if entries[1].Status != StatusDone {
		t.Fatalf("wrap entry = %+v, want done", entries[1])
	}
}

func TestRetryWaitsAtLeastRetryAfter(t *testing.T) {
	db := openDB(t, "")
	enqueue(t, db, "IX-1", write("IX-1", "create"))
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	x := &scriptedExecutor{fail: map[string][]error{"IX-1/create": {temporary{after: 7 * time.Second}}}}
	opt := quietOptions()
	opt.Now = func() time.Time { return now }
	o := New(store.NewOutbox(db), x, opt)
	due, _ := o.dueHeads(context.Background(), 10)
	o.attempt(context.Background(), due[0])
	o.release("IX-1")

	var next int64
	db.QueryRow(`SELECT next_attempt_at FROM outbox`).Scan(&next)
	if wait := time.UnixMilli(next).Sub(now); wait < 7*time.Second {
		t.Fatalf("next attempt in %v, want at least the 7s Retry-After", wait)
	}
	if due, _ := o.dueHeads(context.Background(), 10); len(due) != 0 {
		t.Fatalf("write due again before Retry-After: %v", due)
	}
	now = now.Add(8 * time.Second)
	if due, _ := o.dueHeads(context.Background(), 10); len(due) != 1 {
		t.Fatalf("write not due after Retry-After")
	}
}

func TestPendingWritesSurviveARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctibridge.db")
	db := openDB(t, path)
	enqueue(t, db, "IX-1", write("IX-1", "create"), write("IX-1", "wrap"))
	db.Close()

	db = openDB(t, path)
	x := &scriptedExecutor{}
	drain(t, New(store.NewOutbox(db), x, quietOptions()))
	if got := x.history(); got != "IX-1/create,IX-1/wrap" {
		t.Fatalf("after restart ran %q", got)
	}
}

func TestSweepDeletesOnlyWritesWrittenBeforeTheCutoff(t *testing.T) {
	db := openDB(t, "")
	ctx := context.Background()
	w := func(ix, step string) activity.Write {
		return activity.Write{Op: activity.OpCreate, EntitySet: "phonecalls", IdempotencyKey: ix + "/" + step}
	}
	now := time.Now()
	day := 24 * time.Hour
	rows := []struct {
		key, status string
		doneAgo     time.Duration
		kept        bool
	}{
		{"OLD-1/create", "done", 8 * day, false},
		{"OLD-2/create", "done", 30 * day, false},
		{"NEW-1/create", "done", day, true},
		{"FAILED-1/create", "failed", 30 * day, true}, // for an operator
		{"PENDING-1/create", "pending", 0, true},
	}
	for _, r := range rows {
		ix, step, _ := strings.Cut(r.key, "/")
		enqueue(t, db, ix, w(ix, step))
		if r.status != "pending" {
			if _, err := db.Exec(`UPDATE outbox SET status = ?, done_at = ? WHERE idempotency_key = ?`,
				r.status, now.Add(-r.doneAgo).UnixMilli(), r.key); err != nil {
				t.Fatal(err)
			}
		}
	}
	// More than one chunk of old written writes.
	for i := range store.SweepChunk + 5 {
		ix := fmt.Sprintf("BULK-%d", i)
		enqueue(t, db, ix, w(ix, "create"))
	}
	if _, err := db.Exec(`UPDATE outbox SET status = 'done', done_at = ? WHERE interaction_id LIKE 'BULK-%'`, now.Add(-10*day).UnixMilli()); err != nil {
		t.Fatal(err)
	}

	o := New(store.NewOutbox(db), &scriptedExecutor{}, quietOptions())
	n, err := o.Sweep(ctx, now.Add(-7*day))
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(2 + store.SweepChunk + 5); n != want {
		t.Fatalf("swept %d writes, want %d", n, want)
	}
	for _, r := range rows {
		var left int
		db.QueryRow(`SELECT count(*) FROM outbox WHERE idempotency_key = ?`, r.key).Scan(&left)
		if (left == 1) != r.kept {
			t.Errorf("%s (%s %v ago): kept = %v, want %v", r.key, r.status, r.doneAgo, left == 1, r.kept)
		}
	}
}

func TestRunSweepsWrittenWritesPastTheRetention(t *testing.T) {
	db := openDB(t, "")
	enqueue(t, db, "OLD-1", activity.Write{Op: activity.OpCreate, EntitySet: "phonecalls", IdempotencyKey: "OLD-1/create"})
	if _, err := db.Exec(`UPDATE outbox SET status = 'done', done_at = ?`, time.Now().Add(-48*time.Hour).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	opt := quietOptions()
	opt.Retention = 24 * time.Hour
	o := New(store.NewOutbox(db), &scriptedExecutor{}, opt)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the old written write to be swept", func() bool {
		var n int
		db.QueryRow(`SELECT count(*) FROM outbox`).Scan(&n)
		return n == 0
	})
}
