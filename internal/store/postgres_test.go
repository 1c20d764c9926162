package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/store/pgserver"
)

// columns lists each table's columns, sorted: the schema as the code
// sees it, whatever the engine's types.
func columns(t *testing.T, db *DB) map[string][]string {
	t.Helper()
	query := `SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`
	if db.Engine == PostgreSQL {
		query = `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name != 'schema_version'`
	}
	rows, err := db.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			t.Fatal(err)
		}
		out[table] = append(out[table], column)
	}
	for _, cols := range out {
		slices.Sort(cols)
	}
	return out
}

func TestBothEnginesHaveTheSameSchema(t *testing.T) {
	lite, pg := columns(t, openEngine(t, SQLite)), columns(t, openEngine(t, PostgreSQL))
	for _, table := range slices.Sorted(maps.Keys(lite)) {
		if !slices.Equal(lite[table], pg[table]) {
			t.Errorf("table %s: SQLite has columns %v, PostgreSQL %v: add the migration to both engines", table, lite[table], pg[table])
		}
	}
	for table := range pg {
		if _, ok := lite[table]; !ok {
			t.Errorf("table %s is on PostgreSQL only", table)
		}
	}
}

func TestPostgresOpenIsIdempotentAndRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	url := pgserver.Database(t)
	// Instances starting together: each migrates or finds it done.
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Go(func() {
			db, err := Open(ctx, url)
			if err == nil {
				db.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("instances opening a new database together: %v", err)
		}
	}
	db, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	var version int
	db.QueryRow(`SELECT version FROM schema_version`).Scan(&version)
	if version != len(postgresMigrations) {
		t.Fatalf("schema version %d, want %d", version, len(postgresMigrations))
	}
	db.Exec(`UPDATE schema_version SET version = 99`)
	db.Close()
	_, err = Open(ctx, url)
	if err == nil || !strings.Contains(err.Error(), "upgrade ctibridge") {
		t.Fatalf("open of a newer schema: %v; want an error telling to upgrade", err)
	}
}

func TestUnreachablePostgresIsAClearErrorWithoutThePassword(t *testing.T) {
	// A socket directory with no server in it: refused at once.
	url := fmt.Sprintf("postgres://ctibridge:s3cret@/ctibridge?host=%s&connect_timeout=2", t.TempDir())
	start := time.Now()
	_, err := Open(context.Background(), url)
	if err == nil {
		t.Fatal("opened a store with no server")
	}
	if !strings.Contains(err.Error(), "cannot reach PostgreSQL") || !strings.Contains(err.Error(), "--store") {
		t.Errorf("error %q does not say the server cannot be reached and where to fix it", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q shows the password", err)
	}
	if time.Since(start) > connectTimeout+5*time.Second {
		t.Errorf("took %s to give up", time.Since(start))
	}
	if _, err := Open(context.Background(), "postgres://a b@/%zz"); err == nil || !strings.Contains(err.Error(), "not a PostgreSQL URL") {
		t.Errorf("a malformed URL: %v", err)
	}
}

func TestProbeWritesOnBothEngines(t *testing.T) {
	onBothEngines(t, func(t *testing.T, db *DB) {
		now := time.UnixMilli(1_700_000_000_123)
		if err := Probe(context.Background(), db, now); err != nil {
			t.Fatal(err)
		}
		var at int64
		if err := db.QueryRow(`SELECT checked_at FROM health WHERE id = 1`).Scan(&at); err != nil || at != now.UnixMilli() {
			t.Fatalf("checked_at = %d, %v; want %d", at, err, now.UnixMilli())
		}
	})
}

func TestNumberPlaceholders(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"none", `SELECT 1`, `SELECT 1`},
		{"several", `UPDATE t SET a = ?, b = ? WHERE c = ?`, `UPDATE t SET a = $1, b = $2 WHERE c = $3`},
		{"in a string", `SELECT '?' WHERE x = ?`, `SELECT '?' WHERE x = $1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := numberPlaceholders(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOneInstanceAtATimeServesAPostgresStore(t *testing.T) {
	ctx := context.Background()
	url := pgserver.Database(t)
	first, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.ClaimSoleInstance(ctx); err != nil {
		t.Fatal(err)
	}
	second, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := second.ClaimSoleInstance(ctx); err == nil || !strings.Contains(err.Error(), "another ctibridge instance") {
		t.Fatalf("a second instance: %v; want a refusal", err)
	}
	first.Close()
	if err := second.ClaimSoleInstance(ctx); err != nil {
		t.Fatalf("after the first instance closed: %v", err)
	}
}
