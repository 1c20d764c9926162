package sandbox

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The organization the sandbox pretends to be (WhoAmI).
const (
	organizationID = "00c0ffee-5a4d-4b0c-8000-000000000001"
	businessUnitID = "00c0ffee-5a4d-4b0c-8000-000000000002"
	// DefaultUserID is the systemuser that owns records written without a
	// token or impersonation header.
	DefaultUserID = "00c0ffee-5a4d-4b0c-8000-0000000000ad"
)

// authority is the local stand-in for Microsoft Entra ID: it issues
// client-credentials tokens and checks them on /api/data.
type authority struct {
	s        *Sandbox
	clients  map[string]string
	key      []byte
	lifetime time.Duration
}

func newAuthority(s *Sandbox, clients map[string]string, lifetime time.Duration) *authority {
	if lifetime <= 0 {
		lifetime = time.Hour
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &authority{s: s, clients: clients, key: key, lifetime: lifetime}
}

// derivedGUID makes a stable GUID from a name, so an application user
// keeps its id across restarts.
func derivedGUID(name string) string {
	sum := sha256.Sum256([]byte("ctibridge-sandbox:" + name))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// AppUserID is the systemuserid of the application user the sandbox
// creates for an OAuth2 client; records written with that client's token
// are owned by it.
func AppUserID(clientID string) string { return derivedGUID("app-user:" + clientID) }

// AppUserObjectID is the Entra object id of a client's application user
// (the oid claim of its tokens).
func AppUserObjectID(clientID string) string { return derivedGUID("app-oid:" + clientID) }

// tokenError is an OAuth2 error body in Entra ID's shape.
func tokenError(w http.ResponseWriter, status int, code string, aadsts int, description string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s", aadsts, description),
		"error_codes":       []int{aadsts},
		"timestamp":         time.Now().UTC().Format("2006-01-02 15:04:05Z"),
	})
}

// serveToken implements POST /{tenant}/oauth2/v2.0/token for the
// client-credentials grant, with the secret in the form
// (client_secret_post) or in Basic auth (client_secret_basic).
func (a *authority) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		tokenError(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts POST requests.")
		return
	}
	tenant := strings.Split(strings.Trim(r.URL.Path, "/"), "/")[0]
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must be application/x-www-form-urlencoded.")
		return
	}
	grant := r.PostForm.Get("grant_type")
	if grant == "" {
		tokenError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	if grant != "client_credentials" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'; the sandbox issues client_credentials tokens only.", grant))
		return
	}
	clientID, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if user, pass, ok := r.BasicAuth(); ok {
		clientID, secret = user, pass
	}
	if clientID == "" {
		tokenError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	}
	want, known := a.clients[clientID]
	if !known {
		tokenError(w, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. Add it to the sandbox Options.Clients.", clientID, tenant))
		return
	}
	if secret == "" {
		tokenError(w, http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(want)) != 1 {
		tokenError(w, http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID))
		return
	}
	scope := r.PostForm.Get("scope")
	resource, ok := strings.CutSuffix(scope, "/.default")
	if !ok || resource == "" || strings.Contains(scope, " ") {
		tokenError(w, http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope))
		return
	}
	now := a.s.now()
	token, err := a.issue(clientID, tenant, resource, now)
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error", 50000, "Issuing the token failed.")
		return
	}
	seconds := int(a.lifetime / time.Second)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token_type":     "Bearer",
		"expires_in":     seconds,
		"ext_expires_in": seconds,
		"access_token":   token,
	})
}

// tokenClaims are the claims of a sandbox access token: the ones a
// Dataverse token carries that matter here.
type tokenClaims struct {
	Aud   string `json:"aud"`
	Iss   string `json:"iss"`
	Iat   int64  `json:"iat"`
	Nbf   int64  `json:"nbf"`
	Exp   int64  `json:"exp"`
	AppID string `json:"appid"`
	OID   string `json:"oid"`
	Sub   string `json:"sub"`
	TID   string `json:"tid"`
	JTI   string `json:"jti"`
}

var b64 = base64.RawURLEncoding

// issue signs a JWT-shaped token (HS256 with a key that lives only in this
// process), so tokens are opaque to clients yet checkable without storage.
func (a *authority) issue(clientID, tenant, resource string, now time.Time) (string, error) {
	header, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	var jti [12]byte
	_, _ = rand.Read(jti[:])
	claims, err := json.Marshal(tokenClaims{
		Aud: strings.TrimSuffix(resource, "/"), Iss: "https://sts.sandbox.local/" + tenant + "/",
		Iat: now.Unix(), Nbf: now.Unix(), Exp: now.Add(a.lifetime).Unix(),
		AppID: clientID, OID: AppUserObjectID(clientID), Sub: AppUserObjectID(clientID), TID: tenant,
		JTI: b64.EncodeToString(jti[:]),
	})
	if err != nil {
		return "", err
	}
	unsigned := b64.EncodeToString(header) + "." + b64.EncodeToString(claims)
	return unsigned + "." + b64.EncodeToString(a.sign(unsigned)), nil
}

