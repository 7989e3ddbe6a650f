package sync_test

import (
	"slices"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/internal/pgtest"
	"github.com/followthrough/followthrough/sync"
)

// revisionDoc is a postmortem whose items are given as id → repository of their own (empty:
// routed, to twRepo).
func revisionDoc(pmID string, items ...[2]string) *ft.Document {
	signed := twStart
	d := &ft.Document{ID: pmID, Title: "Outage " + pmID, Status: "finalized", SignedOffBy: []string{"carol@acme.com"},
		SignedOffAt: &signed, ActionItems: []ft.ActionItem{}}
	for _, it := range items {
		ai := ft.ActionItem{ID: it[0], Title: "Do " + it[0], Owner: "bob@acme.com", Priority: "P1"}
		if it[1] != "" {
			ai.Tracker = &ft.Target{Kind: ft.GitHub, Repo: it[1]}
		}
		d.ActionItems = append(d.ActionItems, ai)
	}
	return d
}

func (e *twEnv) revise(pmID string, items ...[2]string) {
	e.t.Helper()
	d := revisionDoc(pmID, items...)
	if _, err := e.eng.Intake(e.ctx, d); err != nil {
		e.t.Fatal(err)
	}
}

// settle moves time past every wait of the worker and runs it, a few times over.
func (e *twEnv) settle() {
	for range 20 {
		e.clock.Advance(30 * time.Second)
		e.run()
	}
}

// openIssues counts the open issues of a repository.
func (e *twEnv) openIssues(repo string) int {
	n := 0
	for _, is := range e.gh.Issues(repo) {
		if is.State == "open" {
			n++
		}
	}
	return n
}

// TestRemovedBeforeItsCreateThenRestoredGetsATicket: an item removed before its ticket was made
// gets none (sync: none), and brought back it gets its ticket.
func TestRemovedBeforeItsCreateThenRestoredGetsATicket(t *testing.T) {
	pgtest.ForEach(t, testRemovedBeforeItsCreateThenRestoredGetsATicket)
}

func testRemovedBeforeItsCreateThenRestoredGetsATicket(t *testing.T, db pgtest.Backend) {
	e := newTWEnv(t, db)
	e.revise("PM-R", [2]string{"AI-1"}, [2]string{"AI-2"})
	e.revise("PM-R", [2]string{"AI-2"}) // AI-1 removed before the worker ran
	e.run()
	// It got no ticket, and shows so rather than one pending for ever.
	if it := e.item("PM-R", "AI-1"); !it.Removed || it.Ticket != nil || it.Sync != ft.SyncNone {
		t.Fatalf("removed item = removed %v, ticket %+v, sync %q; want removed, no ticket, sync none", it.Removed, it.Ticket, it.Sync)
	}
	if n := len(e.gh.Issues(twRepo)); n != 1 {
		t.Fatalf("%d issues, want AI-2's alone", n)
	}
	e.revise("PM-R", [2]string{"AI-1"}, [2]string{"AI-2"})
	e.settle()
	it := e.item("PM-R", "AI-1")
	if it.Ticket == nil || it.Sync != ft.SyncLinked || it.Status != ft.StatusOpen {
		t.Fatalf("restored item = %+v; want an open, linked ticket", it)
	}
	if n := len(e.gh.Issues(twRepo)); n != 2 {
		t.Fatalf("%d issues, want 2", n)
	}
}

func TestLostCreateThenMovedBackLeavesNoOpenStray(t *testing.T) {
	pgtest.ForEach(t, testLostCreateThenMovedBackLeavesNoOpenStray)
}

func testLostCreateThenMovedBackLeavesNoOpenStray(t *testing.T, db pgtest.Backend) {
	e := newTWEnv(t, db)
	const repoA, repoB = "acme/a", "acme/b"
	e.revise("PM-M", [2]string{"AI-1", repoA})
	e.run()
	e.gh.LoseNextResponse("POST", "/repos/"+repoB+"/issues")
	e.revise("PM-M", [2]string{"AI-1", repoB})
	e.run() // made in B, answer lost
	e.revise("PM-M", [2]string{"AI-1", repoA})
	e.settle()
	it := e.item("PM-M", "AI-1")
	if it.Ticket == nil || it.Ticket.Key != repoA+"#1" {
		t.Fatalf("item ticket = %+v; want %s#1", it.Ticket, repoA)
	}
	if open := e.openIssues(repoB); open != 0 || len(e.gh.Issues(repoB)) != 1 {
		t.Fatalf("%s: %d issues, %d open; want the one lost create, closed", repoB, len(e.gh.Issues(repoB)), open)
	}
	if is, _ := e.gh.Issue(repoB, 1); is.StateReason != "not_planned" || len(is.Comments) != 1 {
		t.Fatalf("stray %+v; want closed not_planned with one comment", is)
	}
}

func TestLostCreateThenRemovedIsClosed(t *testing.T) {
	pgtest.ForEach(t, testLostCreateThenRemovedIsClosed)
}

func testLostCreateThenRemovedIsClosed(t *testing.T, db pgtest.Backend) {
	e := newTWEnv(t, db)
	e.gh.LoseNextResponse("POST", "/repos/"+twRepo+"/issues")
	e.revise("PM-L", [2]string{"AI-1"})
	e.run() // made, answer lost
	e.revise("PM-L")
	e.settle()
	issues := e.gh.Issues(twRepo)
	if len(issues) != 1 || issues[0].State != "closed" || issues[0].StateReason != "not_planned" {
		t.Fatalf("issues = %+v; want the one lost create, closed as not planned", issues)
	}
	it := e.item("PM-L", "AI-1")
	if !it.Removed || it.Status != ft.StatusWontDo {
		t.Fatalf("item = %+v; want removed and wont_do", it)
	}
}

func TestTicketMadeAfterItsItemStalledCarriesTheLabel(t *testing.T) {
	pgtest.ForEach(t, testTicketMadeAfterItsItemStalledCarriesTheLabel)
}

func testTicketMadeAfterItsItemStalledCarriesTheLabel(t *testing.T, db pgtest.Backend) {
	e := newTWEnv(t, db)
	signed := twStart
	doc := &ft.Document{ID: "PM-S", Title: "Outage PM-S", Status: "finalized", SignedOffBy: []string{"carol@acme.com"},
		SignedOffAt: &signed, ActionItems: []ft.ActionItem{
			{ID: "AI-1", Title: "Long overdue", Owner: "bob@acme.com", Priority: "P1", Due: "2026-01-02"}}}
	// The create is refused for good: the item is stalled (overdue at intake) with no ticket.
	e.gh.FailNextMatching(1, "POST", "/repos/"+twRepo+"/issues", 422)
	if _, err := e.eng.Intake(e.ctx, sync.WithTargets(doc, []ft.Target{{Kind: ft.GitHub, Repo: twRepo}})); err != nil {
		t.Fatal(err)
	}
	e.settle()
	if it := e.item("PM-S", "AI-1"); it.Sync != ft.SyncFailed || !it.Stalled {
		t.Fatalf("item = %+v; want sync failed and stalled", it)
	}
	if _, err := e.eng.Retry(e.ctx, "PM-S"); err != nil {
		t.Fatal(err)
	}
	e.settle()
	it := e.item("PM-S", "AI-1")
	if it.Ticket == nil {
		t.Fatalf("no ticket after retry: %+v", it)
	}
	is, _ := e.gh.Issue(twRepo, 1)
	if !slices.Contains(is.Labels, "stalled") {
		t.Fatalf("labels = %v; want the stalled label on the late ticket", is.Labels)
	}
}
