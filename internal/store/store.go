// Package store is ctibridge's storage: it opens the database, keeps its
// schema current, and holds the SQL of every aggregate (calls and their
// outbox writes, agents' credentials, the webhook's replay memory), so the
// packages that own the data ask for what they need and never learn which
// engine answers. Two engines: an embedded SQLite file, the default, and
// PostgreSQL (--store postgres://…), which several instances can share.
// Each engine's schema is an ordered list of migrations, applied in one
// transaction.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

// migrations is the SQLite schema history. Append only: a deployed
// database has run every earlier entry. A change here needs its
// counterpart in postgresMigrations (TestBothEnginesHaveTheSameSchema).
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
	// 3: a one-row table Probe writes to, so readiness is a real write; and
	// the signed webhook requests accepted within the timestamp tolerance,
	// so a request captured before a restart is still refused after it.
	`CREATE TABLE health (
		id         INTEGER PRIMARY KEY CHECK (id = 1),
		checked_at INTEGER NOT NULL
	);
	INSERT INTO health(id, checked_at) VALUES (1, 0);
	CREATE TABLE webhook_replay (
		ts  INTEGER NOT NULL,
		key BLOB NOT NULL,
		PRIMARY KEY (ts, key)
	) WITHOUT ROWID;`,
	// 4: each agent's session generation, which every session token
	// carries: changing it (a new PIN, logout) ends the tokens issued
	// before, whichever process changes it. Existing agents get one too,
	// so tokens issued before the upgrade (which carry none) end.
	`ALTER TABLE agents ADD COLUMN session_gen INTEGER NOT NULL DEFAULT 0;
	UPDATE agents SET session_gen = (random() >> 1) | 1;`,
	// 5: the Dynamics user each agent's activities are written as with
	// --impersonate-agents, set by an administrator (ctibridge agent set
	// --dynamics-user) and resolved through the Web API: its systemuserid,
	// its Entra object id when it has one, and its sign-in name for people.
	`ALTER TABLE agents ADD COLUMN dynamics_user_id TEXT NOT NULL DEFAULT '';
	ALTER TABLE agents ADD COLUMN dynamics_object_id TEXT NOT NULL DEFAULT '';
	ALTER TABLE agents ADD COLUMN dynamics_user_name TEXT NOT NULL DEFAULT '';`,
}

// memoryDatabases numbers in-memory databases so each Open gets its own.
var memoryDatabases atomic.Int64

// Engine is the database engine of a store.
type Engine int

// The engines a store runs on.
const (
	SQLite Engine = iota
	PostgreSQL
)

func (e Engine) String() string {
	if e == PostgreSQL {
		return "postgresql"
	}
	return "sqlite"
}

// DB is an open store. Its SQL is written once, with ? placeholders, and
// rewritten for the engine by Q; the few statements that differ between
// engines are chosen here, in package store, and nowhere else.
type DB struct {
	*sql.DB
	Engine Engine
	// Where names the store for messages: the SQLite file, or the
	// PostgreSQL URL without its password.
	Where string
	// url is the PostgreSQL URL, for connections of its own (LISTEN).
	url string
	// sole holds the advisory lock of ClaimSoleInstance.
	sole *sql.Conn
}

// Close closes the store, and with it any lock it holds.
func (db *DB) Close() error {
	if db.sole != nil {
		// Unlocked before the connection goes: closing it returns it to the
		// pool, and the server ends its session only some time after.
		db.sole.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, soleInstanceLock)
		db.sole.Close()
	}
	return db.DB.Close()
}

// Open opens the store where says: a postgres:// (or postgresql://) URL,
// or the path of a SQLite file, created if needed; "" opens a private
// in-memory SQLite database, for tests. It migrates the schema.
func Open(ctx context.Context, where string) (*DB, error) {
	if IsPostgresURL(where) {
		return openPostgres(ctx, where)
	}
	db, err := openSQLite(ctx, where)
	if err != nil {
		return nil, err
	}
	return &DB{DB: db, Engine: SQLite, Where: where}, nil
}

// Q returns query, written with ? placeholders, as the engine takes it:
// PostgreSQL numbers its placeholders ($1, $2, ...).
func (db *DB) Q(query string) string {
	if db.Engine != PostgreSQL {
		return query
	}
	return numberPlaceholders(query)
}

// numberPlaceholders rewrites each ? outside a quoted string as $n.
func numberPlaceholders(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 8)
	n, quoted := 0, false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func openSQLite(ctx context.Context, path string) (*sql.DB, error) {
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
	if path != "" {
		if err := check(ctx, db); err != nil {
			db.Close()
			return nil, fmt.Errorf("store %q is damaged: %w; stop ctibridge, move %[1]q and its -wal and -shm files aside, and restore the latest backup in their place (docs/deploy.md, Backups)", path, err)
		}
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %q: %w", path, err)
	}
	return db, nil
}

// check runs SQLite's quick_check: every page of every table and index is
// read and its structure verified, so a damaged file is refused at start
// rather than discovered by a write during a call. quick_check skips
// integrity_check's cross-checks of indexes against their tables, which
// cost twice as much: on a 96 MB store (200,000 outbox rows) quick_check
// takes about 0.3 s, integrity_check about 0.65 s.
func check(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check(5)")
	if err != nil {
		return err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("quick_check: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Probe reports whether the store can write now: it writes the time to the
// one-row health table in a transaction. A full disk, a damaged file or a
// store that has turned read-only fail it, where a read would still pass.
// Unlike the other statements it stops when ctx ends, so a readiness check
// waiting for a busy store gives up in time.
func Probe(ctx context.Context, db *DB, now time.Time) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store write probe: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, db.Q("UPDATE health SET checked_at = ? WHERE id = 1"), now.UnixMilli()); err != nil {
		return fmt.Errorf("store write probe: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store write probe: %w", err)
	}
	return nil
}

// InTx runs fn in a transaction on db and commits it, or rolls it back
// when fn fails. fn's error comes back as it is. The transaction runs to
// its end whatever becomes of ctx: see Uncancelled.
func InTx(ctx context.Context, db *DB, fn func(*sql.Tx) error) error {
	return inTx(ctx, db.DB, fn)
}

func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
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
	return inTx(ctx, db, func(tx *sql.Tx) error { return migrateIn(ctx, tx) })
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
