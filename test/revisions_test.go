package test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRevisionsChangeOnlyWhatChanged sends a postmortem, then revisions of it, and checks that
// each kind of change does what the contract says to exactly the tickets concerned: changed
// items update their ticket, removed items are closed as not planned with a comment, moved
// items close the old ticket with a pointer and get a new one, a returning item reopens its
// ticket, and the same postmortem again changes nothing at all.
func TestRevisionsChangeOnlyWhatChanged(t *testing.T) {
	forEachBackend(t, testRevisionsChangeOnlyWhatChanged)
}

func testRevisionsChangeOnlyWhatChanged(t *testing.T, b backend) {
	e := newTrackerEnv(t, envOptions{backend: b})
	e.start()
	const pm = "PM-REV-1"
	rev1 := newPM(pm, "Search outage",
		aiDoc{ID: "AI-1", Title: "Cache the search index", Description: "The index was rebuilt on every deploy.",
			Owner: "bob@acme.com", Priority: "P1", Due: "2027-01-10"},
		aiDoc{ID: "AI-2", Title: "Page on index lag", Owner: "bob@acme.com", Priority: "P2", Due: "2027-01-20"},
		aiDoc{ID: "AI-3", Title: "Retry payment webhooks", Description: "Webhooks were dropped.", Team: "payments",
			Owner: "bob@acme.com", Priority: "P1", Due: "2027-01-15"},
		aiDoc{ID: "AI-4", Title: "Write a runbook", Owner: "alice@acme.com", Priority: "P3", Due: "2027-02-01"},
		aiDoc{ID: "AI-5", Title: "Refund tooling", Team: "payments", Owner: "alice@acme.com", Priority: "P2", Due: "2027-02-10"},
		aiDoc{ID: "AI-6", Title: "Move the checkout probe", Owner: "bob@acme.com", Priority: "P2", Due: "2027-02-15"},
		aiDoc{ID: "AI-7", Title: "Tax client timeouts", Team: "payments", Owner: "alice@acme.com", Priority: "P1", Due: "2027-01-25"},
	)
	e.post(rev1, http.StatusAccepted)
	v1 := e.waitLinked(pm, 20*time.Second)
	key1 := map[string]string{}
	for _, it := range v1.Items {
		key1[it.ID] = it.Ticket.Key
	}
	if len(e.gh.Issues(defaultRepo)) != 4 || len(e.jr.Issues(jiraProject)) != 3 {
		t.Fatalf("first intake: %d GitHub and %d Jira issues, want 4 and 3", len(e.gh.Issues(defaultRepo)), len(e.jr.Issues(jiraProject)))
	}

	// The same postmortem again, right away: 200 and nothing new.
	e.resetCalls()
	e.post(rev1, http.StatusOK)
	expectNoCalls(t, e, "the same postmortem sent again")

	// Revision 2: AI-1 and AI-3 change, AI-4 and AI-5 go, AI-6 moves to another repository,
	// AI-7 from Jira to GitHub; AI-2 stays as it was.
	e.resetCalls()
	rev2 := rev1.with("AI-1", func(a *aiDoc) {
		a.Title, a.Description, a.Due, a.Owner = "Cache the search index per shard", "Rebuilds took 40 minutes.", "2027-01-31", "alice@acme.com"
	}).with("AI-3", func(a *aiDoc) {
		a.Title, a.Description, a.Due, a.Owner = "Retry payment webhooks with backoff", "Retries need jitter.", "2027-02-28", "alice@acme.com"
	}).with("AI-6", func(a *aiDoc) {
		a.Tracker = &trackerDoc{Kind: "github", Repo: "acme/checkout"}
	}).with("AI-7", func(a *aiDoc) {
		a.Tracker = &trackerDoc{Kind: "github", Repo: "acme/checkout"}
	}).without("AI-4", "AI-5")
	e.post(rev2, http.StatusOK)

	var v2 pmView
	eventually(t, 30*time.Second, "revision 2 applied at the trackers", func() bool {
		v2 = e.get(pm)
		ai6, ai7 := v2.item(t, "AI-6"), v2.item(t, "AI-7")
		if ai6.Ticket == nil || !strings.HasPrefix(ai6.Ticket.Key, "acme/checkout#") ||
			ai7.Ticket == nil || !strings.HasPrefix(ai7.Ticket.Key, "acme/checkout#") {
			return false
		}
		old6, old7 := e.ghIssue(key1["AI-6"]), e.jiraIssue(key1["AI-7"])
		ai4, ai5 := e.ghIssue(key1["AI-4"]), e.jiraIssue(key1["AI-5"])
		return e.ghIssue(key1["AI-1"]).Title == rev2.item("AI-1").Title &&
			e.jiraIssue(key1["AI-3"]).Summary == rev2.item("AI-3").Title &&
			ai4.State == "closed" && len(ai4.Comments) > 0 &&
			ai5.Status == "Won't Do" && len(ai5.Comments) > 0 &&
			old6.State == "closed" && len(old6.Comments) > 0 &&
			old7.Status == "Won't Do" && len(old7.Comments) > 0
	})
	// Let every queued job finish before counting calls.
	e.waitLinked(pm, 10*time.Second)

	t.Run("changed items update their tickets", func(t *testing.T) {
		ai := rev2.item("AI-1")
		is := e.ghIssue(key1["AI-1"])
		for _, part := range []string{ai.Description, "alice@acme.com", "2027-01-31"} {
			if !strings.Contains(is.Body, part) {
				t.Errorf("AI-1 body lacks %q:\n%s", part, is.Body)
			}
		}
		for _, stale := range []string{rev1.item("AI-1").Description, "2027-01-10"} {
			if strings.Contains(is.Body, stale) {
				t.Errorf("AI-1 body still has %q:\n%s", stale, is.Body)
			}
		}
		if !htmlMarker(pm, "AI-1").MatchString(is.Body) {
			t.Errorf("AI-1 body lost its marker:\n%s", is.Body)
		}
		if len(is.Assignees) != 1 || is.Assignees[0] != "alice-gh" || is.State != "open" {
			t.Errorf("AI-1: assignees %v, state %q; want [alice-gh], open", is.Assignees, is.State)
		}

		ai = rev2.item("AI-3")
		j := e.jiraIssue(key1["AI-3"])
		if !strings.Contains(j.Description, ai.Description) || strings.Contains(j.Description, rev1.item("AI-3").Description) {
			t.Errorf("AI-3 description not updated:\n%s", j.Description)
		}
		if lastLine(j.Description) != marker(pm, "AI-3") {
			t.Errorf("AI-3 description's last line is %q, want the marker", lastLine(j.Description))
		}
		if j.DueDate != "2027-02-28" || j.Assignee != "acc-alice" || j.Status != "To Do" {
			t.Errorf("AI-3: duedate %q assignee %q status %q; want 2027-02-28, acc-alice, To Do", j.DueDate, j.Assignee, j.Status)
		}

		for _, id := range []string{"AI-1", "AI-3"} {
			it, want := v2.item(t, id), rev2.item(id)
			if it.Title != want.Title || it.Owner != want.Owner || it.Due != want.Due || it.Status != "open" || it.Ticket.Key != key1[id] {
				t.Errorf("%s in the API: %+v; want %q, %s, due %s, open, still %s", id, it, want.Title, want.Owner, want.Due, key1[id])
			}
		}
	})

	t.Run("removed items are closed as not planned", func(t *testing.T) {
		is := e.ghIssue(key1["AI-4"])
		if is.State != "closed" || is.StateReason != "not_planned" {
			t.Errorf("AI-4: %s/%s, want closed/not_planned", is.State, is.StateReason)
		}
		j := e.jiraIssue(key1["AI-5"])
		if j.Status != "Won't Do" {
			t.Errorf("AI-5: status %q, want Won't Do", j.Status)
		}
		if len(is.Comments) != 1 || len(j.Comments) != 1 {
			t.Errorf("comments on removed tickets: GitHub %d, Jira %d; want one each", len(is.Comments), len(j.Comments))
		} else if !strings.Contains(is.Comments[0].Body, pm) || !strings.Contains(j.Comments[0].Body, pm) {
			t.Errorf("comments on removed tickets do not name the postmortem: %q, %q", is.Comments[0].Body, j.Comments[0].Body)
		}
		for _, id := range []string{"AI-4", "AI-5"} {
			it := v2.item(t, id)
			if !it.Removed || it.Status != "wont_do" || it.Ticket == nil || it.Ticket.Key != key1[id] {
				t.Errorf("%s in the API: removed %v, status %q, ticket %+v; want removed, wont_do, %s", id, it.Removed, it.Status, it.Ticket, key1[id])
			}
		}
	})

	t.Run("moved items close the old ticket with a pointer and get a new one", func(t *testing.T) {
		for _, id := range []string{"AI-6", "AI-7"} {
			it := v2.item(t, id)
			if it.Sync != "linked" || it.Status != "open" {
				t.Errorf("%s: sync %q status %q, want linked, open", id, it.Sync, it.Status)
			}
			nw := e.ghIssue(it.Ticket.Key)
			if nw.Title != rev2.item(id).Title || !htmlMarker(pm, id).MatchString(nw.Body) || nw.State != "open" {
				t.Errorf("%s: new ticket %s is %q (%s), body:\n%s", id, it.Ticket.Key, nw.Title, nw.State, nw.Body)
			}
			var comments []string
			if strings.Contains(key1[id], "#") {
				old := e.ghIssue(key1[id])
				if old.State != "closed" || old.StateReason != "not_planned" {
					t.Errorf("%s: old ticket %s is %s/%s, want closed/not_planned", id, key1[id], old.State, old.StateReason)
				}
				for _, c := range old.Comments {
					comments = append(comments, c.Body)
				}
			} else {
				old := e.jiraIssue(key1[id])
				if old.Status != "Won't Do" {
					t.Errorf("%s: old ticket %s is %q, want Won't Do", id, key1[id], old.Status)
				}
				for _, c := range old.Comments {
					comments = append(comments, c.Body)
				}
			}
			if len(comments) != 1 || !strings.Contains(comments[0], it.Ticket.Key) || !strings.Contains(comments[0], it.Ticket.URL) {
				t.Errorf("%s: comments on the old ticket %q; want one naming %s and %s", id, comments, it.Ticket.Key, it.Ticket.URL)
			}
		}
		if got := len(e.gh.Issues("acme/checkout")); got != 2 {
			t.Errorf("acme/checkout has %d issues, want the 2 moved ones", got)
		}
	})

	t.Run("nothing else", func(t *testing.T) {
		if n := e.callsOn(key1["AI-2"]); n != 0 {
			t.Errorf("%d calls on AI-2's unchanged ticket %s\ncalls:\n%s", n, key1["AI-2"], e.describeCalls())
		}
		if n := e.gh.Calls(http.MethodPost, "/repos/"+defaultRepo+"/issues") + e.jr.Calls(http.MethodPost, "/rest/api/2/issue"); n != 0 {
			t.Errorf("%d creates outside acme/checkout", n)
		}
		if n := e.gh.Calls(http.MethodPost, "/repos/acme/checkout/issues"); n != 2 {
			t.Errorf("%d creates in acme/checkout, want 2", n)
		}
		if len(e.gh.Issues(defaultRepo)) != 4 || len(e.jr.Issues(jiraProject)) != 3 {
			t.Errorf("%d GitHub and %d Jira issues in the old places, want 4 and 3", len(e.gh.Issues(defaultRepo)), len(e.jr.Issues(jiraProject)))
		}
		if is := e.ghIssue(key1["AI-2"]); is.Title != rev1.item("AI-2").Title || is.State != "open" || len(is.Comments) != 0 {
			t.Errorf("AI-2's ticket changed: %+v", is)
		}
	})
	if t.Failed() {
		return
	}

	// Revision 3: AI-4 comes back as it was, AI-5 with a new title; everything else stays.
	v2 = e.get(pm)
	key2 := map[string]string{}
	for _, it := range v2.Items {
		key2[it.ID] = it.Ticket.Key
	}
	e.resetCalls()
	rev3 := rev2
	ai5 := rev1.item("AI-5")
	ai5.Title = "Refund tooling for partial captures"
	rev3.ActionItems = append(slices.Clone(rev3.ActionItems), rev1.item("AI-4"), ai5)
	e.post(rev3, http.StatusOK)
	eventually(t, 20*time.Second, "AI-4's and AI-5's tickets reopened", func() bool {
		v := e.get(pm)
		it4, it5 := v.item(t, "AI-4"), v.item(t, "AI-5")
		j := e.jiraIssue(key1["AI-5"])
		return e.ghIssue(key1["AI-4"]).State == "open" && j.Status == "To Do" && j.Summary == ai5.Title &&
			!it4.Removed && it4.Status == "open" && !it5.Removed && it5.Status == "open"
	})
	e.waitLinked(pm, 10*time.Second)
	t.Run("a returning item reopens its ticket", func(t *testing.T) {
		v := e.get(pm)
		for _, id := range []string{"AI-4", "AI-5"} {
			it := v.item(t, id)
			if it.Ticket == nil || it.Ticket.Key != key1[id] || it.Sync != "linked" {
				t.Errorf("%s: ticket %+v sync %q, want its old ticket %s", id, it.Ticket, it.Sync, key1[id])
			}
		}
		if is := e.ghIssue(key1["AI-4"]); is.StateReason != "reopened" || is.Title != rev1.item("AI-4").Title {
			t.Errorf("AI-4's ticket: %q, state_reason %q; want the same title, reopened", is.Title, is.StateReason)
		}
		if j := e.jiraIssue(key1["AI-5"]); j.Resolution != "" || lastLine(j.Description) != marker(pm, "AI-5") {
			t.Errorf("AI-5's ticket: resolution %q, description:\n%s", j.Resolution, j.Description)
		}
		for id, key := range key2 {
			if id == "AI-4" || id == "AI-5" {
				continue
			}
			if n := e.callsOn(key); n != 0 {
				t.Errorf("%d calls on %s's ticket %s", n, id, key)
			}
		}
		for _, c := range e.gh.CallLog() {
			if c.Method == http.MethodPost && strings.HasSuffix(c.Path, "/issues") {
				t.Errorf("a ticket was created: %s %s", c.Method, c.Path)
			}
		}
		if n := e.jr.Calls(http.MethodPost, "/rest/api/2/issue"); n != 0 {
			t.Errorf("%d Jira tickets created", n)
		}
		if len(e.gh.Issues(defaultRepo)) != 4 || len(e.jr.Issues(jiraProject)) != 3 || len(e.gh.Issues("acme/checkout")) != 2 {
			t.Errorf("issue counts changed: %d, %d, %d", len(e.gh.Issues(defaultRepo)), len(e.jr.Issues(jiraProject)), len(e.gh.Issues("acme/checkout")))
		}
	})

	// The same revision again, in other bytes (keys in another order): nothing new.
	e.resetCalls()
	var generic map[string]any
	if err := json.Unmarshal(mustJSON(t, rev3), &generic); err != nil {
		t.Fatal(err)
	}
	reordered := mustJSON(t, generic)
	e.postRaw(reordered, http.StatusOK)
	expectNoCalls(t, e, "the same revision sent again")
	if v := e.get(pm); len(v.Items) != 7 {
		t.Errorf("%d items after a repeated revision, want 7", len(v.Items))
	} else {
		for _, it := range v.Items {
			if it.Removed || it.Status != "open" || it.Sync != "linked" {
				t.Errorf("%s after a repeated revision: removed %v, status %q, sync %q", it.ID, it.Removed, it.Status, it.Sync)
			}
		}
	}
}

