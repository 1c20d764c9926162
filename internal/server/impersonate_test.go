package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ctibridge/ctibridge/internal/agent"
	"github.com/ctibridge/ctibridge/internal/sandbox"
)

// impersonating restarts h's server with --impersonate-agents and gives
// agents 1001 and 1002 the sandbox's first two demo users, looked up
// through the Web API as ctibridge agent dynamics-user does: 1001 by
// sign-in name, 1002 by systemuserid. Agent 1003 has a login and no user.
func impersonating(t *testing.T, h *harness) {
	t.Helper()
	h.shutdown()
	h.settings.ImpersonateAgents = true
	h.start()
	ctx := context.Background()
	for i, nameOrID := range map[string]string{"1001": sandbox.DemoAgents[0].Email, "1002": sandbox.DemoAgents[1].SystemUserID} {
		u, err := h.srv.Dataverse.FindUser(ctx, nameOrID)
		if err != nil {
			t.Fatal(err)
		}
		if i != "1001" {
			if err := h.srv.Creds.Set(ctx, i, "2345", ""); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.srv.Creds.SetDynamicsUser(ctx, i, agent.DynamicsUser{SystemUserID: u.SystemUserID, ObjectID: u.ObjectID, Name: u.DomainName}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.srv.Creds.Set(ctx, "1003", "3456", ""); err != nil {
		t.Fatal(err)
	}
}

// eventOf is event for another agent than 1001.
func eventOf(agentID, id, typ, ix, extra string) string {
	return strings.Replace(event(id, typ, ix, "inbound", extra), `"agentId":"1001"`, fmt.Sprintf("%q:%q", "agentId", agentID), 1)
}

// stamps returns who the sandbox says created, last modified and owns the
// phone call of interaction ix, and on whose behalf it was created.
func (h *harness) stamps(ix string) map[string]any {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.crmURL+"/api/data/v9.2/phonecalls?$select=activityid,statecode,_createdby_value,_modifiedby_value,_ownerid_value,_createdonbehalfby_value,_modifiedonbehalfby_value&$filter="+
		url.QueryEscape("new_agentinteractionid eq '"+ix+"'"), nil)
	req.Header.Set("Authorization", "Bearer "+h.crmToken())
	status, body := h.do(req)
	var out struct{ Value []map[string]any }
	json.Unmarshal([]byte(body), &out)
	if status != http.StatusOK || len(out.Value) != 1 {
		h.t.Fatalf("phone calls of %s: %d %s", ix, status, body)
	}
	return out.Value[0]
}

// applicationUser is the sandbox's systemuserid of ctibridge's client.
func (h *harness) applicationUser() string {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.crmURL+"/api/data/v9.2/WhoAmI", nil)
	req.Header.Set("Authorization", "Bearer "+h.crmToken())
	_, body := h.do(req)
	var out struct{ UserId string }
	json.Unmarshal([]byte(body), &out)
	if out.UserId == "" {
		h.t.Fatalf("WhoAmI: %s", body)
	}
	return out.UserId
}

func TestImpersonationWritesEachCallAsItsAgentsDynamicsUser(t *testing.T) {
	h := newHarness(t, sampleConfig)
	impersonating(t, h)
	for _, agentID := range []string{"1001", "1002", "1003"} {
		ix := "IX-IMP-" + agentID
		h.send(eventOf(agentID, ix+"-1", "callStarted", ix, ""))
		h.send(eventOf(agentID, ix+"-2", "callHangup", ix, ""))
		h.send(eventOf(agentID, ix+"-3", "callWrapped", ix, `"wrapCode":"1"`))
	}
	waitFor(t, "the outbox to drain", func() bool { return h.outboxDepth() == 0 })

	app := h.applicationUser()
	for _, tt := range []struct {
		name, agentID, user, onBehalfBy string
	}{
		{"agent 1001 by sign-in name", "1001", sandbox.DemoAgents[0].SystemUserID, app},
		{"agent 1002 by systemuserid", "1002", sandbox.DemoAgents[1].SystemUserID, app},
		{"agent 1003 without a user: the application user", "1003", app, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := h.stamps("IX-IMP-" + tt.agentID)
			if fmt.Sprint(got["statecode"]) != "1" {
				t.Errorf("statecode = %v, want 1 (completed)", got["statecode"])
			}
			for _, col := range []string{"_createdby_value", "_modifiedby_value", "_ownerid_value"} {
				if got[col] != tt.user {
					t.Errorf("%s = %v, want %s", col, got[col], tt.user)
				}
			}
			for _, col := range []string{"_createdonbehalfby_value", "_modifiedonbehalfby_value"} {
				if want := any(tt.onBehalfBy); tt.onBehalfBy == "" && got[col] != nil || tt.onBehalfBy != "" && got[col] != want {
					t.Errorf("%s = %v, want %q", col, got[col], tt.onBehalfBy)
				}
			}
		})
	}
	if n := strings.Count(h.logs.String(), "agent has no Dynamics user"); n != 1 {
		t.Errorf("the missing user of agent 1003 was logged %d times, want once", n)
	}
}

