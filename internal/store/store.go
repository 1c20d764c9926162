// Package store opens ctibridge's embedded SQLite database and keeps its
// schema current. The packages that own the data (outbox, callflow, agent)
// write their own SQL against the *sql.DB it returns; the schema lives here
// as one ordered list of migrations so an upgrade is a single transaction.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

// migrations is the schema history. Append only: a deployed database has
// run every earlier entry.
var migrations = []string{
	// 1: calls, their processed events, the durable outbox, agent credentials.
	`CREATE TABLE calls (
		interaction_id TEXT PRIMARY KEY,
		agent_id       TEXT NOT NULL,
		state          TEXT NOT NULL,
		data           TEXT NOT NULL,
		updated_at     INTEGER NOT NULL
	);
	CREATE INDEX calls_agent ON calls(agent_id, updated_at);
	CREATE TABLE outbox (
		seq             INTEGER PRIMARY KEY AUTOINCREMENT,
		interaction_id  TEXT NOT NULL,
		idempotency_key TEXT NOT NULL UNIQUE,
		write           TEXT NOT NULL,
		status          TEXT NOT NULL DEFAULT 'pending',
		attempts        INTEGER NOT NULL DEFAULT 0,
		next_attempt_at INTEGER NOT NULL DEFAULT 0,
		last_error      TEXT NOT NULL DEFAULT '',
		record_id       TEXT NOT NULL DEFAULT '',
		created_at      INTEGER NOT NULL,
		done_at         INTEGER
	);
	CREATE INDEX outbox_pending ON outbox(status, interaction_id, seq);
	CREATE TABLE agents (
		agent_id   TEXT PRIMARY KEY,
		pin_hash   TEXT NOT NULL,
		name       TEXT NOT NULL DEFAULT '',
		created_at INTEGER NOT NULL
	);`,
	// 2: each agent's SIP account for the widget's softphone. The password
	// is kept as given: the widget needs it to register, so it cannot be
	// hashed like the PIN (docs/telephony.md says how to protect the store).
	`ALTER TABLE agents ADD COLUMN sip_user TEXT NOT NULL DEFAULT '';
	ALTER TABLE agents ADD COLUMN sip_auth_user TEXT NOT NULL DEFAULT '';
	ALTER TABLE agents ADD COLUMN sip_password TEXT NOT NULL DEFAULT '';
	ALTER TABLE agents ADD COLUMN sip_display_name TEXT NOT NULL DEFAULT '';`,
}

// memoryDatabases numbers in-memory databases so each Open gets its own.
var memoryDatabases atomic.Int64

// Open opens (creating if needed) the database at path and migrates it.
// path "" opens a private in-memory database, for tests.
func Open(ctx context.Context, path string) (*sql.DB, error) {
	if path != "" {
		// The store holds agents' credentials (PIN hashes, SIP passwords):
		// a new one is readable by its owner only. SQLite gives its -wal
		// and -shm files the database file's permissions.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open store %q: %w", path, err)
		}
		f.Close()
	}
	dsn := "file:" + url.PathEscape(path)
	if path == "" {
		// A named shared-cache memory database so every pooled connection
		// sees the same data.
		dsn = fmt.Sprintf("file:ctibridge-mem-%d?mode=memory&cache=shared", memoryDatabases.Add(1))
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	dsn += sep + "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %q: %w", path, err)
	}
	// SQLite allows one writer; a single connection serialises writers
	// without SQLITE_BUSY storms and keeps an in-memory database alive.
	db.SetMaxOpenConns(1)
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %q: %w", path, err)
	}
	return db, nil
}

// InTx runs fn in a transaction on db and commits it, or rolls it back
// when fn fails. fn's error comes back as it is. The transaction runs to
// its end whatever becomes of ctx: see Uncancelled.
func InTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(Uncancelled(ctx), nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// Uncancelled is ctx without its cancellation, for the store's
// statements. A statement takes milliseconds and cutting one short helps
// no one, while the SQLite driver starts a goroutine to watch the context
// of every statement run under one that can be cancelled: under load, a
// goroutine and a woken thread for every statement. Callers check their
// context before they begin, not while a statement runs.
func Uncancelled(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

func migrate(ctx context.Context, db *sql.DB) error {
	return InTx(ctx, db, func(tx *sql.Tx) error { return migrateIn(ctx, tx) })
}

func migrateIn(ctx context.Context, tx *sql.Tx) error {
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this ctibridge knows (%d): upgrade ctibridge", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations)))
	return err
}
