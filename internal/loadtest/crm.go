package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ctibridge/ctibridge/internal/sandbox"
)

// apiPath is the sandbox's Web API root.
const apiPath = "/api/data/v9.2/"

// CRM talks to the sandbox CRM: its admin endpoints (faults, request
// counts) and its Web API, to read back the activities a run left. The
// sandbox counts this client's requests too, so a run reads the counts
// before reading anything back.
type CRM struct {
	// BaseURL is the sandbox's root, such as http://127.0.0.1:8081.
	BaseURL string
	// Tenant, ClientID and ClientSecret get a token from the sandbox's token
	// endpoint when it requires one; empty ClientID sends no token.
	Tenant, ClientID, ClientSecret string
	HTTP                           *http.Client

	mu    sync.Mutex
	token string
}

func (c *CRM) client() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// Stats returns the sandbox's request counters.
func (c *CRM) Stats(ctx context.Context) (sandbox.Stats, error) {
	var s sandbox.Stats
	err := c.admin(ctx, http.MethodGet, "/_sandbox/stats", nil, &s)
	return s, err
}

// countDataverse fills tr's Dataverse counts from the sandbox's counters
// before and after the run: HTTP requests (a $batch is one) and the
// operations they carried (a $batch of 100 writes is 100), each per
// completed call, so batching shows as fewer requests and never as fewer
// writes.
func countDataverse(tr *TargetReport, before, after sandbox.Stats) {
	tr.DataverseBreakdown = diffCounts(after.Requests, before.Requests)
	// Token requests go to Entra ID, not Dataverse, and are not under
	// Dataverse's service protection limits: counted apart.
	tr.TokenRequests = tr.DataverseBreakdown["POST token"]
	tr.DataverseRequests = after.Total - before.Total - tr.TokenRequests
	tr.DataverseOperations = after.Operations - before.Operations
	tr.DataverseBatchOperations = diffCounts(after.BatchOperations, before.BatchOperations)
	tr.DataverseFaults = diffCounts(after.Faults, before.Faults)
	if tr.CallsCompleted > 0 {
		tr.DataverseRequestsPerCall = perCall(tr.DataverseRequests, tr.CallsCompleted)
		tr.DataverseOperationsPerCall = perCall(tr.DataverseOperations, tr.CallsCompleted)
	}
}

func perCall(n, calls int64) float64 {
	return math.Round(float64(n)/float64(calls)*1e4) / 1e4
}

// SetFaults sets the sandbox's injected faults; the zero Faults clears them.
func (c *CRM) SetFaults(ctx context.Context, f sandbox.Faults) error {
	body, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return c.admin(ctx, http.MethodPost, "/_sandbox/faults", body, nil)
}

