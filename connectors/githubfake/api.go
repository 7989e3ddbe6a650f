package githubfake

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// repo is one repository with its issues (index number-1) and labels.
type repo struct {
	id       int64
	fullName string
	issues   []*issue
	labels   map[string]*label // by lower-case name
}

type label struct {
	id    int64
	name  string
	color string
}

type issue struct {
	id          int64
	number      int
	title       string
	body        string
	user        string
	labels      []string
	state       string
	stateReason string
	assignees   []string
	comments    []Comment
	createdAt   time.Time
	updatedAt   time.Time
	closedAt    time.Time
	closedBy    string
	deleted     bool
	pullRequest bool
}

// Comment is one comment on an issue.
type Comment struct {
	ID        int64
	User      string
	Body      string
	CreatedAt time.Time
}

// Issue is a copy of an issue as the fake holds it, for tests and dev mode to look at.
type Issue struct {
	Repo        string // "owner/name"
	Number      int
	Title       string
	Body        string
	User        string // login of the creator
	Labels      []string
	State       string // open | closed
	StateReason string // completed | not_planned | reopened | duplicate | ""
	Assignees   []string
	Comments    []Comment
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ClosedAt    time.Time // zero while open
	Deleted     bool
	PullRequest bool
}

func pathUnescape(s string) (string, error) { return url.PathUnescape(s) }

// ---- GitHub App endpoints ----

func (s *Server) routeApp(w http.ResponseWriter, r *http.Request, segs []string) {
	app := s.opts.App
	if app == nil {
		writeError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest")
		return
	}
	if err := s.verifyJWT(bearer(r)); err != nil {
		writeError(w, http.StatusUnauthorized, "A JSON web token could not be decoded", "https://docs.github.com/rest")
		return
	}
	switch {
	case len(segs) == 1 && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{
			"id":           app.ID,
			"slug":         app.Slug,
			"node_id":      nodeID("App", app.ID),
			"name":         app.Slug,
			"description":  "",
			"owner":        s.userJSON("followthrough-org"),
			"external_url": "https://followthrough.example",
			"html_url":     s.opts.HTMLBase + "/apps/" + app.Slug,
			"created_at":   ts(time.Unix(1700000000, 0)),
			"updated_at":   ts(time.Unix(1700000000, 0)),
			"permissions":  map[string]string{"issues": "write", "metadata": "read"},
			"events":       []string{"issues", "issue_comment"},
		})
	case len(segs) == 4 && segs[1] == "installations" && segs[3] == "access_tokens" && r.Method == http.MethodPost:
		const doc = "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app"
		if segs[2] != strconv.FormatInt(app.InstallationID, 10) {
			writeError(w, http.StatusNotFound, "Not Found", doc)
			return
		}
		// The body is optional, and an object when given (repositories, permissions).
		if _, ok := readObject(w, r, doc, true); !ok {
			return
		}
		tok := randomToken("ghs_")
		s.mu.Lock()
		s.tokens[tok] = app.Slug + "[bot]"
		s.mu.Unlock()
		// Expiry is in real time: the client library checks it against its own clock.
		writeJSON(w, http.StatusCreated, map[string]any{
			"token":                tok,
			"expires_at":           ts(time.Now().Add(time.Hour)),
			"permissions":          map[string]string{"issues": "write", "metadata": "read"},
			"repository_selection": "all",
		})
	default:
		writeError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest")
	}
}

// verifyJWT checks an app JWT the way GitHub does: RS256, signed with the app's key, issued by
// the app id, not expired.
func (s *Server) verifyJWT(raw string) error {
	if raw == "" {
		return fmt.Errorf("no token")
	}
	app := s.opts.App
	claims := &jwt.RegisteredClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return app.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}))
	if err != nil {
		return fmt.Errorf("parse jwt: %w", err)
	}
	if claims.Issuer != strconv.FormatInt(app.ID, 10) {
		return fmt.Errorf("jwt issuer %q is not app %d", claims.Issuer, app.ID)
	}
	if claims.ExpiresAt == nil {
		return fmt.Errorf("jwt has no expiry")
	}
	return nil
}

// ---- issues ----

