package dataverse

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	// DefaultMaxConcurrency stays well under Dataverse's 52 concurrent
	// requests per user, leaving room for other clients of the same
	// application user.
	DefaultMaxConcurrency = 16
	// DefaultMaxAttempts is how many times one call sends its request,
	// counting the first, before returning the last error.
	DefaultMaxAttempts = 5
	// DefaultBaseBackoff and DefaultMaxBackoff bound the exponential backoff
	// used when Dataverse gives no Retry-After.
	DefaultBaseBackoff = 250 * time.Millisecond
	DefaultMaxBackoff  = 30 * time.Second
	// DefaultRequestTimeout bounds one attempt when Config.HTTPClient is not
	// given. Dataverse itself cancels operations after two minutes.
	DefaultRequestTimeout = 2*time.Minute + 10*time.Second
	// MaxPageSize is the largest odata.maxpagesize Dataverse honours.
	MaxPageSize = 5000
)

// entraTokenURL is the Microsoft Entra ID v2 token endpoint for a tenant.
const entraTokenURL = "https://login.microsoftonline.com/%s/oauth2/v2.0/token"

// apiPath is where the Web API lives under the organisation URL.
const apiPath = "/api/data/v9.2/"

// Config configures a Client. OrgURL is required; the three credentials are
// all given (server-to-server auth) or all empty (an auth-less sandbox).
type Config struct {
	// OrgURL is the environment URL, e.g. https://contoso.crm6.dynamics.com.
	// https is required except for loopback hosts (the sandbox).
	OrgURL string
	// TenantID is the Entra ID tenant (a GUID or a domain such as
	// contoso.onmicrosoft.com). Not needed when TokenURL is set.
	TenantID string
	// ClientID and ClientSecret are the app registration's credentials; the
	// app must be an application user in the environment.
	ClientID     string
	ClientSecret string
	// TokenURL overrides https://login.microsoftonline.com/{TenantID}/oauth2/v2.0/token.
	TokenURL string
	// Scope overrides the scope derived from OrgURL, {scheme}://{host}/.default.
	Scope string
	// HTTPClient sends both Web API and token requests. The default has a
	// per-attempt timeout of DefaultRequestTimeout, keeps MaxConcurrency
	// idle connections and does not follow redirects (Dataverse does not
	// redirect API calls; a redirect must not carry the token elsewhere). A
	// client given here should not be an oauth2 client itself.
	HTTPClient *http.Client
	// MaxConcurrency caps requests in flight from this client (default 16).
	MaxConcurrency int
	// MaxAttempts bounds sends per call, the first included (default 5).
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape the full-jitter exponential backoff
	// used without Retry-After (defaults 250ms and 30s).
	BaseBackoff, MaxBackoff time.Duration
	// PageSize, if set, asks for at most this many records per page
	// (Prefer: odata.maxpagesize); Dataverse's own limit is 5000.
	PageSize int
	// Logger receives retries and throttling at Warn, request detail at
	// Debug. It never receives tokens or secrets. Default: discard.
	Logger *slog.Logger
	// OnRequest, if set, is called after every HTTP request the client sends
	// (each attempt, each token request), for metrics. It is called from
	// concurrent goroutines and must not block.
	OnRequest func(RequestInfo)
}

// RequestInfo describes one HTTP request the client sent.
type RequestInfo struct {
	// Op is the client operation ("Create", ...); Token marks requests to the
	// token endpoint.
	Op    string
	Token bool
	// Method and Status of the request; Status is 0 on a network failure.
	Method string
	Status int
	// Attempt counts sends within one call, from 1.
	Attempt  int
	Duration time.Duration
	Err      error
}

// String redacts the client secret, so a Config logged by mistake does not
// leak it.
func (c Config) String() string {
	secret := ""
	if c.ClientSecret != "" {
		secret = "[redacted]"
	}
	return fmt.Sprintf("dataverse.Config{OrgURL:%q TenantID:%q ClientID:%q ClientSecret:%s TokenURL:%q Scope:%q MaxConcurrency:%d MaxAttempts:%d BaseBackoff:%s MaxBackoff:%s PageSize:%d}",
		c.OrgURL, c.TenantID, c.ClientID, secret, c.TokenURL, c.Scope, c.MaxConcurrency, c.MaxAttempts, c.BaseBackoff, c.MaxBackoff, c.PageSize)
}

// GoString redacts like String, for %#v.
func (c Config) GoString() string { return c.String() }

// LogValue redacts like String, for slog.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// settings is a validated Config with defaults applied.
type settings struct {
	apiRoot        *url.URL // OrgURL + /api/data/v9.2/
	auth           bool
	tokenURL       string
	scope          string
	httpClient     *http.Client
	maxConcurrency int
	maxAttempts    int
	baseBackoff    time.Duration
	maxBackoff     time.Duration
	pageSize       int
	logger         *slog.Logger
}

