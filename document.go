package followthrough

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
)

// Document is a postmortem as the intake API receives it.
type Document struct {
	ID          string       `json:"id"`
	Title       string       `json:"title"`
	URL         string       `json:"url,omitempty"`
	Status      string       `json:"status"`
	Severity    string       `json:"severity,omitempty"`
	Team        string       `json:"team,omitempty"`
	Incident    *Incident    `json:"incident,omitempty"`
	SignedOffBy []string     `json:"signed_off_by"`
	SignedOffAt *time.Time   `json:"signed_off_at,omitempty"`
	Tracker     *OwnTicket   `json:"tracker,omitempty"`
	ActionItems []ActionItem `json:"action_items"`
}

// Incident is the incident a postmortem is about; followthrough only keeps it.
type Incident struct {
	ID         string     `json:"id,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
}

// OwnTicket is the postmortem's own ticket: GitHub repo + number, or a Jira key.
type OwnTicket struct {
	Kind   TrackerKind `json:"kind"`
	Repo   string      `json:"repo,omitempty"`
	Number int         `json:"number,omitempty"`
	Key    string      `json:"key,omitempty"`
}

// TicketKey is the own ticket's key in the contract's form ("owner/repo#N" or "PROJ-N").
func (o OwnTicket) TicketKey() string {
	if o.Kind == GitHub {
		return o.Repo + "#" + strconv.Itoa(o.Number)
	}
	return o.Key
}

// ActionItem is one action item of a postmortem document.
type ActionItem struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Owner       string   `json:"owner"`
	Priority    string   `json:"priority,omitempty"`
	Due         string   `json:"due,omitempty"` // YYYY-MM-DD
	Type        string   `json:"type,omitempty"`
	Team        string   `json:"team,omitempty"`
	Tracker     *Target  `json:"tracker,omitempty"`
	Labels      []string `json:"labels,omitempty"`
	// Ticket names a ticket that already exists, to be followed instead of creating one: after
	// Normalize, its key ("owner/repo#N" or "PROJ-N") when the reference names a ticket.
	// TicketSites.ParseTicket gives its kind, key and URL.
	Ticket string `json:"ticket,omitempty"`
	// Status is set for an item already finished at sign-off: done or wont_do. Empty: open
	// (Normalize reads "open" and "in_progress" so).
	Status Status `json:"status,omitempty"`
}

// Hash is the SHA-256 of the document's canonical JSON: equal documents (whatever their bytes
// or key order) hash the same, so a redelivery is recognised and anything else is a revision.
func (d *Document) Hash() string {
	_, hash, _ := d.Canonical()
	return hash
}

// Canonical is the document's canonical JSON (struct fields marshal in a fixed order) and its
// SHA-256 in hex, the Hash.
func (d *Document) Canonical() (doc []byte, hash string, err error) {
	doc, err = json.Marshal(d)
	sum := sha256.Sum256(doc)
	return doc, hex.EncodeToString(sum[:]), err
}

// Completion counts finished items.
type Completion struct {
	Done    int `json:"done"`
	Total   int `json:"total"`
	Percent int `json:"percent"`
}

// NewCompletion rounds down, so 100 means every item is finished.
func NewCompletion(done, total int) Completion {
	if total == 0 {
		return Completion{Done: 0, Total: 0, Percent: 100}
	}
	return Completion{Done: done, Total: total, Percent: done * 100 / total}
}

// PostmortemView is a postmortem as the API and the status page show it.
type PostmortemView struct {
	ID            string     `json:"id"`
	Title         string     `json:"title"`
	URL           string     `json:"url,omitempty"`
	Severity      string     `json:"severity,omitempty"`
	Team          string     `json:"team,omitempty"`
	State         State      `json:"state"`
	Completion    Completion `json:"completion"`
	ReopenedCount int        `json:"reopened_count"`
	SignedOffAt   *time.Time `json:"signed_off_at,omitempty"`
	AcceptedAt    time.Time  `json:"accepted_at"`
	Revision      int        `json:"revision"`
	Tracker       *TicketRef `json:"tracker,omitempty"` // its own ticket
	Items         []ItemView `json:"items"`
}

// ItemView is an action item as the API and the status page show it.
type ItemView struct {
	ID            string       `json:"id"`
	Title         string       `json:"title"`
	Description   string       `json:"description,omitempty"`
	Owner         string       `json:"owner"`
	Priority      string       `json:"priority"`
	Due           *string      `json:"due"`
	Labels        []string     `json:"labels,omitempty"`
	Status        Status       `json:"status"`
	Stalled       bool         `json:"stalled"`
	StalledReason *StallReason `json:"stalled_reason"`
	Sync          SyncState    `json:"sync"`
	LastError     *string      `json:"last_error"`
	Removed       bool         `json:"removed,omitempty"`
	Ticket        *TicketRef   `json:"ticket"`
	Target        Target       `json:"target"`
	LastActivity  *time.Time   `json:"last_activity_at,omitempty"`
	CreatedAt     time.Time    `json:"created_at"`
	// Waiting says why an item without its ticket yet is held back, and until when: the
	// tracker's limits (followthrough's own pacing of GitHub writes, or a rate limit the
	// tracker answered with). Absent when nothing holds it back but the queue itself.
	Waiting *Waiting `json:"waiting,omitempty"`
}

// Waiting is why an item's ticket is not being made now, and when its turn comes.
type Waiting struct {
	Reason string    `json:"reason"` // in words, naming the limit
	Until  time.Time `json:"until"`
}

// HistoryEntry is one status change of an item.
type HistoryEntry struct {
	From   Status    `json:"from"`
	To     Status    `json:"to"`
	Source string    `json:"source"` // github, jira, api, reconcile, revision
	Actor  string    `json:"by,omitempty"`
	At     time.Time `json:"at"`
}