func TestImpersonationRefusesTheLoginOfAnAgentWithoutADynamicsUser(t *testing.T) {
	h := newHarness(t, sampleConfig)
	impersonating(t, h)
	req, _ := http.NewRequest("POST", h.url+"/api/v1/sessions", strings.NewReader(`{"agentId":"1003","pin":"3456"}`))
	status, body := h.do(req)
	if status != http.StatusForbidden || !strings.Contains(body, "no_dynamics_user") || !strings.Contains(body, "agent dynamics-user 1003") {
		t.Fatalf("login of 1003: %d %s, want 403 no_dynamics_user saying what to run", status, body)
	}
	// A wrong PIN is still only a wrong PIN: nothing said about the user.
	req, _ = http.NewRequest("POST", h.url+"/api/v1/sessions", strings.NewReader(`{"agentId":"1003","pin":"0000"}`))
	if status, body := h.do(req); status != http.StatusUnauthorized {
		t.Fatalf("wrong PIN of 1003: %d %s, want 401", status, body)
	}
	h.login() // 1001 has a user
}

func TestImpersonationRefusesAWidgetWhoseDynamicsUserIsAnotherOne(t *testing.T) {
	h := newHarness(t, sampleConfig)
	impersonating(t, h)
	token := h.login()

	w := h.connect(token)
	w.next("hello")
	// CIF's form: braces, upper case.
	w.send(fmt.Sprintf(`{"type":"environment","ref":"e1","userId":"{%s}"}`, strings.ToUpper(sandbox.DemoAgents[0].SystemUserID)))
	if ack := w.next("ack"); ack["ref"] != "e1" {
		t.Fatalf("the agent's own user: %v, want ack e1", ack)
	}

	h.send(event("ev-1", "callStarted", "IX-IMP-W", "inbound", ""))
	w.next("pop")
	// relate.user names another user: refused, as the environment would be.
	w.send(fmt.Sprintf(`{"type":"relate","ref":"r1","interactionId":"IX-IMP-W","person":null,"organisation":null,"user":%q}`, sandbox.DemoAgents[1].SystemUserID))
	if reply := w.next("error"); reply["code"] != "wrong_dynamics_user" {
		t.Fatalf("relate naming another user: %v, want wrong_dynamics_user", reply)
	}
	expectClosed(t, w, 4003)

	w2 := h.connect(token)
	w2.next("hello")
	w2.send(fmt.Sprintf(`{"type":"environment","ref":"e2","userId":%q}`, sandbox.DemoAgents[1].SystemUserID))
	reply := w2.next("error")
	if reply["code"] != "wrong_dynamics_user" || !strings.Contains(reply["message"].(string), "agent 1001") {
		t.Fatalf("another Dynamics user: %v, want wrong_dynamics_user naming the agent", reply)
	}
	expectClosed(t, w2, 4003)
	logs := h.logs.String()
	if !strings.Contains(logs, "widget refused: its Dynamics user is not the agent's") || !strings.Contains(logs, `"agent":"1001"`) {
		t.Errorf("the refusal was not logged with the agent id:\n%s", logs)
	}
}

// expectClosed reads w until its socket closes, and checks the close code.
func expectClosed(t *testing.T, w *widget, code websocket.StatusCode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, _, err := w.ws.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != code {
			t.Fatalf("socket ended with %v, want close code %d", err, code)
		}
		return
	}
}

func TestAfterARestartAnEventNamingAnotherAgentForACallInProgressPopsNothing(t *testing.T) {
	h := newHarness(t, sampleConfig)
	h.send(event("ev-1", "callStarted", "IX-R1", "inbound", ""))
	h.shutdown()
	h.start()
	if err := h.srv.Creds.Set(context.Background(), "1002", "2345", ""); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", h.url+"/api/v1/sessions", strings.NewReader(`{"agentId":"1002","pin":"2345"}`))
	_, body := h.do(req)
	var out struct{ Token string }
	json.Unmarshal([]byte(body), &out)
	other := h.connect(out.Token)
	other.next("hello")

	// Agent 1001's call, presented again naming 1002, signed.
	if status, body := h.post([]byte(eventOf("1002", "ev-x", "callAlerting", "IX-R1", "")), true, time.Now()); status < 400 || status >= 500 {
		t.Fatalf("event naming another agent for a call in progress: %d %s, want a 4xx", status, body)
	}
	// The next pop 1002 gets is that of its own next call, not 1001's.
	h.send(eventOf("1002", "ev-y", "callAlerting", "IX-R2", ""))
	if pop := other.next("pop"); pop["interactionId"] != "IX-R2" {
		t.Fatalf("agent 1002 got the pop of %v, want only its own IX-R2", pop["interactionId"])
	}
}

func TestCallEndedNamesThePhoneCallAddressedByAlternateKey(t *testing.T) {
	h := newHarness(t, sampleConfig)
	w := h.connect(h.login())
	w.next("hello")
	h.send(event("ev-1", "callStarted", "IX-K1", "inbound", ""))
	waitFor(t, "the activity to be created", func() bool { return h.outboxDepth() == 0 && len(h.phonecalls("IX-K1")) == 1 })
	id := h.stamps("IX-K1")["activityid"]
	h.send(event("ev-2", "callHangup", "IX-K1", "inbound", ""))
	h.send(event("ev-3", "callWrapped", "IX-K1", "inbound", `"wrapCode":"1"`))
	if ended := w.next("callEnded"); ended["activityId"] != id || id == "" {
		t.Fatalf("callEnded = %v, want activityId %v", ended, id)
	}
	waitFor(t, "the outbox to drain", func() bool { return h.outboxDepth() == 0 })
	if got := h.stamps("IX-K1"); fmt.Sprint(got["statecode"]) != "1" {
		t.Fatalf("after the wrap: %v, want completed", got)
	}
}
