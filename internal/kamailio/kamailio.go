// Package kamailio runs a real Kamailio: a SIP registrar and proxy with a
// WebSocket transport, for browser softphones. `ctibridge demo --sip` and
// the SIP end-to-end tests start one on loopback from the config this
// package ships (kamailio.cfg, also an administrator's starting point).
//
// Debian packages: kamailio and kamailio-websocket-modules. Kamailio runs
// unprivileged on a port above 1024, in the foreground, with its runtime
// files and its log in the directory the caller gives.
package kamailio

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Config is the Kamailio configuration Start runs (kamailio.cfg). Its
// comments say how to run it by hand.
//
//go:embed kamailio.cfg
var Config []byte

// Packages are the Debian packages that provide what Start needs.
const Packages = "kamailio kamailio-websocket-modules"

// installHint ends every error about a missing Kamailio.
const installHint = "install it with: apt-get install " + Packages

// startTimeout bounds the wait for Kamailio to serve; it takes about 120 ms.
const startTimeout = 10 * time.Second

// Find returns the Kamailio binary: $CTIBRIDGE_KAMAILIO, else kamailio on
// the PATH or in /usr/sbin or /usr/local/sbin (not on a user's PATH).
func Find() (string, error) {
	if p := os.Getenv("CTIBRIDGE_KAMAILIO"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("CTIBRIDGE_KAMAILIO=%s: %v; point it at the kamailio binary, or %s", p, err, installHint)
		}
		return p, nil
	}
	if p, err := exec.LookPath("kamailio"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/kamailio", "/usr/local/sbin/kamailio"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Kamailio (SIP server) found: " + installHint)
}

// Options configure a Kamailio.
type Options struct {
	// Dir holds the config, the user list, the runtime files and the log
	// (kamailio.log). Required.
	Dir string
	// Host is the listening address (default 127.0.0.1).
	Host string
	// Port is the WebSocket port (plain TCP, above 1024); 0 picks a free one.
	Port int
	// Domain is the SIP domain of the accounts (default ctibridge.test).
	Domain string
	// Users are the SIP accounts, user => password. REGISTER and calls from
	// local users are then challenged and a wrong password is refused with
	// 403; without users anybody may register and call.
	Users map[string]string
	// NumbersTo is a SIP user that calls to phone numbers ring when no
	// user of that number is registered: a stand-in for a trunk to the
	// phone network (the demo's customer phone). "" refuses them (404).
	NumbersTo string
	// Binary is the kamailio binary (default: Find).
	Binary string
}

// DefaultDomain is the SIP domain when Options.Domain is "".
const DefaultDomain = "ctibridge.test"

// Kamailio is a running Kamailio.
type Kamailio struct {
	host, domain string
	port         int
	logPath      string
	cmd          *exec.Cmd
	exited       chan struct{} // closed when the process has exited
	waitErr      error         // set before exited is closed
	stopOnce     sync.Once
	stopCtx      func() bool
}

// Start writes the config and the user list to opt.Dir, starts Kamailio and
// waits until it answers HTTP on its port (the WebSocket upgrade's door).
// Kamailio stops with Stop, or when ctx ends.
func Start(ctx context.Context, opt Options) (*Kamailio, error) {
	if opt.Dir == "" {
		return nil, errors.New("kamailio: Options.Dir is required")
	}
	if opt.Host == "" {
		opt.Host = "127.0.0.1"
	}
	if opt.Domain == "" {
		opt.Domain = DefaultDomain
	}
	if !validDomain(opt.Domain) {
		return nil, fmt.Errorf("kamailio: domain %q: use letters, digits, '.' and '-'", opt.Domain)
	}
	if opt.Binary == "" {
		bin, err := Find()
		if err != nil {
			return nil, err
		}
		opt.Binary = bin
	}
	if opt.Port == 0 {
		p, err := freePort(opt.Host)
		if err != nil {
			return nil, fmt.Errorf("kamailio: pick a port on %s: %w", opt.Host, err)
		}
		opt.Port = p
	}
	if opt.Port <= 1024 || opt.Port > 65535 {
		return nil, fmt.Errorf("kamailio: port %d: use one above 1024 (Kamailio runs unprivileged)", opt.Port)
	}

	runDir := filepath.Join(opt.Dir, "run")
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		return nil, fmt.Errorf("kamailio: %w", err)
	}
	cfgPath := filepath.Join(opt.Dir, "kamailio.cfg")
	if err := os.WriteFile(cfgPath, Config, 0o600); err != nil {
		return nil, fmt.Errorf("kamailio: %w", err)
	}
	args := []string{
		"-f", cfgPath,
		"-DD", "-E", // foreground, logs on stderr (into kamailio.log)
		"-Y", runDir, "-P", filepath.Join(runDir, "kamailio.pid"),
		"-m", "64", "-M", "8",
		"-A", "LISTEN=tcp:" + net.JoinHostPort(opt.Host, strconv.Itoa(opt.Port)),
		"-A", `DOMAIN="` + opt.Domain + `"`,
	}
	if opt.NumbersTo != "" {
		if !validUser(opt.NumbersTo) {
			return nil, fmt.Errorf("kamailio: NumbersTo %q: use letters, digits and . _ ~ + -", opt.NumbersTo)
		}
		args = append(args, "-A", `NUMBERS_TO="`+opt.NumbersTo+`"`)
	}
	if len(opt.Users) > 0 {
		dbDir := filepath.Join(opt.Dir, "users-db")
		if err := writeUsers(dbDir, opt.Users); err != nil {
			return nil, fmt.Errorf("kamailio: %w", err)
		}
		args = append(args, "-A", "WITH_AUTH", "-A", `USERS_DB="text://`+dbDir+`"`)
	}

	logPath := filepath.Join(opt.Dir, "kamailio.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("kamailio: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor
	cmd := exec.Command(opt.Binary, args...)
	cmd.Dir = opt.Dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group, so that Stop also ends the children of a
	// Kamailio that died without ending them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("kamailio: start %s: %w", opt.Binary, err)
	}
	k := &Kamailio{host: opt.Host, port: opt.Port, domain: opt.Domain, logPath: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() {
		k.waitErr = cmd.Wait()
		close(k.exited)
	}()
	k.stopCtx = context.AfterFunc(ctx, func() { k.Stop() })

	if err := k.waitServing(ctx); err != nil {
		k.Stop()
		return nil, fmt.Errorf("kamailio: %w\n%s", err, k.failureHint())
	}
	return k, nil
}

