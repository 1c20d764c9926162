package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Faults are failures injected into /api/data requests, for tests of the
// client's retry and throttling behaviour and for the load tool. Counts
// apply to the next matching requests before rates are drawn; the order of
// precedence is drop, 503, 429. Set them with SetFaults or
// POST /_sandbox/faults with the JSON form.
type Faults struct {
	// ThrottleCount answers the next N matching requests with 429 and
	// Retry-After; ThrottleRate answers that fraction (0..1) of them.
	ThrottleCount int     `json:"throttleCount,omitempty"`
	ThrottleRate  float64 `json:"throttleRate,omitempty"`
	// RetryAfterSeconds is the Retry-After of a 429 (default 1).
	RetryAfterSeconds int `json:"retryAfterSeconds,omitempty"`
	// UnavailableCount and UnavailableRate answer with 503.
	UnavailableCount int     `json:"unavailableCount,omitempty"`
	UnavailableRate  float64 `json:"unavailableRate,omitempty"`
	// DropCount and DropRate close the connection without an answer.
	DropCount int     `json:"dropCount,omitempty"`
	DropRate  float64 `json:"dropRate,omitempty"`
	// LatencyMillis delays every matching request.
	LatencyMillis int `json:"latencyMs,omitempty"`
	// Methods and EntitySets restrict the faults to matching requests
	// (empty: all). EntitySets takes names such as "contacts" or "$batch".
	Methods    []string `json:"methods,omitempty"`
	EntitySets []string `json:"entitySets,omitempty"`
	// Seed makes the rate draws repeatable; 0 uses a fixed default seed.
	Seed uint64 `json:"seed,omitempty"`
}

func (f Faults) validate() error {
	for name, rate := range map[string]float64{"throttleRate": f.ThrottleRate, "unavailableRate": f.UnavailableRate, "dropRate": f.DropRate} {
		if rate < 0 || rate > 1 {
			return fmt.Errorf("%s is %v; use a fraction from 0 to 1", name, rate)
		}
	}
	for name, n := range map[string]int{"throttleCount": f.ThrottleCount, "unavailableCount": f.UnavailableCount, "dropCount": f.DropCount, "retryAfterSeconds": f.RetryAfterSeconds, "latencyMs": f.LatencyMillis} {
		if n < 0 {
			return fmt.Errorf("%s is %d; use 0 or more", name, n)
		}
	}
	return nil
}

type faultInjector struct {
	mu  sync.Mutex
	f   Faults
	rng *rand.Rand
}

func newFaultInjector() *faultInjector {
	return &faultInjector{rng: rand.New(rand.NewPCG(1, 2))}
}

// SetFaults replaces the injected faults; the zero Faults turns them off.
func (s *Sandbox) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return fmt.Errorf("sandbox faults: %w", err)
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.f = f
	seed := f.Seed
	if seed == 0 {
		seed = 1
	}
	s.faults.rng = rand.New(rand.NewPCG(seed, 2))
	return nil
}

// Faults returns the faults in force, with the counts still to apply.
func (s *Sandbox) Faults() Faults {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	f := s.faults.f
	f.Methods = slices.Clone(f.Methods)
	f.EntitySets = slices.Clone(f.EntitySets)
	return f
}

func (f *Faults) matches(method, set string) bool {
	if len(f.Methods) > 0 && !slices.ContainsFunc(f.Methods, func(m string) bool { return strings.EqualFold(m, method) }) {
		return false
	}
	if len(f.EntitySets) > 0 && !slices.Contains(f.EntitySets, set) {
		return false
	}
	return true
}

// delay waits the configured latency; it returns the context's error if
// the client goes away first.
func (fi *faultInjector) delay(ctx context.Context, method, set string) error {
	fi.mu.Lock()
	ms := 0
	if fi.f.matches(method, set) {
		ms = fi.f.LatencyMillis
	}
	fi.mu.Unlock()
	if ms <= 0 {
		return nil
	}
	timer := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type faultKind int

const (
	faultNone faultKind = iota
	faultDrop
	faultUnavailable
	faultThrottle
)

func (fi *faultInjector) pick(method, set string) (faultKind, int) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	f := &fi.f
	if !f.matches(method, set) {
		return faultNone, 0
	}
	retry := f.RetryAfterSeconds
	if retry == 0 {
		retry = 1
	}
	switch {
	case f.DropCount > 0:
		f.DropCount--
		return faultDrop, 0
	case f.UnavailableCount > 0:
		f.UnavailableCount--
		return faultUnavailable, 0
	case f.ThrottleCount > 0:
		f.ThrottleCount--
		return faultThrottle, retry
	}
	if f.DropRate > 0 && fi.rng.Float64() < f.DropRate {
		return faultDrop, 0
	}
	if f.UnavailableRate > 0 && fi.rng.Float64() < f.UnavailableRate {
		return faultUnavailable, 0
	}
	if f.ThrottleRate > 0 && fi.rng.Float64() < f.ThrottleRate {
		return faultThrottle, retry
	}
	return faultNone, 0
}

