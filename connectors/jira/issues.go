package jira

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/connectors"
)

// timeFormat is how Jira writes times.
const timeFormat = "2006-01-02T15:04:05.000-0700"

// jiraTime reads Jira's times ("2006-01-02T15:04:05.000-0700", or RFC 3339); null is zero.
type jiraTime struct{ time.Time }

func (jt *jiraTime) UnmarshalJSON(b []byte) error {
	var s string
	if string(b) == "null" {
		return nil
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("jira time: %w", err)
	}
	if s == "" {
		return nil
	}
	for _, layout := range []string{timeFormat, "2006-01-02T15:04:05-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			jt.Time = t
			return nil
		}
	}
	return fmt.Errorf("jira time %q: unknown format", s)
}

type userJSON struct {
	AccountID    string `json:"accountId"`
	Name         string `json:"name"`
	EmailAddress string `json:"emailAddress"`
	TimeZone     string `json:"timeZone"`
}

func (u *userJSON) id(cloud bool) string {
	if u == nil {
		return ""
	}
	if cloud && u.AccountID != "" {
		return u.AccountID
	}
	if u.Name != "" {
		return u.Name
	}
	return u.AccountID
}

type statusJSON struct {
	Name           string `json:"name"`
	StatusCategory struct {
		Key string `json:"key"`
	} `json:"statusCategory"`
}

type issueJSON struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Fields struct {
		Summary     string          `json:"summary"`
		Description json.RawMessage `json:"description"` // a string (v2) or a document (v3)
		Status      *statusJSON     `json:"status"`
		Resolution  *struct {
			Name string `json:"name"`
		} `json:"resolution"`
		Labels   []string  `json:"labels"`
		Assignee *userJSON `json:"assignee"`
		Created  jiraTime  `json:"created"`
		Updated  jiraTime  `json:"updated"`
	} `json:"fields"`
}

// ticketFields are the fields every read asks for.
const ticketFields = "summary,description,status,resolution,labels,assignee,created,updated"

func (is *issueJSON) status(t *Tracker) ft.Status {
	if is.Fields.Status == nil {
		return ""
	}
	res := ""
	if is.Fields.Resolution != nil {
		res = is.Fields.Resolution.Name
	}
	return t.MapStatus(is.Fields.Status.Name, is.Fields.Status.StatusCategory.Key, res)
}

func (is *issueJSON) ticket(t *Tracker) ft.Ticket {
	return ft.Ticket{
		Ref:       t.Ref(is.Key),
		Title:     is.Fields.Summary,
		Status:    is.status(t),
		Labels:    append([]string(nil), is.Fields.Labels...),
		Assignee:  is.Fields.Assignee.id(t.cloud),
		Marker:    findMarker(descriptionText(is.Fields.Description)),
		CreatedAt: is.Fields.Created.Time,
		UpdatedAt: is.Fields.Updated.Time,
	}
}

// descriptionText is the plain text of a description: the string itself (REST v2 and
// webhooks), or the text of an Atlassian document (REST v3), one line per paragraph or break.
func descriptionText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if raw[0] == '"' {
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	}
	var doc adfNode
	if err := json.Unmarshal(raw, &doc); err != nil {
		return ""
	}
	var b strings.Builder
	doc.text(&b)
	return b.String()
}

type adfNode struct {
	Type    string    `json:"type"`
	Text    string    `json:"text"`
	Content []adfNode `json:"content"`
}

func (n *adfNode) text(b *strings.Builder) {
	switch n.Type {
	case "text":
		b.WriteString(n.Text)
	case "hardBreak":
		b.WriteString("\n")
	}
	for i := range n.Content {
		n.Content[i].text(b)
	}
	switch n.Type {
	case "paragraph", "heading", "codeBlock", "listItem", "blockquote":
		b.WriteString("\n")
	}
}

var markerRE = regexp.MustCompile(`followthrough:[A-Za-z0-9._-]+/[A-Za-z0-9._-]+`)

// findMarker returns the last followthrough marker in a description, or "".
func findMarker(text string) string {
	all := markerRE.FindAllString(text, -1)
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1]
}

