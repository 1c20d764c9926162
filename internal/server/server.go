// Package server wires ctibridge together: the store, the call flow, the
// agent hub, the telephony provider, the outbox and the HTTP endpoints
// (widget, agent API, event webhook, health and metrics).
package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ctibridge/ctibridge/internal/activity"
	"github.com/ctibridge/ctibridge/internal/agent"
	"github.com/ctibridge/ctibridge/internal/callflow"
	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/dataverse"
	"github.com/ctibridge/ctibridge/internal/interaction"
	"github.com/ctibridge/ctibridge/internal/metrics"
	"github.com/ctibridge/ctibridge/internal/outbox"
	"github.com/ctibridge/ctibridge/internal/screenpop"
	"github.com/ctibridge/ctibridge/internal/store"
	"github.com/ctibridge/ctibridge/internal/telephony"
)

// Server is one running ctibridge.
type Server struct {
	settings Settings
	log      *slog.Logger

	DB        *store.DB
	Flow      *callflow.Flow
	Hub       *agent.Hub
	Creds     *agent.Credentials
	Signer    *agent.Signer
	Outbox    *outbox.Outbox
	Metrics   *metrics.Metrics
	Provider  telephony.Provider
	Webhook   *telephony.Webhook   // when the source is the webhook, or beside a browser source with a webhook secret
	Simulator *telephony.Simulator // when the source is the simulator
	Browser   *telephony.Browser   // when the source is a browser one (sip, ipscape)
	Dataverse *dataverse.Client    // when the server writes activities

	mux      *http.ServeMux
	handler  http.Handler // mux behind the headers every response carries
	sessions *agent.Sessions
	limits   httpLimits
	bodies   *bodyBudget

	// source is the telephony source, fixed for the process's life.
	source string
	// replay keeps the webhook's replay memory in the store; nil without
	// a webhook.
	replay *store.WebhookReplay
	// calls and queue are the store's calls and outbox tables.
	calls *store.Calls
	queue *store.Outbox

	// skipTenantCheck: Options.SkipTenantCheck.
	skipTenantCheck bool

	mu     sync.Mutex
	config *config.Config
}

// Options are wiring choices that are not settings: what the demo and tests
// plug in.
type Options struct {
	// HTTPClient is used for the Dataverse client (tests, the demo).
	HTTPClient *http.Client
	// SimulatorOptions configure the simulator provider.
	SimulatorOptions telephony.SimulatorOptions
	// SkipTenantCheck leaves the config unchecked against the Dynamics
	// environment's metadata: the demo serves its sandbox CRM from this
	// very server, which cannot answer before it runs.
	SkipTenantCheck bool
}