// waitServing polls the port with an HTTP request until Kamailio answers
// (its xhttp route says 404 to anything but a WebSocket upgrade).
func (k *Kamailio) waitServing(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	url := "http://" + net.JoinHostPort(k.host, strconv.Itoa(k.port)) + "/"
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-k.exited:
			return fmt.Errorf("it exited while starting (%v)", k.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer on %s after %s (last: %v)", url, startTimeout, err)
		}
	}
}

// failureHint is the log's tail, with the package to install when a module
// is missing.
func (k *Kamailio) failureHint() string {
	tail := k.LogTail(20)
	hint := "kamailio log (" + k.logPath + "):\n" + tail
	if strings.Contains(tail, "websocket.so") || strings.Contains(tail, "xhttp.so") {
		hint = "the websocket module is missing: " + installHint + "\n" + hint
	}
	return hint
}

// WSURL is the SIP WebSocket URL, ws://HOST:PORT.
func (k *Kamailio) WSURL() string { return "ws://" + net.JoinHostPort(k.host, strconv.Itoa(k.port)) }

// Addr is the listener's host:port.
func (k *Kamailio) Addr() string { return net.JoinHostPort(k.host, strconv.Itoa(k.port)) }

// Domain is the SIP domain of the accounts.
func (k *Kamailio) Domain() string { return k.domain }

// LogPath is Kamailio's log file.
func (k *Kamailio) LogPath() string { return k.logPath }

// LogTail returns the last n lines of Kamailio's log, for failure reports.
func (k *Kamailio) LogTail(n int) string {
	data, err := os.ReadFile(k.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// Stop ends Kamailio: SIGTERM (it ends its children), then SIGKILL of its
// process group if it is still there after 5 s. It may be called more than
// once.
func (k *Kamailio) Stop() {
	k.stopOnce.Do(func() {
		k.stopCtx()
		pgid := k.cmd.Process.Pid
		k.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-k.exited:
		case <-time.After(5 * time.Second):
		}
		// Whatever is left of the group (children of a main process that
		// died, or a main process that ignored SIGTERM).
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-k.exited
	})
}

// writeUsers writes the user list as the db_text table the config's
// htable loads (see USERS_DB in kamailio.cfg).
func writeUsers(dir string, users map[string]string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	names := make([]string, 0, len(users))
	for u := range users {
		names = append(names, u)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("id(int,auto) key_name(string) key_type(int) value_type(int) key_value(string) expires(int) \n")
	for i, u := range names {
		if !validUser(u) {
			return fmt.Errorf("SIP user %q: use letters, digits and . _ ~ + -", u)
		}
		pw := users[u]
		if pw == "" || strings.ContainsAny(pw, ":\\\r\n\x00") {
			return fmt.Errorf("SIP user %s: the password must be non-empty, without ':', '\\' or line breaks", u)
		}
		fmt.Fprintf(&b, "%d:%s:0:0:%s:0\n", i+1, u, pw)
	}
	if err := os.WriteFile(filepath.Join(dir, "htable"), []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "version"), []byte("id(int,auto) table_name(string) table_version(int) \n1:htable:2\n"), 0o600)
}

func validUser(u string) bool {
	if u == "" || len(u) > 64 {
		return false
	}
	for _, c := range u {
		if !isAlnum(c) && !strings.ContainsRune("._~+-", c) {
			return false
		}
	}
	return true
}

func validDomain(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for _, c := range d {
		if !isAlnum(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// freePort asks the kernel for a free TCP port on host. Another process
// could take it before Kamailio does; Start then fails clearly.
func freePort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
