package cli

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/telephony"
)

// lockedBuffer collects a server's log from its goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServe runs "ctibridge serve" with args until the returned stop is
// called, once /healthz answers.
func startServe(t *testing.T, base string, args ...string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() { done <- Run(ctx, append([]string{"serve"}, args...), &bytes.Buffer{}, &stderr) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("serve exited %d:\n%s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not answer:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d:\n%s", code, stderr.String())
		}
	}
}

func TestServeRefusesAReplayCapturedBeforeARestart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	const secret = "replay-test-webhook-secret-0123456789abcdef"
	args := []string{"--config", "../../testdata/sample.json", "--store", filepath.Join(t.TempDir(), "ctibridge.db"),
		"--listen", addr, "--webhook-secret", secret, "--log-level", "error"}
	base := "http://" + addr
	body := []byte(`{"id":"evt-1","type":"callAlerting","agentId":"1001","interaction":{"agentInteractionId":"IX-R1","callType":"inbound"}}`)
	ts, sig := telephony.Sign([]byte(secret), time.Now(), body)
	send := func() (int, string) {
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/events", bytes.NewReader(body))
		req.Header.Set(telephony.TimestampHeader, ts)
		req.Header.Set(telephony.SignatureHeader, sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var reply bytes.Buffer
		reply.ReadFrom(resp.Body)
		return resp.StatusCode, reply.String()
	}

	stop := startServe(t, base, args...)
	if status, reply := send(); status != http.StatusAccepted {
		t.Fatalf("first delivery: %d %s", status, reply)
	}
	stop()

	stop = startServe(t, base, args...)
	defer stop()
	status, reply := send()
	if status != http.StatusUnauthorized || !strings.Contains(reply, `"replayed"`) {
		t.Fatalf("the same signed request after a restart: %d %s, want 401 replayed", status, reply)
	}
}

func TestServeExitsNonZeroWhenThePostgreSQLStoreCannotBeReached(t *testing.T) {
	// A socket directory with no server in it: the connection is refused.
	url := "postgres://ctibridge:s3cret@/ctibridge?host=" + t.TempDir()
	code, _, stderr := run("serve", "--config", "../../testdata/sample.json", "--listen", "127.0.0.1:0",
		"--telephony", "simulator", "--store", url, "--session-key", strings.Repeat("k", 32))
	if code != 1 || !strings.Contains(stderr, "cannot reach PostgreSQL") || strings.Contains(stderr, "s3cret") {
		t.Fatalf("exit %d, stderr %q; want 1 and a message saying PostgreSQL cannot be reached, without the password", code, stderr)
	}
}

func TestServeRequiresASessionKeyWithAPostgreSQLStore(t *testing.T) {
	code, _, stderr := run("serve", "--config", "../../testdata/sample.json", "--telephony", "simulator",
		"--store", "postgres://ctibridge@db.example/ctibridge")
	if code == 0 || !strings.Contains(stderr, "--session-key") {
		t.Fatalf("exit %d, stderr %q; want a refusal naming --session-key", code, stderr)
	}
}
