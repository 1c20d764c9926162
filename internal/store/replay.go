package store

import "context"

// WebhookReplay keeps the signed webhook requests accepted within the
// timestamp tolerance, so that a request captured before a restart is
// refused after it as it was before. The webhook keeps them in memory for
// its checks and writes through to this table; it loads them back at start.
type WebhookReplay struct {
	db *DB
	p  *Prepared
}

// NewWebhookReplay returns the webhook's replay table in db.
func NewWebhookReplay(db *DB) *WebhookReplay {
	return &WebhookReplay{db: db, p: NewPrepared(db)}
}

const (
	replayInsert = `INSERT INTO webhook_replay(ts, key) VALUES (?, ?) ON CONFLICT DO NOTHING`
	replayDelete = `DELETE FROM webhook_replay WHERE ts = ? AND key = ?`
	replayExpire = `DELETE FROM webhook_replay WHERE ts < ?`
)

// LoadReplay calls each for every request whose timestamp (unix seconds)
// is at or after since.
func (r *WebhookReplay) LoadReplay(ctx context.Context, since int64, each func(ts int64, key [16]byte)) error {
	rows, err := r.p.QueryContext(ctx, `SELECT ts, key FROM webhook_replay WHERE ts >= ?`, since)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var ts int64
		var raw []byte
		if err := rows.Scan(&ts, &raw); err != nil {
			return err
		}
		var key [16]byte
		if len(raw) != len(key) {
			continue // not written by AddReplay; nothing to protect
		}
		copy(key[:], raw)
		each(ts, key)
	}
	return rows.Err()
}

// AddReplay records a request.
func (r *WebhookReplay) AddReplay(ctx context.Context, ts int64, key [16]byte) error {
	_, err := r.p.ExecContext(ctx, replayInsert, ts, key[:])
	return err
}

// ForgetReplay removes a request, which may then be sent again.
func (r *WebhookReplay) ForgetReplay(ctx context.Context, ts int64, key [16]byte) error {
	_, err := r.p.ExecContext(ctx, replayDelete, ts, key[:])
	return err
}

// ExpireReplay deletes the requests whose timestamp is before before: the
// timestamp check refuses them anyway.
func (r *WebhookReplay) ExpireReplay(ctx context.Context, before int64) error {
	_, err := r.p.ExecContext(ctx, replayExpire, before)
	return err
}

// Close releases the prepared statements; the database stays open.
func (r *WebhookReplay) Close() error { return r.p.Close() }
