package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctibridge/ctibridge/internal/agent"
	"github.com/ctibridge/ctibridge/internal/store"
)

func sipAccountIn(t *testing.T, storePath, agentID string) agent.SIPAccount {
	t.Helper()
	db, err := store.Open(context.Background(), storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	acc, err := agent.NewCredentials(store.NewAgents(db)).SIP(context.Background(), agentID)
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

func TestAgentSIPStoresTheAccountWithTheLogin(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "ctibridge.db")
	secret := filepath.Join(dir, "sip-password")
	os.WriteFile(secret, []byte("s3cret-sip\n"), 0o600)

	if code, _, stderr := run("agent", "--store", db, "sip", "1001", "--user", "1001", "--password-file", secret); code != 1 || !strings.Contains(stderr, "create the agent's login first") {
		t.Fatalf("sip account of an agent without a login: exit %d, %s", code, stderr)
	}
	if code, _, stderr := run("agent", "--store", db, "set", "1001", "1234"); code != 0 {
		t.Fatalf("agent set: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := run("agent", "--store", db, "sip", "1001", "--user", "agent1001", "--auth-user", "a1001", "--display-name", "Alex Agent", "--password-file", secret)
	if code != 0 || !strings.Contains(stdout, "agent 1001 registers as SIP user agent1001") {
		t.Fatalf("agent sip: exit %d\n%s%s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, "s3cret") {
		t.Errorf("the password was printed: %s%s", stdout, stderr)
	}
	want := agent.SIPAccount{User: "agent1001", AuthUser: "a1001", Password: "s3cret-sip", DisplayName: "Alex Agent"}
	if got := sipAccountIn(t, db, "1001"); got != want {
		t.Errorf("stored %v, want %v", got, want)
	}

	if code, _, _ := run("agent", "--store", db, "sip", "1001", "--remove"); code != 0 {
		t.Fatalf("agent sip --remove: exit %d", code)
	}
	if got := sipAccountIn(t, db, "1001"); got != (agent.SIPAccount{}) {
		t.Errorf("after --remove: %v", got)
	}
}

func TestAgentSIPRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "ctibridge.db")
	run("agent", "--store", db, "set", "1001", "1234")
	secret := filepath.Join(dir, "pw")
	os.WriteFile(secret, []byte("pw\n"), 0o600)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"a password on the command line", []string{"--user", "1001", "hunter2"}, 2, "never on the command line"},
		{"no user", []string{"--password-file", secret}, 2, "--user is required"},
		{"no password file", []string{"--user", "1001"}, 2, "--password-file is required"},
		{"a missing password file", []string{"--user", "1001", "--password-file", filepath.Join(dir, "nope")}, 1, "no such file"},
		{"a user with a space", []string{"--user", "agent 1", "--password-file", secret}, 1, `sip user: ' ' is not allowed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(append([]string{"agent", "--store", db, "sip", "1001"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s%s", code, tt.code, tt.want, stdout, stderr)
			}
			if strings.Contains(stdout+stderr, "hunter2") {
				t.Errorf("the password was echoed")
			}
		})
	}
}

func TestSIPAccountNeverPrintsItsPassword(t *testing.T) {
	acc := agent.SIPAccount{User: "1001", Password: "s3cret"}
	for _, s := range []string{acc.String(), acc.LogValue().String()} {
		if strings.Contains(s, "s3cret") {
			t.Errorf("%s shows the password", s)
		}
	}
}
