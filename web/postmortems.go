package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	ft "github.com/followthrough/followthrough"
)

// List bounds.
const (
	defaultListLimit = 50
	maxListLimit     = 500
	maxCursorLength  = 512
	// maxFilterLength bounds the team and severity filters: they are matched exactly, and no
	// team or severity is longer.
	maxFilterLength = 200
)

// getPostmortem is GET /v1/postmortems/{id}.
func (s *Server) getPostmortem(c echo.Context) error {
	id, err := idParam(c, "id", "postmortem")
	if err != nil {
		return err
	}
	pm, err := s.reader.Postmortem(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pm)
}

// listResponse is a page of postmortems; NextCursor is absent on the last page.
type listResponse struct {
	Postmortems []ft.PostmortemView `json:"postmortems"`
	NextCursor  string              `json:"next_cursor,omitempty"`
}

// listPostmortems is GET /v1/postmortems?state=&team=&severity=&limit=&cursor=, newest
// sign-off first. A limit above 500 is served as 500 (the page then has a next_cursor), like
// other APIs' per_page caps; a limit that is not a positive integer is 400.
func (s *Server) listPostmortems(c echo.Context) error {
	f, err := listFilter(c.QueryParams(), defaultListLimit)
	if err != nil {
		return err
	}
	pms, next, err := s.reader.ListPostmortems(c.Request().Context(), f)
	if err != nil {
		return err
	}
	if pms == nil {
		pms = []ft.PostmortemView{}
	}
	return c.JSON(http.StatusOK, listResponse{Postmortems: pms, NextCursor: next})
}

// listFilter reads the list's query parameters, shared by the API and the status page: state
// (one of the three), team and severity (matched exactly, bounded), limit (1 to 500; more is
// served as 500; absent is defaultLimit) and cursor (bounded; checked by the reader).
func listFilter(q url.Values, defaultLimit int) (ft.ListFilter, error) {
	f := ft.ListFilter{
		State:    q.Get("state"),
		Team:     q.Get("team"),
		Severity: q.Get("severity"),
		Limit:    defaultLimit,
		Cursor:   q.Get("cursor"),
	}
	switch ft.State(f.State) {
	case "", ft.StateTracking, ft.StateReopened, ft.StateCompleted:
	default:
		return f, badRequest("state must be tracking, reopened or completed")
	}
	if len(f.Team) > maxFilterLength || len(f.Severity) > maxFilterLength {
		return f, badRequest("team and severity must be at most %d characters", maxFilterLength)
	}
	if err := textFilters("team", f.Team, "severity", f.Severity); err != nil {
		return f, err
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return f, badRequest("limit must be an integer from 1 to %d", maxListLimit)
		}
		f.Limit = min(n, maxListLimit)
	}
	if len(f.Cursor) > maxCursorLength {
		return f, ft.ErrBadCursor
	}
	return f, nil
}

// textFilters is a 400 naming the first filter, given as name and value pairs, whose value is
// not storable text: no stored value can equal it.
func textFilters(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if !ft.StorableText(pairs[i+1]) {
			return badRequest("%s must be UTF-8 text without NUL characters", pairs[i])
		}
	}
	return nil
}

// idParam is the path parameter name, the id of a what; one that is not storable text names
// nothing stored, so it is unknown (404) without asking the reader.
func idParam(c echo.Context, name, what string) (string, error) {
	v := c.Param(name)
	if !ft.StorableText(v) {
		return "", fmt.Errorf("%s %q: %w", what, v, ft.ErrNotFound)
	}
	return v, nil
}
