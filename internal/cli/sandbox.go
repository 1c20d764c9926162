package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ctibridge/ctibridge/internal/sandbox"
)

func runSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8090", "address to listen on (loopback)")
	db := fs.String("db", "sandbox.db", "SQLite file of the sandbox CRM (\"\" keeps it in memory)")
	columns := fs.String("columns", "new_wrapcode", "custom columns of phonecall and task, comma-separated (name or name:type)")
	key := fs.String("alternate-key", "new_agentinteractionid", "the interaction-id column, an alternate key of phonecall and task")
	clients := fs.String("clients", "", "OAuth2 clients of the token endpoint, id=secret,id=secret (with --require-auth)")
	requireAuth := fs.Bool("require-auth", false, "demand a bearer token from the token endpoint")
	seed := fs.Bool("seed", true, "seed an empty database with the demo data")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: ctibridge sandbox [flags]

Runs the embedded Dataverse-compatible sandbox CRM on its own: the part of the
Dynamics 365 Web API that ctibridge uses (contacts, accounts, leads, phone
calls and tasks), kept in SQLite, with an OAuth2 token endpoint. Point a
ctibridge serve (--dynamics-url) or another Dataverse client at it.
docs/sandbox.md compares it with Dataverse.

Flags:
`)
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args); done {
		return code
	}
	opts := sandbox.Options{Path: *db, AlternateKey: *key, RequireAuth: *requireAuth, Seed: *seed, Clients: map[string]string{}}
	for _, c := range strings.Split(*columns, ",") {
		if c = strings.TrimSpace(c); c != "" {
			opts.ExtraColumns = append(opts.ExtraColumns, c)
		}
	}
	for _, c := range strings.Split(*clients, ",") {
		if c = strings.TrimSpace(c); c == "" {
			continue
		}
		id, secret, ok := strings.Cut(c, "=")
		if !ok || id == "" || secret == "" {
			fmt.Fprintf(stderr, "ctibridge sandbox: --clients: %q is not id=secret\n", c)
			return 2
		}
		opts.Clients[id] = secret
	}
	sb, err := sandbox.Open(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "ctibridge sandbox:", err)
		return 1
	}
	defer sb.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, "ctibridge sandbox: --listen:", err)
		return 1
	}
	hs := &http.Server{Handler: sb.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(shutdown)
	}()
	fmt.Fprintf(stdout, "sandbox CRM at http://%s/api/data/v9.2/ (token endpoint http://%s/{tenant}/oauth2/v2.0/token)\n", ln.Addr(), ln.Addr())
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(stderr, "ctibridge sandbox:", err)
		return 1
	}
	return 0
}
