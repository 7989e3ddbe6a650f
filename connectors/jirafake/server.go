// Package jirafake is an in-memory stand-in for the Jira REST API, Cloud or Data Center, on
// 127.0.0.1. The Jira connector's tests and `serve --dev` talk to it over HTTP exactly as they
// would talk to Jira: it checks authentication, answers with Jira's JSON shapes and errors,
// follows a configurable workflow, hides fresh changes from search for a while (Cloud's
// search lag), and can inject faults at runtime (failures, latency, 429, lost responses).
// Helpers act as people would in Jira (transition, comment, edit, delete) without webhooks.
package jirafake

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/followthrough/followthrough/connectors/internal/devweb"
)

// Mode is the kind of Jira the fake plays.
type Mode string

// The two deployments.
const (
	Cloud      Mode = "cloud"
	DataCenter Mode = "datacenter"
)

// TimeFormat is how Jira writes times in JSON.
const TimeFormat = "2006-01-02T15:04:05.000-0700"

// User is a Jira user. On Cloud a user is known by AccountID, on Data Center by Name.
type User struct {
	AccountID   string
	Name        string
	Email       string
	DisplayName string
	TimeZone    string // IANA name; default UTC
}

// Options configures a fake Jira.
type Options struct {
	Mode Mode // default Cloud
	// Addr to listen on; default 127.0.0.1:0.
	Addr string
	// Cloud credentials (basic auth email:token) and the Data Center personal access token
	// (Bearer). Defaults: "bot@example.com", "cloud-token", "dc-pat".
	Email    string
	APIToken string
	PAT      string
	// Self is the authenticated user (GET myself). Default: the bot, with accountId
	// "ft-bot-account" on Cloud, name "followthrough" on Data Center, time zone UTC.
	Self User
	// Users are the other users known to the site (assignees, user search). When empty, any
	// assignee is accepted.
	Users []User
	// Projects are the known project keys; empty accepts any key.
	Projects []string
	// Workflow of every issue; default DefaultWorkflow().
	Workflow *Workflow
	// SearchLag hides an issue from search for this long after it is created or updated
	// (Jira Cloud's index is eventually consistent).
	SearchLag time.Duration
	// PageSize caps maxResults of a search page; default 100.
	PageSize int
	// Now is the fake's clock; default time.Now. It stamps created/updated and drives the
	// search lag.
	Now func() time.Time
	// ReadOnlyProjects can be browsed but not written by the connector's user: edits,
	// transitions and comments answer 400 as Jira answers a user without the permission, and
	// remote links 403.
	ReadOnlyProjects []string
	// ServeHTML serves a read-only web page of each issue at /browse/{KEY}, without
	// authentication, as Jira's web UI does, so that <url>/browse/KEY links open in a browser.
	// The API lives under /rest/, so the pages never shadow it. Page views take no fault or
	// latency and are not in the request log. Off: /browse/ answers as the API always has.
	ServeHTML bool
}

// Issue is the fake's record of one issue, as the helpers return it.
type Issue struct {
	ID          string
	Key         string
	Project     string
	IssueType   string
	Summary     string
	Description string
	Status      string
	Resolution  string
	Labels      []string
	DueDate     string
	Priority    string
	Assignee    string // accountId (Cloud) or name (Data Center); empty: unassigned
	Reporter    string
	Created     time.Time
	Updated     time.Time
	Comments    []Comment
	RemoteLinks []RemoteLink
}

// Comment is one comment on an issue.
type Comment struct {
	ID      string
	Author  string
	Body    string
	Created time.Time
}

// RemoteLink is one remote link of an issue.
type RemoteLink struct {
	ID       int
	GlobalID string
	URL      string
	Title    string
}

type issue struct {
	Issue
	searchableAt time.Time
}

// Call is one request the fake received.
type Call struct {
	Method string
	Path   string
	Query  string
	Time   time.Time // by the fake's clock
}

// Server is a running fake Jira.
type Server struct {
	opts     Options
	listener net.Listener
	http     *http.Server
	url      string
	closed   chan struct{}

	mu          sync.Mutex
	now         func() time.Time
	workflow    Workflow
	issues      map[string]*issue // by key
	byID        map[string]string // id -> key
	nextID      int
	nextNum     map[string]int
	nextComment int
	nextLink    int
	calls       []Call
	faults      []*Fault
	latency     time.Duration
	searchLag   time.Duration
	readOnly    map[string]bool // by project key

	nextChangelog int
	hook          devweb.Hook // where the issue pages' buttons deliver webhooks
}

// New starts a fake Jira. It panics when it cannot listen, like httptest.NewServer.
func New(opts Options) *Server {
	if opts.Mode == "" {
		opts.Mode = Cloud
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Email == "" {
		opts.Email = "bot@example.com"
	}
	if opts.APIToken == "" {
		opts.APIToken = "cloud-token"
	}
	if opts.PAT == "" {
		opts.PAT = "dc-pat"
	}
	if opts.Self.AccountID == "" && opts.Self.Name == "" {
		if opts.Mode == Cloud {
			opts.Self.AccountID = "ft-bot-account"
		} else {
			opts.Self.Name = "followthrough"
		}
		opts.Self.Email = opts.Email
		opts.Self.DisplayName = "followthrough"
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	wf := DefaultWorkflow()
	if opts.Workflow != nil {
		wf = *opts.Workflow
	}
	if wf.Initial == "" && len(wf.Statuses) > 0 {
		wf.Initial = wf.Statuses[0].Name
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		panic(fmt.Sprintf("jirafake: listen on %s: %v", opts.Addr, err))
	}
	s := &Server{
		opts: opts, listener: ln, closed: make(chan struct{}),
		now: now, workflow: wf, searchLag: opts.SearchLag,
		issues: map[string]*issue{}, byID: map[string]string{}, nextID: 10000,
		nextNum: map[string]int{}, nextComment: 10000, nextLink: 10000, readOnly: map[string]bool{},
	}
	for _, p := range opts.ReadOnlyProjects {
		s.readOnly[strings.ToUpper(p)] = true
	}
	s.url = "http://" + ln.Addr().String()
	s.http = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.http.Serve(ln) }()
	return s
}

// URL is the base URL of the fake, e.g. http://127.0.0.1:41234 (no trailing slash).
func (s *Server) URL() string { return s.url }

// Mode says whether the fake plays Cloud or Data Center.
func (s *Server) Mode() Mode { return s.opts.Mode }

// Close stops the server and drops open connections.
func (s *Server) Close() {
	select {
	case <-s.closed:
		return
	default:
	}
	close(s.closed)
	_ = s.http.Close()
}

// SetSearchLag changes how long fresh changes stay invisible to search.
func (s *Server) SetSearchLag(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.searchLag = d
}

// AddUser makes a user known to the site (assignee checks, user search), e.g. dev mode's
// people.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Users = append(s.opts.Users, u)
}