// repoLocked returns the repository, creating it on first use; nil when it does not exist.
func (s *Server) repoLocked(fullName string) *repo {
	key := strings.ToLower(fullName)
	if rp, ok := s.repos[key]; ok {
		return rp
	}
	if s.allowedRepo != nil && !s.allowedRepo[key] {
		return nil
	}
	if strings.Count(fullName, "/") != 1 {
		return nil
	}
	if s.allowedRepo != nil {
		// Keep the owner's spelling from the configuration.
		for _, r := range s.opts.Repos {
			if strings.EqualFold(r, fullName) {
				fullName = r
			}
		}
	}
	s.nextID++
	rp := &repo{id: s.nextID, fullName: fullName, labels: map[string]*label{}}
	s.repos[key] = rp
	return rp
}

func (s *Server) routeIssues(w http.ResponseWriter, r *http.Request, login, fullName string, rest []string) {
	s.mu.Lock()
	rp := s.repoLocked(fullName)
	s.mu.Unlock()
	if rp == nil {
		writeError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest/issues/issues")
		return
	}
	s.mu.Lock()
	readOnly := s.readOnly[strings.ToLower(rp.fullName)]
	s.mu.Unlock()
	if readOnly && r.Method != http.MethodGet {
		msg := "Resource not accessible by personal access token"
		if strings.HasSuffix(login, "[bot]") {
			msg = "Resource not accessible by integration"
		}
		writeError(w, http.StatusForbidden, msg, "https://docs.github.com/rest/issues/issues")
		return
	}
	if len(rest) == 0 {
		switch r.Method {
		case http.MethodGet:
			s.listIssues(w, r, login, rp)
		case http.MethodPost:
			s.createIssue(w, r, login, rp)
		default:
			writeError(w, http.StatusNotFound, "Not Found", "")
		}
		return
	}
	n, err := strconv.Atoi(rest[0])
	if err != nil || n <= 0 {
		writeError(w, http.StatusNotFound, "Not Found", "")
		return
	}
	s.mu.Lock()
	var is *issue
	if n <= len(rp.issues) {
		is = rp.issues[n-1]
	}
	s.mu.Unlock()
	if is == nil {
		writeError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest/issues/issues#get-an-issue")
		return
	}
	s.mu.Lock()
	deleted := is.deleted
	s.mu.Unlock()
	if deleted {
		writeError(w, http.StatusGone, "This issue was deleted", "https://docs.github.com/rest/issues/issues#get-an-issue")
		return
	}
	switch {
	case len(rest) == 1 && r.Method == http.MethodGet:
		s.mu.Lock()
		body := s.issueJSONLocked(rp, is)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, body)
	case len(rest) == 1 && r.Method == http.MethodPatch:
		s.editIssue(w, r, login, rp, is)
	case len(rest) == 2 && rest[1] == "comments" && r.Method == http.MethodPost:
		s.createComment(w, r, login, rp, is)
	case len(rest) == 2 && rest[1] == "comments" && r.Method == http.MethodGet:
		s.listComments(w, r, rp, is)
	case len(rest) == 2 && rest[1] == "labels" && r.Method == http.MethodGet:
		s.mu.Lock()
		out := s.labelsJSONLocked(rp, is.labels)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	case len(rest) == 2 && rest[1] == "labels" && (r.Method == http.MethodPost || r.Method == http.MethodPut):
		s.addLabels(w, r, rp, is)
	case len(rest) == 3 && rest[1] == "labels" && r.Method == http.MethodDelete:
		s.mu.Lock()
		idx := indexFold(is.labels, rest[2])
		if idx < 0 {
			s.mu.Unlock()
			writeError(w, http.StatusNotFound, "Label does not exist", "https://docs.github.com/rest/issues/labels#remove-a-label-from-an-issue")
			return
		}
		is.labels = slices.Delete(is.labels, idx, idx+1)
		is.updatedAt = s.nowLocked()
		out := s.labelsJSONLocked(rp, is.labels)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	default:
		writeError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest")
	}
}

func indexFold(list []string, s string) int {
	for i, v := range list {
		if strings.EqualFold(v, s) {
			return i
		}
	}
	return -1
}

