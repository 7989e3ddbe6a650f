// Package app wires followthrough together: the store, the tracker connectors, the sync engine
// and the web server. cmd/followthrough and the end-to-end tests start it the same way.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/connectors/github"
	"github.com/followthrough/followthrough/connectors/jira"
	"github.com/followthrough/followthrough/store"
	"github.com/followthrough/followthrough/sync"
	"github.com/followthrough/followthrough/web"
)

// Options configures an App.
type Options struct {
	Config *config.Config // validated
	Dev    bool           // dev mode: webhooks without secrets are accepted, GitHub writes are not paced
	Logger *slog.Logger
	// Transport, when set, carries tracker calls (tests); nil: http.DefaultTransport.
	Transport http.RoundTripper
}

// App is a running followthrough.
type App struct {
	logger   *slog.Logger
	Store    *store.Store
	Engine   *sync.Engine
	listener net.Listener
	server   *http.Server
}

// New opens and migrates the database, builds the trackers, the engine and the server, and
// listens on the configured address (port 0 picks a free one: see Addr).
func New(ctx context.Context, opts Options) (*App, error) {
	cfg := opts.Config
	logger := opts.Logger
	st, err := store.Open(ctx, cfg.Database.Value(), logger)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	trackers, err := newTrackers(cfg, logger, opts.Transport, opts.Dev)
	if err != nil {
		st.Close()
		return nil, err
	}
	engine := sync.New(sync.Options{Store: st, Config: cfg, Trackers: trackers, Logger: logger})
	var kinds []ft.TrackerKind
	for _, kind := range []ft.TrackerKind{ft.GitHub, ft.Jira} {
		if trackers[kind] != nil {
			kinds = append(kinds, kind)
		}
	}
	srv, err := web.New(web.Options{Config: cfg, Reader: st, Engine: engine, Logger: logger, Dev: opts.Dev, Registry: newRegistry(st, engine, kinds)})
	if err != nil {
		st.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	return &App{
		logger: logger, Store: st, Engine: engine, listener: ln,
		server: &http.Server{
			Handler:           srv.Handler(),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		},
	}, nil
}

// newTrackers builds a connector for every configured tracker. Dev mode's stand-ins have no
// limits, so GitHub writes are not paced there.
func newTrackers(cfg *config.Config, logger *slog.Logger, transport http.RoundTripper, dev bool) (map[ft.TrackerKind]ft.Tracker, error) {
	trackers := map[ft.TrackerKind]ft.Tracker{}
	if cfg.GitHub != nil {
		gh, err := github.New(cfg.GitHub, cfg.People, github.Options{Logger: logger, Unpaced: dev,
			HTTPClient: &http.Client{Timeout: cfg.GitHub.RequestTimeout, Transport: transport}})
		if err != nil {
			return nil, fmt.Errorf("github: %w", err)
		}
		trackers[ft.GitHub] = gh
	}
	if cfg.Jira != nil {
		j, err := jira.New(cfg.Jira, cfg.People, jira.Options{Logger: logger, Transport: transport, Timeout: cfg.Jira.RequestTimeout})
		if err != nil {
			return nil, fmt.Errorf("jira: %w", err)
		}
		trackers[ft.Jira] = j
	}
	return trackers, nil
}

// Addr is the address the server listens on.
func (a *App) Addr() string { return a.listener.Addr().String() }

// Run serves and works the outbox until ctx ends, then shuts down gracefully: it stops
// accepting, lets in-flight requests finish (up to 15 s), stops the engine and closes the
// database.
func (a *App) Run(ctx context.Context) error {
	engineCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
	engineDone := make(chan error, 1)
	go func() { engineDone <- a.Engine.Run(engineCtx) }()

	serveErr := make(chan error, 1)
	go func() { serveErr <- a.server.Serve(a.listener) }()
	a.logger.Info("serving", slog.String("addr", a.Addr()))

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if shutErr := a.server.Shutdown(shutdownCtx); shutErr != nil {
		err = errors.Join(err, fmt.Errorf("shutdown: %w", shutErr))
	}
	stopEngine()
	<-engineDone
	if closeErr := a.Store.Close(); closeErr != nil {
		err = errors.Join(err, closeErr)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	a.logger.Info("stopped")
	return err
}
