// Package e2e holds the browser end-to-end tests of the demo: a real
// Chromium, driven with chromedp, logs in to the widget in the demo's host
// page, places every kind of simulated call, checks the screen pop in the
// record pane, relates and wraps the call in the widget, and checks what the
// sandbox CRM holds afterwards through its Web API.
//
// The tests need Chromium: CTIBRIDGE_CHROMIUM names the binary, otherwise
// "chromium" is looked up on the PATH. Without one they skip, except when CI
// is set, where they fail so that a CI run cannot pass without them.
// CTIBRIDGE_E2E_SCREENSHOTS names a directory to keep the screenshots taken
// at each step (by default they go to the test's temporary directory); the
// happy path also writes demo.png there, the README's picture of the demo.
//
// The SIP tests (sip_test.go) make real calls between the widget's softphone
// and a customer phone page through a real Kamailio: they also need Kamailio
// (Debian: kamailio kamailio-websocket-modules; CTIBRIDGE_KAMAILIO names the
// binary) and a network namespace with only loopback (internal/netns: root,
// or unprivileged user namespaces), and skip without them except under CI.
// -run 'TestSIPCalls/inbound' runs one call, in its own namespace.
//
//	go test -race ./e2e/
package e2e
