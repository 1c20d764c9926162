// Package demo runs ctibridge end to end on localhost with nothing
// external: the sandbox CRM (seeded), the call simulator and the adapter on
// one origin, plus a host page that stands in for the Dynamics UI with the
// widget in its CIF panel. With the sip telephony the calls are real: a
// Kamailio on loopback, a SIP account for each agent's softphone, and a
// customer phone page (/demo/phone.html) that calls them.
package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ctibridge/ctibridge/internal/agent"
	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/interaction"
	"github.com/ctibridge/ctibridge/internal/sandbox"
	"github.com/ctibridge/ctibridge/internal/server"
	"github.com/ctibridge/ctibridge/internal/telephony"
	"github.com/ctibridge/ctibridge/web"
)

//go:embed demo-config.json
var demoConfig []byte

// Tenant, client id and secret of the demo's application user in the sandbox.
const (
	demoTenant       = "demo-tenant"
	demoClientID     = "ctibridge-demo"
	demoClientSecret = "demo-secret-not-for-production"
)

// Agent is a demo agent login.
type Agent struct {
	ID  string `json:"id"`
	PIN string `json:"pin"`
}

// Agents are created in every demo.
var Agents = []Agent{{"1001", "1234"}, {"1002", "2345"}}

// Scenario is one demo call button.
type Scenario struct {
	ID       string               `json:"id"`
	Label    string               `json:"label"`
	CallType interaction.CallType `json:"callType"`
	// DemoNumber is the sandbox.DemoNumbers key whose number the call uses.
	DemoNumber string `json:"demoNumber"`
}

// Scenarios are the demo's call buttons: every call type, and each pop
// outcome (one record, several, none).
var Scenarios = []Scenario{
	{"inbound-single", "Inbound: known contact", interaction.CallInbound, "single-contact"},
	{"inbound-several", "Inbound: shared landline (3 contacts)", interaction.CallInbound, "several-contacts"},
	{"inbound-none", "Inbound: unknown caller", interaction.CallInbound, "no-match"},
	{"outbound-lead", "Outbound: campaign lead", interaction.CallOutbound, "lead-match"},
	{"preview-single", "Preview: known contact", interaction.CallPreview, "single-contact"},
	{"preview-none", "Preview: new prospect", interaction.CallPreview, "no-match"},
	{"manual-account", "Manual: supplier account", interaction.CallManual, "account-match"},
}

// Options configure a demo.
type Options struct {
	// Listen is the address; "" tries 127.0.0.1:8080 then any free port.
	Listen string
	// Listener, if set, is used instead of Listen (tests wrap one to cut
	// the browser's connections to the demo).
	Listener net.Listener
	// Dir keeps the demo's files (config, store, sandbox); "" uses a new
	// temporary directory removed at the end.
	Dir string
	// ConfigJSON replaces the demo config (tests use it to switch options);
	// DEMO_ORIGIN in it is replaced by the demo's origin.
	ConfigJSON []byte
	// Timing paces simulated calls (default telephony.DemoTiming).
	Timing *telephony.Timing
	// Telephony is where the demo's calls come from: "" for the call
	// simulator, "ipscape" for the stand-in of ipSCAPE's CTI Adaptor in the
	// widget (web/ipscape), whose driver places the calls, or "sip" for
	// real calls through a Kamailio the demo starts (SIP).
	Telephony string
	// SIP configures the sip telephony.
	SIP SIPOptions
	Log *slog.Logger
	// Ready, if set, receives the demo's base URL once it serves.
	Ready func(baseURL string)
}

// Demo is a running demo.
type Demo struct {
	Server  *server.Server
	Sandbox *sandbox.Sandbox
	BaseURL string
	// SIP is the SIP side of a demo with the sip telephony; nil otherwise.
	SIP     *SIP
	ln      net.Listener
	dir     string
	cleanup bool
}

