package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	agentpkg "github.com/ctibridge/ctibridge/internal/agent"
	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/demo"
	"github.com/ctibridge/ctibridge/internal/kamailio"
	"github.com/ctibridge/ctibridge/internal/netns"
	"github.com/ctibridge/ctibridge/internal/sandbox"
	"github.com/ctibridge/ctibridge/internal/skipnote"
	"github.com/ctibridge/ctibridge/web"
)

// The SIP tests make real calls: Chromium pages running JsSIP register with
// a real Kamailio over WebSocket and send each other opus audio over
// WebRTC. Each test runs in a network namespace with only loopback
// (internal/netns), so the browsers gather no candidate but 127.0.0.1 and
// no packet leaves the machine. They need Chromium, Kamailio (Debian:
// kamailio kamailio-websocket-modules) and root or unprivileged user
// namespaces; without one they skip, except under CI.

// webRTCFlags let a headless page make calls: a fake microphone without a
// permission prompt, and ICE candidates on loopback, which Chromium
// otherwise never gathers (the INVITE is then never sent, and nothing
// errors).
var webRTCFlags = []chromedp.ExecAllocatorOption{
	chromedp.Flag("use-fake-ui-for-media-stream", true),
	chromedp.Flag("use-fake-device-for-media-stream", true),
	chromedp.Flag("allow-loopback-in-peer-connection", true),
}

// kamailioBinary finds Kamailio, or skips the test (fails under CI).
func kamailioBinary(t *testing.T) string {
	t.Helper()
	bin, err := kamailio.Find()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err.Error() + "; CI is set, so the SIP tests must run")
		}
		skipnote.Skip(t, "e2e: the SIP softphone's real calls", err.Error())
	}
	return bin
}

// sipIsolated checks for Chromium and Kamailio, then runs the test in a
// loopback-only network namespace. It returns Chromium's path in the
// namespace run, and "" in the parent, which must return at once: the
// namespace run's result is the test's.
func sipIsolated(t *testing.T) string {
	t.Helper()
	chromium := chromiumPath(t)
	kamailioBinary(t)
	if !netns.Isolate(t) {
		return ""
	}
	return chromium
}

// startKamailio runs Kamailio on loopback with the SIP accounts, until the
// test ends; a failed test logs the end of its log.
func startKamailio(t *testing.T, users map[string]string) *kamailio.Kamailio {
	t.Helper()
	k, err := kamailio.Start(t.Context(), kamailio.Options{Dir: t.TempDir(), Users: users, Binary: kamailioBinary(t)})
	if err != nil {
		t.Fatalf("start Kamailio: %v", err)
	}
	t.Cleanup(k.Stop)
	return k
}

// phone is a customer phone page (web/demo/phone.html) in a tab.
type phone struct {
	*browser
	name string
}

// phoneStateJS sums up a phone page for failure reports.
const phoneStateJS = `JSON.stringify({
	state: { ...document.body.dataset },
	status: document.getElementById("status").textContent,
	call: document.getElementById("call-status").textContent,
	log: window.phone ? window.phone.log.slice(-20) : "(the page's script did not start)",
	observed: window.phone && window.phone.observed,
})`

// openPhone loads the phone page of baseURL in b's tab, registered as user
// at k, with the extra query parameters, and waits for the registration.
func (b *browser) openPhone(name, baseURL string, k *kamailio.Kamailio, user, password string, query url.Values) *phone {
	b.t.Helper()
	q := url.Values{"server": {k.WSURL()}, "domain": {k.Domain()}, "user": {user}, "password": {password}, "name": {name}}
	for key, v := range query {
		q[key] = v
	}
	return b.openPhoneURL(name, baseURL+"/demo/phone.html?"+q.Encode())
}

// openPhoneURL loads the phone page at url in b's tab and waits for it to
// register.
func (b *browser) openPhoneURL(name, url string) *phone {
	b.t.Helper()
	p := &phone{browser: b, name: name}
	if err := b.do(chromedp.Navigate(url)); err != nil {
		b.fatalf("open %s's phone: %v", name, err)
	}
	p.waitRegistered()
	return p
}

// withReports makes failures of each phone report every phone's state and
// Kamailio's log.
func withReports(k *kamailio.Kamailio, phones ...*phone) {
	report := func() string {
		out := ""
		for _, p := range phones {
			out += p.name + "'s phone: " + p.state() + "\n"
		}
		return out + "kamailio log (" + k.LogPath() + "):\n" + k.LogTail(25)
	}
	for _, p := range phones {
		p.browser.extra = report
	}
}

// state is the phone page's state as JSON, or why it could not be read.
func (p *phone) state() string {
	ctx, cancel := context.WithTimeout(p.ctx, 3*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](phoneStateJS))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return s
}

// with returns the phone for a subtest: failures go to t.
func (p *phone) with(t *testing.T) *phone { return &phone{browser: p.browser.with(t), name: p.name} }

func (p *phone) waitRegistered() {
	p.t.Helper()
	p.waitFor(p.name+"'s phone to register", `document.body.dataset.registration === "registered"`)
}

// waitState waits for the phone's body[data-state].
func (p *phone) waitState(state string) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf("%s's phone to be %s", p.name, state), fmt.Sprintf(`document.body.dataset.state === %q`, state))
}

