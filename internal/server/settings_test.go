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

func TestOutboxBatchSetting(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		args    []string
		want    int
		errSays string
	}{
		{name: "default", want: 100},
		{name: "from the environment", env: "1", want: 1},
		{name: "the flag wins", env: "1", args: []string{"--outbox-batch", "250"}, want: 250},
		{name: "Dataverse's limit", args: []string{"--outbox-batch", "1000"}, want: 1000},
		{name: "over Dataverse's limit", args: []string{"--outbox-batch", "1001"}, want: 1001, errSays: "--outbox-batch (CTIBRIDGE_OUTBOX_BATCH): 1001; use 1 (no batching) to 1000"},
		{name: "zero", env: "0", want: 0, errSays: "--outbox-batch (CTIBRIDGE_OUTBOX_BATCH): 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := settingsFrom(t, "CTIBRIDGE_OUTBOX_BATCH", tt.env, tt.args)
			if s.OutboxBatch != tt.want {
				t.Errorf("OutboxBatch = %d, want %d", s.OutboxBatch, tt.want)
			}
			checkValidation(t, err, tt.errSays)
		})
	}
}

func TestOutboxRetentionSetting(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		args    []string
		want    time.Duration
		errSays string
	}{
		{name: "default: a week", want: 7 * 24 * time.Hour},
		{name: "from the environment", env: "720h", want: 720 * time.Hour},
		{name: "the flag wins", env: "720h", args: []string{"--outbox-retention", "48h"}, want: 48 * time.Hour},
		{name: "too short", args: []string{"--outbox-retention", "10m"}, want: 10 * time.Minute, errSays: "--outbox-retention (CTIBRIDGE_OUTBOX_RETENTION): 10m0s; keep written writes at least 1h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := settingsFrom(t, "CTIBRIDGE_OUTBOX_RETENTION", tt.env, tt.args)
			if s.OutboxRetention != tt.want {
				t.Errorf("OutboxRetention = %v, want %v", s.OutboxRetention, tt.want)
			}
			checkValidation(t, err, tt.errSays)
		})
	}
}
