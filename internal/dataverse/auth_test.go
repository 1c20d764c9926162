package dataverse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

const testSecret = "s3cr3t-v@lue"

// tokenServer is a fake Entra ID token endpoint handing out tok1, tok2, ...
type tokenServer struct {
	mu    sync.Mutex
	forms []url.Values
	// fail, if set, answers the i-th token request (from 0) instead.
	fail func(i int, w http.ResponseWriter) bool
	// expiresIn is the lifetime the tokens claim, in seconds.
	expiresIn int
	srv       *httptest.Server
}

func newTokenServer(t *testing.T) *tokenServer {
	t.Helper()
	ts := &tokenServer{expiresIn: 3600}
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/tenant-1/oauth2/v2.0/token" {
			http.Error(w, "wrong endpoint", http.StatusNotFound)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ts.mu.Lock()
		i := len(ts.forms)
		ts.forms = append(ts.forms, r.PostForm)
		ts.mu.Unlock()
		if ts.fail != nil && ts.fail(i, w) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":%d,"access_token":"tok%d"}`, ts.expiresIn, i+1)
	}))
	t.Cleanup(ts.srv.Close)
	return ts
}

func (ts *tokenServer) requests() []url.Values {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]url.Values(nil), ts.forms...)
}

func withCredentials(ts *tokenServer) func(*Config) {
	return func(c *Config) {
		c.ClientID = "app-1"
		c.ClientSecret = testSecret
		c.TokenURL = ts.srv.URL + "/tenant-1/oauth2/v2.0/token"
	}
}

// TestTokenRequestAndCaching: the token request is Entra's client
// credentials form with the scope derived from the org URL, and one token
// serves many requests while it is valid.
func TestTokenRequestAndCaching(t *testing.T) {
	ts := newTokenServer(t)
	f := newFakeDataverse(t, answer{status: 200, body: `{"value":[]}`})
	c, _ := newTestClient(t, f.srv.URL, withCredentials(ts))
	for range 3 {
		if _, err := c.RetrieveMultiple(context.Background(), "contacts", ""); err != nil {
			t.Fatal(err)
		}
	}
	forms := ts.requests()
	if len(forms) != 1 {
		t.Fatalf("%d token requests, want 1 for 3 calls", len(forms))
	}
	want := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {"app-1"},
		"client_secret": {testSecret},
		"scope":         {f.srv.URL + "/.default"},
	}
	if got := forms[0]; got.Encode() != want.Encode() {
		t.Errorf("token form = %v, want %v", got, want)
	}
	for i, r := range f.requests() {
		if a := r.Header.Get("Authorization"); a != "Bearer tok1" {
			t.Errorf("request %d Authorization = %q, want Bearer tok1", i, a)
		}
	}
	if st := c.Stats(); st.TokenRequests != 1 || st.Requests != 3 {
		t.Errorf("stats = %+v", st)
	}
}

// TestExpiringTokenIsRefetched: a token about to expire (inside oauth2's
// early-expiry margin) is not reused.
func TestExpiringTokenIsRefetched(t *testing.T) {
	ts := newTokenServer(t)
	ts.expiresIn = 5 // below the 10 s margin: stale as soon as it arrives
	f := newFakeDataverse(t, answer{status: 200, body: `{"value":[]}`})
	c, _ := newTestClient(t, f.srv.URL, withCredentials(ts))
	for range 2 {
		if _, err := c.RetrieveMultiple(context.Background(), "contacts", ""); err != nil {
			t.Fatal(err)
		}
	}
	got := f.requests()
	if n := len(ts.requests()); n != 2 || got[0].Header.Get("Authorization") != "Bearer tok1" || got[1].Header.Get("Authorization") != "Bearer tok2" {
		t.Errorf("%d token requests, Authorization %q then %q; want a fresh token per call", n, got[0].Header.Get("Authorization"), got[1].Header.Get("Authorization"))
	}
}