// SetWorkflow replaces the workflow. Issues keep their status names.
func (s *Server) SetWorkflow(w Workflow) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.Initial == "" && len(w.Statuses) > 0 {
		w.Initial = w.Statuses[0].Name
	}
	s.workflow = w
}

// Calls counts the requests received with this method and exact path (no query).
func (s *Server) Calls(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Method == method && c.Path == path {
			n++
		}
	}
	return n
}

// Requests returns every request received so far, in order.
func (s *Server) Requests() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// ResetCalls forgets the requests received so far.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// Issue returns a copy of the issue with this key.
func (s *Server) Issue(key string) (Issue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, ok := s.issues[key]
	if !ok {
		return Issue{}, false
	}
	return is.copy(), true
}

// Issues returns copies of the issues of a project, oldest first.
func (s *Server) Issues(project string) []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Issue
	for _, is := range s.sortedIssues() {
		if strings.EqualFold(is.Project, project) {
			out = append(out, is.copy())
		}
	}
	return out
}

func (is *issue) copy() Issue {
	c := is.Issue
	c.Labels = append([]string(nil), is.Labels...)
	c.Comments = append([]Comment(nil), is.Comments...)
	c.RemoteLinks = append([]RemoteLink(nil), is.RemoteLinks...)
	return c
}

// sortedIssues lists issues by id, oldest first. Callers hold s.mu.
func (s *Server) sortedIssues() []*issue {
	out := make([]*issue, 0, len(s.issues))
	for _, is := range s.issues {
		out = append(out, is)
	}
	sort.Slice(out, func(i, j int) bool { return idNum(out[i].ID) < idNum(out[j].ID) })
	return out
}

func idNum(id string) int { n, _ := strconv.Atoi(id); return n }

// ---- people's actions -------------------------------------------------------------------

// ErrNoIssue is returned by the helpers for an unknown issue key.
var ErrNoIssue = errors.New("jirafake: no such issue")

// Transition moves an issue to a status as a person would, ignoring the workflow's
// transitions. An empty resolution takes the status's default (cleared outside the done
// category).
func (s *Server) Transition(key, status, resolution string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, ok := s.issues[key]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoIssue, key)
	}
	st, _, ok := s.workflow.status(status)
	if !ok {
		return fmt.Errorf("jirafake: no status %q in the workflow", status)
	}
	s.enter(is, st, resolution)
	s.touch(is)
	return nil
}

// NewIssue is an issue that a person creates in Jira, not followthrough.
type NewIssue struct {
	Project     string
	IssueType   string // [Task]
	Summary     string
	Description string
	Labels      []string
	Assignee    string // accountId (Cloud) or name (Data Center); empty: unassigned
	Reporter    string // [a person, "someone-else"]
}

// CreateIssue creates an issue as a person would, in the workflow's initial status, and
// returns it.
func (s *Server) CreateIssue(in NewIssue) Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.IssueType == "" {
		in.IssueType = "Task"
	}
	if in.Reporter == "" {
		in.Reporter = "someone-else"
	}
	key := strings.ToUpper(in.Project)
	s.nextID++
	s.nextNum[key]++
	is := &issue{Issue: Issue{
		ID: strconv.Itoa(s.nextID), Key: fmt.Sprintf("%s-%d", key, s.nextNum[key]), Project: key,
		IssueType: in.IssueType, Summary: in.Summary, Description: in.Description,
		Labels: append([]string(nil), in.Labels...), Priority: "Medium", Assignee: in.Assignee,
		Reporter: in.Reporter, Created: s.now(),
	}}
	st, _, _ := s.workflow.status(s.workflow.Initial)
	s.enter(is, st, "")
	s.touch(is)
	s.issues[is.Key] = is
	s.byID[is.ID] = is.Key
	return is.copy()
}

// SetReadOnly makes a project read-only for the connector's user, or writable again (see
// Options.ReadOnlyProjects).
func (s *Server) SetReadOnly(project string, readOnly bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readOnly[strings.ToUpper(project)] = readOnly
}

// AddComment adds a comment by author (an accountId or username) as a person would.
func (s *Server) AddComment(key, author, body string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, ok := s.issues[key]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoIssue, key)
	}
	s.addComment(is, author, body)
	return nil
}

// Edit changes an issue through fn, as a person editing it would, and bumps its updated time.
func (s *Server) Edit(key string, fn func(*Issue)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, ok := s.issues[key]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoIssue, key)
	}
	fn(&is.Issue)
	s.touch(is)
	return nil
}

// Delete deletes an issue, as a person would.
func (s *Server) Delete(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, ok := s.issues[key]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoIssue, key)
	}
	delete(s.issues, key)
	delete(s.byID, is.ID)
	return nil
}

// enter puts an issue into a status and sets or clears its resolution. Callers hold s.mu.
func (s *Server) enter(is *issue, st Status, resolution string) {
	is.Status = st.Name
	switch {
	case st.Category != CategoryDone:
		is.Resolution = ""
	case resolution != "":
		is.Resolution = resolution
	default:
		is.Resolution = st.Resolution
	}
}

