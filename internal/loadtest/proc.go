package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's CPU
// times. It is 100 on every Linux architecture Go supports; reading it
// properly needs sysconf(_SC_CLK_TCK), which needs cgo.
const clockTicks = 100

// ProcSample is one reading of a process's resident memory and CPU time.
type ProcSample struct {
	RSS int64         // bytes
	CPU time.Duration // user + system
	At  time.Time
}

// SampleProc reads a process's VmRSS from /proc/PID/status and its CPU
// time from /proc/PID/stat.
func SampleProc(pid int) (ProcSample, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcSample{}, err
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcSample{}, err
	}
	rss, err := parseVmRSS(status)
	if err != nil {
		return ProcSample{}, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	cpu, err := parseCPUTime(stat)
	if err != nil {
		return ProcSample{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return ProcSample{RSS: rss, CPU: cpu, At: time.Now()}, nil
}

// parseVmRSS reads the "VmRSS:  12345 kB" line of /proc/PID/status.
func parseVmRSS(status []byte) (int64, error) {
	for line := range strings.Lines(string(status)) {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("VmRSS line %q: expected a number of kB", strings.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmRSS line %q: %w", strings.TrimSpace(line), err)
		}
		return kb * 1024, nil
	}
	return 0, errors.New("no VmRSS line (a kernel thread, or the process has exited)")
}

// parseCPUTime reads utime + stime (fields 14 and 15) of /proc/PID/stat.
// The command name, field 2, is in parentheses and may itself hold spaces
// and parentheses, so fields are counted after its last ')'.
func parseCPUTime(stat []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, errors.New("no ')' closing the command name")
	}
	fields := strings.Fields(string(stat[end+1:]))
	// fields[0] is field 3 (state), so field n is fields[n-3].
	if len(fields) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("utime/stime %q: %w", f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// CPUUse is the CPU a process used between two samples, in cores (1.0 is
// one core busy all the time).
func CPUUse(from, to ProcSample) float64 {
	wall := to.At.Sub(from.At)
	if wall <= 0 {
		return 0
	}
	return float64(to.CPU-from.CPU) / float64(wall)
}

// RaiseFileLimit raises the soft limit of open files to at most want (and
// the hard limit); it returns the limit in force. The raised limit is
// inherited by child processes.
func RaiseFileLimit(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	target := min(want, lim.Max)
	if lim.Cur >= target {
		return lim.Cur, nil
	}
	lim.Cur = target
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return target, nil
}

// FreeAddr returns a loopback address with a port free right now.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// child is a process the tool started: the sandbox, the server or the
// relay. It dies with the tool (Pdeathsig), so a crashed or interrupted
// run leaves nothing behind.
type child struct {
	name    string
	path    string
	args    []string
	env     []string
	logPath string

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func (c *child) start() error {
	logf, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.path, c.args...)
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s (%s): %w", c.name, c.path, err)
	}
	c.cmd, c.done = cmd, make(chan struct{})
	go func() {
		c.err = cmd.Wait()
		logf.Close()
		close(c.done)
	}()
	return nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *child) kill() {
	if c.cmd == nil || c.exited() {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// stop asks the process to shut down (SIGTERM) and kills it after grace.
func (c *child) stop(grace time.Duration) {
	if c.cmd == nil || c.exited() {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		c.kill()
	}
}

// logTail is the end of the child's log, for error messages.
func (c *child) logTail() string {
	data, err := os.ReadFile(c.logPath)
	if err != nil {
		return ""
	}
	const keep = 2000
	if len(data) > keep {
		data = data[len(data)-keep:]
	}
	return strings.TrimSpace(string(data))
}

// waitReady polls url until it answers 200, the child exits, or timeout.
// waitReady polls url until it answers 200, or one of also (a status that
// shows the process serves, such as 401 from an endpoint that wants a
// token).
func (c *child) waitReady(ctx context.Context, url string, timeout time.Duration, also ...int) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if c.exited() {
			return fmt.Errorf("%s exited while starting (%v); its log ends:\n%s", c.name, c.err, c.logTail())
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || slices.Contains(also, resp.StatusCode) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready at %s within %v; its log ends:\n%s", c.name, url, timeout, c.logTail())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
