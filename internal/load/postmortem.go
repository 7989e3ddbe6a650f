package load

import (
	"encoding/json"
	"fmt"
	"time"
)

// JiraTeam is the team of the postmortems whose items bench routes to Jira; the others' go to
// GitHub.
const JiraTeam = "payments"

// Owners are the owners of generated items; bench maps each to a GitHub login and a Jira
// account, so no ticket costs a user lookup.
var Owners = []string{"bob@acme.com", "alice@acme.com", "carol@acme.com"}

// SignOffBase is a sign-off time for a run's postmortems: a day ago, so that even a large run's
// last sign-off is in the past, and recent enough that no item is overdue.
func SignOffBase(now time.Time) time.Time {
	return now.UTC().Add(-24 * time.Hour).Truncate(time.Second)
}

type pmItem struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Owner       string   `json:"owner"`
	Priority    string   `json:"priority"`
	Due         string   `json:"due"`
	Type        string   `json:"type"`
	Labels      []string `json:"labels"`
}

type pmIncident struct {
	ID         string `json:"id"`
	StartedAt  string `json:"started_at"`
	ResolvedAt string `json:"resolved_at"`
}

type pmDocument struct {
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	URL         string     `json:"url"`
	Status      string     `json:"status"`
	Severity    string     `json:"severity"`
	Team        string     `json:"team"`
	Incident    pmIncident `json:"incident"`
	SignedOffBy []string   `json:"signed_off_by"`
	SignedOffAt string     `json:"signed_off_at"`
	ActionItems []pmItem   `json:"action_items"`
}

// PostmortemID is the id of postmortem seq of a run.
func PostmortemID(run string, seq int64) string { return fmt.Sprintf("LOAD-%s-%d", run, seq) }

// Postmortem is the JSON of a finalized, signed-off postmortem with items action items, distinct
// for every (run, seq): even seqs are of team JiraTeam, odd ones of team checkout. Postmortem
// seq is signed off seq/3 seconds after base, so that postmortems share sign-off times three by
// three, as the list's cursor must handle; its items are due 60 days and more after that.
func Postmortem(run string, seq int64, items int, base time.Time) []byte {
	team := "checkout"
	if seq%2 == 0 {
		team = JiraTeam
	}
	signed := base.Add(time.Duration(seq/3) * time.Second)
	started := signed.Add(-50 * time.Hour)
	doc := pmDocument{
		ID:          PostmortemID(run, seq),
		Title:       fmt.Sprintf("Checkout latency incident %d", seq),
		URL:         fmt.Sprintf("https://wiki.example.com/pm/%s/%d", run, seq),
		Status:      "finalized",
		Severity:    fmt.Sprintf("SEV%d", 1+seq%3),
		Team:        team,
		Incident:    pmIncident{ID: fmt.Sprintf("INC-%d", seq), StartedAt: started.Format(time.RFC3339), ResolvedAt: started.Add(150 * time.Minute).Format(time.RFC3339)},
		SignedOffBy: []string{"carol@acme.com"},
		SignedOffAt: signed.Format(time.RFC3339),
		ActionItems: make([]pmItem, items),
	}
	types := []string{"prevent", "mitigate", "process", "other"}
	for i := range doc.ActionItems {
		doc.ActionItems[i] = pmItem{
			ID:          fmt.Sprintf("AI-%d", i+1),
			Title:       fmt.Sprintf("Follow-up %d of incident %d: add an alert on queue depth", i+1, seq),
			Description: "The queue grew for 40 minutes before anyone noticed; page on its depth.",
			Owner:       Owners[(int(seq)+i)%len(Owners)],
			Priority:    fmt.Sprintf("P%d", (int(seq)+i)%4),
			Due:         signed.AddDate(0, 0, 60+i).Format(time.DateOnly),
			Type:        types[i%len(types)],
			Labels:      []string{"reliability"},
		}
	}
	b, _ := json.Marshal(doc) // plain strings and slices always marshal
	return b
}
