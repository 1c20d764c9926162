package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ctibridge/ctibridge/internal/agent"
	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/sandbox"
)

// Options configure a run.
type Options struct {
	Agents          int
	EventsPerSecond float64
	Duration        time.Duration
	Ring            time.Duration
	Talk            time.Duration
	WrapAfter       time.Duration

	// Ctibridge is the ctibridge binary. With it the run spawns the sandbox
	// and the server itself on free loopback ports with a temporary store.
	Ctibridge string
	// Config is the config file of the spawned server; "" is the reference
	// config. AlternateKey false removes its fields.agentInteractionId.
	Config       string
	AlternateKey bool
	// Dir holds the spawned processes' files and logs; "" is a temporary
	// directory, removed after the run unless Keep.
	Dir  string
	Keep bool

	// Without Ctibridge, the run drives a server already running at
	// ServerURL, with its webhook secret and session key. ServerPID (0:
	// unknown) lets it read the server's memory and CPU; SandboxURL (with
	// SandboxClient "id=secret" when it requires a token) lets it count the
	// Dataverse requests and audit the activities.
	ServerURL     string
	WebhookSecret string
	SessionKey    string
	ServerPID     int
	SandboxURL    string
	SandboxClient string

	// Baseline runs the bare relay first, started with RelayCommand (the
	// load tool's own relay subcommand; "--listen ADDR" is appended).
	Baseline     bool
	RelayCommand []string

	// Fault turns the run into a fault run: the sandbox answers
	// ThrottleRate of requests with 429 (Retry-After RetryAfter seconds)
	// and UnavailableRate with 503, and the server is killed with SIGKILL
	// and restarted Restarts times, staying down RestartDown each time.
	Fault           bool
	ThrottleRate    float64
	UnavailableRate float64
	RetryAfter      int
	Restarts        int
	RestartDown     time.Duration

	// CRMLatency delays every Dataverse request the sandbox answers, as a
	// remote Dataverse takes tens to hundreds of milliseconds where the
	// loopback sandbox takes one: the outbox then has writes waiting, as
	// in production, and batches them.
	CRMLatency time.Duration

	// Workers is how many webhook requests may be in flight.
	Workers int
	// ConnectParallel is how many widgets connect at once.
	ConnectParallel int
	// Settle is how long connected, idle widgets are left before memory is
	// read.
	Settle time.Duration
	// Drain bounds the wait, after the last event, for calls to be wrapped
	// and the outbox to empty.
	Drain time.Duration
	// Progress receives one line per step; nil is silent.
	Progress io.Writer
}

func (o *Options) scenario() Scenario {
	return Scenario{
		RunID: "LT" + strconv.FormatInt(time.Now().Unix(), 36) + randomHex(2), Agents: o.Agents,
		EventsPerSecond: o.EventsPerSecond, Duration: o.Duration, Ring: o.Ring, Talk: o.Talk, WrapAfter: o.WrapAfter,
		WrapCode: "1",
	}
}

func (o *Options) validate() error {
	var errs []error
	if o.Ctibridge == "" && o.ServerURL == "" {
		errs = append(errs, errors.New("give --ctibridge BINARY to spawn the sandbox and the server, or --url of a running server"))
	}
	if o.Ctibridge != "" && o.ServerURL != "" {
		errs = append(errs, errors.New("--ctibridge and --url: give one; --ctibridge spawns its own server"))
	}
	if o.ServerURL != "" {
		if u, err := url.Parse(o.ServerURL); err != nil || u.Scheme != "http" || !isLoopback(u.Hostname()) {
			errs = append(errs, fmt.Errorf("--url %q: use an http:// loopback address such as http://127.0.0.1:8080", o.ServerURL))
		}
		if o.WebhookSecret == "" || len(o.SessionKey) < 32 {
			errs = append(errs, errors.New("--url needs the server's --webhook-secret and its --session-key (32+ bytes)"))
		}
	}
	if o.SandboxURL != "" {
		if u, err := url.Parse(o.SandboxURL); err != nil || u.Scheme != "http" || !isLoopback(u.Hostname()) {
			errs = append(errs, fmt.Errorf("--sandbox-url %q: use an http:// loopback address", o.SandboxURL))
		}
	}
	if o.Fault && o.Ctibridge == "" {
		errs = append(errs, errors.New("--fault kills and restarts the server: it needs --ctibridge"))
	}
	if o.Baseline && len(o.RelayCommand) == 0 {
		errs = append(errs, errors.New("the baseline needs the relay command"))
	}
	if o.Workers <= 0 || o.ConnectParallel <= 0 {
		errs = append(errs, errors.New("--workers and --connect-parallel must be positive"))
	}
	if o.CRMLatency < 0 {
		errs = append(errs, errors.New("--crm-latency must be 0 or more"))
	}
	if o.ThrottleRate < 0 || o.ThrottleRate > 1 || o.UnavailableRate < 0 || o.UnavailableRate > 1 {
		errs = append(errs, errors.New("--throttle-rate and --unavailable-rate are fractions from 0 to 1"))
	}
	return errors.Join(errs...)
}

