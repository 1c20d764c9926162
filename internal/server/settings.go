package server

import (
	"errors"
	"flag"
	"fmt"
	"github.com/ctibridge/ctibridge/internal/agent"
	"github.com/ctibridge/ctibridge/internal/callflow"
	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/dataverse"
	"github.com/ctibridge/ctibridge/internal/store"
	"net/url"
	"os"
	"strings"
	"time"
)

// Settings are the runtime settings of "ctibridge serve", from flags and
// CTIBRIDGE_* environment variables (a flag given on the command line wins).
type Settings struct {
	ConfigPath  string
	Listen      string
	PublicURL   string
	StorePath   string
	PhoneRegion string
	LogLevel    string

	// Dynamics / Dataverse. With OrgURL, ClientID and ClientSecret set the
	// server writes activities itself; otherwise the agents' widgets write
	// them through CIF.
	OrgURL       string
	TenantID     string
	ClientID     string
	ClientSecret string
	TokenURL     string // overrides the Entra ID token endpoint
	// ImpersonateAgents writes each call's activities as its agent's
	// Dynamics user, the one an administrator set (ctibridge agent
	// dynamics-user): CallerObjectId, or MSCRMCallerID for a user without
	// an Entra object id. Agents without one cannot log in to the widget.
	ImpersonateAgents bool

	// Telephony is the source of call events when the config names none
	// (docs/telephony.md): "webhook" (the platform POSTs signed events),
	// "simulator", or a browser source, "sip" or "ipscape". Empty: as the
	// config says, else webhook.
	Telephony          string
	WebhookSecret      string // comma-separated: the first signs, all verify
	TelephonyActionURL string // where the webhook provider sends dial/state/wrap

	// SessionKey signs agent session tokens; empty = random per process
	// (agents log in again after a restart).
	SessionKey string
	SessionTTL time.Duration
	// TrustedProxies are the reverse proxies (addresses or CIDR prefixes,
	// comma-separated) whose X-Forwarded-For names an agent's address for
	// the login limits; empty: the connection's peer is the address.
	TrustedProxies string
	// WrapCodes for the widget's picker: "code=Label,code=Label".
	WrapCodes string
	// OutboxConcurrency is how many calls' CRM writes run at once.
	OutboxConcurrency int
	// OutboxBatch is how many calls' writes may share one Dataverse $batch
	// request when several are due at once; 1 sends each write alone.
	OutboxBatch int
	// OutboxRetention is how long written CRM writes stay in the store.
	OutboxRetention time.Duration
	// DebugListen is a loopback address serving Go's profiles; empty = off.
	DebugListen string
}

// setting is one flag with its environment variable.
type setting struct {
	flag, env, usage string
	str              *string
	dur              *time.Duration
	boolean          *bool
	integer          *int
}

