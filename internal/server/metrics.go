package server

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/suanli/suanli/internal/core"
)

// metrics are per server (not the global registry) so that tests can run
// several servers in one process.
type metrics struct {
	reg      *prometheus.Registry
	cycle    prometheus.Histogram
	placed   prometheus.Counter
	api      *prometheus.HistogramVec
	finished *prometheus.CounterVec
	leader   prometheus.Gauge
}

// jobCounter reads job counts from the store at scrape time.
type jobCounter struct {
	desc   *prometheus.Desc
	counts func(ctx context.Context) (map[core.JobState]int, error)
}

func (c jobCounter) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c jobCounter) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.counts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, st := range core.JobStates {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[st]), string(st))
	}
}

func newMetrics(counts func(ctx context.Context) (map[core.JobState]int, error)) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.cycle = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "suanli_scheduling_cycle_seconds",
		Help: "Time of one scheduling pass (snapshot, policy, commit).", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)})
	m.placed = prometheus.NewCounter(prometheus.CounterOpts{Name: "suanli_jobs_placed_total", Help: "Jobs placed by the scheduler."})
	m.api = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "suanli_api_request_duration_seconds",
		Help: "API request latency by operation and status.", Buckets: prometheus.DefBuckets}, []string{"operation", "status"})
	m.finished = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "suanli_jobs_finished_total",
		Help: "Jobs that reached a terminal state, by state."}, []string{"state"})
	m.leader = prometheus.NewGauge(prometheus.GaugeOpts{Name: "suanli_leader",
		Help: "1 while this replica holds the control lease and runs the scheduler and control loop."})
	m.reg.MustRegister(m.cycle, m.placed, m.api, m.finished, m.leader,
		jobCounter{desc: prometheus.NewDesc("suanli_jobs", "Jobs by state.", []string{"state"}, nil), counts: counts},
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observeAPI(op string, status int, d time.Duration) {
	m.api.WithLabelValues(op, strconv.Itoa(status)).Observe(d.Seconds())
}
