package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// crm reads the demo's sandbox CRM through its Dataverse Web API, as any
// client of Dynamics would: these checks do not trust the page.
type crm struct {
	base string // .../api/data/v9.2
}

func newCRM(baseURL string) *crm {
	return &crm{base: strings.TrimSuffix(baseURL, "/") + "/api/data/v9.2"}
}

// activity is a phone call or task as the Web API returns it.
type activity struct {
	ID            string `json:"activityid"`
	Subject       string `json:"subject"`
	PhoneNumber   string `json:"phonenumber"`
	StateCode     int    `json:"statecode"`
	StatusCode    int    `json:"statuscode"`
	WrapCode      string `json:"new_wrapcode"`
	InteractionID string `json:"new_agentinteractionid"`
	RegardingID   string `json:"_regardingobjectid_value"`
	// RegardingEntity is the regarding record's table, from the
	// lookuplogicalname annotation.
	RegardingEntity string  `json:"_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname"`
	Parties         []party `json:"phonecall_activity_parties"`
}

type party struct {
	PartyID     string `json:"_partyid_value"`
	PartyEntity string `json:"_partyid_value@Microsoft.Dynamics.CRM.lookuplogicalname"`
	Mask        int    `json:"participationtypemask"`
}

const activityColumns = "activityid,subject,statecode,statuscode,new_wrapcode,new_agentinteractionid,_regardingobjectid_value"

// phoneCalls returns every phone call the sandbox holds for the interaction.
func (c *crm) phoneCalls(t *testing.T, interactionID string) []activity {
	t.Helper()
	return c.list(t, "phonecalls", url.Values{
		"$select": {activityColumns + ",phonenumber"},
		"$filter": {fmt.Sprintf("new_agentinteractionid eq '%s'", strings.ReplaceAll(interactionID, "'", "''"))},
		"$expand": {"phonecall_activity_parties($select=_partyid_value,participationtypemask)"},
	})
}

// allPhoneCalls returns every phone call in the sandbox.
func (c *crm) allPhoneCalls(t *testing.T) []activity {
	t.Helper()
	return c.list(t, "phonecalls", url.Values{"$select": {activityColumns}})
}

// tasksOf returns the tasks the sandbox holds for the interaction.
func (c *crm) tasksOf(t *testing.T, interactionID string) []activity {
	t.Helper()
	return c.list(t, "tasks", url.Values{
		"$select": {activityColumns},
		"$filter": {fmt.Sprintf("new_agentinteractionid eq '%s'", strings.ReplaceAll(interactionID, "'", "''"))},
	})
}

// tasks returns every task in the sandbox.
func (c *crm) tasks(t *testing.T) []activity {
	t.Helper()
	return c.list(t, "tasks", url.Values{"$select": {activityColumns}})
}

func (c *crm) list(t *testing.T, set string, q url.Values) []activity {
	t.Helper()
	rows, err := c.get(set, q)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func (c *crm) get(set string, q url.Values) ([]activity, error) {
	u := c.base + "/" + set + "?" + strings.ReplaceAll(q.Encode(), "+", "%20")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("OData-Version", "4.0")
	req.Header.Set("Prefer", `odata.include-annotations="*"`)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", u, res.Status, body)
	}
	var page struct {
		Value []activity `json:"value"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, fmt.Errorf("GET %s: %w in %s", u, err, body)
	}
	return page.Value, nil
}

// waitPhoneCall polls the Web API until the interaction's phone call
// satisfies done (the outbox writes after the page has moved on), and
// returns it. It fails when the interaction has more than one phone call.
func (c *crm) waitPhoneCall(t *testing.T, interactionID, what string, done func(activity) bool) activity {
	t.Helper()
	return c.waitOne(t, "phone call", interactionID, what, c.phoneCalls, done)
}

// waitTask is waitPhoneCall for the interaction's preview task.
func (c *crm) waitTask(t *testing.T, interactionID, what string, done func(activity) bool) activity {
	t.Helper()
	return c.waitOne(t, "task", interactionID, what, c.tasksOf, done)
}

func (c *crm) waitOne(t *testing.T, kind, interactionID, what string, list func(*testing.T, string) []activity, done func(activity) bool) activity {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		got := list(t, interactionID)
		if len(got) > 1 {
			t.Fatalf("interaction %s has %d %ss in the CRM, want exactly one: %+v", interactionID, len(got), kind, got)
		}
		if len(got) == 1 && done(got[0]) {
			return got[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for the %s of %s to be %s; the CRM holds %+v", waitTimeout, kind, interactionID, what, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Dataverse phone call and task states (see docs/sandbox.md).
const (
	stateOpen      = 0
	stateCompleted = 1

	phoneCallOpen     = 1
	phoneCallMade     = 2
	phoneCallReceived = 4

	taskNotStarted = 2
	taskCompleted  = 5
)
