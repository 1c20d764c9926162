package loadtest

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Latencies collects durations and reports exact percentiles. Every sample
// is kept (8 bytes each: a million samples is 8 MB), so no histogram
// bucketing blurs the tail the targets are about.
type Latencies struct {
	mu      sync.Mutex
	samples []time.Duration
}

// Add records one sample. It is safe for concurrent use.
func (l *Latencies) Add(d time.Duration) {
	l.mu.Lock()
	l.samples = append(l.samples, d)
	l.mu.Unlock()
}

// Summary returns the percentiles of the samples so far.
func (l *Latencies) Summary() Summary {
	l.mu.Lock()
	sorted := slices.Clone(l.samples)
	l.mu.Unlock()
	return Summarize(sorted)
}

// Summary describes a set of durations, in milliseconds.
type Summary struct {
	Count  int     `json:"count"`
	MinMs  float64 `json:"minMs"`
	MeanMs float64 `json:"meanMs"`
	P50Ms  float64 `json:"p50Ms"`
	P95Ms  float64 `json:"p95Ms"`
	P99Ms  float64 `json:"p99Ms"`
	MaxMs  float64 `json:"maxMs"`
}

// Summarize sorts samples in place and describes them.
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, d := range samples {
		sum += d
	}
	return Summary{
		Count:  len(samples),
		MinMs:  ms(samples[0]),
		MeanMs: ms(sum / time.Duration(len(samples))),
		P50Ms:  ms(Percentile(samples, 50)),
		P95Ms:  ms(Percentile(samples, 95)),
		P99Ms:  ms(Percentile(samples, 99)),
		MaxMs:  ms(samples[len(samples)-1]),
	}
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted samples: the smallest sample that at least p percent of the
// samples do not exceed. Nearest rank never invents a value between two
// samples, so a p99 is a latency some event really had.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*1000) / 1000
}

// Ratio is a/b rounded to two decimals, or 0 when b is 0.
func Ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return math.Round(a/b*100) / 100
}