// act runs window.phone.NAME(args) in the page.
func (p *phone) act(name string, args ...any) {
	p.t.Helper()
	js := "window.phone." + name + "("
	for i, a := range args {
		data, err := json.Marshal(a)
		if err != nil {
			p.t.Fatal(err)
		}
		if i > 0 {
			js += ", "
		}
		js += string(data)
	}
	eval[any](p.browser, js+"), true")
}

// waitAudio waits until the phone has received audio on its call.
func (p *phone) waitAudio() {
	p.t.Helper()
	p.waitFor(p.name+"'s phone to receive audio", `Number(document.body.dataset.bytesReceived) > 0`)
}

// energy is the audio energy the phone has received on its call so far
// (inbound-rtp totalAudioEnergy, read now): it grows while the other party
// sends sound, and stays put while it sends silence.
func (p *phone) energy() float64 {
	p.t.Helper()
	return eval[float64](p.browser, `window.phone.stats().then((s) => s.energy)`)
}

// Thresholds of audio energy over mediaWindow. Chromium's fake microphone
// beeps: about 0.1 reaches the other side in each half second, while a
// muted or held track's silence adds less than 1e-6.
const (
	mediaWindow   = 600 * time.Millisecond
	soundEnergy   = 0.01
	silenceEnergy = 0.001
)

