package agent

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// loginFrom runs one login through ServeLogin as if it came from addr.
func loginFrom(s *Sessions, addr, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/api/v1/sessions", strings.NewReader(body))
	r.RemoteAddr = addr
	w := httptest.NewRecorder()
	s.ServeLogin(w, r)
	return w
}

func TestLoginIsLimitedPerSourceAddress(t *testing.T) {
	_, _, _, srv := newTestSessions(t)
	// A fresh agent id on every attempt, as a sprayer sends them: the
	// per-id lockout never sees one twice.
	for i := range 100 {
		resp, err := http.Post(srv.URL+"/api/v1/sessions", "application/json",
			strings.NewReader(fmt.Sprintf(`{"agentId":"spray-%d","pin":"0000"}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			if s, _ := strconv.Atoi(resp.Header.Get("Retry-After")); s < 1 {
				t.Fatalf("429 with Retry-After %q, want whole seconds", resp.Header.Get("Retry-After"))
			}
			return
		}
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d = %d, want 401 or 429", i, resp.StatusCode)
		}
	}
	t.Fatal("100 attempts from one address with fresh ids were all hashed, want 429 before")
}

func TestLoginIsLimitedGlobally(t *testing.T) {
	s, _, _, _ := newTestSessions(t)
	// A frozen clock: under the race detector a hash is slower than the
	// global rate, which would refill faster than the test spends.
	now := time.Now()
	s.now = func() time.Time { return now }
	// Every attempt from its own address, so only a global limit stops them.
	for i := range globalBurst + 1 {
		w := loginFrom(s, fmt.Sprintf("10.%d.%d.1:4000", i/250, i%250), fmt.Sprintf(`{"agentId":"spray-%d","pin":"0000"}`, i))
		if w.Code == http.StatusTooManyRequests || w.Code == http.StatusServiceUnavailable {
			if w.Header().Get("Retry-After") == "" {
				t.Fatalf("%d without Retry-After", w.Code)
			}
			return
		}
	}
	t.Fatalf("%d attempts from as many addresses were all hashed, want a global limit", globalBurst+1)
}

func TestConcurrentPINHashingIsBounded(t *testing.T) {
	s, _, _, _ := newTestSessions(t)
	const n = 30
	var wg sync.WaitGroup
	start := make(chan struct{})
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() {
			<-start
			w := loginFrom(s, fmt.Sprintf("10.1.%d.1:4000", i), fmt.Sprintf(`{"agentId":"c-%d","pin":"0000"}`, i))
			codes[i] = w.Code
			if w.Code == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
		})
	}
	close(start)
	wg.Wait()
	for _, c := range codes {
		if c == http.StatusServiceUnavailable {
			return
		}
	}
	t.Fatalf("%d simultaneous logins all hashed at once (%v), want some refused with 503", n, codes)
}

func TestLockoutLastsAMinute(t *testing.T) {
	t.Parallel()
	s, _, _, _ := newTestSessions(t)
	for range 5 {
		loginFrom(s, "192.0.2.1:5000", `{"agentId":"1002","pin":"0000"}`)
	}
	// Today's limiter let one more guess through every 12 s.
	time.Sleep(12500 * time.Millisecond)
	w := loginFrom(s, "192.0.2.1:5000", `{"agentId":"1002","pin":"1234"}`)
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("attempt 12.5 s after 5 failures = %d, want 429 (locked for a minute)", w.Code)
	}
	if ra, _ := strconv.Atoi(w.Header().Get("Retry-After")); ra < 40 || ra > 60 {
		t.Fatalf("Retry-After = %q, want the ~47 s left of the minute", w.Header().Get("Retry-After"))
	}
}

func TestFailedLoginsAreLogged(t *testing.T) {
	s, _, _, _ := newTestSessions(t)
	var buf bytes.Buffer
	s.log = slog.New(slog.NewJSONHandler(&buf, nil))
	for range 2 {
		loginFrom(s, "192.0.2.7:5000", `{"agentId":"1002","pin":"9876"}`)
	}
	out := buf.String()
	for _, want := range []string{`"agent":"1002"`, `"source":"192.0.2.7"`, `"failures":2`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "9876") {
		t.Errorf("the PIN was logged:\n%s", out)
	}
}

func TestSprayingIDsNeverClearsALockout(t *testing.T) {
	g := newLoginGuard()
	g.maxIDs = 100
	now := time.Unix(1_700_000_000, 0)
	for range lockoutAfter {
		g.attempt("1002", now)
	}
	for range 3 {
		g.attempt("1003", now) // three failures: outlives one-failure ids
	}
	for i := range 100_000 {
		g.attempt(fmt.Sprintf("spray-%d", i), now)
	}
	if d := g.lockedFor("1002", now); d != firstLockout {
		t.Errorf("1002 locked for %v after 100,000 sprayed ids, want %v", d, firstLockout)
	}
	if r := g.ids["1003"]; r == nil || r.failures != 3 {
		t.Errorf("1003's 3 failures were evicted by one-failure ids: %+v", r)
	}
	if len(g.ids) > g.maxIDs+2 {
		t.Errorf("%d ids tracked, want at most %d", len(g.ids), g.maxIDs+2)
	}
}

func TestLockoutsGrowAndASuccessResetsThem(t *testing.T) {
	s, _, _, _ := newTestSessions(t)
	now := time.Unix(1_700_000_000, 0)
	s.now = func() time.Time { return now }
	try := func(pin string) *httptest.ResponseRecorder {
		return loginFrom(s, "192.0.2.1:5000", `{"agentId":"1002","pin":"`+pin+`"}`)
	}
	for i := range lockoutAfter {
		if w := try("0000"); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d = %d, want 401", i+1, w.Code)
		}
	}
	for _, lock := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour} {
		w := try("1234")
		if ra, _ := strconv.Atoi(w.Header().Get("Retry-After")); w.Code != http.StatusTooManyRequests || ra != int(lock.Seconds()) {
			t.Fatalf("during a %v lockout: %d Retry-After %q", lock, w.Code, w.Header().Get("Retry-After"))
		}
		now = now.Add(lock - time.Second)
		if w := try("1234"); w.Code != http.StatusTooManyRequests {
			t.Fatalf("a second before a %v lockout ends: %d, want 429", lock, w.Code)
		}
		now = now.Add(time.Second)
		if w := try("0000"); w.Code != http.StatusUnauthorized {
			t.Fatalf("after a %v lockout: %d, want the attempt checked (401)", lock, w.Code)
		}
	}
	now = now.Add(time.Hour)
	if w := try("1234"); w.Code != http.StatusOK {
		t.Fatalf("right PIN after the lockout = %d", w.Code)
	}
	for range lockoutAfter - 1 {
		try("0000")
	}
	if w := try("1234"); w.Code != http.StatusOK {
		t.Fatalf("after a success the count starts again: %d", w.Code)
	}
}

func TestSourceOf(t *testing.T) {
	trusted, err := ParseTrustedProxies("127.0.0.1, 10.0.0.0/8,::1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, addr string
		xff        []string
		trusted    []netip.Prefix
		want       string
	}{
		{"IPv4", "192.0.2.1:5000", nil, nil, "192.0.2.1/32"},
		{"IPv4-mapped IPv6", "[::ffff:192.0.2.1]:5000", nil, nil, "192.0.2.1/32"},
		{"IPv6 is its /64", "[2001:db8:1:2:3:4:5:6]:443", nil, nil, "2001:db8:1:2::/64"},
		{"X-Forwarded-For is ignored without trusted proxies", "127.0.0.1:5000", []string{"203.0.113.9"}, nil, "127.0.0.1/32"},
		{"X-Forwarded-For from an untrusted peer is ignored", "192.0.2.1:5000", []string{"203.0.113.9"}, trusted, "192.0.2.1/32"},
		{"a trusted proxy names the client", "127.0.0.1:5000", []string{"203.0.113.9"}, trusted, "203.0.113.9/32"},
		{"the rightmost untrusted hop, not what the client wrote", "127.0.0.1:5000", []string{"198.51.100.1, 203.0.113.9", "10.1.2.3"}, trusted, "203.0.113.9/32"},
		{"a trusted proxy without X-Forwarded-For", "[::1]:5000", nil, trusted, "::/64"},
		{"a garbled hop stops the walk", "127.0.0.1:5000", []string{"203.0.113.9, nonsense, 10.0.0.7"}, trusted, "10.0.0.7/32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sourceOf(tt.addr, tt.xff, tt.trusted).String(); got != tt.want {
				t.Fatalf("sourceOf(%q, %q) = %s, want %s", tt.addr, tt.xff, got, tt.want)
			}
		})
	}
	if _, err := ParseTrustedProxies("127.0.0.1,proxy.local"); err == nil || !strings.Contains(err.Error(), `"proxy.local"`) {
		t.Errorf("ParseTrustedProxies of a host name = %v, want an error naming it", err)
	}
}

func TestLoginsThroughATrustedProxyAreLimitedPerClient(t *testing.T) {
	s, _, _, _ := newTestSessions(t)
	s.TrustedProxies, _ = ParseTrustedProxies("127.0.0.1")
	now := time.Now()
	s.now = func() time.Time { return now }
	from := func(client string, i int) int {
		r := httptest.NewRequest("POST", "/api/v1/sessions", strings.NewReader(fmt.Sprintf(`{"agentId":"x-%s-%d","pin":"0000"}`, client, i)))
		r.RemoteAddr = "127.0.0.1:40000"
		r.Header.Set("X-Forwarded-For", client)
		w := httptest.NewRecorder()
		s.ServeLogin(w, r)
		return w.Code
	}
	for i := range sourceBurst {
		from("203.0.113.9", i)
	}
	if code := from("203.0.113.9", sourceBurst); code != http.StatusTooManyRequests {
		t.Fatalf("client over its limit = %d, want 429", code)
	}
	if code := from("198.51.100.1", 0); code != http.StatusUnauthorized {
		t.Fatalf("another client behind the same proxy = %d, want its attempt checked (401)", code)
	}
}