// Start builds the demo and opens its listener; Serve runs it.
func Start(ctx context.Context, opt Options) (*Demo, error) {
	if opt.Log == nil {
		opt.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	d := &Demo{dir: opt.Dir}
	if d.dir == "" {
		dir, err := os.MkdirTemp("", "ctibridge-demo-")
		if err != nil {
			return nil, err
		}
		d.dir, d.cleanup = dir, true
	}
	ln, err := opt.Listener, error(nil)
	if ln == nil {
		ln, err = listen(opt.Listen)
	}
	if err != nil {
		d.Close()
		return nil, err
	}
	d.ln = ln
	d.BaseURL = "http://" + ln.Addr().String()

	cfgJSON := opt.ConfigJSON
	if cfgJSON == nil {
		cfgJSON = demoConfig
	}
	switch opt.Telephony {
	case "", config.SourceSimulator:
	case config.SourceIPScape:
		cfgJSON = withIPScapeStandIn(cfgJSON)
	case config.SourceSIP:
		// Kamailio first: without it there is no SIP demo, and the error
		// names the packages to install.
		if d.SIP, err = startSIP(ctx, filepath.Join(d.dir, "kamailio"), opt.SIP); err != nil {
			d.Close()
			return nil, err
		}
		if cfgJSON, err = d.SIP.withTelephony(cfgJSON); err != nil {
			d.Close()
			return nil, err
		}
	default:
		d.Close()
		return nil, fmt.Errorf("demo telephony %q: use the simulator (\"\"), ipscape or sip", opt.Telephony)
	}
	cfgPath := filepath.Join(d.dir, "config.json")
	if err := os.WriteFile(cfgPath, bytes.ReplaceAll(cfgJSON, []byte("DEMO_ORIGIN"), []byte(d.BaseURL)), 0o600); err != nil {
		d.Close()
		return nil, err
	}

	d.Sandbox, err = sandbox.Open(ctx, sandbox.Options{
		Path:         filepath.Join(d.dir, "sandbox.db"),
		ExtraColumns: []string{"new_wrapcode"},
		AlternateKey: "new_agentinteractionid",
		Clients:      map[string]string{demoClientID: demoClientSecret},
		Seed:         true,
	})
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("sandbox: %w", err)
	}

	settings := server.DefaultSettings()
	settings.ConfigPath = cfgPath
	settings.Listen = ln.Addr().String()
	settings.PublicURL = d.BaseURL
	settings.StorePath = filepath.Join(d.dir, "ctibridge.db")
	if opt.Telephony == "" {
		settings.Telephony = config.SourceSimulator
	}
	settings.OrgURL = d.BaseURL
	settings.ClientID = demoClientID
	settings.ClientSecret = demoClientSecret
	settings.TokenURL = d.BaseURL + "/" + demoTenant + "/oauth2/v2.0/token"
	settings.SessionKey = randomKey()
	timing := telephony.DemoTiming()
	if opt.Timing != nil {
		timing = *opt.Timing
	}
	d.Server, err = server.New(ctx, settings, opt.Log, server.Options{
		SimulatorOptions: telephony.SimulatorOptions{Numbers: scenarioNumbers(), NewNumber: freshNumbers(), LeadNames: leadNames(), Timing: timing},
		// The sandbox CRM is served by this server, and its tables are the
		// ones the demo's config was written for.
		SkipTenantCheck: true,
	})
	if err != nil {
		d.Close()
		return nil, err
	}
	for _, a := range Agents {
		if err := d.Server.Creds.Set(ctx, a.ID, a.PIN, "Demo agent "+a.ID); err != nil {
			d.Close()
			return nil, err
		}
		if d.SIP == nil {
			continue
		}
		if err := d.Server.Creds.SetSIP(ctx, a.ID, d.SIP.AgentAccount(a.ID)); err != nil {
			d.Close()
			return nil, err
		}
	}
	d.routes()
	return d, nil
}

