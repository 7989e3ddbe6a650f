package web

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus metrics. Labels are bounded: route is the registered
// pattern (or "unmatched"), never the raw path.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	intake   *prometheus.CounterVec
}

// intakeOutcomes are the values of the outcome label of followthrough_intake_total.
var intakeOutcomes = []string{"created", "unchanged", "revised", "invalid"}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "followthrough_http_requests_total",
			Help: "HTTP requests answered, by route, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "followthrough_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		intake: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "followthrough_intake_total",
			Help: "Postmortems received on intake, by outcome: created, unchanged (redelivery), revised, invalid (422).",
		}, []string{"outcome"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.intake} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, o := range intakeOutcomes {
		m.intake.WithLabelValues(o)
	}
	return m, nil
}
