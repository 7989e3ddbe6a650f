package github

import (
	"encoding/json"
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

// issueWebhook is the part of an issues or issue_comment delivery that is read. Decoding the
// whole go-github event builds the repository's and users' dozens of fields on every
// delivery; a repository's full name and the sender's login are all that is used of them.
type issueWebhook struct {
	Action string    `json:"action"`
	Issue  *gh.Issue `json:"issue"`
	Repo   struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	Sender struct {
		Login string `json:"login"`
	} `json:"sender"`
}

func parseWebhook(eventType string, payload []byte) (ev ft.TicketEvent, relevant bool, err error) {
	if eventType != "issues" && eventType != "issue_comment" {
		return ft.TicketEvent{}, false, nil
	}
	var wh issueWebhook
	if err := json.Unmarshal(payload, &wh); err != nil {
		return ft.TicketEvent{}, false, fmt.Errorf("parse github %s webhook: %w", eventType, err)
	}
	action, issue := wh.Action, wh.Issue
	activity := true
	switch eventType {
	case "issues":
		act, ok := issueActions[action]
		if !ok {
			return ft.TicketEvent{}, false, nil
		}
		activity = act
	case "issue_comment":
		if action != "created" {
			return ft.TicketEvent{}, false, nil
		}
	}
	if issue == nil || issue.IsPullRequest() {
		return ft.TicketEvent{}, false, nil
	}
	if wh.Repo.FullName == "" || issue.GetNumber() == 0 {
		return ft.TicketEvent{}, false, fmt.Errorf("parse github %s webhook: no repository or issue number", eventType)
	}
	ev = ft.TicketEvent{
		Ref:       ft.TicketRef{Kind: ft.GitHub, Key: Key(wh.Repo.FullName, issue.GetNumber()), URL: issue.GetHTMLURL()},
		Status:    mapStatus(issue),
		Deleted:   eventType == "issues" && action == "deleted",
		Activity:  activity,
		Actor:     wh.Sender.Login,
		UpdatedAt: issue.GetUpdatedAt().Time,
		Marker:    MarkerOf(issue.GetBody()),
	}
	return ev, true, nil
}
