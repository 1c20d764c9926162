package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/telephony"
)

// The test binary doubles as ctibridge: with CTIBRIDGE_TEST_MAIN set it runs
// main, so the kill test runs the real program as a child process and
// kills it with SIGKILL, without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("CTIBRIDGE_TEST_MAIN") == "1" {
		os.Args = append([]string{"ctibridge"}, strings.Fields(os.Getenv("CTIBRIDGE_TEST_ARGS"))...)
		main()
		return
	}
	os.Exit(m.Run())
}

const killSecret = "kill-test-webhook-secret-0123456789"

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// child starts this binary as "ctibridge ARGS" and waits for url to answer.
func child(t *testing.T, args []string, env []string, readyURL string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), append(env, "CTIBRIDGE_TEST_MAIN=1", "CTIBRIDGE_TEST_ARGS="+strings.Join(args, " "))...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", args[0], tail(logs.String(), 40))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(readyURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become ready:\n%s", args[0], logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, lines int) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	var all []string
	for sc.Scan() {
		all = append(all, sc.Text())
	}
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

func postEvent(t *testing.T, base, id, typ, ix, extra string) {
	t.Helper()
	body := fmt.Sprintf(`{"id":%q,"type":%q,"agentId":"1001","interaction":{"agentInteractionId":%q,"callType":"inbound","activity":{"customerCli":"+61299990000"%s}}}`, id, typ, ix, extra)
	ts, sig := telephony.Sign([]byte(killSecret), time.Now(), []byte(body))
	req, _ := http.NewRequest("POST", base+"/api/v1/events", strings.NewReader(body))
	req.Header.Set("X-Ctibridge-Timestamp", ts)
	req.Header.Set("X-Ctibridge-Signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		data, _ := io.ReadAll(resp.Body)
		t.Fatalf("event %s: %d %s", id, resp.StatusCode, data)
	}
}

func phonecalls(t *testing.T, crm, ix string) []map[string]any {
	t.Helper()
	q := url.QueryEscape("new_agentinteractionid eq '" + ix + "'")
	resp, err := http.Get(crm + "/api/data/v9.2/phonecalls?$select=statecode,statuscode,new_wrapcode&$filter=" + q)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Value []map[string]any }
	json.NewDecoder(resp.Body).Decode(&out)
	return out.Value
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSIGKILLBetweenConnectAndWrapCompletesTheActivityOnce runs the real
// program, kills it with SIGKILL right after it accepted a call's connect
// (and again after it wrote the activity), restarts it on the same store,
// and checks the sandbox CRM ends with exactly one completed activity.
func TestSIGKILLBetweenConnectAndWrapCompletesTheActivityOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	crmAddr, srvAddr := freePort(t), freePort(t)
	crm := "http://" + crmAddr
	child(t, []string{"sandbox", "--listen", crmAddr, "--db", filepath.Join(dir, "sandbox.db"), "--clients", "kill-test=kill-secret"}, nil, crm+"/api/data/v9.2/contacts?$top=1")

	serveArgs := []string{"serve", "--config", "../../testdata/sample.json", "--listen", srvAddr,
		"--store", filepath.Join(dir, "ctibridge.db"), "--dynamics-url", crm, "--log-level", "warn"}
	env := []string{"CTIBRIDGE_WEBHOOK_SECRET=" + killSecret, "CTIBRIDGE_CLIENT_ID=kill-test",
		"CTIBRIDGE_CLIENT_SECRET=kill-secret", "CTIBRIDGE_TOKEN_URL=" + crm + "/t/oauth2/v2.0/token"}
	base := "http://" + srvAddr

	for i, killAfter := range []string{"accepted", "written"} {
		ix := fmt.Sprintf("IX-KILL-%d", i)
		srv := child(t, serveArgs, env, base+"/readyz")
		postEvent(t, base, ix+"-1", "callAlerting", ix, "")
		postEvent(t, base, ix+"-2", "callStarted", ix, "")
		if killAfter == "written" {
			waitUntil(t, "the activity to be written", func() bool { return len(phonecalls(t, crm, ix)) == 1 })
		}
		srv.Process.Signal(syscall.SIGKILL)
		srv.Wait()

		srv = child(t, serveArgs, env, base+"/readyz")
		postEvent(t, base, ix+"-3", "callHangup", ix, "")
		postEvent(t, base, ix+"-4", "callWrapped", ix, `,"wrapCode":"1"`)
		waitUntil(t, "one completed activity", func() bool {
			calls := phonecalls(t, crm, ix)
			return len(calls) == 1 && fmt.Sprint(calls[0]["statecode"]) == "1"
		})
		// Let the outbox settle and check nothing was duplicated.
		time.Sleep(300 * time.Millisecond)
		if calls := phonecalls(t, crm, ix); len(calls) != 1 || calls[0]["new_wrapcode"] != "1" {
			t.Fatalf("killed after %s: %v, want exactly one completed activity with wrap code 1", killAfter, calls)
		}
		srv.Process.Signal(syscall.SIGKILL)
		srv.Wait()
	}
}
