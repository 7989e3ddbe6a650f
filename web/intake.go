package web

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/store"
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
	targets, fields := s.route(doc)
	if len(fields) > 0 {
		s.metrics.intake.WithLabelValues("invalid").Inc()
		return invalid("some action items have nowhere to go", in.locate(fields))
	}
	outcome, err := s.store.Intake(r.Context(), doc, targets, s.now())
	if err != nil {
		return err
	}
	if outcome != store.Unchanged {
		s.wake()
	}
	view, err := s.store.Postmortem(r.Context(), doc.ID)
	if err != nil {
		return err
	}
	answer := intakeAnswer{PostmortemView: view}
	switch outcome {
	case store.Created:
		s.metrics.intake.WithLabelValues("created").Inc()
		c.Response().Header().Set(echo.HeaderLocation, "/v1/postmortems/"+url.PathEscape(doc.ID))
		answer.Intake = "accepted"
		return c.JSON(http.StatusAccepted, answer)
	case store.Revised:
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

// route finds every item's target: its own tracker, else the first matching route. Items with
// no target, or a target in a tracker that is not configured, are reported by field, naming the
// item.
func (s *Server) route(doc *ft.Document) ([]ft.Target, []ft.FieldError) {
	targets := make([]ft.Target, len(doc.ActionItems))
	var fields []ft.FieldError
	for i, it := range doc.ActionItems {
		field := fmt.Sprintf("action_items[%d].tracker", i)
		var t ft.Target
		if it.Tracker != nil {
			t = *it.Tracker
		} else {
			team := it.Team
			if team == "" {
				team = doc.Team
			}
			rt, ok := s.cfg.Route(team, doc.Severity, it.Labels)
			if !ok {
				fields = append(fields, ft.FieldError{Field: field, Message: fmt.Sprintf(
					"no route for action item %q: give it a tracker, or add a route for team %q, severity %q or its labels",
					it.ID, team, doc.Severity)})
				continue
			}
			t = ft.Target{Kind: ft.TrackerKind(rt.Kind), Repo: rt.Repo, Project: rt.Project, IssueType: rt.IssueType}
		}
		if msg := s.checkTarget(&t); msg != "" {
			fields = append(fields, ft.FieldError{Field: field, Message: fmt.Sprintf("action item %q: %s", it.ID, msg)})
			continue
		}
		targets[i] = t
	}
	return targets, fields
}

// checkTarget completes a target with defaults and says what is wrong with it, if anything.
func (s *Server) checkTarget(t *ft.Target) string {
	switch t.Kind {
	case ft.GitHub:
		if s.cfg.GitHub == nil {
			return "goes to GitHub, which is not configured"
		}
		if t.Repo == "" {
			return "its GitHub route names no repository"
		}
		t.Project, t.IssueType = "", ""
	case ft.Jira:
		if s.cfg.Jira == nil {
			return "goes to Jira, which is not configured"
		}
		if t.Project == "" {
			return "its Jira route names no project"
		}
		t.Repo = ""
		if t.IssueType == "" {
			t.IssueType = config.DefaultIssueType
		}
	default:
		return fmt.Sprintf("unknown tracker kind %q", t.Kind)
	}
	return ""
}
