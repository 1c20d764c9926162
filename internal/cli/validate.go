package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/ctibridge/ctibridge/internal/config"
)

func runValidate(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ctibridge validate CONFIG.json\n\nExits 0 when the config is usable (warnings are printed), 1 with every problem listed otherwise.")
	}
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	path := fs.Arg(0)
	cfg, err := config.Load(path)
	if err != nil {
		var cerr *config.Error
		if errors.As(err, &cerr) {
			fmt.Fprintf(stderr, "%s: %d problem(s):\n", path, len(cerr.Problems))
			for _, p := range cerr.Problems {
				fmt.Fprintf(stderr, "  %s\n", p)
			}
			return 1
		}
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		return 1
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stderr, "%s: warning: %s\n", path, w)
	}
	fmt.Fprintf(stdout, "%s: OK (%s, %s; %s; telephony: %s)\n",
		path, count(len(cfg.ScreenPop.Rules), "screen-pop rule", "screen-pop rules"), defaultRuleSummary(cfg),
		count(len(cfg.Entities), "entity", "entities"), sourceSummary(cfg))
	return 0
}

// sourceSummary says where the config's calls come from, and why.
func sourceSummary(cfg *config.Config) string {
	switch {
	case cfg.Telephony.Source != "":
		return cfg.Telephony.Source
	case cfg.EffectiveSource() != "":
		return cfg.EffectiveSource() + ", as the scripts load ipSCAPE's integration bundle"
	}
	return "not named, so the server's --telephony setting (default webhook)"
}

// count writes n with the noun in the number it needs: "1 entity", "3 entities".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func defaultRuleSummary(cfg *config.Config) string {
	if cfg.ScreenPop.Default != nil {
		return "plus the default"
	}
	return "no default"
}