func (c *CRM) admin(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	// The sandbox's own endpoints take the Web API's token when it
	// requires one.
	token, err := c.bearer(ctx)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.client().Do(req)
	if err != nil {
		return fmt.Errorf("sandbox %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("sandbox %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("sandbox %s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

// ActivityColumns are the phone call columns the config writes to: the
// interaction id column (the alternate key) and the wrap code column,
// lower-cased. Without an interaction id column the run finds each call's
// activity by the interaction id the widget puts in its wrap notes.
type ActivityColumns struct {
	InteractionID string
	WrapCode      string
}

// Activities reads every phone call created since the run began,
// following the paging links, retrying throttled requests. Each is tied to
// its call by the interaction id column or, without one, by the
// interaction id the widget wrote into the wrap notes; a phone call tied
// to none (a duplicate create the wrap never reached, say) keeps an empty
// InteractionID, so nothing created during the run escapes the count. The
// CRM must serve this run alone.
func (c *CRM) Activities(ctx context.Context, runID string, cols ActivityColumns, since time.Time) ([]Activity, error) {
	sel := []string{"activityid", "statecode", "statuscode", "_regardingobjectid_value", "description", "createdon"}
	if cols.InteractionID != "" {
		sel = append(sel, cols.InteractionID)
	}
	if cols.WrapCode != "" {
		sel = append(sel, cols.WrapCode)
	}
	// No $filter on createdon: the sandbox's $filter has no datetime
	// literals. Every phone call is read and the time compared here.
	q := url.Values{"$select": {strings.Join(sel, ",")}}
	next := c.BaseURL + apiPath + "phonecalls?" + strings.ReplaceAll(q.Encode(), "+", "%20")
	idInNotes := regexp.MustCompile(regexp.QuoteMeta(runID) + `-[0-9]+`)
	var out []Activity
	for next != "" {
		var page struct {
			Value    []map[string]any `json:"value"`
			NextLink string           `json:"@odata.nextLink"`
		}
		if err := c.apiGet(ctx, next, &page); err != nil {
			return nil, err
		}
		for _, row := range page.Value {
			created, err := time.Parse(time.RFC3339Nano, str(row["createdon"]))
			if err != nil {
				return nil, fmt.Errorf("phone call %s: createdon %q: %w", str(row["activityid"]), str(row["createdon"]), err)
			}
			if created.Before(since) {
				continue
			}
			a := Activity{
				ID:          str(row["activityid"]),
				RegardingID: str(row["_regardingobjectid_value"]),
				StateCode:   num(row["statecode"]),
				StatusCode:  num(row["statuscode"]),
			}
			if cols.InteractionID != "" {
				a.InteractionID = str(row[cols.InteractionID])
			} else {
				a.InteractionID = idInNotes.FindString(str(row["description"]))
			}
			if a.InteractionID != "" && !strings.HasPrefix(a.InteractionID, runID+"-") {
				// Another run's call written late: not this run's to count.
				continue
			}
			if cols.WrapCode != "" {
				a.WrapCode = str(row[cols.WrapCode])
			}
			out = append(out, a)
		}
		next = page.NextLink
	}
	return out, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

// apiGet runs one Web API GET, retrying 429 and 503 after their
// Retry-After (the fault run keeps its faults on while it counts) and
// connection failures, for up to two minutes.
func (c *CRM) apiGet(ctx context.Context, u string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for attempt := 1; ; attempt++ {
		wait, err := c.tryGet(ctx, u, out)
		if err == nil {
			return nil
		}
		if wait == 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (after %d attempts; last: %v)", ctx.Err(), attempt, err)
		case <-time.After(wait):
		}
	}
}

// tryGet returns how long to wait before retrying, 0 for an error not
// worth retrying.
func (c *CRM) tryGet(ctx context.Context, u string, out any) (time.Duration, error) {
	token, err := c.bearer(ctx)
	if err != nil {
		return time.Second, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("OData-Version", "4.0")
	req.Header.Set("Prefer", "odata.maxpagesize=5000")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.client().Do(req)
	if err != nil {
		return 500 * time.Millisecond, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		wait := time.Second
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			wait = time.Duration(s) * time.Second
		}
		return wait, fmt.Errorf("GET %s: %s", u, resp.Status)
	case resp.StatusCode == http.StatusUnauthorized && token != "":
		c.mu.Lock()
		c.token = ""
		c.mu.Unlock()
		return 100 * time.Millisecond, fmt.Errorf("GET %s: %s", u, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return 0, fmt.Errorf("GET %s: %s: %s", u, resp.Status, bytes.TrimSpace(data))
	}
	if err := json.Unmarshal(data, out); err != nil {
		return 0, fmt.Errorf("GET %s: decode: %w", u, err)
	}
	return 0, nil
}

// bearer returns a token from the sandbox's client-credentials endpoint,
// or "" when no client is configured.
func (c *CRM) bearer(ctx context.Context) (string, error) {
	if c.ClientID == "" {
		return "", nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" {
		return c.token, nil
	}
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {c.ClientSecret},
		"scope": {c.BaseURL + "/.default"},
	}
	tenant := c.Tenant
	if tenant == "" {
		tenant = "common"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/"+tenant+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.client().Do(req)
	if err != nil {
		return "", fmt.Errorf("sandbox token: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		return "", fmt.Errorf("sandbox token: %s: %s", resp.Status, body.Error)
	}
	c.token = body.AccessToken
	return c.token, nil
}
