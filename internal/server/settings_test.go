package server_test

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/server"
)

// settingsFrom binds the serve settings to args and to an environment
// holding only envName=envValue, and returns them with Validate's answer
// (config and webhook secret set, as Validate requires).
func settingsFrom(t *testing.T, envName, envValue string, args []string) (server.Settings, error) {
	t.Helper()
	s := server.DefaultSettings()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	getenv := func(k string) string {
		if k == envName {
			return envValue
		}
		return ""
	}
	if err := s.Bind(fs, getenv); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	s.ConfigPath, s.WebhookSecret = "ctibridge.json", "0123456789abcdef0123456789abcdef"
	return s, s.Validate()
}

// checkValidation fails t unless err says errSays (or is nil when errSays
// is empty).
func checkValidation(t *testing.T, err error, errSays string) {
	t.Helper()
	switch {
	case errSays == "" && err != nil:
		t.Errorf("Validate: %v", err)
	case errSays != "" && (err == nil || !strings.Contains(err.Error(), errSays)):
		t.Errorf("Validate: %v, want it to say %q", err, errSays)
	}
}

// settingCase is one way of giving a setting, and what it comes to.
type settingCase[T comparable] struct {
	name    string
	env     string   // the setting's environment variable
	args    []string // the command line
	want    T
	errSays string // what Validate says; empty: nothing
}

// checkSetting runs each case: the setting's value (of) and Validate's
// answer after binding envName=env and the args.
func checkSetting[T comparable](t *testing.T, envName string, of func(server.Settings) T, cases []settingCase[T]) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			s, err := settingsFrom(t, envName, tt.env, tt.args)
			if got := of(s); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			checkValidation(t, err, tt.errSays)
		})
	}
}

func TestOutboxBatchSetting(t *testing.T) {
	checkSetting(t, "CTIBRIDGE_OUTBOX_BATCH", func(s server.Settings) int { return s.OutboxBatch }, []settingCase[int]{
		{name: "default", want: 100},
		{name: "from the environment", env: "1", want: 1},
		{name: "the flag wins", env: "1", args: []string{"--outbox-batch", "250"}, want: 250},
		{name: "Dataverse's limit", args: []string{"--outbox-batch", "1000"}, want: 1000},
		{name: "over Dataverse's limit", args: []string{"--outbox-batch", "1001"}, want: 1001, errSays: "--outbox-batch (CTIBRIDGE_OUTBOX_BATCH): 1001; use 1 (no batching) to 1000"},
		{name: "zero", env: "0", want: 0, errSays: "--outbox-batch (CTIBRIDGE_OUTBOX_BATCH): 0"},
	})
}

func TestOutboxRetentionSetting(t *testing.T) {
	checkSetting(t, "CTIBRIDGE_OUTBOX_RETENTION", func(s server.Settings) time.Duration { return s.OutboxRetention }, []settingCase[time.Duration]{
		{name: "default: a week", want: 7 * 24 * time.Hour},
		{name: "from the environment", env: "720h", want: 720 * time.Hour},
		{name: "the flag wins", env: "720h", args: []string{"--outbox-retention", "48h"}, want: 48 * time.Hour},
		{name: "too short", args: []string{"--outbox-retention", "10m"}, want: 10 * time.Minute, errSays: "--outbox-retention (CTIBRIDGE_OUTBOX_RETENTION): 10m0s; keep written writes at least 1h"},
	})
}

func TestDebugListenSetting(t *testing.T) {
	checkSetting(t, "CTIBRIDGE_DEBUG_LISTEN", func(s server.Settings) string { return s.DebugListen }, []settingCase[string]{
		{name: "off by default"},
		{name: "from the environment", env: "127.0.0.1:6060", want: "127.0.0.1:6060"},
		{name: "localhost", args: []string{"--debug-listen", "localhost:6060"}, want: "localhost:6060"},
		{name: "IPv6 loopback", args: []string{"--debug-listen", "[::1]:6060"}, want: "[::1]:6060"},
		{name: "every interface", args: []string{"--debug-listen", ":6060"}, want: ":6060", errSays: `--debug-listen (CTIBRIDGE_DEBUG_LISTEN): ":6060" is not a loopback address`},
		{name: "a public address", env: "10.1.2.3:6060", want: "10.1.2.3:6060", errSays: `"10.1.2.3:6060" is not a loopback address`},
		{name: "no port", args: []string{"--debug-listen", "127.0.0.1"}, want: "127.0.0.1", errSays: `"127.0.0.1" is not host:port`},
	})
}