func (s *Settings) table() []setting {
	return []setting{
		{flag: "config", env: "CTIBRIDGE_CONFIG", usage: "the ipSCAPE-format config JSON (required)", str: &s.ConfigPath},
		{flag: "listen", env: "CTIBRIDGE_LISTEN", usage: "address to listen on", str: &s.Listen},
		{flag: "public-url", env: "CTIBRIDGE_PUBLIC_URL", usage: "the URL agents' browsers reach ctibridge at (the CIF Channel URL without /widget)", str: &s.PublicURL},
		{flag: "store", env: "CTIBRIDGE_STORE", usage: "the store of calls, outbox and agents: a SQLite file, or postgres://USER:PASSWORD@HOST/DB to share one with other instances", str: &s.StorePath},
		{flag: "phone-region", env: "CTIBRIDGE_PHONE_REGION", usage: "region for phone numbers without a country code, when the config sets no phoneRegion", str: &s.PhoneRegion},
		{flag: "log-level", env: "CTIBRIDGE_LOG_LEVEL", usage: "debug, info, warn or error", str: &s.LogLevel},
		{flag: "dynamics-url", env: "CTIBRIDGE_DYNAMICS_URL", usage: "Dynamics org URL, e.g. https://contoso.crm6.dynamics.com", str: &s.OrgURL},
		{flag: "tenant-id", env: "CTIBRIDGE_TENANT_ID", usage: "Entra ID tenant id", str: &s.TenantID},
		{flag: "client-id", env: "CTIBRIDGE_CLIENT_ID", usage: "Entra ID application (client) id of the application user", str: &s.ClientID},
		{flag: "client-secret", env: "CTIBRIDGE_CLIENT_SECRET", usage: "its client secret (prefer the environment variable)", str: &s.ClientSecret},
		{flag: "token-url", env: "CTIBRIDGE_TOKEN_URL", usage: "override the Entra ID token endpoint", str: &s.TokenURL},
		{flag: "impersonate-agents", env: "CTIBRIDGE_IMPERSONATE_AGENTS", usage: "write each call's activities as its agent's Dynamics user (set with ctibridge agent dynamics-user); needs server writes", boolean: &s.ImpersonateAgents},
		{flag: "telephony", env: "CTIBRIDGE_TELEPHONY", usage: "telephony source when the config's telephony.source names none: webhook, simulator, sip or ipscape (default webhook)", str: &s.Telephony},
		{flag: "webhook-secret", env: "CTIBRIDGE_WEBHOOK_SECRET", usage: "HMAC secret(s) of the event webhook, comma-separated for rotation (prefer the environment variable)", str: &s.WebhookSecret},
		{flag: "telephony-action-url", env: "CTIBRIDGE_TELEPHONY_ACTION_URL", usage: "where the webhook provider POSTs click-to-dial, state and wrap commands", str: &s.TelephonyActionURL},
		{flag: "session-key", env: "CTIBRIDGE_SESSION_KEY", usage: "key (32+ bytes) signing agent sessions; random per process when empty", str: &s.SessionKey},
		{flag: "session-ttl", env: "CTIBRIDGE_SESSION_TTL", usage: "how long an agent session lasts", dur: &s.SessionTTL},
		{flag: "trusted-proxies", env: "CTIBRIDGE_TRUSTED_PROXIES", usage: "reverse proxies (addresses or CIDR prefixes, comma-separated) whose X-Forwarded-For names the agent's address for the login limits; empty: trust none", str: &s.TrustedProxies},
		{flag: "wrap-codes", env: "CTIBRIDGE_WRAP_CODES", usage: "wrap codes of the widget's picker: code=Label,code=Label", str: &s.WrapCodes},
		{flag: "outbox-concurrency", env: "CTIBRIDGE_OUTBOX_CONCURRENCY", usage: "calls whose CRM writes run at once", integer: &s.OutboxConcurrency},
		{flag: "outbox-retention", env: "CTIBRIDGE_OUTBOX_RETENTION", usage: "how long written CRM writes stay in the store before they are deleted (failed ones stay)", dur: &s.OutboxRetention},
		{flag: "debug-listen", env: "CTIBRIDGE_DEBUG_LISTEN", usage: "loopback address serving Go's profiles at /debug/pprof/, e.g. 127.0.0.1:6060 (off when empty)", str: &s.DebugListen},
		{flag: "outbox-batch", env: "CTIBRIDGE_OUTBOX_BATCH", usage: "CRM writes of different calls sent in one Dataverse $batch when several are due (1: each alone)", integer: &s.OutboxBatch},
	}
}

// DefaultSettings are the defaults before flags and environment.
func DefaultSettings() Settings {
	return Settings{
		Listen: "127.0.0.1:8080", StorePath: "ctibridge.db", PhoneRegion: "AU", LogLevel: "info",
		SessionTTL: 12 * time.Hour, OutboxConcurrency: 16, OutboxBatch: 100, OutboxRetention: 7 * 24 * time.Hour,
		WrapCodes: "1=Sale,2=No sale,3=Call back,4=Wrong number,5=Not interested",
	}
}

