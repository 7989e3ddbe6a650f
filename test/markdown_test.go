package test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/followthrough/followthrough/connectors/githubfake"
	"github.com/followthrough/followthrough/connectors/jirafake"
)

// The tests in this file run `followthrough submit` against the real binary serving with the
// stand-ins, as a postmortems repository's CI does after a merge.

// markdownPostmortem is a postmortem as a team keeps it: AI-1 and AI-3 go to GitHub by the
// default route, AI-2 names the Jira project in its row.
const markdownPostmortem = `---
id: PM-MD-E2E
title: Search outage
status: finalized
team: search
signed_off_by: carol@acme.com
---
# Search outage

What happened, in prose that reviewers will edit.

## Action Items

| ID | Action Item | Owner | Priority | Due | Project |
|----|-------------|-------|----------|-----|---------|
| AI-1 | Cache the search index | bob-gh | P1 | 2027-01-10 | |
| AI-2 | Retry payment webhooks | alice@acme.com | P2 | | PAY |
| AI-3 | Write a runbook | @alice-gh | P3 | | |
`

// submit runs `followthrough submit` with the env's URL and token and returns its exit code
// and output.
func (e *trackerEnv) submit(files ...string) (int, string) {
	e.t.Helper()
	cmd := exec.Command(binary, append([]string{"submit", "--url", e.s.base}, files...)...)
	cmd.Env = append(os.Environ(), "FOLLOWTHROUGH_TOKEN="+testToken)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return exitCode(err), out.String()
}

func TestSubmitMarkdownMakesUpdatesAndClosesTickets(t *testing.T) {
	forEachBackend(t, testSubmitMarkdownMakesUpdatesAndClosesTickets)
}

func testSubmitMarkdownMakesUpdatesAndClosesTickets(t *testing.T, b backend) {
	e := newTrackerEnv(t, envOptions{backend: b})
	e.start()
	file := filepath.Join(t.TempDir(), "2026-11-20-search-outage.md")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const pm = "PM-MD-E2E"

	// One ticket per row.
	write(markdownPostmortem)
	if code, out := e.submit(file); code != 0 || out != file+": "+pm+" accepted\n" {
		t.Fatalf("submit: exit %d\n%s", code, out)
	}
	v := e.waitLinked(pm, 20*time.Second)
	keys := map[string]string{}
	for _, it := range v.Items {
		keys[it.ID] = it.Ticket.Key
	}
	gh, jr := e.gh.Issues(defaultRepo), e.jr.Issues(jiraProject)
	if len(v.Items) != 3 || len(gh) != 2 || len(jr) != 1 {
		t.Fatalf("%d items, %d GitHub issues, %d Jira issues; want 3, 2, 1", len(v.Items), len(gh), len(jr))
	}
	ai1, ai2, ai3 := e.ghIssue(keys["AI-1"]), e.jiraIssue(keys["AI-2"]), e.ghIssue(keys["AI-3"])
	if ai1.Title != "Cache the search index" || len(ai1.Assignees) != 1 || ai1.Assignees[0] != "bob-gh" ||
		!strings.Contains(ai1.Body, "2027-01-10") || !htmlMarker(pm, "AI-1").MatchString(ai1.Body) {
		t.Errorf("AI-1's issue: %+v", ai1)
	}
	if ai2.Summary != "Retry payment webhooks" || ai2.Assignee != "acc-alice" {
		t.Errorf("AI-2's Jira issue: %+v", ai2)
	}
	if ai3.Title != "Write a runbook" || len(ai3.Assignees) != 1 || ai3.Assignees[0] != "alice-gh" {
		t.Errorf("AI-3's issue: %+v", ai3)
	}

	// Prose edited in review: the same postmortem, nothing at the trackers.
	e.resetCalls()
	write(strings.Replace(markdownPostmortem, "in prose that reviewers will edit.", "in prose that\nreviewers edited.", 1))
	if code, out := e.submit(file); code != 0 || out != file+": "+pm+" unchanged\n" {
		t.Fatalf("prose edit: exit %d\n%s", code, out)
	}
	expectNoCalls(t, e, "a prose edit")

	// One row's title edited: that ticket is updated and nothing else is touched.
	e.resetCalls()
	edited := strings.Replace(markdownPostmortem, "Cache the search index", "Cache the search index per shard", 1)
	write(edited)
	if code, out := e.submit(file); code != 0 || out != file+": "+pm+" revised\n" {
		t.Fatalf("title edit: exit %d\n%s", code, out)
	}
	eventually(t, 20*time.Second, "AI-1's issue retitled", func() bool {
		return e.ghIssue(keys["AI-1"]).Title == "Cache the search index per shard"
	})
	e.waitLinked(pm, 10*time.Second)
	if n, all := e.callsOn(keys["AI-1"]), len(e.gh.CallLog())+len(e.jr.Requests()); n == 0 || n != all {
		t.Errorf("%d of %d tracker calls were about AI-1's ticket; want all of them:\n%s", n, all, e.describeCalls())
	}
	if e.ghIssue(keys["AI-3"]).Title != "Write a runbook" || e.jiraIssue(keys["AI-2"]).Summary != "Retry payment webhooks" {
		t.Error("another ticket changed")
	}

	// A row removed: its ticket is closed as not planned, with a comment; the item stays, removed.
	e.resetCalls()
	var kept []string
	for _, l := range strings.SplitAfter(edited, "\n") {
		if !strings.HasPrefix(l, "| AI-3 |") {
			kept = append(kept, l)
		}
	}
	write(strings.Join(kept, ""))
	if code, out := e.submit(file); code != 0 || out != file+": "+pm+" revised\n" {
		t.Fatalf("row removed: exit %d\n%s", code, out)
	}
	eventually(t, 20*time.Second, "AI-3's issue closed as not planned with a comment", func() bool {
		is := e.ghIssue(keys["AI-3"])
		return is.State == "closed" && is.StateReason == "not_planned" && len(is.Comments) > 0
	})
	v = e.waitLinked(pm, 10*time.Second)
	if it := v.item(t, "AI-3"); !it.Removed || it.Status != "wont_do" {
		t.Errorf("AI-3 after removal: %+v", it)
	}
	if is := e.ghIssue(keys["AI-1"]); is.State != "open" {
		t.Errorf("AI-1's issue: %+v", is)
	}
	if n := e.callsOn(keys["AI-1"]) + e.callsOn(keys["AI-2"]); n != 0 {
		t.Errorf("%d calls about the tickets of rows that stayed:\n%s", n, e.describeCalls())
	}
}

