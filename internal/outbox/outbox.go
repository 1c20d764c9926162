// Package outbox is the durable queue of CRM writes. Every write the
// activity planner produces is stored in SQLite, in the same transaction as
// the call state that implied it, before anything is sent to the CRM. Writes
// run in order per interaction, are retried with backoff (honouring the
// CRM's Retry-After), and survive a restart: a process killed mid-call
// loses nothing, and because every write is idempotent (upsert by the
// interaction id, or a state change that is the same the second time), a
// write that ran just before the kill and runs again duplicates nothing.
package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ctibridge/ctibridge/internal/activity"
)

// Executor runs one CRM write and returns the id of the record written.
type Executor interface {
	Execute(ctx context.Context, interactionID string, w activity.Write) (recordID string, err error)
}

// Retryable is implemented by executor errors that say whether trying again
// can help (throttling, a 5xx, a lost connection) and how long the CRM asked
// to wait. Errors that don't implement it are treated as permanent.
type Retryable interface {
	Retryable() bool
	RetryAfterDelay() time.Duration
}

// Status of a queued write.
const (
	StatusPending = "pending"
	StatusDone    = "done"
	StatusFailed  = "failed" // permanent error: kept with its message for an operator
)

// Options tune the outbox.
type Options struct {
	// Concurrency is how many interactions' writes run at once (default 8).
	Concurrency int
	// BaseBackoff and MaxBackoff bound the retry delay (defaults 500ms, 5m).
	BaseBackoff, MaxBackoff time.Duration
	// MaxAttempts after which a retryable write is marked failed (default
	// 0: keep trying; a CRM outage must not lose activities).
	MaxAttempts int
	// PollInterval is how often the queue is checked without a Notify
	// (default 1s).
	PollInterval time.Duration
	// Observe, if set, is called after every attempt (for metrics).
	Observe func(w activity.Write, outcome string, err error)
	Log     *slog.Logger
	Now     func() time.Time
}

// Outbox is the durable write queue over the store's outbox table.
type Outbox struct {
	db   *sql.DB
	exec Executor
	opt  Options
	wake chan struct{}

	mu       sync.Mutex
	inFlight map[string]bool // interaction ids being worked on
}

