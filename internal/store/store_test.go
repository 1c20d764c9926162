package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenCreatesSchemaOnceAndKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ctibridge.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO agents(agent_id, pin_hash, created_at) VALUES ('1001', 'x', 1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM agents`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("agents after reopen = %d, want 1", n)
	}
	var version int
	db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version)
	if version != len(migrations) {
		t.Fatalf("user_version = %d, want %d", version, len(migrations))
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ctibridge.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	db.ExecContext(ctx, "PRAGMA user_version = 99")
	db.Close()
	if _, err := Open(ctx, path); err == nil {
		t.Fatal("Open of a newer schema succeeded, want an error telling to upgrade")
	}
}

func TestInMemoryStoresAreSeparate(t *testing.T) {
	ctx := context.Background()
	a, err := Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a.ExecContext(ctx, `INSERT INTO agents(agent_id, pin_hash, created_at) VALUES ('1001', 'x', 1)`)
	var n int
	b.QueryRowContext(ctx, `SELECT count(*) FROM agents`).Scan(&n)
	if n != 0 {
		t.Fatalf("second in-memory store sees %d agents of the first", n)
	}
}

func TestOpenCreatesAStoreOnlyItsOwnerCanRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctibridge.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("a new store has mode %v, want -rw------- (it holds agents' credentials)", perm)
	}
}