func isLoopback(host string) bool {
	return host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1"
}

// Report is what a run measured.
type Report struct {
	RunID    string         `json:"runId"`
	Scenario ScenarioReport `json:"scenario"`
	Machine  MachineReport  `json:"machine"`
	Notes    []string       `json:"notes"`
	Relay    *TargetReport  `json:"relay,omitempty"`
	Server   *TargetReport  `json:"server,omitempty"`
	// LatencyRatio is the server's pop latency percentiles over the relay's.
	LatencyRatio *RatioReport  `json:"latencyRatio,omitempty"`
	Fault        *FaultReport  `json:"fault,omitempty"`
	Targets      []TargetCheck `json:"targets"`
}

// ScenarioReport restates the traffic.
type ScenarioReport struct {
	Agents          int     `json:"agents"`
	EventsPerSecond float64 `json:"eventsPerSecond"`
	CallsPerSecond  float64 `json:"callsPerSecond"`
	DurationSeconds float64 `json:"durationSeconds"`
	RingSeconds     float64 `json:"ringSeconds"`
	TalkSeconds     float64 `json:"talkSeconds"`
	WrapAfterSecs   float64 `json:"wrapAfterSeconds"`
	// CRMLatencyMs is how long the sandbox took to answer each Dataverse
	// request, on purpose (--crm-latency).
	CRMLatencyMs int64 `json:"crmLatencyMs,omitempty"`
	Calls        int   `json:"calls"`
	Events       int   `json:"events"`
	Workers      int   `json:"workers"`
}

// MachineReport says what the run ran on; the load average shows how much
// else was running.
type MachineReport struct {
	CPUs         int    `json:"cpus"`
	GoVersion    string `json:"goVersion"`
	LoadAvgStart string `json:"loadAvgStart"`
	LoadAvgEnd   string `json:"loadAvgEnd"`
	FileLimit    uint64 `json:"fileLimit"`
}