// validate checks every field and returns all problems at once, each naming
// its field and the fix.
func (c Config) validate() (settings, error) {
	var problems []error
	add := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }
	s := settings{
		httpClient:     c.HTTPClient,
		maxConcurrency: c.MaxConcurrency,
		maxAttempts:    c.MaxAttempts,
		baseBackoff:    c.BaseBackoff,
		maxBackoff:     c.MaxBackoff,
		pageSize:       c.PageSize,
		logger:         c.Logger,
	}

	org, err := parseOrgURL(c.OrgURL)
	if err != nil {
		problems = append(problems, err)
	} else {
		root := *org
		root.Path = strings.TrimSuffix(org.Path, "/") + apiPath
		root.RawPath = ""
		s.apiRoot = &root
	}

	creds := map[string]string{"ClientID": c.ClientID, "ClientSecret": c.ClientSecret}
	if c.TokenURL == "" {
		creds["TenantID"] = c.TenantID
	}
	var given, missing []string
	for _, name := range []string{"TenantID", "ClientID", "ClientSecret"} {
		v, ok := creds[name]
		if !ok {
			continue
		}
		if v == "" {
			missing = append(missing, name)
		} else {
			given = append(given, name)
		}
	}
	switch {
	case len(given) > 0 && len(missing) > 0:
		add("%s: missing while %s is set; give all credentials, or none to call Dataverse without a token", strings.Join(missing, ", "), strings.Join(given, ", "))
	case len(given) > 0:
		s.auth = true
	case c.TokenURL != "" || c.Scope != "":
		add("ClientID, ClientSecret: missing while TokenURL or Scope is set; give the credentials or remove TokenURL and Scope")
	}
	if s.auth {
		s.tokenURL = c.TokenURL
		if s.tokenURL == "" {
			if !isTenantID(c.TenantID) {
				add("TenantID: %q is not a tenant id (a GUID or a domain such as contoso.onmicrosoft.com)", c.TenantID)
			}
			s.tokenURL = fmt.Sprintf(entraTokenURL, c.TenantID)
		} else if err := checkTokenURL(c.TokenURL); err != nil {
			problems = append(problems, err)
		}
		s.scope = c.Scope
		if s.scope == "" && org != nil {
			s.scope = org.Scheme + "://" + org.Host + "/.default"
		}
	}

	switch {
	case c.MaxConcurrency < 0:
		add("MaxConcurrency: %d is negative; use 0 for the default (%d) or a positive cap (Dataverse allows 52 per user)", c.MaxConcurrency, DefaultMaxConcurrency)
	case c.MaxConcurrency == 0:
		s.maxConcurrency = DefaultMaxConcurrency
	}
	switch {
	case c.MaxAttempts < 0:
		add("MaxAttempts: %d is negative; use 0 for the default (%d) or 1 for no retries", c.MaxAttempts, DefaultMaxAttempts)
	case c.MaxAttempts == 0:
		s.maxAttempts = DefaultMaxAttempts
	}
	if c.BaseBackoff < 0 {
		add("BaseBackoff: %s is negative; use 0 for the default (%s)", c.BaseBackoff, DefaultBaseBackoff)
	} else if c.BaseBackoff == 0 {
		s.baseBackoff = DefaultBaseBackoff
	}
	if c.MaxBackoff < 0 {
		add("MaxBackoff: %s is negative; use 0 for the default (%s)", c.MaxBackoff, DefaultMaxBackoff)
	} else if c.MaxBackoff == 0 {
		s.maxBackoff = DefaultMaxBackoff
	}
	if c.BaseBackoff >= 0 && c.MaxBackoff >= 0 && s.maxBackoff < s.baseBackoff {
		add("MaxBackoff: %s is below BaseBackoff %s; raise MaxBackoff", s.maxBackoff, s.baseBackoff)
	}
	if c.PageSize < 0 || c.PageSize > MaxPageSize {
		add("PageSize: %d is outside 0..%d (0 leaves the page size to Dataverse)", c.PageSize, MaxPageSize)
	}

	if len(problems) > 0 {
		return settings{}, fmt.Errorf("dataverse config: %w", errors.Join(problems...))
	}
	if s.httpClient == nil {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		// Keep a connection per concurrent request instead of the default 2
		// idle per host, or every burst re-dials TLS.
		transport.MaxIdleConnsPerHost = s.maxConcurrency
		s.httpClient = &http.Client{Transport: transport, Timeout: DefaultRequestTimeout}
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

func parseOrgURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("OrgURL: empty; give the environment URL, e.g. https://contoso.crm.dynamics.com")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("OrgURL: %q is not a URL: %v", raw, err)
	}
	switch {
	case u.Scheme == "" || u.Host == "":
		return nil, fmt.Errorf("OrgURL: %q is not an absolute URL; write it as https://contoso.crm.dynamics.com", raw)
	case u.User != nil:
		return nil, fmt.Errorf("OrgURL: %q holds user credentials; remove them and set ClientID and ClientSecret", redactUserinfo(u))
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("OrgURL: %q has a query or fragment; give just the environment URL", raw)
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return nil, fmt.Errorf("OrgURL: %q must use https (plain http is allowed only for a loopback sandbox)", raw)
	}
	if strings.Contains(u.Path, "/api/data") {
		return nil, fmt.Errorf("OrgURL: %q includes the Web API path; give just the environment URL, the client adds %s", raw, apiPath)
	}
	return u, nil
}

func checkTokenURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("TokenURL: %q is not an absolute URL", raw)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return fmt.Errorf("TokenURL: %q must use https (plain http is allowed only for a loopback sandbox)", raw)
	}
	return nil
}

func redactUserinfo(u *url.URL) string {
	c := *u
	c.User = url.User("redacted")
	return c.String()
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isTenantID accepts a GUID or a DNS name; anything else would change the
// token URL's path.
func isTenantID(s string) bool {
	if isGUID(s) {
		return true
	}
	if s == "" || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isUnreserved(c) && c != '_' && c != '~') {
			return false
		}
	}
	return !strings.HasPrefix(s, ".") && !strings.Contains(s, "..")
}
