package loadtest

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseVmRSS(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    int64
		wantErr string
	}{
		{name: "a process", status: "Name:\tctibridge\nVmPeak:\t  900000 kB\nVmRSS:\t  204800 kB\nThreads:\t9\n", want: 204800 * 1024},
		{name: "a kernel thread has no VmRSS", status: "Name:\tkthreadd\nThreads:\t1\n", wantErr: "no VmRSS"},
		{name: "a unit other than kB", status: "VmRSS:\t 12 MB\n", wantErr: "expected a number of kB"},
		{name: "not a number", status: "VmRSS:\t x kB\n", wantErr: "VmRSS line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseVmRSS([]byte(tt.status))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseVmRSS = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestParseCPUTime(t *testing.T) {
	// Fields 14 and 15 are utime and stime, in clock ticks (1/100 s).
	tests := []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr string
	}{
		{
			name: "a plain command name",
			stat: "4242 (ctibridge) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 9 0 100 0 0",
			want: 3250 * time.Millisecond,
		},
		{
			name: "a command name with spaces and parentheses",
			stat: "7 (a) b (c) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 1 0 0",
			want: 30 * time.Millisecond,
		},
		{name: "truncated", stat: "7 (x) R 1 7", wantErr: "fields after the command name"},
		{name: "no command name", stat: "7 x R", wantErr: "no ')'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCPUTime([]byte(tt.stat))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseCPUTime = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestSampleProcReadsThisProcess(t *testing.T) {
	s, err := SampleProc(os.Getpid())
	if err != nil {
		t.Fatalf("SampleProc(self): %v", err)
	}
	if s.RSS < 1<<20 {
		t.Errorf("RSS of a running Go test is %d bytes, want at least 1 MiB", s.RSS)
	}
}

func TestCPUUse(t *testing.T) {
	t0 := time.Unix(100, 0)
	tests := []struct {
		name     string
		from, to ProcSample
		want     float64
	}{
		{name: "one core for two seconds", from: ProcSample{CPU: time.Second, At: t0}, to: ProcSample{CPU: 3 * time.Second, At: t0.Add(2 * time.Second)}, want: 1},
		{name: "a quarter core", from: ProcSample{At: t0}, to: ProcSample{CPU: time.Second, At: t0.Add(4 * time.Second)}, want: 0.25},
		{name: "no time passed", from: ProcSample{At: t0}, to: ProcSample{CPU: time.Second, At: t0}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CPUUse(tt.from, tt.to); got != tt.want {
				t.Errorf("CPUUse = %v, want %v", got, tt.want)
			}
		})
	}
}

const metricsPage = `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 10023
go_memstats_heap_inuse_bytes 1.048576e+08
go_memstats_stack_inuse_bytes 7.0e+07
go_gc_duration_seconds{quantile="0.5"} 0.001
ctibridge_crm_writes_total{outcome="done",step="create-activity"} 10000
ctibridge_crm_writes_total{outcome="done",step="relate"} 9
ctibridge_crm_writes_total{outcome="retry",step="wrap"} 3
ctibridge_crm_writes_total_other 5
`

func TestParseGauges(t *testing.T) {
	got := parseGauges(strings.NewReader(metricsPage), "go_goroutines", "go_memstats_heap_inuse_bytes", "go_memstats_sys_bytes")
	want := map[string]float64{"go_goroutines": 10023, "go_memstats_heap_inuse_bytes": 104857600}
	if len(got) != len(want) {
		t.Fatalf("parseGauges = %v, want %v (absent metrics stay absent)", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func TestParseCounters(t *testing.T) {
	got := parseCounters(strings.NewReader(metricsPage), "ctibridge_crm_writes_total")
	want := map[string]int64{"outcome=done,step=create-activity": 10000, "outcome=done,step=relate": 9, "outcome=retry,step=wrap": 3}
	if len(got) != len(want) {
		t.Fatalf("parseCounters = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d", k, got[k], v)
		}
	}
}
