package server

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctibridge/ctibridge/internal/config"
)

// sipTestConfig is the sample config with the SIP source, whose softphone
// connects to ws://127.0.0.1:5066.
func sipTestConfig(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(testConfig)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["telephony"] = map[string]any{"source": "sip", "sip": map[string]any{"server": "ws://127.0.0.1:5066", "domain": "ctibridge.test"}}
	out, _ := json.Marshal(cfg)
	path := filepath.Join(t.TempDir(), "sip.json")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

func TestWidgetPageSecurityHeaders(t *testing.T) {
	addr := serveLimited(t, sipTestConfig(t), defaultLimits)
	resp, _ := get(t, "http://"+addr+"/widget")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /widget: %d", resp.StatusCode)
	}
	csp := map[string]string{}
	for d := range strings.SplitSeq(resp.Header.Get("Content-Security-Policy"), ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		csp[name] = value
	}
	tests := []struct{ name, got, want string }{
		{"frame-ancestors: the page's origin and Dynamics (scripts[0].dataset.crmurl)", csp["frame-ancestors"], "'self' https://contoso.crm6.dynamics.com"},
		{"script-src: the page's origin and scripts[0].src's", csp["script-src"], "'self' https://contoso.crm6.dynamics.com"},
		{"connect-src: also telephony.sip.server", csp["connect-src"], "'self' https://contoso.crm6.dynamics.com ws://127.0.0.1:5066"},
		{"object-src", csp["object-src"], "'none'"},
		{"base-uri", csp["base-uri"], "'none'"},
		{"X-Content-Type-Options", resp.Header.Get("X-Content-Type-Options"), "nosniff"},
		{"Referrer-Policy", resp.Header.Get("Referrer-Policy"), "same-origin"},
		// CIF frames the page: DENY or SAMEORIGIN would blank the panel.
		{"X-Frame-Options", resp.Header.Get("X-Frame-Options"), ""},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestEveryResponseIsNosniff(t *testing.T) {
	addr := serveLimited(t, testConfig, defaultLimits)
	for _, path := range []string{"/healthz", "/widget/widget.js", "/api/v1/ws", "/nothing-here"} {
		resp, _ := get(t, "http://"+addr+path)
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q, want nosniff", path, got)
		}
		if got := resp.Header.Get("Referrer-Policy"); got != referrerPolicy {
			t.Errorf("GET %s: Referrer-Policy %q, want %q", path, got, referrerPolicy)
		}
	}
}

func TestNoDirectoryListings(t *testing.T) {
	addr := serveLimited(t, testConfig, defaultLimits)
	tests := []struct {
		path   string
		status int
	}{
		{"/widget/", http.StatusNotFound},
		{"/widget/providers/", http.StatusNotFound},
		{"/widget/providers", http.StatusNotFound},
		{"/vendor/", http.StatusNotFound},
		{"/vendor/jssip/", http.StatusNotFound},
		{"/widget/widget.js", http.StatusOK},
		{"/widget/providers/sip.mjs", http.StatusOK},
		{"/vendor/jssip/jssip.min.mjs", http.StatusOK},
	}
	for _, tt := range tests {
		resp, body := get(t, "http://"+addr+tt.path)
		if resp.StatusCode != tt.status {
			t.Errorf("GET %s: %d, want %d", tt.path, resp.StatusCode, tt.status)
		}
		if strings.Contains(body, "<pre>") || strings.Contains(body, `href="`) {
			t.Errorf("GET %s lists a directory:\n%s", tt.path, body)
		}
	}
}

func TestCSPOrigin(t *testing.T) {
	tests := []struct {
		name, url string
		schemes   []string
		want      string
	}{
		{"https with path", "https://Contoso.crm6.dynamics.com/webresources/x.js", []string{"https", "http"}, "https://contoso.crm6.dynamics.com"},
		{"port kept", "http://127.0.0.1:8080/x", []string{"https", "http"}, "http://127.0.0.1:8080"},
		{"wss", "wss://pbx.example.com:8089/ws", []string{"wss", "ws"}, "wss://pbx.example.com:8089"},
		{"scheme not allowed", "javascript:alert(1)", []string{"https", "http"}, ""},
		{"relative", "/widget/x.js", []string{"https", "http"}, ""},
		{"empty", "", []string{"https", "http"}, ""},
		{"placeholder", "https://<instance>.ipscape.com.au/x.js", []string{"https", "http"}, ""},
		{"directive injected", "https://a.example;script-src%20*/x.js", []string{"https", "http"}, ""},
		{"wildcard", "https://*.example.com/x.js", []string{"https", "http"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cspOrigin(tt.url, tt.schemes...); got != tt.want {
				t.Errorf("cspOrigin(%q) = %q, want %q", tt.url, got, tt.want)
			}
		})
	}
}

// A script the config loads from another origin may run, connect and frame;
// frame-ancestors holds only the Dynamics origins.
func TestWidgetCSPScripts(t *testing.T) {
	cfg := &config.Config{Scripts: []config.Script{
		{Src: "https://org.crm.dynamics.com/webresources/Widget/msdyn_ciLibrary.js", Dataset: map[string]string{"crmurl": "https://org.crm.dynamics.com"}},
		{Src: "https://cdn.ipscape.example/ips-dynamics-integration.v1.min.js"},
		{Src: "https://org.crm.dynamics.com/other.js", Dataset: map[string]string{"crmurl": "https://org.crm.dynamics.com"}},
	}}
	csp := widgetCSP(cfg)
	for _, want := range []string{
		"script-src 'self' https://org.crm.dynamics.com https://cdn.ipscape.example;",
		"connect-src 'self' https://org.crm.dynamics.com https://cdn.ipscape.example;",
		"frame-ancestors 'self' https://org.crm.dynamics.com",
	} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.HasSuffix(csp, "https://cdn.ipscape.example") {
		t.Errorf("CSP %q lets the script origin frame the page", csp)
	}
}
