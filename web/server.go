// Package web is followthrough's HTTP interface: the API under /v1 (intake, reads, PATCH and
// retry), the tracker webhooks, the HTML status page, health and readiness probes, and
// Prometheus metrics. It parses, authenticates and answers; every write it hands to the engine
// (Engine: intake, status changes, retries, webhook deliveries), and it reads through Reader.
// Errors are mapped to HTTP statuses in one place, the Echo error handler in errors.go; every
// request is logged once, in observe.go.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
)

// Engine carries out every write the server is asked for; *sync.Engine is one. Its errors wrap
// ft.ErrNotFound (an unknown postmortem or item) or ft.ErrConflict (a removed item, or one
// whose ticket does not exist yet or was deleted), or are an *ft.RoutingError (new items with
// nowhere to go), which the error handler answers with 404, 409 and 422.
type Engine interface {
	// IntakeView durably accepts a normalized, valid postmortem document and returns the
	// postmortem as it is after (empty when the document was unchanged).
	IntakeView(ctx context.Context, doc *ft.Document) (ft.IntakeOutcome, ft.PostmortemView, error)
	// SetItemStatus sets an item's status from the API and queues the move of its ticket.
	SetItemStatus(ctx context.Context, pmID, itemID string, status ft.Status) (ft.ItemView, error)
	// Retry tries every item of the postmortem with sync: failed again.
	Retry(ctx context.Context, pmID string) (ft.PostmortemView, error)
	// RecordWebhook durably records a verified tracker webhook delivery (source "github" or
	// "jira") for the worker. ignored says why it was acknowledged without being stored ("" when
	// it was): a delivery id seen before, or a delivery about nothing followthrough follows.
	RecordWebhook(ctx context.Context, source, deliveryID, event string, payload []byte) (ignored string, err error)
}

// Reader is what the API and the status page read; *store.Store is one. Unknown postmortems
// wrap ft.ErrNotFound, a cursor it did not write is ft.ErrBadCursor.
type Reader interface {
	Postmortem(ctx context.Context, id string) (ft.PostmortemView, error)
	// ListPostmortems returns a page, newest sign-off first, and the next page's cursor.
	ListPostmortems(ctx context.Context, f ft.ListFilter) ([]ft.PostmortemView, string, error)
	// EachPostmortem calls fn with every postmortem f selects from its cursor on, in the
	// list's order, one at a time as it reads them (the exports); a bad cursor is
	// ft.ErrBadCursor before fn is called.
	EachPostmortem(ctx context.Context, f ft.ListFilter, fn func(ft.PostmortemView) error) error
	// PostmortemWithHistory is Postmortem and every item's status changes, by item id, oldest
	// first, read at one moment (the postmortem page).
	PostmortemWithHistory(ctx context.Context, id string) (ft.PostmortemView, map[string][]ft.HistoryEntry, error)
	// Ping checks that the database answers, for /readyz.
	Ping(ctx context.Context) error
	// Owners, OwnerItems and Insights are the figures of /owners and /insights at now, with
	// the stall rules' due dates.
	Owners(ctx context.Context, policy ft.StallPolicy, now time.Time) ([]ft.OwnerSummary, error)
	OwnerItems(ctx context.Context, email string, policy ft.StallPolicy, now time.Time) (string, []ft.OwedItem, error)
	Insights(ctx context.Context, f ft.InsightsFilter, policy ft.StallPolicy, now time.Time) (ft.Insights, error)
	// OutOfReach reports whether a read's error says the database is out of reach for now (a
	// failover): answered 503 with Retry-After, like a refused write, and logged by the
	// reader once per episode rather than once per request.
	OutOfReach(err error) bool
}

// Options are what New needs. Config, Reader and Logger are required.
type Options struct {
	Config *config.Config
	Reader Reader
	// Engine carries out the writes; nil answers every write with 503 (a read-only server).
	Engine Engine
	Logger *slog.Logger
	// Dev is `serve --dev`. Authentication of the API is the same as in production (the token
	// comes from Config.Intake.Tokens); tracker webhooks without a configured secret are
	// accepted only in Dev.
	Dev bool
	// Now is the clock for signature timestamps and the status page; nil is time.Now.
	Now func() time.Time
	// Registry receives the HTTP and intake metrics and is served on /metrics; nil makes a new
	// one with the Go and process collectors. Pass one to add other packages' metrics.
	Registry *prometheus.Registry
}

// Server is the HTTP interface. Serve its Handler with an http.Server whose timeouts the caller
// sets.
type Server struct {
	echo     *echo.Echo
	cfg      *config.Config
	reader   Reader
	engine   Engine
	logger   *slog.Logger
	dev      bool
	now      func() time.Time
	auth     *authenticator
	registry *prometheus.Registry
	metrics  *metrics
}

// New builds the server and its routes. It fails when an option is missing or the intake
// secret cannot be decoded.
func New(opts Options) (*Server, error) {
	switch {
	case opts.Config == nil:
		return nil, errors.New("web: no config")
	case opts.Reader == nil:
		return nil, errors.New("web: no reader")
	case opts.Logger == nil:
		return nil, errors.New("web: no logger")
	}
	s := &Server{
		cfg:      opts.Config,
		reader:   opts.Reader,
		engine:   opts.Engine,
		logger:   opts.Logger,
		dev:      opts.Dev,
		now:      opts.Now,
		registry: opts.Registry,
	}
	if s.now == nil {
		s.now = time.Now
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
	s.ownerRoutes()
	s.insightRoutes()

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
