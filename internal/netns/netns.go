// Package netns runs a test inside a network namespace of its own, with only
// the loopback interface up. Tests that make WebRTC calls need it: a
// browser gathers ICE candidates on every interface it sees, so on a
// developer's machine or a CI runner a "loopback" call would otherwise try
// (and leak to) real networks. Inside the namespace the only candidate is
// 127.0.0.1 and nothing can leave the machine.
//
// The test binary runs the test again in a new namespace: the parent streams
// the child's output and fails when the child fails. Creating the namespace
// needs root, or unprivileged user namespaces (where the child is root of
// its own user namespace).
package netns

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// envChild marks the child run: it holds the name of the test the child
// runs isolated.
const envChild = "CTIBRIDGE_NETNS_TEST"

// Isolate makes the calling test run in a fresh network namespace with only
// loopback. Called first thing in a test:
//
//	if !netns.Isolate(t) {
//		return // the test ran in the namespace; its result is this one's
//	}
//
// In the child run it brings lo up, checks that lo is the only interface
// and returns true: the test goes on there. In the parent it runs the child
// and returns false. Without the privileges for a namespace the test skips
// with the reason, except when CI is set, where it fails.
func Isolate(t *testing.T) bool {
	t.Helper()
	if os.Getenv(envChild) == t.Name() {
		if err := loopbackOnly(); err != nil {
			t.Fatalf("network namespace: %v", err)
		}
		return true
	}
	if os.Getenv(envChild) != "" {
		// A test called by the isolated one (a subtest run): already in.
		return true
	}
	out, err := runChild(t, t.Name(), nil)
	var unsupported *unsupportedError
	switch {
	case errors.As(err, &unsupported):
		if os.Getenv("CI") != "" {
			t.Fatalf("%v; CI is set, so the isolated tests must run (run them as root)", err)
		}
		t.Skip(err.Error())
	case err != nil:
		t.Fatalf("%s in its network namespace: %v", t.Name(), err)
	case skipped(out, t.Name()):
		t.Skipf("%s skipped in its network namespace (its log above says why)", t.Name())
	}
	return false
}

// Inside reports whether this process is an isolated child run.
func Inside() bool { return os.Getenv(envChild) != "" }

// unsupportedError says the namespace cannot be made here.
type unsupportedError struct{ err error }

func (e *unsupportedError) Error() string {
	return fmt.Sprintf("no network namespace for the WebRTC tests (needs root or unprivileged user namespaces): %v", e.err)
}

// runChild runs the test binary again for the test name in a new network
// namespace, streaming its output to t, and returns the output. env is
// added to the child's environment.
func runChild(t *testing.T, name string, env []string) (string, error) {
	t.Helper()
	args := []string{"-test.run=" + childPattern(name), "-test.count=1", "-test.v=true"}
	if deadline, ok := t.Deadline(); ok {
		// The child's own timeout panics with its goroutines, a better
		// report than the parent's; the margin lets the parent report it.
		if left := time.Until(deadline) - 5*time.Second; left > 0 {
			args = append(args, "-test.timeout="+left.String())
		}
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), envChild+"="+name), env...)
	var out strings.Builder
	w := &tee{to: t.Output(), copy: &out}
	cmd.Stdout, cmd.Stderr = w, w
	attr, err := namespaceAttr()
	if err != nil {
		return "", &unsupportedError{err}
	}
	cmd.SysProcAttr = attr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return "", &unsupportedError{err}
	}
	err = cmd.Wait()
	if err != nil {
		return out.String(), fmt.Errorf("the child run failed (%v); its output is above", err)
	}
	// A pattern that matched nothing exits 0 too: that is no pass.
	if !strings.Contains(out.String(), "--- PASS: "+name+" ") && !skipped(out.String(), name) {
		return out.String(), fmt.Errorf("the child run did not run %s (pattern %s); its output is above", name, runPattern(name))
	}
	return out.String(), nil
}

func skipped(out, name string) bool { return strings.Contains(out, "--- SKIP: "+name+" ") }

// runPattern is -test.run's pattern for exactly the test name (subtests
// are slash-separated, each level a pattern of its own).
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// childPattern is runPattern(name), followed by the subtest levels of this
// run's own -test.run pattern below name's level, so that
// -run 'TestX/inbound' runs only that subtest of TestX in the namespace.
func childPattern(name string) string {
	p := runPattern(name)
	f := flag.Lookup("test.run")
	if f == nil {
		return p
	}
	levels := strings.Split(f.Value.String(), "/")
	if depth := len(strings.Split(name, "/")); len(levels) > depth {
		p += "/" + strings.Join(levels[depth:], "/")
	}
	return p
}

// loopbackOnly brings lo up and checks that it is the only interface.
func loopbackOnly() error {
	if err := loopbackUp(); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return err
	}
	var names []string
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	if len(ifs) != 1 || ifs[0].Flags&net.FlagLoopback == 0 || ifs[0].Flags&net.FlagUp == 0 {
		return fmt.Errorf("interfaces %v, want only lo, up", names)
	}
	return nil
}

// tee writes to the test's output and keeps a copy.
type tee struct {
	to   interface{ Write([]byte) (int, error) }
	copy *strings.Builder
}

func (w *tee) Write(p []byte) (int, error) {
	w.copy.Write(p)
	return w.to.Write(p)
}
