// Package web is followthrough's HTTP interface: the intake and read API under /v1, health and
// readiness probes, and Prometheus metrics. Later it also carries PATCH, retry, the tracker
// webhooks and the HTML status page. Errors are mapped to HTTP statuses in one place, the Echo
// error handler in errors.go; every request is logged once, in observe.go.
package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/store"
)

// Options are what New needs. Config, Store and Logger are required.
type Options struct {
	Config *config.Config
	Store  *store.Store
	Logger *slog.Logger
	// Dev is `serve --dev`. Authentication of the API is the same as in production (the token
	// comes from Config.Intake.Tokens); later, tracker webhooks without a configured secret are
	// accepted only in Dev.
	Dev bool
	// Now is the clock for acceptance times and signature timestamps; nil is time.Now.
	Now func() time.Time
	// Wake, when set, is called after a change that queued tracker work (an intake that
	// created or revised a postmortem), so that the sync worker starts on it at once.
	Wake func()
	// Registry receives the HTTP and intake metrics and is served on /metrics; nil makes a new
	// one with the Go and process collectors. Pass one to add other packages' metrics.
	Registry *prometheus.Registry
	// Sync carries out PATCH and retry (the sync engine); nil answers them with 503.
	Sync Syncer
}

// Server is the HTTP interface. Serve its Handler with an http.Server whose timeouts the caller
// sets.
type Server struct {
	echo     *echo.Echo
	cfg      *config.Config
	store    *store.Store
	logger   *slog.Logger
	dev      bool
	now      func() time.Time
	wake     func()
	auth     *authenticator
	registry *prometheus.Registry
	metrics  *metrics
	sync     Syncer
}

// New builds the server and its routes. It fails when an option is missing or the intake
// secret cannot be decoded.
func New(opts Options) (*Server, error) {
	switch {
	case opts.Config == nil:
		return nil, errors.New("web: no config")
	case opts.Store == nil:
		return nil, errors.New("web: no store")
	case opts.Logger == nil:
		return nil, errors.New("web: no logger")
	}
	s := &Server{
		cfg:      opts.Config,
		store:    opts.Store,
		logger:   opts.Logger,
		dev:      opts.Dev,
		now:      opts.Now,
		wake:     opts.Wake,
		registry: opts.Registry,
		sync:     opts.Sync,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.wake == nil {
		s.wake = func() {}
	}
	auth, err := newAuthenticator(opts.Config.Intake, s.now)
	if err != nil {
		return nil, fmt.Errorf("web: intake.secret: %w", err)
	}
	s.auth = auth
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
		s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if s.metrics, err = newMetrics(s.registry); err != nil {
		return nil, fmt.Errorf("web: metrics: %w", err)
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	// Only the peer address counts: forwarding headers are the client's word.
	e.IPExtractor = echo.ExtractIPDirect()
	e.HTTPErrorHandler = s.handleError
	e.Use(s.observe, s.recover)
	s.echo = e
	s.routes()
	return s, nil
}

// routes registers every endpoint; each area keeps its handlers in its own file.
func (s *Server) routes() {
	e := s.echo
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", s.metricsHandler())
	e.GET("/openapi.yaml", s.openAPI)
	s.pageRoutes() // the status page, in page.go

	v1 := e.Group("/v1")
	// Intake authenticates itself after reading the bounded body: a signature covers the body.
	v1.POST("/postmortems", s.intake)
	v1.GET("/postmortems", s.listPostmortems, s.requireBearer)
	v1.GET("/postmortems/:id", s.getPostmortem, s.requireBearer)
	v1.PATCH("/postmortems/:id/items/:item_id", s.patchItem, s.requireBearer)
	v1.POST("/postmortems/:id/retry", s.retryPostmortem, s.requireBearer)

	// Tracker webhooks authenticate themselves: the signature covers the body.
	e.POST("/webhooks/github", s.githubWebhook)
	e.POST("/webhooks/jira", s.jiraWebhook)
}

// Handler is the server as an http.Handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Echo gives access to the router, for endpoints mounted by other packages and for tests.
func (s *Server) Echo() *echo.Echo { return s.echo }
