package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// filledStore creates a store file at a temporary path with enough outbox
// rows to span many pages, and closes it.
func filledStore(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ctibridge.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := InTx(ctx, db, func(tx *sql.Tx) error {
		for i := range 2000 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO outbox(interaction_id, idempotency_key, write, created_at) VALUES (?, ?, ?, 0)`,
				fmt.Sprint("IX-", i), fmt.Sprint("key-", i), strings.Repeat("w", 200)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenRefusesADamagedStore(t *testing.T) {
	path := filledStore(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// 200 bytes flipped at the start of a page in the middle of the file:
	// its b-tree header and cell pointers.
	const pageSize = 4096
	page := len(data) / pageSize / 2
	for i := range 200 {
		data[page*pageSize+i] ^= 0xff
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}

	db, err := Open(context.Background(), path)
	if err == nil {
		db.Close()
		t.Fatal("a damaged store was opened")
	}
	for _, says := range []string{path, "damaged", "restore the latest backup"} {
		if !strings.Contains(err.Error(), says) {
			t.Errorf("error %q does not say %q", err, says)
		}
	}
}

func TestOpenAcceptsASoundStore(t *testing.T) {
	db, err := Open(context.Background(), filledStore(t))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
}

func TestProbeFailsWhileTheStoreCannotWrite(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "ctibridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := Probe(ctx, db, time.Now()); err != nil {
		t.Fatalf("probe of a writable store: %v", err)
	}
	// The store's only connection refuses writes, as after a disk turns
	// read-only; reads still work.
	if _, err := db.ExecContext(ctx, "PRAGMA query_only = ON"); err != nil {
		t.Fatal(err)
	}
	if err := Probe(ctx, db, time.Now()); err == nil {
		t.Fatal("probe passed on a store that cannot write")
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM outbox").Scan(&n); err != nil {
		t.Fatalf("read: %v", err)
	}
}
