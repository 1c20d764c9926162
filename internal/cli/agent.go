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
	"time"

	"github.com/ctibridge/ctibridge/internal/agent"
	"github.com/ctibridge/ctibridge/internal/dataverse"
	"github.com/ctibridge/ctibridge/internal/store"
)

const agentUsage = `Usage:
  ctibridge agent [--store FILE] [--name NAME] set AGENT_ID PIN [--dynamics-user USER]
      Creates the agent's widget login, or changes its PIN. Changing it
      ends the agent's sessions: its widgets ask for the new PIN. With
      --dynamics-user, also sets the Dynamics user (see dynamics-user).
  ctibridge agent [--store FILE] dynamics-user AGENT_ID USER
  ctibridge agent [--store FILE] dynamics-user AGENT_ID --remove
      Sets (or removes) the Dynamics 365 user the agent's activities are
      written as with serve --impersonate-agents, leaving the PIN alone.
      USER is a sign-in name (alex@contoso.com), a systemuserid or an
      Entra object id; it is looked up through the Web API, so the
      Dataverse settings of serve are needed: --dynamics-url, --client-id,
      --client-secret, --tenant-id (or their CTIBRIDGE_ variables).
  ctibridge agent [--store FILE] remove AGENT_ID
      Removes the agent's PIN (SIP account and Dynamics user): it can no
      longer log in, and its sessions end.
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
	dynamicsUser := fs.String("dynamics-user", "", "with set: the Dynamics user the agent writes as (sign-in name, systemuserid or Entra object id)")
	remove := fs.Bool("remove", false, "with dynamics-user: remove the agent's Dynamics user")
	var dv dataverseFlags
	dv.bind(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, agentUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args); done {
		return code
	}
	positional := fs.Args()
	if len(positional) > 0 && (positional[0] == "set" || positional[0] == "dynamics-user") {
		// Flags may follow the arguments: set 1001 PIN --dynamics-user X.
		var err error
		if positional, err = parseInterleaved(fs, positional); err != nil {
			return 2
		}
	}
	switch {
	case len(positional) == 0:
	case len(positional) == 3 && positional[0] == "set":
		agentID, pin := positional[1], positional[2]
		var user agent.DynamicsUser
		if *dynamicsUser != "" {
			// Looked up before anything is stored: an unknown user changes
			// nothing, the PIN included.
			var err error
			if user, err = dv.findUser(ctx, *dynamicsUser); err != nil {
				fmt.Fprintln(stderr, "ctibridge agent: --dynamics-user:", err)
				return 1
			}
		}
		return withStore(ctx, *storePath, stderr, func(creds *agent.Credentials) error {
			if err := creds.Set(ctx, agentID, pin, *name); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "agent %s can log in; sessions opened before have ended\n", agentID)
			if user.SystemUserID == "" {
				return nil
			}
			if err := creds.SetDynamicsUser(ctx, agentID, user); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "agent %s writes as Dynamics user %s (systemuserid %s)\n", agentID, user.Name, user.SystemUserID)
			return nil
		})
	case positional[0] == "dynamics-user" && (len(positional) == 3 && !*remove || len(positional) == 2 && *remove):
		agentID := positional[1]
		var user agent.DynamicsUser
		if !*remove {
			var err error
			if user, err = dv.findUser(ctx, positional[2]); err != nil {
				fmt.Fprintln(stderr, "ctibridge agent dynamics-user:", err)
				return 1
			}
		}
		return withStore(ctx, *storePath, stderr, func(creds *agent.Credentials) error {
			if err := creds.SetDynamicsUser(ctx, agentID, user); err != nil {
				return err
			}
			if *remove {
				fmt.Fprintf(stdout, "agent %s has no Dynamics user: with --impersonate-agents it cannot log in\n", agentID)
			} else {
				fmt.Fprintf(stdout, "agent %s writes as Dynamics user %s (systemuserid %s); calls already started keep theirs\n", agentID, user.Name, user.SystemUserID)
			}
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
	if err := fn(agent.NewCredentials(store.NewAgents(db))); err != nil {
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

// parseInterleaved parses fs's flags wherever they stand among args and
// returns the other arguments, in order.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) > 0 {
			positional = append(positional, args[0])
			args = args[1:]
		}
	}
	return positional, nil
}

// dataverseFlags are serve's Dataverse settings, which looking up a
// Dynamics user needs.
type dataverseFlags struct {
	orgURL, tenantID, clientID, clientSecret, tokenURL *string
}

func (d *dataverseFlags) bind(fs *flag.FlagSet) {
	d.orgURL = fs.String("dynamics-url", os.Getenv("CTIBRIDGE_DYNAMICS_URL"), "Dynamics org URL, as serve's ($CTIBRIDGE_DYNAMICS_URL)")
	d.tenantID = fs.String("tenant-id", os.Getenv("CTIBRIDGE_TENANT_ID"), "Entra ID tenant id ($CTIBRIDGE_TENANT_ID)")
	d.clientID = fs.String("client-id", os.Getenv("CTIBRIDGE_CLIENT_ID"), "application (client) id of the application user ($CTIBRIDGE_CLIENT_ID)")
	d.clientSecret = fs.String("client-secret", os.Getenv("CTIBRIDGE_CLIENT_SECRET"), "its client secret (prefer $CTIBRIDGE_CLIENT_SECRET)")
	d.tokenURL = fs.String("token-url", os.Getenv("CTIBRIDGE_TOKEN_URL"), "override the Entra ID token endpoint ($CTIBRIDGE_TOKEN_URL)")
}

// findUser looks nameOrID up through the Web API, as the application user
// serve writes as: the user must exist, be enabled, and be the only match.
func (d *dataverseFlags) findUser(ctx context.Context, nameOrID string) (agent.DynamicsUser, error) {
	if *d.orgURL == "" || *d.clientID == "" || *d.clientSecret == "" {
		return agent.DynamicsUser{}, errors.New("looking the user up needs serve's Dataverse settings: --dynamics-url, --client-id, --client-secret and --tenant-id (or CTIBRIDGE_DYNAMICS_URL, CTIBRIDGE_CLIENT_ID, CTIBRIDGE_CLIENT_SECRET, CTIBRIDGE_TENANT_ID)")
	}
	client, err := dataverse.New(dataverse.Config{OrgURL: *d.orgURL, TenantID: *d.tenantID, ClientID: *d.clientID,
		ClientSecret: *d.clientSecret, TokenURL: *d.tokenURL, MaxAttempts: 2})
	if err != nil {
		return agent.DynamicsUser{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	u, err := client.FindUser(ctx, nameOrID)
	if err != nil {
		return agent.DynamicsUser{}, err
	}
	return agent.DynamicsUser{SystemUserID: u.SystemUserID, ObjectID: u.ObjectID, Name: u.DomainName}, nil
}