func (a *authority) sign(data string) []byte {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// verify checks a bearer token's signature, lifetime and audience.
func (a *authority) verify(token, host string) (*tokenClaims, string) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, "The access token is malformed."
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, a.sign(parts[0]+"."+parts[1])) {
		return nil, "The access token signature is invalid; it was not issued by this sandbox."
	}
	raw, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, "The access token is malformed."
	}
	var c tokenClaims
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, "The access token is malformed."
	}
	now := a.s.now().Unix()
	if now >= c.Exp {
		return nil, "The access token expired."
	}
	if now < c.Nbf {
		return nil, "The access token is not yet valid."
	}
	if _, known := a.clients[c.AppID]; !known {
		return nil, "The application of the access token is no longer registered."
	}
	aud := c.Aud
	if i := strings.Index(aud, "://"); i >= 0 {
		aud = aud[i+3:]
	}
	aud = strings.TrimSuffix(aud, "/")
	if !strings.EqualFold(aud, host) {
		return nil, fmt.Sprintf("The access token's audience '%s' does not match this organization '%s'; request the token with scope %s/.default.", c.Aud, host, host)
	}
	return &c, ""
}

// authenticate checks the bearer token when RequireAuth is set and returns
// the systemuserid of the caller.
func (s *Sandbox) authenticate(r *http.Request) (string, error) {
	authz := r.Header.Get("Authorization")
	if !s.opts.RequireAuth && authz == "" {
		return DefaultUserID, nil
	}
	fail := func(desc string) error {
		e := newError(http.StatusUnauthorized, codeNotAuthenticated, "%s", desc)
		e.Header = http.Header{}
		e.Header.Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization_uri=%s://%s/common/oauth2/authorize, resource_id=%s://%s/, error="invalid_token", error_description=%q`,
			schemeOf(r), r.Host, schemeOf(r), r.Host, desc))
		return e
	}
	token, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		return "", fail("The request has no bearer token; send Authorization: Bearer <token> from the token endpoint.")
	}
	claims, problem := s.auth.verify(strings.TrimSpace(token), r.Host)
	if claims == nil {
		return "", fail(problem)
	}
	return AppUserID(claims.AppID), nil
}

func schemeOf(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// impersonate applies the CallerObjectId (Entra object id) or
// MSCRMCallerID (systemuserid) header: the named user becomes the caller
// and so the owner of the records the request creates.
func (s *Sandbox) impersonate(ctx context.Context, h http.Header, callerID string) (string, error) {
	db := dbConn{s: s}
	if v := strings.TrimSpace(h.Get("MSCRMCallerID")); v != "" {
		id, ok := parseGUID(v)
		if !ok {
			return "", newError(http.StatusBadRequest, codeInvalidArgument, "The MSCRMCallerID header '%s' is not a GUID; send the systemuserid of the user to impersonate.", v)
		}
		user, err := s.getByID(ctx, db, s.sch().table("systemuser"), id)
		if err != nil {
			return "", err
		}
		if user == nil {
			return "", errRecordNotFound(s.sch().table("systemuser"), id)
		}
		return id, nil
	}
	if v := strings.TrimSpace(h.Get("CallerObjectId")); v != "" {
		oid, ok := parseGUID(v)
		if !ok {
			return "", newError(http.StatusBadRequest, codeInvalidArgument, "The CallerObjectId header '%s' is not a GUID; send the Entra ID object id of the user to impersonate.", v)
		}
		rows, err := db.query(ctx, `SELECT "systemuserid" FROM "systemusers" WHERE "azureactivedirectoryobjectid" = ?`, oid)
		if err != nil {
			return "", fmt.Errorf("sandbox: finding user %s: %w", oid, err)
		}
		defer rows.Close()
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return "", err
			}
			return "", newError(http.StatusNotFound, codeObjectDoesNotExist, "No systemuser has azureactivedirectoryobjectid %s; the user to impersonate must exist in the organization.", oid)
		}
		var id string
		if err := rows.Scan(&id); err != nil {
			return "", err
		}
		return id, nil
	}
	return callerID, nil
}

// ensureUsers creates the default user, an application user per OAuth2
// client and the demo agents, when missing.
func (s *Sandbox) ensureUsers(ctx context.Context) error {
	type user struct {
		id, first, last, domain, oid, app string
	}
	users := []user{{id: DefaultUserID, first: "Sandbox", last: "Administrator", domain: "admin@sandbox.local", oid: derivedGUID("admin-oid")}}
	for _, clientID := range sortedKeys(s.opts.Clients) {
		app := ""
		if g, ok := parseGUID(clientID); ok {
			app = g
		}
		users = append(users, user{id: AppUserID(clientID), first: "#", last: clientID, domain: "app-" + clientID + "@sandbox.local", oid: AppUserObjectID(clientID), app: app})
	}
	for _, a := range DemoAgents {
		users = append(users, user{id: a.SystemUserID, first: a.FirstName, last: a.LastName, domain: a.Email, oid: a.ObjectID})
	}
	t := s.sch().table("systemuser")
	return s.inTx(ctx, func(db dbConn) error {
		for _, u := range users {
			existing, err := s.getByID(ctx, db, t, u.id)
			if err != nil {
				return err
			}
			if existing != nil {
				continue
			}
			values := map[string]any{
				"systemuserid": u.id, "firstname": u.first, "lastname": u.last,
				"fullname": strings.TrimSpace(u.first + " " + u.last), "domainname": u.domain,
				"internalemailaddress": u.domain, "azureactivedirectoryobjectid": u.oid,
			}
			if u.app != "" {
				values["applicationid"] = u.app
			}
			if _, err := s.create(ctx, db, t, &change{values: values, binds: map[string]bindRef{}}, actor{user: DefaultUserID}, "", ""); err != nil {
				return fmt.Errorf("sandbox: creating user %s: %w", u.domain, err)
			}
		}
		return nil
	})
}
