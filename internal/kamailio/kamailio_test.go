package kamailio

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ctibridge/ctibridge/internal/skipnote"
)

// binary finds Kamailio, or skips the test (fails under CI, so that a CI
// run cannot pass without the SIP server).
func binary(t *testing.T) string {
	t.Helper()
	bin, err := Find()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err.Error() + "; CI is set, so the SIP tests must run")
		}
		skipnote.Skip(t, "internal/kamailio: the SIP server tests", err.Error())
	}
	return bin
}

func start(t *testing.T, users map[string]string) *Kamailio {
	t.Helper()
	return startWith(t, Options{Users: users})
}

func startWith(t *testing.T, opt Options) *Kamailio {
	t.Helper()
	opt.Dir, opt.Binary = t.TempDir(), binary(t)
	k, err := Start(t.Context(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		k.Stop()
		if t.Failed() {
			t.Logf("kamailio log:\n%s", k.LogTail(40))
		}
	})
	return k
}

func TestServesSIPOverWebSocket(t *testing.T) {
	k := start(t, nil)

	resp, err := http.Get("http://" + k.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET / = %d, want 404 (only WebSocket upgrades are served)", resp.StatusCode)
	}

	c := dialSIP(t, k, "1001")
	if c.conn.Subprotocol() != "sip" {
		t.Errorf("WebSocket subprotocol = %q, want sip", c.conn.Subprotocol())
	}
	if r := c.request("OPTIONS", "sip:"+k.Domain(), nil); r.status != 200 {
		t.Errorf("OPTIONS = %d %s, want 200", r.status, r.reason)
	}
	// Without users nobody is challenged.
	if r := c.register(""); r.status != 200 {
		t.Errorf("REGISTER without users = %d %s, want 200", r.status, r.reason)
	}
}

func TestRegisterWithDigestAuth(t *testing.T) {
	k := start(t, map[string]string{"1001": "right-1001", "1002": "right-1002"})

	c := dialSIP(t, k, "1001")
	r := c.request("REGISTER", "sip:"+k.Domain(), nil)
	if r.status != 401 || !strings.Contains(r.header("WWW-Authenticate"), `realm="`+k.Domain()+`"`) {
		t.Fatalf("REGISTER without credentials = %d %s (%q), want 401 with realm %s", r.status, r.reason, r.header("WWW-Authenticate"), k.Domain())
	}
	for _, tc := range []struct {
		name, authUser, password string
		status                   int
	}{
		{"wrong password", "1001", "wrong", 403},
		{"unknown user", "9999", "whatever", 403},
		{"another user's credentials", "1002", "right-1002", 403},
		{"right password", "1001", "right-1001", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.authUser = tc.authUser
			r := c.register(tc.password)
			if r.status != tc.status {
				t.Errorf("REGISTER = %d %s, want %d", r.status, r.reason, tc.status)
			}
			if tc.status == 403 && r.reason != "Wrong user name or password" {
				t.Errorf("REGISTER refused with %q, want the reason the softphone shows: Wrong user name or password", r.reason)
			}
		})
	}
}

func TestCallsReachRegisteredUsers(t *testing.T) {
	k := start(t, map[string]string{"1001": "pw-1001", "1002": "pw-1002"})
	caller, callee := dialSIP(t, k, "1001"), dialSIP(t, k, "1002")
	if r := caller.register("pw-1001"); r.status != 200 {
		t.Fatalf("1001 REGISTER = %d %s", r.status, r.reason)
	}
	if r := callee.register("pw-1002"); r.status != 200 {
		t.Fatalf("1002 REGISTER = %d %s", r.status, r.reason)
	}

	// The call is challenged (407), then goes through with the custom
	// header, record-routed.
	invite := caller.request("INVITE", "sip:1002@"+k.Domain(), []string{"X-Interaction-Id: int-42"})
	if invite.status != 407 {
		t.Fatalf("INVITE without credentials = %d %s, want 407", invite.status, invite.reason)
	}
	caller.sendAuthorized("INVITE", "sip:1002@"+k.Domain(), "pw-1001", invite, []string{"X-Interaction-Id: int-42"})
	in := callee.recv()
	if in.method != "INVITE" || in.header("X-Interaction-Id") != "int-42" || in.header("Record-Route") == "" {
		t.Fatalf("1002 received %q with X-Interaction-Id %q and Record-Route %q, want the INVITE with int-42, record-routed",
			in.start, in.header("X-Interaction-Id"), in.header("Record-Route"))
	}
	callee.reply(in, "486 Busy Here")
	if r := caller.recvFinal(); r.status != 486 {
		t.Errorf("caller got %d %s, want the callee's 486", r.status, r.reason)
	}

	// A user who is not registered is not found.
	r := caller.request("INVITE", "sip:1003@"+k.Domain(), nil)
	caller.sendAuthorized("INVITE", "sip:1003@"+k.Domain(), "pw-1001", r, nil)
	if r := caller.recvFinal(); r.status != 404 {
		t.Errorf("INVITE to an unregistered user = %d %s, want 404", r.status, r.reason)
	}
}

func TestStartRefusesBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Options
		want string
	}{
		{"no dir", Options{Binary: "/bin/true"}, "Dir is required"},
		{"privileged port", Options{Dir: t.TempDir(), Binary: "/bin/true", Port: 80}, "above 1024"},
		{"bad domain", Options{Dir: t.TempDir(), Binary: "/bin/true", Domain: "a b"}, "domain"},
		{"bad user", Options{Dir: t.TempDir(), Binary: "/bin/true", Users: map[string]string{"a:b": "x"}}, `SIP user "a:b"`},
		{"bad password", Options{Dir: t.TempDir(), Binary: "/bin/true", Users: map[string]string{"1001": "a:b"}}, "password"},
		{"exits at once", Options{Dir: t.TempDir(), Binary: "/bin/false"}, "exited while starting"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Start(t.Context(), tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Start = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// sipClient is a minimal SIP user agent over WebSocket, enough to check
// what the registrar and proxy answer.
type sipClient struct {
	t                 *testing.T
	conn              *websocket.Conn
	user, authUser    string
	domain, host, tag string
	callID            string
	cseq              int
}

func dialSIP(t *testing.T, k *Kamailio, user string) *sipClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, k.WSURL(), &websocket.DialOptions{Subprotocols: []string{"sip"}})
	if err != nil {
		t.Fatalf("WebSocket handshake with %s: %v\n%s", k.WSURL(), err, k.LogTail(20))
	}
	t.Cleanup(func() { conn.CloseNow() })
	return &sipClient{t: t, conn: conn, user: user, authUser: user, domain: k.Domain(),
		host: token() + ".invalid", tag: token(), callID: token()}
}

func token() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// send writes one request and returns its branch.
func (c *sipClient) send(method, ruri string, extra []string) {
	c.t.Helper()
	c.cseq++
	to := "<" + ruri + ">"
	if method == "REGISTER" || method == "OPTIONS" {
		to = fmt.Sprintf("<sip:%s@%s>", c.user, c.domain)
	}
	lines := []string{
		fmt.Sprintf("%s %s SIP/2.0", method, ruri),
		fmt.Sprintf("Via: SIP/2.0/WS %s;branch=z9hG4bK%s", c.host, token()),
		"Max-Forwards: 70",
		"To: " + to,
		fmt.Sprintf("From: <sip:%s@%s>;tag=%s", c.user, c.domain, c.tag),
		"Call-ID: " + c.callID,
		fmt.Sprintf("CSeq: %d %s", c.cseq, method),
		fmt.Sprintf("Contact: <sip:%s@%s;transport=ws>", c.user, c.host),
	}
	if method == "REGISTER" {
		lines = append(lines, "Expires: 600")
	}
	lines = append(lines, extra...)
	lines = append(lines, "Content-Length: 0", "", "")
	c.write(strings.Join(lines, "\r\n"))
}

func (c *sipClient) write(msg string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 5*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		c.t.Fatalf("send %s: %v", strings.SplitN(msg, "\r\n", 2)[0], err)
	}
}

// request sends a request and returns its final response.
func (c *sipClient) request(method, ruri string, extra []string) *sipMsg {
	c.t.Helper()
	c.send(method, ruri, extra)
	return c.recvFinal()
}

// register registers; with a password it answers the challenge first.
func (c *sipClient) register(password string) *sipMsg {
	c.t.Helper()
	ruri := "sip:" + c.domain
	r := c.request("REGISTER", ruri, nil)
	if r.status != 401 || password == "" {
		return r
	}
	c.sendAuthorized("REGISTER", ruri, password, r, nil)
	return c.recvFinal()
}