func (s *Server) touch(is *issue) {
	is.Updated = s.now()
	is.searchableAt = is.Updated.Add(s.searchLag)
}

func (s *Server) addComment(is *issue, author, body string) Comment {
	s.nextComment++
	c := Comment{ID: strconv.Itoa(s.nextComment), Author: author, Body: body, Created: s.now()}
	is.Comments = append(is.Comments, c)
	s.touch(is)
	return c
}

// ---- faults -----------------------------------------------------------------------------

// Fault makes matching requests misbehave. A request matches when Method (if set) equals its
// method and its path starts with PathPrefix (if set). Each matching request uses up one of
// Times (default 1).
type Fault struct {
	Method     string
	PathPrefix string
	Times      int
	// Latency delays the answer (then the request is served normally unless Status or
	// LoseResponse says otherwise).
	Latency time.Duration
	// Status answers with this HTTP status and a Jira error body, without doing anything.
	Status int
	// RetryAfter is sent as the Retry-After header (seconds) with Status.
	RetryAfter time.Duration
	// LoseResponse performs the request, then closes the connection without an answer.
	LoseResponse bool
	// LatencyAfter performs the request, then delays its answer: the change is made while
	// the caller still waits to hear of it.
	LatencyAfter time.Duration
}

// AddFault arms a fault. Faults are checked in the order they were added; the first that
// matches a request applies.
func (s *Server) AddFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times <= 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, &f)
}

// FailNext answers the next n requests matching method and pathPrefix (either may be empty)
// with status.
func (s *Server) FailNext(n, status int, method, pathPrefix string) {
	s.AddFault(Fault{Method: method, PathPrefix: pathPrefix, Times: n, Status: status})
}

// RateLimit answers the next n requests with 429 and Retry-After.
func (s *Server) RateLimit(n int, retryAfter time.Duration) {
	s.AddFault(Fault{Times: n, Status: http.StatusTooManyRequests, RetryAfter: retryAfter})
}

// LoseNextResponse performs the next request matching method and pathPrefix, then closes its
// connection without answering (the client sees a network error; the change is made).
func (s *Server) LoseNextResponse(method, pathPrefix string) {
	s.AddFault(Fault{Method: method, PathPrefix: pathPrefix, LoseResponse: true})
}

// SetLatency delays every answer by d (0: none).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// ClearFaults disarms every fault and the latency.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	s.latency = 0
}

func (s *Server) takeFault(r *http.Request) (Fault, time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Method != "" && f.Method != r.Method {
			continue
		}
		if !strings.HasPrefix(r.URL.Path, f.PathPrefix) {
			continue
		}
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return *f, s.latency, true
	}
	return Fault{}, s.latency, false
}

func (s *Server) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.closed:
		return false
	}
}

// ---- HTTP -------------------------------------------------------------------------------

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.opts.ServeHTML {
		if key, ok := webPath(r.URL.Path); ok {
			s.serveWeb(w, r, key)
			return
		}
	}
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Time: s.now()})
	s.mu.Unlock()

	f, latency, faulty := s.takeFault(r)
	if !s.wait(r, latency+f.Latency) {
		return
	}
	if faulty && f.Status != 0 {
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter.Round(time.Second)/time.Second)))
		}
		msg := http.StatusText(f.Status)
		if f.Status == http.StatusTooManyRequests {
			msg = "Rate limit exceeded."
		}
		writeError(w, f.Status, []string{msg}, nil)
		return
	}
	if faulty && f.LoseResponse {
		s.route(discard{header: http.Header{}}, r)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	if faulty && f.LatencyAfter > 0 {
		held := &heldAnswer{header: http.Header{}, status: http.StatusOK}
		s.route(held, r)
		if !s.wait(r, f.LatencyAfter) {
			return
		}
		for k, v := range held.header {
			w.Header()[k] = v
		}
		w.WriteHeader(held.status)
		_, _ = w.Write(held.body)
		return
	}
	s.route(w, r)
}

// heldAnswer keeps an answer to send later (Fault.LatencyAfter).
type heldAnswer struct {
	header http.Header
	status int
	body   []byte
}

func (h *heldAnswer) Header() http.Header { return h.header }
func (h *heldAnswer) Write(b []byte) (int, error) {
	h.body = append(h.body, b...)
	return len(b), nil
}
func (h *heldAnswer) WriteHeader(status int) { h.status = status }

// discard is a ResponseWriter that drops the answer of a lost response.
type discard struct{ header http.Header }

