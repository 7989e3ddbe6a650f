// Package followthrough holds the domain of the service: postmortems, their action items, item
// statuses, ticket references, and the Tracker interface that the GitHub and Jira connectors
// implement. It imports nothing of the service's own, so every other package can depend on it.
package followthrough

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Status is an action item's status, the same in every tracker.
type Status string

// The item statuses of the contract.
const (
	StatusOpen       Status = "open"
	StatusInProgress Status = "in_progress"
	StatusDone       Status = "done"
	StatusWontDo     Status = "wont_do"
)

// Valid reports whether s is one of the four item statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusOpen, StatusInProgress, StatusDone, StatusWontDo:
		return true
	}
	return false
}

// Finished reports whether s counts as finished in a postmortem's completion.
func (s Status) Finished() bool { return s == StatusDone || s == StatusWontDo }

// State is a postmortem's state.
type State string

// The postmortem states of the contract.
const (
	StateTracking  State = "tracking"
	StateReopened  State = "reopened"
	StateCompleted State = "completed"
)

// SyncState says whether an item's ticket exists and is in step with it.
type SyncState string

// The sync states of the contract.
const (
	SyncPending SyncState = "pending"
	SyncLinked  SyncState = "linked"
	SyncFailed  SyncState = "failed"
	// SyncNone is an item with no ticket and none to come: finished at sign-off, or removed
	// by a revision before its ticket was made or with its ticket since deleted.
	SyncNone SyncState = "none"
)

// StallReason says why an unfinished item stalled.
type StallReason string

// The stall reasons of the contract; the empty reason means not stalled.
const (
	StallNone     StallReason = ""
	StallOverdue  StallReason = "overdue"
	StallInactive StallReason = "inactive"
)

// Outbound event types, sent to the notify URLs that subscribe to them.
const (
	EventReopened      = "postmortem.reopened"
	EventResumed       = "postmortem.resumed"
	EventCompleted     = "postmortem.completed"
	EventStatusChanged = "item.status_changed"
)

// Events are every outbound event type.
var Events = []string{EventReopened, EventResumed, EventCompleted, EventStatusChanged}

// TrackerKind names a tracker.
type TrackerKind string

// The trackers followthrough writes to.
const (
	GitHub TrackerKind = "github"
	Jira   TrackerKind = "jira"
)

// Priorities, highest first. An item without one is P2.
var Priorities = []string{"P0", "P1", "P2", "P3"}

// DefaultPriority is the priority of an item that names none.
const DefaultPriority = "P2"

// Target says where an item's ticket lives: a GitHub repository or a Jira project.
type Target struct {
	Kind      TrackerKind `json:"kind"`
	Repo      string      `json:"repo,omitempty"`       // GitHub "owner/name"
	Project   string      `json:"project,omitempty"`    // Jira project key
	IssueType string      `json:"issue_type,omitempty"` // Jira issue type, default Task
}

// Scope is the repository or project of a target: the unit that reconciliation lists.
func (t Target) Scope() string {
	if t.Kind == GitHub {
		return t.Repo
	}
	return t.Project
}

// ScopeTarget is the target of a repository ("owner/repo") or project ("PROJ") of a tracker.
func ScopeTarget(kind TrackerKind, scope string) Target {
	if kind == GitHub {
		return Target{Kind: kind, Repo: scope}
	}
	return Target{Kind: kind, Project: scope}
}

// SameScope reports whether two targets are the same repository or project, whatever their
// issue types.
func (t Target) SameScope(o Target) bool { return t.Kind == o.Kind && t.Scope() == o.Scope() }

// TicketRef identifies one ticket in one tracker.
type TicketRef struct {
	Kind TrackerKind `json:"kind"`
	Key  string      `json:"key"` // GitHub "owner/repo#N", Jira "PROJ-N"
	URL  string      `json:"url"`
}

// Scope is the repository ("owner/repo") or project ("PROJ") that the ticket belongs to.
func (r TicketRef) Scope() string {
	if r.Kind == GitHub {
		scope, _, _ := strings.Cut(r.Key, "#")
		return scope
	}
	if i := strings.LastIndex(r.Key, "-"); i > 0 {
		return r.Key[:i]
	}
	return r.Key
}

// Target is the repository or project the ticket is in.
func (r TicketRef) Target() Target { return ScopeTarget(r.Kind, r.Scope()) }

// FoldsCase reports whether the tracker's keys name the same ticket whatever their case:
// GitHub's owner and repository names are case-insensitive, and a webhook carries the
// canonical spelling, which may differ from the configured one.
func (r TicketRef) FoldsCase() bool { return r.Kind == GitHub }

