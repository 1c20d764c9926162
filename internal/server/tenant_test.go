package server

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctibridge/ctibridge/internal/sandbox"
	"github.com/ctibridge/ctibridge/internal/sandbox/sandboxtest"
)

func tenantSettings(t *testing.T, opts sandbox.Options, configPath string) Settings {
	t.Helper()
	opts.Clients = map[string]string{"app": "app-secret"}
	opts.RequireAuth = true
	_, crm := sandboxtest.NewTestServer(t, opts)
	s := testSettings(t, configPath)
	s.OrgURL, s.ClientID, s.ClientSecret = crm.URL, "app", "app-secret"
	s.TokenURL = crm.URL + "/t/oauth2/v2.0/token"
	return s
}

// serve checks the config against the tenant's metadata at start: a wrap
// code the disposition choice lacks stops it, at its JSON path.
func TestServeRefusesAConfigTheTenantCannotTake(t *testing.T) {
	s := tenantSettings(t, sandbox.Options{ExtraColumns: []string{"new_wrapcode:choice:1=Sale,2=No sale"}, AlternateKey: "new_agentinteractionid"}, testConfig)
	s.WrapCodes = "1=Sale,2=No sale,3=Call back"
	_, err := New(context.Background(), s, slog.New(slog.DiscardHandler), Options{})
	if err == nil || !strings.Contains(err.Error(), `config.options.fields.callDispositionField: wrap code "3" (Call back) matches no option`) {
		t.Fatalf("New: %v, want the wrap code refused at its path", err)
	}
	s.WrapCodes = "1=Sale,2=No sale"
	srv, err := New(context.Background(), s, slog.New(slog.DiscardHandler), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if d := srv.Config().Tenant.Disposition; d == nil || len(d.Options) != 2 {
		t.Fatalf("tenant disposition %+v, want the choice's two options", d)
	}

	// On reload too: a config naming a column the tenant lacks is refused
	// and the one in use stays.
	data, _ := os.ReadFile(testConfig)
	path := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(path, bytes.Replace(data, []byte(`"new_wrapcode"`), []byte(`"new_missing"`), 1), 0o600)
	srv.settings.ConfigPath = path
	if err := srv.Reload(); err == nil || !strings.Contains(err.Error(), `no column "new_missing"`) {
		t.Fatalf("Reload: %v, want it refused", err)
	}
	if srv.Config().Options.Fields.CallDispositionField != "new_wrapcode" {
		t.Fatal("the refused config replaced the one in use")
	}
}

// A tenant refusing the metadata read: serve starts, with a warning naming
// the privilege.
func TestServeStartsWithAWarningWhenMetadataIsRefused(t *testing.T) {
	s := tenantSettings(t, sandbox.Options{ExtraColumns: []string{"new_wrapcode"}, AlternateKey: "new_agentinteractionid", RefuseMetadata: true}, testConfig)
	var logs bytes.Buffer
	srv, err := New(context.Background(), s, slog.New(slog.NewTextHandler(&logs, nil)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !strings.Contains(logs.String(), "prvReadEntity") {
		t.Fatalf("logs:\n%s\nwant a warning naming prvReadEntity", logs.String())
	}
}