// New builds a server from settings. It does not contact Dynamics: the
// server starts, and queues activities, while Dynamics is unreachable.
func New(ctx context.Context, s Settings, log *slog.Logger, opt Options) (_ *Server, err error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	cfg, err := config.Load(s.ConfigPath)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		log.Warn("config", "problem", w.String())
	}
	engine, err := screenpop.New(cfg, s.PhoneRegion)
	if err != nil {
		return nil, err
	}
	source, err := s.TelephonySource(cfg)
	if err != nil {
		return nil, err
	}
	srv := &Server{settings: s, log: log, config: cfg, mux: http.NewServeMux(), source: source,
		limits: defaultLimits, bodies: &bodyBudget{max: defaultLimits.pendingBodies}}
	srv.handler = withSecurityHeaders(srv.mux)

	srv.DB, err = store.Open(ctx, s.StorePath)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			srv.DB.Close() // a failed New leaves no store open
		}
	}()
	if err := srv.DB.ClaimSoleInstance(ctx); err != nil {
		return nil, err
	}
	srv.calls, srv.queue = store.NewCalls(srv.DB), store.NewOutbox(srv.DB)
	srv.Creds = agent.NewCredentials(store.NewAgents(srv.DB))
	key := []byte(s.SessionKey)
	if len(key) == 0 {
		key = make([]byte, 32)
		rand.Read(key)
		log.Warn("no session key set: agents log in again after a restart (set CTIBRIDGE_SESSION_KEY)")
	}
	srv.Signer, err = agent.NewSigner(key, s.SessionTTL, nil)
	if err != nil {
		return nil, err
	}

	codes, _ := s.ParseWrapCodes() // checked by Validate
	descriptions := map[string]string{}
	for _, wc := range codes {
		descriptions[wc.Code] = wc.Label
	}

	var exec outbox.Executor
	writeMode := "cif"
	if s.ServerWrites() {
		writeMode = "server"
		srv.Dataverse, err = dataverse.New(dataverse.Config{
			OrgURL: s.OrgURL, TenantID: s.TenantID, ClientID: s.ClientID, ClientSecret: s.ClientSecret,
			TokenURL: s.TokenURL, HTTPClient: opt.HTTPClient, Logger: log.With("component", "dataverse"),
			// The outbox retries, honouring Retry-After, without holding one
			// of its slots through the wait: the client tries twice at most.
			MaxAttempts: 2, MaxConcurrency: max(16, s.OutboxConcurrency),
		})
		if err != nil {
			return nil, err
		}
		exec = outbox.DataverseExecutor{Client: srv.Dataverse, Log: log.With("component", "outbox")}
		srv.skipTenantCheck = opt.SkipTenantCheck
		if err := srv.checkTenant(ctx, cfg); err != nil {
			return nil, err
		}
	}

	var hub *agent.Hub
	var cifWrites *callflow.WidgetExecutor
	if exec == nil {
		cifWrites = callflow.NewWidgetExecutor(srv.calls, func(agentID string, msg any) int { return hub.Send(agentID, msg) })
		exec = cifWrites
	}
	srv.Metrics = metrics.New(srv.outboxDepth, func() float64 { return float64(hub.Connections()) })
	srv.Outbox = outbox.New(srv.queue, exec, outbox.Options{
		Concurrency: s.OutboxConcurrency,
		MaxBatch:    s.OutboxBatch,
		Retention:   s.OutboxRetention,
		Log:         log.With("component", "outbox"),
		Observe: func(w activity.Write, outcome string, err error) {
			srv.Metrics.CRMWrites.WithLabelValues(string(w.Step), outcome).Inc()
		},
		ObserveBatch: func(writes int) { srv.Metrics.CRMBatchWrites.Observe(float64(writes)) },
	})

	newWebhook := func() error {
		secrets := strings.Split(s.WebhookSecret, ",")
		var previous [][]byte
		for _, p := range secrets[1:] {
			previous = append(previous, []byte(strings.TrimSpace(p)))
		}
		srv.Webhook, err = telephony.NewWebhook(telephony.WebhookOptions{
			Secret: []byte(strings.TrimSpace(secrets[0])), PreviousSecrets: previous, OutboundURL: s.TelephonyActionURL,
		})
		if err != nil {
			return err
		}
		// docs/webhook.md promises a signed request is accepted once: the
		// replay memory outlives the process, in the store.
		srv.replay = store.NewWebhookReplay(srv.DB)
		return srv.Webhook.KeepReplayIn(ctx, srv.replay)
	}
	switch source {
	case config.SourceWebhook:
		if err := newWebhook(); err != nil {
			return nil, err
		}
		srv.Provider = srv.Webhook
	case config.SourceSimulator:
		so := opt.SimulatorOptions
		if so.WrapCodes == nil {
			so.WrapCodes = descriptions
		}
		if so.Logger == nil {
			so.Logger = log.With("component", "simulator")
		}
		srv.Simulator, err = telephony.NewSimulator(so)
		if err != nil {
			return nil, err
		}
		srv.Provider = srv.Simulator
	case config.SourceSIP, config.SourceIPScape:
		srv.Browser = telephony.NewBrowser(source, nil)
		srv.Provider = srv.Browser
		// A platform may also push the same calls from its side: with a
		// secret the webhook takes them too, and the lifecycle makes one
		// call of both.
		if s.WebhookSecret != "" {
			if err := newWebhook(); err != nil {
				return nil, err
			}
		}
	}

	srv.Flow = callflow.New(callflow.Options{
		Calls: srv.calls, Engine: engine, Outbox: srv.Outbox, Telephony: telephonyAdapter{srv.Provider},
		Metrics: srv.Metrics, Log: log.With("component", "callflow"), WrapCodes: codes, WriteMode: writeMode,
		// A browser provider dials in the agent's browser.
		ClickToDial:       source == config.SourceSimulator || srv.Browser != nil || s.TelephonyActionURL != "",
		Notifier:          notifierFunc(func(agentID string, msg any) int { return hub.Send(agentID, msg) }),
		TelephonySettings: srv.telephonySettings,
		Impersonate:       s.ImpersonateAgents,
		DynamicsUser:      srv.Creds.DynamicsUser,
	})
	// Before any event: an event for a call in progress is checked against
	// it before it pops, after a restart too.
	if n, err := srv.Flow.LoadCallsInProgress(ctx); err != nil {
		return nil, err
	} else if n > 0 {
		log.Info("calls in progress loaded", "calls", n)
	}
	hub = agent.NewHub(widgetRouter{flow: srv.Flow, browser: srv.Browser}, log.With("component", "hub"))
	srv.Hub = hub
	if cifWrites != nil {
		srv.Flow.SetWriteResults(cifWrites)
	}
	srv.sessions = agent.NewSessions(srv.Creds, srv.Signer, hub, log.With("component", "sessions"))
	srv.sessions.TrustedProxies, _ = agent.ParseTrustedProxies(s.TrustedProxies) // checked by Validate
	// Off the caller's goroutine: the webhook's platform may take seconds
	// to answer, and a logout does not wait for it.
	srv.sessions.LoggedOut = func(agentID string) { go srv.agentLoggedOut(agentID) }
	srv.sessions.RequireDynamicsUser = s.ImpersonateAgents
	srv.routes()
	log.Info("ctibridge ready", "telephony", source, "writes", writeMode, "config", s.ConfigPath,
		"rules", len(cfg.ScreenPop.Rules), "entities", len(cfg.Entities))
	return srv, nil
}

