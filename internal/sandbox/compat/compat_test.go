// Package compat checks the sandbox against dynamics-web-api, a
// third-party Dataverse client, by running the Node tests in this folder.
package compat

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/sandbox"
	"github.com/ctibridge/ctibridge/internal/sandbox/sandboxtest"
	"github.com/ctibridge/ctibridge/internal/skipnote"
)

func TestDynamicsWebAPIClient(t *testing.T) {
	// CI installs both (.ci/run): there a missing one is a failure, not a skip.
	skip := func(why string) { skipnote.Skip(t, "internal/sandbox/compat: the Dataverse dialect check", why) }
	if os.Getenv("CI") != "" {
		skip = func(why string) { t.Fatal(why) }
	}
	if _, err := os.Stat(filepath.Join("node_modules", "dynamics-web-api")); err != nil {
		skip("node_modules/dynamics-web-api is missing: run `npm ci` in internal/sandbox/compat to run this check")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip("node is not installed; this check needs Node.js 20 or later")
	}
	const id, secret = "8b7f1c2d-3e4f-4a5b-9c6d-7e8f9a0b1c2d", "compat-secret"
	_, srv := sandboxtest.NewTestServer(t, sandbox.Options{
		ExtraColumns: []string{"new_wrapcode"},
		AlternateKey: "new_agentinteractionid",
		RequireAuth:  true,
		Clients:      map[string]string{id: secret},
		Seed:         true,
		SeedContacts: 150,
	})
	single := sandbox.DemoNumberByKey("single-contact").Records[0]

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec")
	cmd.Env = append(os.Environ(),
		"SANDBOX_URL="+srv.URL,
		"SANDBOX_CLIENT_ID="+id,
		"SANDBOX_CLIENT_SECRET="+secret,
		"SANDBOX_SINGLE_CONTACT_ID="+single.ID,
		"SANDBOX_SINGLE_CONTACT_PHONE="+single.Stored,
	)
	out, err := cmd.CombinedOutput()
	t.Logf("node --test output:\n%s", out)
	if err != nil {
		t.Fatalf("the dynamics-web-api checks failed: %v", err)
	}
}
