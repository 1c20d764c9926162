package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// The targets, for a 2-core machine.
const (
	TargetAgents          = 5000
	TargetEventsPerSecond = 500
	TargetP99Ratio        = 2.0
	TargetKiBPerAgent     = 40
	TargetRequestsPerCall = 2
	TargetFaultCalls      = 2000
	// sustainedTolerance allows for where the measuring window's edges fall
	// between events; a server that falls behind loses far more.
	sustainedTolerance = 0.99
)

func checkTargets(rep *Report) []TargetCheck {
	srv := rep.Server
	if srv == nil {
		return nil
	}
	var out []TargetCheck
	if rep.Fault != nil {
		a := srv.Audit
		c := TargetCheck{Name: "fault run: activities", Target: fmt.Sprintf("0 lost, 0 duplicated over ≥ %d calls", TargetFaultCalls)}
		if a == nil {
			c.Measured, c.Miss = "not counted (no sandbox)", "the activities were not counted"
			return append(out, c)
		}
		c.Measured = fmt.Sprintf("%d calls: %d lost, %d duplicated, %d wrong state, %d wrong wrap code, %d wrong regarding, %d unexpected",
			a.Calls, a.Lost, a.Duplicated, a.WrongState, a.WrongWrapCode, a.WrongRegarding, a.Unexpected)
		// An activity tied to no call is a surplus create (every call has
		// its own, or it would be lost): a duplicate whose call the
		// CRM cannot tell.
		c.Met = a.Calls >= TargetFaultCalls && a.Lost == 0 && a.Duplicated == 0 && a.Unexpected == 0
		var miss []string
		if a.Calls < TargetFaultCalls {
			miss = append(miss, fmt.Sprintf("only %d calls, %d short", a.Calls, TargetFaultCalls-a.Calls))
		}
		if a.Lost > 0 {
			miss = append(miss, fmt.Sprintf("%d lost", a.Lost))
		}
		if a.Duplicated > 0 {
			miss = append(miss, fmt.Sprintf("%d duplicated", a.Duplicated))
		}
		if a.Unexpected > 0 {
			miss = append(miss, fmt.Sprintf("%d activities tied to no call (%d activities for %d calls): duplicates the wrap never reached", a.Unexpected, a.Activities, a.Calls))
		}
		if srv.OutboxLeft != 0 {
			// The count is not final: writes were still queued (or the
			// depth could not be read) when the drain ended.
			c.Met = false
			miss = append(miss, fmt.Sprintf("not settled: the outbox still held %d writes when the %s drain ended, so lost and wrong counts include calls still being written", srv.OutboxLeft, "--drain"))
		}
		c.Miss = strings.Join(miss, "; ")
		out = append(out, c)
		right := TargetCheck{Name: "fault run: final state", Target: "every call's one activity completed, wrap code and contact set",
			Measured: fmt.Sprintf("%d of %d correct", a.Correct, a.Calls), Met: a.OK()}
		if !right.Met {
			right.Miss = fmt.Sprintf("%d calls not correct", a.Calls-a.Correct)
		}
		return append(out, right)
	}

	scale := fmt.Sprintf(" (run: %d agents, %v events/s)", rep.Scenario.Agents, rep.Scenario.EventsPerSecond)
	agents := TargetCheck{Name: "connected agents", Target: fmt.Sprintf("%d", TargetAgents),
		Measured: fmt.Sprintf("%d connected, %d disconnected", srv.Connected, srv.Errors["widget_disconnected"])}
	agents.Met = srv.Connected >= TargetAgents && srv.Errors["widget_disconnected"] == 0
	if !agents.Met {
		agents.Miss = fmt.Sprintf("%d short of %d", max(0, TargetAgents-srv.Connected), TargetAgents)
		if n := srv.Errors["widget_disconnected"]; n > 0 {
			agents.Miss += fmt.Sprintf("; %d dropped", n)
		}
	}
	out = append(out, agents)

	rate := TargetCheck{Name: "events per second sustained", Target: fmt.Sprintf("%d", TargetEventsPerSecond),
		Measured: fmt.Sprintf("%.1f/s, %d of %d accepted, send lag p99 %.1fms", srv.SustainedEventsPerSecond, srv.EventsAccepted, srv.EventsScheduled, srv.SendLag.P99Ms)}
	rate.Met = srv.SustainedEventsPerSecond >= sustainedTolerance*TargetEventsPerSecond && srv.EventsAccepted == srv.EventsScheduled
	if !rate.Met {
		var miss []string
		if srv.SustainedEventsPerSecond < sustainedTolerance*TargetEventsPerSecond {
			miss = append(miss, fmt.Sprintf("%.1f/s short (%.0f%%)", TargetEventsPerSecond-srv.SustainedEventsPerSecond, 100*(1-srv.SustainedEventsPerSecond/TargetEventsPerSecond)))
		}
		if d := srv.EventsScheduled - srv.EventsAccepted; d > 0 {
			miss = append(miss, fmt.Sprintf("%d events not accepted", d))
		}
		rate.Miss = strings.Join(miss, "; ")
	}
	out = append(out, rate)

	ratio := TargetCheck{Name: "p99 event→pop latency vs bare relay", Target: fmt.Sprintf("≤ %.1f×", TargetP99Ratio)}
	if rep.LatencyRatio == nil || rep.Relay == nil {
		ratio.Measured, ratio.Miss = fmt.Sprintf("p99 %.2fms, no relay baseline", srv.PopLatency.P99Ms), "not compared: run with the baseline"
	} else {
		r := rep.LatencyRatio.P99
		ratio.Measured = fmt.Sprintf("%.2f× (p99 %.2fms vs relay %.2fms)", r, srv.PopLatency.P99Ms, rep.Relay.PopLatency.P99Ms)
		ratio.Met = srv.PopLatency.P99Ms <= TargetP99Ratio*rep.Relay.PopLatency.P99Ms
		if !ratio.Met {
			ratio.Miss = fmt.Sprintf("%.2f× over the %.1f× target (%.0f%% over; p99 would need to be ≤ %.2fms)", r-TargetP99Ratio, TargetP99Ratio, 100*(r/TargetP99Ratio-1), TargetP99Ratio*rep.Relay.PopLatency.P99Ms)
		}
	}
	out = append(out, ratio)

	mem := TargetCheck{Name: "server memory per idle agent", Target: fmt.Sprintf("< %d KiB", TargetKiBPerAgent),
		Measured: fmt.Sprintf("%.1f KiB (RSS %s → %s)", srv.KiBPerIdleAgent, mib(srv.RSSBeforeBytes), mib(srv.RSSIdleBytes))}
	mem.Met = srv.RSSIdleBytes > 0 && srv.RSSIdleBytes-srv.RSSBeforeBytes < int64(TargetKiBPerAgent*1024*srv.Agents)
	if !mem.Met {
		if srv.RSSIdleBytes == 0 {
			mem.Measured, mem.Miss = "not measured (no server pid)", "give --server-pid"
		} else {
			mem.Miss = fmt.Sprintf("%.1f KiB over (%.0f%%)", srv.KiBPerIdleAgent-TargetKiBPerAgent, 100*(srv.KiBPerIdleAgent/TargetKiBPerAgent-1))
		}
	}
	out = append(out, mem)

	req := TargetCheck{Name: "Dataverse requests per completed inbound call", Target: fmt.Sprintf("≤ %d", TargetRequestsPerCall)}
	if srv.DataverseRequests == 0 && srv.CallsCompleted > 0 && srv.DataverseBreakdown == nil {
		req.Measured, req.Miss = "not counted (no sandbox)", "give --sandbox-url"
	} else {
		// A $batch is one request: the operations say how many writes
		// those requests carried, so batching is not mistaken for fewer.
		req.Measured = fmt.Sprintf("%.4f (%d HTTP requests / %d calls); %.4f operations per call (%d, %d of them inside $batch)",
			srv.DataverseRequestsPerCall, srv.DataverseRequests, srv.CallsCompleted,
			srv.DataverseOperationsPerCall, srv.DataverseOperations, sum(srv.DataverseBatchOperations))
		// Compared in whole requests, so no rounding hides a few extra.
		over := srv.DataverseRequests - TargetRequestsPerCall*srv.CallsCompleted
		req.Met = srv.CallsCompleted > 0 && over <= 0
		if !req.Met {
			req.Miss = fmt.Sprintf("%d requests over %d per call (%.4f per call over)", over, TargetRequestsPerCall, float64(over)/float64(max(1, srv.CallsCompleted)))
		}
	}
	out = append(out, req)
	if rep.Scenario.Agents < TargetAgents || rep.Scenario.EventsPerSecond < TargetEventsPerSecond {
		for i := range out {
			out[i].Met = false
			out[i].Miss = strings.TrimPrefix(out[i].Miss+"; not at target scale"+scale, "; ")
		}
	}
	return out
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteTable writes the report for people.
func (rep *Report) WriteTable(w io.Writer) error {
	s := rep.Scenario
	var b strings.Builder
	fmt.Fprintf(&b, "ctiload run %s\n", rep.RunID)
	fmt.Fprintf(&b, "scenario: %d agents, %v events/s (%.2f calls/s) for %vs; ring %vs, talk %vs, wrap after %vs; %d calls, %d events, %d senders\n",
		s.Agents, s.EventsPerSecond, s.CallsPerSecond, s.DurationSeconds, s.RingSeconds, s.TalkSeconds, s.WrapAfterSecs, s.Calls, s.Events, s.Workers)
	fmt.Fprintf(&b, "machine: %d CPUs, %s, load average %s at start, %s at end; open-file limit %d\n",
		rep.Machine.CPUs, rep.Machine.GoVersion, rep.Machine.LoadAvgStart, rep.Machine.LoadAvgEnd, rep.Machine.FileLimit)
	if s.CRMLatencyMs > 0 {
		fmt.Fprintf(&b, "crm: the sandbox answers every Dataverse request after %d ms (--crm-latency), as a remote Dataverse takes\n", s.CRMLatencyMs)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if f := rep.Fault; f != nil {
		fmt.Fprintf(&b, "faults: %.0f%% of Dataverse requests 429 (Retry-After %ds), %.0f%% 503; server SIGKILLed and restarted %d times (back in %v s)\n",
			100*f.ThrottleRate, f.RetryAfter, 100*f.UnavailableRate, f.Restarts, f.RestartSeconds)
	}
	b.WriteString("\n")

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	targets := []*TargetReport{}
	header := "measure"
	for _, t := range []*TargetReport{rep.Relay, rep.Server} {
		if t != nil {
			targets = append(targets, t)
			header += "\t" + t.Name
		}
	}
	fmt.Fprintln(tw, header)
	row := func(name string, f func(t *TargetReport) string) {
		line := name
		for _, t := range targets {
			line += "\t" + f(t)
		}
		fmt.Fprintln(tw, line)
	}
	lat := func(get func(t *TargetReport) *Summary) func(t *TargetReport) string {
		return func(t *TargetReport) string {
			s := get(t)
			if s == nil || s.Count == 0 {
				return "-"
			}
			return fmt.Sprintf("%.2f / %.2f / %.2f / %.2f ms (n=%d)", s.P50Ms, s.P95Ms, s.P99Ms, s.MaxMs, s.Count)
		}
	}
	row("agents connected (connect time)", func(t *TargetReport) string {
		return fmt.Sprintf("%d/%d (%.1fs)", t.Connected, t.Agents, t.ConnectSeconds)
	})
	row("event→pop p50/p95/p99/max", lat(func(t *TargetReport) *Summary { return &t.PopLatency }))
	row("  p99 by 10s window (ms)", func(t *TargetReport) string {
		parts := make([]string, len(t.PopP99ByWindow))
		for i, v := range t.PopP99ByWindow {
			parts[i] = fmt.Sprintf("%.1f", v)
		}
		return strings.Join(parts, " ")
	})
	row("  POST sent→event received", lat(func(t *TargetReport) *Summary { return t.PopIntakePart }))
	row("  received→pop sent", lat(func(t *TargetReport) *Summary { return t.PopServerPart }))
	row("  pop sent→widget", lat(func(t *TargetReport) *Summary { return t.PopDeliveryPart }))
	row("webhook POST round trip", lat(func(t *TargetReport) *Summary { return &t.PostLatency }))
	row("send lag behind schedule", lat(func(t *TargetReport) *Summary { return &t.SendLag }))
	row("events accepted / scheduled", func(t *TargetReport) string { return fmt.Sprintf("%d / %d", t.EventsAccepted, t.EventsScheduled) })
	row("events/s sustained", func(t *TargetReport) string { return fmt.Sprintf("%.1f", t.SustainedEventsPerSecond) })
	row("pops (repeated)", func(t *TargetReport) string { return fmt.Sprintf("%d (%d)", t.Pops, t.Repops) })
	row("calls shown without a pop", func(t *TargetReport) string {
		if t.Name == "bare relay" {
			return "-"
		}
		return fmt.Sprintf("%d", t.CallsWithoutPop)
	})
	row("calls completed", func(t *TargetReport) string { return fmt.Sprintf("%d", t.CallsCompleted) })
	row("RSS before / idle / peak", func(t *TargetReport) string {
		if t.RSSIdleBytes == 0 {
			return "-"
		}
		return fmt.Sprintf("%s / %s / %s", mib(t.RSSBeforeBytes), mib(t.RSSIdleBytes), mib(t.RSSPeakBytes))
	})
	row("RSS per idle agent", func(t *TargetReport) string { return fmt.Sprintf("%.1f KiB", t.KiBPerIdleAgent) })
	row("  heap / stack / goroutines per agent", func(t *TargetReport) string {
		if t.RuntimeIdle == nil {
			return "-"
		}
		return fmt.Sprintf("%.1f KiB / %.1f KiB / %.2f", t.HeapKiBPerAgent, t.StackKiBPerAgent, t.GoroutinesPerAgent)
	})
	row("CPU (cores) target / tool / sandbox", func(t *TargetReport) string {
		cpu := "-"
		if t.CPUTarget >= 0 {
			cpu = fmt.Sprintf("%.2f", t.CPUTarget)
		}
		return fmt.Sprintf("%s / %.2f / %.2f", cpu, t.CPUTool, t.CPUSandbox)
	})
	row("Dataverse HTTP requests (per call)", func(t *TargetReport) string {
		if t.DataverseBreakdown == nil {
			return "-"
		}
		return fmt.Sprintf("%d (%.4f) + %d token", t.DataverseRequests, t.DataverseRequestsPerCall, t.TokenRequests)
	})
	row("Dataverse operations (per call)", func(t *TargetReport) string {
		if t.DataverseBreakdown == nil {
			return "-"
		}
		return fmt.Sprintf("%d (%.4f), %d inside $batch", t.DataverseOperations, t.DataverseOperationsPerCall, sum(t.DataverseBatchOperations))
	})
	row("  CRM writes (server's count)", func(t *TargetReport) string { return counts(t.CRMWrites) })
	row("  by request", func(t *TargetReport) string { return counts(t.DataverseBreakdown) })
	row("  inside $batch, by operation", func(t *TargetReport) string { return counts(t.DataverseBatchOperations) })
	row("  injected faults", func(t *TargetReport) string { return counts(t.DataverseFaults) })
	row("webhook responses", func(t *TargetReport) string { return counts(t.Statuses) })
	row("widget reconnects / sends lost", func(t *TargetReport) string { return fmt.Sprintf("%d / %d", t.Reconnects, t.WidgetSendsLost) })
	row("outbox left", func(t *TargetReport) string { return fmt.Sprintf("%d", t.OutboxLeft) })
	row("errors", func(t *TargetReport) string { return counts(t.Errors) })
	if err := tw.Flush(); err != nil {
		return err
	}
	if r := rep.LatencyRatio; r != nil {
		fmt.Fprintf(&b, "\nlatency ratio ctibridge / relay: p50 %.2f×, p95 %.2f×, p99 %.2f×\n", r.P50, r.P95, r.P99)
	}
	if t := rep.Server; t != nil && t.Audit != nil {
		a := t.Audit
		fmt.Fprintf(&b, "\nactivities: %d calls placed, %d activities; %d correct, %d lost, %d duplicated (%d extra), %d wrong state, %d wrong wrap code, %d wrong regarding, %d unexpected\n",
			a.Calls, a.Activities, a.Correct, a.Lost, a.Duplicated, a.Extra, a.WrongState, a.WrongWrapCode, a.WrongRegarding, a.Unexpected)
		for _, e := range a.Examples {
			fmt.Fprintf(&b, "  %s\n", e)
		}
	}
	for _, t := range targets {
		for _, e := range t.ErrorExamples {
			fmt.Fprintf(&b, "%s error: %s\n", t.Name, e)
		}
	}
	if len(rep.Targets) > 0 {
		b.WriteString("\ntargets:\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, c := range rep.Targets {
			verdict := "met"
			if !c.Met {
				verdict = "MISSED: " + c.Miss
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Name, c.Target, c.Measured, verdict)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func counts(m map[string]int64) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
