package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	ft "github.com/followthrough/followthrough"
)

// markdownPM is a postmortem as a team keeps it in a repository: the payments route sends its
// items to Jira.
const markdownPM = `---
id: PM-MD-1
title: Checkout outage
status: finalized
team: payments
signed_off_by: carol@acme.com
owner: bob@acme.com
---
# Checkout outage

Some prose about what happened.

## Action Items

| ID | Action Item | Owner | Priority | Due |
|----|-------------|-------|----------|-----|
| AI-1 | Add a circuit breaker | bob@acme.com | P1 | 2026-12-15 |
| AI-2 | Alert on tax latency | | P2 | |
`

func markdownHeader() http.Header {
	h := bearerHeader(testToken)
	h.Set("Content-Type", "text/markdown; charset=utf-8")
	return h
}

// intakeOf is the "intake" an answer reports.
func intakeOf(t *testing.T, r response) string {
	t.Helper()
	var a struct{ Intake string }
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("answer %s: %v", r.body, err)
	}
	return a.Intake
}

// TestMarkdownIntake sends a Markdown postmortem and its revisions: it is accepted as the JSON
// it becomes, edits to prose change nothing, and an edited row is a revision.
func TestMarkdownIntake(t *testing.T) {
	e := newEnv(t, testConfig)
	r := e.post([]byte(markdownPM), markdownHeader())
	if r.status != http.StatusAccepted || intakeOf(t, r) != "accepted" {
		t.Fatalf("first: %d %s", r.status, r.body)
	}
	if loc := r.header.Get("Location"); loc != "/v1/postmortems/PM-MD-1" {
		t.Errorf("Location = %q", loc)
	}
	pm := r.postmortem(t)
	if len(pm.Items) != 2 || pm.Items[0].ID != "AI-1" || pm.Items[0].Priority != "P1" || pm.Items[1].Owner != "bob@acme.com" ||
		pm.Items[1].Target != (ft.Target{Kind: ft.Jira, Project: "PAY", IssueType: "Task"}) {
		t.Fatalf("postmortem = %+v", pm)
	}

	// Prose and white space edited, CRLF line endings: the same postmortem.
	same := strings.Replace(markdownPM, "Some prose about what happened.", "Some   prose,\nrewritten after review.", 1)
	same = strings.Replace(same, "| AI-2 | Alert on tax latency |", "|AI-2|   Alert on tax   latency|", 1)
	same = strings.ReplaceAll(same, "\n", "\r\n")
	r = e.post([]byte(same), markdownHeader())
	if r.status != http.StatusOK || intakeOf(t, r) != "unchanged" || r.postmortem(t).Revision != 1 {
		t.Fatalf("same again: %d %s", r.status, r.body)
	}

	revised := strings.Replace(markdownPM, "Alert on tax latency", "Alert on tax and fee latency", 1)
	r = e.post([]byte(revised), markdownHeader())
	if r.status != http.StatusOK || intakeOf(t, r) != "revised" {
		t.Fatalf("revision: %d %s", r.status, r.body)
	}
	if pm := r.postmortem(t); pm.Revision != 2 || pm.Items[1].Title != "Alert on tax and fee latency" {
		t.Errorf("revision %d, items %+v", pm.Revision, pm.Items)
	}

	// The JSON it became is the same postmortem.
	doc := map[string]any{"id": "PM-MD-1", "title": "Checkout outage", "status": "finalized", "team": "payments",
		"signed_off_by": []string{"carol@acme.com"}, "action_items": []map[string]any{
			{"id": "AI-1", "title": "Add a circuit breaker", "owner": "bob@acme.com", "priority": "P1", "due": "2026-12-15"},
			{"id": "AI-2", "title": "Alert on tax and fee latency", "owner": "bob@acme.com"},
		}}
	r = e.post(encode(t, doc), nil)
	if r.status != http.StatusOK || intakeOf(t, r) != "unchanged" {
		t.Errorf("the same postmortem as JSON: %d %s", r.status, r.body)
	}
}