// agentLoggedOut tells the telephony provider that an agent logged out of
// the widget (or lost its login), so that a platform that takes agent
// states (the simulator) presents it no more calls: nobody would see their
// pop or relate them. A call in progress goes on until it is wrapped. The
// webhook and browser sources take no agent state from ctibridge: there the
// platform decides (docs/telephony.md).
func (srv *Server) agentLoggedOut(agentID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Provider.SetAgentState(ctx, agentID, telephony.AgentLoggedOut, "")
	switch {
	case err == nil:
	case errors.Is(err, telephony.ErrNotSupported), errors.Is(err, telephony.ErrNotRunning):
	default:
		srv.log.Warn("agent logged out, but the telephony provider kept it", "agent", agentID, "err", err)
	}
}

type notifierFunc func(agentID string, msg any) int

func (f notifierFunc) Send(agentID string, msg any) int { return f(agentID, msg) }

func (srv *Server) outboxDepth() float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := srv.Outbox.Depth(ctx)
	if err != nil {
		return -1
	}
	return float64(n)
}

// TelephonySource is where the server's call events come from: webhook,
// simulator, sip or ipscape (docs/telephony.md).
func (srv *Server) TelephonySource() string { return srv.source }

// Handle adds a route to the server's mux (the demo mounts its pages and
// the sandbox this way).
func (srv *Server) Handle(pattern string, h http.Handler) { srv.mux.Handle(pattern, h) }

// Handler is the server's HTTP handler.
func (srv *Server) Handler() http.Handler { return srv.handler }

// Config returns the config in use.
func (srv *Server) Config() *config.Config {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.config
}

// Reload loads the config file again. An invalid config is refused and the
// last good one stays in use.
func (srv *Server) Reload() error {
	cfg, err := config.Load(srv.settings.ConfigPath)
	if err != nil {
		return fmt.Errorf("config reload refused, keeping the config in use: %w", err)
	}
	engine, err := screenpop.New(cfg, srv.settings.PhoneRegion)
	if err != nil {
		return fmt.Errorf("config reload refused, keeping the config in use: %w", err)
	}
	if err := srv.checkTenant(context.Background(), cfg); err != nil {
		return fmt.Errorf("config reload refused, keeping the config in use: %w", err)
	}
	if source, err := srv.settings.TelephonySource(cfg); err != nil || source != srv.source {
		if err == nil {
			err = fmt.Errorf("the telephony source would change from %s to %s: restart ctibridge to change it", srv.source, source)
		}
		return fmt.Errorf("config reload refused, keeping the config in use: %w", err)
	}
	srv.mu.Lock()
	srv.config = cfg
	srv.mu.Unlock()
	srv.Flow.SetEngine(engine)
	for _, w := range cfg.Warnings {
		srv.log.Warn("config", "problem", w.String())
	}
	srv.log.Info("config reloaded", "rules", len(cfg.ScreenPop.Rules), "entities", len(cfg.Entities))
	return nil
}

