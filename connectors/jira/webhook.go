package jira

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	ft "github.com/followthrough/followthrough"
)

// Jira webhook events that followthrough follows.
const (
	EventIssueUpdated   = "jira:issue_updated"
	EventIssueDeleted   = "jira:issue_deleted"
	EventCommentCreated = "comment_created"
)

type webhookJSON struct {
	Timestamp    int64      `json:"timestamp"`
	WebhookEvent string     `json:"webhookEvent"`
	User         *userJSON  `json:"user"`
	Issue        *issueJSON `json:"issue"`
	Comment      *struct {
		Author  *userJSON `json:"author"`
		Created jiraTime  `json:"created"`
		Updated jiraTime  `json:"updated"`
	} `json:"comment"`
	Changelog *struct {
		Items []struct {
			Field string `json:"field"`
		} `json:"items"`
	} `json:"changelog"`
}

// ParseWebhook implements ft.Tracker: it reads a Jira webhook body (Cloud or Data Center) with
// this site's status mapping (jira.statuses) and ticket URLs; event is not needed, the body
// names its own. relevant is false for events followthrough does not follow (issue created,
// comment edited or deleted, and a Data Center comment_created that names no issue: Data
// Center also reports comments as jira:issue_updated). Once Self has been read,
// followthrough's own changes are not Activity.
func (t *Tracker) ParseWebhook(event string, payload []byte) (ev ft.TicketEvent, relevant bool, err error) {
	self, _ := t.KnownSelf()
	return parseWebhook(payload, t.base, t.cfg.Statuses, t.cloud, self)
}

func parseWebhook(payload []byte, base string, statuses map[string]string, cloud bool, self string) (ft.TicketEvent, bool, error) {
	var wh webhookJSON
	if err := json.Unmarshal(payload, &wh); err != nil {
		return ft.TicketEvent{}, false, fmt.Errorf("jira webhook: %w", err)
	}
	if wh.WebhookEvent == "" {
		return ft.TicketEvent{}, false, errors.New("jira webhook: no webhookEvent")
	}
	switch wh.WebhookEvent {
	case EventIssueUpdated, EventIssueDeleted, EventCommentCreated:
	default:
		return ft.TicketEvent{}, false, nil
	}
	if wh.Issue == nil || wh.Issue.Key == "" {
		if wh.WebhookEvent == EventCommentCreated {
			return ft.TicketEvent{}, false, nil
		}
		return ft.TicketEvent{}, false, fmt.Errorf("jira webhook %s: no issue key", wh.WebhookEvent)
	}
	is := wh.Issue
	ev := ft.TicketEvent{
		Ref:       ft.TicketRef{Kind: ft.Jira, Key: is.Key, URL: base + "/browse/" + is.Key},
		UpdatedAt: is.Fields.Updated.Time,
		Marker:    findMarker(descriptionText(is.Fields.Description)),
	}
	if is.Fields.Status != nil {
		res := ""
		if is.Fields.Resolution != nil {
			res = is.Fields.Resolution.Name
		}
		ev.Status = mapStatus(statuses, is.Fields.Status.Name, is.Fields.Status.StatusCategory.Key, res)
	}
	actor := wh.User.id(cloud)
	switch wh.WebhookEvent {
	case EventIssueDeleted:
		ev.Deleted = true
		if wh.Timestamp > 0 {
			// The issue's updated time is from before the deletion.
			ev.UpdatedAt = later(ev.UpdatedAt, time.UnixMilli(wh.Timestamp))
		}
	case EventCommentCreated:
		if wh.Comment != nil {
			actor = wh.Comment.Author.id(cloud)
			ev.UpdatedAt = later(ev.UpdatedAt, later(wh.Comment.Created.Time, wh.Comment.Updated.Time))
		}
		ev.Activity = true
	case EventIssueUpdated:
		if wh.Comment != nil {
			// Data Center's issue_commented.
			if actor == "" {
				actor = wh.Comment.Author.id(cloud)
			}
			ev.UpdatedAt = later(ev.UpdatedAt, later(wh.Comment.Created.Time, wh.Comment.Updated.Time))
			ev.Activity = true
		}
		if wh.Changelog != nil && len(wh.Changelog.Items) > 0 {
			ev.Activity = true
		}
	}
	if ev.UpdatedAt.IsZero() && wh.Timestamp > 0 {
		ev.UpdatedAt = time.UnixMilli(wh.Timestamp)
	}
	ev.Actor = actor
	if self != "" && actor == self {
		ev.Activity = false
	}
	return ev, true, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