// PMLabel is the Jira label of a postmortem: "pm-" and the id, lower-cased, every character
// outside a-z0-9-_. replaced by '-'.
func PMLabel(postmortemID string) string {
	var b strings.Builder
	b.WriteString("pm-")
	for _, r := range strings.ToLower(postmortemID) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' || r == '_' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// PostmortemLabel is the label on every ticket followthrough creates.
const PostmortemLabel = "postmortem"

// cleanLabel makes a label Jira accepts: no whitespace.
func cleanLabel(l string) string {
	return strings.Join(strings.Fields(l), "-")
}

var priorityNames = map[string]string{"P0": "Highest", "P1": "High", "P2": "Medium", "P3": "Low"}

// description is the ticket's description: the body, an optional note, and the marker as the
// plain last line.
func description(body, note, marker string) string {
	var parts []string
	if b := strings.TrimRight(body, "\n "); b != "" {
		parts = append(parts, b)
	}
	if note != "" {
		parts = append(parts, note)
	}
	if marker != "" {
		parts = append(parts, marker)
	}
	return strings.Join(parts, "\n\n")
}

// summary makes a title Jira accepts: one line, at most 255 characters.
func summary(title string) string {
	s := strings.Join(strings.Fields(title), " ")
	if utf8.RuneCountInString(s) > 255 {
		r := []rune(s)
		s = string(r[:254]) + "…"
	}
	return s
}

// assignee maps an owner's email to a Jira user: from `people`, else on Cloud by a user search
// (cached). The id is empty when nobody matches; err is only a failed search that may succeed
// later.
func (t *Tracker) assignee(ctx context.Context, op, ticket, email string) (id string, err error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return "", nil
	}
	if id, ok := t.people[email]; ok {
		return id, nil
	}
	if !t.cloud {
		return "", nil
	}
	t.mu.Lock()
	id, ok := t.lookedUp[email]
	t.mu.Unlock()
	if ok {
		return id, nil
	}
	var users []userJSON
	err = t.call(ctx, op, ticket, http.MethodGet, "rest/api/3/user/search?query="+url.QueryEscape(email), nil, &users)
	if err != nil {
		if retry, _ := ft.Retryable(err); retry {
			return "", err
		}
		// No permission to browse users, or similar: the ticket goes unassigned.
		t.log.Warn("jira user search failed; the ticket goes unassigned", slog.String("error", err.Error()))
		return "", nil
	}
	for _, u := range users {
		if strings.EqualFold(u.EmailAddress, email) || len(users) == 1 {
			id = u.AccountID
			break
		}
	}
	t.mu.Lock()
	t.lookedUp[email] = id
	t.mu.Unlock()
	return id, nil
}

func (t *Tracker) userRef(id string) map[string]string {
	if t.cloud {
		return map[string]string{"accountId": id}
	}
	return map[string]string{"name": id}
}

func unmappedNote(owner string) string {
	return fmt.Sprintf("Owner %s has no Jira account that followthrough knows of, so this ticket is unassigned.", owner)
}

// Create implements ft.Tracker with one POST for the issue (and, on Cloud, a user search the
// first time an owner missing from `people` is met). The ticket is built from what was sent
// and what Jira's answer holds (its key), not read back: a new issue is in its workflow's
// initial status, which followthrough takes as open, and its times are Jira's to tell later
// (a webhook, reconciliation). The remote link to the postmortem is the caller's next call
// (LinkPostmortem). A failure before the POST is a refusal: no issue was made.
func (t *Tracker) Create(ctx context.Context, nt ft.NewTicket) (ft.Ticket, error) {
	ctx = connectors.WithOp(ctx, "create")
	// Routing completes targets; one built elsewhere gets the same defaults.
	target := ft.Target{Kind: ft.Jira, Project: nt.Target.Project, IssueType: nt.Target.IssueType}.Complete()
	project, issueType := target.Project, target.IssueType
	if project == "" {
		return ft.Ticket{}, &ft.TrackerError{Tracker: ft.Jira, Op: "create", Outcome: ft.OutcomeRefused,
			Message: "creating a ticket in Jira: the target has no project"}
	}
	account, err := t.assignee(ctx, "create", project, nt.Owner)
	if err != nil {
		return ft.Ticket{}, notSent(err)
	}
	note := ""
	if account == "" && nt.Owner != "" {
		note = unmappedNote(nt.Owner)
	}
	labels := []string{PostmortemLabel}
	if nt.PostmortemID != "" {
		labels = append(labels, PMLabel(nt.PostmortemID))
	}
	for _, l := range nt.Labels {
		if l = cleanLabel(l); l != "" && !slices.Contains(labels, l) {
			labels = append(labels, l)
		}
	}
	fields := map[string]any{
		"project":     map[string]string{"key": project},
		"issuetype":   map[string]string{"name": issueType},
		"summary":     summary(nt.Title),
		"description": description(ft.TicketBody(nt.Body, nt.Text), note, nt.Marker),
		"labels":      labels,
	}
	prio := nt.Priority
	if prio == "" {
		prio = ft.DefaultPriority
	}
	if name, ok := priorityNames[prio]; ok {
		fields["priority"] = map[string]string{"name": name}
	}
	if nt.Due != "" {
		fields["duedate"] = nt.Due
	}
	if account != "" {
		fields["assignee"] = t.userRef(account)
	}
	var created struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	if err := t.call(ctx, "create", project, http.MethodPost, "rest/api/2/issue", map[string]any{"fields": fields}, &created); err != nil {
		return ft.Ticket{}, err
	}
	if created.Key == "" {
		// Jira made an issue (it answered 2xx) but did not say which: the marker finds it.
		return ft.Ticket{}, &ft.TrackerError{Tracker: ft.Jira, Op: "create", Ticket: project, Retryable: true,
			Message: "creating a ticket in Jira project " + project + ": Jira's answer names no issue key"}
	}
	return ft.Ticket{Ref: t.Ref(created.Key), Title: summary(nt.Title), Status: ft.StatusOpen,
		Labels: labels, Assignee: account, Marker: nt.Marker, CreatedAt: t.now()}, nil
}

