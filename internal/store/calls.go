package store

import (
	"context"
	"database/sql"
	"time"
)

// Calls is the calls table: each call's stored form (internal/callflow's
// record, as JSON), saved with the CRM writes it implies in one
// transaction, so a crash keeps both or neither.
type Calls struct {
	db *DB
	// p runs the statements of every event, prepared once.
	p *Prepared
}

// NewCalls returns the calls table of db.
func NewCalls(db *DB) *Calls { return &Calls{db: db, p: NewPrepared(db)} }

// Close releases the prepared statements; the database stays open.
func (c *Calls) Close() error { return c.p.Close() }

// Load returns a call's stored form; found is false for a call not stored.
func (c *Calls) Load(ctx context.Context, interactionID string) (data string, found bool, err error) {
	row, err := c.p.QueryRowContext(ctx, `SELECT data FROM calls WHERE interaction_id = ?`, interactionID)
	if err == nil {
		err = row.Scan(&data)
	}
	return data, err == nil, noRows(err)
}

// Current returns the stored form of an agent's latest call not yet
// wrapped; found is false when it has none.
func (c *Calls) Current(ctx context.Context, agentID string) (data string, found bool, err error) {
	err = c.db.QueryRowContext(ctx, c.db.Q(`SELECT data FROM calls WHERE agent_id = ? AND state != 'wrapped'
		ORDER BY updated_at DESC LIMIT 1`), agentID).Scan(&data)
	return data, err == nil, noRows(err)
}

// AgentOf returns the agent of a stored call; found is false for a call
// not stored.
func (c *Calls) AgentOf(ctx context.Context, interactionID string) (agentID string, found bool, err error) {
	err = c.db.QueryRowContext(ctx, c.db.Q(`SELECT agent_id FROM calls WHERE interaction_id = ?`), interactionID).Scan(&agentID)
	return agentID, err == nil, noRows(err)
}

// CallSave is one call to store, with the writes it queues.
type CallSave struct {
	InteractionID, AgentID, State string
	// Data is the call's stored form.
	Data   string
	Writes []QueuedWrite
	Now    time.Time
}

const saveCallQuery = `INSERT INTO calls(interaction_id, agent_id, state, data, updated_at) VALUES (?, ?, ?, ?, ?)
	ON CONFLICT(interaction_id) DO UPDATE SET state = excluded.state, data = excluded.data, updated_at = excluded.updated_at`

// SaveAll stores calls and queues their writes in one transaction, and
// returns one error per call, nil for those stored. If the transaction
// fails, each call is tried alone, so one that cannot be stored costs no
// other. The statements run to their end whatever becomes of ctx
// (Uncancelled): one caller giving up does not cut the others' saves short.
func (c *Calls) SaveAll(ctx context.Context, saves []*CallSave) []error {
	errs := make([]error, len(saves))
	// Prepared before the transaction, which cannot prepare them (see
	// Prepared); if preparing fails they run unprepared, and the saves
	// say whether the store fails.
	_ = c.p.Prepare(ctx, saveCallQuery, enqueueQuery, enqueueReturningQuery)
	if len(saves) > 1 {
		if err := InTx(ctx, c.db, func(tx *sql.Tx) error {
			for _, s := range saves {
				if err := c.save(ctx, tx, s); err != nil {
					return err
				}
			}
			return nil
		}); err == nil {
			return errs
		}
	}
	for i, s := range saves {
		errs[i] = InTx(ctx, c.db, func(tx *sql.Tx) error { return c.save(ctx, tx, s) })
	}
	return errs
}

func (c *Calls) save(ctx context.Context, tx *sql.Tx, s *CallSave) error {
	in := c.p.in(tx)
	if _, err := in.ExecContext(ctx, saveCallQuery, s.InteractionID, s.AgentID, s.State, s.Data, s.Now.UnixMilli()); err != nil {
		return err
	}
	return enqueue(ctx, in, s.InteractionID, s.Writes, s.Now)
}

// InProgress calls each with the stored form of up to limit calls not
// wrapped, newest first.
func (c *Calls) InProgress(ctx context.Context, limit int, each func(data string)) error {
	rows, err := c.db.QueryContext(ctx, c.db.Q(`SELECT data FROM calls WHERE state <> 'wrapped' ORDER BY updated_at DESC LIMIT ?`), limit)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return err
		}
		each(data)
	}
	return rows.Err()
}