// waitSound waits until the phone receives sound from the other party:
// its received energy grows by more than soundEnergy.
func (p *phone) waitSound(why string) {
	p.t.Helper()
	start := p.energy()
	deadline := time.Now().Add(waitTimeout)
	for e := start; e-start <= soundEnergy; e = p.energy() {
		if time.Now().After(deadline) {
			p.fatalf("waited %s for %s's phone to receive sound (%s): its received audio energy went from %g to %g, want it to grow by more than %g",
				waitTimeout, p.name, why, start, e, soundEnergy)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitSilence waits until the phone receives only silence: its received
// energy grows by less than silenceEnergy over mediaWindow. Audio already
// on its way when the sound stopped may take a window or two to play out.
func (p *phone) waitSilence(why string) {
	p.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var readings []float64
	for {
		before := p.energy()
		time.Sleep(mediaWindow)
		after := p.energy()
		readings = append(readings, after-before)
		if after-before < silenceEnergy {
			return
		}
		if time.Now().After(deadline) {
			p.fatalf("waited %s for %s's phone to receive only silence (%s): its received audio energy still grows, by %v in each %s, want less than %g",
				waitTimeout, p.name, why, readings, mediaWindow, silenceEnergy)
		}
	}
}

// observedJS reads what the phone page saw of the other party in its
// current call (window.phone.observed, see web/demo/phone.mjs).
func observedJS(expr string) string {
	return `((o) => o && (` + expr + `))(window.phone && window.phone.observed)`
}

// phoneSite serves the phone page and the vendored JsSIP, as ctibridge does.
func phoneSite(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET /demo/", http.StripPrefix("/demo/", http.FileServerFS(web.DemoFiles)))
	mux.Handle("GET /vendor/", http.StripPrefix("/vendor/", http.FileServerFS(web.VendorFiles)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// newTab opens another tab in b's browser, in a browser context of its own
// (its own storage, as another person's browser would have).
func (b *browser) newTab(t *testing.T) *browser {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tab := &browser{t: t, ctx: ctx, shots: b.shots, console: &consoleLog{}}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(viewportWidth, viewportHeight)); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	tab.console.follow(ctx)
	return tab
}

// TestSIPPhonesCallEachOther proves the harness before the widget is in it:
// two customer phone pages register with Kamailio, one calls the other, the
// callee answers, both receive audio, and the caller's hang-up reaches the
// callee as a BYE.
func TestSIPPhonesCallEachOther(t *testing.T) {
	chromium := sipIsolated(t)
	if chromium == "" {
		return
	}
	k := startKamailio(t, map[string]string{"alice": "alice-secret", "bob": "bob-secret"})
	site := phoneSite(t)
	b := newBrowser(t, chromium, webRTCFlags...)
	alice := b.openPhone("alice", site, k, "alice", "alice-secret", nil)
	bob := b.newTab(t).openPhone("bob", site, k, "bob", "bob-secret", nil)
	withReports(k, alice, bob)
	t.Cleanup(alice.checkNoExceptions)
	t.Cleanup(bob.checkNoExceptions)

	alice.act("call", map[string]string{"target": "bob", "interactionId": "harness-1", "queue": "Sales"})
	bob.waitState("ringing")
	alice.waitState("calling")
	bob.act("answer")
	bob.waitState("connected")
	alice.waitState("connected")
	bob.waitFor("bob's side of the call to be confirmed (the ACK reached him)", `document.body.dataset.confirmed === "true"`)
	alice.waitAudio()
	bob.waitAudio()

	alice.act("hangup")
	bob.waitFor("alice's hang-up to reach bob as a BYE", `document.body.dataset.state === "ended" && document.body.dataset.endedBy === "bye" && document.body.dataset.endOriginator === "remote"`)
	alice.waitFor("alice's call to end", `document.body.dataset.state === "ended" && document.body.dataset.endOriginator === "local"`)
}

// wsCut wraps the demo's listener so that a test can cut the widget's
// WebSocket to ctibridge, as a dropped network would: open sockets are
// closed and new ones refused until the cut ends. The page's other
// requests, ctibridge's own requests to the CRM and the SIP call, which
// goes to Kamailio, carry on. A browser opens a connection of its own for
// a WebSocket, so the request line read first tells the widget's socket.
type wsCut struct {
	net.Listener
	mu    sync.Mutex
	down  bool
	cut   int // sockets closed or refused so far
	conns map[*wsConn]struct{}
}

func newWSCut(t *testing.T) *wsCut {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &wsCut{Listener: ln, conns: map[*wsConn]struct{}{}}
}

func (l *wsCut) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &wsConn{Conn: c, l: l}, nil
}

// drop closes the widget's sockets and refuses new ones until restore.
func (l *wsCut) drop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = true
	for c := range l.conns {
		c.Conn.Close()
		l.cut++
	}
	clear(l.conns)
}

func (l *wsCut) restore() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = false
}

func (l *wsCut) cutCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cut
}

// wsConn is a connection of the demo's listener; the first bytes read
// tell whether it is the widget's WebSocket.
type wsConn struct {
	net.Conn
	l       *wsCut
	checked bool
}

var wsRequestLine = []byte("GET /api/v1/ws")

func (c *wsConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.checked && n > 0 {
		// Only the server's goroutine for this connection reads it.
		c.checked = true
		if bytes.HasPrefix(p[:n], wsRequestLine) {
			c.l.mu.Lock()
			down := c.l.down
			if down {
				c.l.cut++
			} else {
				c.l.conns[c] = struct{}{}
			}
			c.l.mu.Unlock()
			if down {
				c.Conn.Close()
				return 0, io.EOF
			}
		}
	}
	return n, err
}

func (c *wsConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// sipRun is a demo with the sip telephony: the host page with the agent's
// widget (the softphone) in one tab, the customer's phone in another.
type sipRun struct {
	d        *demo.Demo
	cut      *wsCut
	b        *browser
	customer *phone
	db       *crm
}

// newSIPRun starts the demo, logs agent 1001 in, waits for the softphone
// to register and opens the customer's phone. Call it in the namespace run.
func newSIPRun(t *testing.T, chromium string) *sipRun {
	t.Helper()
	cut := newWSCut(t)
	d := startDemoWith(t, demo.Options{Telephony: config.SourceSIP, Listener: cut})
	k := d.SIP.Kamailio
	r := &sipRun{d: d, cut: cut, b: newBrowser(t, chromium, webRTCFlags...), db: newCRM(d.BaseURL)}
	t.Cleanup(r.b.checkNoExceptions)
	r.b.openSIPHost(d.BaseURL + "/demo/")
	r.b.extra = func() string { return "kamailio log (" + k.LogPath() + "):\n" + k.LogTail(25) }

	// Not a subtest, so that -run can pick one call and still log in.
	r.b.logIn(agent(t))
	r.b.waitFor("the softphone to register", widgetJS(`w.getElementById("softphone").dataset.registration === "registered"`))
	r.b.screenshot("softphone-registered")

	// The customer phone as the host page links it: without a query, it
	// takes its account from the demo (/demo/api/phone).
	link := eval[string](r.b, `document.getElementById("phone-link").href`)
	if link != d.BaseURL+"/demo/phone.html" {
		t.Errorf("the host page links the customer phone at %q, want %s/demo/phone.html", link, d.BaseURL)
	}
	r.customer = r.b.newTab(t).openPhoneURL("customer", d.BaseURL+"/demo/phone.html")
	t.Cleanup(r.customer.checkNoExceptions)
	r.customer.browser.extra = func() string {
		return "agent's widget: " + r.b.widgetState() + "\nkamailio log (" + k.LogPath() + "):\n" + k.LogTail(25)
	}
	r.b.extra = func() string {
		return "softphone: " + r.b.softphoneState() + "\ncustomer's phone: " + r.customer.state() + "\nkamailio log (" + k.LogPath() + "):\n" + k.LogTail(25)
	}
	return r
}

// softphoneState is what the agent's softphone shows, for failure reports.
func (b *browser) softphoneState() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	js := widgetJS(`JSON.stringify({
		root: { ...(w.getElementById("softphone") || {}).dataset },
		active: { ...(w.getElementById("sp-active") || {}).dataset },
		callState: (w.getElementById("sp-call-state") || {}).textContent,
		reason: (w.getElementById("sp-reason") || {}).textContent,
		last: (w.getElementById("sp-last") || {}).textContent,
		answer: (a => a && { hidden: a.hidden, disabled: a.disabled, focused: w.activeElement === a })(w.getElementById("sp-answer")),
		scrollY: w.defaultView.scrollY,
	})`)
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return out
}

// openSIPHost loads the host page of a SIP demo: no call buttons, a link to
// the customer phone, and the widget's login form.
func (b *browser) openSIPHost(url string) {
	b.t.Helper()
	if err := b.do(chromedp.Navigate(url)); err != nil {
		b.fatalf("open %s: %v", url, err)
	}
	b.waitFor("the host page's link to the customer phone", `!document.getElementById("sip-phone").hidden`)
	b.waitFor("the widget's login form", widgetJS(`!w.getElementById("login").hidden && w.getElementById("login-agent") !== null`))
}

// widgetState is the widget's state as JSON, for the other tab's reports.
func (b *browser) widgetState() string {
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(`+pageStateJS+`)`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return s
}

// softphoneJS is a condition on the softphone's call view (#sp-active).
func softphoneJS(state string) string {
	return widgetJS(fmt.Sprintf(`w.getElementById("sp-active") && w.getElementById("sp-active").dataset.state === %q`, state))
}

// waitRinging waits until the softphone rings with a call the widget shows,
// and returns its interaction id; want, if not "", is the id it must be.
func (b *browser) waitRinging(want string) string {
	b.t.Helper()
	b.waitFor("the softphone to ring", softphoneJS("ringing"))
	return b.waitCallShown(want)
}

// waitCallShown waits until the widget's call banner shows a call in
// progress and returns its interaction id (want, when set).
func (b *browser) waitCallShown(want string) string {
	b.t.Helper()
	cond := `(c => c.dataset.state === "active" && c.dataset.interactionId)(w.getElementById("call-banner"))`
	if want != "" {
		cond = fmt.Sprintf(`(c => c.dataset.state === "active" && c.dataset.interactionId === %q)(w.getElementById("call-banner"))`, want)
	}
	b.waitFor("the widget to show the call "+want, widgetJS(cond))
	return eval[string](b, widgetJS(`w.getElementById("call-banner").dataset.interactionId`))
}

// recordAgentMedia makes the widget's frame keep the RTCPeerConnections
// it creates, in window.__e2ePeerConnections, so that a test can read the
// softphone's media: its audio sender's track and DTMF sender. It wraps
// setLocalDescription, which every call's connection runs, to note the
// connection and go on as before; nothing else changes. Run it before the
// call starts.
func (b *browser) recordAgentMedia() {
	b.t.Helper()
	eval[bool](b, `((win) => {
		if (!win.__e2ePeerConnections) {
			const pcs = (win.__e2ePeerConnections = []);
			const proto = win.RTCPeerConnection.prototype;
			const set = proto.setLocalDescription;
			proto.setLocalDescription = function (...args) {
				if (!pcs.includes(this)) pcs.push(this);
				return set.apply(this, args);
			};
		}
		return true;
	})(document.getElementById("cif-frame").contentWindow)`)
}

// agentSenderJS is a condition on the audio RTCRtpSender of the
// softphone's call (recordAgentMedia), named s, with win the widget's
// window.
func agentSenderJS(expr string) string {
	return `((win) => {
		const pc = (win.__e2ePeerConnections || []).filter((p) => p.signalingState !== "closed").pop();
		const s = pc && pc.getSenders().find((x) => x.track && x.track.kind === "audio");
		return !!s && (` + expr + `);
	})(document.getElementById("cif-frame").contentWindow)`
}

// waitCallOver waits until the widget shows the call ended and the agent on
// wrap.
func (b *browser) waitCallOver(id string) {
	b.t.Helper()
	b.waitFor("the widget to show call "+id+" ended", widgetJS(fmt.Sprintf(
		`w.getElementById("call-banner").dataset.interactionId === %q && w.getElementById("call-banner").dataset.state === "ended"`, id)))
	b.waitFor("the agent to be on wrap", widgetJS(`w.getElementById("agent-state").dataset.state === "OnWrap"`))
	b.waitFor("the softphone to have no call", softphoneJS("none"))
}

// openRecordFromList opens r in the host page through its entity's list,
// as the agent would before clicking its phone number.
func (b *browser) openRecordFromList(r sandbox.DemoRecord) {
	b.t.Helper()
	b.clickHost(fmt.Sprintf(`#entity-nav button[data-entity=%q]`, r.Entity))
	b.waitFor("the "+r.Entity+" list", fmt.Sprintf(`(p => p.dataset.view === "search" && p.dataset.entity === %q)(document.getElementById("record-pane"))`, r.Entity))
	if err := b.do(chromedp.SetValue(chromedp.CSS("#search-text"), r.Name)); err != nil {
		b.fatalf("search for %s: %v", r.Name, err)
	}
	b.clickHost("#search-submit")
	b.waitFor("the search results for "+r.Name, fmt.Sprintf(
		`(t => t && t.textContent.includes(%q))(document.getElementById("search-title"))`, r.Name))
	row := fmt.Sprintf(`#search-results tbody tr[data-id=%q]`, r.ID)
	b.waitFor(r.Name+" in the search results", fmt.Sprintf(`document.querySelector(%q) !== null`, row))
	b.clickHost(row)
	b.waitRecord(r)
}

// clickToDial clicks the open record's telephone1 link (CIF click-to-act).
func (b *browser) clickToDial() {
	b.t.Helper()
	link := `#record-form a.phone-link[data-field="telephone1"]`
	b.waitFor("click-to-dial on the record's phone link", fmt.Sprintf(
		`(a => a && a.dataset.enabled === "true")(document.querySelector(%q))`, link))
	b.clickHost(link)
}

// checkNoPhoneCall checks that the CRM holds no phone call for the
// interaction once the outbox had time to write one (the wrap is written
// after the call's own writes, so a phone call would be there by now).
func (r *sipRun) checkNoPhoneCall(t *testing.T, id string) {
	t.Helper()
	if got := r.db.phoneCalls(t, id); len(got) != 0 {
		t.Errorf("interaction %s left %d phone calls in the CRM, want none: %+v", id, len(got), got)
	}
}

// wrapAndCheck wraps the call with code and checks its one phone call: the
// state, regarding record and subject prefix.
func (r *sipRun) wrapAndCheck(t *testing.T, id, code string, statusCode int, regarding *sandbox.DemoRecord, subjectPrefix string) activity {
	t.Helper()
	b := r.b.with(t)
	b.wrap(id, code)
	pc := r.db.waitPhoneCall(t, id, "wrapped", func(a activity) bool { return a.WrapCode != "" })
	if pc.WrapCode != code || pc.StateCode != stateCompleted || pc.StatusCode != statusCode {
		t.Errorf("phone call %s: wrap code %q, statecode/statuscode %d/%d; want %q, %d/%d", id, pc.WrapCode, pc.StateCode, pc.StatusCode, code, stateCompleted, statusCode)
	}
	checkRegarding(t, pc, regarding)
	if !strings.HasPrefix(pc.Subject, subjectPrefix) {
		t.Errorf("phone call %s: subject %q, want it to start %q", id, pc.Subject, subjectPrefix)
	}
	b.waitActivityRow(id, "phonecall", "completed", code)
	return pc
}

// TestSIPCalls makes real calls between the customer's phone and the
// agent's softphone in the widget, through Kamailio, and checks what the
// widget shows and what the sandbox CRM holds after each.
func TestSIPCalls(t *testing.T) {
	chromium := sipIsolated(t)
	if chromium == "" {
		return
	}
	r := newSIPRun(t, chromium)
	olivia := demoRecord(t, "single-contact")
	harbour := demoRecord(t, "account-match")
	unknown := sandbox.DemoNumberByKey("no-match")
	a := agent(t)

	t.Run("inbound: ring, pop, answer, the customer hangs up, wrap", func(t *testing.T) {
		b, c := r.b.with(t), r.customer.with(t)
		c.act("call", map[string]string{"target": a.ID, "cli": sandbox.DemoNumberByKey("single-contact").E164, "interactionId": "sip-inbound", "queue": "Sales"})
		id := b.waitRinging("sip-inbound")
		t.Logf("%s: %s", id, b.waitPop("record"))
		b.waitRecord(olivia)
		b.screenshot("inbound-ringing")
		b.clickWidget("#sp-answer")
		b.waitFor("the softphone to be connected", softphoneJS("connected"))
		b.waitConnected()
		c.waitState("connected")
		c.waitAudio()
		r.db.waitPhoneCall(t, id, "open", func(a activity) bool { return a.StateCode == stateOpen })
		b.screenshot("inbound-connected")
		c.act("hangup")
		b.waitCallOver(id)
		pc := r.wrapAndCheck(t, id, "1", phoneCallReceived, &olivia, "Inbound call from")
		// The PBX's queue header reaches the activity.
		if !strings.Contains(pc.Subject, "Sales") {
			t.Errorf("phone call %s: subject %q does not name the queue Sales (X-Queue)", id, pc.Subject)
		}
	})

	t.Run("outbound: click-to-dial rings the customer, the agent hangs up, wrap", func(t *testing.T) {
		b, c := r.b.with(t), r.customer.with(t)
		b.openRecordFromList(harbour)
		b.clickToDial()
		c.waitState("ringing")
		if got := eval[string](c.browser, `document.body.dataset.dialled`); got != "0299990020" {
			t.Errorf("the customer's phone rang for %q, want the record's number dialled as 0299990020", got)
		}
		id := b.waitCallShown("")
		c.act("answer")
		c.waitState("connected")
		b.waitFor("the softphone to be connected", softphoneJS("connected"))
		b.waitConnected()
		c.waitAudio()
		b.screenshot("outbound-connected")
		b.clickWidget("#sp-hangup")
		c.waitFor("the agent's hang-up to reach the customer as a BYE", `document.body.dataset.state === "ended" && document.body.dataset.endedBy === "bye"`)
		b.waitCallOver(id)
		r.wrapAndCheck(t, id, "2", phoneCallMade, &harbour, "Manual call to")
	})

	t.Run("outbound the customer declines: an unanswered call, wrapped", func(t *testing.T) {
		b, c := r.b.with(t), r.customer.with(t)
		b.openRecordFromList(harbour)
		b.clickToDial()
		c.waitState("ringing")
		id := b.waitCallShown("")
		// The agent sees the pop (the dialled account) before the call ends:
		// its answer relates the activity. A popResult that came after the
		// wrap would meet an activity already completed, read-only.
		b.waitPop("record")
		c.act("decline")
		c.waitState("ended")
		b.waitCallOver(id)
		// An outgoing call that never connected is still logged: the
		// config's activity rules write every dial attempt.
		r.wrapAndCheck(t, id, "5", phoneCallMade, &harbour, "Unanswered manual call to")
	})

	t.Run("inbound the agent declines: no phone call", func(t *testing.T) {
		b, c := r.b.with(t), r.customer.with(t)
		c.act("call", map[string]string{"target": a.ID, "cli": sandbox.DemoNumberByKey("single-contact").E164, "interactionId": "sip-declined"})
		id := b.waitRinging("sip-declined")
		b.waitPop("record")
		b.clickWidget("#sp-decline")
		c.waitFor("the customer to hear the agent is busy", `document.body.dataset.state === "ended" && document.body.dataset.endStatus === "486"`)
		b.waitCallOver(id)
		b.expect("the softphone to say the call was declined", widgetJS(`w.getElementById("sp-last").textContent.includes("Declined")`))
		b.wrap(id, "4")
		r.checkNoPhoneCall(t, id)
	})

	t.Run("inbound the agent misses: the customer gives up, no phone call", func(t *testing.T) {
		b, c := r.b.with(t), r.customer.with(t)
		c.act("call", map[string]string{"target": a.ID, "cli": sandbox.DemoNumberByKey("single-contact").E164, "interactionId": "sip-missed"})
		id := b.waitRinging("sip-missed")
		c.act("hangup")
		b.waitCallOver(id)
		b.expect("the softphone to say the call was missed", widgetJS(`w.getElementById("sp-last").textContent.includes("Missed")`))
		b.wrap(id, "4")
		r.checkNoPhoneCall(t, id)
	})

	t.Run("the widget's network drops mid-call: nothing lost or duplicated", func(t *testing.T) {
		b, c := r.b.with(t), r.customer.with(t)
		c.act("call", map[string]string{"target": a.ID, "cli": sandbox.DemoNumberByKey("single-contact").E164, "interactionId": "sip-dropped"})
		id := b.waitRinging("sip-dropped")
		// The pop re-renders the panel: answer once it has settled, as an
		// agent who sees who calls does.
		b.waitPop("record")
		b.clickWidget("#sp-answer")
		b.waitConnected()
		c.waitState("connected")
		r.db.waitPhoneCall(t, id, "open", func(a activity) bool { return a.StateCode == stateOpen })

		r.cut.drop()
		b.waitFor("the widget to lose ctibridge", widgetJS(`w.getElementById("connection-status").dataset.status !== "connected"`))
		// The call goes on without ctibridge: audio keeps coming, and the
		// hang-up is kept in the page until ctibridge is back.
		before := eval[int](c.browser, `Number(document.body.dataset.bytesReceived)`)
		c.waitFor("audio to keep coming while ctibridge is unreachable", fmt.Sprintf(`Number(document.body.dataset.bytesReceived) > %d`, before))
		c.act("hangup")
		b.waitFor("the softphone to end the call", softphoneJS("none"))
		b.waitFor("the widget to keep the hang-up of "+id+" for ctibridge", widgetJS(fmt.Sprintf(
			`JSON.parse(w.defaultView.sessionStorage.getItem("ctibridge.events") || "{}").events.some((e) => e.type === "callHangup" && e.interaction.agentInteractionId === %q)`, id)))
		b.screenshot("dropped-call-ended-offline")
		r.cut.restore()
		b.waitFor("the widget to reconnect", widgetJS(`w.getElementById("connection-status").dataset.status === "connected"`))
		if n := r.cut.cutCount(); n == 0 {
			t.Error("no socket of the widget was cut: the test did not drop its network")
		}
		b.waitFor("ctibridge to acknowledge every kept event", widgetJS(
			`JSON.parse(w.defaultView.sessionStorage.getItem("ctibridge.events") || "{}").events.length === 0`))
		b.waitCallOver(id)
		r.wrapAndCheck(t, id, "3", phoneCallReceived, &olivia, "Inbound call from")
	})

	t.Run("inbound from an unknown number opens the new contact form", func(t *testing.T) {
		b, c := r.b.with(t), r.customer.with(t)
		c.act("call", map[string]string{"target": a.ID, "cli": unknown.E164, "interactionId": "sip-unknown"})
		id := b.waitRinging("sip-unknown")
		t.Logf("%s: %s", id, b.waitPop("new"))
		b.waitFor("the new contact form", `(p => p.dataset.view === "new" && p.dataset.entity === "contact")(document.getElementById("record-pane"))`)
		b.waitFor("the new contact form's telephone1 field", `document.getElementById("field-telephone1") !== null`)
		if got := eval[string](b, `document.getElementById("field-telephone1").value`); got != "(02) 9999 0099" {
			t.Errorf("the new contact form's telephone1 is %q, want it prefilled with (02) 9999 0099", got)
		}
		b.screenshot("unknown-caller-new-form")
		b.clickWidget("#sp-answer")
		b.waitConnected()
		c.waitState("connected")
		c.act("hangup")
		b.waitCallOver(id)
		r.wrapAndCheck(t, id, "1", phoneCallReceived, nil, "Inbound call from")
	})

	t.Run("in a call: hold and resume, mute, DTMF", func(t *testing.T) {
		b, c := r.b.with(t), r.customer.with(t)
		b.recordAgentMedia()
		c.act("call", map[string]string{"target": a.ID, "cli": sandbox.DemoNumberByKey("single-contact").E164, "interactionId": "sip-in-call"})
		id := b.waitRinging("sip-in-call")
		b.waitPop("record")
		b.clickWidget("#sp-answer")
		b.waitFor("the softphone to be connected", softphoneJS("connected"))
		b.waitConnected()
		c.waitState("connected")
		c.waitFor("the customer's audio to go both ways", `document.body.dataset.audioDirection === "sendrecv"`)
		c.waitSound("the agent's microphone, before any feature")

		// Each feature leaves the call as it found it, connected and
		// unmuted. After a failure the call's state is unknown, so the
		// features after it are skipped rather than failed for it.
		feature := func(name string, check func(t *testing.T, b *browser, c *phone)) {
			t.Run(name, func(st *testing.T) {
				if t.Failed() {
					st.Skip("a feature above failed; the call may not be as it left it")
				}
				check(st, b.with(st), c.with(st))
			})
		}
		feature("hold and resume", func(t *testing.T, b *browser, c *phone) {
			b.clickWidget("#sp-hold")
			b.waitFor("the softphone to show the call on hold, with Resume", softphoneJS("held")+" && "+widgetJS(
				`(h => h.dataset.on === "true" && h.textContent === "Resume")(w.getElementById("sp-hold"))`))
			// JsSIP emits hold with originator remote when a re-INVITE's SDP
			// is sendonly or inactive; the answer makes the customer's
			// audio receive-only.
			c.waitFor("the customer's phone to see the agent's hold (a re-INVITE with sendonly)", observedJS(`o.held === true && o.holds === 1`))
			c.waitFor("the customer's audio to be receive-only while held", `document.body.dataset.audioDirection === "recvonly"`)
			c.waitSilence("the agent holds the call")
			b.screenshot("call-held")
			b.clickWidget("#sp-hold")
			b.waitFor("the softphone to show the call resumed", softphoneJS("connected")+" && "+widgetJS(
				`(h => h.dataset.on === "false" && h.textContent === "Hold")(w.getElementById("sp-hold"))`))
			c.waitFor("the customer's phone to see the resume (a re-INVITE with sendrecv)", observedJS(`o.held === false && o.unholds === 1`))
			c.waitFor("the customer's audio to go both ways again", `document.body.dataset.audioDirection === "sendrecv"`)
			c.waitSound("the agent resumed the call")
		})

		feature("mute and unmute", func(t *testing.T, b *browser, c *phone) {
			holds := eval[int](c.browser, observedJS(`o.holds`))
			b.clickWidget("#sp-mute")
			b.waitFor("the softphone to show the call muted, with Unmute", softphoneJS("connected")+" && "+widgetJS(
				`(m => m.dataset.on === "true" && m.textContent === "Unmute")(w.getElementById("sp-mute"))`))
			b.waitFor("the agent's outgoing audio track to be disabled", agentSenderJS(`s.track.enabled === false`))
			c.waitSilence("the agent is muted")
			// Muting is local: no re-INVITE, and the call's media go on
			// (RTP carries the silence).
			bytes := eval[int](c.browser, `Number(document.body.dataset.bytesReceived)`)
			c.waitFor("the call to go on while the agent is muted", fmt.Sprintf(
				`document.body.dataset.state === "connected" && Number(document.body.dataset.bytesReceived) > %d`, bytes))
			if got := eval[int](c.browser, observedJS(`o.holds`)); got != holds {
				t.Errorf("muting put the call on hold at the customer's phone (%d holds, was %d): mute must not re-INVITE", got, holds)
			}
			b.screenshot("call-muted")
			b.clickWidget("#sp-mute")
			b.waitFor("the softphone to show the call unmuted", widgetJS(
				`(m => m.dataset.on === "false" && m.textContent === "Mute")(w.getElementById("sp-mute"))`))
			b.waitFor("the agent's outgoing audio track to be enabled again", agentSenderJS(`s.track.enabled === true`))
			c.waitSound("the agent unmuted")
		})

		// DTMF goes in the media (RFC 4733), as the softphone sends it by
		// default. Browsers do not surface the tones they receive, so the
		// check is at the sender: Chromium fires tonechange for a tone only
		// once the audio send stream took it as a telephone-event, which
		// needs the payload type negotiated with the customer's phone. The
		// customer's phone must see no SIP INFO tone (the other transport).
		feature("DTMF from the keypad", func(t *testing.T, b *browser, c *phone) {
			b.waitFor("the agent's audio sender to send DTMF", agentSenderJS(`s.dtmf && s.dtmf.canInsertDTMF`))
			eval[bool](b, agentSenderJS(`((win.__e2eTones = []), s.dtmf.addEventListener("tonechange", (e) => win.__e2eTones.push(e.tone)), true)`))
			for _, key := range []string{"1", "2", "hash"} {
				b.clickWidget("#sp-key-" + key)
			}
			b.waitFor("the softphone to show the tones sent", widgetJS(`w.getElementById("sp-dtmf").textContent === "Tones sent: 12#"`))
			b.waitFor("the agent's browser to send 1, 2, # as RFC 4733 events", `(document.getElementById("cif-frame").contentWindow.__e2eTones || []).join("") === "12#"`)
			if got := eval[[]string](c.browser, observedJS(`o.dtmf`)); len(got) != 0 {
				t.Errorf("the customer's phone received tones %q as SIP INFO; the softphone sends DTMF in the media (RFC 4733)", got)
			}
			c.waitFor("the call to go on after the tones", `document.body.dataset.state === "connected"`)
		})

		b.clickWidget("#sp-hangup")
		c.waitFor("the agent's hang-up to reach the customer as a BYE", `document.body.dataset.state === "ended" && document.body.dataset.endedBy === "bye"`)
		b.waitCallOver(id)
		r.wrapAndCheck(t, id, "1", phoneCallReceived, &olivia, "Inbound call from")
	})

	t.Run("blind transfer: the customer ends up on another phone, the agent's call logged once", func(t *testing.T) {
		b, c := r.b.with(t), r.customer.with(t)
		// The transfer target is a colleague's extension: a phone page
		// registered as the second demo agent's SIP user.
		other := demo.Agents[1].ID
		colleague := r.b.newTab(t).openPhone("colleague", r.d.BaseURL, r.d.SIP.Kamailio, other, r.d.SIP.Agents[other].Password, nil)
		t.Cleanup(colleague.checkNoExceptions)
		k := r.d.SIP.Kamailio
		colleague.browser.extra = func() string {
			return "customer's phone: " + r.customer.state() + "\nagent's widget: " + r.b.widgetState() + "\nkamailio log (" + k.LogPath() + "):\n" + k.LogTail(25)
		}

		c.act("call", map[string]string{"target": a.ID, "cli": sandbox.DemoNumberByKey("single-contact").E164, "interactionId": "sip-transfer"})
		id := b.waitRinging("sip-transfer")
		b.waitPop("record")
		b.clickWidget("#sp-answer")
		b.waitConnected()
		c.waitState("connected")
		c.waitAudio()
		r.db.waitPhoneCall(t, id, "open", func(a activity) bool { return a.StateCode == stateOpen })

		b.typeWidget("#sp-transfer-target", other)
		b.clickWidget("#sp-transfer")
		// REFER reaches the customer's phone in the dialog, through
		// Kamailio; it calls the target, and the agent's leg ends.
		colleague.waitState("ringing")
		if got := eval[string](colleague.browser, `document.body.dataset.remote`); got != demo.CustomerUser {
			t.Errorf("the colleague's phone rings with a call from %q, want the customer's phone (%s) calling it", got, demo.CustomerUser)
		}
		c.waitFor("the customer's phone to call the transfer target the agent named", observedJS(fmt.Sprintf(
			`o.referredTo === %q && o.referredBy === %q`, other, a.ID))+fmt.Sprintf(
			` && document.body.dataset.remote === %q`, other))
		b.waitCallOver(id)
		b.expect("the softphone to say the call was transferred", widgetJS(fmt.Sprintf(
			`w.getElementById("sp-last").textContent.includes("Transferred the call") && w.getElementById("sp-last").textContent.includes(%q)`, other)))
		b.screenshot("transferred")

		colleague.act("answer")
		colleague.waitState("connected")
		c.waitState("connected")
		colleague.waitFor("the colleague's side of the call to be confirmed", `document.body.dataset.confirmed === "true"`)
		colleague.waitAudio()
		c.waitAudio()
		colleague.waitSound("the customer talks to the colleague")
		c.waitSound("the colleague talks to the customer")

		// ctibridge saw the agent's call only: one phone call, completed at
		// the wrap.
		r.wrapAndCheck(t, id, "1", phoneCallReceived, &olivia, "Inbound call from")
		if got := r.db.phoneCalls(t, id); len(got) != 1 {
			t.Errorf("interaction %s has %d phone calls after the transfer, want 1: %+v", id, len(got), got)
		}

		c.act("hangup")
		colleague.waitFor("the customer's hang-up to reach the colleague as a BYE", `document.body.dataset.state === "ended" && document.body.dataset.endedBy === "bye"`)
		c.waitState("ended")
	})

	t.Run("a refused registration is shown to the agent with the reason", func(t *testing.T) {
		other := demo.Agents[1]
		if err := r.d.Server.Creds.SetSIP(t.Context(), other.ID, agentpkg.SIPAccount{User: other.ID, Password: "not-the-password"}); err != nil {
			t.Fatal(err)
		}
		b := r.b.newTab(t)
		b.extra = r.b.extra
		t.Cleanup(b.checkNoExceptions)
		b.openSIPHost(r.d.BaseURL + "/demo/")
		b.logIn(other)
		b.waitFor("the softphone to report the refused registration", widgetJS(`w.getElementById("softphone").dataset.registration === "failed"`))
		reason := eval[string](b, widgetJS(`w.getElementById("sp-reason").textContent`))
		if !strings.Contains(reason, "403") || !strings.Contains(reason, "Wrong user name or password") {
			t.Errorf("the softphone says %q, want the SIP server's refusal: 403 Wrong user name or password", reason)
		}
		b.screenshot("registration-refused")
	})

	parent := t
	t.Run("one phone call per connected or dialled call", func(t *testing.T) {
		if parent.Failed() {
			t.Skip("a call above stopped half-way; its subtest says why")
		}
		got := map[string]int{}
		for _, pc := range r.db.allPhoneCalls(t) {
			got[pc.InteractionID]++
		}
		for id, n := range got {
			if n != 1 {
				t.Errorf("interaction %s has %d phone calls, want 1", id, n)
			}
		}
		for _, id := range []string{"sip-declined", "sip-missed"} {
			if got[id] != 0 {
				t.Errorf("interaction %s (never connected, inbound) has a phone call", id)
			}
		}
		if len(got) != 7 {
			t.Errorf("the CRM holds phone calls for %d interactions, want 7 (inbound, two click-to-dials, the dropped call, the unknown caller, the in-call features, the transfer): %v", len(got), got)
		}
	})
}
