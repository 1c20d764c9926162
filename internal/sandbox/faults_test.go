package sandbox_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ctibridge/ctibridge/internal/sandbox"
)

func TestFaultCounts(t *testing.T) {
	sb, srv := newServer(t, testOptions())
	if err := sb.SetFaults(sandbox.Faults{ThrottleCount: 2, RetryAfterSeconds: 7, UnavailableCount: 1}); err != nil {
		t.Fatal(err)
	}
	// 503 takes precedence over 429, then the two 429s, then success.
	want := []int{503, 429, 429, 200}
	for i, status := range want {
		r := call(t, srv, "GET", api+"WhoAmI", "")
		wantStatus(t, r, status)
		switch status {
		case 429:
			if r.header.Get("Retry-After") != "7" {
				t.Errorf("request %d: Retry-After = %q, want 7", i, r.header.Get("Retry-After"))
			}
			wantError(t, r, 429, "0x80072322", "Number of requests exceeded the limit of 6000 over time window of 300 seconds.")
		case 503:
			wantError(t, r, 503, "", "temporarily unavailable")
		}
	}
	st := sb.Stats()
	if st.Faults["429"] != 2 || st.Faults["503"] != 1 {
		t.Errorf("fault stats = %v", st.Faults)
	}
	if left := sb.Faults(); left.ThrottleCount != 0 || left.UnavailableCount != 0 {
		t.Errorf("remaining counts = %+v, want 0", left)
	}
}

func TestFaultFiltersAndRates(t *testing.T) {
	sb, srv := newServer(t, testOptions())
	if err := sb.SetFaults(sandbox.Faults{ThrottleRate: 1, Methods: []string{"POST"}, EntitySets: []string{"phonecalls"}}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, call(t, srv, "GET", api+"phonecalls", ""), 200)
	wantStatus(t, call(t, srv, "POST", api+"contacts", `{"lastname":"x"}`), 204)
	wantStatus(t, call(t, srv, "POST", api+"phonecalls", `{"subject":"x"}`), 429)

	// A rate of one half throttles some and not all, repeatably per seed.
	draw := func() []int {
		if err := sb.SetFaults(sandbox.Faults{ThrottleRate: 0.5, Seed: 42}); err != nil {
			t.Fatal(err)
		}
		var got []int
		for range 40 {
			got = append(got, call(t, srv, "GET", api+"WhoAmI", "").status)
		}
		return got
	}
	first, second := draw(), draw()
	throttled := 0
	for i := range first {
		if first[i] == 429 {
			throttled++
		}
		if first[i] != second[i] {
			t.Fatalf("the same seed gave different draws at %d", i)
		}
	}
	if throttled == 0 || throttled == len(first) {
		t.Errorf("rate 0.5 throttled %d of %d", throttled, len(first))
	}
	if err := sb.SetFaults(sandbox.Faults{ThrottleRate: 1.5}); err == nil {
		t.Error("a rate above 1 was accepted")
	}
}

func TestFaultDropsConnection(t *testing.T) {
	sb, srv := newServer(t, testOptions())
	if err := sb.SetFaults(sandbox.Faults{DropCount: 1}); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(srv.URL + api + "WhoAmI")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("dropped request got a response: %d", resp.StatusCode)
	}
	if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "reset") {
		t.Errorf("drop error = %v, want the connection closed without a response", err)
	}
	wantStatus(t, call(t, srv, "GET", api+"WhoAmI", ""), 200)
	if sb.Stats().Faults["drop"] != 1 {
		t.Errorf("drop stats = %v", sb.Stats().Faults)
	}
}

func TestFaultAndStatsEndpoints(t *testing.T) {
	sb, srv := newServer(t, testOptions())
	r := call(t, srv, "POST", "/_sandbox/faults", `{"throttleCount":1,"retryAfterSeconds":3,"latencyMs":0}`)
	wantStatus(t, r, 200)
	if r.json(t)["throttleCount"] != float64(1) {
		t.Errorf("POST /_sandbox/faults echoed %s", r.body)
	}
	wantStatus(t, call(t, srv, "POST", "/_sandbox/faults", `{"throttleCuont":1}`), 400)
	wantStatus(t, call(t, srv, "POST", "/_sandbox/faults", `{"dropRate":2}`), 400)
	if got := call(t, srv, "GET", "/_sandbox/faults", "").json(t)["throttleCount"]; got != float64(1) {
		t.Errorf("GET /_sandbox/faults throttleCount = %v", got)
	}
	wantStatus(t, call(t, srv, "DELETE", "/_sandbox/faults", ""), 204)
	if sb.Faults().ThrottleCount != 0 {
		t.Error("DELETE /_sandbox/faults left faults in force")
	}

	wantStatus(t, call(t, srv, "DELETE", "/_sandbox/stats", ""), 204)
	call(t, srv, "GET", api+"contacts", "")
	call(t, srv, "GET", api+"contacts(00000000-0000-0000-0000-000000000001)", "")
	call(t, srv, "POST", api+"phonecalls", `{"subject":"s"}`)
	body, ct := batchBody([]batchOp{{contentID: "1", method: "POST", url: "tasks", body: `{"subject":"t"}`}, {contentID: "2", method: "PATCH", url: "$1", body: `{"subject":"u"}`}})
	call(t, srv, "POST", api+"$batch", body, "Content-Type", ct)

	st := call(t, srv, "GET", "/_sandbox/stats", "").json(t)
	reqs := st["requests"].(map[string]any)
	if reqs["GET contacts"] != float64(2) || reqs["POST phonecalls"] != float64(1) || reqs["POST $batch"] != float64(1) {
		t.Errorf("requests = %v", reqs)
	}
	ops := st["batchOperations"].(map[string]any)
	if ops["POST tasks"] != float64(1) || ops["PATCH tasks"] != float64(1) {
		t.Errorf("batchOperations = %v", ops)
	}
	if st["total"] != float64(4) {
		t.Errorf("total = %v, want 4", st["total"])
	}
	// The $batch is a request but only the envelope of its two operations.
	if st["operations"] != float64(5) {
		t.Errorf("operations = %v, want 5: three requests and the batch's two", st["operations"])
	}
}