// validationError is GitHub's 422 body.
func validationError(w http.ResponseWriter, errs ...map[string]any) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message":           "Validation Failed",
		"errors":            errs,
		"documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue",
	})
}

var loginRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$`)

// readObject reads a request body that GitHub's API description says is a JSON object. An
// empty body is nil when optional; anything but an object is answered with 422 as GitHub does,
// and ok is false.
func readObject(w http.ResponseWriter, r *http.Request, doc string, optional bool) (obj map[string]json.RawMessage, ok bool) {
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON", doc)
		return nil, false
	}
	if optional && len(bytes.TrimSpace(data)) == 0 {
		return nil, true
	}
	if !json.Valid(data) {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON", doc)
		return nil, false
	}
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n"+string(bytes.TrimSpace(data))+" is not an object.", doc)
		return nil, false
	}
	return obj, true
}

// decodeBody reads a JSON request body into v; on failure it answers 400 and returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	data, err := io.ReadAll(io.LimitReader(r.Body, 25<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON", "")
		return false
	}
	if err := json.Unmarshal(data, v); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON", "https://docs.github.com/rest")
		return false
	}
	return true
}

type issueRequest struct {
	Title       *string   `json:"title"`
	Body        *string   `json:"body"`
	Labels      *[]string `json:"labels"`
	Assignee    *string   `json:"assignee"`
	Assignees   *[]string `json:"assignees"`
	State       *string   `json:"state"`
	StateReason *string   `json:"state_reason"`
}

func checkAssignees(w http.ResponseWriter, list []string) bool {
	for _, a := range list {
		if !loginRE.MatchString(a) {
			validationError(w, map[string]any{"value": a, "resource": "Issue", "field": "assignees", "code": "invalid"})
			return false
		}
	}
	return true
}

func (s *Server) createIssue(w http.ResponseWriter, r *http.Request, login string, rp *repo) {
	var req issueRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Title == nil || strings.TrimSpace(*req.Title) == "" {
		validationError(w, map[string]any{"resource": "Issue", "code": "missing_field", "field": "title"})
		return
	}
	var assignees []string
	if req.Assignees != nil {
		assignees = *req.Assignees
	}
	if req.Assignee != nil && *req.Assignee != "" {
		assignees = append(assignees, *req.Assignee)
	}
	if !checkAssignees(w, assignees) {
		return
	}
	in := NewIssue{Title: *req.Title, User: login, Assignees: assignees}
	if req.Body != nil {
		in.Body = *req.Body
	}
	if req.Labels != nil {
		in.Labels = *req.Labels
	}
	s.mu.Lock()
	is := s.createLocked(rp, in)
	body := s.issueJSONLocked(rp, is)
	s.mu.Unlock()
	w.Header().Set("Location", s.apiURL("/repos/"+rp.fullName+"/issues/"+strconv.Itoa(is.number)))
	writeJSON(w, http.StatusCreated, body)
}

// NewIssue is an issue or pull request made on the fake by someone other than the connector.
type NewIssue struct {
	Title       string
	Body        string
	User        string // creator login [octocat]
	Labels      []string
	Assignees   []string
	PullRequest bool // make it a pull request: the issues API lists it with a pull_request key
}

func (s *Server) createLocked(rp *repo, in NewIssue) *issue {
	now := s.nowLocked()
	s.nextID++
	if in.User == "" {
		in.User = "octocat"
	}
	is := &issue{
		id: s.nextID, number: len(rp.issues) + 1, title: in.Title, body: in.Body, user: in.User,
		state: "open", createdAt: now, updatedAt: now, pullRequest: in.PullRequest,
	}
	for _, l := range in.Labels {
		s.ensureLabelLocked(rp, l)
		if indexFold(is.labels, l) < 0 {
			is.labels = append(is.labels, rp.labels[strings.ToLower(l)].name)
		}
	}
	for _, a := range in.Assignees {
		if !slices.Contains(is.assignees, a) {
			is.assignees = append(is.assignees, a)
		}
	}
	rp.issues = append(rp.issues, is)
	return is
}

func (s *Server) ensureLabelLocked(rp *repo, name string) {
	key := strings.ToLower(name)
	if _, ok := rp.labels[key]; ok {
		return
	}
	s.nextID++
	rp.labels[key] = &label{id: s.nextID, name: name, color: "ededed"}
}

func (s *Server) editIssue(w http.ResponseWriter, r *http.Request, login string, rp *repo, is *issue) {
	var req issueRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.State != nil && *req.State != "open" && *req.State != "closed" {
		validationError(w, map[string]any{"value": *req.State, "resource": "Issue", "field": "state", "code": "invalid"})
		return
	}
	if req.StateReason != nil && !slices.Contains([]string{"completed", "not_planned", "reopened", "duplicate", ""}, *req.StateReason) {
		validationError(w, map[string]any{"value": *req.StateReason, "resource": "Issue", "field": "state_reason", "code": "invalid"})
		return
	}
	if req.Title != nil && strings.TrimSpace(*req.Title) == "" {
		validationError(w, map[string]any{"resource": "Issue", "code": "missing_field", "field": "title"})
		return
	}
	if req.Assignees != nil && !checkAssignees(w, *req.Assignees) {
		return
	}
	s.mu.Lock()
	now := s.nowLocked()
	if req.Title != nil {
		is.title = *req.Title
	}
	if req.Body != nil {
		is.body = *req.Body
	}
	if req.Labels != nil {
		is.labels = nil
		for _, l := range *req.Labels {
			s.ensureLabelLocked(rp, l)
			if indexFold(is.labels, l) < 0 {
				is.labels = append(is.labels, rp.labels[strings.ToLower(l)].name)
			}
		}
	}
	if req.Assignees != nil {
		is.assignees = slices.Clone(*req.Assignees)
	} else if req.Assignee != nil {
		is.assignees = nil
		if *req.Assignee != "" {
			is.assignees = []string{*req.Assignee}
		}
	}
	reason := ""
	if req.StateReason != nil {
		reason = *req.StateReason
	}
	if req.State != nil {
		setStateLocked(is, *req.State, reason, login, now)
	} else if req.StateReason != nil && is.state == "closed" && reason != "" && reason != "reopened" {
		is.stateReason = reason
	}
	is.updatedAt = now
	out := s.issueJSONLocked(rp, is)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// setStateLocked opens or closes an issue as GitHub does: closing without a reason is
// "completed", reopening sets "reopened" and clears closed_at.
func setStateLocked(is *issue, state, reason, actor string, now time.Time) {
	switch state {
	case "closed":
		if reason == "" || reason == "reopened" {
			reason = "completed"
		}
		if is.state != "closed" {
			is.closedAt = now
			is.closedBy = actor
		}
		is.state = "closed"
		is.stateReason = reason
	case "open":
		if is.state == "closed" {
			is.stateReason = "reopened"
		}
		is.state = "open"
		is.closedAt = time.Time{}
		is.closedBy = ""
	}
}

func (s *Server) createComment(w http.ResponseWriter, r *http.Request, login string, rp *repo, is *issue) {
	var req struct {
		Body *string `json:"body"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Body == nil || *req.Body == "" {
		validationError(w, map[string]any{"resource": "IssueComment", "code": "missing_field", "field": "body"})
		return
	}
	s.mu.Lock()
	c := s.commentLocked(is, login, *req.Body)
	out := s.commentJSONLocked(rp, is, c)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
}

