package cli

import (
	"strings"
	"testing"

	"github.com/ctibridge/ctibridge/internal/sandbox"
)

func TestProvisionCreatesWhatIsMissingOnceAndNothingInADryRun(t *testing.T) {
	flags := tenantURL(t, sandbox.Options{ExtraColumns: []string{"new_wrapcode:int"}})
	provision := func(extra ...string) (int, string, string) {
		return run(append(append([]string{"provision", "../../testdata/sample.json"}, flags...), extra...)...)
	}

	code, stdout, stderr := provision("--dry-run")
	if code != 0 || !strings.Contains(stdout, "phonecall.new_agentinteractionid: would create") ||
		!strings.Contains(stdout, "phonecall.new_wrapcode: exists (Integer), left as it is") {
		t.Fatalf("dry run: exit %d\n%s%s", code, stdout, stderr)
	}
	// The dry run created nothing: validate still finds the column missing.
	if code, _, stderr := run(append([]string{"validate", "../../testdata/sample.json"}, flags...)...); code != 1 || !strings.Contains(stderr, `no column "new_agentinteractionid"`) {
		t.Fatalf("validate after the dry run: exit %d\n%s", code, stderr)
	}

	code, stdout, stderr = provision()
	want := []string{
		"phonecall.new_agentinteractionid: created (text, 100 characters)",
		"phonecall.new_wrapcode: exists (Integer), left as it is",
		"phonecall alternate key on new_agentinteractionid: created",
	}
	for _, w := range want {
		if code != 0 || !strings.Contains(stdout, w) {
			t.Fatalf("provision: exit %d, want %q in\n%s%s", code, w, stdout, stderr)
		}
	}
	code, stdout, _ = provision()
	if code != 0 || strings.Contains(stdout, "created") || !strings.Contains(stdout, "alternate key on new_agentinteractionid: exists (Active)") {
		t.Fatalf("provision again: exit %d, want nothing created\n%s", code, stdout)
	}
	if code, stdout, stderr := run(append([]string{"validate", "../../testdata/sample.json"}, flags...)...); code != 0 {
		t.Fatalf("validate after provisioning: exit %d\n%s%s", code, stdout, stderr)
	}
}