func (d discard) Header() http.Header         { return d.header }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if !s.authenticated(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="protected-area"`)
		writeError(w, http.StatusUnauthorized, []string{"You are not authenticated. Authentication required to perform this operation."}, nil)
		return
	}
	p := r.URL.Path
	seg := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case p == "/rest/api/2/myself" || p == "/rest/api/3/myself":
		s.handleMyself(w, r)
	case p == "/rest/api/3/user/search" && s.opts.Mode == Cloud:
		s.handleUserSearch(w, r)
	case p == "/rest/api/2/search" || p == "/rest/api/3/search":
		if s.opts.Mode == Cloud {
			writeError(w, http.StatusGone, []string{"The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"}, nil)
			return
		}
		if p == "/rest/api/3/search" {
			writeError(w, http.StatusNotFound, []string{"null for uri: " + p}, nil)
			return
		}
		s.handleSearchDC(w, r)
	case p == "/rest/api/3/search/jql" && s.opts.Mode == Cloud:
		s.handleSearchJQL(w, r)
	case p == "/rest/api/2/issue" && r.Method == http.MethodPost:
		s.handleCreate(w, r)
	case len(seg) >= 5 && seg[0] == "rest" && seg[1] == "api" && seg[2] == "2" && seg[3] == "issue":
		key := seg[4]
		sub := ""
		if len(seg) == 6 {
			sub = seg[5]
		} else if len(seg) > 6 {
			writeError(w, http.StatusNotFound, []string{"null for uri: " + p}, nil)
			return
		}
		s.handleIssue(w, r, key, sub)
	default:
		writeError(w, http.StatusNotFound, []string{"null for uri: " + s.url + p}, nil)
	}
}

func (s *Server) authenticated(r *http.Request) bool {
	if s.opts.Mode == Cloud {
		u, p, ok := r.BasicAuth()
		return ok && u == s.opts.Email && p == s.opts.APIToken
	}
	return r.Header.Get("Authorization") == "Bearer "+s.opts.PAT
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, messages []string, fields map[string]string) {
	if messages == nil {
		messages = []string{}
	}
	if fields == nil {
		fields = map[string]string{}
	}
	writeJSON(w, status, map[string]any{"errorMessages": messages, "errors": fields})
}

func notFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, []string{"Issue does not exist or you do not have permission to see it."}, nil)
}

func (s *Server) loc() *time.Location {
	if s.opts.Self.TimeZone != "" {
		if l, err := time.LoadLocation(s.opts.Self.TimeZone); err == nil {
			return l
		}
	}
	return time.UTC
}

func (s *Server) fmtTime(t time.Time) string { return t.In(s.loc()).Format(TimeFormat) }

// ---- users ------------------------------------------------------------------------------

func (s *Server) userID(u User) string {
	if s.opts.Mode == Cloud {
		return u.AccountID
	}
	return u.Name
}

func (s *Server) findUser(id string) (User, bool) {
	if id == s.userID(s.opts.Self) {
		return s.opts.Self, true
	}
	for _, u := range s.opts.Users {
		if s.userID(u) == id {
			return u, true
		}
	}
	return User{}, false
}

func (s *Server) userJSON(id string) map[string]any {
	if id == "" {
		return nil
	}
	u, ok := s.findUser(id)
	if !ok {
		if s.opts.Mode == Cloud {
			u = User{AccountID: id}
		} else {
			u = User{Name: id}
		}
	}
	tz := u.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	m := map[string]any{
		"displayName": u.DisplayName, "active": true, "timeZone": tz,
	}
	if s.opts.Mode == Cloud {
		m["self"] = s.url + "/rest/api/2/user?accountId=" + u.AccountID
		m["accountId"] = u.AccountID
		m["accountType"] = "atlassian"
		if u.Email != "" {
			m["emailAddress"] = u.Email
		}
	} else {
		m["self"] = s.url + "/rest/api/2/user?username=" + u.Name
		m["name"] = u.Name
		m["key"] = u.Name
		m["emailAddress"] = u.Email
	}
	return m
}

func (s *Server) handleMyself(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, []string{"method not allowed"}, nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.userJSON(s.userID(s.opts.Self)))
}

func (s *Server) handleUserSearch(w http.ResponseWriter, r *http.Request) {
	q := strings.ToLower(r.URL.Query().Get("query"))
	if q == "" {
		writeError(w, http.StatusBadRequest, []string{"The query parameter 'query' is required."}, nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, u := range append([]User{s.opts.Self}, s.opts.Users...) {
		if strings.Contains(strings.ToLower(u.Email), q) || strings.Contains(strings.ToLower(u.DisplayName), q) {
			out = append(out, s.userJSON(u.AccountID))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// ---- create and issue endpoints ---------------------------------------------------------

var priorities = []string{"Highest", "High", "Medium", "Low", "Lowest"}

type namedRef struct {
	ID        string `json:"id"`
	Key       string `json:"key"`
	Name      string `json:"name"`
	AccountID string `json:"accountId"`
}

func (s *Server) validUser(raw json.RawMessage) (string, string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", "", true
	}
	var ref namedRef
	if err := json.Unmarshal(raw, &ref); err != nil {
		return "", "Could not parse the assignee.", false
	}
	id := ref.Name
	if s.opts.Mode == Cloud {
		id = ref.AccountID
		if id == "" && ref.Name != "" {
			return "", "The 'name' property is not supported on Jira Cloud; use 'accountId'.", false
		}
	}
	if id == "" {
		return "", "", true
	}
	if len(s.opts.Users) > 0 {
		if _, ok := s.findUser(id); !ok {
			return "", fmt.Sprintf("User '%s' does not exist.", id), false
		}
	}
	return id, "", true
}

func validLabels(labels []string) string {
	for _, l := range labels {
		if strings.ContainsAny(l, " \t\n") {
			return fmt.Sprintf("The label '%s' contains spaces which is invalid.", l)
		}
		if l == "" {
			return "Labels cannot be empty."
		}
	}
	return ""
}

func validDate(d string) bool {
	_, err := time.Parse("2006-01-02", d)
	return err == nil
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Fields map[string]json.RawMessage `json:"fields"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Fields == nil {
		writeError(w, http.StatusBadRequest, []string{"Can not deserialize the request body."}, nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	errs := map[string]string{}
	f := body.Fields
	var project, itype namedRef
	_ = json.Unmarshal(f["project"], &project)
	_ = json.Unmarshal(f["issuetype"], &itype)
	if project.Key == "" || !s.knownProject(project.Key) {
		errs["project"] = "Specify a valid project ID or key"
	}
	switch itype.Name {
	case "Task", "Bug", "Story", "Epic":
	default:
		errs["issuetype"] = "Specify a valid issue type"
	}
	var summary, description, due string
	_ = json.Unmarshal(f["summary"], &summary)
	if strings.TrimSpace(summary) == "" {
		errs["summary"] = "You must specify a summary of the issue."
	} else if len(summary) > 255 {
		errs["summary"] = "Summary must be less than 255 characters."
	}
	if raw, ok := f["description"]; ok && json.Unmarshal(raw, &description) != nil {
		errs["description"] = "Operation value must be a string"
	}
	var labels []string
	if raw, ok := f["labels"]; ok {
		if json.Unmarshal(raw, &labels) != nil {
			errs["labels"] = "Operation value must be an array of strings"
		} else if m := validLabels(labels); m != "" {
			errs["labels"] = m
		}
	}
	if raw, ok := f["duedate"]; ok && string(raw) != "null" {
		if json.Unmarshal(raw, &due) != nil || !validDate(due) {
			errs["duedate"] = "Error parsing date string: " + string(raw)
		}
	}
	priority := "Medium"
	if raw, ok := f["priority"]; ok {
		var p namedRef
		_ = json.Unmarshal(raw, &p)
		if !contains(priorities, p.Name) {
			errs["priority"] = "Specify a valid priority"
		} else {
			priority = p.Name
		}
	}
	assignee, msg, ok := s.validUser(f["assignee"])
	if !ok {
		errs["assignee"] = msg
	}
	if len(errs) > 0 {
		writeError(w, http.StatusBadRequest, nil, errs)
		return
	}
	key := strings.ToUpper(project.Key)
	s.nextID++
	s.nextNum[key]++
	now := s.now()
	is := &issue{Issue: Issue{
		ID: strconv.Itoa(s.nextID), Key: fmt.Sprintf("%s-%d", key, s.nextNum[key]), Project: key,
		IssueType: itype.Name, Summary: summary, Description: description, Labels: labels,
		DueDate: due, Priority: priority, Assignee: assignee, Reporter: s.userID(s.opts.Self),
		Created: now,
	}}
	st, _, _ := s.workflow.status(s.workflow.Initial)
	s.enter(is, st, "")
	s.touch(is)
	s.issues[is.Key] = is
	s.byID[is.ID] = is.Key
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": is.ID, "key": is.Key, "self": s.url + "/rest/api/2/issue/" + is.ID,
	})
}