// inject answers the request with a fault when one is due and reports
// whether it did.
func (fi *faultInjector) inject(w http.ResponseWriter, r *http.Request, set string, stats *statsCounter) bool {
	kind, retry := fi.pick(r.Method, set)
	switch kind {
	case faultDrop:
		stats.fault("drop")
		// Read the request so the client has finished sending, then close
		// the connection without a response.
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxBodyBytes))
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler)
	case faultUnavailable:
		stats.fault("503")
		writeResponse(w, errorResponse(newError(http.StatusServiceUnavailable, codeUnspecified, "The service is temporarily unavailable. Retry the request later.")))
		return true
	case faultThrottle:
		stats.fault("429")
		e := newError(http.StatusTooManyRequests, codeThrottled, "Number of requests exceeded the limit of 6000 over time window of 300 seconds.")
		e.Header = http.Header{}
		e.Header.Set("Retry-After", fmt.Sprint(retry))
		writeResponse(w, errorResponse(e))
		return true
	}
	return false
}

// Stats counts the requests the sandbox served.
type Stats struct {
	// Total counts every HTTP request to /api/data and the token endpoint.
	Total int64 `json:"total"`
	// Requests counts HTTP requests by "METHOD entityset" ("GET contacts",
	// "POST $batch", "POST token").
	Requests map[string]int64 `json:"requests"`
	// BatchOperations counts the operations inside $batch requests the
	// same way.
	BatchOperations map[string]int64 `json:"batchOperations"`
	// Operations counts what the Web API was asked to do: every /api/data
	// request but a $batch, plus every operation inside a $batch. A $batch
	// is one request of Total and as many operations as it holds, so
	// batching shows as fewer requests, never as fewer operations.
	Operations int64 `json:"operations"`
	// Faults counts injected faults: "429", "503", "drop".
	Faults map[string]int64 `json:"faults"`
}

type statsCounter struct {
	mu sync.Mutex
	s  Stats
}

func newStatsCounter() *statsCounter {
	c := &statsCounter{}
	c.reset()
	return c
}

func (c *statsCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s = Stats{Requests: map[string]int64{}, BatchOperations: map[string]int64{}, Faults: map[string]int64{}}
}

func (c *statsCounter) count(method, set string, inBatch bool) {
	if set == "" {
		set = "/"
	}
	key := method + " " + set
	c.mu.Lock()
	defer c.mu.Unlock()
	if inBatch {
		c.s.BatchOperations[key]++
		c.s.Operations++
		return
	}
	c.s.Total++
	c.s.Requests[key]++
	if set != "$batch" && set != "token" {
		c.s.Operations++
	}
}

func (c *statsCounter) fault(kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Faults[kind]++
}

func (c *statsCounter) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := Stats{Total: c.s.Total, Operations: c.s.Operations, Requests: map[string]int64{}, BatchOperations: map[string]int64{}, Faults: map[string]int64{}}
	for k, v := range c.s.Requests {
		out.Requests[k] = v
	}
	for k, v := range c.s.BatchOperations {
		out.BatchOperations[k] = v
	}
	for k, v := range c.s.Faults {
		out.Faults[k] = v
	}
	return out
}

// Stats returns the request counters since Open or the last ResetStats.
func (s *Sandbox) Stats() Stats { return s.stats.snapshot() }

// ResetStats zeroes the request counters.
func (s *Sandbox) ResetStats() { s.stats.reset() }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func adminError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"message": fmt.Sprintf(format, args...)}})
}

// serveFaults: GET shows the faults in force, POST replaces them with the
// JSON body (a Faults), DELETE clears them.
func (s *Sandbox) serveFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, s.Faults())
	case http.MethodPost, http.MethodPut:
		var f Faults
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			adminError(w, http.StatusBadRequest, "The body must be a Faults JSON object such as {\"throttleCount\":3,\"retryAfterSeconds\":2}: %v", err)
			return
		}
		if err := s.SetFaults(f); err != nil {
			adminError(w, http.StatusBadRequest, "%v", err)
			return
		}
		writeJSON(w, http.StatusOK, s.Faults())
	case http.MethodDelete:
		_ = s.SetFaults(Faults{})
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		adminError(w, http.StatusMethodNotAllowed, "Use GET, POST or DELETE on /_sandbox/faults.")
	}
}

// serveStats: GET returns Stats, DELETE resets them.
func (s *Sandbox) serveStats(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, s.Stats())
	case http.MethodDelete:
		s.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, DELETE")
		adminError(w, http.StatusMethodNotAllowed, "Use GET or DELETE on /_sandbox/stats.")
	}
}
