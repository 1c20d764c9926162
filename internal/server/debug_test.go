package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestProfilesAreServedOnlyOnTheDebugListener(t *testing.T) {
	h := newHarness(t, sampleConfig)
	h.shutdown()
	h.settings.DebugListen = "127.0.0.1:0"
	h.start()

	debugURL := "http://" + waitForLoggedAddr(t, h, "profiles listening") + "/debug/pprof/"
	status, body := get(t, debugURL)
	if status != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Fatalf("GET %s: %d %.200q, want 200 with the profile index", debugURL, status, body)
	}
	if status, _ := get(t, h.url+"/debug/pprof/"); status != http.StatusNotFound {
		t.Errorf("the public listener answered /debug/pprof/ with %d, want 404", status)
	}

	h.shutdown()
	if _, err := http.Get(debugURL); err == nil {
		t.Error("the debug listener still answers after the server stopped")
	}
}

// waitForLoggedAddr returns the addr of the first log line with msg.
func waitForLoggedAddr(t *testing.T, h *harness, msg string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for line := range strings.SplitSeq(h.logs.String(), "\n") {
			var entry struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == msg {
				return entry.Addr
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %q line in the log:\n%s", msg, h.logs.String())
	return ""
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
