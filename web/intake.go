package web

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
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
	mediaType, err := requireType(r, echo.MIMEApplicationJSON, mimeMarkdown)
	if err != nil {
		return err
	}
	body, err := readBody(c, MaxAPIBody)
	if err != nil {
		return err
	}
	if err := s.auth.intake(r.Header, body); err != nil {
		return err
	}
	in, err := s.readDocument(mediaType, body)
	if err != nil {
		return err
	}
	doc := in.doc
	if len(in.problems) > 0 {
		s.metrics.intake.WithLabelValues("invalid").Inc()
		return invalid("the postmortem is not acceptable", in.problems)
	}
	if s.engine == nil {
		return errNoEngine
	}
	outcome, view, err := s.engine.IntakeView(r.Context(), doc)
	var routing *ft.RoutingError
	if errors.As(err, &routing) {
		s.metrics.intake.WithLabelValues("invalid").Inc()
		return invalid("some action items have nowhere to go", in.locate(routing.Fields))
	}
	if err != nil {
		return err
	}
	if outcome == ft.IntakeUnchanged {
		if view, err = s.reader.Postmortem(r.Context(), doc.ID); err != nil {
			return err
		}
	}
	answer := intakeAnswer{PostmortemView: view}
	switch outcome {
	case ft.IntakeCreated:
		s.metrics.intake.WithLabelValues("created").Inc()
		c.Response().Header().Set(echo.HeaderLocation, "/v1/postmortems/"+url.PathEscape(doc.ID))
		answer.Intake = "accepted"
		return c.JSON(http.StatusAccepted, answer)
	case ft.IntakeRevised:
		s.metrics.intake.WithLabelValues("revised").Inc()
		answer.Intake = "revised"
	default:
		s.metrics.intake.WithLabelValues("unchanged").Inc()
		answer.Intake = "unchanged"
	}
	return c.JSON(http.StatusOK, answer)
}

// intakeAnswer is the postmortem as GET shows it, with what the intake did with the document:
// "accepted", "unchanged" or "revised".
type intakeAnswer struct {
	ft.PostmortemView
	Intake string `json:"intake"`
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
	_, err := requireType(r, echo.MIMEApplicationJSON)
	return err
}

// requireType returns the request's media type when it is one of allowed, with no charset or
// charset utf-8; else a 415 that names what is accepted.
func requireType(r *http.Request, allowed ...string) (string, error) {
	want := strings.Join(allowed, " or ")
	ct := r.Header.Get(echo.HeaderContentType)
	if ct == "" {
		return "", unsupportedType("missing Content-Type: send " + want)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || !slices.Contains(allowed, mt) {
		return "", unsupportedType("Content-Type must be " + want)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return "", unsupportedType("Content-Type charset must be utf-8")
	}
	return mt, nil
}

// readBody reads at most limit bytes; a longer body is 413 whether or not it announced its
// length.
func readBody(c echo.Context, limit int64) ([]byte, error) {
	r := c.Request()
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	// A body that announces its length is read into one buffer of that size (and the
	// MinRead that tells EOF), not grown by doubling from 512 bytes.
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(c.Response(), r.Body, limit))
	b := buf.Bytes()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(limit)
		}
		return nil, badRequest("reading the body: %v", err)
	}
	return b, nil
}