// sendAuthorized sends the request again with the answer to challenge's
// digest challenge (qop auth).
func (c *sipClient) sendAuthorized(method, ruri, password string, challenge *sipMsg, extra []string) {
	c.t.Helper()
	hdr, authz := "WWW-Authenticate", "Authorization"
	if challenge.status == 407 {
		hdr, authz = "Proxy-Authenticate", "Proxy-Authorization"
	}
	ch := challenge.header(hdr)
	param := func(name string) string {
		m := regexp.MustCompile(name + `="?([^",]*)"?`).FindStringSubmatch(ch)
		if m == nil {
			c.t.Fatalf("%s %q has no %s", hdr, ch, name)
		}
		return m[1]
	}
	realm, nonce := param("realm"), param("nonce")
	md5hex := func(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
	ha1 := md5hex(c.authUser + ":" + realm + ":" + password)
	ha2 := md5hex(method + ":" + ruri)
	cnonce, nc := token(), "00000001"
	response := md5hex(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":auth:" + ha2)
	auth := fmt.Sprintf(`%s: Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", algorithm=MD5, qop=auth, nc=%s, cnonce="%s"`,
		authz, c.authUser, realm, nonce, ruri, response, nc, cnonce)
	c.send(method, ruri, append([]string{auth}, extra...))
}

// recvFinal returns the next final response, skipping provisional ones.
func (c *sipClient) recvFinal() *sipMsg {
	c.t.Helper()
	for {
		m := c.recv()
		if m.status >= 200 {
			return m
		}
		if m.status == 0 {
			c.t.Fatalf("got request %q while waiting for a response", m.start)
		}
	}
}

// reply answers a request received with status ("486 Busy Here").
func (c *sipClient) reply(req *sipMsg, status string) {
	c.t.Helper()
	lines := []string{"SIP/2.0 " + status}
	for _, h := range req.headers {
		switch strings.ToLower(h[0]) {
		case "via", "from", "call-id", "cseq", "record-route":
			lines = append(lines, h[0]+": "+h[1])
		case "to":
			lines = append(lines, "To: "+h[1]+";tag="+c.tag)
		}
	}
	lines = append(lines, "Content-Length: 0", "", "")
	c.write(strings.Join(lines, "\r\n"))
}

func (c *sipClient) recv() *sipMsg {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 5*time.Second)
	defer cancel()
	_, data, err := c.conn.Read(ctx)
	if err != nil {
		c.t.Fatalf("%s: read a SIP message: %v", c.user, err)
	}
	return parseSIP(c.t, string(data))
}

// sipMsg is a received request (method set) or response (status set).
type sipMsg struct {
	start   string
	method  string
	status  int
	reason  string
	headers [][2]string
}

func parseSIP(t *testing.T, s string) *sipMsg {
	t.Helper()
	head, _, _ := strings.Cut(s, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	m := &sipMsg{start: lines[0]}
	if rest, ok := strings.CutPrefix(lines[0], "SIP/2.0 "); ok {
		code, reason, _ := strings.Cut(rest, " ")
		if _, err := fmt.Sscan(code, &m.status); err != nil {
			t.Fatalf("bad status line %q", lines[0])
		}
		m.reason = reason
	} else {
		m.method, _, _ = strings.Cut(lines[0], " ")
	}
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		if ok {
			m.headers = append(m.headers, [2]string{strings.TrimSpace(name), strings.TrimSpace(value)})
		}
	}
	return m
}

// header returns the first value of the header name.
func (m *sipMsg) header(name string) string {
	for _, h := range m.headers {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

func TestNumbersRingTheStandInOfThePhoneNetwork(t *testing.T) {
	k := startWith(t, Options{Users: map[string]string{"1001": "pw-1001", "customer": "pw-c"}, NumbersTo: "customer"})
	agent, customer := dialSIP(t, k, "1001"), dialSIP(t, k, "customer")
	for _, c := range []struct {
		c  *sipClient
		pw string
	}{{agent, "pw-1001"}, {customer, "pw-c"}} {
		if r := c.c.register(c.pw); r.status != 200 {
			t.Fatalf("%s REGISTER = %d %s", c.c.user, r.status, r.reason)
		}
	}
	// A number goes to the customer; a name that is not registered is 404.
	r := agent.request("INVITE", "sip:0299990000@"+k.Domain(), nil)
	agent.sendAuthorized("INVITE", "sip:0299990000@"+k.Domain(), "pw-1001", r, nil)
	in := customer.recv()
	if in.method != "INVITE" || !strings.Contains(in.header("To"), "0299990000") {
		t.Fatalf("the customer received %q (To %q), want the INVITE to 0299990000", in.start, in.header("To"))
	}
	customer.reply(in, "486 Busy Here")
	if r := agent.recvFinal(); r.status != 486 {
		t.Errorf("the agent got %d %s, want the customer's 486", r.status, r.reason)
	}
	r = agent.request("INVITE", "sip:sales@"+k.Domain(), nil)
	agent.sendAuthorized("INVITE", "sip:sales@"+k.Domain(), "pw-1001", r, nil)
	if r := agent.recvFinal(); r.status != 404 {
		t.Errorf("INVITE to an unregistered name = %d %s, want 404", r.status, r.reason)
	}
}
