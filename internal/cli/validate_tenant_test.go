package cli

import (
	"strings"
	"testing"

	"github.com/ctibridge/ctibridge/internal/sandbox"
	"github.com/ctibridge/ctibridge/internal/sandbox/sandboxtest"
)

func tenantURL(t *testing.T, opts sandbox.Options) []string {
	t.Helper()
	opts.Clients = map[string]string{"app": "app-secret"}
	opts.RequireAuth = true
	_, crm := sandboxtest.NewTestServer(t, opts)
	return []string{"--dynamics-url", crm.URL, "--client-id", "app", "--client-secret", "app-secret", "--token-url", crm.URL + "/t/oauth2/v2.0/token"}
}

func TestValidateAgainstTheTenant(t *testing.T) {
	choice := sandbox.Options{ExtraColumns: []string{"new_wrapcode:choice:1=Sale,2=No sale"}, AlternateKey: "new_agentinteractionid"}
	tests := []struct {
		name       string
		opts       sandbox.Options
		wrapCodes  string
		wantCode   int
		wantStderr string
	}{
		{name: "fits", opts: choice, wrapCodes: "1=Sale,2=No sale", wantCode: 0},
		{name: "a wrap code without an option is an error at its path", opts: choice, wrapCodes: "1=Sale,3=Call back", wantCode: 1,
			wantStderr: `config.options.fields.callDispositionField: wrap code "3" (Call back) matches no option of phonecall.new_wrapcode`},
		{name: "a missing column is an error at its path", opts: sandbox.Options{ExtraColumns: []string{"new_wrapcode"}}, wrapCodes: "1=Sale", wantCode: 1,
			wantStderr: `config.options.fields.agentInteractionId: table phonecall has no column "new_agentinteractionid"`},
		{name: "refused metadata is a warning naming the privilege", opts: sandbox.Options{RefuseMetadata: true}, wrapCodes: "1=Sale", wantCode: 0,
			wantStderr: "warning: config.options.fields: the tenant refused to show its table definitions (missing prvReadEntity)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Flags after the file, as the docs write them.
			args := append([]string{"validate", "../../testdata/sample.json"}, tenantURL(t, tt.opts)...)
			args = append(args, "--wrap-codes", tt.wrapCodes)
			code, stdout, stderr := run(args...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.wantStderr) {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s\nwant stderr with %q", code, tt.wantCode, stdout, stderr, tt.wantStderr)
			}
		})
	}
}
