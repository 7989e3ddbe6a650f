package app

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/followthrough/followthrough/store"
	"github.com/followthrough/followthrough/sync"
)

// outboxCollector reports the outbox on every scrape: work waiting, and work given up (whose
// items show sync: failed until retried).
type outboxCollector struct {
	store   *store.Store
	pending *prometheus.Desc
	failed  *prometheus.Desc
}

func newRegistry(st *store.Store, engine *sync.Engine) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "followthrough_stall_scans_total",
			Help: "Stall scans finished since the process started.",
		}, func() float64 { return float64(engine.StallScans()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&outboxCollector{
			store:   st,
			pending: prometheus.NewDesc("followthrough_outbox_pending_jobs", "Outbox jobs not yet done (tracker calls, notifications, webhook processing).", nil, nil),
			failed:  prometheus.NewDesc("followthrough_outbox_failed_jobs", "Outbox jobs given up after their last attempt.", nil, nil),
		},
	)
	return reg
}

// Describe implements prometheus.Collector.
func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.failed
}

// Collect implements prometheus.Collector.
func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	pending, failed, err := c.store.JobCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.pending, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(pending))
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, float64(failed))
}