func TestMarkdownIntakeSigned(t *testing.T) {
	e := newEnv(t, testConfig)
	body := []byte(markdownPM)
	h := signedHeader("msg_md", e.clock.Now(), body)
	h.Set("Content-Type", "text/markdown")
	if r := e.post(body, h); r.status != http.StatusAccepted {
		t.Fatalf("signed Markdown: %d %s", r.status, r.body)
	}
	h.Set("webhook-signature", "v1,"+strings.Repeat("A", 44))
	if r := e.post(body, h); r.status != http.StatusUnauthorized {
		t.Fatalf("badly signed Markdown: %d %s", r.status, r.body)
	}
}

// TestMarkdownIntakeRefusals: every problem in a field named as in JSON, its message starting
// with the line.
func TestMarkdownIntakeRefusals(t *testing.T) {
	e := newEnv(t, testConfig)
	tests := []struct {
		name   string
		body   string
		status int
		fields []ft.FieldError
	}{
		{"cells that do not fit", strings.Replace(strings.Replace(markdownPM, "| P1 |", "| High |", 1), "status: finalized", "status: draft", 1), 422,
			[]ft.FieldError{
				{Field: "status", Message: `line 4: must be "finalized", not "draft": only finalized postmortems are accepted`},
				{Field: "action_items[0].priority", Message: `line 17: must be one of P0, P1, P2, P3, not "High"`},
			}},
		{"no route", strings.Replace(markdownPM, "team: payments", "team: search", 1), 422,
			[]ft.FieldError{
				{Field: "action_items[0].tracker", Message: `line 17: no route for action item "AI-1": give it a tracker, or add a route for team "search", severity "" or its labels`},
				{Field: "action_items[1].tracker", Message: `line 18: no route for action item "AI-2": give it a tracker, or add a route for team "search", severity "" or its labels`},
			}},
		{"no action items", strings.Replace(markdownPM, "## Action Items", "## Next Steps", 1), 422,
			[]ft.FieldError{{Field: "action_items", Message: `line 1: no action-item section: no heading starts with "Action Items", "Action Plan", "Follow-ups", "Followups", "Follow-up Actions", "Corrective Actions" or "Remediation"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.post([]byte(tt.body), markdownHeader())
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			eb := r.errorBody(t)
			if len(eb.Fields) != len(tt.fields) {
				t.Fatalf("fields %+v, want %+v", eb.Fields, tt.fields)
			}
			for i := range tt.fields {
				if eb.Fields[i] != tt.fields[i] {
					t.Errorf("field %d = %+v, want %+v", i, eb.Fields[i], tt.fields[i])
				}
			}
		})
	}

	invalidUTF8 := append([]byte(markdownPM), 0xff)
	if r := e.post(invalidUTF8, markdownHeader()); r.status != http.StatusBadRequest || !strings.Contains(r.errorBody(t).Error, "UTF-8") {
		t.Errorf("invalid UTF-8: %d %s", r.status, r.body)
	}
	for _, ct := range []string{"text/plain", "text/markdown; charset=latin1", "text/x-markdown"} {
		h := markdownHeader()
		h.Set("Content-Type", ct)
		r := e.post([]byte(markdownPM), h)
		if r.status != http.StatusUnsupportedMediaType || !strings.Contains(r.errorBody(t).Error, "Content-Type") {
			t.Errorf("%s: %d %s", ct, r.status, r.body)
		}
	}
	h := markdownHeader()
	h.Set("Content-Type", "text/plain")
	if r := e.post([]byte(markdownPM), h); !strings.Contains(r.errorBody(t).Error, "application/json or text/markdown") {
		t.Errorf("415 does not say what is accepted: %s", r.body)
	}
	// Nothing was accepted.
	if g := e.get("/v1/postmortems/PM-MD-1"); g.status != http.StatusNotFound {
		t.Errorf("a refused document was stored: %d", g.status)
	}
}

// TestMarkdownIntakeTooLarge: Markdown has the API's limits.
func TestMarkdownIntakeTooLarge(t *testing.T) {
	e := newEnv(t, testConfig)
	body := append([]byte(markdownPM), bytes.Repeat([]byte("x"), MaxAPIBody)...)
	h := markdownHeader()
	h.Del("Authorization")
	if r := e.post(body, h); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("%d %s", r.status, r.body)
	}
}