// Ticket is what a tracker says about one ticket.
type Ticket struct {
	Ref       TicketRef
	Title     string
	Status    Status
	Labels    []string
	Assignee  string // the tracker's login or accountId, empty when unassigned
	Marker    string // the followthrough marker found in the body, if any
	CreatedAt time.Time
	UpdatedAt time.Time // the tracker's own updated time
}

// NewTicket is everything a connector needs to open the ticket of one action item.
type NewTicket struct {
	Target   Target
	Marker   string // "followthrough:<postmortem id>/<item id>", written by the connector its own way
	Title    string
	Body     string      // the item's description
	Text     *TicketText // what the ticket says under it; nil: nothing
	Labels   []string
	Owner    string // the owner's email; the connector maps it through `people`
	Priority string // P0..P3
	Due      string // YYYY-MM-DD or empty
	// PostmortemID is the postmortem the item belongs to (Jira labels the issue with it; the
	// link back to the postmortem is its own job, and Text names the postmortem).
	PostmortemID string
}

// TicketText is what a ticket says about its action item under the item's description, in
// followthrough's words: which postmortem it comes from, its severity, the owner, priority
// and due date. Each connector writes it into the ticket's body or description its own way
// (GitHub, which has no due date field, keeps the due date in a line of its own).
type TicketText struct {
	ItemID     string
	Postmortem PostmortemLink // its title, and its link (the document, else its status page)
	Severity   string
	Owner      string
	Priority   string
	Due        string // YYYY-MM-DD or empty
	StatusURL  string // the postmortem's status page, when that is not the link already
}

// String is the text, a fact a line.
func (t TicketText) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Action item %s of postmortem %q", t.ItemID, t.Postmortem.Title)
	if t.Postmortem.URL != "" {
		fmt.Fprintf(&b, ": %s", t.Postmortem.URL)
	}
	b.WriteString("\n")
	if t.Severity != "" {
		fmt.Fprintf(&b, "Severity: %s\n", t.Severity)
	}
	fmt.Fprintf(&b, "Owner: %s\nPriority: %s\n", t.Owner, t.Priority)
	if t.Due != "" {
		fmt.Fprintf(&b, "Due: %s\n", t.Due)
	}
	if t.StatusURL != "" {
		fmt.Fprintf(&b, "Status: %s\n", t.StatusURL)
	}
	return strings.TrimRight(b.String(), "\n")
}

// TicketBody is a ticket's description followed by its text (nil: the description alone).
func TicketBody(description string, t *TicketText) string {
	if t == nil {
		return description
	}
	if description == "" {
		return t.String()
	}
	return description + "\n\n" + t.String()
}

// PostmortemLink is the postmortem a ticket links back to.
type PostmortemLink struct {
	ID    string
	Title string
	URL   string
}

// Adoption is what Tracker.Adopt needs to know: whose postmortem now follows the ticket, and
// the owner (an email; the connector maps it through `people`) it goes to when nobody has it.
type Adoption struct {
	PostmortemID string
	Owner        string
}

// TicketUpdate carries the fields a revision may change. Empty fields are left alone, except
// Due when ClearDue is set; Body and Text together are the ticket's new body (see NewTicket).
type TicketUpdate struct {
	Title    string
	Body     string      // the item's description
	Text     *TicketText // what the ticket says under it; nil: nothing
	Marker   string
	Owner    string
	Due      string
	ClearDue bool
}

// ChangeQuery asks a tracker for the tickets of one repository or project that changed.
type ChangeQuery struct {
	Target Target
	Since  time.Time // the newest tracker updated time already known; zero: everything
}

