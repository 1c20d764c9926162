package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// QueuedWrite is one CRM write to queue, encoded by the outbox.
type QueuedWrite struct {
	IdempotencyKey string
	// Step is the write's step of its call; Replaces says that it
	// supersedes the pending writes of the same step queued before it.
	Step     string
	Replaces bool
	// Data is the write, as JSON.
	Data string
}

const (
	enqueueQuery = `INSERT INTO outbox(interaction_id, idempotency_key, write, created_at)
	VALUES (?, ?, ?, ?) ON CONFLICT(idempotency_key) DO NOTHING`
	// enqueueReturningQuery is enqueueQuery for a write that replaces
	// earlier ones: it returns the new row's seq, and no row when the
	// write was queued before.
	enqueueReturningQuery = enqueueQuery + ` RETURNING seq`
)

// supersedeQuery marks the pending writes of an interaction's step queued
// before seq as replaced. One being sent meanwhile is recorded as what
// became of it (done, or failed), except that it is not retried.
func (db *DB) supersedeQuery() string {
	step := `json_extract(write, '$.step')`
	if db.Engine == PostgreSQL {
		step = `(write::jsonb ->> 'step')`
	}
	return `UPDATE outbox SET status = 'superseded', last_error = ?, done_at = ?
	WHERE interaction_id = ? AND status = 'pending' AND seq < ? AND ` + step + ` = ?`
}

// enqueue stores writes for an interaction inside tx. A write whose
// IdempotencyKey is already queued (or done) is skipped; a write that
// replaces earlier ones supersedes the pending writes of its step.
func enqueue(ctx context.Context, tx preparedTx, interactionID string, writes []QueuedWrite, now time.Time) error {
	for _, w := range writes {
		if !w.Replaces {
			if _, err := tx.ExecContext(ctx, enqueueQuery, interactionID, w.IdempotencyKey, w.Data, now.UnixMilli()); err != nil {
				return fmt.Errorf("queue write %s: %w", w.IdempotencyKey, err)
			}
			continue
		}
		var seq int64
		err := tx.QueryRowContext(ctx, enqueueReturningQuery, interactionID, w.IdempotencyKey, w.Data, now.UnixMilli()).Scan(&seq)
		if err == sql.ErrNoRows {
			// Queued before (redelivered): it replaces nothing, a later
			// one may be pending.
			continue
		}
		if err != nil {
			return fmt.Errorf("queue write %s: %w", w.IdempotencyKey, err)
		}
		if _, err := tx.ExecContext(ctx, tx.p.db.supersedeQuery(),
			"replaced by "+w.IdempotencyKey+" before it was sent", now.UnixMilli(), interactionID, seq, w.Step); err != nil {
			return fmt.Errorf("queue write %s: replace earlier %s writes: %w", w.IdempotencyKey, w.Step, err)
		}
	}
	return nil
}

// Outbox is the outbox table: the durable queue of CRM writes
// (internal/outbox works it).
type Outbox struct {
	db *DB
	// p runs the queue's statements, prepared once: the claim runs after
	// every write, and parsing it took as long as running it does on a
	// short queue (BenchmarkDueHeads).
	p *Prepared
}

// NewOutbox returns the outbox table of db.
func NewOutbox(db *DB) *Outbox { return &Outbox{db: db, p: NewPrepared(db)} }

// Close releases the prepared statements; the database stays open.
func (o *Outbox) Close() error { return o.p.Close() }

// Enqueue queues writes for an interaction in a transaction of their own.
func (o *Outbox) Enqueue(ctx context.Context, interactionID string, writes []QueuedWrite, now time.Time) error {
	return InTx(ctx, o.db, func(tx *sql.Tx) error {
		return enqueue(ctx, o.p.in(tx), interactionID, writes, now)
	})
}

// Head is the first pending write of an interaction, as stored.
type Head struct {
	Seq           int64
	InteractionID string
	Write         string
	Attempts      int
}

// headsQuery selects the first pending write of each interaction, if it
// is due, oldest first.
const headsQuery = `SELECT o.seq, o.interaction_id, o.write, o.attempts FROM outbox o
	WHERE o.status = 'pending' AND o.next_attempt_at <= ?
	AND o.seq = (SELECT min(p.seq) FROM outbox p WHERE p.interaction_id = o.interaction_id AND p.status = 'pending')
	ORDER BY o.seq LIMIT ?`

