package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	ft "github.com/followthrough/followthrough"
)

// readyTimeout bounds the database check of /readyz.
const readyTimeout = 2 * time.Second

// healthz is GET /healthz: the process answers.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is GET /readyz: the database answers.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
	defer cancel()
	if err := s.reader.Ping(ctx); errors.Is(err, ft.ErrWriteRefused) || s.reader.OutOfReach(err) {
		// The error handler answers 503 with Retry-After and does not log it: the store logs
		// the episode (writes refused, or the database out of reach) once, not every probe.
		return err
	} else if err != nil {
		s.logger.LogAttrs(ctx, slog.LevelWarn, "readiness check failed",
			slog.String("request_id", requestIDOf(c)), slog.String("error", err.Error()))
		return unavailable("the database is not reachable")
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// metricsHandler is GET /metrics, in the Prometheus exposition format.
func (s *Server) metricsHandler() echo.HandlerFunc {
	return echo.WrapHandler(promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry}))
}
