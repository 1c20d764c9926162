package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/dataverse"
	"github.com/ctibridge/ctibridge/internal/server"
	"github.com/ctibridge/ctibridge/internal/tenant"
)

// dynamicsFlags are the settings that reach a Dynamics environment, with
// serve's flag names and environment variables.
type dynamicsFlags struct {
	url, tenantID, clientID, clientSecret, tokenURL, wrapCodes string
}

func (d *dynamicsFlags) bind(fs *flag.FlagSet) {
	env := func(name, def string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&d.url, "dynamics-url", env("CTIBRIDGE_DYNAMICS_URL", ""), "check the config against this Dynamics environment's table definitions, e.g. https://contoso.crm6.dynamics.com ($CTIBRIDGE_DYNAMICS_URL)")
	fs.StringVar(&d.tenantID, "tenant-id", env("CTIBRIDGE_TENANT_ID", ""), "Entra ID tenant id ($CTIBRIDGE_TENANT_ID)")
	fs.StringVar(&d.clientID, "client-id", env("CTIBRIDGE_CLIENT_ID", ""), "application (client) id of the application user ($CTIBRIDGE_CLIENT_ID)")
	fs.StringVar(&d.clientSecret, "client-secret", env("CTIBRIDGE_CLIENT_SECRET", ""), "its client secret; prefer the environment variable ($CTIBRIDGE_CLIENT_SECRET)")
	fs.StringVar(&d.tokenURL, "token-url", env("CTIBRIDGE_TOKEN_URL", ""), "override the Entra ID token endpoint ($CTIBRIDGE_TOKEN_URL)")
	fs.StringVar(&d.wrapCodes, "wrap-codes", env("CTIBRIDGE_WRAP_CODES", server.DefaultSettings().WrapCodes), "the wrap codes agents pick, code=Label,code=Label, as serve takes them ($CTIBRIDGE_WRAP_CODES)")
}

func (d *dynamicsFlags) client() (*dataverse.Client, error) {
	return dataverse.New(dataverse.Config{OrgURL: d.url, TenantID: d.tenantID, ClientID: d.clientID,
		ClientSecret: d.clientSecret, TokenURL: d.tokenURL, MaxAttempts: 3})
}

func (d *dynamicsFlags) parsedWrapCodes() ([]tenant.WrapCode, error) {
	s := server.Settings{WrapCodes: d.wrapCodes}
	codes, err := s.ParseWrapCodes()
	out := make([]tenant.WrapCode, len(codes))
	for i, wc := range codes {
		out[i] = tenant.WrapCode{Code: wc.Code, Label: wc.Label}
	}
	return out, err
}

// parseWithPositional parses flags given before and after one positional
// argument (validate CONFIG --dynamics-url ...), which flag alone stops at.
func parseWithPositional(fs *flag.FlagSet, args []string) (positional string, code int, done bool) {
	if code, done := parseFlags(fs, args); done {
		return "", code, true
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return "", 2, true
	}
	positional = fs.Arg(0)
	if code, done := parseFlags(fs, fs.Args()[1:]); done {
		return "", code, true
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return "", 2, true
	}
	return positional, 0, false
}

func runValidate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dyn dynamicsFlags
	dyn.bind(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ctibridge validate CONFIG.json [--dynamics-url URL --tenant-id ID --client-id ID --client-secret SECRET]\n\nExits 0 when the config is usable (warnings are printed), 1 with every problem listed otherwise.\nWith --dynamics-url it also checks the config against the environment's table definitions.")
		fs.PrintDefaults()
	}
	path, code, done := parseWithPositional(fs, args)
	if done {
		return code
	}
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
	if dyn.url != "" {
		if code := validateAgainstTenant(ctx, path, cfg, &dyn, stdout, stderr); code != 0 {
			return code
		}
	}
	fmt.Fprintf(stdout, "%s: OK (%s, %s; %s; telephony: %s)\n",
		path, count(len(cfg.ScreenPop.Rules), "screen-pop rule", "screen-pop rules"), defaultRuleSummary(cfg),
		count(len(cfg.Entities), "entity", "entities"), sourceSummary(cfg))
	return 0
}

func validateAgainstTenant(ctx context.Context, path string, cfg *config.Config, dyn *dynamicsFlags, stdout, stderr io.Writer) int {
	codes, err := dyn.parsedWrapCodes()
	if err != nil {
		fmt.Fprintln(stderr, "ctibridge validate:", err)
		return 2
	}
	client, err := dyn.client()
	if err != nil {
		fmt.Fprintln(stderr, "ctibridge validate:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res, err := tenant.Check(ctx, client, cfg, codes)
	if err != nil {
		fmt.Fprintf(stderr, "%s: could not read %s's table definitions: %v\n", path, dyn.url, err)
		return 1
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "%s: warning: %s\n", path, w)
	}
	if !res.OK() {
		fmt.Fprintf(stderr, "%s: %d problem(s) against %s:\n", path, len(res.Errors), dyn.url)
		for _, p := range res.Errors {
			fmt.Fprintf(stderr, "  %s\n", p)
		}
		return 1
	}
	if res.Tenant != nil {
		fmt.Fprintf(stdout, "%s: fits %s\n", path, dyn.url)
	}
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
