package github

import (
	"fmt"

	gh "github.com/google/go-github/v60/github"

	ft "github.com/followthrough/followthrough"
)

// issueActions are the issues actions followthrough follows, and whether each is activity by
// people. Opening is not: followthrough opens its tickets itself.
var issueActions = map[string]bool{
	"opened": false, "edited": true, "closed": true, "reopened": true, "assigned": true,
	"unassigned": true, "labeled": true, "unlabeled": true, "deleted": false,
}

// ParseWebhook implements ft.Tracker: it reads one GitHub webhook delivery; eventType is the
// X-GitHub-Event header and payload the raw body (already verified). It handles issues (opened, edited, closed,
// reopened, assigned, unassigned, labeled, unlabeled, deleted) and issue_comment (created).
// Everything else, including ping, other actions and events about pull requests, is not
// relevant. err is set only when a relevant event's body cannot be read.
func (t *Tracker) ParseWebhook(eventType string, payload []byte) (ev ft.TicketEvent, relevant bool, err error) {
	return parseWebhook(eventType, payload)
}

func parseWebhook(eventType string, payload []byte) (ev ft.TicketEvent, relevant bool, err error) {
	if eventType != "issues" && eventType != "issue_comment" {
		return ft.TicketEvent{}, false, nil
	}
	parsed, err := gh.ParseWebHook(eventType, payload)
	if err != nil {
		return ft.TicketEvent{}, false, fmt.Errorf("parse github %s webhook: %w", eventType, err)
	}
	var (
		action   string
		issue    *gh.Issue
		repo     *gh.Repository
		sender   *gh.User
		activity bool
	)
	switch e := parsed.(type) {
	case *gh.IssuesEvent:
		action, issue, repo, sender = e.GetAction(), e.GetIssue(), e.GetRepo(), e.GetSender()
		act, ok := issueActions[action]
		if !ok {
			return ft.TicketEvent{}, false, nil
		}
		activity = act
	case *gh.IssueCommentEvent:
		action, issue, repo, sender = e.GetAction(), e.GetIssue(), e.GetRepo(), e.GetSender()
		if action != "created" {
			return ft.TicketEvent{}, false, nil
		}
		activity = true
	default:
		return ft.TicketEvent{}, false, nil
	}
	if issue == nil || issue.IsPullRequest() {
		return ft.TicketEvent{}, false, nil
	}
	if repo.GetFullName() == "" || issue.GetNumber() == 0 {
		return ft.TicketEvent{}, false, fmt.Errorf("parse github %s webhook: no repository or issue number", eventType)
	}
	ev = ft.TicketEvent{
		Ref:       ft.TicketRef{Kind: ft.GitHub, Key: Key(repo.GetFullName(), issue.GetNumber()), URL: issue.GetHTMLURL()},
		Status:    mapStatus(issue),
		Deleted:   eventType == "issues" && action == "deleted",
		Activity:  activity,
		Actor:     sender.GetLogin(),
		UpdatedAt: issue.GetUpdatedAt().Time,
		Marker:    MarkerOf(issue.GetBody()),
	}
	return ev, true, nil
}