// Tracker is one issue tracker as followthrough uses it. The GitHub and Jira connectors
// implement it, and everything that differs between trackers (their webhooks, how long their
// answers take to show, how a comment mentions someone, how a ticket's body carries its
// fields) lives behind it; sync/ talks to trackers only through it. Errors are classified once, by the
// connector: see TrackerError.
type Tracker interface {
	Kind() TrackerKind
	// Self is the identity followthrough acts as in the tracker (GitHub login or "<slug>[bot]",
	// Jira accountId or username), so that its own changes are not taken for people's activity.
	Self(ctx context.Context) (string, error)
	// Create opens a ticket and returns it. It makes exactly one content-creating call for the
	// ticket itself (Jira adds its remote link after).
	Create(ctx context.Context, t NewTicket) (Ticket, error)
	// Get returns the ticket by key. A deleted ticket is ErrTicketNotFound.
	Get(ctx context.Context, key string) (Ticket, error)
	// Update changes title, body, due date or assignee.
	Update(ctx context.Context, key string, u TicketUpdate) (Ticket, error)
	// SetStatus moves the ticket to the status, as the contract's status table says.
	SetStatus(ctx context.Context, key string, s Status) (Ticket, error)
	// LinkPostmortem links the ticket to the postmortem where the tracker has a place for it
	// (Jira's remote links; GitHub's body already carries the link, so it does nothing there).
	// Linking again is harmless: the same link is updated, not added twice.
	LinkPostmortem(ctx context.Context, key string, pm PostmortemLink) error
	// Comment adds a comment carrying id at most once. id is a stable, unique id of this
	// comment chosen by the caller (e.g. "followthrough-comment:" and its outbox job's id): the
	// same on every retry, since trackers have no idempotency key for comments and a retry
	// after a lost answer must not post it twice. If a comment by Self carrying id is already
	// on the ticket, Comment does nothing; else it posts body with id embedded (GitHub:
	// "<!-- id -->" at the end, invisible; Jira: id as a plain last line, like the ticket
	// marker). It lists the ticket's comments before every post, the first attempt included:
	// it cannot know whether an earlier attempt reached the tracker (a process stopped after
	// sending leaves no trace), and comments are rare, so one read per comment is cheap.
	//
	// since bounds that read by time, however busy the ticket: a comment created before since
	// cannot be ours (the caller passes when the comment was first queued, less a margin for
	// the clocks of the tracker and ours), so only newer ones are read and matched. Zero since:
	// every comment is. When there are too many comments since then to read them all, Comment
	// fails, retryably, rather than risk a second copy. id must pass ValidCommentID.
	Comment(ctx context.Context, key, id, body string, since time.Time) error
	// Adopt makes a ticket that people opened one that followthrough follows for a
	// postmortem, leaving its title and description as they are: it adds the labels
	// followthrough's own tickets carry that t (as Get read it) lacks, and assigns the ticket
	// to the owner only when t has no assignee. Adopting again adds nothing. The link back to
	// the postmortem is LinkPostmortem's, the comment Comment's.
	Adopt(ctx context.Context, t Ticket, a Adoption) error
	// AddLabel and RemoveLabel change one label; removing an absent label is not an error.
	AddLabel(ctx context.Context, key, label string) error
	RemoveLabel(ctx context.Context, key, label string) error
	// FindByMarker looks for the ticket carrying the marker in the target's repository or
	// project; found is false when there is none. Used after a create whose outcome is unknown.
	FindByMarker(ctx context.Context, target Target, marker string) (t Ticket, found bool, err error)
	// ListChanged returns the tickets carrying the postmortem label in the query's scope that
	// changed at or after Since (newest first), reading no further than needed.
	ListChanged(ctx context.Context, q ChangeQuery) ([]Ticket, error)

	// ParseWebhook reads one of the tracker's webhook deliveries, already verified: event is
	// GitHub's X-GitHub-Event or Jira's webhookEvent, payload the raw body. relevant is false
	// for deliveries followthrough does not follow; err is set only when a relevant delivery
	// cannot be read.
	ParseWebhook(event string, payload []byte) (ev TicketEvent, relevant bool, err error)
	// SettleTime is how long after a call whose answer was lost its effect may still appear (a
	// created ticket, a comment): the tracker may process a request after we stopped waiting,
	// and its search may lag behind. Only an absence that outlasts it is an absence.
	SettleTime() time.Duration
	// SearchLag is how long the tracker's search may miss a new or changed ticket.
	SearchLag() time.Duration
	// Mention is how a comment names an owner (by email) so that the tracker notifies them;
	// the email itself when the owner has no identity there.
	Mention(owner string) string
}

// SelfKnower is a Tracker that can tell its Self without calling the tracker. Both connectors
// implement it: they keep Self once read, and the engine asks them, rather than keeping a copy
// of its own, whether it is known yet when a webhook delivery arrives, where it must not wait.
// A Tracker without it (a test's wrapper that embeds Tracker) is never known: its deliveries
// are all applied by their jobs, which learn Self by calling it.
type SelfKnower interface {
	// KnownSelf is Self and true once Self has read it, else "" and false. It makes no call,
	// and does not wait for a Self call in flight.
	KnownSelf() (string, bool)
}

// ErrTicketNotFound is returned (wrapped) when a ticket does not exist or was deleted.
var ErrTicketNotFound = errors.New("ticket not found")