func TestTelephonySourceComesFromTheConfigThenTheSetting(t *testing.T) {
	parse := func(t *testing.T, json string) *config.Config {
		t.Helper()
		cfg, err := config.Parse([]byte(json))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	const sip = `{"telephony": {"source": "sip", "sip": {"server": "ws://127.0.0.1:5066", "domain": "ctibridge.test"}}}`
	const bundle = `{"scripts": [{"src": "https://developer.onipscape.com/integrations/v8/dynamics/ips-dynamics-integration.v8.1.0.min.js"}]}`
	tests := []struct {
		name, config, setting, secret, want, wantErr string
	}{
		{name: "nothing named: the webhook", config: `{}`, secret: "s", want: "webhook"},
		{name: "the webhook needs its secret", config: `{}`, wantErr: "--webhook-secret (CTIBRIDGE_WEBHOOK_SECRET): is required"},
		{name: "the setting when the config names none", config: `{}`, setting: "simulator", want: "simulator"},
		{name: "the config's source", config: sip, want: "sip"},
		{name: "the same source twice", config: sip, setting: "sip", want: "sip"},
		{name: "ipSCAPE's bundle makes an ipSCAPE config", config: bundle, want: "ipscape"},
		{name: "a setting that contradicts the config", config: bundle, setting: "webhook", secret: "s", wantErr: "--telephony (CTIBRIDGE_TELEPHONY) webhook contradicts the config's telephony source ipscape"},
		{name: "sip from the setting without the config's sip block", config: `{}`, setting: "sip", wantErr: "the config has no telephony.sip block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := server.DefaultSettings()
			s.Telephony, s.WebhookSecret = tt.setting, tt.secret
			got, err := s.TelephonySource(parse(t, tt.config))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("TelephonySource = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestWebhookSecretsAreAtLeast32Bytes(t *testing.T) {
	const strong, other = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
	for _, tt := range []struct {
		name, secret, errSays string
	}{
		{name: "none: no webhook", secret: ""},
		{name: "one of 32 bytes", secret: strong},
		{name: "rotation: two of 32 bytes", secret: strong + ", " + other},
		{name: "one short", secret: "secret", errSays: "--webhook-secret (CTIBRIDGE_WEBHOOK_SECRET): secret 1 of the comma-separated list is 6 bytes; use at least 32 random bytes"},
		{name: "31 bytes", secret: strong[:31], errSays: "secret 1 of the comma-separated list is 31 bytes"},
		{name: "the previous one short", secret: strong + ",old", errSays: "secret 2 of the comma-separated list is 3 bytes"},
		{name: "an empty one after a comma", secret: strong + ",", errSays: "secret 2 of the comma-separated list is 0 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := server.DefaultSettings()
			s.ConfigPath, s.WebhookSecret = "ctibridge.json", tt.secret
			checkValidation(t, s.Validate(), tt.errSays)
		})
	}
}

func TestTrustedProxiesMustParse(t *testing.T) {
	s := server.DefaultSettings()
	s.ConfigPath, s.TrustedProxies = "x.json", "127.0.0.1,not-an-address"
	err := s.Validate()
	if err == nil || !strings.Contains(err.Error(), "--trusted-proxies (CTIBRIDGE_TRUSTED_PROXIES)") {
		t.Fatalf("Validate = %v, want an error naming --trusted-proxies", err)
	}
}

func TestImpersonateAgentsNeedsServerWrites(t *testing.T) {
	serverWrites := []string{"--dynamics-url", "https://contoso.crm.dynamics.com", "--client-id", "app", "--client-secret", "s", "--tenant-id", "t"}
	checkSetting(t, "CTIBRIDGE_IMPERSONATE_AGENTS", func(s server.Settings) bool { return s.ImpersonateAgents }, []settingCase[bool]{
		{name: "off by default"},
		{name: "with server writes", env: "true", args: serverWrites, want: true},
		{name: "without: the widgets write through CIF as the agent already", env: "true", want: true,
			errSays: "--impersonate-agents (CTIBRIDGE_IMPERSONATE_AGENTS): needs server writes"},
	})
}
