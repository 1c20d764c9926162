package cli

import (
	"strings"
	"testing"
)

func TestDemoSIPWithoutKamailioNamesThePackages(t *testing.T) {
	t.Setenv("CTIBRIDGE_KAMAILIO", "/nonexistent/kamailio")
	code, stdout, stderr := run("demo", "--sip", "--listen", "127.0.0.1:0", "--dir", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "apt-get install kamailio kamailio-websocket-modules") {
		t.Errorf("demo --sip without Kamailio = %d\n%s%s\nwant exit 1 naming the packages", code, stdout, stderr)
	}
}