// Bind registers the settings' flags on fs with their defaults taken from
// the environment.
func (s *Settings) Bind(fs *flag.FlagSet, getenv func(string) string) error {
	var errs []error
	for _, st := range s.table() {
		env := getenv(st.env)
		usage := st.usage + " ($" + st.env + ")"
		switch {
		case st.str != nil:
			if env != "" {
				*st.str = env
			}
			fs.StringVar(st.str, st.flag, *st.str, usage)
		case st.dur != nil:
			if env != "" {
				d, err := time.ParseDuration(env)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %q is not a duration such as 12h", st.env, env))
				} else {
					*st.dur = d
				}
			}
			fs.DurationVar(st.dur, st.flag, *st.dur, usage)
		case st.boolean != nil:
			if env != "" {
				*st.boolean = env == "1" || strings.EqualFold(env, "true")
			}
			fs.BoolVar(st.boolean, st.flag, *st.boolean, usage)
		case st.integer != nil:
			if env != "" {
				var n int
				if _, err := fmt.Sscan(env, &n); err != nil {
					errs = append(errs, fmt.Errorf("%s: %q is not a number", st.env, env))
				} else {
					*st.integer = n
				}
			}
			fs.IntVar(st.integer, st.flag, *st.integer, usage)
		}
	}
	return errors.Join(errs...)
}

// ServerWrites reports whether the server writes activities itself through
// the Dataverse client (credentials configured) rather than the widgets
// through CIF.
func (s *Settings) ServerWrites() bool {
	return s.OrgURL != "" && s.ClientID != "" && s.ClientSecret != ""
}

// Validate checks the settings together and names every bad one.
func (s *Settings) Validate() error {
	var errs []error
	if s.ConfigPath == "" {
		errs = append(errs, errors.New("--config (CTIBRIDGE_CONFIG): is required"))
	}
	if s.Listen == "" {
		errs = append(errs, errors.New("--listen (CTIBRIDGE_LISTEN): is required"))
	}
	if s.PublicURL != "" {
		if u, err := url.Parse(s.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--public-url (CTIBRIDGE_PUBLIC_URL): %q is not an http(s) URL", s.PublicURL))
		}
	}
	if s.OrgURL != "" {
		if u, err := url.Parse(s.OrgURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--dynamics-url (CTIBRIDGE_DYNAMICS_URL): %q is not a URL such as https://contoso.crm.dynamics.com", s.OrgURL))
		}
		if (s.ClientID == "") != (s.ClientSecret == "") {
			errs = append(errs, errors.New("--client-id and --client-secret: set both, or neither to let the widgets write through CIF"))
		}
		if s.ClientID != "" && s.TenantID == "" && s.TokenURL == "" {
			errs = append(errs, errors.New("--tenant-id (CTIBRIDGE_TENANT_ID): is required with --client-id"))
		}
	}
	if s.ImpersonateAgents && !s.ServerWrites() {
		errs = append(errs, errors.New("--impersonate-agents (CTIBRIDGE_IMPERSONATE_AGENTS): needs server writes (--dynamics-url, --client-id, --client-secret); without them the widgets write through CIF, as the agent's own Dynamics user already"))
	}
	switch s.Telephony {
	case "", config.SourceWebhook, config.SourceSimulator, config.SourceSIP, config.SourceIPScape:
	default:
		errs = append(errs, fmt.Errorf("--telephony (CTIBRIDGE_TELEPHONY): %q is not a telephony source; use %s", s.Telephony, strings.Join(config.Sources, ", ")))
	}
	if s.WebhookSecret != "" {
		// Each secret alone authenticates events: a short one could be
		// guessed offline from one captured request and its signature.
		for i, secret := range strings.Split(s.WebhookSecret, ",") {
			if n := len(strings.TrimSpace(secret)); n < 32 {
				errs = append(errs, fmt.Errorf("--webhook-secret (CTIBRIDGE_WEBHOOK_SECRET): secret %d of the comma-separated list is %d bytes; use at least 32 random bytes, e.g. openssl rand -hex 32", i+1, n))
			}
		}
	}
	if _, err := agent.ParseTrustedProxies(s.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("--trusted-proxies (CTIBRIDGE_TRUSTED_PROXIES): %w", err))
	}
	if s.SessionKey == "" && store.IsPostgresURL(s.StorePath) {
		// Instances sharing a store serve the same agents: each must
		// accept the tokens the others sign.
		errs = append(errs, errors.New("--session-key (CTIBRIDGE_SESSION_KEY): is required with a PostgreSQL store, the same on every instance"))
	}
	if s.SessionKey != "" && len(s.SessionKey) < 32 {
		errs = append(errs, errors.New("--session-key (CTIBRIDGE_SESSION_KEY): must be at least 32 bytes"))
	}
	if s.OutboxRetention < time.Hour {
		errs = append(errs, fmt.Errorf("--outbox-retention (CTIBRIDGE_OUTBOX_RETENTION): %v; keep written writes at least 1h, e.g. 168h", s.OutboxRetention))
	}
	if s.SessionTTL <= 0 {
		errs = append(errs, errors.New("--session-ttl (CTIBRIDGE_SESSION_TTL): must be positive"))
	}
	if s.OutboxBatch < 1 || s.OutboxBatch > dataverse.MaxBatchRequests {
		errs = append(errs, fmt.Errorf("--outbox-batch (CTIBRIDGE_OUTBOX_BATCH): %d; use 1 (no batching) to %d, Dataverse's limit per $batch", s.OutboxBatch, dataverse.MaxBatchRequests))
	}
	if _, err := s.ParseWrapCodes(); err != nil {
		errs = append(errs, err)
	}
	if s.DebugListen != "" {
		if err := validDebugListen(s.DebugListen); err != nil {
			errs = append(errs, err)
		}
	}
	switch s.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level (CTIBRIDGE_LOG_LEVEL): %q; use debug, info, warn or error", s.LogLevel))
	}
	return errors.Join(errs...)
}

