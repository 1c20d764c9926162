// Command ctibridge connects a contact-centre telephony platform to
// Microsoft Dynamics 365 through the Channel Integration Framework.
// Run "ctibridge help" for its subcommands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ctibridge/ctibridge/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
