package web

import (
	"bytes"
	"embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	ft "github.com/followthrough/followthrough"
)

// The status page: GET / lists every postmortem (HTML, or JSON and CSV exports), GET
// /postmortems/{id} shows one with its items and their history. Plain server-rendered HTML,
// no JavaScript; the stylesheet is /static/page.css, so the CSP allows styles from 'self' only.

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/page.css
var pageCSS []byte

// pageSize is how many postmortems one HTML page shows by default (limit= asks for up to
// maxListLimit); the exports stream all of them.
const pageSize = defaultListLimit

// csvColumns are the export's columns, in the contract's order.
var csvColumns = []string{"id", "title", "team", "severity", "state", "done", "total", "percent", "stalled", "overdue", "signed_off_at"}

// pageSecurityHeaders go on every page, error pages and the stylesheet included. form-action
// and frame-ancestors do not fall back to default-src, so they are named.
var pageSecurityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; " +
		"base-uri 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
	"X-Frame-Options":        "DENY",
}

var pageFuncs = template.FuncMap{
	"datetime":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"ownerHref": ownerHref,
}

var (
	listTemplate       = pageTemplate("templates/list.html")
	postmortemTemplate = pageTemplate("templates/postmortem.html")
	errorTemplate      = pageTemplate("templates/error.html")
)

// pageTemplate is the layout together with one page's "title" and "content".
func pageTemplate(page string) *template.Template {
	return template.Must(template.New("layout.html").Funcs(pageFuncs).ParseFS(templateFS, "templates/layout.html", page))
}

// pageRoutes registers the status page. With status_page.public false the pages need the API's
// bearer token; the stylesheet is always open (it says nothing about any postmortem).
func (s *Server) pageRoutes() {
	s.pageRoute("/", s.statusPage, listFormats)
	s.pageRoute("/postmortems/:id", s.postmortemPage, pageFormats)
	s.echo.GET("/static/page.css", s.stylesheet, s.pageHeaders)
}

// pageRoute registers GET path as a page offered in formats (negotiate.go): its headers, its
// errors as HTML when the page would have been, its access rule, and h given the format the
// request asks for.
func (s *Server) pageRoute(path string, h func(c echo.Context, format string) error, formats []string) {
	page := func(c echo.Context) error {
		format, err := pageFormat(c.Request(), formats)
		if err != nil {
			return err
		}
		return h(c, format)
	}
	s.echo.GET(path, page, s.pageHeaders, s.htmlErrors(formats), s.pageAuth)
}

// pageAuth is requireBearer when the status page is not public.
func (s *Server) pageAuth(next echo.HandlerFunc) echo.HandlerFunc {
	if s.cfg.StatusPage.IsPublic() {
		return next
	}
	return s.requireBearer(next)
}

// pageHeaders sets the security headers before the handler writes anything.
func (s *Server) pageHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	private := !s.cfg.StatusPage.IsPublic()
	return func(c echo.Context) error {
		h := c.Response().Header()
		for k, v := range pageSecurityHeaders {
			h.Set(k, v)
		}
		if private {
			// Pages behind a token must not be kept by shared caches.
			h.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

// htmlErrors answers a failed request for a page offered in formats with an HTML error page.
// The status still comes from errorResponse (through answerError), the one mapping of errors
// to statuses; requests for an export keep the JSON error answer of the API. Every answer,
// error or not, depends on Accept.
func (s *Server) htmlErrors(formats []string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Add(echo.HeaderVary, echo.HeaderAccept)
			err := next(c)
			if err == nil || c.Response().Committed || !wantsHTMLError(c.Request(), formats) {
				return err
			}
			return s.htmlError(c, err)
		}
	}
}

// wantsHTMLError reports whether an error answer to r is an HTML page: r asks for HTML, or for
// a format that does not exist (?format=xml, a 400 shown as a page).
func wantsHTMLError(r *http.Request, formats []string) bool {
	f, err := pageFormat(r, formats)
	return err != nil || f == formatHTML
}

