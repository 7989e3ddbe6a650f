package app

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	ft "github.com/followthrough/followthrough"
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

func newRegistry(st *store.Store, engine *sync.Engine, trackers []ft.TrackerKind) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "followthrough_stall_scans_total",
			Help: "Stall scans finished since the process started.",
		}, func() float64 { return float64(engine.StallScans()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "followthrough_periodic_leader",
			Help:        "1 while this process leads the periodic work (reconciliation, stall scans), which one process at a time does; 0 while another does. The label names the process: host/pid/random.",
			ConstLabels: prometheus.Labels{"process": engine.Process()},
		}, func() float64 {
			if engine.Leading() {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "followthrough_periodic_runs_total",
			Help:        "Runs of the periodic work this process started as its leader, by work: reconcile or stall (a scan).",
			ConstLabels: prometheus.Labels{"work": "reconcile"},
		}, func() float64 { r, _ := engine.PeriodicRuns(); return float64(r) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "followthrough_periodic_runs_total",
			Help:        "Runs of the periodic work this process started as its leader, by work: reconcile or stall (a scan).",
			ConstLabels: prometheus.Labels{"work": "stall"},
		}, func() float64 { _, s := engine.PeriodicRuns(); return float64(s) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "followthrough_db_transactions_total",
			Help: "Write transactions committed since the process started.",
		}, func() float64 { tx, _ := st.WriteStats(); return float64(tx) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "followthrough_db_commits_total",
			Help: "Commits that made them durable: on SQLite the transactions waiting together share one commit and its sync; on PostgreSQL each has its own.",
		}, func() float64 { _, commits := st.WriteStats(); return float64(commits) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&outboxCollector{
			store:   st,
			pending: prometheus.NewDesc("followthrough_outbox_pending_jobs", "Outbox jobs not yet done (tracker calls, notifications, webhook processing).", nil, nil),
			failed:  prometheus.NewDesc("followthrough_outbox_failed_jobs", "Outbox jobs given up after their last attempt.", nil, nil),
		},
		&waitingCollector{
			store:    st,
			trackers: trackers,
			count: prometheus.NewDesc("followthrough_items_waiting",
				"Items whose ticket is held back by the tracker's limits (followthrough's pacing of GitHub writes, or a rate limit the tracker answered), by tracker; each item's waiting says why and until when.",
				[]string{"tracker"}, nil),
			until: prometheus.NewDesc("followthrough_items_waiting_until_seconds",
				"When the last item held back by the tracker's limits gets its turn, as a Unix time; 0 when none waits.",
				[]string{"tracker"}, nil),
		},
	)
	if st.Dialect() == store.SQLite {
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "followthrough_db_writer_busy_seconds_total",
				Help: "Time SQLite's one writer spent running transactions and committing them; growing at nearly a second a second, writes queue for it.",
			}, func() float64 { busy, _ := st.WriterTime(); return busy.Seconds() }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "followthrough_db_writer_commit_seconds_total",
				Help: "Of the writer's time, the part spent committing: writing the changed pages to the WAL and syncing it.",
			}, func() float64 { _, committing := st.WriterTime(); return committing.Seconds() }),
		)
	}
	return reg
}

// waitingCollector reports, on every scrape, the items held back by each tracker's limits and
// until when.
type waitingCollector struct {
	store    *store.Store
	trackers []ft.TrackerKind
	count    *prometheus.Desc
	until    *prometheus.Desc
}

// Describe implements prometheus.Collector.
func (c *waitingCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.count
	ch <- c.until
}

// Collect implements prometheus.Collector.
func (c *waitingCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	waiting, err := c.store.ItemsWaiting(ctx, time.Now())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.count, err)
		return
	}
	byTracker := map[ft.TrackerKind]store.WaitingItems{}
	for _, w := range waiting {
		byTracker[w.Tracker] = w
	}
	for _, kind := range c.trackers {
		w := byTracker[kind]
		until := 0.0
		if w.Count > 0 {
			until = float64(w.Last.Unix())
		}
		ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(w.Count), string(kind))
		ch <- prometheus.MustNewConstMetric(c.until, prometheus.GaugeValue, until, string(kind))
	}
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
