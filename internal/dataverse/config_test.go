package dataverse

import (
	"strings"
	"testing"
	"time"
)

func TestNewValidatesConfig(t *testing.T) {
	valid := Config{OrgURL: "https://contoso.crm6.dynamics.com", TenantID: "contoso.onmicrosoft.com", ClientID: "app", ClientSecret: "secret"}
	tests := []struct {
		name   string
		modify func(*Config)
		// want lists what the error must say; empty means New succeeds.
		want []string
	}{
		{name: "valid with credentials", modify: func(*Config) {}},
		{name: "valid without credentials", modify: func(c *Config) { *c = Config{OrgURL: "http://127.0.0.1:8080"} }},
		{name: "valid with a token URL instead of a tenant", modify: func(c *Config) { c.TenantID, c.TokenURL = "", "http://localhost:9999/t/oauth2/v2.0/token" }},
		{name: "missing org URL", modify: func(c *Config) { c.OrgURL = "" }, want: []string{"OrgURL: empty"}},
		{name: "relative org URL", modify: func(c *Config) { c.OrgURL = "contoso.crm.dynamics.com" }, want: []string{"OrgURL:", "not an absolute URL"}},
		{name: "plain http to a remote org", modify: func(c *Config) { c.OrgURL = "http://contoso.crm.dynamics.com" }, want: []string{"OrgURL:", "must use https"}},
		{name: "org URL with the API path", modify: func(c *Config) { c.OrgURL = "https://contoso.crm.dynamics.com/api/data/v9.2" }, want: []string{"OrgURL:", "includes the Web API path"}},
		{name: "org URL with credentials", modify: func(c *Config) { c.OrgURL = "https://u:pw@contoso.crm.dynamics.com" }, want: []string{"OrgURL:", "user credentials"}},
		{name: "secret without client id", modify: func(c *Config) { c.ClientID = "" }, want: []string{"ClientID: missing while TenantID, ClientSecret is set"}},
		{name: "tenant alone", modify: func(c *Config) { c.ClientID, c.ClientSecret = "", "" }, want: []string{"ClientID, ClientSecret: missing while TenantID is set"}},
		{name: "tenant that would change the token URL", modify: func(c *Config) { c.TenantID = "../evil" }, want: []string{"TenantID:", "not a tenant id"}},
		{name: "token URL over plain http to a remote host", modify: func(c *Config) { c.TokenURL = "http://login.example.com/t/token" }, want: []string{"TokenURL:", "must use https"}},
		{name: "scope without credentials", modify: func(c *Config) { *c = Config{OrgURL: "https://x.crm.dynamics.com", Scope: "https://x/.default"} }, want: []string{"TokenURL or Scope is set"}},
		{name: "negative concurrency", modify: func(c *Config) { c.MaxConcurrency = -1 }, want: []string{"MaxConcurrency: -1"}},
		{name: "negative attempts", modify: func(c *Config) { c.MaxAttempts = -2 }, want: []string{"MaxAttempts: -2"}},
		{name: "backoff cap below base", modify: func(c *Config) { c.BaseBackoff, c.MaxBackoff = time.Second, time.Millisecond }, want: []string{"MaxBackoff: 1ms is below BaseBackoff 1s"}},
		{name: "page size above Dataverse's limit", modify: func(c *Config) { c.PageSize = 5001 }, want: []string{"PageSize: 5001"}},
		{
			name:   "every problem at once",
			modify: func(c *Config) { c.OrgURL, c.MaxAttempts, c.PageSize = "", -1, -1 },
			want:   []string{"OrgURL:", "MaxAttempts:", "PageSize:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.modify(&cfg)
			_, err := New(cfg)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New succeeded, want an error saying %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), cfg.ClientSecret+"\"") {
				t.Errorf("error %q shows a credential", err)
			}
		})
	}
}

func TestDerivedSettings(t *testing.T) {
	tests := []struct {
		name                           string
		cfg                            Config
		wantRoot, wantToken, wantScope string
		wantAuth                       bool
	}{
		{
			name:      "Entra defaults from tenant and org",
			cfg:       Config{OrgURL: "https://contoso.crm6.dynamics.com/", TenantID: "11111111-2222-3333-4444-555555555555", ClientID: "a", ClientSecret: "s"},
			wantRoot:  "https://contoso.crm6.dynamics.com/api/data/v9.2/",
			wantToken: "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/oauth2/v2.0/token",
			wantScope: "https://contoso.crm6.dynamics.com/.default",
			wantAuth:  true,
		},
		{
			name:      "overrides for a sandbox mounted under a path",
			cfg:       Config{OrgURL: "http://127.0.0.1:7000/crm", TokenURL: "http://127.0.0.1:7000/t/oauth2/v2.0/token", Scope: "api://sandbox/.default", ClientID: "a", ClientSecret: "s"},
			wantRoot:  "http://127.0.0.1:7000/crm/api/data/v9.2/",
			wantToken: "http://127.0.0.1:7000/t/oauth2/v2.0/token",
			wantScope: "api://sandbox/.default",
			wantAuth:  true,
		},
		{
			name:     "no credentials",
			cfg:      Config{OrgURL: "http://localhost:8080"},
			wantRoot: "http://localhost:8080/api/data/v9.2/",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if c.APIRoot() != tt.wantRoot {
				t.Errorf("APIRoot = %q, want %q", c.APIRoot(), tt.wantRoot)
			}
			if (c.tokens != nil) != tt.wantAuth {
				t.Fatalf("auth = %v, want %v", c.tokens != nil, tt.wantAuth)
			}
			if c.tokens == nil {
				return
			}
			if c.tokens.cfg.TokenURL != tt.wantToken || strings.Join(c.tokens.cfg.Scopes, " ") != tt.wantScope {
				t.Errorf("token URL %q scope %q, want %q %q", c.tokens.cfg.TokenURL, c.tokens.cfg.Scopes, tt.wantToken, tt.wantScope)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := New(Config{OrgURL: "https://contoso.crm.dynamics.com"})
	if err != nil {
		t.Fatal(err)
	}
	s := c.s
	if s.maxConcurrency != 16 || cap(c.sem) != 16 || s.maxAttempts != 5 || s.baseBackoff != 250*time.Millisecond || s.maxBackoff != 30*time.Second {
		t.Errorf("defaults = %+v", s)
	}
	if s.httpClient.Timeout != DefaultRequestTimeout || s.httpClient.CheckRedirect == nil {
		t.Error("the default HTTP client has no timeout or follows redirects")
	}
}
