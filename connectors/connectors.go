// Package connectors holds what the tracker connectors share: the one rule that classifies a
// tracker's HTTP answer as retryable or final, and the transport that logs every tracker call.
// The connectors themselves live in connectors/github and connectors/jira.
package connectors

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	ft "github.com/followthrough/followthrough"
)

// RetryableStatus reports whether an HTTP status may succeed if the same call is made again:
// 408, 425, 429 and every 5xx. Other statuses are final. (GitHub's 403 secondary limit is
// recognised by the GitHub connector from its headers and message.)
func RetryableStatus(code int) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests:
		return true
	case code >= 500:
		return true
	}
	return false
}

// RetryAfter reads the server's Retry-After (seconds or HTTP date), else X-RateLimit-Reset (Unix
// seconds) when the remaining budget is zero. Zero means the server did not say.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After"); v != "" {
		if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
			return time.Duration(secs) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil && t.After(now) {
			return t.Sub(now)
		}
	}
	if h.Get("X-RateLimit-Remaining") == "0" {
		if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			if t := time.Unix(reset, 0); t.After(now) {
				return t.Sub(now)
			}
		}
	}
	return 0
}

// NetworkError classifies an error that came back with no HTTP response: the call may or may not
// have reached the tracker, so it is retryable, unless our own context ended.
func NetworkError(kind ft.TrackerKind, op, ticket string, err error) *ft.TrackerError {
	retryable := !errors.Is(err, context.Canceled)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		retryable = true
	}
	return &ft.TrackerError{Tracker: kind, Op: op, Ticket: ticket, Retryable: retryable,
		Message: "no answer from the tracker: " + err.Error(), Err: err}
}

// OnTicket reports whether op works on one existing ticket (get, update, set_status, comment,
// label, adopt), so that a 404 from the tracker means the ticket is gone (ft.ErrTicketNotFound)
// rather than a wrong repository, project or address.
func OnTicket(op string) bool {
	switch op {
	case "get", "update", "set_status", "comment", "label", "adopt":
		return true
	}
	return false
}

type opKey struct{}

// WithOp names the tracker operation (create, get, update, set_status, comment, label, adopt,
// link, find, list, self) that the calls made with ctx belong to, for their log lines.
func WithOp(ctx context.Context, op string) context.Context {
	return context.WithValue(ctx, opKey{}, op)
}

// LoggingTransport logs one line per tracker call: tracker, operation, method, path, status and
// duration.
// It never logs headers, query strings or bodies, so no token reaches the log.
type LoggingTransport struct {
	Tracker ft.TrackerKind
	Logger  *slog.Logger
	Base    http.RoundTripper // nil: http.DefaultTransport
}

// RoundTrip implements http.RoundTripper.
func (t *LoggingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	start := time.Now()
	resp, err := base.RoundTrip(req)
	op, _ := req.Context().Value(opKey{}).(string)
	attrs := []slog.Attr{
		slog.String("tracker", string(t.Tracker)),
		slog.String("op", op),
		slog.String("method", req.Method),
		slog.String("path", req.URL.Path),
		slog.Duration("duration", time.Since(start)),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
		t.Logger.LogAttrs(req.Context(), slog.LevelWarn, "tracker call", attrs...)
		return nil, err
	}
	attrs = append(attrs, slog.Int("status", resp.StatusCode))
	t.Logger.LogAttrs(req.Context(), slog.LevelInfo, "tracker call", attrs...)
	return resp, nil
}
