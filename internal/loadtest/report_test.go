package loadtest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// atTarget is a report of a run at the target scale that meets every
// target; cases change one thing.
func atTarget() *Report {
	return &Report{
		Scenario: ScenarioReport{Agents: 5000, EventsPerSecond: 500},
		Relay:    &TargetReport{Name: "bare relay", PopLatency: Summary{P99Ms: 10}},
		Server: &TargetReport{
			Name: "ctibridge", Agents: 5000, Connected: 5000,
			EventsScheduled: 30000, EventsAccepted: 30000, SustainedEventsPerSecond: 500.1,
			PopLatency:     Summary{P99Ms: 19},
			RSSBeforeBytes: 20 << 20, RSSIdleBytes: 20<<20 + 5000*35*1024, KiBPerIdleAgent: 35,
			CallsCompleted: 10000, DataverseRequests: 20000, DataverseRequestsPerCall: 2, DataverseBreakdown: map[string]int64{},
			DataverseOperations: 20000, DataverseOperationsPerCall: 2,
		},
		LatencyRatio: &RatioReport{P99: 1.9},
	}
}

func checkNamed(t *testing.T, checks []TargetCheck, name string) TargetCheck {
	t.Helper()
	for _, c := range checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no target %q in %+v", name, checks)
	return TargetCheck{}
}

func TestCheckTargets(t *testing.T) {
	tests := []struct {
		name     string
		change   func(*Report)
		target   string
		met      bool
		missSays string
		// measuredSays, if set, must be in what the check measured.
		measuredSays string
	}{
		{name: "all met", change: func(*Report) {}, target: "p99 event→pop latency vs bare relay", met: true},
		{
			name: "p99 over twice the relay's says by how much", change: func(r *Report) { r.Server.PopLatency.P99Ms = 25; r.LatencyRatio.P99 = 2.5 },
			target: "p99 event→pop latency vs bare relay", missSays: "25% over; p99 would need to be ≤ 20.00ms",
		},
		{
			name: "p99 exactly twice is met", change: func(r *Report) { r.Server.PopLatency.P99Ms = 20; r.LatencyRatio.P99 = 2 },
			target: "p99 event→pop latency vs bare relay", met: true,
		},
		{
			name: "memory is compared in bytes", change: func(r *Report) {
				r.Server.RSSIdleBytes = r.Server.RSSBeforeBytes + 5000*40*1024
				r.Server.KiBPerIdleAgent = 40
			},
			target: "server memory per idle agent", missSays: "0.0 KiB over",
		},
		{
			name: "memory over says by how much", change: func(r *Report) {
				r.Server.RSSIdleBytes = r.Server.RSSBeforeBytes + 5000*50*1024
				r.Server.KiBPerIdleAgent = 50
			},
			target: "server memory per idle agent", missSays: "10.0 KiB over (25%)",
		},
		{
			name: "nine extra requests in ten thousand calls are a miss, not rounded away", change: func(r *Report) { r.Server.DataverseRequests = 20009; r.Server.DataverseRequestsPerCall = 2.0009 },
			target: "Dataverse requests per completed inbound call", missSays: "9 requests over",
		},
		{
			name: "batched writes meet the target in requests and still show every operation", change: func(r *Report) {
				r.Server.DataverseRequests, r.Server.DataverseRequestsPerCall = 12000, 1.2
				r.Server.DataverseBatchOperations = map[string]int64{"PATCH phonecalls": 9000}
			},
			target: "Dataverse requests per completed inbound call", met: true,
			measuredSays: "1.2000 (12000 HTTP requests / 10000 calls); 2.0000 operations per call (20000, 9000 of them inside $batch)",
		},
		{
			name: "a rate short of the target", change: func(r *Report) { r.Server.SustainedEventsPerSecond = 400 },
			target: "events per second sustained", missSays: "100.0/s short (20%)",
		},
		{
			name: "events not accepted miss the rate", change: func(r *Report) { r.Server.EventsAccepted = 29990 },
			target: "events per second sustained", missSays: "10 events not accepted",
		},
		{
			name: "a dropped widget misses the agents target", change: func(r *Report) { r.Server.Errors = map[string]int64{"widget_disconnected": 3} },
			target: "connected agents", missSays: "3 dropped",
		},
		{
			name: "a smaller run meets nothing", change: func(r *Report) { r.Scenario.Agents = 200 },
			target: "p99 event→pop latency vs bare relay", missSays: "not at target scale (run: 200 agents",
		},
		{
			name: "without the relay the ratio is not compared", change: func(r *Report) { r.Relay, r.LatencyRatio = nil, nil },
			target: "p99 event→pop latency vs bare relay", missSays: "not compared",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := atTarget()
			tt.change(rep)
			c := checkNamed(t, checkTargets(rep), tt.target)
			if c.Met != tt.met {
				t.Fatalf("met = %v, want %v (%+v)", c.Met, tt.met, c)
			}
			if !strings.Contains(c.Miss, tt.missSays) {
				t.Errorf("miss = %q, want it to say %q", c.Miss, tt.missSays)
			}
			if !strings.Contains(c.Measured, tt.measuredSays) {
				t.Errorf("measured = %q, want it to say %q", c.Measured, tt.measuredSays)
			}
		})
	}
}

func TestCheckTargetsOfAFaultRun(t *testing.T) {
	tests := []struct {
		name       string
		audit      *Audit
		outboxLeft int
		met        bool
		missSays   string
	}{
		{name: "clean over enough calls", audit: &Audit{Calls: 2400, Activities: 2400, Correct: 2400}, met: true},
		{name: "too few calls", audit: &Audit{Calls: 1500, Activities: 1500, Correct: 1500}, missSays: "only 1500 calls, 500 short"},
		{name: "lost and duplicated", audit: &Audit{Calls: 2400, Activities: 2400, Correct: 2397, Lost: 2, Duplicated: 1, Extra: 2}, missSays: "2 lost; 1 duplicated"},
		{name: "not counted", audit: nil, missSays: "not counted"},
		{name: "an activity tied to no call is a duplicate", audit: &Audit{Calls: 3000, Activities: 3001, Correct: 3000, Unexpected: 1}, missSays: "1 activities tied to no call (3001 activities for 3000 calls)"},
		{name: "writes still queued", audit: &Audit{Calls: 2400, Activities: 2000, Correct: 2000, Lost: 400}, outboxLeft: 400, missSays: "400 lost; not settled: the outbox still held 400 writes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := &Report{Fault: &FaultReport{}, Server: &TargetReport{Audit: tt.audit, OutboxLeft: tt.outboxLeft}}
			c := checkNamed(t, checkTargets(rep), "fault run: activities")
			if c.Met != tt.met || !strings.Contains(c.Miss, tt.missSays) {
				t.Errorf("check = %+v, want met %v and a miss saying %q", c, tt.met, tt.missSays)
			}
		})
	}
}

func TestReportWritesTableAndJSON(t *testing.T) {
	rep := atTarget()
	rep.Targets = checkTargets(rep)
	var table, js bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"bare relay", "ctibridge", "event→pop p50/p95/p99/max", "targets:", "met",
		"Dataverse HTTP requests (per call)", "Dataverse operations (per call)", "20000 (2.0000), 0 inside $batch"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON report does not decode: %v", err)
	}
	if back.Server.DataverseRequests != 20000 || back.Server.DataverseOperations != 20000 || len(back.Targets) != len(rep.Targets) {
		t.Errorf("JSON round trip lost data: %+v", back.Server)
	}
}
