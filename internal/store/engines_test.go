package store

import (
	"context"
	"os"
	"testing"

	"github.com/ctibridge/ctibridge/internal/store/pgserver"
)

func TestMain(m *testing.M) { os.Exit(pgserver.RunTests(m)) }

// onBothEngines runs a contract test on a new SQLite store and a new
// PostgreSQL database: whatever the store promises, it keeps on both.
func onBothEngines(t *testing.T, test func(t *testing.T, db *DB)) {
	t.Helper()
	for _, engine := range []Engine{SQLite, PostgreSQL} {
		t.Run(engine.String(), func(t *testing.T) {
			test(t, openEngine(t, engine))
		})
	}
}

// openEngine opens a new, empty store on engine, closed when t ends.
func openEngine(t *testing.T, engine Engine) *DB {
	t.Helper()
	where := ""
	if engine == PostgreSQL {
		where = pgserver.Database(t)
	}
	db, err := Open(context.Background(), where)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