func (s *Server) knownProject(key string) bool {
	if len(s.opts.Projects) == 0 {
		return true
	}
	for _, p := range s.opts.Projects {
		if strings.EqualFold(p, key) {
			return true
		}
	}
	return false
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func (s *Server) handleIssue(w http.ResponseWriter, r *http.Request, idOrKey, sub string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := idOrKey
	if k, ok := s.byID[idOrKey]; ok {
		key = k
	}
	is, ok := s.issues[key]
	if !ok {
		notFound(w)
		return
	}
	if r.Method != http.MethodGet && s.readOnly[is.Project] {
		s.refuseWrite(w, r, sub)
		return
	}
	switch {
	case sub == "" && r.Method == http.MethodGet:
		out := s.issueJSON(is, nil, false)
		// expand=transitions adds the transitions offered from the issue's status, as GET
		// .../transitions lists them; transitions.fields (dot notation: an expansion inside
		// the expanded transitions) adds their screens' fields too.
		if expand := expansions(r); expand["transitions"] || expand["transitions.fields"] {
			out["transitions"] = s.transitionsJSON(is, expand["transitions.fields"])
		}
		writeJSON(w, http.StatusOK, out)
	case sub == "" && r.Method == http.MethodPut:
		s.updateIssue(w, r, is)
	case sub == "transitions" && r.Method == http.MethodGet:
		s.listTransitions(w, r, is)
	case sub == "transitions" && r.Method == http.MethodPost:
		s.doTransition(w, r, is)
	case sub == "comment" && r.Method == http.MethodPost:
		var body struct {
			Body string `json:"body"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || strings.TrimSpace(body.Body) == "" {
			writeError(w, http.StatusBadRequest, nil, map[string]string{"comment": "Comment body can not be empty!"})
			return
		}
		c := s.addComment(is, s.userID(s.opts.Self), body.Body)
		writeJSON(w, http.StatusCreated, s.commentJSON(is, c))
	case sub == "comment" && r.Method == http.MethodGet:
		s.listComments(w, r, is)
	case sub == "remotelink" && r.Method == http.MethodPost:
		s.addRemoteLink(w, r, is)
	case sub == "remotelink" && r.Method == http.MethodGet:
		list := []any{}
		for _, l := range is.RemoteLinks {
			list = append(list, map[string]any{
				"id": l.ID, "self": fmt.Sprintf("%s/rest/api/2/issue/%s/remotelink/%d", s.url, is.Key, l.ID),
				"globalId": l.GlobalID, "object": map[string]any{"url": l.URL, "title": l.Title},
			})
		}
		writeJSON(w, http.StatusOK, list)
	default:
		writeError(w, http.StatusMethodNotAllowed, []string{"method not allowed"}, nil)
	}
}

// refuseWrite answers a write to an issue of a read-only project as Jira answers a user
// without the permission: an edit names each field it cannot set, a transition or comment is
// refused in words (400), a remote link is 403.
func (s *Server) refuseWrite(w http.ResponseWriter, r *http.Request, sub string) {
	switch sub {
	case "":
		var body struct {
			Fields map[string]json.RawMessage `json:"fields"`
			Update map[string]json.RawMessage `json:"update"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		errs := map[string]string{}
		for _, m := range []map[string]json.RawMessage{body.Fields, body.Update} {
			for name := range m {
				errs[name] = fmt.Sprintf("Field '%s' cannot be set. It is not on the appropriate screen, or unknown.", name)
			}
		}
		writeError(w, http.StatusBadRequest, nil, errs)
	case "transitions":
		writeError(w, http.StatusBadRequest, []string{"You do not have permission to transition this issue."}, nil)
	case "comment":
		writeError(w, http.StatusBadRequest, []string{"You do not have the permission to comment on this issue."}, nil)
	default:
		writeError(w, http.StatusForbidden, []string{"You do not have permission to link issues."}, nil)
	}
}

// listComments is GET /rest/api/2/issue/{key}/comment as Jira answers it: oldest first, or
// by orderBy (created, +created, -created), from startAt, at most maxResults (capped by
// PageSize), with the total.
func (s *Server) listComments(w http.ResponseWriter, r *http.Request, is *issue) {
	q := r.URL.Query()
	start := 0
	if v := q.Get("startAt"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, []string{"startAt must be a non-negative number"}, nil)
			return
		}
		start = n
	}
	all := append([]Comment(nil), is.Comments...)
	switch q.Get("orderBy") {
	case "", "created", "+created":
	case "-created":
		slices.Reverse(all)
	default:
		writeError(w, http.StatusBadRequest, []string{"orderBy must be created, +created or -created"}, nil)
		return
	}
	size := s.pageSize(q.Get("maxResults"))
	list := []any{}
	for i := start; i < min(start+size, len(all)); i++ {
		list = append(list, s.commentJSON(is, all[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"startAt": start, "maxResults": size, "total": len(all), "comments": list})
}

func (s *Server) commentJSON(is *issue, c Comment) map[string]any {
	return map[string]any{
		"self":   fmt.Sprintf("%s/rest/api/2/issue/%s/comment/%s", s.url, is.ID, c.ID),
		"id":     c.ID,
		"author": s.userJSON(c.Author), "updateAuthor": s.userJSON(c.Author),
		"body":    c.Body,
		"created": s.fmtTime(c.Created), "updated": s.fmtTime(c.Created),
	}
}

func (s *Server) addRemoteLink(w http.ResponseWriter, r *http.Request, is *issue) {
	var body struct {
		GlobalID string `json:"globalId"`
		Object   struct {
			URL   string `json:"url"`
			Title string `json:"title"`
		} `json:"object"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, []string{"Can not deserialize the request body."}, nil)
		return
	}
	errs := map[string]string{}
	if body.Object.URL == "" {
		errs["url"] = "'url' is required."
	}
	if body.Object.Title == "" {
		errs["title"] = "'title' is required."
	}
	if len(errs) > 0 {
		writeError(w, http.StatusBadRequest, nil, errs)
		return
	}
	self := func(id int) string { return fmt.Sprintf("%s/rest/api/2/issue/%s/remotelink/%d", s.url, is.Key, id) }
	if body.GlobalID != "" {
		for i, l := range is.RemoteLinks {
			if l.GlobalID == body.GlobalID {
				// Jira updates the link that has the same globalId.
				is.RemoteLinks[i].URL, is.RemoteLinks[i].Title = body.Object.URL, body.Object.Title
				writeJSON(w, http.StatusOK, map[string]any{"id": l.ID, "self": self(l.ID)})
				return
			}
		}
	}
	s.nextLink++
	l := RemoteLink{ID: s.nextLink, GlobalID: body.GlobalID, URL: body.Object.URL, Title: body.Object.Title}
	is.RemoteLinks = append(is.RemoteLinks, l)
	writeJSON(w, http.StatusCreated, map[string]any{"id": l.ID, "self": self(l.ID)})
}

func (s *Server) updateIssue(w http.ResponseWriter, r *http.Request, is *issue) {
	var body struct {
		Fields map[string]json.RawMessage              `json:"fields"`
		Update map[string][]map[string]json.RawMessage `json:"update"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, []string{"Can not deserialize the request body."}, nil)
		return
	}
	errs := map[string]string{}
	next := is.Issue
	next.Labels = append([]string(nil), is.Labels...)
	for name, raw := range body.Fields {
		null := string(raw) == "null"
		switch name {
		case "summary":
			var v string
			if json.Unmarshal(raw, &v) != nil || strings.TrimSpace(v) == "" {
				errs["summary"] = "You must specify a summary of the issue."
			}
			next.Summary = v
		case "description":
			var v string
			if !null && json.Unmarshal(raw, &v) != nil {
				errs["description"] = "Operation value must be a string"
			}
			next.Description = v
		case "duedate":
			var v string
			if !null && (json.Unmarshal(raw, &v) != nil || !validDate(v)) {
				errs["duedate"] = "Error parsing date string: " + string(raw)
			}
			next.DueDate = v
		case "assignee":
			id, msg, ok := s.validUser(raw)
			if !ok {
				errs["assignee"] = msg
			}
			next.Assignee = id
		case "labels":
			var v []string
			if json.Unmarshal(raw, &v) != nil {
				errs["labels"] = "Operation value must be an array of strings"
			} else if m := validLabels(v); m != "" {
				errs["labels"] = m
			}
			next.Labels = v
		case "priority":
			var p namedRef
			_ = json.Unmarshal(raw, &p)
			if !contains(priorities, p.Name) {
				errs["priority"] = "Specify a valid priority"
			}
			next.Priority = p.Name
		default:
			errs[name] = fmt.Sprintf("Field '%s' cannot be set. It is not on the appropriate screen, or unknown.", name)
		}
	}
	for name, ops := range body.Update {
		if name != "labels" {
			errs[name] = fmt.Sprintf("Field '%s' cannot be set. It is not on the appropriate screen, or unknown.", name)
			continue
		}
		for _, op := range ops {
			for verb, raw := range op {
				var l string
				if json.Unmarshal(raw, &l) != nil {
					errs["labels"] = "Operation value must be a string"
					continue
				}
				switch verb {
				case "add":
					if m := validLabels([]string{l}); m != "" {
						errs["labels"] = m
					} else if !contains(next.Labels, l) {
						next.Labels = append(next.Labels, l)
					}
				case "remove":
					out := next.Labels[:0]
					for _, x := range next.Labels {
						if x != l {
							out = append(out, x)
						}
					}
					next.Labels = out
				case "set":
					next.Labels = []string{l}
				default:
					errs["labels"] = fmt.Sprintf("Unsupported operation '%s'.", verb)
				}
			}
		}
	}
	if len(errs) > 0 {
		writeError(w, http.StatusBadRequest, nil, errs)
		return
	}
	is.Issue = next
	s.touch(is)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) statusJSON(name string) map[string]any {
	st, i, _ := s.workflow.status(name)
	id, cname, color := categoryInfo(st.Category)
	return map[string]any{
		"self": fmt.Sprintf("%s/rest/api/2/status/%d", s.url, 10000+i), "description": "",
		"iconUrl": s.url + "/images/icons/statuses/generic.png", "name": st.Name,
		"id": strconv.Itoa(10000 + i),
		"statusCategory": map[string]any{
			"self": fmt.Sprintf("%s/rest/api/2/statuscategory/%d", s.url, id),
			"id":   id, "key": st.Category, "colorName": color, "name": cname,
		},
	}
}

func (s *Server) resolutionJSON(name string) any {
	if name == "" {
		return nil
	}
	id := 10000
	for i, r := range Resolutions {
		if r == name {
			id += i
		}
	}
	return map[string]any{
		"self": fmt.Sprintf("%s/rest/api/2/resolution/%d", s.url, id),
		"id":   strconv.Itoa(id), "name": name, "description": "",
	}
}

func (s *Server) listTransitions(w http.ResponseWriter, r *http.Request, is *issue) {
	transitions := s.transitionsJSON(is, expansions(r)["transitions.fields"])
	writeJSON(w, http.StatusOK, map[string]any{"expand": "transitions", "transitions": transitions})
}

// expansions are the comma-separated names of the request's expand parameters.
func expansions(r *http.Request) map[string]bool {
	out := map[string]bool{}
	for _, v := range r.URL.Query()["expand"] {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				out[name] = true
			}
		}
	}
	return out
}

