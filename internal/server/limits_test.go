package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ctibridge/ctibridge/internal/agent"
	"github.com/ctibridge/ctibridge/internal/telephony"
)

// shortLimits are the limits of these tests: the production ones, scaled
// down to fractions of a second.
var shortLimits = httpLimits{
	readHeader:    500 * time.Millisecond,
	read:          500 * time.Millisecond,
	write:         500 * time.Millisecond,
	idle:          500 * time.Millisecond,
	headerBytes:   defaultLimits.headerBytes,
	pendingBodies: 64 << 10,
}

// serveLimited runs a server for configPath with limits on a loopback port,
// with agent 1001 (PIN 1234), and returns its address (host:port).
func serveLimited(t *testing.T, configPath string, limits httpLimits) string {
	t.Helper()
	srv, err := New(context.Background(), testSettings(t, configPath), slog.New(slog.DiscardHandler), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Creds.Set(context.Background(), "1001", "1234", ""); err != nil {
		t.Fatal(err)
	}
	srv.setLimits(limits)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return ln.Addr().String()
}

// dial opens a raw TCP connection, closed when the test ends.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reports whether the server closes c within d, reading (and
// discarding) whatever it answers before closing.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true // EOF or reset: the server closed it
}

// stalledWebhook sends a signed-looking webhook request declaring a body of
// length bytes, and only the first few of them.
func stalledWebhook(t *testing.T, c net.Conn, length int) {
	t.Helper()
	ts, sig := telephony.Sign([]byte(testWebhookSecret), time.Now(), []byte("whatever"))
	fmt.Fprintf(c, "POST /api/v1/events HTTP/1.1\r\nHost: ctibridge\r\nContent-Type: application/json\r\n"+
		"X-Ctibridge-Timestamp: %s\r\nX-Ctibridge-Signature: %s\r\nContent-Length: %d\r\n\r\n[{\"id\":", ts, sig, length)
}

func TestStalledBodyIsCutOff(t *testing.T) {
	addr := serveLimited(t, testConfig, shortLimits)
	c := dial(t, addr)
	stalledWebhook(t, c, 1000)
	if !closedWithin(c, 5*time.Second) {
		t.Fatal("a webhook body that stalls is still open 5s later; the read timeout is 500ms")
	}
}

func TestStalledLoginIsCutOff(t *testing.T) {
	addr := serveLimited(t, testConfig, shortLimits)
	c := dial(t, addr)
	fmt.Fprintf(c, "POST /api/v1/sessions HTTP/1.1\r\nHost: ctibridge\r\nContent-Length: 100\r\n\r\n{\"agentId\":")
	if !closedWithin(c, 5*time.Second) {
		t.Fatal("a login body that stalls is still open 5s later; the read timeout is 500ms")
	}
}

func TestSlowHeadersAreCutOff(t *testing.T) {
	addr := serveLimited(t, testConfig, shortLimits)
	c := dial(t, addr)
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: ctibridge\r\n")
	if !closedWithin(c, 5*time.Second) {
		t.Fatal("headers that never end are still open 5s later")
	}
}

func TestIdleKeepAliveIsClosed(t *testing.T) {
	addr := serveLimited(t, testConfig, shortLimits)
	c := dial(t, addr)
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: ctibridge\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("healthz: %d, close %v; want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
	}
	if !closedWithin(c, 5*time.Second) {
		t.Fatal("an idle keep-alive connection is still open 5s later; the idle timeout is 500ms")
	}
}

// The agent's WebSocket idles for hours between calls: the HTTP timeouts
// must not close it. net/http clears the deadlines when the WebSocket takes
// the connection over.
func TestWebSocketOutlivesTheTimeouts(t *testing.T) {
	// The write timeout also bounds the login, whose PIN hash is slow
	// under the race detector: long enough for it, still slept past.
	limits := shortLimits
	limits.write = 3 * time.Second
	addr := serveLimited(t, testConfig, limits)
	resp, err := http.Post("http://"+addr+"/api/v1/sessions", "application/json", strings.NewReader(`{"agentId":"1001","pin":"1234"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if login.Token == "" {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/api/v1/ws",
		&websocket.DialOptions{Subprotocols: []string{agent.SubprotocolV1, agent.SubprotocolTokenPrefix + login.Token}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if _, _, err := ws.Read(ctx); err != nil { // hello
		t.Fatal(err)
	}

	time.Sleep(limits.write + limits.idle) // past every timeout: read, write and idle

	// A message without a type is answered: both directions still work.
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"ref":"r1"}`)); err != nil {
		t.Fatalf("write after idling past the timeouts: %v", err)
	}
	_, data, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("read after idling past the timeouts: %v", err)
	}
	if !strings.Contains(string(data), "bad_message") {
		t.Fatalf("reply %s, want a bad_message error", data)
	}
}

// Unauthenticated bodies together hold at most the budget: beyond it a
// request is answered 503 at once, and the budget is given back when the
// stalled request ends.
func TestPendingBodiesAreBounded(t *testing.T) {
	addr := serveLimited(t, testConfig, httpLimits{
		readHeader: 10 * time.Second, read: 10 * time.Second, write: 10 * time.Second, idle: 10 * time.Second,
		headerBytes: defaultLimits.headerBytes, pendingBodies: 64 << 10,
	})
	sent := 0
	post := func() (int, http.Header, string) {
		sent++ // a new body each time, so no request is a replay of another
		body := []byte(fmt.Sprintf(`{"id":"ev-%d","type":"callAlerting","timestamp":%q,"agentId":"1001","interaction":{"agentInteractionId":"IX-1","callType":"inbound","activity":{"customerCli":"+61299990000"}}}`,
			sent, time.Now().UTC().Format(time.RFC3339)))
		req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/events", strings.NewReader(string(body)))
		ts, sig := telephony.Sign([]byte(testWebhookSecret), time.Now(), body)
		req.Header.Set("X-Ctibridge-Timestamp", ts)
		req.Header.Set("X-Ctibridge-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(data)
	}

	stalled := dial(t, addr)
	stalledWebhook(t, stalled, 64<<10) // the whole budget
	// Let the server take it before anything else competes for the budget.
	stalled.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, _ := stalled.Read(make([]byte, 512)); n > 0 {
		t.Fatal("the stalled request was answered at once; it should hold the budget")
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		status, h, body := post()
		if status == http.StatusServiceUnavailable {
			if !strings.Contains(body, `"busy"`) || h.Get("Retry-After") == "" {
				t.Fatalf("over the budget: %d %s, Retry-After %q; want 503 busy with Retry-After", status, body, h.Get("Retry-After"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("with the body budget held by a stalled request, a webhook still got %d %s; want 503 busy", status, body)
		}
		time.Sleep(20 * time.Millisecond)
	}

	stalled.Close()
	deadline = time.Now().Add(3 * time.Second)
	for {
		status, _, body := post()
		if status == http.StatusAccepted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the stalled request ended: %d %s, want 202", status, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOversizedHeadersAreRefused(t *testing.T) {
	addr := serveLimited(t, testConfig, shortLimits)
	req, _ := http.NewRequest("GET", "http://"+addr+"/healthz", nil)
	req.Header.Set("X-Padding", strings.Repeat("a", 200<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("200 KiB of headers: %d, want 431", resp.StatusCode)
	}
}