// notSent marks a failure met before a call was sent (a lookup it needed failed) as a refusal
// of that call: whatever the lookup's outcome, the call itself did nothing.
func notSent(err error) error {
	var te *ft.TrackerError
	if !errors.As(err, &te) {
		return err
	}
	c := *te
	c.Outcome = ft.OutcomeRefused
	return &c
}

// LinkPostmortem implements ft.Tracker: a remote link to the postmortem. Its globalId makes a
// repeated call update the same link instead of adding another.
func (t *Tracker) LinkPostmortem(ctx context.Context, key string, pm ft.PostmortemLink) error {
	ctx = connectors.WithOp(ctx, "link")
	if pm.URL == "" {
		return nil
	}
	title := pm.Title
	if title == "" {
		title = "Postmortem " + pm.ID
	}
	link := map[string]any{
		"globalId": "followthrough-postmortem:" + pm.URL,
		"object":   map[string]string{"url": pm.URL, "title": title},
	}
	return t.call(ctx, "link", key, http.MethodPost, "rest/api/2/issue/"+url.PathEscape(key)+"/remotelink", link, nil)
}

func (t *Tracker) getIssue(ctx context.Context, op, key string) (*issueJSON, error) {
	var is issueJSON
	err := t.call(ctx, op, key, http.MethodGet, "rest/api/2/issue/"+url.PathEscape(key)+"?fields="+ticketFields, nil, &is)
	if err != nil {
		return nil, err
	}
	return &is, nil
}

// Get implements ft.Tracker. A deleted or unknown ticket is an error wrapping
// ft.ErrTicketNotFound.
func (t *Tracker) Get(ctx context.Context, key string) (ft.Ticket, error) {
	ctx = connectors.WithOp(ctx, "get")
	is, err := t.getIssue(ctx, "get", key)
	if err != nil {
		return ft.Ticket{}, err
	}
	return is.ticket(t), nil
}

// Update implements ft.Tracker. A new body keeps the ticket's marker as its last line; an
// owner nobody maps to unassigns the ticket (with a note when the body changes too).
func (t *Tracker) Update(ctx context.Context, key string, u ft.TicketUpdate) (ft.Ticket, error) {
	ctx = connectors.WithOp(ctx, "update")
	fields := map[string]any{}
	if u.Title != "" {
		fields["summary"] = summary(u.Title)
	}
	note := ""
	if u.Owner != "" {
		account, err := t.assignee(ctx, "update", key, u.Owner)
		if err != nil {
			return ft.Ticket{}, err
		}
		if account == "" {
			fields["assignee"] = nil
			note = unmappedNote(u.Owner)
		} else {
			fields["assignee"] = t.userRef(account)
		}
	}
	if u.Body != "" || u.Text != nil {
		marker := u.Marker
		if marker == "" {
			is, err := t.getIssue(ctx, "update", key)
			if err != nil {
				return ft.Ticket{}, err
			}
			marker = findMarker(descriptionText(is.Fields.Description))
		}
		fields["description"] = description(ft.TicketBody(u.Body, u.Text), note, marker)
	}
	switch {
	case u.ClearDue:
		fields["duedate"] = nil
	case u.Due != "":
		fields["duedate"] = u.Due
	}
	if len(fields) > 0 {
		if err := t.call(ctx, "update", key, http.MethodPut, "rest/api/2/issue/"+url.PathEscape(key), map[string]any{"fields": fields}, nil); err != nil {
			return ft.Ticket{}, err
		}
	}
	is, err := t.getIssue(ctx, "update", key)
	if err != nil {
		return ft.Ticket{}, err
	}
	return is.ticket(t), nil
}