// paging reads per_page (default 30, at most 100) and page (from 1) as GitHub does: values
// that are not positive numbers are ignored.
func paging(q url.Values) (perPage, page int) {
	perPage, page = 30, 1
	if n, err := strconv.Atoi(q.Get("per_page")); err == nil && n > 0 {
		perPage = min(n, 100)
	}
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 0 {
		page = n
	}
	return perPage, page
}

// sinceParam reads the since= query parameter (RFC 3339; absent: zero) of a list of resource,
// answering 422 as GitHub does when it is not a time.
func sinceParam(w http.ResponseWriter, q url.Values, resource string) (time.Time, bool) {
	v := q.Get("since")
	if v == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		validationError(w, map[string]any{"value": v, "resource": resource, "field": "since", "code": "invalid"})
		return time.Time{}, false
	}
	return t, true
}

// listComments lists an issue's comments as GitHub does: oldest first (the endpoint takes no
// sort or direction), since= keeping those updated at or after it, per_page (default 30, at
// most 100) and page, with a Link header when there is more than one page.
func (s *Server) listComments(w http.ResponseWriter, r *http.Request, rp *repo, is *issue) {
	q := r.URL.Query()
	since, ok := sinceParam(w, q, "IssueComment")
	if !ok {
		return
	}
	perPage, page := paging(q)
	s.mu.Lock()
	var match []Comment
	for _, c := range is.comments {
		if since.IsZero() || !c.CreatedAt.Before(since) {
			match = append(match, c)
		}
	}
	lastPage := max(1, (len(match)+perPage-1)/perPage)
	start := min((page-1)*perPage, len(match))
	end := min(start+perPage, len(match))
	out := []any{}
	for _, c := range match[start:end] {
		out = append(out, s.commentJSONLocked(rp, is, c))
	}
	s.mu.Unlock()
	if lastPage > 1 {
		w.Header().Set("Link", s.linkHeader(r, page, lastPage))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) commentLocked(is *issue, login, body string) Comment {
	now := s.nowLocked()
	s.nextID++
	c := Comment{ID: s.nextID, User: login, Body: body, CreatedAt: now}
	is.comments = append(is.comments, c)
	is.updatedAt = now
	return c
}

func (s *Server) addLabels(w http.ResponseWriter, r *http.Request, rp *repo, is *issue) {
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON", "")
		return
	}
	// Adding takes {"labels": [...]} only: GitHub's API description lists no other form (the
	// bare array that older clients send is not in it). Setting them also takes a bare array.
	var names []string
	var obj struct {
		Labels []json.RawMessage `json:"labels"`
	}
	if r.Method == http.MethodPost && json.Unmarshal(data, &names) == nil {
		writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n"+string(data)+" is not an object.",
			"https://docs.github.com/rest/issues/labels#add-labels-to-an-issue")
		return
	}
	if err := json.Unmarshal(data, &names); err != nil {
		if err := json.Unmarshal(data, &obj); err != nil {
			writeError(w, http.StatusBadRequest, "Problems parsing JSON", "")
			return
		}
		for _, raw := range obj.Labels {
			var n string
			if json.Unmarshal(raw, &n) != nil {
				var o struct {
					Name string `json:"name"`
				}
				if json.Unmarshal(raw, &o) != nil {
					writeError(w, http.StatusBadRequest, "Problems parsing JSON", "")
					return
				}
				n = o.Name
			}
			names = append(names, n)
		}
	}
	s.mu.Lock()
	if r.Method == http.MethodPut {
		is.labels = nil
	}
	for _, n := range names {
		if strings.TrimSpace(n) == "" {
			continue
		}
		s.ensureLabelLocked(rp, n)
		if indexFold(is.labels, n) < 0 {
			is.labels = append(is.labels, rp.labels[strings.ToLower(n)].name)
		}
	}
	is.updatedAt = s.nowLocked()
	out := s.labelsJSONLocked(rp, is.labels)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listIssues(w http.ResponseWriter, r *http.Request, login string, rp *repo) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var wantLabels []string
	if l := q.Get("labels"); l != "" {
		for _, p := range strings.Split(l, ",") {
			if p = strings.TrimSpace(p); p != "" {
				wantLabels = append(wantLabels, p)
			}
		}
	}
	creator := q.Get("creator")
	assignee := q.Get("assignee")
	sortBy := q.Get("sort")
	if sortBy == "" {
		sortBy = "created"
	}
	desc := q.Get("direction") != "asc"
	since, ok := sinceParam(w, q, "Issue")
	if !ok {
		return
	}
	perPage, page := paging(q)

	s.mu.Lock()
	var match []*issue
	for _, is := range rp.issues {
		if is.deleted {
			continue
		}
		if state != "all" && is.state != state {
			continue
		}
		if creator != "" && !strings.EqualFold(is.user, creator) {
			continue
		}
		if assignee == "none" && len(is.assignees) > 0 || assignee != "" && assignee != "none" && assignee != "*" && indexFold(is.assignees, assignee) < 0 {
			continue
		}
		ok := true
		for _, l := range wantLabels {
			if indexFold(is.labels, l) < 0 {
				ok = false
			}
		}
		if !ok || (!since.IsZero() && is.updatedAt.Before(since)) {
			continue
		}
		match = append(match, is)
	}
	key := func(is *issue) time.Time {
		if sortBy == "updated" {
			return is.updatedAt
		}
		return is.createdAt
	}
	sort.SliceStable(match, func(i, j int) bool {
		a, b := match[i], match[j]
		var less bool
		switch {
		case sortBy == "comments" && len(a.comments) != len(b.comments):
			less = len(a.comments) < len(b.comments)
		case !key(a).Equal(key(b)):
			less = key(a).Before(key(b))
		default:
			less = a.number < b.number
		}
		if desc {
			return !less
		}
		return less
	})
	lastPage := max(1, (len(match)+perPage-1)/perPage)
	start := min((page-1)*perPage, len(match))
	end := min(start+perPage, len(match))
	out := []any{}
	for _, is := range match[start:end] {
		out = append(out, s.issueJSONLocked(rp, is))
	}
	s.mu.Unlock()

	if lastPage > 1 {
		w.Header().Set("Link", s.linkHeader(r, page, lastPage))
	}
	data, _ := json.Marshal(out)
	sum := sha256.Sum256(data)
	etag := `W/"` + hex.EncodeToString(sum[:16]) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "private, max-age=60, s-maxage=60")
	w.Header().Set("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		s.refundRate(w, login)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	strip := func(s string) string { return strings.TrimPrefix(strings.TrimSpace(s), "W/") }
	for _, h := range strings.Split(header, ",") {
		if strings.TrimSpace(h) == "*" || strip(h) == strip(etag) {
			return true
		}
	}
	return false
}

