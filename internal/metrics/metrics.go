// Package metrics defines ctibridge's Prometheus metrics, on a registry of
// their own so tests can create as many as they like.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every collector the adapter updates.
type Metrics struct {
	Registry *prometheus.Registry

	EventsReceived *prometheus.CounterVec // by event type and outcome
	Pops           *prometheus.CounterVec // by outcome: sent, no_widget, skipped, none
	PopResults     *prometheus.CounterVec // by what the widget opened: record, search, new, none
	CRMWrites      *prometheus.CounterVec // by step and outcome: done, retry, failed
	// CRMBatchWrites is the number of writes in each $batch request the
	// outbox sent and Dataverse answered; writes sent alone are not in it.
	CRMBatchWrites prometheus.Histogram
	OutboxDepth    prometheus.GaugeFunc
	WidgetsOnline  prometheus.GaugeFunc
	// PopLatency is from the event reaching ctibridge to the pop command
	// being queued on the agent's socket.
	PopLatency prometheus.Histogram
	// WidgetPopDuration is the widget's own time to run the pop through CIF.
	WidgetPopDuration prometheus.Histogram
}

// New registers the collectors. outboxDepth and widgetsOnline are read at
// scrape time.
func New(outboxDepth, widgetsOnline func() float64) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: reg,
		EventsReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibridge_events_received_total", Help: "Telephony events received, by type and outcome (processed, duplicate, stale, rejected).",
		}, []string{"type", "outcome"}),
		Pops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibridge_pops_total", Help: "Screen pops decided, by outcome (sent, no_widget, skipped, no_rule).",
		}, []string{"outcome"}),
		PopResults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibridge_pop_results_total", Help: "What widgets opened for a pop (record, search, new, none).",
		}, []string{"outcome"}),
		CRMWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibridge_crm_writes_total", Help: "CRM write attempts, by step and outcome (done, retry, failed).",
		}, []string{"step", "outcome"}),
		CRMBatchWrites: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ctibridge_crm_batch_writes",
			Help:    "CRM writes per Dataverse $batch request the outbox sent (writes sent alone are not counted here).",
			Buckets: []float64{2, 5, 10, 20, 50, 100, 200, 500, 1000},
		}),
		PopLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ctibridge_pop_latency_seconds",
			Help:    "Time from a telephony event reaching ctibridge to its pop command being queued for the agent's widget.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		WidgetPopDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ctibridge_widget_pop_duration_seconds",
			Help:    "Time the widget reported for running a pop through CIF.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}),
	}
	m.OutboxDepth = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ctibridge_outbox_depth", Help: "CRM writes waiting in the durable outbox.",
	}, outboxDepth)
	m.WidgetsOnline = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ctibridge_widget_connections", Help: "Open agent widget connections.",
	}, widgetsOnline)
	reg.MustRegister(m.EventsReceived, m.Pops, m.PopResults, m.CRMWrites, m.CRMBatchWrites, m.PopLatency, m.WidgetPopDuration, m.OutboxDepth, m.WidgetsOnline)
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}