// Comment implements ft.Tracker: it lists the issue's comments newest first, back to since
// (all of them when since is zero), and, unless one by Self created at or after since already
// ends with the line id, posts body with id as its last line. A first comment costs GET and
// POST (and GET myself once per process, for Self); a retry costs a GET per 100 comments made
// since since.
func (t *Tracker) Comment(ctx context.Context, key, id, body string, since time.Time) error {
	ctx = connectors.WithOp(ctx, "comment")
	if !ft.ValidCommentID(id) {
		return &ft.TrackerError{Tracker: ft.Jira, Op: "comment", Ticket: key,
			Message: fmt.Sprintf("comment id %q is empty or not one word", id)}
	}
	self, err := t.Self(ctx)
	if err != nil {
		return err
	}
	found, err := t.hasComment(ctx, key, self, id, since)
	if err != nil || found {
		if found {
			t.log.Info("comment already on the ticket, not posted again", slog.String("ticket", key), slog.String("comment_id", id))
		}
		return err
	}
	return t.call(ctx, "comment", key, http.MethodPost, "rest/api/2/issue/"+url.PathEscape(key)+"/comment",
		map[string]string{"body": withCommentID(body, id)}, nil)
}

// commentPages bounds how many pages Comment reads looking for a comment it may have posted
// already. More comments than that since since is unheard of; Comment then fails, retryably,
// rather than post a second copy.
const commentPages = 50

// commentPageSize is the page size Comment asks for; Jira may serve fewer.
const commentPageSize = 100

// commentsJSON is a page of GET /rest/api/2/issue/{key}/comment.
type commentsJSON struct {
	StartAt    int `json:"startAt"`
	MaxResults int `json:"maxResults"`
	Total      int `json:"total"`
	Comments   []struct {
		ID      string          `json:"id"`
		Author  *userJSON       `json:"author"`
		Body    json.RawMessage `json:"body"`
		Created jiraTime        `json:"created"`
	} `json:"comments"`
}

// hasComment reports whether a comment by self carrying id, created at or after since, is on
// the issue. It pages with orderBy=-created (Cloud and Data Center both take it), newest
// first, and stops at the first comment created before since: the rest are older still. A
// Jira that ignores orderBy answers oldest first; hasComment notices a comment newer than the
// one before it and then reads every page, the bound still applying to what it matches.
// Jira's timestamps are in milliseconds, so since is compared at that precision.
func (t *Tracker) hasComment(ctx context.Context, key, self, id string, since time.Time) (bool, error) {
	since = since.Truncate(time.Millisecond)
	path := "rest/api/2/issue/" + url.PathEscape(key) + "/comment"
	newestFirst := true
	var last time.Time // created of the last comment read
	for read, startAt := 0, 0; ; read++ {
		if read == commentPages {
			return false, &ft.TrackerError{Tracker: ft.Jira, Op: "comment", Ticket: key, Retryable: true,
				Message: fmt.Sprintf("more than %d comments since %s: cannot tell whether this comment was posted already", startAt, since.UTC().Format(time.RFC3339))}
		}
		var page commentsJSON
		q := url.Values{"startAt": {strconv.Itoa(startAt)}, "maxResults": {strconv.Itoa(commentPageSize)}, "orderBy": {"-created"}}
		if err := t.call(ctx, "comment", key, http.MethodGet, path+"?"+q.Encode(), nil, &page); err != nil {
			return false, err
		}
		older := false // a comment created before since was seen
		for _, c := range page.Comments {
			if !last.IsZero() && c.Created.After(last) {
				newestFirst = false
			}
			last = c.Created.Time
			if c.Created.Before(since) {
				older = true
				continue
			}
			if c.Author.id(t.cloud) == self && commentIDOf(descriptionText(c.Body)) == id {
				return true, nil
			}
		}
		startAt += len(page.Comments)
		if len(page.Comments) == 0 || startAt >= page.Total || (older && newestFirst) {
			return false, nil
		}
	}
}

// withCommentID puts a comment's id on its last line, as a description carries the marker.
func withCommentID(body, id string) string {
	if b := strings.TrimRight(body, "\n "); b != "" {
		return b + "\n\n" + id
	}
	return id
}