// TargetReport is one target's measurements: the relay or the server.
type TargetReport struct {
	Name string `json:"name"`
	// Connecting the widgets.
	Agents         int     `json:"agents"`
	Connected      int     `json:"connected"`
	ConnectSeconds float64 `json:"connectSeconds"`
	// Memory of the target process: before the widgets connect, with all
	// of them connected and idle, and the peak while events ran.
	RSSBeforeBytes     int64    `json:"rssBeforeBytes"`
	RSSIdleBytes       int64    `json:"rssIdleBytes"`
	RSSPeakBytes       int64    `json:"rssPeakBytes"`
	KiBPerIdleAgent    float64  `json:"kibPerIdleAgent"`
	RuntimeIdle        *Runtime `json:"runtimeIdle,omitempty"`
	RuntimeBefore      *Runtime `json:"runtimeBefore,omitempty"`
	HeapKiBPerAgent    float64  `json:"heapKiBPerAgent,omitempty"`
	StackKiBPerAgent   float64  `json:"stackKiBPerAgent,omitempty"`
	GoroutinesPerAgent float64  `json:"goroutinesPerAgent,omitempty"`
	// Events.
	EventsScheduled int              `json:"eventsScheduled"`
	EventsAccepted  int              `json:"eventsAccepted"`
	Statuses        map[string]int64 `json:"statuses"`
	// SustainedEventsPerSecond is the events answered while every kind of
	// event was due (after the first hangup, before the last call), over
	// that window's length.
	SustainedEventsPerSecond float64 `json:"sustainedEventsPerSecond"`
	// PopLatency: presenting webhook POST sent → pop at the widget.
	PopLatency Summary `json:"popLatency"`
	// The pop latency split at the server's receivedAt and sentAt stamps
	// (wall clock, to the microsecond): POST sent → event received, event
	// received → pop sent, pop sent → widget.
	PopIntakePart   *Summary `json:"popIntakePart,omitempty"`
	PopServerPart   *Summary `json:"popServerPart,omitempty"`
	PopDeliveryPart *Summary `json:"popDeliveryPart,omitempty"`
	// PopP99ByWindow is the pop latency p99 of the events sent in each
	// 10-second window of the run, in order: whether latency drifts.
	PopP99ByWindow []float64 `json:"popP99ByWindowMs"`
	PostLatency    Summary   `json:"postLatency"`
	SendLag        Summary   `json:"sendLag"`
	Pops           int64     `json:"pops"`
	Repops         int64     `json:"repops"`
	// CallsWithoutPop are calls a widget was shown (a "call" message)
	// without their pop having reached it or a hello having shown them.
	CallsWithoutPop int64 `json:"callsWithoutPop"`
	CallsCompleted  int64 `json:"callsCompleted"`
	WrapsSent       int64 `json:"wrapsSent"`
	// CPU, in cores, while events ran.
	CPUTarget  float64 `json:"cpuTargetCores"`
	CPUTool    float64 `json:"cpuToolCores"`
	CPUSandbox float64 `json:"cpuSandboxCores,omitempty"`
	// Dataverse requests the server made (the sandbox's count of /api/data
	// HTTP requests, a $batch once, before the tool reads anything back), and per completed
	// call; the breakdown includes the token requests, counted apart.
	DataverseRequests        int64            `json:"dataverseRequests,omitempty"`
	TokenRequests            int64            `json:"tokenRequests,omitempty"`
	DataverseRequestsPerCall float64          `json:"dataverseRequestsPerCall,omitempty"`
	DataverseBreakdown       map[string]int64 `json:"dataverseBreakdown,omitempty"`
	// DataverseOperations is what those requests asked of the Web API:
	// each request but a $batch, plus each operation inside a $batch
	// (by request in DataverseBatchOperations). A $batch of 100 writes is
	// one request and 100 operations.
	DataverseOperations        int64            `json:"dataverseOperations,omitempty"`
	DataverseOperationsPerCall float64          `json:"dataverseOperationsPerCall,omitempty"`
	DataverseBatchOperations   map[string]int64 `json:"dataverseBatchOperations,omitempty"`
	// CRMWrites is the server's ctibridge_crm_writes_total by step and
	// outcome.
	CRMWrites       map[string]int64 `json:"crmWrites,omitempty"`
	DataverseFaults map[string]int64 `json:"dataverseFaults,omitempty"`
	OutboxLeft      int              `json:"outboxLeft"`
	Audit           *Audit           `json:"audit,omitempty"`
	Reconnects      int64            `json:"widgetReconnects"`
	WidgetSendsLost int64            `json:"widgetSendsLost"`
	Errors          map[string]int64 `json:"errors,omitempty"`
	ErrorExamples   []string         `json:"errorExamples,omitempty"`
}

// Runtime is what the server's /metrics says of its Go runtime.
type Runtime struct {
	Goroutines     float64 `json:"goroutines"`
	HeapInuseBytes float64 `json:"heapInuseBytes"`
	StackBytes     float64 `json:"stackInuseBytes"`
	SysBytes       float64 `json:"sysBytes"`
}

// RatioReport compares the server's pop latency with the relay's.
type RatioReport struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

// FaultReport is what the fault run did to the server and the CRM.
type FaultReport struct {
	ThrottleRate    float64   `json:"throttleRate"`
	UnavailableRate float64   `json:"unavailableRate"`
	RetryAfter      int       `json:"retryAfterSeconds"`
	Restarts        int       `json:"restarts"`
	RestartSeconds  []float64 `json:"restartSeconds"` // SIGKILL → ready again, each restart
}