// TestSubmitMarkdownLinksExistingTickets: rows naming an existing GitHub issue (by key) and an
// existing Jira issue (by URL) have those tickets linked, not created: a label, one comment
// with the marker, titles and descriptions as their authors wrote them. A revision without
// those rows unlinks them with a comment and leaves them open.
func TestSubmitMarkdownLinksExistingTickets(t *testing.T) {
	forEachBackend(t, testSubmitMarkdownLinksExistingTickets)
}

func testSubmitMarkdownLinksExistingTickets(t *testing.T, b backend) {
	e := newTrackerEnv(t, envOptions{backend: b})
	_, err := e.gh.CreateIssue("acme/legacy", githubfake.NewIssue{Title: "Search times out under load", Body: "Seen by on-call twice.", User: "dana"})
	if err != nil {
		t.Fatal(err)
	}
	jr := e.jr.CreateIssue(jirafake.NewIssue{Project: "OPS", Summary: "Rotate the index keys", Description: "Agreed in the ops review."})
	e.start()
	const pm = "PM-MD-LINK"
	doc := `---
id: ` + pm + `
title: Search outage
status: finalized
team: search
signed_off_by: carol@acme.com
---
## Action Items

| ID | Action Item | Owner | Bug |
|----|-------------|-------|-----|
| AI-1 | Fix the search timeouts | bob@acme.com | acme/legacy#1 |
| AI-2 | Rotate the index keys | alice@acme.com | ` + e.jr.URL() + `/browse/` + jr.Key + ` |
| AI-3 | Write a runbook | @alice-gh | |
`
	file := filepath.Join(t.TempDir(), "2026-11-21-search.md")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(doc)
	if code, out := e.submit(file); code != 0 || out != file+": "+pm+" accepted\n" {
		t.Fatalf("submit: exit %d\n%s", code, out)
	}
	v := e.waitLinked(pm, 20*time.Second)
	if k := v.item(t, "AI-1").Ticket; k == nil || k.Key != "acme/legacy#1" {
		t.Errorf("AI-1's ticket = %+v; want acme/legacy#1", k)
	}
	if k := v.item(t, "AI-2").Ticket; k == nil || k.Key != jr.Key || k.URL != e.jr.URL()+"/browse/"+jr.Key {
		t.Errorf("AI-2's ticket = %+v; want %s", k, jr.Key)
	}
	if n := e.gh.Calls("POST", "/repos/acme/legacy/issues") + e.jr.Calls("POST", "/rest/api/2/issue"); n != 0 {
		t.Errorf("%d creates where the existing tickets are; want none:\n%s", n, e.describeCalls())
	}
	if n := e.gh.Calls("POST", "/repos/"+defaultRepo+"/issues"); n != 1 {
		t.Errorf("%d creates in %s; want one, for AI-3", n, defaultRepo)
	}
	botComments := func(comments []string) int {
		n := 0
		for _, c := range comments {
			if strings.Contains(c, "followthrough") {
				n++
			}
		}
		return n
	}
	ghComments := func() []string {
		var out []string
		for _, c := range e.ghIssue("acme/legacy#1").Comments {
			if c.User == githubfake.DefaultLogin {
				out = append(out, c.Body)
			}
		}
		return out
	}
	jiraComments := func() []string {
		var out []string
		for _, c := range e.jiraIssue(jr.Key).Comments {
			out = append(out, c.Body)
		}
		return out
	}
	is := e.ghIssue("acme/legacy#1")
	if is.Title != "Search times out under load" || is.Body != "Seen by on-call twice." || !slices.Contains(is.Labels, "postmortem") ||
		!slices.Equal(is.Assignees, []string{"bob-gh"}) {
		t.Errorf("GitHub issue = %+v; want its words kept, the postmortem label and bob-gh", is)
	}
	if c := ghComments(); len(c) != 1 || !strings.Contains(c[0], marker(pm, "AI-1")) {
		t.Errorf("GitHub comments = %q; want one carrying the marker", c)
	}
	ji := e.jiraIssue(jr.Key)
	if ji.Summary != "Rotate the index keys" || ji.Description != "Agreed in the ops review." ||
		!slices.Contains(ji.Labels, "postmortem") || !slices.Contains(ji.Labels, "pm-pm-md-link") || ji.Assignee != "acc-alice" {
		t.Errorf("Jira issue = %+v; want its words kept, labels postmortem and pm-pm-md-link, acc-alice", ji)
	}
	if c := jiraComments(); len(c) != 1 || !strings.Contains(c[0], marker(pm, "AI-2")) {
		t.Errorf("Jira comments = %q; want one carrying the marker", c)
	}

	// The rows removed: both tickets are unlinked with a comment, neither is closed.
	var kept []string
	for _, l := range strings.SplitAfter(doc, "\n") {
		if !strings.HasPrefix(l, "| AI-1 |") && !strings.HasPrefix(l, "| AI-2 |") {
			kept = append(kept, l)
		}
	}
	e.resetCalls()
	write(strings.Join(kept, ""))
	if code, out := e.submit(file); code != 0 || out != file+": "+pm+" revised\n" {
		t.Fatalf("rows removed: exit %d\n%s", code, out)
	}
	eventually(t, 20*time.Second, "both existing tickets unlinked with a comment", func() bool {
		return botComments(ghComments()) == 2 && botComments(jiraComments()) == 2
	})
	v = e.waitLinked(pm, 10*time.Second)
	for _, id := range []string{"AI-1", "AI-2"} {
		if it := v.item(t, id); !it.Removed || it.Status != "wont_do" {
			t.Errorf("%s after removal: %+v", id, it)
		}
	}
	if is := e.ghIssue("acme/legacy#1"); is.State != "open" || !strings.Contains(ghComments()[1], "no longer follows") {
		t.Errorf("GitHub issue after unlinking: %s, comments %q; want it open, told so", is.State, ghComments())
	}
	if ji := e.jiraIssue(jr.Key); ji.Status != "To Do" || !strings.Contains(jiraComments()[1], "no longer follows") {
		t.Errorf("Jira issue after unlinking: %s, comments %q; want it as it was, told so", ji.Status, jiraComments())
	}
	if n := e.gh.Calls("PATCH", "/repos/acme/legacy/issues/1") + e.jr.Calls("PUT", "/rest/api/2/issue/"+jr.Key) +
		e.jr.Calls("POST", "/rest/api/2/issue/"+jr.Key+"/transitions"); n != 0 {
		t.Errorf("%d edits or status changes of the unlinked tickets; want none:\n%s", n, e.describeCalls())
	}
}

