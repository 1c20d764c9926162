// Package pgserver runs a real PostgreSQL server, for the tests and the
// load tool that run ctibridge on PostgreSQL (--store postgres://…). It
// uses Debian's postgresql package: initdb makes a cluster in a directory
// of the caller's, and postgres serves it on a unix socket in that
// directory only (no TCP port), in the foreground, until Stop.
//
// PostgreSQL refuses to run as root. Run as root (as CI and containers
// do), the server runs as the unprivileged user "nobody": its directory is
// created for that user, and initdb and postgres are started with its
// credentials by the kernel (syscall.Credential), with no setuid helper.
// Run as anyone else, it runs as that user.
package pgserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Package is the Debian package that provides PostgreSQL's server.
const Package = "postgresql"

// InstallHint ends every error about a missing PostgreSQL.
const InstallHint = "install it with: apt-get install " + Package

// startTimeout bounds the wait for the server to accept connections; it
// takes about a second on a loaded 2-core machine.
const startTimeout = 30 * time.Second

// Find returns the directory of PostgreSQL's server programs (initdb,
// postgres): $CTIBRIDGE_PGBIN, else the newest /usr/lib/postgresql/N/bin.
func Find() (string, error) {
	if dir := os.Getenv("CTIBRIDGE_PGBIN"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err != nil {
			return "", fmt.Errorf("CTIBRIDGE_PGBIN=%s: %v; point it at the directory of initdb and postgres, or %s", dir, err, InstallHint)
		}
		return dir, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		return "", errors.New("PostgreSQL's server is not installed; " + InstallHint)
	}
	// The newest major version: 9 sorts after 15 as text, not as a number.
	sort.Slice(found, func(i, j int) bool { return majorOf(found[i]) < majorOf(found[j]) })
	return filepath.Dir(found[len(found)-1]), nil
}

func majorOf(initdb string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return n
}

// Server is a running PostgreSQL server.
type Server struct {
	dir    string // owned by the server's user: data/ and the socket
	cmd    *exec.Cmd
	exited chan struct{}
	log    *bytes.Buffer

	mu      sync.Mutex
	created int // databases created, to name the next
}

// Start makes a new cluster in a fresh directory under parent (the
// system's temporary directory when "") and starts its server. The
// directory's path is short: a unix socket's path may not exceed 107
// bytes. Stop stops the server and removes the directory.
func Start(ctx context.Context, parent string) (*Server, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(parent, "ctibridge-pg-")
	if err != nil {
		return nil, fmt.Errorf("postgresql directory: %w", err)
	}
	cred, err := runAs(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, lastLines(string(out), 5))
	}
	s := &Server{dir: dir, exited: make(chan struct{}), log: &bytes.Buffer{}}
	// No TCP, a socket in dir; durability traded for speed (a test's
	// cluster lives as long as the test run), and enough connections for
	// a few instances' pools.
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-k", dir,
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=32MB")
	s.cmd.Dir = dir
	out := &lockedWriter{w: s.log}
	s.cmd.Stdout, s.cmd.Stderr = out, out
	// The server dies with the process that started it, even one killed
	// with SIGKILL: no cluster outlives its test run.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// runAs returns the credentials to run PostgreSQL with, nil for the
// current user, and gives dir to that user.
func runAs(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL refuses to run as root and there is no user \"nobody\" to run it as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, fmt.Errorf("give %s to user nobody: %w", dir, err)
	}
	// nobody must reach dir: its parent is the temporary directory, which
	// everyone may enter.
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// waitReady waits for the server's socket to accept a connection.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	socket := filepath.Join(s.dir, ".s.PGSQL.5432")
	for {
		// The postmaster creates its pid file's last line ("ready") once it
		// accepts connections.
		if pid, err := os.ReadFile(filepath.Join(s.dir, "data", "postmaster.pid")); err == nil &&
			strings.Contains(string(pid), "ready") {
			if _, err := os.Stat(socket); err == nil {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("postgres exited at start: %s", lastLines(s.Log(), 8))
		case <-ctx.Done():
			return fmt.Errorf("postgres did not accept connections within %s: %s", startTimeout, lastLines(s.Log(), 8))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// URL returns the connection URL of database name on the server.
func (s *Server) URL(name string) string {
	return (&url.URL{Scheme: "postgres", User: url.User("postgres"), Path: "/" + name,
		RawQuery: url.Values{"host": {s.dir}, "sslmode": {"disable"}}.Encode()}).String()
}

// Dir returns the directory of the server's socket and data.
func (s *Server) Dir() string { return s.dir }

// CreateDatabase creates a new, empty database and returns its URL. Each
// test takes one, so tests sharing a server share no data.
func (s *Server) CreateDatabase(ctx context.Context) (string, error) {
	s.mu.Lock()
	s.created++
	name := fmt.Sprintf("test%d", s.created)
	s.mu.Unlock()
	bin, err := Find()
	if err != nil {
		return "", err
	}
	// createdb, the server's own client, rather than a driver: this
	// package is for the tests of the store that carries the driver.
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "createdb"), "-h", s.dir, "-U", "postgres", name)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("createdb %s: %v: %s", name, err, lastLines(string(out), 3))
	}
	return s.URL(name), nil
}

// Log returns what the server has logged.
func (s *Server) Log() string {
	lw := s.cmd.Stderr.(*lockedWriter)
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return s.log.String()
}

// Stop stops the server (a fast shutdown: open sessions are ended) and
// removes its directory.
func (s *Server) Stop() {
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
	}
	os.RemoveAll(s.dir)
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
