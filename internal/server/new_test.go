package server

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/telephony"
)

const (
	testConfig        = "../../testdata/sample.json"
	testWebhookSecret = "internal-test-webhook-secret-0123456789"
	testSessionKey    = "internal-test-session-key-0123456789abcdef"
)

func testSettings(t *testing.T, configPath string) Settings {
	t.Helper()
	s := DefaultSettings()
	s.ConfigPath = configPath
	s.StorePath = filepath.Join(t.TempDir(), "ctibridge.db")
	s.WebhookSecret = testWebhookSecret
	s.SessionKey = testSessionKey
	return s
}

// A failed New leaves no store open.
func TestNewClosesTheStoreOnError(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("needs /proc/self/fd to see open files")
	}
	s := testSettings(t, testConfig)
	s.Telephony = "simulator"
	// Options are not settings, so they are refused only once the store is open.
	bad := Options{SimulatorOptions: telephony.SimulatorOptions{Timing: telephony.Timing{RingTime: -time.Second}}}
	if _, err := New(context.Background(), s, slog.New(slog.DiscardHandler), bad); err == nil {
		t.Fatal("New accepted a negative simulator ring time")
	}
	if _, err := os.Stat(s.StorePath); err != nil {
		t.Fatalf("the store was never opened, so this test shows nothing: %v", err)
	}
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, fd := range fds {
		target, _ := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if strings.HasPrefix(target, s.StorePath) {
			t.Errorf("after New failed, %s is still open", target)
		}
	}
}
