package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/ctibridge/ctibridge/internal/agent"
	"github.com/ctibridge/ctibridge/internal/kamailio"
	"github.com/ctibridge/ctibridge/internal/sandbox"
)

// SIPOptions configure the Kamailio of a demo with the sip telephony.
type SIPOptions struct {
	// Binary is the kamailio binary (default: kamailio.Find).
	Binary string
	// Port is Kamailio's WebSocket port on 127.0.0.1; 0 picks a free one.
	Port int
}

// SIP is the SIP side of a demo: its Kamailio on loopback and the accounts
// on it, each with a password made up at start.
type SIP struct {
	Kamailio *kamailio.Kamailio
	// Customer is the account of the customer phone page.
	Customer SIPUser
	// Agents are the agents' softphone accounts, by agent id; the SIP user
	// is the agent id.
	Agents map[string]SIPUser
}

// SIPUser is a SIP account on the demo's Kamailio.
type SIPUser struct {
	User     string `json:"user"`
	Password string `json:"-"`
}

// CustomerUser is the SIP user of the customer phone page, which every
// number the agents dial rings.
const CustomerUser = "customer"

// phoneNumbers are the demo numbers the customer phone offers to call from
// (presented as P-Asserted-Identity), one per pop outcome.
var phoneNumbers = []string{"single-contact", "several-contacts", "no-match", "account-match"}

func startSIP(ctx context.Context, dir string, opt SIPOptions) (*SIP, error) {
	s := &SIP{Customer: SIPUser{User: CustomerUser, Password: randomKey()[:24]}, Agents: map[string]SIPUser{}}
	users := map[string]string{s.Customer.User: s.Customer.Password}
	for _, a := range Agents {
		u := SIPUser{User: a.ID, Password: randomKey()[:24]}
		s.Agents[a.ID] = u
		users[u.User] = u.Password
	}
	// The customer phone stands in for the phone network: the agents'
	// click-to-dial of any number rings it.
	k, err := kamailio.Start(ctx, kamailio.Options{Dir: dir, Host: "127.0.0.1", Port: opt.Port, Users: users, NumbersTo: CustomerUser, Binary: opt.Binary})
	if err != nil {
		return nil, fmt.Errorf("SIP demo: %w", err)
	}
	s.Kamailio = k
	return s, nil
}

// AgentAccount is the SIP account the demo stores for the agent.
func (s *SIP) AgentAccount(agentID string) agent.SIPAccount {
	u := s.Agents[agentID]
	return agent.SIPAccount{User: u.User, Password: u.Password, DisplayName: "Demo agent " + agentID}
}

// withTelephony adds the telephony block naming the demo's Kamailio to the
// config, as its first key.
func (s *SIP) withTelephony(cfg []byte) ([]byte, error) {
	if bytes.Contains(cfg, []byte(`"telephony"`)) {
		return nil, errors.New("SIP demo: the config has a telephony block already; the demo sets it to its own Kamailio")
	}
	at := bytes.IndexByte(cfg, '{')
	if at < 0 {
		return nil, errors.New("SIP demo: the config is not a JSON object")
	}
	block := fmt.Sprintf(`"telephony": {"source": "sip", "sip": {"server": %s, "domain": %s}}, `,
		strconv.Quote(s.Kamailio.WSURL()), strconv.Quote(s.Kamailio.Domain()))
	return append(append(append([]byte{}, cfg[:at+1]...), block...), cfg[at+1:]...), nil
}

// hostSettings is what the host page learns of the SIP side: where the
// customer phone is. nil (JSON null) without SIP.
func (s *SIP) hostSettings() any {
	if s == nil {
		return nil
	}
	return map[string]string{"phone": "/demo/phone.html", "server": s.Kamailio.WSURL(), "domain": s.Kamailio.Domain()}
}

type phoneTarget struct {
	User  string `json:"user"`
	Label string `json:"label"`
}

type phoneNumber struct {
	Number string `json:"number"`
	Label  string `json:"label"`
}

// servePhone gives the customer phone page its account, the agents it can
// call and the demo numbers it can call from. The demo runs on loopback,
// so the made-up customer password may go to the page.
func (d *Demo) servePhone(w http.ResponseWriter, r *http.Request) {
	if d.SIP == nil {
		agent.WriteError(w, http.StatusNotFound, "not_found", "this demo has no SIP server: start it with ctibridge demo --sip")
		return
	}
	targets := make([]phoneTarget, 0, len(Agents))
	for _, a := range Agents {
		targets = append(targets, phoneTarget{User: d.SIP.Agents[a.ID].User, Label: "Agent " + a.ID})
	}
	numbers := make([]phoneNumber, 0, len(phoneNumbers))
	for _, key := range phoneNumbers {
		n := sandbox.DemoNumberByKey(key)
		label := "unknown caller"
		if len(n.Records) == 1 {
			label = n.Records[0].Name + " (" + n.Records[0].Entity + ")"
		} else if len(n.Records) > 1 {
			label = strconv.Itoa(len(n.Records)) + " " + n.Records[0].Entity + "s share it"
		}
		numbers = append(numbers, phoneNumber{Number: n.E164, Label: n.E164 + ": " + label})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"server":   d.SIP.Kamailio.WSURL(),
		"domain":   d.SIP.Kamailio.Domain(),
		"user":     d.SIP.Customer.User,
		"password": d.SIP.Customer.Password,
		"name":     "Customer",
		"target":   targets[0].User,
		"cli":      numbers[0].Number,
		"targets":  targets,
		"numbers":  numbers,
	})
}