// Run serves on the settings' listen address until ctx ends, with the
// outbox and the telephony provider running beside it.
func (srv *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", srv.settings.Listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", srv.settings.Listen, err)
	}
	return srv.Serve(ctx, ln)
}

// Serve is Run on a listener the caller opened.
func (srv *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if addr := srv.settings.DebugListen; addr != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.serveDebug(ctx, addr); err != nil {
				srv.log.Error("profiles stopped", "err", err)
			}
		}()
	}
	wg.Add(1)
	go func() { defer wg.Done(); srv.Outbox.Run(ctx) }()
	providers := []telephony.Provider{srv.Provider}
	if srv.Webhook != nil && srv.Provider != telephony.Provider(srv.Webhook) {
		providers = append(providers, srv.Webhook)
	}
	for _, p := range providers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Run(ctx, sink{srv.Flow}); err != nil {
				srv.log.Error("telephony provider stopped", "provider", p.Name(), "err", err)
			}
		}()
	}
	// Accept HTTP only once the providers take events, so the first events
	// after a (re)start are not refused as "not running".
	for _, p := range providers {
		if running, ok := p.(interface{ Running() bool }); ok {
			for i := 0; i < 500 && !running.Running(); i++ {
				time.Sleep(2 * time.Millisecond)
			}
		}
	}
	hs := &http.Server{
		Handler:           srv.handler,
		ReadHeaderTimeout: srv.limits.readHeader,
		ReadTimeout:       srv.limits.read,
		WriteTimeout:      srv.limits.write,
		IdleTimeout:       srv.limits.idle,
		MaxHeaderBytes:    srv.limits.headerBytes,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	srv.log.Info("listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		cancel()
		wg.Wait()
		return err
	case <-ctx.Done():
	}
	shutdown, cancelShutdown := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancelShutdown()
	hs.Shutdown(shutdown)
	wg.Wait()
	return nil
}

// Close releases the store.
func (srv *Server) Close() error {
	if srv.replay != nil {
		srv.replay.Close()
	}
	srv.calls.Close()
	srv.queue.Close()
	return srv.DB.Close()
}

// sink adapts the flow to the telephony provider's Sink, telling the
// webhook which refusals are the sender's fault and which are temporary.
type sink struct{ flow *callflow.Flow }

func (s sink) HandleEvent(ctx context.Context, ev *interaction.Event) error {
	err := s.flow.HandleEvent(ctx, ev)
	var refused *callflow.RefusedError
	if err == nil || errors.As(err, &refused) {
		return err
	}
	return fmt.Errorf("%w: %v", telephony.ErrUnavailable, err)
}

func (s sink) HandleEventFor(ctx context.Context, agentID string, ev *interaction.Event) error {
	err := s.flow.HandleEventFor(ctx, agentID, ev)
	var refused *callflow.RefusedError
	if err == nil || errors.As(err, &refused) {
		return err
	}
	return fmt.Errorf("%w: %v", telephony.ErrUnavailable, err)
}

func (s sink) HandleAgentState(_ context.Context, change telephony.AgentStateChange) error {
	s.flow.SetAgentState(change.AgentID, string(change.State), change.Reason)
	return nil
}

// telephonyAdapter gives the flow the provider's commands.
type telephonyAdapter struct{ p telephony.Provider }

func (t telephonyAdapter) Dial(ctx context.Context, agentID, number string) (string, error) {
	id, err := t.p.Dial(ctx, agentID, number)
	return id, mapNotSupported(err)
}

func (t telephonyAdapter) Wrap(ctx context.Context, agentID, interactionID, wrapCode, notes string) error {
	return mapNotSupported(t.p.Wrap(ctx, agentID, interactionID, wrapCode, notes))
}

func (t telephonyAdapter) SetAgentState(ctx context.Context, agentID, state, reason string) error {
	st, err := telephony.ParseAgentState(state)
	if err != nil {
		return err
	}
	return mapNotSupported(t.p.SetAgentState(ctx, agentID, st, reason))
}

func mapNotSupported(err error) error {
	if errors.Is(err, telephony.ErrNotSupported) {
		return fmt.Errorf("%w: %v", callflow.ErrNotSupported, err)
	}
	return err
}
