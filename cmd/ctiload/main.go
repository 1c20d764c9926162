// Command ctiload load-tests ctibridge: it connects simulated agent widgets
// over WebSocket, drives signed telephony events through the webhook, and
// reports latency, throughput, memory, CPU and Dataverse requests (HTTP
// requests, a $batch once, and the operations they carried), against a
// bare relay baseline; with --fault it kills and restarts the server
// while the CRM throttles, and counts the activities left. See
// docs/benchmarks.md, section "Load (cmd/ctiload)".
//
//	ctiload --ctibridge /tmp/ctibridge --agents 5000 --rate 500 --duration 60s
//	ctiload --ctibridge /tmp/ctibridge --fault --agents 1000 --rate 300 --duration 60s
//	ctiload relay --listen 127.0.0.1:9000     (the baseline relay on its own)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ctibridge/ctibridge/internal/loadtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "relay" {
		return runRelay(ctx, args[1:], stderr)
	}
	fs := flag.NewFlagSet("ctiload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opt := loadtest.Options{}
	fs.IntVar(&opt.Agents, "agents", 5000, "simulated agent widgets connected at once")
	fs.Float64Var(&opt.EventsPerSecond, "rate", 500, "webhook events per second (a call is 3 events: alerting, started, hangup)")
	fs.DurationVar(&opt.Duration, "duration", 60*time.Second, "how long calls are placed")
	fs.DurationVar(&opt.Ring, "ring", time.Second, "callAlerting → callStarted")
	fs.DurationVar(&opt.Talk, "talk", 3*time.Second, "callStarted → callHangup")
	fs.DurationVar(&opt.WrapAfter, "wrap-after", 500*time.Millisecond, "hangup → the widget's wrap")
	fs.StringVar(&opt.Ctibridge, "ctibridge", "", "ctibridge binary: spawn the sandbox and the server on free loopback ports (go build -o /tmp/ctibridge ./cmd/ctibridge)")
	fs.StringVar(&opt.Config, "config", "", "config of the spawned server, or of the server at --url (default: the reference config)")
	fs.BoolVar(&opt.AlternateKey, "alternate-key", true, "keep the config's fields.agentInteractionId; false makes activities plain creates guarded by the outbox alone")
	fs.StringVar(&opt.Dir, "dir", "", "directory for the spawned processes' store, CRM and logs (default: a temporary one)")
	fs.BoolVar(&opt.Keep, "keep", false, "keep the temporary directory")
	fs.StringVar(&opt.ServerURL, "url", "", "a ctibridge already running (loopback), instead of --ctibridge")
	fs.StringVar(&opt.WebhookSecret, "webhook-secret", os.Getenv("CTIBRIDGE_WEBHOOK_SECRET"), "with --url: its webhook secret ($CTIBRIDGE_WEBHOOK_SECRET)")
	fs.StringVar(&opt.SessionKey, "session-key", os.Getenv("CTIBRIDGE_SESSION_KEY"), "with --url: its session key, to mint widget tokens ($CTIBRIDGE_SESSION_KEY)")
	fs.IntVar(&opt.ServerPID, "server-pid", 0, "with --url: its pid, to read its memory and CPU")
	fs.StringVar(&opt.SandboxURL, "sandbox-url", "", "with --url: the sandbox CRM it writes to, to count requests and activities")
	fs.StringVar(&opt.SandboxClient, "sandbox-client", "", "with --sandbox-url: id=secret of a client, when the sandbox requires a token")
	fs.BoolVar(&opt.Baseline, "baseline", true, "run the bare relay first and report the latency ratio")
	fs.BoolVar(&opt.Fault, "fault", false, "fault run: CRM throttling and SIGKILL restarts, then count the activities (needs --ctibridge)")
	fs.Float64Var(&opt.ThrottleRate, "throttle-rate", 0.1, "fault run: fraction of Dataverse requests answered 429")
	fs.Float64Var(&opt.UnavailableRate, "unavailable-rate", 0.05, "fault run: fraction answered 503")
	fs.IntVar(&opt.RetryAfter, "retry-after", 1, "fault run: Retry-After seconds of a 429")
	fs.IntVar(&opt.Restarts, "restarts", 4, "fault run: times the server is killed with SIGKILL and restarted")
	fs.DurationVar(&opt.RestartDown, "restart-down", time.Second, "fault run: how long the server stays down")
	fs.DurationVar(&opt.CRMLatency, "crm-latency", 0, "answer every Dataverse request after this long, as a remote Dataverse takes (e.g. 100ms); the outbox then batches")
	fs.IntVar(&opt.Workers, "workers", 128, "webhook requests in flight at most")
	fs.IntVar(&opt.ConnectParallel, "connect-parallel", 64, "widgets connecting at once")
	fs.DurationVar(&opt.Settle, "settle", 3*time.Second, "idle time with every widget connected before memory is read")
	fs.DurationVar(&opt.Drain, "drain", 2*time.Minute, "longest wait after the last event for calls to complete and the outbox to empty")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	jsonOut := fs.String("json-out", "", "also write the JSON report to this file")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ctiload [flags]\n\nLoad-tests ctibridge; see docs/benchmarks.md, \"Load (cmd/ctiload)\".")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ctiload: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if opt.Fault {
		// The fault run is about the CRM's content; the latency baseline
		// means nothing while the server is being killed.
		opt.Baseline = false
	}
	if opt.Baseline {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(stderr, "ctiload: find my own binary for the relay:", err)
			return 1
		}
		opt.RelayCommand = []string{exe, "relay"}
	}
	if !*quiet {
		opt.Progress = stderr
	}
	rep, err := loadtest.Run(ctx, opt)
	if rep != nil {
		write := rep.WriteTable
		if *asJSON {
			write = rep.WriteJSON
		}
		if werr := write(stdout); werr != nil && err == nil {
			err = werr
		}
		if *jsonOut != "" {
			if werr := writeJSONFile(*jsonOut, rep); werr != nil && err == nil {
				err = werr
			}
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "ctiload:", err)
		return 1
	}
	for _, t := range rep.Targets {
		if !t.Met {
			return 3
		}
	}
	return 0
}

func writeJSONFile(path string, rep *loadtest.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--json-out: %w", err)
	}
	if err := rep.WriteJSON(f); err != nil {
		f.Close()
		return fmt.Errorf("--json-out: %w", err)
	}
	return f.Close()
}

// runRelay serves the bare relay until interrupted.
func runRelay(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("ctiload relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9000", "loopback address to listen on")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if host, _, err := net.SplitHostPort(*listen); err != nil || (host != "localhost" && net.ParseIP(host) == nil) || (host != "localhost" && !net.ParseIP(host).IsLoopback()) {
		fmt.Fprintf(stderr, "ctiload relay: --listen %q: use a loopback address such as 127.0.0.1:9000\n", *listen)
		return 2
	}
	if _, err := loadtest.RaiseFileLimit(1 << 20); err != nil {
		fmt.Fprintln(stderr, "ctiload relay: raise the open-file limit:", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, "ctiload relay: --listen:", err)
		return 1
	}
	hs := &http.Server{Handler: loadtest.NewRelay().Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(stderr, "ctiload relay:", err)
		return 1
	}
	return 0
}
