package web

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// headerRequestID carries the request id in and out.
const headerRequestID = "X-Request-Id"

// contextRequestID is the echo.Context key of the request id.
const contextRequestID = "request_id"

// observe logs one line per request and counts it in the metrics. The line has fixed keys:
// request_id, method, route, status, duration_ms, remote. Headers, bodies and query strings are
// never logged: they carry tokens, signatures and webhook secrets.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		r := c.Request()
		id := requestID(r.Header.Get(headerRequestID))
		c.Set(contextRequestID, id)
		c.Response().Header().Set(headerRequestID, id)

		err := next(c)
		route := c.Path()
		if errors.Is(err, echo.ErrNotFound) || errors.Is(err, echo.ErrMethodNotAllowed) || route == "" {
			route = "unmatched"
		}
		if err != nil {
			// Answer here, so that the status below is the one sent.
			c.Error(err)
		}
		status := c.Response().Status
		elapsed := time.Since(start)

		s.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(status)).Inc()
		s.metrics.duration.WithLabelValues(route, r.Method).Observe(elapsed.Seconds())
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		s.logger.LogAttrs(r.Context(), level, "request",
			slog.String("request_id", id),
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			slog.String("remote", remoteHost(r)),
		)
		return nil
	}
}

// recover turns a panic in a handler into a 500 and logs it with its stack.
func (s *Server) recover(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				stack := make([]byte, 8<<10)
				stack = stack[:runtime.Stack(stack, false)]
				s.logger.LogAttrs(c.Request().Context(), slog.LevelError, "panic",
					slog.String("request_id", requestIDOf(c)), slog.String("panic", fmt.Sprint(v)),
					slog.String("stack", string(stack)))
				err = fmt.Errorf("panic: %v", v)
			}
		}()
		return next(c)
	}
}

// requestID keeps a caller's X-Request-Id when it is short and plain, else makes a new one.
func requestID(given string) string {
	if len(given) > 0 && len(given) <= 128 {
		ok := true
		for i := 0; i < len(given); i++ {
			ch := given[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' ||
				ch == '-' || ch == '_' || ch == '.' || ch == ':') {
				ok = false
				break
			}
		}
		if ok {
			return given
		}
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func requestIDOf(c echo.Context) string {
	id, _ := c.Get(contextRequestID).(string)
	return id
}

// remoteHost is the peer's address without the port; forwarding headers are not trusted.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
