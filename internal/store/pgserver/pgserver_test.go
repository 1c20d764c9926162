package pgserver

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(RunTests(m)) }

func TestDatabasesAreServedOnTheSocketAndKeptApart(t *testing.T) {
	first, second := Database(t), Database(t)
	if first == second {
		t.Fatalf("two databases share the URL %s", first)
	}
	bin, _ := Find()
	psql := func(url, sql string) string {
		out, err := exec.Command(filepath.Join(bin, "psql"), "-XAtq", "-d", url, "-c", sql).CombinedOutput()
		if err != nil {
			t.Fatalf("psql %s: %v: %s", sql, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	psql(first, "CREATE TABLE t(x int); INSERT INTO t VALUES (42)")
	if got := psql(first, "SELECT x FROM t"); got != "42" {
		t.Fatalf("read back %q", got)
	}
	if got := psql(second, "SELECT count(*) FROM pg_tables WHERE tablename = 't'"); got != "0" {
		t.Fatalf("the second database sees the first's table")
	}
	if got := psql(first, "SHOW listen_addresses"); got != "" {
		t.Fatalf("listen_addresses = %q; the server must listen on its socket only", got)
	}
}

func TestStopRemovesTheCluster(t *testing.T) {
	Database(t) // skips, or fails under CI, without PostgreSQL
	s, err := Start(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	dir := s.Dir()
	s.Stop()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s is left after Stop: %v", dir, err)
	}
}