func listen(addr string) (net.Listener, error) {
	if addr != "" {
		return net.Listen("tcp", addr)
	}
	if ln, err := net.Listen("tcp", "127.0.0.1:8080"); err == nil {
		return ln, nil
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

func randomKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// scenarioNumbers gives each scenario the number the sandbox seeded for it,
// as the telephony platform presents it (E.164).
func scenarioNumbers() telephony.ScenarioNumbers {
	out := telephony.ScenarioNumbers{}
	for _, s := range Scenarios {
		out[s.ID] = []string{sandbox.DemoNumberByKey(s.DemoNumber).E164}
	}
	return out
}

// freshNumbers gives each call of a scenario about a number no record holds
// (DemoNumber "no-match") a number of its own: once the agent has created a
// contact for one caller, the next unknown caller is unknown again. The
// numbers, +61 2 9999 1000 to 9999, are outside every range the sandbox
// seeds; a run starts at a random one, so that a kept --dir rarely meets a
// number an earlier run created a record for.
func freshNumbers() func(scenario string) string {
	fresh := map[string]bool{}
	for _, s := range Scenarios {
		if s.DemoNumber == "no-match" {
			fresh[s.ID] = true
		}
	}
	var mu sync.Mutex
	next := mrand.IntN(9000)
	return func(scenario string) string {
		if !fresh[scenario] {
			return ""
		}
		mu.Lock()
		defer mu.Unlock()
		n := next
		next = (next + 1) % 9000
		return fmt.Sprintf("+6129999%04d", 1000+n)
	}
}

// leadNames names the simulator's leads after the seeded records holding
// their numbers, so a preview or outbound lead is the person whose record
// the screen pop opens. Where several records share a number (a household)
// the lead is the first of them.
func leadNames() telephony.LeadNames {
	out := telephony.LeadNames{}
	for _, n := range sandbox.DemoNumbers {
		if len(n.Records) > 0 {
			out[n.E164] = n.Records[0].Name
		}
	}
	return out
}

// Serve runs the demo until ctx ends.
func (d *Demo) Serve(ctx context.Context) error {
	defer d.Close()
	return d.Server.Serve(ctx, d.ln)
}

// Close releases the demo's files and stores.
func (d *Demo) Close() {
	if d.Server != nil {
		d.Server.Close()
	}
	if d.Sandbox != nil {
		d.Sandbox.Close()
	}
	if d.SIP != nil {
		d.SIP.Kamailio.Stop()
	}
	if d.cleanup {
		os.RemoveAll(d.dir)
	}
}

func (d *Demo) routes() {
	sb := d.Sandbox.Handler()
	d.Server.Handle("/api/data/", sb)
	d.Server.Handle("/"+demoTenant+"/oauth2/", sb)
	d.Server.Handle("/_sandbox/", sb)
	d.Server.Handle("GET /demo/", http.StripPrefix("/demo/", http.FileServerFS(web.DemoFiles)))
	d.Server.Handle("GET /{$}", http.RedirectHandler("/demo/", http.StatusFound))
	d.Server.Handle("GET /webresources/Widget/msdyn_ciLibrary.js", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Write(web.CIFLibrary)
	}))
	d.Server.Handle("GET "+ipscapeStandInPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Write(web.IPScapeStandIn)
	}))
	d.Server.Handle("GET /demo/api/settings", http.HandlerFunc(d.serveSettings))
	d.Server.Handle("POST /demo/api/calls", http.HandlerFunc(d.servePlaceCall))
	d.Server.Handle("POST /demo/api/calls/{id}/hangup", http.HandlerFunc(d.serveHangup))
	d.Server.Handle("GET /demo/api/agents/{id}/call", http.HandlerFunc(d.serveAgentCall))
	d.Server.Handle("GET /demo/api/phone", http.HandlerFunc(d.servePhone))
}

func (d *Demo) serveSettings(w http.ResponseWriter, r *http.Request) {
	cfg := d.Server.Config()
	settings := d.Server.Flow.WidgetSettings()
	writeJSON(w, http.StatusOK, map[string]any{
		"entities":  settings.Entities,
		"agents":    Agents,
		"scenarios": d.scenarios(),
		"telephony": d.Server.TelephonySource(),
		"sip":       d.SIP.hostSettings(),
		"fields": map[string]string{
			"callDispositionField": cfg.Options.Fields.CallDispositionField,
			"agentInteractionId":   cfg.Options.Fields.AgentInteractionID,
		},
		"options": map[string]bool{
			"completeActivityRecordOnWrap": cfg.Options.CompleteActivityRecordOnWrap,
			"createTaskOnPreview":          cfg.Options.CreateTaskOnPreview,
		},
	})
}