// htmlError renders err as the HTML error page.
func (s *Server) htmlError(c echo.Context, err error) error {
	status, body := s.answerError(c, err)
	data := errorPage{Status: status, StatusText: http.StatusText(status), Message: body.Error}
	if status == http.StatusNotFound && c.Path() == "/postmortems/:id" {
		data.Message = "There is no postmortem " + strconv.Quote(c.Param("id")) + "."
	}
	return s.renderHTML(c, status, errorTemplate, data)
}

// errorPage is the data of templates/error.html.
type errorPage struct {
	Status     int
	StatusText string
	Message    string
}

func (s *Server) stylesheet(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	return c.Blob(http.StatusOK, "text/css; charset=utf-8", pageCSS)
}

// renderHTML executes the template into a buffer first, so that a template error becomes a
// clean 500 rather than half a page.
func (s *Server) renderHTML(c echo.Context, status int, t *template.Template, data any) error {
	page, err := executeTemplate(t, data)
	if err != nil {
		return err
	}
	return c.HTMLBlob(status, page)
}

// executeTemplate renders a page into bytes.
func executeTemplate(t *template.Template, data any) ([]byte, error) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", t.Name(), err)
	}
	return buf.Bytes(), nil
}

// pageRow is one postmortem of the list with the counts the page shows; the JSON export is its
// encoding: the API's postmortem plus "stalled" and "overdue".
type pageRow struct {
	ft.PostmortemView
	Stalled int `json:"stalled"`
	Overdue int `json:"overdue"`
}

// listPage is the data of templates/list.html.
type listPage struct {
	Rows      []pageRow
	Filter    ft.ListFilter
	States    []ft.State
	Counts    map[string]int
	Now       time.Time
	FirstPage string // link back to the first page, when this is a later one
	NextPage  string // link to the next page, when there is one
	ExportCSV string
	ExportJS  string
}

// statusPage is GET /: every postmortem, newest sign-off first, filtered by state, team and
// severity. ?format=json|csv (or Accept) exports every matching postmortem, streamed; the HTML
// shows pageSize per page (limit= up to maxListLimit), with links to the next page and back to
// the first that keep the filters.
func (s *Server) statusPage(c echo.Context, format string) error {
	q := c.QueryParams()
	f, err := listFilter(q, pageSize)
	if err != nil {
		return err
	}
	switch format {
	case formatJSON:
		return s.exportJSON(c, f)
	case formatCSV:
		return s.exportCSV(c, f)
	}

	pms, next, err := s.reader.ListPostmortems(c.Request().Context(), f)
	if err != nil {
		return err
	}
	now := s.now()
	policy := s.cfg.Stall.Policy()
	data := listPage{
		Filter: f,
		States: []ft.State{ft.StateTracking, ft.StateReopened, ft.StateCompleted},
		Counts: map[string]int{},
		Now:    now,
	}
	for _, pm := range pms {
		data.Rows = append(data.Rows, rowOf(pm, policy, now))
		data.Counts[string(pm.State)]++
	}
	link := func(extra url.Values) string {
		v := url.Values{}
		for _, k := range []string{"state", "team", "severity", "limit"} {
			if x := q.Get(k); x != "" {
				v.Set(k, x)
			}
		}
		for k, x := range extra {
			v[k] = x
		}
		if len(v) == 0 {
			return "/"
		}
		return "/?" + v.Encode()
	}
	if next != "" {
		data.NextPage = link(url.Values{"cursor": {next}})
	}
	if f.Cursor != "" {
		data.FirstPage = link(nil)
	}
	data.ExportCSV = link(url.Values{"format": {formatCSV}})
	data.ExportJS = link(url.Values{"format": {formatJSON}})
	return s.renderHTML(c, http.StatusOK, listTemplate, data)
}

