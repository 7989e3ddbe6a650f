package web

import (
	"net/http"
	"strings"
	"testing"

	ft "github.com/followthrough/followthrough"
)

// jiraOnlyConfig has no GitHub and a default route.
const jiraOnlyConfig = `
database: unused.db
intake:
  tokens: [` + testToken + `]
jira:
  url: https://acme.atlassian.net
  email: bot@acme.com
  api_token: jira-test
routes:
  - to: {kind: jira, project: OPS}
`

// TestIntakeOfExistingTickets: an item naming an existing ticket needs no route (the ticket
// says where it is), and one naming a ticket of a tracker that is not configured, or a
// reference that names no ticket, is a 422 on its ticket field that names the item.
func TestIntakeOfExistingTickets(t *testing.T) {
	for _, tt := range []struct {
		name    string
		config  string
		ticket  string // AI-3's ticket
		status  int
		message []string // parts of the field's message
		target  ft.Target
	}{
		{"Jira key with only GitHub configured", githubOnlyConfig, "PAY-12", http.StatusUnprocessableEntity,
			[]string{`"AI-3"`, "PAY-12", "jira is not configured"}, ft.Target{}},
		{"GitHub key with only Jira configured", jiraOnlyConfig, "acme/legacy#4", http.StatusUnprocessableEntity,
			[]string{`"AI-3"`, "acme/legacy#4", "github is not configured"}, ft.Target{}},
		{"GitHub URL with only Jira configured", jiraOnlyConfig, "https://github.com/acme/legacy/issues/4", http.StatusUnprocessableEntity,
			[]string{"not a ticket of a configured tracker"}, ft.Target{}},
		{"pull request", testConfig, "https://github.com/acme/legacy/pull/4", http.StatusUnprocessableEntity,
			[]string{"pull request"}, ft.Target{}},
		{"no route needed: GitHub", testConfig, "https://github.com/acme/legacy/issues/4", http.StatusAccepted,
			nil, ft.Target{Kind: ft.GitHub, Repo: "acme/legacy"}},
		{"no route needed: Jira", testConfig, "https://acme.atlassian.net/browse/OPS-7", http.StatusAccepted,
			nil, ft.Target{Kind: ft.Jira, Project: "OPS", IssueType: ft.DefaultIssueType}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.config)
			m := sample(t)
			// No route matches AI-3 in testConfig: only its ticket can place it.
			m["team"], m["severity"] = "search", "SEV3"
			m["action_items"] = items(m)[2:]
			item(m, 0)["ticket"] = tt.ticket
			r := e.post(encode(t, m), nil)
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.status == http.StatusAccepted {
				it := r.postmortem(t).Items[0]
				if it.Target != tt.target || it.Ticket != nil || it.Sync != ft.SyncPending {
					t.Errorf("item = %+v; want target %+v, no ticket until it is linked, sync pending", it, tt.target)
				}
				return
			}
			eb := r.errorBody(t)
			if len(eb.Fields) != 1 || eb.Fields[0].Field != "action_items[0].ticket" {
				t.Fatalf("fields = %+v; want action_items[0].ticket", eb.Fields)
			}
			for _, w := range tt.message {
				if !strings.Contains(eb.Fields[0].Message, w) {
					t.Errorf("message %q lacks %q", eb.Fields[0].Message, w)
				}
			}
		})
	}
}

// TestRevisionNamingATicketOfAnUnconfiguredTracker is refused like a new item's, and stores
// nothing.
func TestRevisionNamingATicketOfAnUnconfiguredTracker(t *testing.T) {
	e := newEnv(t, githubOnlyConfig)
	m := sample(t)
	m["action_items"] = []any{item(m, 0)}
	if r := e.post(encode(t, m), nil); r.status != http.StatusAccepted {
		t.Fatalf("first: %d %s", r.status, r.body)
	}
	item(m, 0)["ticket"] = "PAY-12"
	r := e.post(encode(t, m), nil)
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("revision: %d %s", r.status, r.body)
	}
	if eb := r.errorBody(t); len(eb.Fields) != 1 || eb.Fields[0].Field != "action_items[0].ticket" ||
		!strings.Contains(eb.Fields[0].Message, `"AI-1"`) {
		t.Errorf("fields = %+v", eb.Fields)
	}
	if pm := e.get("/v1/postmortems/PM-2026-042").postmortem(t); pm.Revision != 1 {
		t.Errorf("revision %d stored; want the refused one left out", pm.Revision)
	}
}

// TestIntakeOfItemsFinishedAtSignOff: recorded with their status and sync none, no ticket,
// counted as finished; a postmortem whose items are all finished is completed at once; PATCH
// on such an item is 409.
func TestIntakeOfItemsFinishedAtSignOff(t *testing.T) {
	e := newEnv(t, testConfig)
	m := sample(t)
	item(m, 0)["status"] = "done"
	item(m, 1)["status"] = "wont_do"
	item(m, 2)["status"] = "done"
	r := e.post(encode(t, m), nil)
	if r.status != http.StatusAccepted {
		t.Fatalf("%d %s", r.status, r.body)
	}
	pm := r.postmortem(t)
	if pm.State != ft.StateCompleted || pm.Completion != ft.NewCompletion(3, 3) {
		t.Errorf("postmortem %s, completion %+v; want completed, 3 of 3", pm.State, pm.Completion)
	}
	for i, want := range []ft.Status{ft.StatusDone, ft.StatusWontDo, ft.StatusDone} {
		if it := pm.Items[i]; it.Status != want || it.Sync != ft.SyncNone || it.Ticket != nil {
			t.Errorf("item %s = %+v; want %s, sync none, no ticket", it.ID, it, want)
		}
	}
	if !strings.Contains(string(r.body), `"sync":"none","last_error":null`) || !strings.Contains(string(r.body), `"ticket":null`) {
		t.Errorf("answer lacks sync none and ticket null: %s", r.body)
	}
	p := e.patch("/v1/postmortems/PM-2026-042/items/AI-1", `{"status": "open"}`, nil)
	if p.status != http.StatusConflict {
		t.Fatalf("PATCH: %d %s", p.status, p.body)
	}
	if eb := p.errorBody(t); !strings.Contains(eb.Error, "finished at sign-off") {
		t.Errorf("error = %q", eb.Error)
	}
}

// TestMarkdownRowNamingATicketOfAnUnconfiguredTracker is refused on its line, in the field
// JSON would name.
func TestMarkdownRowNamingATicketOfAnUnconfiguredTracker(t *testing.T) {
	e := newEnv(t, githubOnlyConfig)
	const doc = `---
id: PM-MD-2
title: Search outage
status: finalized
signed_off_by: carol@acme.com
---
## Action Items

| ID | Action Item | Owner | Bug |
|----|-------------|-------|-----|
| AI-1 | Page on error rate | bob@acme.com | PAY-12 |
| AI-2 | Keep the runbook | bob@acme.com | acme/search#88 |
`
	r := e.post([]byte(doc), markdownHeader())
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	want := ft.FieldError{Field: "action_items[0].ticket", Message: `line 11: action item "AI-1": PAY-12 is a jira ticket, and jira is not configured`}
	if eb := r.errorBody(t); len(eb.Fields) != 1 || eb.Fields[0] != want {
		t.Errorf("fields = %+v; want %+v", eb.Fields, want)
	}
}
