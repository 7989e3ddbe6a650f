package followthrough

import "strings"

// IntakeOutcome says what intake did with a postmortem document.
type IntakeOutcome int

// The outcomes of intake.
const (
	IntakeCreated   IntakeOutcome = iota + 1 // a new postmortem (the API answers 202)
	IntakeUnchanged                          // the same document again: nothing new
	IntakeRevised                            // a new revision of a known postmortem
)

// RoutingError is an intake refused because some new action items have nowhere to go: Fields
// names each, as action_items[i].tracker, with a message that names the item. The API answers
// it with 422.
type RoutingError struct {
	Fields []FieldError
}

// Error names every item that has nowhere to go.
func (e *RoutingError) Error() string {
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = f.Message
	}
	return "some action items have nowhere to go: " + strings.Join(msgs, "; ")
}

// Sources of an item's status change, as its history and item.status_changed name them.
const (
	SourceGitHub    = string(GitHub)
	SourceJira      = string(Jira)
	SourceAPI       = "api"
	SourceReconcile = "reconcile"
	SourceRevision  = "revision"
)

// Why a tracker webhook delivery was acknowledged (200, ignored) without being stored.
const (
	WebhookDuplicate   = "this delivery was received before"
	WebhookNotFollowed = "followthrough does not follow this ticket"
	WebhookNotUsed     = "followthrough does not use this event"
	WebhookUnreadable  = "the delivery cannot be read"
)

// ListFilter selects and pages postmortems, for the API's list and the status page. Limit is
// bounded by the caller; Cursor is a next_cursor from an earlier page.
type ListFilter struct {
	State    string
	Team     string
	Severity string
	Limit    int
	Cursor   string
}