// ParseWrapCodes reads "code=Label,code=Label".
func (s *Settings) ParseWrapCodes() ([]callflow.WrapCode, error) {
	var out []callflow.WrapCode
	if strings.TrimSpace(s.WrapCodes) == "" {
		return nil, nil
	}
	for i, item := range strings.Split(s.WrapCodes, ",") {
		code, label, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || strings.TrimSpace(code) == "" || strings.TrimSpace(label) == "" {
			return nil, fmt.Errorf("--wrap-codes (CTIBRIDGE_WRAP_CODES): item %d %q is not code=Label", i+1, item)
		}
		out = append(out, callflow.WrapCode{Code: strings.TrimSpace(code), Label: strings.TrimSpace(label)})
	}
	return out, nil
}

// Getenv is os.Getenv, for Bind.
var Getenv = os.Getenv

// TelephonySource is the source of call events: the config's, else this
// setting, else webhook. A setting that contradicts the config is an error
// naming both, and so is a source that lacks what it needs.
func (s *Settings) TelephonySource(cfg *config.Config) (string, error) {
	source := cfg.EffectiveSource()
	switch {
	case source == "" && s.Telephony == "":
		source = config.SourceWebhook
	case source == "":
		source = s.Telephony
	case s.Telephony != "" && s.Telephony != source:
		return "", fmt.Errorf("--telephony (CTIBRIDGE_TELEPHONY) %s contradicts the config's telephony source %s (telephony.source, or ipSCAPE's bundle in scripts): set one of them", s.Telephony, source)
	}
	switch source {
	case config.SourceWebhook:
		if s.WebhookSecret == "" {
			return "", errors.New("--webhook-secret (CTIBRIDGE_WEBHOOK_SECRET): is required with the webhook telephony source; use 32+ random bytes")
		}
	case config.SourceSIP:
		if cfg.Telephony.SIP.Server == "" {
			return "", errors.New(`telephony source sip: the config has no telephony.sip block; add "telephony": {"source": "sip", "sip": {"server": "wss://...", "domain": "..."}}`)
		}
	}
	return source, nil
}
