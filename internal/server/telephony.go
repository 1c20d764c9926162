package server

import (
	"context"

	"github.com/ctibridge/ctibridge/internal/agent"
	"github.com/ctibridge/ctibridge/internal/callflow"
	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/telephony"
)

// telephonySettings is hello.settings.telephony for agentID: the source,
// and for the SIP softphone the server, the headers and the agent's own
// account. It goes only to the agent's authenticated socket, and is never
// logged.
func (srv *Server) telephonySettings(ctx context.Context, agentID string) (any, error) {
	if srv.source != config.SourceSIP {
		return map[string]string{"source": srv.source}, nil
	}
	acc, err := srv.Creds.SIP(ctx, agentID)
	if err != nil {
		return nil, err
	}
	sip := srv.Config().Telephony.SIP
	ice := sip.ICEServers
	if ice == nil {
		ice = []config.ICEServer{}
	}
	return sipHello{Source: srv.source, SIP: sipHelloSettings{
		Server: sip.Server, Domain: sip.Domain, Headers: sip.Headers, ICEServers: ice, DTMF: sip.DTMF,
		User: acc.User, AuthUser: acc.AuthUser, Password: acc.Password, DisplayName: acc.DisplayName,
	}}, nil
}

type sipHello struct {
	Source string           `json:"source"`
	SIP    sipHelloSettings `json:"sip"`
}

type sipHelloSettings struct {
	Server      string             `json:"server"`
	Domain      string             `json:"domain"`
	Headers     config.SIPHeaders  `json:"headers"`
	ICEServers  []config.ICEServer `json:"iceServers"`
	DTMF        string             `json:"dtmf"`
	User        string             `json:"user"`
	AuthUser    string             `json:"authUser"`
	Password    string             `json:"password"`
	DisplayName string             `json:"displayName"`
}

// widgetRouter sends a widget's telephonyEvent messages to the browser
// provider, the one door for events its page reports, and every other
// message to the call flow.
type widgetRouter struct {
	flow    *callflow.Flow
	browser *telephony.Browser // nil unless the source is a browser one
}

func (r widgetRouter) Hello(ctx context.Context, agentID string) (any, error) {
	return r.flow.Hello(ctx, agentID)
}

func (r widgetRouter) HandleWidgetMessage(ctx context.Context, agentID string, msg agent.WidgetMessage) error {
	if msg.Type != "telephonyEvent" {
		return r.flow.HandleWidgetMessage(ctx, agentID, msg)
	}
	if r.browser == nil {
		return &callflow.RefusedError{Code: "not_supported", Msg: "type: telephonyEvent is for browser telephony sources (sip, ipscape); this ctibridge takes its calls from elsewhere (see its telephony source)"}
	}
	return r.browser.HandleWidgetEvent(ctx, agentID, msg.Raw)
}