// TestLintAndSubmitFromTheCommandLine checks the binary's exit codes: lint 2 on a problem,
// submit 2 for a file of another kind and for lint problems, 0 for a skipped draft.
func TestLintAndSubmitFromTheCommandLine(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.md")
	bad := filepath.Join(dir, "bad.md")
	draft := filepath.Join(dir, "draft.md")
	for name, content := range map[string]string{
		good:  markdownPostmortem,
		bad:   strings.Replace(markdownPostmortem, "| P1 |", "| High |", 1),
		draft: strings.Replace(markdownPostmortem, "status: finalized", "status: draft", 1),
	} {
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		args []string
		code int
		out  string // a part of the output
	}{
		{[]string{"lint", good}, 0, good + ":1: warning: no configuration"},
		{[]string{"lint", bad}, 2, bad + `:16: action_items[0].priority: must be one of P0, P1, P2, P3, not "High"`},
		{[]string{"lint", "notes.txt"}, 2, "notes.txt: not a postmortem file"},
		{[]string{"submit", "--url", "http://127.0.0.1:1", "--token", "t", draft}, 0, draft + ": PM-MD-E2E skipped: status is draft"},
		{[]string{"submit", "--url", "http://127.0.0.1:1", "--token", "t", bad}, 2, bad + ": PM-MD-E2E not sent: 1 problem"},
		{[]string{"submit", "--dry-run", good}, 0, `{"id":"PM-MD-E2E","title":"Search outage"`},
	}
	for _, tt := range tests {
		out, err := exec.Command(binary, tt.args...).CombinedOutput()
		if code := exitCode(err); code != tt.code || !strings.Contains(string(out), tt.out) {
			t.Errorf("followthrough %s: exit %d, want %d; output lacks %q:\n%s", strings.Join(tt.args, " "), code, tt.code, tt.out, out)
		}
	}
}