// DueHeads calls each for up to limit interactions' first pending write
// that is due at now, oldest first, until each returns false.
func (o *Outbox) DueHeads(ctx context.Context, now time.Time, limit int, each func(Head) bool) error {
	rows, err := o.p.QueryContext(ctx, headsQuery, now.UnixMilli(), limit)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var h Head
		if err := rows.Scan(&h.Seq, &h.InteractionID, &h.Write, &h.Attempts); err != nil {
			return err
		}
		if !each(h) {
			break
		}
	}
	return rows.Err()
}

// Outcome is what became of an attempt at a queued write.
type Outcome struct {
	Seq      int64
	Attempts int
	// Status is "done", "failed", or "pending" to retry at NextAttempt.
	Status      string
	RecordID    string
	LastError   string
	NextAttempt time.Time
	At          time.Time
}

const (
	recordDone    = `UPDATE outbox SET status = 'done', attempts = ?, record_id = ?, last_error = '', done_at = ? WHERE seq = ?`
	recordRetry   = `UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE seq = ?`
	recordFailure = `UPDATE outbox SET status = 'failed', attempts = ?, last_error = ?, done_at = ? WHERE seq = ?`
)

func (out Outcome) update() (string, []any) {
	switch out.Status {
	case "done":
		return recordDone, []any{out.Attempts, out.RecordID, out.At.UnixMilli(), out.Seq}
	case "failed":
		return recordFailure, []any{out.Attempts, out.LastError, out.At.UnixMilli(), out.Seq}
	default:
		return recordRetry, []any{out.Attempts, out.NextAttempt.UnixMilli(), out.LastError, out.Seq}
	}
}

// Record stores the outcomes of attempts, several in one transaction. The
// statements run to their end even when ctx has ended (Uncancelled): the
// attempts did run.
func (o *Outbox) Record(ctx context.Context, outcomes []Outcome) error {
	if len(outcomes) == 1 {
		query, args := outcomes[0].update()
		_, err := o.p.ExecContext(ctx, query, args...)
		return err
	}
	if err := o.p.Prepare(ctx, recordDone, recordRetry, recordFailure); err != nil {
		return err
	}
	return InTx(ctx, o.db, func(tx *sql.Tx) error {
		for _, out := range outcomes {
			query, args := out.update()
			if _, err := o.p.in(tx).ExecContext(ctx, query, args...); err != nil {
				return fmt.Errorf("seq %d: %w", out.Seq, err)
			}
		}
		return nil
	})
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
	Write         string
	Status        string
	Attempts      int
	LastError     string
	RecordID      string
}

// Entries returns the queued writes of one interaction in order.
func (o *Outbox) Entries(ctx context.Context, interactionID string) ([]Entry, error) {
	rows, err := o.db.QueryContext(ctx, o.db.Q(`SELECT seq, interaction_id, write, status, attempts, last_error, record_id
		FROM outbox WHERE interaction_id = ? ORDER BY seq`), interactionID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.Seq, &e.InteractionID, &e.Write, &e.Status, &e.Attempts, &e.LastError, &e.RecordID); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// SweepChunk bounds the rows one delete removes, so a first sweep of a
// large table does not hold the store (SQLite's only connection) for long.
const SweepChunk = 1000

// Sweep deletes the writes that were written (done), or replaced before
// they were sent (superseded), before cutoff and returns how many.
func (o *Outbox) Sweep(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for {
		res, err := o.db.ExecContext(ctx, o.db.Q(`DELETE FROM outbox WHERE seq IN
			(SELECT seq FROM outbox WHERE status IN ('done', 'superseded') AND done_at < ? LIMIT ?)`), cutoff.UnixMilli(), SweepChunk)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
		if n < SweepChunk {
			return total, nil
		}
	}
}

// RecordID returns the id of the record the write with idempotencyKey
// wrote, or "" when it has not been written (or was swept). One read by
// the key's unique index.
func (o *Outbox) RecordID(ctx context.Context, idempotencyKey string) (string, error) {
	var id string
	row, err := o.p.QueryRowContext(ctx, `SELECT record_id FROM outbox WHERE idempotency_key = ? AND status = 'done'`, idempotencyKey)
	if err == nil {
		err = row.Scan(&id)
	}
	return id, noRows(err)
}