// TrackerError is a failed tracker call, classified twice: Retryable errors may succeed later
// (network, 5xx, 429, secondary limits), the others are final and Message says why in words;
// and Outcome says whether the call may have done its work anyway.
type TrackerError struct {
	Tracker    TrackerKind
	Op         string // create, get, update, set_status, comment, label, find, list
	Ticket     string // key or target, for the message
	StatusCode int    // 0 for network errors
	Retryable  bool
	RetryAfter time.Duration // the server's Retry-After or rate-limit reset, when it gave one
	// RetryAt is when RetryAfter ends, by the clock that read it: later work (a write of our
	// own) does not move it. Zero when RetryAfter is.
	RetryAt time.Time
	Outcome Outcome
	// Paced is set when the connector itself held the call back to stay under the tracker's
	// limits: nothing was sent (Outcome is OutcomeRefused) and RetryAfter is the call's turn.
	Paced   bool
	Message string
	Err     error
}

// Outcome is what a failed tracker call may have done.
type Outcome int

const (
	// OutcomeUnknown: the call may have done its work. No answer came (a reset, a timeout), or
	// the tracker failed while handling it (5xx): a create may have made the ticket, so the next
	// attempt looks for it by its marker before creating again. It is the zero value, so an
	// error nobody classified is treated with the same care.
	OutcomeUnknown Outcome = iota
	// OutcomeRefused: definitely not done. The tracker answered that it would not do it (any
	// 4xx, a 429 or GitHub's secondary limit among them), or the connector never sent the call
	// (a bad key, its own pacing). A refused create made no ticket, so it is simply sent again.
	OutcomeRefused
)

// Refused reports whether err is a tracker call that definitely did not do its work.
func Refused(err error) bool {
	var te *TrackerError
	return errors.As(err, &te) && te.Outcome == OutcomeRefused
}

// AskedToWait reports whether err is a refusal that names its own time to try again, and
// that time: a rate limit with Retry-After, or a call the connector held back for its turn.
// Such a call is not a failure of the work: it waits until then, without counting an attempt.
// now places an error that gave RetryAfter alone.
func AskedToWait(err error, now time.Time) (until time.Time, ok bool) {
	var te *TrackerError
	if !errors.As(err, &te) || te.Outcome != OutcomeRefused || !te.Retryable || te.RetryAfter <= 0 {
		return time.Time{}, false
	}
	if te.RetryAt.IsZero() {
		return now.Add(te.RetryAfter), true
	}
	return te.RetryAt, true
}

type turnKey struct{}

// WithTurn names the piece of work (an outbox job) that the tracker calls made with ctx belong
// to. A connector that paces its writes keeps a write's turn under this name, so that work it
// held back gets that same turn when it comes back instead of queueing again.
func WithTurn(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, turnKey{}, name)
}

// Turn is the name WithTurn gave ctx, or "".
func Turn(ctx context.Context) string {
	name, _ := ctx.Value(turnKey{}).(string)
	return name
}

func (e *TrackerError) Error() string {
	where := string(e.Tracker) + " " + e.Op
	if e.Ticket != "" {
		where += " " + e.Ticket
	}
	if e.StatusCode != 0 {
		return fmt.Sprintf("%s: %d: %s", where, e.StatusCode, e.Message)
	}
	return fmt.Sprintf("%s: %s", where, e.Message)
}

func (e *TrackerError) Unwrap() error { return e.Err }

// Retryable reports whether err may succeed if tried again, and after how long the server asked
// us to wait (zero when it did not say).
func Retryable(err error) (bool, time.Duration) {
	var te *TrackerError
	if errors.As(err, &te) {
		return te.Retryable, te.RetryAfter
	}
	return false, 0
}

// ValidCommentID reports whether id can be embedded in a comment: not empty, no white space,
// no '<' or '>', no "--" (it goes into an HTML comment on GitHub and on a line of its own on
// Jira).
func ValidCommentID(id string) bool {
	return id != "" && !strings.ContainsAny(id, " \t\r\n<>") && !strings.Contains(id, "--")
}

// Marker is the text that finds an item's ticket again.
func Marker(postmortemID, itemID string) string {
	return "followthrough:" + postmortemID + "/" + itemID
}

// TicketEvent is what a tracker webhook or a reconcile says happened to a ticket.
type TicketEvent struct {
	Ref       TicketRef
	Status    Status // empty when the event does not carry a status
	Deleted   bool
	Activity  bool   // people did something: status change, comment, assignment, edit
	Actor     string // the tracker login or accountId of who acted
	UpdatedAt time.Time
	Marker    string
}
