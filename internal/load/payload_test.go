package load

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/connectors/github"
	"github.com/followthrough/followthrough/connectors/jira"
)

var allStatuses = []ft.Status{ft.StatusOpen, ft.StatusInProgress, ft.StatusDone, ft.StatusWontDo}

// trackers are the two connectors as the service builds them (they make no call until asked),
// for their webhook parsers.
func trackers(t *testing.T) (gh, jr ft.Tracker) {
	t.Helper()
	gh, err := github.New(&config.GitHub{APIURL: "https://api.github.com/", Token: "ghp_x"}, nil, github.Options{})
	if err != nil {
		t.Fatal(err)
	}
	jr, err = jira.New(&config.Jira{URL: "https://acme.atlassian.net", Deployment: config.JiraCloud, Email: "bot@acme.com",
		APIToken: "x"}, nil, jira.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return gh, jr
}

// The GitHub bodies are read by the GitHub connector's own parser as the event they describe.
func TestGitHubIssuePayloadParses(t *testing.T) {
	gh, _ := trackers(t)
	p, err := NewGitHubPayloads()
	if err != nil {
		t.Fatal(err)
	}
	updated := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, prev := range allStatuses {
		for _, status := range allStatuses {
			e := GitHubIssueEvent{Repo: "acme/postmortem-actions", Number: 4711, Prev: prev, Status: status,
				UpdatedAt: updated, Title: "Add an alert", Body: "Text.\n\n<!-- followthrough:PM-1/AI-2 -->"}
			body, err := p.Issue(e)
			if err != nil {
				t.Fatal(err)
			}
			ev, relevant, err := gh.ParseWebhook(GitHubIssues, body)
			if err != nil || !relevant {
				t.Fatalf("%s→%s (%s): relevant %v, err %v", prev, status, e.Action(), relevant, err)
			}
			if ev.Ref.Key != "acme/postmortem-actions#4711" || ev.Ref.URL != "https://github.com/acme/postmortem-actions/issues/4711" {
				t.Errorf("%s→%s: ticket %+v", prev, status, ev.Ref)
			}
			if ev.Status != status || !ev.UpdatedAt.Equal(updated) || ev.Marker != "followthrough:PM-1/AI-2" || ev.Deleted {
				t.Errorf("%s→%s: got status %s, updated %s, marker %q, deleted %v", prev, status, ev.Status, ev.UpdatedAt, ev.Marker, ev.Deleted)
			}
			if ev.Actor == "" || ev.Actor == "followthrough-bot" {
				t.Errorf("%s→%s: actor %q, want a person", prev, status, ev.Actor)
			}
			var doc struct {
				Action     string `json:"action"`
				Repository struct {
					FullName  string `json:"full_name"`
					IssuesURL string `json:"issues_url"`
				} `json:"repository"`
			}
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Action != e.Action() || doc.Repository.FullName != "acme/postmortem-actions" ||
				!strings.Contains(doc.Repository.IssuesURL, "/repos/acme/postmortem-actions/") {
				t.Errorf("%s→%s: action %q, repository %+v", prev, status, doc.Action, doc.Repository)
			}
		}
	}
}

func TestGitHubActions(t *testing.T) {
	tests := []struct {
		prev, status ft.Status
		want         string
	}{
		{ft.StatusOpen, ft.StatusDone, "closed"},
		{ft.StatusInProgress, ft.StatusWontDo, "closed"},
		{ft.StatusDone, ft.StatusOpen, "reopened"},
		{ft.StatusWontDo, ft.StatusInProgress, "reopened"},
		{ft.StatusOpen, ft.StatusInProgress, "labeled"},
		{ft.StatusInProgress, ft.StatusOpen, "unlabeled"},
		{ft.StatusOpen, ft.StatusOpen, "edited"},
		{ft.StatusDone, ft.StatusWontDo, "edited"},
	}
	for _, tt := range tests {
		if got := (GitHubIssueEvent{Prev: tt.prev, Status: tt.status}).Action(); got != tt.want {
			t.Errorf("%s→%s: action %q, want %q", tt.prev, tt.status, got, tt.want)
		}
	}
}

// The Jira bodies are read by the Jira connector's own parser as the event they describe.
func TestJiraIssueUpdatedPayloadParses(t *testing.T) {
	_, jr := trackers(t)
	p, err := NewJiraPayloads()
	if err != nil {
		t.Fatal(err)
	}
	updated := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, prev := range allStatuses {
		for _, status := range allStatuses {
			body, err := p.IssueUpdated(JiraIssueEvent{Key: "PAY-812", Prev: prev, Status: status, UpdatedAt: updated, Summary: "Add an alert"})
			if err != nil {
				t.Fatal(err)
			}
			ev, relevant, err := jr.ParseWebhook("jira:issue_updated", body)
			if err != nil || !relevant {
				t.Fatalf("%s→%s: relevant %v, err %v", prev, status, relevant, err)
			}
			if ev.Ref.Key != "PAY-812" || ev.Status != status || !ev.UpdatedAt.Equal(updated) || ev.Deleted {
				t.Errorf("%s→%s: got %+v", prev, status, ev)
			}
			if ev.Actor == "" || ev.Actor == "ft-bot-account" || !ev.Activity {
				t.Errorf("%s→%s: actor %q activity %v, want a person's activity", prev, status, ev.Actor, ev.Activity)
			}
		}
	}
}

// Deliveries about unfollowed issues are relevant events (the server has to look them up) about
// repositories that bench never routes to, and weigh 8–12 KB.
func TestUnfollowedPayloads(t *testing.T) {
	gh, _ := trackers(t)
	p, err := NewGitHubPayloads()
	if err != nil {
		t.Fatal(err)
	}
	events := map[string]int{}
	for seq := range int64(200) {
		event, body, err := p.Unfollowed("acme-org", seq, rand.New(rand.NewPCG(uint64(seq), 1)))
		if err != nil {
			t.Fatal(err)
		}
		if len(body) < UnfollowedMinBytes || len(body) > UnfollowedMaxBytes {
			t.Errorf("delivery %d: %d bytes, want %d to %d", seq, len(body), UnfollowedMinBytes, UnfollowedMaxBytes)
		}
		ev, relevant, err := gh.ParseWebhook(event, body)
		if err != nil || !relevant {
			t.Fatalf("delivery %d (%s): relevant %v, err %v", seq, event, relevant, err)
		}
		if !strings.HasPrefix(ev.Ref.Key, "acme-org/service-") || ev.Marker != "" {
			t.Errorf("delivery %d: ticket %s, marker %q", seq, ev.Ref.Key, ev.Marker)
		}
		events[event]++
	}
	if events[GitHubIssues] == 0 || events[GitHubIssueComment] == 0 {
		t.Errorf("events %v, want issues and issue_comment deliveries", events)
	}
}

// Generated postmortems are valid, distinct, and split between the two trackers' teams.
func TestPostmortemIsValid(t *testing.T) {
	teams := map[string]int{}
	base := SignOffBase(time.Now())
	for seq := range int64(6) {
		body := Postmortem("r1", seq, 5, base)
		doc, err := ft.DecodeDocument(body)
		if err != nil {
			t.Fatalf("postmortem %d: %v", seq, err)
		}
		doc.Normalize(ft.TicketSites{})
		if fields := doc.Validate(); len(fields) > 0 {
			t.Fatalf("postmortem %d: %v", seq, fields)
		}
		if doc.ID != PostmortemID("r1", seq) || len(doc.ActionItems) != 5 {
			t.Errorf("postmortem %d: id %q with %d items", seq, doc.ID, len(doc.ActionItems))
		}
		teams[doc.Team]++
	}
	if teams[JiraTeam] != 3 || teams["checkout"] != 3 {
		t.Errorf("teams %v, want 3 %s and 3 checkout", teams, JiraTeam)
	}
}
