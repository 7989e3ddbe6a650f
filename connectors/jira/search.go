package jira

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/connectors"
)

// pageSize is how many issues one search page asks for.
const pageSize = 100

// maxPages bounds one search, against a server whose paging never ends.
const maxPages = 1000

// searchWindowOverlap widens ListChanged's window: JQL compares at minute precision in the
// user's time zone, and Jira's clock may differ a little from the updated time we know.
const searchWindowOverlap = 2 * time.Minute

// quoteJQL quotes a JQL string value.
func quoteJQL(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// search runs a JQL query page by page and hands each issue to each until it returns false.
// Cloud uses /rest/api/3/search/jql (nextPageToken, isLast); Data Center /rest/api/2/search
// (startAt, total). go-jira's Issue.Search calls /rest/api/2/search, which Jira Cloud removed.
func (t *Tracker) search(ctx context.Context, op, scope, jql string, each func(*issueJSON) bool) error {
	q := url.Values{}
	q.Set("jql", jql)
	q.Set("fields", ticketFields)
	q.Set("maxResults", strconv.Itoa(pageSize))
	startAt := 0
	seenTokens := map[string]bool{}
	for page := 0; page < maxPages; page++ {
		var res struct {
			Issues        []issueJSON `json:"issues"`
			NextPageToken string      `json:"nextPageToken"`
			IsLast        *bool       `json:"isLast"`
			StartAt       int         `json:"startAt"`
			Total         int         `json:"total"`
		}
		path := "rest/api/2/search"
		if t.cloud {
			path = "rest/api/3/search/jql"
		} else {
			q.Set("startAt", strconv.Itoa(startAt))
		}
		if err := t.call(ctx, op, scope, http.MethodGet, path+"?"+q.Encode(), nil, &res); err != nil {
			return err
		}
		for i := range res.Issues {
			if !each(&res.Issues[i]) {
				return nil
			}
		}
		if t.cloud {
			if (res.IsLast != nil && *res.IsLast) || res.NextPageToken == "" || seenTokens[res.NextPageToken] {
				return nil
			}
			seenTokens[res.NextPageToken] = true
			q.Set("nextPageToken", res.NextPageToken)
			continue
		}
		startAt += len(res.Issues)
		if len(res.Issues) == 0 || startAt >= res.Total {
			return nil
		}
	}
	return &ft.TrackerError{Tracker: ft.Jira, Op: op, Ticket: scope,
		Message: fmt.Sprintf("searching Jira project %s: more than %d pages of results", scope, maxPages)}
}

// FindByMarker implements ft.Tracker: it searches the project for the postmortem's label and
// matches the marker in each description, newest first (an item that moved away and back has
// an older ticket with the same marker; the one a lost create made is the newest). Jira
// Cloud's search lags behind writes, so a ticket created a moment ago may not be found yet;
// callers retry later.
func (t *Tracker) FindByMarker(ctx context.Context, target ft.Target, marker string) (ft.Ticket, bool, error) {
	ctx = connectors.WithOp(ctx, "find")
	rest, ok := strings.CutPrefix(marker, "followthrough:")
	pmID, _, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || pmID == "" || target.Project == "" {
		return ft.Ticket{}, false, &ft.TrackerError{Tracker: ft.Jira, Op: "find", Ticket: target.Project,
			Message: fmt.Sprintf("searching Jira project %q: %q is not a followthrough marker", target.Project, marker)}
	}
	jql := fmt.Sprintf("project = %s AND labels = %s ORDER BY created DESC", quoteJQL(target.Project), quoteJQL(PMLabel(pmID)))
	var found *issueJSON
	err := t.search(ctx, "find", target.Project, jql, func(is *issueJSON) bool {
		if findMarker(descriptionText(is.Fields.Description)) == marker {
			found = is
			return false
		}
		return true
	})
	if err != nil || found == nil {
		return ft.Ticket{}, false, err
	}
	return found.ticket(t), true, nil
}

// ListChanged implements ft.Tracker: the project's postmortem tickets updated at or after
// Since, newest first. The JQL window starts a couple of minutes early, in the Jira user's
// time zone (JQL times have minute precision and no zone); the rest is filtered here, and
// paging stops at the first older ticket.
func (t *Tracker) ListChanged(ctx context.Context, q ft.ChangeQuery) ([]ft.Ticket, error) {
	ctx = connectors.WithOp(ctx, "list")
	project := q.Target.Project
	if project == "" {
		return nil, &ft.TrackerError{Tracker: ft.Jira, Op: "list", Message: "searching Jira: the target has no project"}
	}
	jql := fmt.Sprintf("project = %s AND labels = %s", quoteJQL(project), quoteJQL(PostmortemLabel))
	if !q.Since.IsZero() {
		_, loc, err := t.myself(ctx)
		if err != nil {
			return nil, err
		}
		from := q.Since.Add(-searchWindowOverlap).In(loc).Format("2006/01/02 15:04")
		jql += fmt.Sprintf(" AND updated >= %s", quoteJQL(from))
	}
	jql += " ORDER BY updated DESC"
	var out []ft.Ticket
	err := t.search(ctx, "list", project, jql, func(is *issueJSON) bool {
		if !q.Since.IsZero() && is.Fields.Updated.Before(q.Since) {
			return false
		}
		out = append(out, is.ticket(t))
		return true
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
