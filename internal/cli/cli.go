// Package cli implements ctibridge's subcommands.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// command is one subcommand: it parses its own flags from args.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() map[string]command {
	return map[string]command{
		"validate":  {"check a config file and list every problem", runValidate},
		"provision": {"create the columns and alternate key the config needs in Dynamics", runProvision},
		"pop":       {"print the screen pop and CRM writes for one event", runPop},
		"serve":     {"run the adapter", runServe},
		"demo":      {"run the adapter with the sandbox CRM and simulated calls on localhost", runDemo},
		"sandbox":   {"run the embedded Dataverse-compatible sandbox CRM on its own", runSandbox},
		"agent":     {"manage agent logins (agent set ID PIN)", runAgent},
	}
}

// Run runs the subcommand named by args[0] and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout, cmds)
		return 0
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ctibridge: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for name := range cmds {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("Usage: ctibridge COMMAND [flags]\n\nCommands:\n")
	for _, name := range names {
		fmt.Fprintf(&b, "  %-9s %s\n", name, cmds[name].summary)
	}
	b.WriteString("\nRun \"ctibridge COMMAND -h\" for a command's flags.\n")
	io.WriteString(w, b.String())
}

// parseFlags parses a command's flags. Asking for help (-h, --help) is not
// an error: the usage goes out and the command exits 0. Any other problem
// was already printed by the flag package, with the usage: exit 2.
func parseFlags(fs *flag.FlagSet, args []string) (code int, done bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		return 0, true
	}
	return 2, true
}