// linkHeader builds GitHub's pagination Link header for a list call.
func (s *Server) linkHeader(r *http.Request, page, last int) string {
	at := func(p int) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(p))
		return "<" + s.srv.URL + r.URL.Path + "?" + q.Encode() + ">"
	}
	var parts []string
	if page > 1 {
		parts = append(parts, at(page-1)+`; rel="prev"`)
	}
	if page < last {
		parts = append(parts, at(page+1)+`; rel="next"`, at(last)+`; rel="last"`)
	}
	if page > 1 {
		parts = append(parts, at(1)+`; rel="first"`)
	}
	return strings.Join(parts, ", ")
}

// ---- JSON shapes, as in GitHub's answers ----

func (s *Server) apiURL(path string) string {
	return strings.TrimRight(s.URL(), "/") + path
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func nodeID(kind string, id int64) string {
	return kind + "_kw" + strconv.FormatInt(id, 36)
}

func (s *Server) userIDLocked(login string) int64 {
	if id, ok := s.users[login]; ok {
		return id
	}
	s.nextID++
	s.users[login] = s.nextID
	return s.nextID
}

func (s *Server) userJSON(login string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userJSONLocked(login)
}

func (s *Server) userJSONLocked(login string) map[string]any {
	id := s.userIDLocked(login)
	typ := "User"
	if strings.HasSuffix(login, "[bot]") {
		typ = "Bot"
	}
	api := s.apiURL("/users/" + url.PathEscape(login))
	return map[string]any{
		"login":               login,
		"id":                  id,
		"node_id":             nodeID("U", id),
		"avatar_url":          "https://avatars.githubusercontent.com/u/" + strconv.FormatInt(id, 10) + "?v=4",
		"gravatar_id":         "",
		"url":                 api,
		"html_url":            s.opts.HTMLBase + "/" + login,
		"followers_url":       api + "/followers",
		"following_url":       api + "/following{/other_user}",
		"gists_url":           api + "/gists{/gist_id}",
		"starred_url":         api + "/starred{/owner}{/repo}",
		"subscriptions_url":   api + "/subscriptions",
		"organizations_url":   api + "/orgs",
		"repos_url":           api + "/repos",
		"events_url":          api + "/events{/privacy}",
		"received_events_url": api + "/received_events",
		"type":                typ,
		"site_admin":          false,
	}
}

func (s *Server) labelsJSONLocked(rp *repo, names []string) []any {
	out := []any{}
	for _, n := range names {
		l := rp.labels[strings.ToLower(n)]
		out = append(out, map[string]any{
			"id":          l.id,
			"node_id":     nodeID("LA", l.id),
			"url":         s.apiURL("/repos/" + rp.fullName + "/labels/" + url.PathEscape(l.name)),
			"name":        l.name,
			"color":       l.color,
			"default":     false,
			"description": nil,
		})
	}
	return out
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

func (s *Server) issueJSONLocked(rp *repo, is *issue) map[string]any {
	api := s.apiURL("/repos/" + rp.fullName + "/issues/" + strconv.Itoa(is.number))
	kind := "issues"
	if is.pullRequest {
		kind = "pull"
	}
	html := s.opts.HTMLBase + "/" + rp.fullName + "/" + kind + "/" + strconv.Itoa(is.number)
	assignees := []any{}
	for _, a := range is.assignees {
		assignees = append(assignees, s.userJSONLocked(a))
	}
	var assignee any
	if len(assignees) > 0 {
		assignee = assignees[0]
	}
	var body any
	if is.body != "" {
		body = is.body
	}
	var reason any
	if is.stateReason != "" {
		reason = is.stateReason
	}
	var closedBy any
	if is.closedBy != "" {
		closedBy = s.userJSONLocked(is.closedBy)
	}
	out := map[string]any{
		"url":                api,
		"repository_url":     s.apiURL("/repos/" + rp.fullName),
		"labels_url":         api + "/labels{/name}",
		"comments_url":       api + "/comments",
		"events_url":         api + "/events",
		"html_url":           html,
		"id":                 is.id,
		"node_id":            nodeID("I", is.id),
		"number":             is.number,
		"title":              is.title,
		"user":               s.userJSONLocked(is.user),
		"labels":             s.labelsJSONLocked(rp, is.labels),
		"state":              is.state,
		"locked":             false,
		"assignee":           assignee,
		"assignees":          assignees,
		"milestone":          nil,
		"comments":           len(is.comments),
		"created_at":         ts(is.createdAt),
		"updated_at":         ts(is.updatedAt),
		"closed_at":          nullTime(is.closedAt),
		"author_association": "MEMBER",
		"active_lock_reason": nil,
		"body":               body,
		"closed_by":          closedBy,
		"reactions": map[string]any{
			"url": api + "/reactions", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0,
			"hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0,
		},
		"timeline_url":             api + "/timeline",
		"performed_via_github_app": nil,
		"state_reason":             reason,
	}
	if is.pullRequest {
		pr := s.apiURL("/repos/" + rp.fullName + "/pulls/" + strconv.Itoa(is.number))
		out["pull_request"] = map[string]any{
			"url": pr, "html_url": html, "diff_url": html + ".diff", "patch_url": html + ".patch", "merged_at": nil,
		}
	}
	return out
}

func (s *Server) commentJSONLocked(rp *repo, is *issue, c Comment) map[string]any {
	api := s.apiURL("/repos/" + rp.fullName + "/issues/comments/" + strconv.FormatInt(c.ID, 10))
	return map[string]any{
		"id":                       c.ID,
		"node_id":                  nodeID("IC", c.ID),
		"url":                      api,
		"html_url":                 s.opts.HTMLBase + "/" + rp.fullName + "/issues/" + strconv.Itoa(is.number) + "#issuecomment-" + strconv.FormatInt(c.ID, 10),
		"issue_url":                s.apiURL("/repos/" + rp.fullName + "/issues/" + strconv.Itoa(is.number)),
		"body":                     c.Body,
		"user":                     s.userJSONLocked(c.User),
		"created_at":               ts(c.CreatedAt),
		"updated_at":               ts(c.CreatedAt),
		"author_association":       "MEMBER",
		"performed_via_github_app": nil,
		"reactions": map[string]any{
			"url": api + "/reactions", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0,
			"hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0,
		},
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, status int, msg, doc string) {
	body := map[string]any{"message": msg}
	if doc != "" {
		body["documentation_url"] = doc
	}
	body["status"] = strconv.Itoa(status)
	writeJSON(w, status, body)
}
