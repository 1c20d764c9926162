package store

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

// openPrepared opens an in-memory store (one connection, as every store)
// and a Prepared over it, both closed when the test ends.
func openPrepared(t *testing.T) (*DB, *Prepared) {
	t.Helper()
	db, err := Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p := NewPrepared(db)
	t.Cleanup(func() { p.Close() })
	return db, p
}

func TestPreparedStatementsRunInsideAndOutsideTransactions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	db, p := openPrepared(t)
	const insert = `INSERT INTO agents(agent_id, pin_hash, created_at) VALUES (?, 'x', 0)`

	// Not prepared yet, inside a transaction: it runs unprepared rather
	// than wait for a second connection (the store has one) to prepare on.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.in(tx).ExecContext(ctx, insert, "1001"); err != nil {
		t.Fatalf("unprepared statement in a transaction: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	// Prepared before the transaction: it runs prepared, and is kept.
	if err := p.Prepare(ctx, insert); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"1002", "1003"} {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.in(tx).ExecContext(ctx, insert, id); err != nil {
			t.Fatalf("prepared statement in a transaction: %v", err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if p.prepared(insert) == nil {
		t.Fatal("the statement was not kept prepared")
	}

	row, err := p.QueryRowContext(ctx, `SELECT count(*) FROM agents`)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := row.Scan(&n); err != nil || n != 3 {
		t.Fatalf("agents = %d, %v; want 3", n, err)
	}
}

func TestPreparingOutsideATransactionDoesNotBlockOneThatHoldsTheConnection(t *testing.T) {
	ctx := context.Background()
	db, p := openPrepared(t)

	// A transaction holds the store's only connection...
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// ...while another caller prepares a new statement, which must wait
	// for that connection...
	outside := make(chan error, 1)
	go func() {
		_, err := p.ExecContext(ctx, `INSERT INTO agents(agent_id, pin_hash, created_at) VALUES ('2001', 'x', 0)`)
		outside <- err
	}()
	time.Sleep(50 * time.Millisecond)
	// ...and the transaction runs a statement through p: it must not wait
	// for the preparer, which waits for it.
	inside := make(chan error, 1)
	go func() {
		_, err := p.in(tx).ExecContext(ctx, `INSERT INTO agents(agent_id, pin_hash, created_at) VALUES ('2002', 'x', 0)`)
		inside <- err
	}()
	select {
	case err := <-inside:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		tx.Rollback() // frees the connection, and so both waiters
		t.Fatal("the transaction's statement waited for a statement being prepared outside it: deadlock")
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-outside; err != nil {
		t.Fatal(err)
	}
}

func TestStatementsRunToTheirEndWhenTheCallerHasGivenUp(t *testing.T) {
	db, p := openPrepared(t)
	const insert = `INSERT INTO agents(agent_id, pin_hash, created_at) VALUES (?, 'x', 0)`
	gaveUp, cancel := context.WithCancel(context.Background())
	cancel()

	if err := p.Prepare(gaveUp, insert); err != nil || p.prepared(insert) == nil {
		t.Fatalf("prepare: %v", err)
	}
	if _, err := p.ExecContext(gaveUp, insert, "1001"); err != nil {
		t.Fatalf("statement: %v", err)
	}
	if err := InTx(gaveUp, db, func(tx *sql.Tx) error {
		_, err := p.in(tx).ExecContext(gaveUp, insert, "1002")
		return err
	}); err != nil {
		t.Fatalf("transaction: %v", err)
	}
	row, err := p.QueryRowContext(gaveUp, `SELECT count(*) FROM agents`)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := row.Scan(&n); err != nil || n != 2 {
		t.Fatalf("agents = %d, %v; want both stored", n, err)
	}
}
