package loadtest

import (
	"testing"
	"time"
)

func msList(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

func TestPercentileIsNearestRank(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{name: "no samples", sorted: nil, p: 99, want: 0},
		{name: "one sample is every percentile", sorted: msList(7), p: 50, want: 7 * time.Millisecond},
		{name: "p50 of 1..100 is 50", sorted: hundred, p: 50, want: 50 * time.Millisecond},
		{name: "p99 of 1..100 is 99", sorted: hundred, p: 99, want: 99 * time.Millisecond},
		{name: "p100 is the maximum", sorted: hundred, p: 100, want: 100 * time.Millisecond},
		{name: "a tiny p is the minimum", sorted: hundred, p: 0.001, want: time.Millisecond},
		{name: "p99 of ten samples is the largest, not an interpolation", sorted: msList(1, 2, 3, 4, 5, 6, 7, 8, 9, 1000), p: 99, want: time.Second},
		{name: "p50 of four samples is the second", sorted: msList(1, 2, 3, 4), p: 50, want: 2 * time.Millisecond},
		{name: "p95 of twenty samples is the nineteenth", sorted: msList(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20), p: 95, want: 19 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("Percentile(p%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name    string
		samples []time.Duration
		want    Summary
	}{
		{name: "empty", samples: nil, want: Summary{}},
		{
			name: "unsorted samples are sorted first", samples: msList(30, 10, 20, 40),
			want: Summary{Count: 4, MinMs: 10, MeanMs: 25, P50Ms: 20, P95Ms: 40, P99Ms: 40, MaxMs: 40},
		},
		{
			name: "sub-millisecond values keep microseconds", samples: []time.Duration{250 * time.Microsecond, 1500 * time.Microsecond},
			want: Summary{Count: 2, MinMs: 0.25, MeanMs: 0.875, P50Ms: 0.25, P95Ms: 1.5, P99Ms: 1.5, MaxMs: 1.5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Summarize(tt.samples); got != tt.want {
				t.Errorf("Summarize = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLatenciesSummaryKeepsCollecting(t *testing.T) {
	var l Latencies
	for _, d := range msList(5, 1, 3) {
		l.Add(d)
	}
	first := l.Summary()
	l.Add(100 * time.Millisecond)
	second := l.Summary()
	if first.Count != 3 || first.MaxMs != 5 {
		t.Errorf("first summary = %+v, want 3 samples up to 5ms", first)
	}
	if second.Count != 4 || second.MaxMs != 100 || second.MinMs != 1 {
		t.Errorf("second summary = %+v, want 4 samples from 1ms to 100ms (summarising must not lose or reorder samples)", second)
	}
}

func TestRatio(t *testing.T) {
	tests := []struct {
		name string
		a, b float64
		want float64
	}{
		{name: "twice", a: 4, b: 2, want: 2},
		{name: "rounded to two decimals", a: 1, b: 3, want: 0.33},
		{name: "no floor gives zero, not infinity", a: 1, b: 0, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Ratio(tt.a, tt.b); got != tt.want {
				t.Errorf("Ratio(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}
