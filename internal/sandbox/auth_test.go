package sandbox_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/ctibridge/ctibridge/internal/sandbox"
	"github.com/ctibridge/ctibridge/internal/testclock"
)

const (
	clientID     = "3f2c6e0a-1b2c-4d5e-8f90-a1b2c3d4e5f6"
	clientSecret = "s3cret~value"
	tenant       = "contoso.onmicrosoft.com"
)

func authOptions(clock *testclock.Clock) sandbox.Options {
	o := testOptions()
	o.RequireAuth = true
	o.Clients = map[string]string{clientID: clientSecret}
	o.Now = clock.Now
	return o
}

func tokenRequest(t *testing.T, srvURL string, form url.Values, basic bool) response {
	t.Helper()
	req, _ := http.NewRequest("POST", srvURL+"/"+tenant+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(form.Get("client_id"), form.Get("client_secret"))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	b, _ := json.Marshal(body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func TestTokenEndpoint(t *testing.T) {
	clock := testclock.New(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	_, srv := newServer(t, authOptions(clock))
	scope := srv.URL + "/.default"
	form := func(kv ...string) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}, "scope": {scope}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}
	tests := []struct {
		name   string
		form   url.Values
		basic  bool
		status int
		error  string
		aadsts string
	}{
		{name: "client secret in the form", form: form(), status: 200},
		{name: "client secret in basic auth", form: form(), basic: true, status: 200},
		{name: "wrong secret", form: form("client_secret", "nope"), status: 401, error: "invalid_client", aadsts: "AADSTS7000215"},
		{name: "unknown client", form: form("client_id", "someone-else"), status: 400, error: "unauthorized_client", aadsts: "AADSTS700016"},
		{name: "missing secret", form: form("client_secret", ""), status: 401, error: "invalid_client", aadsts: "AADSTS7000218"},
		{name: "other grant", form: form("grant_type", "password"), status: 400, error: "unsupported_grant_type"},
		{name: "scope without /.default", form: form("scope", srv.URL), status: 400, error: "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tokenRequest(t, srv.URL, tt.form, tt.basic)
			wantStatus(t, r, tt.status)
			m := r.json(t)
			if tt.status == 200 {
				if m["token_type"] != "Bearer" || m["expires_in"] != float64(3600) || m["access_token"] == "" {
					t.Errorf("token response = %v", m)
				}
				return
			}
			if m["error"] != tt.error {
				t.Errorf("error = %v, want %s", m["error"], tt.error)
			}
			if desc, _ := m["error_description"].(string); !strings.HasPrefix(desc, tt.aadsts) {
				t.Errorf("error_description = %q, want it to start with %s", desc, tt.aadsts)
			}
		})
	}
}

func TestBearerTokenOnAPI(t *testing.T) {
	clock := testclock.New(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	_, srv := newServer(t, authOptions(clock))
	token := tokenRequest(t, srv.URL, url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}, "scope": {srv.URL + "/.default"}}, false).json(t)["access_token"].(string)
	otherAudience := tokenRequest(t, srv.URL, url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}, "scope": {"https://org.crm.dynamics.com/.default"}}, false).json(t)["access_token"].(string)

	tests := []struct {
		name   string
		header []string
		status int
		msg    string
	}{
		{name: "no token", status: 401, msg: "no bearer token"},
		{name: "not bearer", header: []string{"Authorization", "Basic abc"}, status: 401},
		{name: "garbage token", header: []string{"Authorization", "Bearer abc.def.ghi"}, status: 401, msg: "signature"},
		{name: "tampered token", header: []string{"Authorization", "Bearer " + token[:len(token)-2] + "xx"}, status: 401},
		{name: "token for another organization", header: []string{"Authorization", "Bearer " + otherAudience}, status: 401, msg: "audience"},
		{name: "valid token", header: []string{"Authorization", "Bearer " + token}, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, srv, "GET", api+"WhoAmI", "", tt.header...)
			wantStatus(t, r, tt.status)
			if tt.status == 401 {
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer authorization_uri=") {
					t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
				}
				if tt.msg != "" {
					wantError(t, r, 401, "", tt.msg)
				}
				return
			}
			if r.json(t)["UserId"] != sandbox.AppUserID(clientID) {
				t.Errorf("WhoAmI UserId = %v, want the application user %s", r.json(t)["UserId"], sandbox.AppUserID(clientID))
			}
		})
	}
	// Records written with the token belong to the application user.
	id := createRecord(t, srv, "contacts", `{"lastname":"Token"}`, "Authorization", "Bearer "+token)
	if owner := call(t, srv, "GET", api+"contacts("+id+")", "", "Authorization", "Bearer "+token).json(t)["_ownerid_value"]; owner != sandbox.AppUserID(clientID) {
		t.Errorf("owner = %v, want %s", owner, sandbox.AppUserID(clientID))
	}
	// The token expires with the clock.
	clock.Advance(time.Hour)
	wantError(t, call(t, srv, "GET", api+"WhoAmI", "", "Authorization", "Bearer "+token), 401, "", "expired")
}

func TestOAuth2ClientCredentialsFlow(t *testing.T) {
	clock := testclock.New(time.Now())
	_, srv := newServer(t, authOptions(clock))
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleAutoDetect, oauth2.AuthStyleInParams, oauth2.AuthStyleInHeader} {
		cfg := clientcredentials.Config{
			ClientID: clientID, ClientSecret: clientSecret,
			TokenURL:  srv.URL + "/" + tenant + "/oauth2/v2.0/token",
			Scopes:    []string{srv.URL + "/.default"},
			AuthStyle: style,
		}
		client := cfg.Client(context.Background())
		resp, err := client.Get(srv.URL + api + "WhoAmI")
		if err != nil {
			t.Fatalf("auth style %v: %v", style, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("auth style %v: WhoAmI = %d", style, resp.StatusCode)
		}
	}
}