// rowOf counts a postmortem's stalled and overdue items at now.
func rowOf(pm ft.PostmortemView, policy ft.StallPolicy, now time.Time) pageRow {
	row := pageRow{PostmortemView: pm}
	for _, it := range pm.Items {
		if it.Stalled {
			row.Stalled++
		}
		if ft.Overdue(ft.ItemStallInput(pm, it), policy, now) {
			row.Overdue++
		}
	}
	return row
}

// eachRow calls fn with every postmortem that f selects, from f.Cursor on, with its counts,
// as the reader streams them: an export holds one postmortem at a time.
func (s *Server) eachRow(c echo.Context, f ft.ListFilter, fn func(pageRow) error) error {
	now := s.now()
	policy := s.cfg.Stall.Policy()
	return s.reader.EachPostmortem(c.Request().Context(), f, func(pm ft.PostmortemView) error {
		return fn(rowOf(pm, policy, now))
	})
}

// exportJSON streams {"postmortems": [...]} with every matching postmortem. Nothing is written
// before the first postmortem is read, so that a bad cursor is still a 400.
func (s *Server) exportJSON(c echo.Context, f ft.ListFilter) error {
	w := c.Response()
	started := false
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	err := s.eachRow(c, f, func(row pageRow) error {
		buf.Reset()
		if !started {
			w.Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
			w.WriteHeader(http.StatusOK)
			buf.WriteString(`{"postmortems":[`)
			started = true
		} else {
			buf.WriteByte(',')
		}
		if err := enc.Encode(row); err != nil {
			return err
		}
		// Encode ends the value with a newline; the array needs none.
		buf.Truncate(buf.Len() - 1)
		_, err := w.Write(buf.Bytes())
		return err
	})
	if err != nil {
		return s.afterStreaming(c, started, err)
	}
	if !started {
		return c.JSON(http.StatusOK, map[string][]pageRow{"postmortems": {}})
	}
	_, err = w.Write([]byte("]}\n"))
	return err
}