// New returns an Outbox over db (see internal/store) running writes with exec.
func New(db *sql.DB, exec Executor, opt Options) *Outbox {
	if opt.Concurrency <= 0 {
		opt.Concurrency = 8
	}
	if opt.BaseBackoff <= 0 {
		opt.BaseBackoff = 500 * time.Millisecond
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = 5 * time.Minute
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = time.Second
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Outbox{db: db, exec: exec, opt: opt, wake: make(chan struct{}, 1), inFlight: make(map[string]bool)}
}

// Enqueue stores writes for an interaction inside tx, the caller's
// transaction, so they are committed together with the state that implied
// them. A write whose IdempotencyKey is already queued (or done) is skipped.
func Enqueue(ctx context.Context, tx *sql.Tx, interactionID string, writes []activity.Write, now time.Time) error {
	for i, w := range writes {
		if w.IdempotencyKey == "" {
			return fmt.Errorf("write %d (%s %s): has no idempotency key", i, w.Op, w.EntitySet)
		}
		data, err := json.Marshal(w)
		if err != nil {
			return fmt.Errorf("encode write %s: %w", w.IdempotencyKey, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox(interaction_id, idempotency_key, write, created_at)
			VALUES (?, ?, ?, ?) ON CONFLICT(idempotency_key) DO NOTHING`,
			interactionID, w.IdempotencyKey, string(data), now.UnixMilli()); err != nil {
			return fmt.Errorf("queue write %s: %w", w.IdempotencyKey, err)
		}
	}
	return nil
}

// Notify wakes the workers after new writes were committed.
func (o *Outbox) Notify() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Depth returns how many writes are pending.
func (o *Outbox) Depth(ctx context.Context) (int, error) {
	var n int
	err := o.db.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE status = 'pending'`).Scan(&n)
	return n, err
}

// Entry is one queued write as stored.
type Entry struct {
	Seq           int64
	InteractionID string
	Write         activity.Write
	Status        string
	Attempts      int
	LastError     string
	RecordID      string
}

// Entries returns the queued writes of one interaction in order.
func (o *Outbox) Entries(ctx context.Context, interactionID string) ([]Entry, error) {
	rows, err := o.db.QueryContext(ctx, `SELECT seq, interaction_id, write, status, attempts, last_error, record_id
		FROM outbox WHERE interaction_id = ? ORDER BY seq`, interactionID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var data string
		if err := rows.Scan(&e.Seq, &e.InteractionID, &data, &e.Status, &e.Attempts, &e.LastError, &e.RecordID); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(data), &e.Write); err != nil {
			return nil, fmt.Errorf("outbox entry %d: %w", e.Seq, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Run works the queue until ctx ends. It returns after the writes in
// progress have finished.
func (o *Outbox) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, o.opt.Concurrency)
	ticker := time.NewTicker(o.opt.PollInterval)
	defer ticker.Stop()
	for {
		due, err := o.dueHeads(ctx, o.opt.Concurrency*4)
		if err != nil && ctx.Err() == nil {
			o.opt.Log.Error("read outbox", "err", err)
		}
		for _, e := range due {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				o.attempt(ctx, e)
				o.release(e.InteractionID)
				o.Notify()
			}()
		}
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		case <-ticker.C:
		}
	}
}

// dueHeads claims the first pending write of each interaction that is due
// and not already being worked on.
func (o *Outbox) dueHeads(ctx context.Context, limit int) ([]Entry, error) {
	rows, err := o.db.QueryContext(ctx, `SELECT o.seq, o.interaction_id, o.write, o.attempts FROM outbox o
		WHERE o.status = 'pending' AND o.next_attempt_at <= ?
		AND o.seq = (SELECT min(p.seq) FROM outbox p WHERE p.interaction_id = o.interaction_id AND p.status = 'pending')
		ORDER BY o.seq LIMIT ?`, o.opt.Now().UnixMilli(), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Entry
	o.mu.Lock()
	defer o.mu.Unlock()
	for rows.Next() {
		var e Entry
		var data string
		if err := rows.Scan(&e.Seq, &e.InteractionID, &data, &e.Attempts); err != nil {
			return nil, err
		}
		if o.inFlight[e.InteractionID] {
			continue
		}
		if err := json.Unmarshal([]byte(data), &e.Write); err != nil {
			// Cannot happen for rows Enqueue wrote; keep the row for an operator.
			o.opt.Log.Error("undecodable outbox entry", "seq", e.Seq, "err", err)
			continue
		}
		o.inFlight[e.InteractionID] = true
		out = append(out, e)
	}
	return out, rows.Err()
}

func (o *Outbox) release(interactionID string) {
	o.mu.Lock()
	delete(o.inFlight, interactionID)
	o.mu.Unlock()
}

func (o *Outbox) attempt(ctx context.Context, e Entry) {
	// A write that hangs must not hold its slot (and its call's later
	// writes) for ever: it is abandoned, and retried, after a minute.
	execCtx, cancel := context.WithTimeout(ctx, time.Minute)
	id, err := o.exec.Execute(execCtx, e.InteractionID, e.Write)
	cancel()
	if ctx.Err() != nil {
		return // shutting down: the write stays pending and runs after restart
	}
	now := o.opt.Now()
	attempts := e.Attempts + 1
	switch {
	case err == nil:
		o.finish(e, "done", func() (sql.Result, error) {
			return o.db.ExecContext(context.WithoutCancel(ctx), `UPDATE outbox SET status = 'done', attempts = ?, record_id = ?, last_error = '', done_at = ? WHERE seq = ?`,
				attempts, id, now.UnixMilli(), e.Seq)
		}, nil)
	case isRetryable(err) && (o.opt.MaxAttempts == 0 || attempts < o.opt.MaxAttempts):
		delay := o.backoff(attempts, err)
		o.opt.Log.Warn("CRM write failed, will retry", "interaction", e.InteractionID, "step", e.Write.Step, "attempt", attempts, "retry_in", delay.String(), "err", err)
		o.finish(e, "retry", func() (sql.Result, error) {
			return o.db.ExecContext(context.WithoutCancel(ctx), `UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE seq = ?`,
				attempts, now.Add(delay).UnixMilli(), err.Error(), e.Seq)
		}, err)
	default:
		o.opt.Log.Error("CRM write failed permanently", "interaction", e.InteractionID, "step", e.Write.Step, "attempt", attempts, "err", err)
		o.finish(e, "failed", func() (sql.Result, error) {
			return o.db.ExecContext(context.WithoutCancel(ctx), `UPDATE outbox SET status = 'failed', attempts = ?, last_error = ?, done_at = ? WHERE seq = ?`,
				attempts, err.Error(), now.UnixMilli(), e.Seq)
		}, err)
	}
}

func (o *Outbox) finish(e Entry, outcome string, update func() (sql.Result, error), err error) {
	if _, uerr := update(); uerr != nil {
		// The write ran but its outcome could not be recorded: it stays
		// pending and runs again, which the idempotent writes make safe.
		o.opt.Log.Error("record outbox outcome", "seq", e.Seq, "err", uerr)
	}
	if o.opt.Observe != nil {
		o.opt.Observe(e.Write, outcome, err)
	}
}

func isRetryable(err error) bool {
	var r Retryable
	return errors.As(err, &r) && r.Retryable()
}

// backoff is exponential with full jitter, never shorter than the CRM's
// Retry-After.
func (o *Outbox) backoff(attempts int, err error) time.Duration {
	d := o.opt.BaseBackoff << min(attempts-1, 20)
	if d > o.opt.MaxBackoff || d <= 0 {
		d = o.opt.MaxBackoff
	}
	d = time.Duration(rand.Int64N(int64(d)) + 1)
	var r Retryable
	if errors.As(err, &r) {
		if after := r.RetryAfterDelay(); after > d {
			d = after
		}
	}
	return d
}
