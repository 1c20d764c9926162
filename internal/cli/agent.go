package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/ctibridge/ctibridge/internal/agent"
	"github.com/ctibridge/ctibridge/internal/store"
)

func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	storePath := fs.String("store", "ctibridge.db", "the store of the ctibridge serve that agents log in to ($CTIBRIDGE_STORE)")
	name := fs.String("name", "", "the agent's display name")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ctibridge agent [--store FILE] [--name NAME] set AGENT_ID PIN\n\nCreates the agent's widget login, or changes its PIN.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 3 || fs.Arg(0) != "set" {
		fs.Usage()
		return 2
	}
	db, err := store.Open(ctx, *storePath)
	if err != nil {
		fmt.Fprintln(stderr, "ctibridge agent:", err)
		return 1
	}
	defer db.Close()
	if err := agent.NewCredentials(db).Set(ctx, fs.Arg(1), fs.Arg(2), *name); err != nil {
		fmt.Fprintln(stderr, "ctibridge agent:", err)
		return 1
	}
	fmt.Fprintf(stdout, "agent %s can log in\n", fs.Arg(1))
	return 0
}