// TestUnauthorizedRefreshesOnce: a 401 from Dataverse drops the token,
// fetches a new one and resends once, however many 401s follow.
func TestUnauthorizedRefreshesOnce(t *testing.T) {
	unauthorized := answer{status: 401, body: `{"error":{"code":"0x80072560","message":"The user is not a member of the organization."}}`}
	tests := []struct {
		name       string
		answers    []answer
		wantErr    bool
		wantTokens int
		wantAuth   []string
	}{
		{
			name:       "401 then success with the new token",
			answers:    []answer{unauthorized, {status: 200, body: `{"value":[]}`}},
			wantTokens: 2,
			wantAuth:   []string{"Bearer tok1", "Bearer tok2"},
		},
		{
			name:       "401 twice is ErrUnauthorized after one refresh",
			answers:    []answer{unauthorized},
			wantErr:    true,
			wantTokens: 2,
			wantAuth:   []string{"Bearer tok1", "Bearer tok2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTokenServer(t)
			f := newFakeDataverse(t, tt.answers...)
			c, sleeps := newTestClient(t, f.srv.URL, withCredentials(ts))
			_, err := c.RetrieveMultiple(context.Background(), "contacts", "")
			if tt.wantErr {
				var e *Error
				if !errors.As(err, &e) || !errors.Is(err, ErrUnauthorized) || e.Retryable() || e.Code != "0x80072560" {
					t.Fatalf("err = %v, want a non-retryable ErrUnauthorized *Error", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if n := len(ts.requests()); n != tt.wantTokens {
				t.Errorf("%d token requests, want %d", n, tt.wantTokens)
			}
			var auth []string
			for _, r := range f.requests() {
				auth = append(auth, r.Header.Get("Authorization"))
			}
			if strings.Join(auth, ",") != strings.Join(tt.wantAuth, ",") {
				t.Errorf("Authorization headers = %v, want %v", auth, tt.wantAuth)
			}
			if w := sleeps.recorded(); len(w) != 0 {
				t.Errorf("waited %v before resending with a new token, want no wait", w)
			}
		})
	}
}

// TestTokenEndpointFailures: refused credentials are ErrUnauthorized and
// nothing reaches Dataverse; an unavailable endpoint is retried.
func TestTokenEndpointFailures(t *testing.T) {
	tests := []struct {
		name       string
		fail       func(i int, w http.ResponseWriter) bool
		wantErr    bool
		wantTokens int
		wantSends  int
	}{
		{
			name: "invalid client secret",
			fail: func(i int, w http.ResponseWriter) bool {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`)
				return true
			},
			wantErr: true, wantTokens: 1, wantSends: 0,
		},
		{
			name: "token endpoint unavailable once",
			fail: func(i int, w http.ResponseWriter) bool {
				if i > 0 {
					return false
				}
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			},
			wantTokens: 2, wantSends: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTokenServer(t)
			ts.fail = tt.fail
			f := newFakeDataverse(t, answer{status: 200, body: `{"value":[]}`})
			c, _ := newTestClient(t, f.srv.URL, withCredentials(ts))
			_, err := c.RetrieveMultiple(context.Background(), "contacts", "")
			if tt.wantErr {
				var e *Error
				if !errors.As(err, &e) || !errors.Is(err, ErrUnauthorized) || e.Retryable() {
					t.Fatalf("err = %v, want a non-retryable ErrUnauthorized *Error", err)
				}
				if e.Code != "invalid_client" || !strings.Contains(e.Message, "AADSTS7000215") || strings.Contains(err.Error(), testSecret) {
					t.Errorf("error = %q (code %q)", err, e.Code)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if n := len(ts.requests()); n != tt.wantTokens {
				t.Errorf("%d token requests, want %d", n, tt.wantTokens)
			}
			if n := len(f.requests()); n != tt.wantSends {
				t.Errorf("%d Dataverse requests, want %d", n, tt.wantSends)
			}
		})
	}
}

// TestSecretsNeverLogged runs a refresh, a retry and a token failure with
// debug logging on and checks that neither the secret nor a token appears.
func TestSecretsNeverLogged(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ts := newTokenServer(t)
	ts.fail = func(i int, w http.ResponseWriter) bool {
		if i != 2 {
			return false
		}
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_request","error_description":"bad"}`)
		return true
	}
	f := newFakeDataverse(t,
		answer{status: 401},
		answer{status: 429, header: map[string]string{"Retry-After": "1"}},
		answer{status: 200, body: `{"value":[]}`},
		answer{status: 401},
	)
	var infos []RequestInfo
	c, _ := newTestClient(t, f.srv.URL, func(cfg *Config) {
		withCredentials(ts)(cfg)
		cfg.Logger = logger
		cfg.OnRequest = func(ri RequestInfo) { infos = append(infos, ri) }
	})
	ctx := context.Background()
	if _, err := c.RetrieveMultiple(ctx, "contacts", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RetrieveMultiple(ctx, "contacts", ""); err == nil {
		t.Fatal("second call succeeded, want the token failure")
	}
	logger.Info("config", "cfg", Config{ClientSecret: testSecret})
	out := logs.String()
	for _, secret := range []string{testSecret, "tok1", "tok2", "Bearer"} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "retrying") || !strings.Contains(out, "refreshing the token") {
		t.Errorf("logs miss the retry and the refresh:\n%s", out)
	}
	if fmt.Sprint(Config{ClientSecret: testSecret}) == "" || strings.Contains(fmt.Sprintf("%v %+v %#v", Config{ClientSecret: testSecret}, Config{ClientSecret: testSecret}, Config{ClientSecret: testSecret}), testSecret) {
		t.Error("formatting a Config shows the secret")
	}
	var tokenInfos, apiInfos int
	for _, ri := range infos {
		if ri.Token {
			tokenInfos++
		} else {
			apiInfos++
		}
	}
	if tokenInfos != 3 || apiInfos != 4 {
		t.Errorf("OnRequest saw %d token and %d Dataverse requests, want 3 and 4", tokenInfos, apiInfos)
	}
}

// TestNoCredentialsNoAuthorization: against an auth-less sandbox no token
// is fetched and no Authorization header is sent.
func TestNoCredentialsNoAuthorization(t *testing.T) {
	f := newFakeDataverse(t, answer{status: 200, body: `{"value":[]}`})
	c, _ := newTestClient(t, f.srv.URL, nil)
	if _, err := c.RetrieveMultiple(context.Background(), "contacts", ""); err != nil {
		t.Fatal(err)
	}
	if a := f.requests()[0].Header.Values("Authorization"); len(a) != 0 {
		t.Errorf("Authorization = %q, want none", a)
	}
	if st := c.Stats(); st.TokenRequests != 0 {
		t.Errorf("token requests = %d, want 0", st.TokenRequests)
	}
}
