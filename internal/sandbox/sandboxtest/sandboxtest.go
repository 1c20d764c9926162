// Package sandboxtest starts a sandbox CRM for other packages' tests in
// one line.
package sandboxtest

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/ctibridge/ctibridge/internal/sandbox"
)

// NewTestServer opens an in-memory sandbox (unless opts.Path is set) and
// serves it on a loopback httptest server. Both are closed when the test
// ends. The Web API root is srv.URL + "/api/data/v9.2/"; the token
// endpoint is srv.URL + "/<tenant>/oauth2/v2.0/token".
func NewTestServer(t testing.TB, opts sandbox.Options) (*sandbox.Sandbox, *httptest.Server) {
	t.Helper()
	sb, err := sandbox.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("sandboxtest: opening sandbox: %v", err)
	}
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(func() {
		srv.Close()
		if err := sb.Close(); err != nil {
			t.Errorf("sandboxtest: closing sandbox: %v", err)
		}
	})
	return sb, srv
}
