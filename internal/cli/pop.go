package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ctibridge/ctibridge/internal/activity"
	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/interaction"
	"github.com/ctibridge/ctibridge/internal/screenpop"
)

// popOutput is what "ctibridge pop" prints.
type popOutput struct {
	ScreenPop   *screenpop.Decision `json:"screenPop"`
	Transitions []popTransition     `json:"transitions"`
	Writes      []activity.Write    `json:"writes"`
	Call        *interaction.Call   `json:"call"`
	Warnings    []string            `json:"warnings,omitempty"`
}

type popTransition struct {
	Event      string                 `json:"event"`
	Transition interaction.Transition `json:"transition"`
}

func runPop(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "the config JSON (required)")
	region := fs.String("phone-region", "AU", "region for phone numbers without a country code, when the config sets no phoneRegion")
	var events multiFlag
	fs.Var(&events, "event", "an event JSON file (required; repeat for a call's events in order: the pop comes from the first)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ctibridge pop --config CONFIG.json --event EVENT.json [--event NEXT.json ...]\n\nPrints the screen-pop decision and the CRM writes the events imply, as JSON.")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if missing := missingPopFlags(*cfgPath, events); missing != "" {
		fmt.Fprintf(stderr, "ctibridge pop: %s\n\n", missing)
		fs.Usage()
		return 2
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		var cerr *config.Error
		if errors.As(err, &cerr) {
			fmt.Fprintf(stderr, "%s: %d problem(s):\n", *cfgPath, len(cerr.Problems))
			for _, p := range cerr.Problems {
				fmt.Fprintf(stderr, "  %s\n", p)
			}
		} else {
			fmt.Fprintf(stderr, "%s: %v\n", *cfgPath, err)
		}
		return 1
	}
	engine, err := screenpop.New(cfg, *region)
	if err != nil {
		fmt.Fprintln(stderr, "ctibridge pop:", err)
		return 1
	}
	out := popOutput{Call: &interaction.Call{}, Writes: []activity.Write{}}
	for _, w := range cfg.Warnings {
		out.Warnings = append(out.Warnings, w.String())
	}
	for i, path := range events {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(stderr, "ctibridge pop:", err)
			return 1
		}
		ev, err := interaction.DecodeEvent(data)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", path, err)
			return 1
		}
		if i == 0 {
			if out.ScreenPop, err = engine.Decide(ev); err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", path, err)
				return 1
			}
		}
		t, err := out.Call.Apply(ev)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", path, err)
			return 1
		}
		out.Transitions = append(out.Transitions, popTransition{Event: path, Transition: t})
		out.Writes = append(out.Writes, activity.PlanTransition(cfg, out.Call, t, activity.Selection{}).Writes...)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(stderr, "ctibridge pop:", err)
		return 1
	}
	return 0
}

type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// missingPopFlags names the required flags pop was not given, "" when
// both are there.
func missingPopFlags(cfgPath string, events []string) string {
	switch {
	case cfgPath == "" && len(events) == 0:
		return "--config and --event are required"
	case cfgPath == "":
		return "--config is required: the config JSON the events are decided with"
	case len(events) == 0:
		return "--event is required: an event JSON file (repeat it for a call's events in order)"
	}
	return ""
}
