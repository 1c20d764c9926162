package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func run(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestValidateAcceptsEveryReferenceExample(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/reference/*.json")
	files = append(files, "../../testdata/sample.json")
	if len(files) < 5 {
		t.Fatalf("found only %d reference files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			code, stdout, stderr := run("validate", f)
			if code != 0 || !strings.Contains(stdout, "OK") {
				t.Fatalf("validate %s = %d\n%s%s", f, code, stdout, stderr)
			}
		})
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(path, []byte(`{"screenPop": {"default": {"entity": "contact", "query": "?$filter=telephone1 eq '{{x}}'", "map": []},
		"rules": [{"callType": ["fax"], "entity": "contact", "query": "?$select=fullname", "map": []}]}}`), 0o600)
	code, _, stderr := run("validate", path)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{"screenPop.default", "{{x}}", "screenPop.rules[0].callType[0]", "fax"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("output lacks %q:\n%s", want, stderr)
		}
	}
}

func TestValidateUsage(t *testing.T) {
	if code, _, _ := run("validate"); code != 2 {
		t.Fatalf("validate with no file: exit %d, want 2", code)
	}
	if code, _, _ := run("no-such-command"); code != 2 {
		t.Fatalf("unknown command: exit %d, want 2", code)
	}
}

func TestPopPrintsTheDecisionAndTheWrites(t *testing.T) {
	code, stdout, stderr := run("pop", "--config", "../../testdata/sample.json",
		"--event", "testdata/inbound-alerting.json", "--event", "testdata/inbound-started.json", "--event", "testdata/inbound-wrapped.json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var out struct {
		ScreenPop struct {
			Rule, Entity, LookupQuery string
		}
		Writes []struct {
			Op, EntitySet, Step, KeyValue string
			Body                          map[string]any
		}
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	if out.ScreenPop.Rule != "screenPop.rules[1]" || out.ScreenPop.Entity != "contact" || !strings.Contains(out.ScreenPop.LookupQuery, "%2802%29%209999%200000") {
		t.Fatalf("screen pop = %+v", out.ScreenPop)
	}
	if len(out.Writes) != 2 || out.Writes[0].Op != "create" || out.Writes[0].KeyValue != "IX-100" || out.Writes[1].Step != "wrap" {
		t.Fatalf("writes = %+v, want the create then the wrap", out.Writes)
	}
	if out.Writes[1].Body["new_wrapcode"] != "1" || out.Writes[1].Body["statecode"] != float64(1) || out.Writes[1].Body["statuscode"] != float64(4) {
		t.Fatalf("wrap body = %v, want wrap code 1 and completed as Received", out.Writes[1].Body)
	}
}

func TestPopNamesTheBadEventField(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ev.json")
	os.WriteFile(path, []byte(`{"id":"e","type":"callStarted","agentId":"1","interaction":{"agentInteractionId":"IX","callType":"fax"}}`), 0o600)
	code, _, stderr := run("pop", "--config", "../../testdata/sample.json", "--event", path)
	if code != 1 || !strings.Contains(stderr, "interaction.callType") {
		t.Fatalf("exit %d, stderr %q; want 1 naming interaction.callType", code, stderr)
	}
}

func TestValidateSaysWhereCallsComeFrom(t *testing.T) {
	dir := t.TempDir()
	sip := filepath.Join(dir, "sip.json")
	os.WriteFile(sip, []byte(`{"telephony": {"source": "sip", "sip": {"server": "wss://pbx.example.com/ws", "domain": "pbx.example.com"}}}`), 0o600)
	tests := []struct{ file, want string }{
		{"../../testdata/reference/full.json", "telephony: ipscape, as the scripts load ipSCAPE's integration bundle"},
		{"../../testdata/sample.json", "telephony: not named, so the server's --telephony setting (default webhook)"},
		{sip, "telephony: sip)"},
	}
	for _, tt := range tests {
		code, stdout, stderr := run("validate", tt.file)
		if code != 0 || !strings.Contains(stdout, tt.want) {
			t.Errorf("validate %s = %d, output lacks %q:\n%s%s", tt.file, code, tt.want, stdout, stderr)
		}
	}
}

func TestHelpDescribesTheCommandAndExitsZero(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "demo", args: []string{"demo", "--help"}, want: "stands in\nfor Dynamics 365"},
		{name: "demo names its timers", args: []string{"demo", "-h"}, want: "--talk-time"},
		{name: "sandbox", args: []string{"sandbox", "--help"}, want: "Dataverse-compatible sandbox CRM on its own"},
		{name: "serve", args: []string{"serve", "--help"}, want: "Usage: ctibridge serve"},
		{name: "pop", args: []string{"pop", "--help"}, want: "Usage: ctibridge pop"},
		{name: "validate", args: []string{"validate", "--help"}, want: "Usage: ctibridge validate"},
		{name: "agent", args: []string{"agent", "--help"}, want: "ctibridge agent [--store FILE]"},
		{name: "agent sip", args: []string{"agent", "sip", "1001", "--help"}, want: "Flags of agent sip"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(tc.args...)
			if code != 0 || !strings.Contains(stdout+stderr, tc.want) {
				t.Errorf("%v = exit %d\n%s%s\nwant exit 0 and %q", tc.args, code, stdout, stderr, tc.want)
			}
		})
	}
}

func TestUnknownFlagStillExitsTwo(t *testing.T) {
	if code, _, _ := run("demo", "--no-such-flag"); code != 2 {
		t.Errorf("demo --no-such-flag = exit %d, want 2", code)
	}
}

func TestDemoRefusesANegativeTimer(t *testing.T) {
	code, _, stderr := run("demo", "--talk-time", "-1s")
	if code != 2 || !strings.Contains(stderr, "--talk-time -1s") {
		t.Errorf("demo --talk-time -1s = exit %d\n%s\nwant exit 2 naming the flag", code, stderr)
	}
}

func TestPopNamesTheMissingFlag(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "no flags", args: []string{"pop"}, want: "--config and --event are required"},
		{name: "no event", args: []string{"pop", "--config", "x.json"}, want: "--event is required"},
		{name: "no config", args: []string{"pop", "--event", "x.json"}, want: "--config is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(tc.args...)
			if code != 2 || !strings.HasPrefix(stderr, "ctibridge pop: "+tc.want) {
				t.Errorf("%v = exit %d\n%s\nwant exit 2 starting %q", tc.args, code, stderr, tc.want)
			}
		})
	}
}

func TestValidateCountsInWords(t *testing.T) {
	code, stdout, stderr := run("validate", "../../testdata/sample.json")
	if code != 0 || strings.Contains(stdout, "(ies)") || strings.Contains(stdout, "(s)") || !regexp.MustCompile(`\d+ entit(y|ies)\b`).MatchString(stdout) {
		t.Errorf("validate = exit %d\n%s%s\nwant the entities counted in words (\"3 entities\")", code, stdout, stderr)
	}
}

// The README's command list is where a newcomer looks: every command is in it.
func TestTheReadmeListsEveryCommand(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, list, ok := strings.Cut(string(readme), "## Commands")
	if !ok {
		t.Fatal("README.md has no \"## Commands\" section")
	}
	for name := range commands() {
		if !strings.Contains(list, "ctibridge "+name+" ") {
			t.Errorf("README.md's command list misses %q", name)
		}
	}
	for _, sub := range []string{"agent set", "agent remove", "agent sip"} {
		if !strings.Contains(list, "ctibridge "+sub+" ") {
			t.Errorf("README.md's command list misses %q", sub)
		}
	}
}
