package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	ft "github.com/followthrough/followthrough"
)

// errorBody is the one shape of every error answer.
type errorBody struct {
	Error  string          `json:"error"`
	Fields []ft.FieldError `json:"fields,omitempty"`
}

// requestKind is what went wrong with a request, as handlers see it; statusOf turns it into an
// HTTP status.
type requestKind int

const (
	kindBadRequest   requestKind = iota + 1 // malformed request or parameter
	kindUnauthorized                        // missing or bad credentials
	kindTooLarge
	kindUnsupportedType
	kindUnprocessable // valid JSON, not acceptable
	kindUnavailable   // a dependency (the database) does not answer
)

// requestError is an error found by a handler, with the message the client sees.
type requestError struct {
	kind   requestKind
	msg    string
	fields []ft.FieldError
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{kind: kindBadRequest, msg: fmt.Sprintf(format, args...)}
}

func unauthorized(msg string) error { return &requestError{kind: kindUnauthorized, msg: msg} }

func tooLarge(limit int64) error {
	return &requestError{kind: kindTooLarge, msg: fmt.Sprintf("the body is larger than %d bytes", limit)}
}

func unsupportedType(msg string) error { return &requestError{kind: kindUnsupportedType, msg: msg} }

func invalid(msg string, fields []ft.FieldError) error {
	return &requestError{kind: kindUnprocessable, msg: msg, fields: fields}
}

func unavailable(msg string) error { return &requestError{kind: kindUnavailable, msg: msg} }

// statusOf is the HTTP status of each kind of request error.
func statusOf(k requestKind) int {
	switch k {
	case kindBadRequest:
		return http.StatusBadRequest
	case kindUnauthorized:
		return http.StatusUnauthorized
	case kindTooLarge:
		return http.StatusRequestEntityTooLarge
	case kindUnsupportedType:
		return http.StatusUnsupportedMediaType
	case kindUnprocessable:
		return http.StatusUnprocessableEntity
	case kindUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errorResponse maps every error a handler may return to its status and body. This is the one
// place where errors become HTTP statuses: handlers return errors, from this package, the
// domain, the engine, the reader or Echo, and never write error answers themselves.
func errorResponse(err error) (int, errorBody) {
	var (
		re  *requestError
		se  *ft.ShapeError
		he  *echo.HTTPError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &re):
		return statusOf(re.kind), errorBody{Error: re.msg, Fields: re.fields}
	case errors.Is(err, ft.ErrMalformed):
		return http.StatusBadRequest, errorBody{Error: err.Error()}
	case errors.As(err, &se):
		return http.StatusUnprocessableEntity, errorBody{Error: se.Message, Fields: se.Fields}
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, errorBody{Error: fmt.Sprintf("the body is larger than %d bytes", mbe.Limit)}
	case errors.Is(err, ft.ErrNotFound):
		return http.StatusNotFound, errorBody{Error: err.Error()}
	case errors.Is(err, ft.ErrConflict):
		return http.StatusConflict, errorBody{Error: err.Error()}
	case errors.Is(err, ft.ErrBadCursor):
		return http.StatusBadRequest, errorBody{Error: "bad cursor: pass next_cursor from a previous page unchanged"}
	case errors.As(err, &he):
		msg, ok := he.Message.(string)
		if !ok || he.Code >= 500 {
			msg = http.StatusText(he.Code)
		}
		return he.Code, errorBody{Error: lowerFirst(msg)}
	case errors.Is(err, ft.ErrWriteRefused):
		return http.StatusServiceUnavailable, errorBody{Error: "the database cannot take this now (a full disk or a failover, say); try again later"}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, errorBody{Error: "the request was cancelled or timed out"}
	}
	return http.StatusInternalServerError, errorBody{Error: "internal error"}
}

// answerError is errorResponse plus what goes with every error answer, JSON or HTML: a 5xx is
// logged, since the client gets no details, and a 401 names the scheme in WWW-Authenticate.
func (s *Server) answerError(c echo.Context, err error) (int, errorBody) {
	if !errors.Is(err, ft.ErrWriteRefused) && s.reader.OutOfReach(err) {
		// A read that met the database out of reach is answered as a refused write is.
		err = fmt.Errorf("%w: %w", ft.ErrWriteRefused, err)
	}
	status, body := errorResponse(err)
	refused := errors.Is(err, ft.ErrWriteRefused)
	if refused {
		// The store logs a refusal once per episode, not once per request.
		c.Response().Header().Set("Retry-After", strconv.Itoa(retryAfterRefused))
	}
	if status >= 500 && !refused {
		s.logger.LogAttrs(c.Request().Context(), slog.LevelError, "request failed",
			slog.String("request_id", requestIDOf(c)), slog.String("error", err.Error()))
	}
	if status == http.StatusUnauthorized {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="followthrough"`)
	}
	return status, body
}

// retryAfterRefused is the Retry-After, in seconds, of a write the database refused.
const retryAfterRefused = 10

// handleError is Echo's HTTPErrorHandler.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, body := s.answerError(c, err)
	if c.Request().Method == http.MethodHead {
		err = c.NoContent(status)
	} else {
		err = c.JSON(status, body)
	}
	if err != nil {
		s.logger.LogAttrs(c.Request().Context(), slog.LevelWarn, "writing error response",
			slog.String("request_id", requestIDOf(c)), slog.String("error", err.Error()))
	}
}

func lowerFirst(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return s
	}
	return string(s[0]+'a'-'A') + s[1:]
}
