package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ctibridge/ctibridge/internal/demo"
	"github.com/ctibridge/ctibridge/internal/server"
	"github.com/ctibridge/ctibridge/internal/telephony"
)

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	s := server.DefaultSettings()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	envErr := s.Bind(fs, os.Getenv)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ctibridge serve --config CONFIG.json [flags]\n\nEvery flag can also be set by the environment variable in brackets; see docs/deploy.md.")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if envErr != nil {
		fmt.Fprintln(stderr, "ctibridge serve:", envErr)
		return 2
	}
	log := newLogger(s.LogLevel, stderr)
	srv, err := server.New(ctx, s, log, server.Options{})
	if err != nil {
		fmt.Fprintln(stderr, "ctibridge serve:", err)
		return 1
	}
	defer srv.Close()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			if err := srv.Reload(); err != nil {
				log.Error("config reload", "err", err)
			}
		}
	}()
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "ctibridge serve:", err)
		return 1
	}
	return 0
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "", "address to listen on (default 127.0.0.1:8080, or any free port when it is taken)")
	dir := fs.String("dir", "", "keep the demo's config, store and sandbox CRM here (default: a temporary directory removed on exit)")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	sip := fs.Bool("sip", false, "real SIP calls instead of the simulator: start Kamailio on loopback, give each agent's softphone a SIP account and serve a customer phone page that calls them (Debian: apt-get install kamailio kamailio-websocket-modules)")
	sipPort := fs.Int("sip-port", 0, "Kamailio's WebSocket port on 127.0.0.1 with --sip (default: a free port)")
	pace := telephony.DemoTiming()
	fs.DurationVar(&pace.TalkTime, "talk-time", pace.TalkTime, "how long a simulated call talks before the customer hangs up (0: until Hang up on the demo page)")
	fs.DurationVar(&pace.WrapTime, "wrap-time", pace.WrapTime, "how long the agent has to wrap a simulated call before it is wrapped with the auto-wrap code (0: no limit)")
	fs.DurationVar(&pace.RingTime, "ring-time", pace.RingTime, "how long a simulated call rings before it connects (0: at once)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: ctibridge demo [flags]

Runs ctibridge end to end on localhost with nothing external: the sandbox CRM
(Dataverse-compatible, seeded with demo contacts, accounts and leads), the
call simulator and the adapter, and prints the URL of a page that stands in
for Dynamics 365, with the agent widget in its CIF panel. Log in to the widget
as agent 1001 with PIN 1234, then place calls with the page's buttons.

Simulated calls keep a contact centre's pace: each rings for --ring-time,
talks for --talk-time and then the customer hangs up, and a call the agent has
not wrapped within --wrap-time is wrapped with the auto-wrap code. The demo
page counts both down.

Flags:
`)
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args); done {
		return code
	}
	for name, d := range map[string]time.Duration{"--talk-time": pace.TalkTime, "--wrap-time": pace.WrapTime, "--ring-time": pace.RingTime} {
		if d < 0 {
			fmt.Fprintf(stderr, "ctibridge demo: %s %s: give a duration of 0 or more\n", name, d)
			return 2
		}
	}
	opts := demo.Options{Listen: *listen, Dir: *dir, Log: newLogger(*logLevel, stderr), Timing: &pace}
	if *sip {
		opts.Telephony, opts.SIP.Port = "sip", *sipPort
	}
	d, err := demo.Start(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "ctibridge demo:", err)
		return 1
	}
	fmt.Fprintf(stdout, "ctibridge demo running at %s/demo/\n", d.BaseURL)
	if d.SIP != nil {
		fmt.Fprintf(stdout, "  log in to the widget as agent %s with PIN %s: its softphone registers as SIP user %s.\n", demo.Agents[0].ID, demo.Agents[0].PIN, d.SIP.Agents[demo.Agents[0].ID].User)
		fmt.Fprintf(stdout, "  then call the agent from the customer phone: %s/demo/phone.html\n", d.BaseURL)
		fmt.Fprintf(stdout, "  Kamailio: %s (log %s)\n", d.SIP.Kamailio.WSURL(), d.SIP.Kamailio.LogPath())
	} else {
		fmt.Fprintf(stdout, "  log in to the widget as agent %s with PIN %s, then place a call with the buttons.\n", demo.Agents[0].ID, demo.Agents[0].PIN)
	}
	fmt.Fprintf(stdout, "  sandbox CRM Web API: %s/api/data/v9.2/   metrics: %s/metrics\n", d.BaseURL, d.BaseURL)
	fmt.Fprintln(stdout, "  press Ctrl-C to stop.")
	if err := d.Serve(ctx); err != nil {
		fmt.Fprintln(stderr, "ctibridge demo:", err)
		return 1
	}
	return 0
}
