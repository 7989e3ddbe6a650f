package sync_test

import (
	"strconv"
	"strings"
	"testing"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/connectors/githubfake"
	"github.com/followthrough/followthrough/internal/pgtest"
	"github.com/followthrough/followthrough/sync"
)

// TestLostStallCommentIsWrittenOnce: the answers to the stall comments are lost (GitHub and
// Jira); the worker retries the jobs and each ticket still gets one comment.
func TestLostStallCommentIsWrittenOnce(t *testing.T) {
	pgtest.ForEach(t, testLostStallCommentIsWrittenOnce)
}

func testLostStallCommentIsWrittenOnce(t *testing.T, db pgtest.Backend) {
	e := newTWEnv(t, db)
	signed := twStart
	doc := &ft.Document{ID: "PM-C", Title: "Outage PM-C", Status: "finalized", SignedOffBy: []string{"carol@acme.com"},
		SignedOffAt: &signed, ActionItems: []ft.ActionItem{
			{ID: "AI-1", Title: "Long overdue", Owner: "bob@acme.com", Priority: "P1", Due: "2026-01-02"},
			{ID: "AI-2", Title: "Also overdue", Owner: "bob@acme.com", Priority: "P1", Due: "2026-01-02"}}}
	targets := []ft.Target{{Kind: ft.GitHub, Repo: twRepo}, {Kind: ft.Jira, Project: twProject}}
	const ghComments = "/repos/" + twRepo + "/issues/1/comments"
	const jiraComments = "/rest/api/2/issue/" + twProject + "-1/comment"
	e.gh.LoseNextResponse("POST", ghComments)
	e.jf.LoseNextResponse("POST", jiraComments)
	if _, err := e.eng.Intake(e.ctx, sync.WithTargets(doc, targets)); err != nil {
		t.Fatal(err)
	}
	e.settle()
	if it := e.item("PM-C", "AI-1"); !it.Stalled || it.Ticket == nil || it.Ticket.Key != twRepo+"#1" {
		t.Fatalf("AI-1 = %+v; want stalled with %s#1", it, twRepo)
	}
	if it := e.item("PM-C", "AI-2"); !it.Stalled || it.Ticket == nil || it.Ticket.Key != twProject+"-1" {
		t.Fatalf("AI-2 = %+v; want stalled with %s-1", it, twProject)
	}
	if pending, failed, err := e.st.JobCounts(e.ctx); err != nil || pending != 0 || failed != 0 {
		t.Fatalf("%d jobs pending, %d failed (%v); want all done", pending, failed, err)
	}
	is, _ := e.gh.Issue(twRepo, 1)
	if len(is.Comments) != 1 || is.Comments[0].User != githubfake.DefaultLogin || !strings.Contains(is.Comments[0].Body, "stalled") {
		t.Errorf("GitHub comments = %+v; want the one stall comment", is.Comments)
	}
	// The lost POST and no other: the retry found it.
	if n := e.gh.Calls("POST", ghComments); n != 1 {
		t.Errorf("%d comment POSTs on GitHub, want 1", n)
	}
	if n := e.gh.Calls("GET", ghComments); n < 2 {
		t.Errorf("%d comment GETs on GitHub; want the retry to have looked", n)
	}
	jis, _ := e.jf.Issue(twProject + "-1")
	if len(jis.Comments) != 1 || !strings.Contains(jis.Comments[0].Body, "stalled") {
		t.Errorf("Jira comments = %+v; want the one stall comment", jis.Comments)
	}
	if n := e.jf.Calls("POST", jiraComments); n != 1 {
		t.Errorf("%d comment POSTs on Jira, want 1", n)
	}
}

// TestLostRemovalCommentIsWrittenOnce: a revision removes an item; the answer to the comment
// on its closed ticket is lost, and the retried job does not write it again.
func TestLostRemovalCommentIsWrittenOnce(t *testing.T) {
	pgtest.ForEach(t, testLostRemovalCommentIsWrittenOnce)
}

func testLostRemovalCommentIsWrittenOnce(t *testing.T, db pgtest.Backend) {
	e := newTWEnv(t, db)
	e.revise("PM-D", [2]string{"AI-1"}, [2]string{"AI-2"})
	e.settle()
	it := e.item("PM-D", "AI-1")
	if it.Ticket == nil {
		t.Fatalf("AI-1 = %+v; want a ticket", it)
	}
	_, num, _ := strings.Cut(it.Ticket.Key, "#")
	path := "/repos/" + twRepo + "/issues/" + num + "/comments"
	e.gh.LoseNextResponse("POST", path)
	e.revise("PM-D", [2]string{"AI-2"})
	e.settle()
	if pending, failed, err := e.st.JobCounts(e.ctx); err != nil || pending != 0 || failed != 0 {
		t.Fatalf("%d jobs pending, %d failed (%v); want all done", pending, failed, err)
	}
	n, _ := strconv.Atoi(num)
	is, _ := e.gh.Issue(twRepo, n)
	if is.State != "closed" || is.StateReason != "not_planned" {
		t.Fatalf("removed item's ticket %s/%s; want closed as not planned", is.State, is.StateReason)
	}
	if len(is.Comments) != 1 || !strings.Contains(is.Comments[0].Body, "removed from postmortem PM-D") {
		t.Errorf("comments = %+v; want the one removal comment", is.Comments)
	}
	if n := e.gh.Calls("POST", path); n != 1 {
		t.Errorf("%d comment POSTs, want 1 (the lost one)", n)
	}
}
