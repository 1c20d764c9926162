package server_test

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"

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
	s.ConfigPath, s.WebhookSecret = "ctibridge.json", "secret"
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
