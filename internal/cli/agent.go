package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ctibridge/ctibridge/internal/agent"
	"github.com/ctibridge/ctibridge/internal/store"
)

const agentUsage = `Usage:
  ctibridge agent [--store FILE] [--name NAME] set AGENT_ID PIN
      Creates the agent's widget login, or changes its PIN. Changing it
      ends the agent's sessions: its widgets ask for the new PIN.
  ctibridge agent [--store FILE] remove AGENT_ID
      Removes the agent's PIN (and SIP account): it can no longer log in,
      and its sessions end.
  ctibridge agent [--store FILE] sip AGENT_ID --user SIP_USER [--auth-user USER] [--display-name NAME] --password-file FILE|-
      Stores the agent's account on the SIP server, which the widget's
      softphone registers with (telephony source "sip"). The password is read
      from FILE, or from standard input with "-", so that it never shows in
      the process list or the shell's history.
  ctibridge agent [--store FILE] sip AGENT_ID --remove
      Removes the agent's SIP account.
`

func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	storePath := fs.String("store", envOr("CTIBRIDGE_STORE", "ctibridge.db"), "the store of the ctibridge serve that agents log in to ($CTIBRIDGE_STORE)")
	name := fs.String("name", "", "the agent's display name")
	fs.Usage = func() {
		fmt.Fprint(stderr, agentUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args); done {
		return code
	}
	switch {
	case fs.NArg() == 3 && fs.Arg(0) == "set":
		return withStore(ctx, *storePath, stderr, func(creds *agent.Credentials) error {
			if err := creds.Set(ctx, fs.Arg(1), fs.Arg(2), *name); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "agent %s can log in; sessions opened before have ended\n", fs.Arg(1))
			return nil
		})
	case fs.NArg() == 2 && fs.Arg(0) == "remove":
		return withStore(ctx, *storePath, stderr, func(creds *agent.Credentials) error {
			if err := creds.Remove(ctx, fs.Arg(1)); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "agent %s can no longer log in; its sessions have ended\n", fs.Arg(1))
			return nil
		})
	case fs.NArg() >= 2 && fs.Arg(0) == "sip":
		return runAgentSIP(ctx, *storePath, fs.Arg(1), fs.Args()[2:], stdout, stderr)
	}
	fs.Usage()
	return 2
}

func runAgentSIP(ctx context.Context, storePath, agentID string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent sip", flag.ContinueOnError)
	fs.SetOutput(stderr)
	user := fs.String("user", "", "the agent's SIP user: sip:USER@telephony.sip.domain")
	authUser := fs.String("auth-user", "", "the digest authentication user, when the SIP server's differs from --user")
	displayName := fs.String("display-name", "", "the name shown to the people the agent calls")
	passwordFile := fs.String("password-file", "", `file holding the SIP password on its first line, or "-" for standard input`)
	remove := fs.Bool("remove", false, "remove the agent's SIP account")
	fs.Usage = func() {
		fmt.Fprint(stderr, agentUsage+"\nFlags of agent sip:\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() != 0 {
		// Not echoed: it may well be the password.
		fmt.Fprintln(stderr, "ctibridge agent sip: unexpected argument after the flags: give the password with --password-file, never on the command line")
		return 2
	}
	var acc agent.SIPAccount
	switch {
	case *remove:
	case *user == "":
		fmt.Fprintln(stderr, "ctibridge agent sip: --user is required (or --remove)")
		return 2
	case *passwordFile == "":
		fmt.Fprintln(stderr, `ctibridge agent sip: --password-file is required: a file holding the password, or "-" to read it from standard input`)
		return 2
	default:
		password, err := readPassword(*passwordFile)
		if err != nil {
			fmt.Fprintln(stderr, "ctibridge agent sip: --password-file:", err)
			return 1
		}
		acc = agent.SIPAccount{User: *user, AuthUser: *authUser, Password: password, DisplayName: *displayName}
	}
	return withStore(ctx, storePath, stderr, func(creds *agent.Credentials) error {
		if err := creds.SetSIP(ctx, agentID, acc); err != nil {
			return err
		}
		if *remove {
			fmt.Fprintf(stdout, "agent %s has no SIP account\n", agentID)
		} else {
			fmt.Fprintf(stdout, "agent %s registers as SIP user %s\n", agentID, acc.User)
		}
		return nil
	})
}

// readPassword reads the first line of path, or of standard input for "-".
func readPassword(path string) (string, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("the password is empty")
	}
	return line, nil
}

func withStore(ctx context.Context, path string, stderr io.Writer, fn func(*agent.Credentials) error) int {
	db, err := store.Open(ctx, path)
	if err != nil {
		fmt.Fprintln(stderr, "ctibridge agent:", err)
		return 1
	}
	defer db.Close()
	if err := fn(agent.NewCredentials(db)); err != nil {
		fmt.Fprintln(stderr, "ctibridge agent:", err)
		return 1
	}
	return 0
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