// exportCSV streams the contract's columns, one row per matching postmortem.
func (s *Server) exportCSV(c echo.Context, f ft.ListFilter) error {
	w := c.Response()
	cw := csv.NewWriter(w)
	started := false
	start := func() error {
		w.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		w.Header().Set(echo.HeaderContentDisposition, `attachment; filename="postmortems.csv"`)
		w.WriteHeader(http.StatusOK)
		started = true
		return cw.Write(csvColumns)
	}
	rec := make([]string, len(csvColumns))
	err := s.eachRow(c, f, func(r pageRow) error {
		if !started {
			if err := start(); err != nil {
				return err
			}
		}
		signedOff := ""
		if r.SignedOffAt != nil {
			signedOff = r.SignedOffAt.UTC().Format(time.RFC3339)
		}
		rec = append(rec[:0],
			csvCell(r.ID), csvCell(r.Title), csvCell(r.Team), csvCell(r.Severity), csvCell(string(r.State)),
			strconv.Itoa(r.Completion.Done), strconv.Itoa(r.Completion.Total), strconv.Itoa(r.Completion.Percent),
			strconv.Itoa(r.Stalled), strconv.Itoa(r.Overdue), signedOff)
		// csv.Writer buffers; what it holds goes out as the response's buffer fills.
		return cw.Write(rec)
	})
	if err != nil {
		return s.afterStreaming(c, started, err)
	}
	if !started {
		// Nothing matched: the header row alone.
		if err := start(); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// afterStreaming handles an error met while exporting: before the first byte it is an ordinary
// error answer; after, the status is sent, so the log keeps it and the body stays cut short.
func (s *Server) afterStreaming(c echo.Context, started bool, err error) error {
	if !started {
		return err
	}
	s.logger.LogAttrs(c.Request().Context(), slog.LevelError, "export failed after it started",
		slog.String("request_id", requestIDOf(c)), slog.String("error", err.Error()))
	return nil
}

// csvCell guards a text cell against formula injection: a spreadsheet opening the export would
// run a cell that starts with = + - or @ (or a tab or carriage return, which some spreadsheets
// skip before such a character) as a formula. A leading single quote makes it text, as OWASP's
// "CSV Injection" advice says. Titles, teams and severities come from postmortem authors, so
// they are not trusted; numeric cells are written by us and left alone.
func csvCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// itemPage is one item of templates/postmortem.html.
type itemPage struct {
	ft.ItemView
	DueDate      string // the item's due date, or the one default_due gives
	DueDefaulted bool
	Overdue      bool
	StalledWhy   string // the stall reason in words
	TicketHref   string // the ticket's URL when it is http(s); empty: show the key only
	History      []ft.HistoryEntry
}

// postmortemPage is the data of templates/postmortem.html.
type postmortemPage struct {
	pageRow
	Href  string // the postmortem's own URL when it is http(s)
	Items []itemPage
	Now   time.Time
}

// postmortemPage is GET /postmortems/{id}: the postmortem, each item and its status history.
func (s *Server) postmortemPage(c echo.Context, format string) error {
	ctx := c.Request().Context()
	id, err := idParam(c, "id", "postmortem")
	if err != nil {
		return err
	}
	pm, history, err := s.reader.PostmortemWithHistory(ctx, id)
	if err != nil {
		return err
	}
	if format == formatJSON {
		return c.JSON(http.StatusOK, postmortemJSON(pm, history))
	}
	now := s.now()
	policy := s.cfg.Stall.Policy()
	data := postmortemPage{pageRow: rowOf(pm, policy, now), Href: httpURL(pm.URL), Now: now}
	for _, it := range pm.Items {
		in := ft.ItemStallInput(pm, it)
		due, defaulted := ft.DueDate(in, policy)
		ip := itemPage{ItemView: it, DueDate: due, DueDefaulted: defaulted, Overdue: ft.Overdue(in, policy, now)}
		if it.StalledReason != nil {
			ip.StalledWhy = stallWords(*it.StalledReason)
		}
		if it.Ticket != nil {
			ip.TicketHref = httpURL(it.Ticket.URL)
		}
		ip.History = history[it.ID]
		data.Items = append(data.Items, ip)
	}
	return s.renderHTML(c, http.StatusOK, postmortemTemplate, data)
}

// postmortemResponse is the JSON of GET /postmortems/{id}: the body of GET /v1/postmortems/{id}
// with each item's status history.
type postmortemResponse struct {
	ft.PostmortemView
	Items []itemWithHistory `json:"items"` // hides the view's items
}

// itemWithHistory is an item as the API shows it, with its status changes, oldest first.
type itemWithHistory struct {
	ft.ItemView
	History []ft.HistoryEntry `json:"history"`
}

func postmortemJSON(pm ft.PostmortemView, history map[string][]ft.HistoryEntry) postmortemResponse {
	out := postmortemResponse{PostmortemView: pm, Items: []itemWithHistory{}}
	for _, it := range pm.Items {
		h := history[it.ID]
		if h == nil {
			h = []ft.HistoryEntry{}
		}
		out.Items = append(out.Items, itemWithHistory{ItemView: it, History: h})
	}
	return out
}

// stallWords says why an item stalled, as the stall rules decide it.
func stallWords(r ft.StallReason) string {
	switch r {
	case ft.StallOverdue:
		return "overdue, and the grace period after the due day has passed"
	case ft.StallInactive:
		return "no activity on the ticket for longer than inactive_after allows"
	}
	return string(r)
}

// httpURL is u when it is an absolute http or https URL, else "": ticket and postmortem URLs
// come from trackers and authors, and only those are rendered as links.
func httpURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || (p.Scheme != "http" && p.Scheme != "https") {
		return ""
	}
	return p.String()
}