// commentIDOf is the last line of a comment's text, where Comment puts its id.
func commentIDOf(text string) string {
	text = strings.TrimRight(text, " \t\r\n")
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		text = text[i+1:]
	}
	return strings.TrimSpace(text)
}

// Adopt implements ft.Tracker with at most one edit: the labels `postmortem` and
// `pm-<postmortem id>` that the issue lacks are added, and, when it has no assignee, the
// owner's account is set. The summary and description are not sent. An owner nobody maps to
// a Jira user leaves it unassigned.
func (t *Tracker) Adopt(ctx context.Context, tk ft.Ticket, a ft.Adoption) error {
	ctx = connectors.WithOp(ctx, "adopt")
	key := tk.Ref.Key
	body := map[string]any{}
	var adds []map[string]string
	for _, l := range []string{PostmortemLabel, PMLabel(a.PostmortemID)} {
		if !slices.Contains(tk.Labels, l) {
			adds = append(adds, map[string]string{"add": l})
		}
	}
	if len(adds) > 0 {
		body["update"] = map[string]any{"labels": adds}
	}
	if tk.Assignee == "" && a.Owner != "" {
		account, err := t.assignee(ctx, "adopt", key, a.Owner)
		if err != nil {
			return err
		}
		if account != "" {
			body["fields"] = map[string]any{"assignee": t.userRef(account)}
		}
	}
	if len(body) == 0 {
		return nil
	}
	return t.call(ctx, "adopt", key, http.MethodPut, "rest/api/2/issue/"+url.PathEscape(key), body, nil)
}

// AddLabel implements ft.Tracker.
func (t *Tracker) AddLabel(ctx context.Context, key, label string) error {
	ctx = connectors.WithOp(ctx, "label")
	return t.label(ctx, key, "add", label)
}

// RemoveLabel implements ft.Tracker; removing an absent label is not an error.
func (t *Tracker) RemoveLabel(ctx context.Context, key, label string) error {
	ctx = connectors.WithOp(ctx, "label")
	return t.label(ctx, key, "remove", label)
}

func (t *Tracker) label(ctx context.Context, key, verb, label string) error {
	body := map[string]any{"update": map[string]any{"labels": []map[string]string{{verb: cleanLabel(label)}}}}
	return t.call(ctx, "label", key, http.MethodPut, "rest/api/2/issue/"+url.PathEscape(key), body, nil)
}

// Self implements ft.Tracker: the accountId (Cloud) or username (Data Center) of the Jira user
// followthrough acts as, with the user's time zone. It is read once per process (GET myself)
// and kept (KnownSelf tells it from then on): concurrent first callers share that one call,
// and a failed read is tried again by the next caller. The credentials are read once at
// start, so the identity cannot change under a running process: a new API token or PAT of the
// same user is the same user, and credentials of another user need a restart, which reads it
// again.
func (t *Tracker) Self(ctx context.Context) (string, error) {
	ctx = connectors.WithOp(ctx, "self")
	id, _, err := t.myself(ctx)
	return id, err
}

func (t *Tracker) myself(ctx context.Context) (string, *time.Location, error) {
	t.selfMu.Lock()
	defer t.selfMu.Unlock()
	if id, loc := t.selfAndZone(); id != "" {
		return id, loc, nil
	}
	var me userJSON
	if err := t.call(ctx, "self", "", http.MethodGet, "rest/api/2/myself", nil, &me); err != nil {
		return "", nil, err
	}
	id := me.id(t.cloud)
	if id == "" {
		return "", nil, &ft.TrackerError{Tracker: ft.Jira, Op: "self", Message: "Jira's answer for the current user has neither accountId nor name"}
	}
	loc := time.UTC
	if me.TimeZone != "" {
		if l, err := time.LoadLocation(me.TimeZone); err == nil {
			loc = l
		} else {
			t.log.Warn("jira user time zone unknown, using UTC", slog.String("time_zone", me.TimeZone))
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.self, t.selfTZ = id, loc
	return id, loc, nil
}

// selfAndZone is Self and its time zone once read, else "". It takes mu, not selfMu, so that
// it does not wait behind a read in flight.
func (t *Tracker) selfAndZone() (string, *time.Location) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.self, t.selfTZ
}

// KnownSelf implements ft.SelfKnower: Self once read. It never waits for a Self in flight.
func (t *Tracker) KnownSelf() (string, bool) {
	id, _ := t.selfAndZone()
	return id, id != ""
}
