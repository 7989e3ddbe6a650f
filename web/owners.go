package web

import (
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	ft "github.com/followthrough/followthrough"
)

// Who owes what: GET /owners lists everyone with unfinished items, GET /owners/{email} (or
// /owners?email=) what one person owes across postmortems. HTML, or JSON with ?format=json (or
// Accept), like /.

var (
	ownersTemplate = pageTemplate("templates/owners.html")
	ownerTemplate  = pageTemplate("templates/owner.html")
)

// ownerRoutes registers the owners pages, public or not as the status page is.
func (s *Server) ownerRoutes() {
	s.pageRoute("/owners", s.ownersPage, pageFormats)
	s.pageRoute("/owners/:email", s.ownerPage, pageFormats)
}

// ownersResponse is the JSON of GET /owners.
type ownersResponse struct {
	Owners []ft.OwnerSummary `json:"owners"`
}

// ownersPageData is the data of templates/owners.html: the owners as computed at Now.
type ownersPageData struct {
	Owners []ft.OwnerSummary
	Now    time.Time
}

// ownersPage is GET /owners: every owner with unfinished items, those with overdue items first;
// with ?email=, that owner's page (see ownerHref).
func (s *Server) ownersPage(c echo.Context, format string) error {
	if email := c.QueryParam("email"); email != "" {
		return s.ownerAnswer(c, format, email)
	}
	now := s.now()
	ctx := c.Request().Context()
	owners, err := s.reader.Owners(ctx, s.cfg.Stall.Policy(), now)
	if err != nil {
		return err
	}
	if format == formatJSON {
		return c.JSON(http.StatusOK, ownersResponse{Owners: owners})
	}
	return s.renderHTML(c, http.StatusOK, ownersTemplate, ownersPageData{Owners: owners, Now: now})
}

// ownerHref is the URL of an owner's page. Owners are what postmortem authors wrote: usually
// an email, but any text, so it is escaped as one path segment. An owner that is a whole dot
// segment, "." or "..", cannot be one: browsers resolve /owners/.. to / (and %2E%2E too, as
// the URL standard says), so its link names it in the query instead.
func ownerHref(owner string) string {
	if owner == "." || owner == ".." {
		return "/owners?" + url.Values{"email": {owner}}.Encode()
	}
	return "/owners/" + url.PathEscape(owner)
}

// ownerResponse is the JSON of GET /owners/{email}.
type ownerResponse struct {
	Email string        `json:"email"`
	Items []ft.OwedItem `json:"items"`
}

// ownerPageData is the data of templates/owner.html.
type ownerPageData struct {
	Email   string
	Items   []owedItem
	Overdue int
	Now     time.Time
}

// owedItem is one item of templates/owner.html.
type owedItem struct {
	ft.OwedItem
	DueDefaulted bool   // the due date comes from default_due
	StalledWhy   string // the stall reason in words
	TicketHref   string // the ticket's URL when it is http(s)
}

// ownerPage is GET /owners/{email}: what that person owes, overdue first. Someone who owes
// nothing gets an empty list, not a 404: the page answers the question.
func (s *Server) ownerPage(c echo.Context, format string) error {
	email, err := pathParam(c, "email")
	if err != nil {
		return badRequest("email must be a URL-escaped path segment")
	}
	return s.ownerAnswer(c, format, email)
}

// ownerAnswer is the page of what email owes, in format.
func (s *Server) ownerAnswer(c echo.Context, format, email string) error {
	if !ft.StorableText(email) {
		return badRequest("email must be UTF-8 text without NUL characters")
	}
	now := s.now()
	email, items, err := s.reader.OwnerItems(c.Request().Context(), email, s.cfg.Stall.Policy(), now)
	if err != nil {
		return err
	}
	if format == formatJSON {
		return c.JSON(http.StatusOK, ownerResponse{Email: email, Items: items})
	}
	data := ownerPageData{Email: email, Now: now}
	for _, it := range items {
		o := owedItem{OwedItem: it, DueDefaulted: it.Due == nil}
		if it.StalledReason != nil {
			o.StalledWhy = stallWords(*it.StalledReason)
		}
		if it.Ticket != nil {
			o.TicketHref = httpURL(it.Ticket.URL)
		}
		if it.Overdue {
			data.Overdue++
		}
		data.Items = append(data.Items, o)
	}
	return s.renderHTML(c, http.StatusOK, ownerTemplate, data)
}

// pathParam is a path parameter, decoded. Echo matches routes against the escaped path when
// the request's path has escapes that decoding would lose (an escaped slash), leaving the
// parameter escaped, and against the decoded path otherwise.
func pathParam(c echo.Context, name string) (string, error) {
	v := c.Param(name)
	if c.Request().URL.RawPath == "" {
		return v, nil
	}
	return url.PathUnescape(v)
}
