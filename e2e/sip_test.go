package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ctibridge/ctibridge/internal/kamailio"
	"github.com/ctibridge/ctibridge/internal/netns"
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
		t.Skip(err.Error())
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
})`

// openPhone loads the phone page of baseURL in b's tab, registered as user
// at k, with the extra query parameters, and waits for the registration.
func (b *browser) openPhone(name, baseURL string, k *kamailio.Kamailio, user, password string, query url.Values) *phone {
	b.t.Helper()
	q := url.Values{"server": {k.WSURL()}, "domain": {k.Domain()}, "user": {user}, "password": {password}, "name": {name}}
	for key, v := range query {
		q[key] = v
	}
	p := &phone{browser: b, name: name}
	if err := b.do(chromedp.Navigate(baseURL + "/demo/phone.html?" + q.Encode())); err != nil {
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

// newPhoneTab opens another tab in b's browser, in a browser context of its
// own (its own storage, as another person's browser would have).
func (b *browser) newPhoneTab(t *testing.T) *browser {
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
	bob := b.newPhoneTab(t).openPhone("bob", site, k, "bob", "bob-secret", nil)
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
