package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctibridge/ctibridge/internal/agent"
	"github.com/ctibridge/ctibridge/internal/sandbox"
	"github.com/ctibridge/ctibridge/internal/sandbox/sandboxtest"
	"github.com/ctibridge/ctibridge/internal/store"
)

// agentRecord reads what the store holds of an agent: its Dynamics user,
// and its session generation (which a PIN change changes).
func agentRecord(t *testing.T, storePath, agentID string) (agent.DynamicsUser, int64, bool) {
	t.Helper()
	db, err := store.Open(context.Background(), storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	creds := agent.NewCredentials(store.NewAgents(db))
	u, _, err := creds.DynamicsUser(context.Background(), agentID)
	if err != nil {
		t.Fatal(err)
	}
	gen, found, err := creds.Generation(context.Background(), agentID)
	if err != nil {
		t.Fatal(err)
	}
	return u, gen, found
}

func TestAgentDynamicsUserIsLookedUpThroughTheWebAPI(t *testing.T) {
	_, crm := sandboxtest.NewTestServer(t, sandbox.Options{Clients: map[string]string{"app": "app-secret"}, RequireAuth: true})
	db := filepath.Join(t.TempDir(), "ctibridge.db")
	dv := []string{"--store", db, "--dynamics-url", crm.URL, "--client-id", "app", "--client-secret", "app-secret",
		"--token-url", crm.URL + "/tenant/oauth2/v2.0/token"}
	agentCmd := func(args ...string) (int, string, string) {
		return run(append(append([]string{"agent"}, dv...), args...)...)
	}
	alex, sam := sandbox.DemoAgents[0], sandbox.DemoAgents[1]

	// An unknown user changes nothing: not even the login is created.
	if code, _, stderr := agentCmd("set", "1001", "1234", "--dynamics-user", "nobody@sandbox.local"); code != 1 || !strings.Contains(stderr, "no such Dynamics user with sign-in name nobody@sandbox.local") {
		t.Fatalf("unknown user: exit %d, %s", code, stderr)
	}
	if _, _, found := agentRecord(t, db, "1001"); found {
		t.Fatal("the login was created although its Dynamics user is unknown")
	}

	code, stdout, stderr := agentCmd("set", "1001", "1234", "--dynamics-user", alex.Email)
	if code != 0 || !strings.Contains(stdout, "agent 1001 writes as Dynamics user "+alex.Email) {
		t.Fatalf("set with --dynamics-user: exit %d\n%s%s", code, stdout, stderr)
	}
	u, gen, _ := agentRecord(t, db, "1001")
	if want := (agent.DynamicsUser{SystemUserID: alex.SystemUserID, ObjectID: alex.ObjectID, Name: alex.Email}); u != want {
		t.Fatalf("stored %+v, want %+v", u, want)
	}

	// Changed without touching the PIN: the sessions go on.
	if code, stdout, stderr := agentCmd("dynamics-user", "1001", "{"+strings.ToUpper(sam.SystemUserID)+"}"); code != 0 || !strings.Contains(stdout, sam.Email) {
		t.Fatalf("dynamics-user by systemuserid: exit %d\n%s%s", code, stdout, stderr)
	}
	u, gen2, _ := agentRecord(t, db, "1001")
	if u.SystemUserID != sam.SystemUserID || gen2 != gen {
		t.Fatalf("after dynamics-user: %+v, session generation %d → %d; want Sam's user and the sessions kept", u, gen, gen2)
	}

	if code, _, stderr := agentCmd("dynamics-user", "1001", "--remove"); code != 0 {
		t.Fatalf("dynamics-user --remove: exit %d, %s", code, stderr)
	}
	if u, _, _ := agentRecord(t, db, "1001"); u != (agent.DynamicsUser{}) {
		t.Fatalf("after --remove: %+v", u)
	}
	if code, _, stderr := agentCmd("dynamics-user", "1002", alex.Email); code != 1 || !strings.Contains(stderr, "create the agent's login first") {
		t.Fatalf("an agent without a login: exit %d, %s", code, stderr)
	}
}

func TestAgentDynamicsUserNeedsTheDataverseSettings(t *testing.T) {
	for _, env := range []string{"CTIBRIDGE_DYNAMICS_URL", "CTIBRIDGE_CLIENT_ID", "CTIBRIDGE_CLIENT_SECRET"} {
		t.Setenv(env, "")
	}
	db := filepath.Join(t.TempDir(), "ctibridge.db")
	code, _, stderr := run("agent", "--store", db, "dynamics-user", "1001", "alex@contoso.com")
	if code != 1 || !strings.Contains(stderr, "--dynamics-url, --client-id, --client-secret") {
		t.Fatalf("exit %d, %s; want the settings named", code, stderr)
	}
	if code, _, _ := run("agent", "--store", db, "dynamics-user", "1001"); code != 2 {
		t.Fatalf("dynamics-user without a user nor --remove: exit %d, want 2 (usage)", code)
	}
}
