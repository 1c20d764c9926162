package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/tenant"
)

func runProvision(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("provision", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dyn dynamicsFlags
	dyn.bind(fs)
	dryRun := fs.Bool("dry-run", false, "only print what would be created")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ctibridge provision CONFIG.json --dynamics-url URL [--tenant-id ID --client-id ID --client-secret SECRET] [--dry-run]\n\nCreates the columns and the alternate key the config's options.fields name and the environment lacks,\nprinting each step. It never changes or deletes what exists, so it can run again. docs/deploy.md has the manual steps.")
		fs.PrintDefaults()
	}
	path, code, done := parseWithPositional(fs, args)
	if done {
		return code
	}
	if dyn.url == "" {
		fmt.Fprintln(stderr, "ctibridge provision: --dynamics-url (or CTIBRIDGE_DYNAMICS_URL) is required")
		return 2
	}
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n(run ctibridge validate %s for every problem)\n", path, err, path)
		return 1
	}
	client, err := dyn.client()
	if err != nil {
		fmt.Fprintln(stderr, "ctibridge provision:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := tenant.Provision(ctx, client, cfg, *dryRun, stdout); err != nil {
		fmt.Fprintln(stderr, "ctibridge provision:", err)
		return 1
	}
	return 0
}
