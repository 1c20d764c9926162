package loadtest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/sandbox"
	"github.com/ctibridge/ctibridge/internal/sandbox/sandboxtest"
	"github.com/ctibridge/ctibridge/internal/server"
)

// TestProfileServerUnderLoad runs the load against a server and sandbox in
// this process and writes CPU, block, mutex and heap profiles, to show
// where the server's time and memory go. It is a harness, not a test: it
// runs only with CTILOAD_PROFILE set to the directory for the profiles
// (CTILOAD_AGENTS, CTILOAD_RATE and CTILOAD_DURATION change the load):
//
//	CTILOAD_PROFILE=/tmp/prof go test -run ProfileServerUnderLoad -timeout 20m ./internal/loadtest
//	go tool pprof -top /tmp/prof/block.pprof
//	go tool trace /tmp/prof/trace.out
//
// Memory and CPU per process mean nothing here (the tool shares the
// process); use cmd/ctiload for those.
func TestProfileServerUnderLoad(t *testing.T) {
	dir := os.Getenv("CTILOAD_PROFILE")
	if dir == "" {
		t.Skip("a profiling harness: set CTILOAD_PROFILE=DIR to run it")
	}
	agents, rate, duration := envInt(t, "CTILOAD_AGENTS", 5000), envInt(t, "CTILOAD_RATE", 500), 30*time.Second
	if d := os.Getenv("CTILOAD_DURATION"); d != "" {
		var err error
		if duration, err = time.ParseDuration(d); err != nil {
			t.Fatalf("CTILOAD_DURATION: %v", err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	const secret, key = "profile-webhook-secret-0123456789abcdef", "profile-session-key-0123456789abcdef0123"
	_, crm := sandboxtest.NewTestServer(t, sandbox.Options{
		Path:         filepath.Join(t.TempDir(), "sandbox.db"),
		ExtraColumns: []string{"new_wrapcode"}, AlternateKey: "new_agentinteractionid",
		Clients: map[string]string{clientID: "profile-secret"}, RequireAuth: true, Seed: true,
	})
	configPath, _, err := prepareConfig(t.TempDir(), "", true)
	if err != nil {
		t.Fatal(err)
	}
	s := server.DefaultSettings()
	s.ConfigPath, s.StorePath = configPath, filepath.Join(t.TempDir(), "store.db")
	s.Telephony, s.WebhookSecret, s.SessionKey = "webhook", secret, key
	s.OrgURL, s.ClientID, s.ClientSecret = crm.URL, clientID, "profile-secret"
	s.TokenURL = crm.URL + "/" + tenant + "/oauth2/v2.0/token"
	srv, err := server.New(context.Background(), s, slog.New(slog.NewTextHandler(io.Discard, nil)), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()

	runtime.SetBlockProfileRate(int(10 * time.Microsecond))
	runtime.SetMutexProfileFraction(10)
	cpu, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		t.Fatal(err)
	}
	// The heap with every widget connected and idle, before any event:
	// what a connection costs.
	go func() {
		for srv.Hub.Connections() < agents {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond)
		runtime.GC()
		if f, err := os.Create(filepath.Join(dir, "heap-idle.pprof")); err == nil {
			pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
		// An execution trace of 5s of events, well into the run, shows
		// what a webhook request waits for: the scheduler, GC, the store.
		time.Sleep(2*time.Second + duration/2)
		if f, err := os.Create(filepath.Join(dir, "trace.out")); err == nil {
			if trace.Start(f) == nil {
				time.Sleep(5 * time.Second)
				trace.Stop()
			}
			f.Close()
		}
	}()
	rep, err := Run(context.Background(), Options{
		Agents: agents, EventsPerSecond: float64(rate), Duration: duration,
		Ring: time.Second, Talk: 3 * time.Second, WrapAfter: 500 * time.Millisecond,
		ServerURL: "http://" + ln.Addr().String(), WebhookSecret: secret, SessionKey: key,
		SandboxURL: crm.URL, SandboxClient: clientID + "=profile-secret",
		Workers: 128, ConnectParallel: 64, Settle: 2 * time.Second, Drain: time.Minute,
		Progress: testWriter{t},
	})
	pprof.StopCPUProfile()
	cpu.Close()
	for _, name := range []string{"block", "mutex", "heap", "goroutine"} {
		f, ferr := os.Create(filepath.Join(dir, name+".pprof"))
		if ferr != nil {
			t.Fatal(ferr)
		}
		pprof.Lookup(name).WriteTo(f, 0)
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "report.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep.WriteTable(f)
	t.Logf("profiles and report in %s", dir)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}
