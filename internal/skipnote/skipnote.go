// Package skipnote makes a skipped test suite visible in the default output
// of `go test ./...`.
//
// Without -v the go command shows nothing of a package that passed but its
// "ok" line: a suite skipped because Chromium, Kamailio, Node.js or an npm
// package is missing would pass silently, and a newcomer would believe it
// ran. Skip writes one line per suite where the go command's own output
// goes, which it does not capture: its standard error (through
// /proc/PPID/fd/2 on Linux, when that is a terminal or a pipe), else the
// terminal (/dev/tty). Where neither can be opened the line is only in the
// test's log, as t.Skip puts it; CI never skips (.ci/run installs
// everything, and the suites fail there instead).
package skipnote

import (
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
)

var (
	mu   sync.Mutex
	said = map[string]bool{}
)

// Skip skips the test, saying why, and prints "SKIP suite: why" once per
// suite and test binary where the person running `go test` sees it.
func Skip(t testing.TB, suite, why string) {
	t.Helper()
	Announce(suite, why)
	t.Skip(why)
}

// Announce prints "SKIP suite: why" once per suite and test binary, as
// Skip does, for a suite skipped without a *testing.T (a TestMain).
func Announce(suite, why string) {
	mu.Lock()
	defer mu.Unlock()
	if said[suite] {
		return
	}
	said[suite] = true
	w := openOutput()
	if w == nil {
		return
	}
	defer w.Close()
	// One write, shorter than PIPE_BUF: lines of test binaries running in
	// parallel do not interleave.
	io.WriteString(w, fmt.Sprintf("SKIP %s: %s\n", suite, why))
}

// openOutput opens the go command's standard error, or the terminal.
func openOutput() io.WriteCloser {
	if f, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/2", os.Getppid()), os.O_WRONLY, 0); err == nil {
		// A regular file (go test >log 2>&1) is written at the go
		// command's own offset, which would overwrite the line: only a
		// terminal or a pipe takes it.
		if st, err := f.Stat(); err == nil && st.Mode()&(os.ModeCharDevice|os.ModeNamedPipe) != 0 {
			return f
		}
		f.Close()
	}
	if f, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		return f
	}
	return nil
}
