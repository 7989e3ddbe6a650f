package web

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	ft "github.com/followthrough/followthrough"
)

// MaxAPIBody is the largest request body the API reads; larger ones get 413.
const MaxAPIBody = 1 << 20

// intake is POST /v1/postmortems. The order matters: the content type and the size are checked
// first (cheap, and allowed before authentication), then the bounded body is read and
// authenticated (a signature covers the body), and only then is it parsed.
func (s *Server) intake(c echo.Context) error {
	r := c.Request()
	body, err := readAPIBody(c)
	if err != nil {
		return err
	}
	if err := s.auth.intake(r.Header, body); err != nil {
		return err
	}
	doc, err := ft.DecodeDocument(body)
	if err != nil {
		return err
	}
	doc.Normalize()
	if fields := doc.Validate(); len(fields) > 0 {
		s.metrics.intake.WithLabelValues("invalid").Inc()
		return invalid("the postmortem is not acceptable", fields)
	}
	if s.engine == nil {
		return errNoEngine
	}
	outcome, err := s.engine.Intake(r.Context(), doc)
	var routing *ft.RoutingError
	if errors.As(err, &routing) {
		s.metrics.intake.WithLabelValues("invalid").Inc()
	}
	if err != nil {
		return err
	}
	view, err := s.reader.Postmortem(r.Context(), doc.ID)
	if err != nil {
		return err
	}
	switch outcome {
	case ft.IntakeCreated:
		s.metrics.intake.WithLabelValues("created").Inc()
		c.Response().Header().Set(echo.HeaderLocation, "/v1/postmortems/"+url.PathEscape(doc.ID))
		return c.JSON(http.StatusAccepted, view)
	case ft.IntakeRevised:
		s.metrics.intake.WithLabelValues("revised").Inc()
	default:
		s.metrics.intake.WithLabelValues("unchanged").Inc()
	}
	return c.JSON(http.StatusOK, view)
}

// readAPIBody is the body of an API write: application/json (else 415), at most MaxAPIBody
// bytes (else 413). Neither check needs credentials.
func readAPIBody(c echo.Context) ([]byte, error) {
	if err := requireJSON(c.Request()); err != nil {
		return nil, err
	}
	return readBody(c, MaxAPIBody)
}

// requireJSON accepts application/json, with no charset or charset utf-8.
func requireJSON(r *http.Request) error {
	ct := r.Header.Get(echo.HeaderContentType)
	if ct == "" {
		return unsupportedType("missing Content-Type: send application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != echo.MIMEApplicationJSON {
		return unsupportedType("Content-Type must be application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return unsupportedType("Content-Type charset must be utf-8")
	}
	return nil
}

// readBody reads at most limit bytes; a longer body is 413 whether or not it announced its
// length.
func readBody(c echo.Context, limit int64) ([]byte, error) {
	r := c.Request()
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	b, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(limit)
		}
		return nil, badRequest("reading the body: %v", err)
	}
	return b, nil
}
