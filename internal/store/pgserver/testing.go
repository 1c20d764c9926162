package pgserver

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/ctibridge/ctibridge/internal/skipnote"
)

// shared is the server of a test binary: started by the first test that
// asks for a database, stopped by RunTests when the tests end.
var shared struct {
	once   sync.Once
	server *Server
	err    error
}

// RunTests runs a package's tests and then stops the server they
// started, if any. A package whose tests call Database runs them with it:
//
//	func TestMain(m *testing.M) { os.Exit(pgserver.RunTests(m)) }
func RunTests(m *testing.M) int {
	code := m.Run()
	if shared.server != nil {
		shared.server.Stop()
	}
	return code
}

// Database returns the URL of a new, empty database on the test binary's
// server, which it starts on first use. Without PostgreSQL installed the
// test is skipped with one line saying what to install; under CI ($CI
// set) it fails instead, so that CI cannot pass without running it.
func Database(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() { shared.server, shared.err = Start(context.Background(), "") })
	if shared.err != nil {
		if _, missing := Find(); missing != nil && os.Getenv("CI") == "" {
			skipnote.Skip(t, "PostgreSQL", missing.Error())
		}
		t.Fatalf("start PostgreSQL: %v", shared.err)
	}
	url, err := shared.server.CreateDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return url
}
