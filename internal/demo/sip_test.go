package demo

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/ctibridge/ctibridge/internal/kamailio"
	"github.com/ctibridge/ctibridge/internal/sandbox"
)

func TestSIPDemo(t *testing.T) {
	if _, err := kamailio.Find(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err.Error() + "; CI is set, so the SIP demo must be tested")
		}
		t.Skip(err.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := Start(ctx, Options{Listen: "127.0.0.1:0", Dir: t.TempDir(), Telephony: "sip", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("the demo stopped with: %v", err)
		}
	})

	if got := d.Server.TelephonySource(); got != "sip" {
		t.Errorf("telephony source = %q, want sip", got)
	}
	// Each agent has a softphone account on the demo's Kamailio.
	for _, a := range Agents {
		acc, err := d.Server.Creds.SIP(ctx, a.ID)
		if err != nil || acc.User != a.ID || acc.Password == "" || acc.Password != d.SIP.Agents[a.ID].Password {
			t.Errorf("agent %s's SIP account = %v, %v; want user %s with the password Kamailio has", a.ID, acc, err, a.ID)
		}
	}
	// Kamailio serves SIP over WebSocket where the config says.
	cfg := d.Server.Config().Telephony.SIP
	if cfg.Server != d.SIP.Kamailio.WSURL() || cfg.Domain != d.SIP.Kamailio.Domain() {
		t.Errorf("config telephony.sip = %s %s, want the demo's Kamailio %s %s", cfg.Server, cfg.Domain, d.SIP.Kamailio.WSURL(), d.SIP.Kamailio.Domain())
	}
	conn, _, err := websocket.Dial(ctx, cfg.Server, &websocket.DialOptions{Subprotocols: []string{"sip"}})
	if err != nil {
		t.Fatalf("WebSocket to %s: %v", cfg.Server, err)
	}
	conn.CloseNow()

	// The customer phone page gets its account, the agents and the numbers.
	var phone struct {
		Server, Domain, User, Password, Target string
		Targets                                []struct{ User string }
		Numbers                                []struct{ Number, Label string }
	}
	getJSON(t, d.BaseURL+"/demo/api/phone", &phone)
	if phone.Server != cfg.Server || phone.User != CustomerUser || phone.Password != d.SIP.Customer.Password || phone.Target != Agents[0].ID {
		t.Errorf("/demo/api/phone = %+v, want the customer's account on %s calling agent %s", phone, cfg.Server, Agents[0].ID)
	}
	if len(phone.Targets) != len(Agents) || len(phone.Numbers) != len(phoneNumbers) {
		t.Errorf("/demo/api/phone lists %d agents and %d numbers, want %d and %d", len(phone.Targets), len(phone.Numbers), len(Agents), len(phoneNumbers))
	}
	if n := sandbox.DemoNumberByKey("single-contact"); len(phone.Numbers) > 0 && !strings.Contains(phone.Numbers[0].Label, n.Records[0].Name) {
		t.Errorf("the first number's label %q does not name %s", phone.Numbers[0].Label, n.Records[0].Name)
	}

	// The host page learns where the phone is, and has no simulator buttons.
	var settings struct {
		Scenarios []json.RawMessage
		SIP       *struct{ Phone string }
	}
	getJSON(t, d.BaseURL+"/demo/api/settings", &settings)
	if settings.SIP == nil || settings.SIP.Phone != "/demo/phone.html" || len(settings.Scenarios) != 0 {
		t.Errorf("/demo/api/settings: sip %+v, %d scenarios; want the phone page and no scenarios", settings.SIP, len(settings.Scenarios))
	}
	res, err := http.Get(d.BaseURL + "/demo/phone.html")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Errorf("GET /demo/phone.html: %v %v", res.Status, err)
	}
	res.Body.Close()
}

func TestSIPDemoWithoutKamailio(t *testing.T) {
	t.Setenv("CTIBRIDGE_KAMAILIO", "/nonexistent/kamailio")
	_, err := Start(t.Context(), Options{Listen: "127.0.0.1:0", Dir: t.TempDir(), Telephony: "sip"})
	if err == nil || !strings.Contains(err.Error(), "apt-get install kamailio kamailio-websocket-modules") {
		t.Fatalf("Start without Kamailio = %v, want an error naming the packages", err)
	}
}

func TestSimulatorDemoHasNoPhone(t *testing.T) {
	d := startTestDemo(t)
	res, err := http.Get(d.BaseURL + "/demo/api/phone")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /demo/api/phone without SIP = %d, want 404", res.StatusCode)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d", url, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