type placeCallRequest struct {
	AgentID  string `json:"agentId"`
	CallType string `json:"callType"`
	Scenario string `json:"scenario"`
}

func (d *Demo) servePlaceCall(w http.ResponseWriter, r *http.Request) {
	var req placeCallRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		agent.WriteError(w, http.StatusBadRequest, "bad_request", "body: "+err.Error())
		return
	}
	var scenario *Scenario
	for i := range Scenarios {
		if Scenarios[i].ID == req.Scenario {
			scenario = &Scenarios[i]
		}
	}
	if scenario == nil {
		agent.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("scenario: %q is not a demo scenario", req.Scenario))
		return
	}
	callType := scenario.CallType
	if req.CallType != "" && req.CallType != string(callType) {
		agent.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("callType: scenario %s is a %s call", scenario.ID, callType))
		return
	}
	if d.Server.Simulator == nil {
		agent.WriteError(w, http.StatusConflict, "not_simulated", "this demo's calls come from the "+d.Server.TelephonySource()+" source, not the simulator")
		return
	}
	id, err := d.Server.Simulator.PlaceCall(r.Context(), req.AgentID, callType, scenario.ID)
	if err != nil {
		agent.WriteError(w, http.StatusConflict, "refused", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"interactionId": id, "callType": string(callType), "scenario": scenario.ID})
}

func (d *Demo) serveHangup(w http.ResponseWriter, r *http.Request) {
	if d.Server.Simulator == nil {
		agent.WriteError(w, http.StatusConflict, "not_simulated", "this demo's calls come from the "+d.Server.TelephonySource()+" source, not the simulator")
		return
	}
	if err := d.Server.Simulator.Hangup(r.Context(), r.PathValue("id")); err != nil {
		status := http.StatusConflict
		if strings.Contains(err.Error(), "unknown") || errors.Is(err, os.ErrNotExist) {
			status = http.StatusNotFound
		}
		agent.WriteError(w, status, "refused", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "hung up"})
}

// serveAgentCall answers what the simulated platform shows of the agent's
// calls: {"call": the call in progress or null, "last": the last call
// wrapped or null}. The host page's telephony panel follows it, so a
// preview the agent skips in the widget leaves the panel too.
func (d *Demo) serveAgentCall(w http.ResponseWriter, r *http.Request) {
	if d.Server.Simulator == nil {
		writeJSON(w, http.StatusOK, map[string]*telephony.CallStatus{"call": nil, "last": nil})
		return
	}
	current, last := d.Server.Simulator.AgentCalls(r.PathValue("id"))
	writeJSON(w, http.StatusOK, map[string]*telephony.CallStatus{"call": current, "last": last})
}

// scenarios are the host page's call buttons: none when the calls come
// from elsewhere than the simulator.
func (d *Demo) scenarios() []Scenario {
	if d.Server.Simulator == nil {
		return []Scenario{}
	}
	return Scenarios
}

// ipscapeStandInPath is where the demo serves the stand-in of ipSCAPE's
// integration bundle; its name is the bundle's, so the config loader takes
// the demo's config as an ipSCAPE one.
const ipscapeStandInPath = "/demo/ipscape/ips-dynamics-integration.standin.js"

// withIPScapeStandIn adds the stand-in bundle to the config's scripts, as
// their first: neither it nor the CIF library depends on the other.
func withIPScapeStandIn(cfg []byte) []byte {
	script := []byte(`{"src": "DEMO_ORIGIN` + ipscapeStandInPath + `"}, `)
	at := bytes.Index(cfg, []byte(`"scripts": [`))
	if at < 0 {
		return cfg
	}
	at += len(`"scripts": [`)
	return append(append(append([]byte{}, cfg[:at]...), script...), cfg[at:]...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