// TargetCheck is one target of the issue against what was measured.
type TargetCheck struct {
	Name     string `json:"name"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
	// Miss says by how much a missed target was missed.
	Miss string `json:"miss,omitempty"`
}

// Run runs the load (and the baseline, or the fault run) and reports.
func Run(ctx context.Context, opt Options) (*Report, error) {
	if err := opt.validate(); err != nil {
		return nil, err
	}
	sc := opt.scenario()
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	// Bounded: the run stops by itself however the server behaves.
	budget := 2*sc.Span() + opt.Drain + 10*time.Minute
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()

	limit, err := RaiseFileLimit(uint64(2*opt.Agents + 4096))
	if err != nil {
		return nil, fmt.Errorf("raise the open-file limit: %w", err)
	}
	if limit < uint64(opt.Agents+1024) {
		return nil, fmt.Errorf("the open-file limit is %d, too low for %d sockets: raise the hard limit (ulimit -Hn)", limit, opt.Agents)
	}
	rep := &Report{
		RunID: sc.RunID,
		Scenario: ScenarioReport{
			Agents: sc.Agents, EventsPerSecond: sc.EventsPerSecond, CallsPerSecond: round2(sc.CallRate()),
			DurationSeconds: sc.Duration.Seconds(), RingSeconds: sc.Ring.Seconds(), TalkSeconds: sc.Talk.Seconds(),
			WrapAfterSecs: sc.WrapAfter.Seconds(), Calls: sc.Calls(), Events: sc.Events(), Workers: opt.Workers,
			CRMLatencyMs: opt.CRMLatency.Milliseconds(),
		},
		Machine: MachineReport{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadAvgStart: loadAvg(), FileLimit: limit},
		Notes: []string{
			"Widget sessions use tokens the tool mints with the server's session key (agent.Signer), not PIN logins: logging 5,000 agents in through PBKDF2 would measure the login, not the event path.",
			"Latency is the presenting webhook POST leaving the tool → the pop arriving at the simulated widget, on one monotonic clock.",
		},
	}

	if opt.Fault {
		rep.Notes = append(rep.Notes,
			"The sender retries every event until it is accepted (connection refused, 5xx, 429), signed afresh each time, as a telephony platform retries webhooks.",
			"Widgets reconnect with jittered back-off. A message in flight when the server dies is lost, as in a browser; on the hello after a reconnect the simulated agent redoes what the hello shows undone: relates the call to the caller when it has no selection, wraps it again when it has ended unwrapped.")
	}
	dir := opt.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "ctiload-"); err != nil {
			return nil, err
		}
		if !opt.Keep {
			defer os.RemoveAll(dir)
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	r := &runner{opt: opt, sc: sc, dir: dir, rep: rep}

	if opt.Baseline {
		r.progress("relay: %d agents, %v events/s for %v", sc.Agents, sc.EventsPerSecond, sc.Duration)
		if rep.Relay, err = r.runRelay(ctx); err != nil {
			return rep, fmt.Errorf("relay baseline: %w", err)
		}
	}
	r.progress("server: %d agents, %v events/s for %v", sc.Agents, sc.EventsPerSecond, sc.Duration)
	if rep.Server, err = r.runServer(ctx); err != nil {
		return rep, fmt.Errorf("server: %w", err)
	}
	rep.Machine.LoadAvgEnd = loadAvg()
	if rep.Relay != nil && rep.Server != nil {
		rep.LatencyRatio = &RatioReport{
			P50: Ratio(rep.Server.PopLatency.P50Ms, rep.Relay.PopLatency.P50Ms),
			P95: Ratio(rep.Server.PopLatency.P95Ms, rep.Relay.PopLatency.P95Ms),
			P99: Ratio(rep.Server.PopLatency.P99Ms, rep.Relay.PopLatency.P99Ms),
		}
	}
	rep.Targets = checkTargets(rep)
	return rep, nil
}

type runner struct {
	opt Options
	sc  Scenario
	dir string
	rep *Report
	st  *stack // the spawned sandbox and server, if any
}

func (r *runner) progress(format string, args ...any) {
	if r.opt.Progress != nil {
		fmt.Fprintf(r.opt.Progress, time.Now().Format("15:04:05 ")+format+"\n", args...)
	}
}

// session is one target being driven: where it listens, how to reach its
// process, and the tool's side of the traffic.
type session struct {
	name      string
	relay     bool
	baseURL   string
	eventsURL string
	secret    []byte
	wsURL     func(agentID string) string
	// wsToken is the session token an agent's socket offers (ctibridge);
	// nil for the relay.
	wsToken func(agentID string) string
	pid     func() int // 0 when unknown
	ready   func(ctx context.Context) (outbox int, err error)
	persist bool
	retry   bool
}

func (r *runner) runRelay(ctx context.Context) (*TargetReport, error) {
	relay, addr, err := startRelay(ctx, r.dir, r.opt.RelayCommand)
	if err != nil {
		return nil, err
	}
	defer relay.stop(5 * time.Second)
	base := "http://" + addr
	s := &session{
		name: "bare relay", relay: true, baseURL: base, eventsURL: base + "/api/v1/events",
		wsURL: func(agentID string) string { return "ws://" + addr + "/api/v1/ws?agent=" + url.QueryEscape(agentID) },
		pid:   relay.pid,
	}
	return r.drive(ctx, s, nil, nil)
}

// hooks run around the event phase of a server session.
type hooks struct {
	before func(ctx context.Context) error
	during func(ctx context.Context) // runs beside the sender and the drain; cancelled after the drain
	after  func(ctx context.Context, tr *TargetReport) error
}

func (r *runner) runServer(ctx context.Context) (*TargetReport, error) {
	var (
		base, secret, key string
		pid               func() int
		crm               *CRM
		cfg               *config.Config
		st                *stack
	)
	if r.opt.Ctibridge != "" {
		st = &stack{dir: r.dir, bin: r.opt.Ctibridge, clientSecret: randomHex(16), webhookSecret: randomHex(32), sessionKey: randomHex(32)}
		r.st = st
		var err error
		if st.configPath, st.cfg, err = prepareConfig(r.dir, r.opt.Config, r.opt.AlternateKey); err != nil {
			return nil, err
		}
		cfg = st.cfg
		defer st.stop()
		r.progress("starting the sandbox CRM")
		if err := st.startSandbox(ctx); err != nil {
			return nil, err
		}
		r.progress("starting ctibridge serve")
		if err := st.startServer(ctx); err != nil {
			return nil, err
		}
		base, secret, key = "http://"+st.serverAddr, st.webhookSecret, st.sessionKey
		pid = func() int { return st.currentServer().pid() }
		crm = &CRM{BaseURL: "http://" + st.sandboxAddr, Tenant: tenant, ClientID: clientID, ClientSecret: st.clientSecret}
	} else {
		base, secret, key = strings.TrimSuffix(r.opt.ServerURL, "/"), r.opt.WebhookSecret, r.opt.SessionKey
		pid = func() int { return r.opt.ServerPID }
		if r.opt.SandboxURL != "" {
			crm = &CRM{BaseURL: strings.TrimSuffix(r.opt.SandboxURL, "/")}
			if id, sec, ok := strings.Cut(r.opt.SandboxClient, "="); ok {
				crm.ClientID, crm.ClientSecret = id, sec
			}
		}
		data := referenceConfig
		if r.opt.Config != "" {
			var err error
			if data, err = os.ReadFile(r.opt.Config); err != nil {
				return nil, fmt.Errorf("--config: %w", err)
			}
		}
		var err error
		if cfg, err = config.Parse(data); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	signer, err := agent.NewSigner([]byte(key), 24*time.Hour, nil)
	if err != nil {
		return nil, err
	}
	host := strings.TrimPrefix(base, "http://")
	s := &session{
		name: "ctibridge", baseURL: base, eventsURL: base + "/api/v1/events", secret: []byte(secret),
		wsURL: func(string) string { return "ws://" + host + "/api/v1/ws" },
		wsToken: func(agentID string) string {
			token, _ := signer.Issue(agentID)
			return token
		},
		pid:     pid,
		ready:   func(ctx context.Context) (int, error) { return readyz(ctx, base) },
		persist: r.opt.Fault,
		retry:   r.opt.Fault,
	}

	var h hooks
	var stats0 sandbox.Stats
	var eventsFrom time.Time // activities created since then are the run's
	var restartTimes []float64
	if crm != nil {
		h.before = func(ctx context.Context) error {
			if r.opt.Fault || r.opt.CRMLatency > 0 {
				f := sandbox.Faults{LatencyMillis: int(r.opt.CRMLatency.Milliseconds()), Seed: uint64(time.Now().UnixNano())}
				if r.opt.Fault {
					f.ThrottleRate, f.UnavailableRate, f.RetryAfterSeconds = r.opt.ThrottleRate, r.opt.UnavailableRate, r.opt.RetryAfter
				}
				if err := crm.SetFaults(ctx, f); err != nil {
					return err
				}
				r.progress("sandbox faults on: %.0f%% 429 (Retry-After %ds), %.0f%% 503, every request answered after %d ms", 100*f.ThrottleRate, f.RetryAfterSeconds, 100*f.UnavailableRate, f.LatencyMillis)
			}
			eventsFrom = time.Now().Add(-time.Second)
			var err error
			stats0, err = crm.Stats(ctx)
			return err
		}
		h.after = func(ctx context.Context, tr *TargetReport) error {
			stats1, err := crm.Stats(ctx)
			if err != nil {
				return err
			}
			countDataverse(tr, stats0, stats1)
			r.progress("reading the activities back from the sandbox")
			acts, err := crm.Activities(ctx, r.sc.RunID, columns(cfg), eventsFrom)
			if err != nil {
				return fmt.Errorf("read activities: %w", err)
			}
			a := AuditActivities(r.expected(cfg), acts)
			tr.Audit = &a
			return nil
		}
	}
	if r.opt.Fault {
		r.rep.Fault = &FaultReport{ThrottleRate: r.opt.ThrottleRate, UnavailableRate: r.opt.UnavailableRate, RetryAfter: r.opt.RetryAfter, Restarts: r.opt.Restarts}
		h.during = func(ctx context.Context) {
			// Restarts are spread over the event phase, the first one a
			// share in, none at the very end.
			every := r.sc.Span() / time.Duration(r.opt.Restarts+1)
			for i := range r.opt.Restarts {
				select {
				case <-ctx.Done():
					return
				case <-time.After(every):
				}
				killed := time.Now()
				st.currentServer().kill()
				r.progress("restart %d/%d: server killed with SIGKILL", i+1, r.opt.Restarts)
				select {
				case <-ctx.Done():
				case <-time.After(r.opt.RestartDown):
				}
				if err := st.startServer(context.WithoutCancel(ctx)); err != nil {
					r.progress("restart %d: %v", i+1, err)
					continue
				}
				restartTimes = append(restartTimes, round2(time.Since(killed).Seconds()))
				r.progress("restart %d/%d: server ready again after %.1fs", i+1, r.opt.Restarts, time.Since(killed).Seconds())
			}
		}
	}
	tr, err := r.drive(ctx, s, crm, &h)
	if r.rep.Fault != nil {
		r.rep.Fault.RestartSeconds = restartTimes
	}
	if srv := st.currentServer(); srv != nil && tr != nil && srv.exited() && ctx.Err() == nil {
		return tr, fmt.Errorf("the server exited during the run; its log ends:\n%s", srv.logTail())
	}
	return tr, err
}

// expected is what every call of the run must leave in the CRM.
func (r *runner) expected(cfg *config.Config) []ExpectedActivity {
	state, status := 0, 1 // open
	if cfg.Options.CompleteActivityRecordOnWrap {
		state, status = 1, 4 // completed, received (inbound)
	}
	out := make([]ExpectedActivity, r.sc.Calls())
	for k := range out {
		out[k] = ExpectedActivity{
			InteractionID: r.sc.InteractionID(k), RegardingID: r.sc.CustomerOf(k).ID,
			WrapCode: r.sc.WrapCode, StateCode: state, StatusCode: status,
		}
	}
	return out
}

// drive connects the widgets to a target, measures it idle, sends the
// events, waits for the calls to complete, and measures.
func (r *runner) drive(ctx context.Context, s *session, crm *CRM, h *hooks) (*TargetReport, error) {
	sc := r.sc
	tr := &TargetReport{Name: s.name, Agents: sc.Agents, EventsScheduled: sc.Events()}
	track := newTracker(sc.Calls(), sc.Span())
	transport := &http.Transport{MaxIdleConns: r.opt.Workers * 2, MaxIdleConnsPerHost: r.opt.Workers * 2, IdleConnTimeout: time.Minute}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}

	metricsURL := ""
	if !s.relay {
		metricsURL = s.baseURL + "/metrics"
	}
	before, _ := sampleIf(s.pid())
	tr.RSSBeforeBytes = before.RSS
	tr.RuntimeBefore = scrapeRuntime(ctx, metricsURL)

	wctx, stopWidgets := context.WithCancel(ctx)
	defer stopWidgets()
	ws := &widgets{sc: sc, relay: s.relay, url: s.wsURL, token: s.wsToken, track: track, persist: s.persist,
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: -1}}}
	r.progress("%s: connecting %d widgets", s.name, sc.Agents)
	t0 := time.Now()
	err := ws.start(wctx, r.opt.ConnectParallel)
	tr.ConnectSeconds = round2(time.Since(t0).Seconds())
	tr.Connected = int(ws.connected.Load())
	if err != nil {
		stopWidgets()
		ws.close()
		return tr, err
	}
	r.progress("%s: %d widgets connected in %.1fs; idle for %v", s.name, tr.Connected, tr.ConnectSeconds, r.opt.Settle)
	sleep(ctx, r.opt.Settle)
	idle, _ := sampleIf(s.pid())
	tr.RSSIdleBytes = idle.RSS
	if before.RSS > 0 && idle.RSS > 0 {
		tr.KiBPerIdleAgent = round2(float64(idle.RSS-before.RSS) / 1024 / float64(sc.Agents))
	}
	tr.RuntimeIdle = scrapeRuntime(ctx, metricsURL)
	if b, i := tr.RuntimeBefore, tr.RuntimeIdle; b != nil && i != nil {
		n := float64(sc.Agents)
		tr.HeapKiBPerAgent = round2((i.HeapInuseBytes - b.HeapInuseBytes) / 1024 / n)
		tr.StackKiBPerAgent = round2((i.StackBytes - b.StackBytes) / 1024 / n)
		tr.GoroutinesPerAgent = round2((i.Goroutines - b.Goroutines) / n)
	}

	if h != nil && h.before != nil {
		if err := h.before(ctx); err != nil {
			return tr, err
		}
	}
	snd := &sender{sc: sc, url: s.eventsURL, secret: s.secret, http: client, track: track, retry: s.retry, workers: r.opt.Workers}
	if s.relay {
		snd.secret = nil
	}
	self0, _ := SampleProc(os.Getpid())
	target0, _ := sampleIf(s.pid())
	sandboxPID := 0
	if crm != nil {
		sandboxPID = r.sandboxPID()
	}
	sandbox0, _ := sampleIf(sandboxPID)

	// Peak memory, sampled every 500ms while events run.
	peakCtx, stopPeak := context.WithCancel(ctx)
	var peakWG sync.WaitGroup
	peakWG.Add(1)
	go func() {
		defer peakWG.Done()
		for {
			if p, err := sampleIf(s.pid()); err == nil && p.RSS > tr.RSSPeakBytes {
				tr.RSSPeakBytes = p.RSS
			}
			select {
			case <-peakCtx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	var duringWG sync.WaitGroup
	if h != nil && h.during != nil {
		duringWG.Add(1)
		go func() { defer duringWG.Done(); h.during(peakCtx) }()
	}
	r.progress("%s: sending %d events over %v", s.name, sc.Events(), sc.Span().Round(time.Second))
	sendStart := track.since()
	snd.run(ctx)
	sendEnd := track.since()
	self1, _ := SampleProc(os.Getpid())
	target1, _ := sampleIf(s.pid())
	sandbox1, _ := sampleIf(sandboxPID)
	if target0.At.IsZero() || target1.At.IsZero() || r.opt.Fault {
		tr.CPUTarget = -1 // unknown, or spread over several processes
	} else {
		tr.CPUTarget = round2(CPUUse(target0, target1))
	}
	tr.CPUTool = round2(CPUUse(self0, self1))
	if sandboxPID != 0 {
		tr.CPUSandbox = round2(CPUUse(sandbox0, sandbox1))
	}
	tr.SustainedEventsPerSecond = sustained(track, sc, sendStart, sendEnd)

	// Drain: every call wrapped as the widgets know it, and (for the
	// server) the outbox empty.
	r.progress("%s: events sent in %.1fs; waiting up to %v for calls to complete", s.name, (sendEnd - sendStart).Seconds(), r.opt.Drain)
	deadline := time.Now().Add(r.opt.Drain)
	lastNote := time.Now()
	for {
		done := track.completed.Load() >= int64(sc.Calls())
		outbox := 0
		if s.ready != nil {
			n, err := s.ready(ctx)
			if err != nil {
				n = -1
			}
			outbox = n
		}
		tr.OutboxLeft = outbox
		if done && outbox == 0 {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			r.progress("%s: drain timed out: %d of %d calls completed, outbox %d", s.name, track.completed.Load(), sc.Calls(), outbox)
			break
		}
		if time.Since(lastNote) > 15*time.Second {
			lastNote = time.Now()
			r.progress("%s: draining: %d of %d calls completed, outbox %d", s.name, track.completed.Load(), sc.Calls(), outbox)
		}
		sleep(ctx, 250*time.Millisecond)
	}
	stopPeak()
	duringWG.Wait()
	peakWG.Wait()

	tr.PopLatency = track.popLatency.Summary()
	for i := range track.popWindows {
		if w := track.popWindows[i].Summary(); w.Count > 0 {
			tr.PopP99ByWindow = append(tr.PopP99ByWindow, w.P99Ms)
		}
	}
	if !s.relay {
		ip, sp, dp := track.intakePart.Summary(), track.serverPart.Summary(), track.deliveryPart.Summary()
		tr.PopIntakePart, tr.PopServerPart, tr.PopDeliveryPart = &ip, &sp, &dp
	}
	tr.PostLatency = track.postLatency.Summary()
	tr.SendLag = track.sendLag.Summary()
	tr.Pops, tr.Repops = track.pops.Load(), track.repops.Load()
	tr.CallsWithoutPop = track.unpopped.Load()
	tr.CallsCompleted = track.completed.Load()
	tr.WrapsSent = track.wrapsSent.Load()
	tr.Reconnects = ws.reconnects.Load()
	tr.WidgetSendsLost = ws.sendFails.Load()

	if metricsURL != "" && !r.opt.Fault {
		// The server's own count of CRM writes by step (create-activity,
		// relate, wrap) and outcome explains the Dataverse requests. A
		// restart resets it, so the fault run has none.
		tr.CRMWrites = scrapeCounters(ctx, metricsURL, "ctibridge_crm_writes_total")
	}
	if h != nil && h.after != nil {
		if err := h.after(ctx, tr); err != nil {
			return tr, err
		}
	}
	stopWidgets()
	ws.close()
	errs, statuses, examples := track.snapshotErrors()
	tr.Errors, tr.ErrorExamples = errs, examples
	tr.Statuses = map[string]int64{}
	for code, n := range statuses {
		name := strconv.Itoa(code)
		if code == 0 {
			name = "no response"
		}
		tr.Statuses[name] = n
	}
	tr.EventsAccepted = int(statuses[http.StatusAccepted] + statuses[http.StatusOK])
	r.progress("%s: done: pop p50 %.2fms p99 %.2fms, %d/%d calls completed", s.name, tr.PopLatency.P50Ms, tr.PopLatency.P99Ms, tr.CallsCompleted, sc.Calls())
	return tr, nil
}

// sandboxPID is the spawned sandbox's pid, 0 when not spawned.
func (r *runner) sandboxPID() int {
	if r.st == nil || r.st.sandbox == nil {
		return 0
	}
	return r.st.sandbox.pid()
}

// sustained is the rate of events answered while every kind of event was
// due: from the first hangup's due time to the last call's alerting, so
// the ramp-up and ramp-down at the ends do not count against it.
func sustained(track *tracker, sc Scenario, start, end time.Duration) float64 {
	from := start + sc.Ring + sc.Talk
	to := start + sc.callStart(sc.Calls()-1)
	if to-from < time.Second {
		// Too short for a steady state: the whole send phase.
		from, to = start, end
	}
	track.mu.Lock()
	defer track.mu.Unlock()
	n := 0
	for _, at := range track.answered {
		if at >= from && at <= to {
			n++
		}
	}
	return round2(float64(n) / (to - from).Seconds())
}

func sampleIf(pid int) (ProcSample, error) {
	if pid <= 0 {
		return ProcSample{}, errors.New("no pid")
	}
	return SampleProc(pid)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func round2(f float64) float64 { return Ratio(f, 1) }

func diffCounts(after, before map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// readyz returns the server's outbox depth from /readyz.
func readyz(ctx context.Context, base string) (int, error) {
	var body struct {
		Outbox int `json:"outboxDepth"`
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, http.MethodGet, base+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("/readyz: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, err
	}
	return body.Outbox, nil
}

// scrapeRuntime reads the Go runtime gauges from a Prometheus text page;
// nil when there is none.
func scrapeRuntime(ctx context.Context, metricsURL string) *Runtime {
	page := fetchMetrics(ctx, metricsURL)
	if page == nil {
		return nil
	}
	v := parseGauges(bytes.NewReader(page), "go_goroutines", "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes", "go_memstats_sys_bytes")
	return &Runtime{Goroutines: v["go_goroutines"], HeapInuseBytes: v["go_memstats_heap_inuse_bytes"],
		StackBytes: v["go_memstats_stack_inuse_bytes"], SysBytes: v["go_memstats_sys_bytes"]}
}

// scrapeCounters reads one labelled counter from a Prometheus text page,
// keyed by its label set as written ({step="wrap",outcome="done"}).
func scrapeCounters(ctx context.Context, metricsURL, name string) map[string]int64 {
	page := fetchMetrics(ctx, metricsURL)
	if page == nil {
		return nil
	}
	return parseCounters(bytes.NewReader(page), name)
}

// fetchMetrics returns the Prometheus text page at metricsURL; nil when
// there is none or it cannot be read.
func fetchMetrics(ctx context.Context, metricsURL string) []byte {
	if metricsURL == "" {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, http.MethodGet, metricsURL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	page, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil
	}
	return page
}

// parseCounters reads the samples of one labelled metric from the
// Prometheus text format, keyed by "label=value,label=value".
func parseCounters(r io.Reader, name string) map[string]int64 {
	out := map[string]int64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), name+"{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		out[strings.ReplaceAll(labels, `"`, "")] = int64(f)
	}
	return out
}

// parseGauges reads unlabelled samples of the named metrics from the
// Prometheus text format.
func parseGauges(r io.Reader, names ...string) map[string]float64 {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !want[name] {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			out[name] = f
		}
	}
	return out
}
