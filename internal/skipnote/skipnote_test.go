package skipnote

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestTheLineReachesTheGoCommandsOutput runs this test binary as `go test`
// runs one, with its output captured and thrown away, under a copy of
// itself standing in for the go command, whose standard error is a pipe
// read here: the SKIP line must reach that pipe, once per suite.
func TestTheLineReachesTheGoCommandsOutput(t *testing.T) {
	self := func(role string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTheLineReachesTheGoCommandsOutput$")
		cmd.Env = append(os.Environ(), "SKIPNOTE_ROLE="+role)
		return cmd
	}
	switch os.Getenv("SKIPNOTE_ROLE") {
	case "test":
		for range 2 {
			Announce("example suite", "install example (apt-get install example)")
		}
		Announce("another suite", "needs another")
		return
	case "go":
		test := self("test") // its output goes to /dev/null
		if err := test.Run(); err != nil {
			t.Fatal(err)
		}
		return
	}
	if _, err := os.Stat("/proc/self/fd/2"); err != nil {
		t.Skip("needs /proc to reach the parent's standard error")
	}
	goCommand := self("go")
	var stderr strings.Builder
	goCommand.Stderr = &stderr // a pipe, as the go command's is under CI or | tee
	if err := goCommand.Run(); err != nil {
		t.Fatalf("run the stand-in of the go command: %v\n%s", err, stderr.String())
	}
	want := "SKIP example suite: install example (apt-get install example)\nSKIP another suite: needs another\n"
	if stderr.String() != want {
		t.Errorf("the go command's standard error got %q, want %q", stderr.String(), want)
	}
}