// transitionsJSON are the transitions offered from the issue's status, with the fields of
// their screens when withFields.
func (s *Server) transitionsJSON(is *issue, withFields bool) []any {
	list := []any{}
	for _, t := range s.workflow.offered(is.Status) {
		m := map[string]any{
			"id": t.ID, "name": t.Name, "to": s.statusJSON(t.To),
			"hasScreen": t.ResolutionScreen, "isGlobal": len(t.From) == 0,
			"isInitial": false, "isAvailable": true, "isConditional": false, "isLooped": false,
		}
		if withFields {
			fields := map[string]any{}
			if t.ResolutionScreen {
				allowed := []any{}
				for _, res := range Resolutions {
					allowed = append(allowed, s.resolutionJSON(res))
				}
				fields["resolution"] = map[string]any{
					"required": true, "name": "Resolution", "key": "resolution",
					"schema":        map[string]any{"type": "resolution", "system": "resolution"},
					"operations":    []string{"set"},
					"allowedValues": allowed,
				}
			}
			m["fields"] = fields
		}
		list = append(list, m)
	}
	return list
}

func (s *Server) doTransition(w http.ResponseWriter, r *http.Request, is *issue) {
	var body struct {
		Transition struct {
			ID string `json:"id"`
		} `json:"transition"`
		Fields map[string]json.RawMessage `json:"fields"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, []string{"Can not deserialize the request body."}, nil)
		return
	}
	var t *Transition
	for _, o := range s.workflow.offered(is.Status) {
		if o.ID == body.Transition.ID {
			t = &o
			break
		}
	}
	if t == nil {
		writeError(w, http.StatusBadRequest, []string{fmt.Sprintf("Transition id '%s' is not valid for this issue.", body.Transition.ID)}, nil)
		return
	}
	resolution := ""
	for name, raw := range body.Fields {
		if name != "resolution" || !t.ResolutionScreen {
			writeError(w, http.StatusBadRequest, nil, map[string]string{name: fmt.Sprintf("Field '%s' cannot be set. It is not on the appropriate screen, or unknown.", name)})
			return
		}
		var ref namedRef
		_ = json.Unmarshal(raw, &ref)
		resolution = ref.Name
		if !contains(Resolutions, resolution) {
			writeError(w, http.StatusBadRequest, nil, map[string]string{"resolution": fmt.Sprintf("The resolution '%s' does not exist.", ref.Name)})
			return
		}
	}
	if t.ResolutionScreen && resolution == "" {
		writeError(w, http.StatusBadRequest, []string{"Resolution is required."}, map[string]string{"resolution": "Resolution is required."})
		return
	}
	st, _, _ := s.workflow.status(t.To)
	s.enter(is, st, resolution)
	s.touch(is)
	w.WriteHeader(http.StatusNoContent)
}

// ---- JSON of an issue -------------------------------------------------------------------

// issueJSON renders an issue in REST v2 shape, or v3 (description as ADF). fields limits the
// fields written (nil: all).
func (s *Server) issueJSON(is *issue, fields map[string]bool, v3 bool) map[string]any {
	all := map[string]any{
		"summary":     is.Summary,
		"issuetype":   map[string]any{"name": is.IssueType, "id": "10001", "subtask": false},
		"project":     map[string]any{"key": is.Project, "name": is.Project, "id": "10000", "self": s.url + "/rest/api/2/project/10000"},
		"status":      s.statusJSON(is.Status),
		"resolution":  s.resolutionJSON(is.Resolution),
		"labels":      append([]string{}, is.Labels...),
		"priority":    nil,
		"assignee":    nil,
		"reporter":    nil,
		"duedate":     nil,
		"description": nil,
		"created":     s.fmtTime(is.Created),
		"updated":     s.fmtTime(is.Updated),
	}
	if is.Priority != "" {
		all["priority"] = map[string]any{"name": is.Priority, "id": strconv.Itoa(1 + indexOf(priorities, is.Priority))}
	}
	if u := s.userJSON(is.Assignee); u != nil {
		all["assignee"] = u
	}
	if u := s.userJSON(is.Reporter); u != nil {
		all["reporter"] = u
	}
	if is.DueDate != "" {
		all["duedate"] = is.DueDate
	}
	if is.Description != "" {
		if v3 {
			all["description"] = adf(is.Description)
		} else {
			all["description"] = is.Description
		}
	}
	comments := []any{}
	for _, c := range is.Comments {
		comments = append(comments, s.commentJSON(is, c))
	}
	all["comment"] = map[string]any{"comments": comments, "maxResults": len(comments), "total": len(comments), "startAt": 0}
	out := all
	if fields != nil {
		out = map[string]any{}
		for k, v := range all {
			if fields[k] {
				out[k] = v
			}
		}
	}
	api := "2"
	if v3 {
		api = "3"
	}
	return map[string]any{
		"expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
		"id":     is.ID, "key": is.Key, "self": s.url + "/rest/api/" + api + "/issue/" + is.ID,
		"fields": out,
	}
}

func indexOf(list []string, v string) int {
	for i, x := range list {
		if x == v {
			return i
		}
	}
	return -1
}

// adf renders plain text as an Atlassian Document: one paragraph per block separated by a blank
// line, hard breaks between the lines of a block, as Jira Cloud converts wiki text.
func adf(text string) map[string]any {
	content := []any{}
	for _, block := range strings.Split(text, "\n\n") {
		var inline []any
		for i, line := range strings.Split(block, "\n") {
			if i > 0 {
				inline = append(inline, map[string]any{"type": "hardBreak"})
			}
			if line != "" {
				inline = append(inline, map[string]any{"type": "text", "text": line})
			}
		}
		p := map[string]any{"type": "paragraph"}
		if len(inline) > 0 {
			p["content"] = inline
		}
		content = append(content, p)
	}
	return map[string]any{"type": "doc", "version": 1, "content": content}
}

// ---- search -----------------------------------------------------------------------------

// search runs a JQL query over the issues visible to search. Callers hold s.mu.
func (s *Server) search(jql string) ([]*issue, error) {
	q, err := parseJQL(jql, s.loc())
	if err != nil {
		return nil, err
	}
	for _, c := range q.clauses {
		if c.field == "project" && !s.knownProject(c.value) {
			return nil, fmt.Errorf("The value '%s' does not exist for the field 'project'.", c.value)
		}
	}
	now := s.now()
	var out []*issue
	for _, is := range s.sortedIssues() {
		if now.Before(is.searchableAt) {
			continue
		}
		if q.match(is) {
			out = append(out, is)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		switch q.orderBy {
		case "updated", "created":
			ta, tb := a.Updated, b.Updated
			if q.orderBy == "created" {
				ta, tb = a.Created, b.Created
			}
			if !ta.Equal(tb) {
				if q.desc {
					return ta.After(tb)
				}
				return ta.Before(tb)
			}
		}
		// Jira's default and tie-break: newest issue first.
		return idNum(a.ID) > idNum(b.ID)
	})
	return out, nil
}

func parseFields(v string) map[string]bool {
	if v == "" {
		return nil
	}
	m := map[string]bool{}
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "*all" || f == "*navigable" {
			return nil
		}
		m[f] = true
	}
	return m
}

func (s *Server) pageSize(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n > s.opts.PageSize {
		return s.opts.PageSize
	}
	return n
}

type searchParams struct {
	JQL           string   `json:"jql"`
	Fields        []string `json:"fields"`
	MaxResults    int      `json:"maxResults"`
	NextPageToken string   `json:"nextPageToken"`
	StartAt       int      `json:"startAt"`
}

func (s *Server) params(w http.ResponseWriter, r *http.Request) (searchParams, bool) {
	var p searchParams
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		p.JQL = q.Get("jql")
		if f := q.Get("fields"); f != "" {
			p.Fields = strings.Split(f, ",")
		}
		p.MaxResults, _ = strconv.Atoi(q.Get("maxResults"))
		p.NextPageToken = q.Get("nextPageToken")
		p.StartAt, _ = strconv.Atoi(q.Get("startAt"))
	case http.MethodPost:
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			writeError(w, http.StatusBadRequest, []string{"Can not deserialize the request body."}, nil)
			return p, false
		}
	default:
		writeError(w, http.StatusMethodNotAllowed, []string{"method not allowed"}, nil)
		return p, false
	}
	return p, true
}

func (s *Server) handleSearchJQL(w http.ResponseWriter, r *http.Request) {
	p, ok := s.params(w, r)
	if !ok {
		return
	}
	if strings.TrimSpace(p.JQL) == "" {
		// The enhanced search refuses unbounded queries.
		writeError(w, http.StatusBadRequest, []string{"Unbounded JQL queries are not allowed here. Please add a search restriction to your query."}, nil)
		return
	}
	start := 0
	if p.NextPageToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(p.NextPageToken)
		if err == nil {
			start, err = strconv.Atoi(strings.TrimPrefix(string(b), "offset:"))
		}
		if err != nil || start < 0 {
			writeError(w, http.StatusBadRequest, []string{"The provided next page token is invalid or expired."}, nil)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	found, err := s.search(p.JQL)
	if err != nil {
		writeError(w, http.StatusBadRequest, []string{err.Error()}, nil)
		return
	}
	size := s.pageSize(strconv.Itoa(p.MaxResults))
	fields := parseFields(strings.Join(p.Fields, ","))
	if len(p.Fields) == 0 {
		fields = map[string]bool{} // the enhanced search returns ids only by default
	}
	issues := []any{}
	end := min(start+size, len(found))
	for i := start; i < end; i++ {
		issues = append(issues, s.issueJSON(found[i], fields, true))
	}
	out := map[string]any{"issues": issues, "isLast": end >= len(found)}
	if end < len(found) {
		out["nextPageToken"] = base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleSearchDC(w http.ResponseWriter, r *http.Request) {
	p, ok := s.params(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	found, err := s.search(p.JQL)
	if err != nil {
		writeError(w, http.StatusBadRequest, []string{"Error in the JQL Query: " + err.Error()}, nil)
		return
	}
	size := s.pageSize(strconv.Itoa(p.MaxResults))
	fields := parseFields(strings.Join(p.Fields, ","))
	issues := []any{}
	start := max(p.StartAt, 0)
	for i := start; i < min(start+size, len(found)); i++ {
		issues = append(issues, s.issueJSON(found[i], fields, false))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"expand": "names,schema", "startAt": start, "maxResults": size, "total": len(found), "issues": issues,
	})
}