// expectNoCalls checks that neither stand-in hears from followthrough for a while: the worker
// is woken at once by an intake that queued work, so a second is plenty to see any.
func expectNoCalls(t *testing.T, e *trackerEnv, what string) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if len(e.gh.CallLog())+len(e.jr.Requests()) > 0 {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if n := len(e.gh.CallLog()) + len(e.jr.Requests()); n != 0 {
		t.Errorf("%s: %d tracker calls, want none\ncalls:\n%s", what, n, e.describeCalls())
	}
}

// TestRevisionMovesItemWhoseCreateWasLost moves an item to another repository while the answer
// to its first create is lost (the ticket exists, followthrough does not know it yet). The
// ticket that the lost create made must not stay behind as a second, open, unfollowed ticket:
// it is found and closed as moved, or the item is linked to it.
func TestRevisionMovesItemWhoseCreateWasLost(t *testing.T) {
	forEachBackend(t, testRevisionMovesItemWhoseCreateWasLost)
}

func testRevisionMovesItemWhoseCreateWasLost(t *testing.T, b backend) {
	e := newTrackerEnv(t, envOptions{backend: b})
	e.start()
	const pm = "PM-REV-LOST"
	rev1 := newPM(pm, "Lost and moved",
		aiDoc{ID: "AI-1", Title: "Shard the queue", Owner: "bob@acme.com", Priority: "P1", Due: "2027-01-10"})
	e.gh.LoseNextResponse(http.MethodPost, "/repos/"+defaultRepo+"/issues")
	e.post(rev1, http.StatusAccepted)
	eventually(t, 10*time.Second, "the first create was made and its answer lost", func() bool {
		for _, c := range e.gh.CallLog() {
			if c.Lost {
				return true
			}
		}
		return false
	})
	// The worker retries a lost create only after a backoff of about a second: the revision
	// lands before that.
	e.post(rev1.with("AI-1", func(a *aiDoc) { a.Tracker = &trackerDoc{Kind: "github", Repo: "acme/checkout"} }), http.StatusOK)
	v := e.waitLinked(pm, 20*time.Second)
	it := v.item(t, "AI-1")
	if !strings.HasPrefix(it.Ticket.Key, "acme/checkout#") {
		t.Fatalf("AI-1 linked to %s, want a ticket in acme/checkout", it.Ticket.Key)
	}
	if n := len(e.gh.Issues("acme/checkout")); n != 1 {
		t.Errorf("%d issues in acme/checkout, want 1", n)
	}
	stray := e.gh.Issues(defaultRepo)
	if len(stray) != 1 {
		t.Fatalf("%d issues in %s, want the 1 that the lost create made", len(stray), defaultRepo)
	}
	key := defaultRepo + "#" + strconv.Itoa(stray[0].Number)
	eventually(t, 10*time.Second, key+" (made by the lost create) closed as moved, pointing to "+it.Ticket.Key, func() bool {
		is := e.ghIssue(key)
		return is.State == "closed" && is.StateReason == "not_planned" && len(is.Comments) == 1 &&
			strings.Contains(is.Comments[0].Body, it.Ticket.Key)
	})
}
