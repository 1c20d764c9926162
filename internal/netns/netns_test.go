package netns

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestIsolate(t *testing.T) {
	if !Isolate(t) {
		return
	}
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if len(ifs) != 1 || ifs[0].Name != "lo" {
		t.Fatalf("interfaces %+v, want only lo", ifs)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("loopback is not usable: %v", err)
	}
	defer ln.Close()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	if err != nil {
		t.Fatalf("dial the loopback listener: %v", err)
	}
	c.Close()
	// Nothing leaves: there is no route off the machine (TEST-NET-1).
	if c, err := net.DialTimeout("udp", "192.0.2.1:9", time.Second); err == nil {
		_, err = c.Write([]byte("x"))
		c.Close()
		if err == nil {
			t.Error("a UDP packet to 192.0.2.1 could be sent: the namespace has a route off loopback")
		}
	}
}

// TestIsolatedFixture is run by TestChildResultIsTheParents in a namespace;
// on its own it skips.
func TestIsolatedFixture(t *testing.T) {
	switch os.Getenv("CTIBRIDGE_NETNS_FIXTURE") {
	case "fail":
		t.Fatal("the fixture fails as asked")
	case "pass":
		if !Inside() {
			t.Fatal("the fixture runs outside a namespace")
		}
	default:
		t.Skip("a fixture of TestChildResultIsTheParents")
	}
}

func TestChildResultIsTheParents(t *testing.T) {
	if Inside() {
		t.Skip("runs namespaces of its own")
	}
	_, err := runChild(t, "TestIsolatedFixture", []string{"CTIBRIDGE_NETNS_FIXTURE=pass"})
	var unsupported *unsupportedError
	if errors.As(err, &unsupported) {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err.Error())
	}
	if err != nil {
		t.Errorf("a passing child: %v", err)
	}
	if _, err := runChild(t, "TestIsolatedFixture", []string{"CTIBRIDGE_NETNS_FIXTURE=fail"}); err == nil {
		t.Error("a failing child: no error")
	}
	if _, err := runChild(t, "TestNoSuchTest", nil); err == nil || !strings.Contains(err.Error(), "did not run") {
		t.Errorf("a child that ran nothing: %v, want an error saying it did not run the test", err)
	}
	if out, err := runChild(t, "TestIsolatedFixture", nil); err != nil || !skipped(out, "TestIsolatedFixture") {
		t.Errorf("a skipping child: %v, skipped %t", err, skipped(out, "TestIsolatedFixture"))
	}
}

func TestRunPattern(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"TestA", "^TestA$"},
		{"TestA/inbound_call", "^TestA$/^inbound_call$"},
		{"TestA/a.b(c)", `^TestA$/^a\.b\(c\)$`},
	} {
		if got := runPattern(tc.name); got != tc.want {
			t.Errorf("runPattern(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
