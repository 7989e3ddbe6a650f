package sync_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/connectors/github"
	"github.com/followthrough/followthrough/connectors/githubfake"
	"github.com/followthrough/followthrough/connectors/jira"
	"github.com/followthrough/followthrough/connectors/jirafake"
	"github.com/followthrough/followthrough/internal/pgtest"
	"github.com/followthrough/followthrough/sync"
)

// legacyRepo is a repository that no route names: tickets there are people's.
const legacyRepo = "acme/legacy"

// newAdoptEnv is the two-way environment whose connectors map bob@acme.com to his GitHub login
// and Jira account, so that an adopted ticket nobody has gets him.
func newAdoptEnv(t *testing.T, on pgtest.Backend) *twEnv {
	t.Helper()
	e := newTWEnv(t, on)
	e.cfg.People = []config.Person{{Email: "bob@acme.com", GitHub: "bob-gh", Jira: "acc-bob"}}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ghTr, err := github.New(e.cfg.GitHub, e.cfg.People, github.Options{Logger: logger, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	jiraTr, err := jira.New(e.cfg.Jira, e.cfg.People, jira.Options{Logger: logger, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.jiraTr = jiraTr
	e.eng = sync.New(sync.Options{Store: e.st, Config: e.cfg, Clock: e.clock, Logger: logger,
		Trackers: map[ft.TrackerKind]ft.Tracker{ft.GitHub: ghTr, ft.Jira: jiraTr}})
	return e
}

// adoptDoc is a postmortem signed off at twStart with the items given; an item without a
// tracker or ticket goes to twRepo.
func adoptDoc(pmID string, items ...ft.ActionItem) *ft.Document {
	signed := twStart
	return &ft.Document{ID: pmID, Title: "Outage " + pmID, URL: "https://wiki.acme.com/" + pmID, Status: "finalized",
		SignedOffBy: []string{"carol@acme.com"}, SignedOffAt: &signed, ActionItems: items}
}

// naming is an item of bob's, due long after the tests' clocks, that names a ticket ("": none).
func naming(id, ticket string) ft.ActionItem {
	return ft.ActionItem{ID: id, Title: "Do " + id, Owner: "bob@acme.com", Priority: "P1", Due: "2027-09-01", Ticket: ticket}
}

// finishedAt is an item marked finished at sign-off.
func finishedAt(id string, s ft.Status) ft.ActionItem {
	it := naming(id, "")
	it.Status = s
	return it
}

// submit hands the document to intake.
func (e *twEnv) submit(doc *ft.Document) {
	e.t.Helper()
	if _, err := e.eng.Intake(e.ctx, doc); err != nil {
		e.t.Fatal(err)
	}
}

// personIssue opens an issue in repo as someone other than followthrough, and returns its key.
func (e *twEnv) personIssue(repo string, in githubfake.NewIssue) string {
	e.t.Helper()
	if in.User == "" {
		in.User = twPerson
	}
	is, err := e.gh.CreateIssue(repo, in)
	if err != nil {
		e.t.Fatal(err)
	}
	return github.Key(repo, is.Number)
}

// ghIssue is the stand-in's issue with that key.
func (e *twEnv) ghIssue(key string) githubfake.Issue {
	e.t.Helper()
	repo, n := splitGitHubKey(e.t, key)
	is, ok := e.gh.Issue(repo, n)
	if !ok {
		e.t.Fatalf("no issue %s at the stand-in", key)
	}
	return is
}

// jiraIssue is the stand-in's Jira issue with that key.
func (e *twEnv) jiraIssue(key string) jirafake.Issue {
	e.t.Helper()
	is, ok := e.jf.Issue(key)
	if !ok {
		e.t.Fatalf("no Jira issue %s at the stand-in", key)
	}
	return is
}

// botComments are the comments followthrough (GitHub's bot) wrote on the issue.
func botComments(is githubfake.Issue) []string {
	var out []string
	for _, c := range is.Comments {
		if c.User == twBot {
			out = append(out, c.Body)
		}
	}
	return out
}

// jiraBotComments are the comments followthrough wrote on the Jira issue.
func jiraBotComments(is jirafake.Issue) []string {
	var out []string
	for _, c := range is.Comments {
		if c.Author == twJiraBot {
			out = append(out, c.Body)
		}
	}
	return out
}

// createdIssues counts the issues followthrough itself opened on both stand-ins.
func (e *twEnv) createdIssues() int {
	e.t.Helper()
	n := 0
	for _, c := range e.gh.CallLog() {
		if c.Method == "POST" && strings.HasSuffix(c.Path, "/issues") {
			n++
		}
	}
	return n + e.jf.Calls("POST", "/rest/api/2/issue")
}

func TestAdoptLinksAnExistingGitHubIssueInsteadOfCreatingOne(t *testing.T) {
	pgtest.ForEach(t, testAdoptLinksAnExistingGitHubIssueInsteadOfCreatingOne)
}

func testAdoptLinksAnExistingGitHubIssueInsteadOfCreatingOne(t *testing.T, db pgtest.Backend) {
	e := newAdoptEnv(t, db)
	key := e.personIssue(legacyRepo, githubfake.NewIssue{Title: "Flaky checkout tests", Body: "Seen since May.", Labels: []string{"bug"}})
	e.submit(adoptDoc("PM-A", naming("AI-1", key)))
	e.run()

	it := e.item("PM-A", "AI-1")
	want := ft.TicketRef{Kind: ft.GitHub, Key: key, URL: e.gh.HTMLBase() + "/" + legacyRepo + "/issues/1"}
	if it.Ticket == nil || *it.Ticket != want || it.Sync != ft.SyncLinked || it.Status != ft.StatusOpen {
		t.Fatalf("item = %+v (ticket %+v); want linked to %+v, open", it, it.Ticket, want)
	}
	if it.Target != (ft.Target{Kind: ft.GitHub, Repo: legacyRepo}) {
		t.Errorf("target = %+v; want the ticket's repository", it.Target)
	}
	is := e.ghIssue(key)
	if is.Title != "Flaky checkout tests" || is.Body != "Seen since May." {
		t.Errorf("title or body changed: %q / %q", is.Title, is.Body)
	}
	if !slices.Equal(is.Labels, []string{"bug", "postmortem"}) || !slices.Equal(is.Assignees, []string{"bob-gh"}) {
		t.Errorf("labels %v, assignees %v; want bug and postmortem, bob-gh", is.Labels, is.Assignees)
	}
	comments := botComments(is)
	if len(is.Comments) != 1 || len(comments) != 1 || !strings.Contains(comments[0], "followthrough:PM-A/AI-1") ||
		!strings.Contains(comments[0], "PM-A") {
		t.Errorf("comments = %+v; want one by followthrough naming the postmortem with the marker", is.Comments)
	}
	if n := e.createdIssues(); n != 0 || e.gh.IssueCount() != 1 {
		t.Errorf("%d creates, %d issues; want none created", n, e.gh.IssueCount())
	}
}

func TestAdoptLinksAnExistingJiraIssue(t *testing.T) {
	pgtest.ForEach(t, testAdoptLinksAnExistingJiraIssue)
}

func testAdoptLinksAnExistingJiraIssue(t *testing.T, db pgtest.Backend) {
	e := newAdoptEnv(t, db)
	created := e.jf.CreateIssue(jirafake.NewIssue{Project: "OPS", Summary: "Rotate the keys", Description: "As agreed."})
	if err := e.jf.Transition(created.Key, "In Progress", ""); err != nil {
		t.Fatal(err)
	}
	e.submit(adoptDoc("PM-J", naming("AI-1", created.Key)))
	e.run()

	it := e.item("PM-J", "AI-1")
	if it.Ticket == nil || it.Ticket.Key != created.Key || it.Ticket.URL != e.jf.URL()+"/browse/"+created.Key ||
		it.Sync != ft.SyncLinked || it.Status != ft.StatusInProgress {
		t.Fatalf("item = %+v (ticket %+v); want linked to %s, in progress", it, it.Ticket, created.Key)
	}
	h := e.history("PM-J", "AI-1")
	if len(h) != 1 || h[0].From != ft.StatusOpen || h[0].To != ft.StatusInProgress || h[0].Source != "jira" {
		t.Errorf("history = %+v; want the adopted status, from jira", h)
	}
	is := e.jiraIssue(created.Key)
	if is.Summary != "Rotate the keys" || is.Description != "As agreed." {
		t.Errorf("summary or description changed: %q / %q", is.Summary, is.Description)
	}
	if !slices.Contains(is.Labels, "postmortem") || !slices.Contains(is.Labels, "pm-pm-j") || is.Assignee != "acc-bob" {
		t.Errorf("labels %v, assignee %q; want postmortem and pm-pm-j, acc-bob", is.Labels, is.Assignee)
	}
	if len(is.RemoteLinks) != 1 || is.RemoteLinks[0].URL != "https://wiki.acme.com/PM-J" {
		t.Errorf("remote links = %+v; want one to the postmortem", is.RemoteLinks)
	}
	if c := jiraBotComments(is); len(is.Comments) != 1 || len(c) != 1 || !strings.Contains(c[0], "followthrough:PM-J/AI-1") {
		t.Errorf("comments = %+v; want one carrying the marker", is.Comments)
	}
	if n := e.createdIssues(); n != 0 || e.jf.IssueCount() != 1 {
		t.Errorf("%d creates, %d issues; want none created", n, e.jf.IssueCount())
	}
}

func TestAdoptTakesTheTicketsStatus(t *testing.T) { pgtest.ForEach(t, testAdoptTakesTheTicketsStatus) }

func testAdoptTakesTheTicketsStatus(t *testing.T, db pgtest.Backend) {
	for _, tt := range []struct {
		name   string
		change func(e *twEnv, repo string, n int) error
		want   ft.Status
		state  ft.State
	}{
		{"open", func(*twEnv, string, int) error { return nil }, ft.StatusOpen, ft.StateTracking},
		{"in progress", func(e *twEnv, r string, n int) error { return e.gh.AddLabel(r, n, "in progress") }, ft.StatusInProgress, ft.StateTracking},
		{"closed as completed", func(e *twEnv, r string, n int) error { return e.gh.CloseIssue(r, n, "completed", twPerson) }, ft.StatusDone, ft.StateCompleted},
		{"closed as not planned", func(e *twEnv, r string, n int) error { return e.gh.CloseIssue(r, n, "not_planned", twPerson) }, ft.StatusWontDo, ft.StateCompleted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newAdoptEnv(t, db)
			key := e.personIssue(legacyRepo, githubfake.NewIssue{Title: "Existing"})
			if err := tt.change(e, legacyRepo, 1); err != nil {
				t.Fatal(err)
			}
			e.submit(adoptDoc("PM-S", naming("AI-1", key)))
			e.run()
			it := e.item("PM-S", "AI-1")
			if it.Status != tt.want || it.Sync != ft.SyncLinked {
				t.Fatalf("item = %+v; want %s, linked", it, tt.want)
			}
			h := e.history("PM-S", "AI-1")
			if tt.want == ft.StatusOpen && len(h) != 0 {
				t.Errorf("history = %+v; want none", h)
			}
			if tt.want != ft.StatusOpen && (len(h) != 1 || h[0].To != tt.want || h[0].Source != "github") {
				t.Errorf("history = %+v; want one change to %s from github", h, tt.want)
			}
			if pm := e.pm("PM-S"); pm.State != tt.state {
				t.Errorf("state = %s; want %s", pm.State, tt.state)
			}
			if ev := e.recv.statusEvents(); tt.want != ft.StatusOpen && (len(ev) != 1 || ev[0].Change.To != tt.want) {
				t.Errorf("status events = %+v; want one to %s", ev, tt.want)
			}
		})
	}
}

func TestAdoptRetriedAfterALostAnswerMakesOneComment(t *testing.T) {
	pgtest.ForEach(t, testAdoptRetriedAfterALostAnswerMakesOneComment)
}

func testAdoptRetriedAfterALostAnswerMakesOneComment(t *testing.T, db pgtest.Backend) {
	for _, tt := range []struct {
		name string
		open func(e *twEnv) string // the existing ticket, after arming the lost answer
	}{
		{"github", func(e *twEnv) string {
			key := e.personIssue(legacyRepo, githubfake.NewIssue{Title: "Existing"})
			e.gh.LoseNextResponse("POST", "/repos/"+legacyRepo+"/issues/1/comments")
			return key
		}},
		{"jira", func(e *twEnv) string {
			is := e.jf.CreateIssue(jirafake.NewIssue{Project: "OPS", Summary: "Existing"})
			e.jf.LoseNextResponse("POST", "/rest/api/2/issue/"+is.Key+"/comment")
			return is.Key
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newAdoptEnv(t, db)
			key := tt.open(e)
			e.submit(adoptDoc("PM-L", naming("AI-1", key)))
			e.run() // the comment is written, its answer lost
			if it := e.item("PM-L", "AI-1"); it.Sync == ft.SyncLinked {
				t.Fatalf("linked before the comment's outcome was known: %+v", it)
			}
			e.settle()
			it := e.item("PM-L", "AI-1")
			if it.Sync != ft.SyncLinked || it.Ticket == nil || it.Ticket.Key != key {
				t.Fatalf("item = %+v; want linked to %s", it, key)
			}
			var comments, labels []string
			if tt.name == "github" {
				is := e.ghIssue(key)
				comments, labels = botComments(is), is.Labels
			} else {
				is := e.jiraIssue(key)
				comments, labels = jiraBotComments(is), is.Labels
			}
			if len(comments) != 1 {
				t.Errorf("%d comments by followthrough; want exactly 1: %q", len(comments), comments)
			}
			if n := strings.Count(strings.Join(labels, ","), "postmortem"); n != 1 {
				t.Errorf("labels = %v; want postmortem once", labels)
			}
		})
	}
}

func TestAdoptKeepsTheAssigneeATicketHas(t *testing.T) {
	pgtest.ForEach(t, testAdoptKeepsTheAssigneeATicketHas)
}

func testAdoptKeepsTheAssigneeATicketHas(t *testing.T, db pgtest.Backend) {
	e := newAdoptEnv(t, db)
	key := e.personIssue(legacyRepo, githubfake.NewIssue{Title: "Existing", Assignees: []string{"dana-gh"}})
	jiraIssue := e.jf.CreateIssue(jirafake.NewIssue{Project: "OPS", Summary: "Existing", Assignee: twJiraAcc})
	e.submit(adoptDoc("PM-K", naming("AI-1", key), naming("AI-2", jiraIssue.Key)))
	e.run()
	if is := e.ghIssue(key); !slices.Equal(is.Assignees, []string{"dana-gh"}) {
		t.Errorf("GitHub assignees = %v; want dana-gh kept", is.Assignees)
	}
	if n := e.gh.Calls("PATCH", "/repos/"+legacyRepo+"/issues/1"); n != 0 {
		t.Errorf("%d edits of the GitHub issue; want none", n)
	}
	if is := e.jiraIssue(jiraIssue.Key); is.Assignee != twJiraAcc {
		t.Errorf("Jira assignee = %q; want %s kept", is.Assignee, twJiraAcc)
	}
	for _, id := range []string{"AI-1", "AI-2"} {
		if it := e.item("PM-K", id); it.Sync != ft.SyncLinked {
			t.Errorf("%s: %+v; want linked", id, it)
		}
	}
}

func TestRevisionsNeverEditAnAdoptedTicket(t *testing.T) {
	pgtest.ForEach(t, testRevisionsNeverEditAnAdoptedTicket)
}

func testRevisionsNeverEditAnAdoptedTicket(t *testing.T, db pgtest.Backend) {
	e := newAdoptEnv(t, db)
	key := e.personIssue(legacyRepo, githubfake.NewIssue{Title: "Their words", Body: "Their body."})
	jiraIssue := e.jf.CreateIssue(jirafake.NewIssue{Project: "OPS", Summary: "Their summary", Description: "Their description."})
	e.submit(adoptDoc("PM-E", naming("AI-1", key), naming("AI-2", jiraIssue.Key)))
	e.run()
	e.gh.ResetCalls()
	e.jf.ResetCalls()

	revised := adoptDoc("PM-E", naming("AI-1", key), naming("AI-2", jiraIssue.Key))
	for i := range revised.ActionItems {
		it := &revised.ActionItems[i]
		it.Title, it.Description, it.Due, it.Owner = "Our new title", "Our description", "2027-10-01", "alice@acme.com"
	}
	e.submit(revised)
	e.settle()
	if is := e.ghIssue(key); is.Title != "Their words" || is.Body != "Their body." {
		t.Errorf("GitHub issue = %q / %q; want it as its authors wrote it", is.Title, is.Body)
	}
	if is := e.jiraIssue(jiraIssue.Key); is.Summary != "Their summary" || is.Description != "Their description." || is.DueDate != "" {
		t.Errorf("Jira issue = %q / %q, due %q; want it as its authors wrote it", is.Summary, is.Description, is.DueDate)
	}
	for _, c := range e.gh.CallLog() {
		if c.Method != "GET" {
			t.Errorf("GitHub call %s %s after the revision; want none that writes", c.Method, c.Path)
		}
	}
	for _, c := range e.jf.Requests() {
		if c.Method != "GET" {
			t.Errorf("Jira call %s %s after the revision; want none that writes", c.Method, c.Path)
		}
	}
	if it := e.item("PM-E", "AI-1"); it.Title != "Our new title" || it.Sync != ft.SyncLinked {
		t.Errorf("item = %+v; want the document's title, still linked", it)
	}
}

func TestRemovingAnItemUnlinksItsAdoptedTicketWithoutClosingIt(t *testing.T) {
	pgtest.ForEach(t, testRemovingAnItemUnlinksItsAdoptedTicketWithoutClosingIt)
}

func testRemovingAnItemUnlinksItsAdoptedTicketWithoutClosingIt(t *testing.T, db pgtest.Backend) {
	e := newAdoptEnv(t, db)
	key := e.personIssue(legacyRepo, githubfake.NewIssue{Title: "Existing"})
	jiraIssue := e.jf.CreateIssue(jirafake.NewIssue{Project: "OPS", Summary: "Existing"})
	e.submit(adoptDoc("PM-R", naming("AI-1", key), naming("AI-2", jiraIssue.Key), naming("AI-3", "")))
	e.run()
	e.submit(adoptDoc("PM-R", naming("AI-3", "")))
	e.settle()

	is := e.ghIssue(key)
	if is.State != "open" {
		t.Errorf("GitHub issue %s: %s; want it left open", key, is.State)
	}
	if c := botComments(is); len(c) != 2 || !strings.Contains(c[1], "no longer follows") || !strings.Contains(c[1], "removed") {
		t.Errorf("comments = %q; want the link's and one saying followthrough no longer follows it", c)
	}
	ji := e.jiraIssue(jiraIssue.Key)
	if ji.Status != "To Do" {
		t.Errorf("Jira issue %s: %s; want it left as it was", jiraIssue.Key, ji.Status)
	}
	if c := jiraBotComments(ji); len(c) != 2 || !strings.Contains(c[1], "no longer follows") {
		t.Errorf("Jira comments = %q; want the link's and the unlink's", c)
	}
	for _, id := range []string{"AI-1", "AI-2"} {
		if it := e.item("PM-R", id); !it.Removed || it.Status != ft.StatusWontDo {
			t.Errorf("%s = %+v; want removed, wont_do", id, it)
		}
	}
	// A person closing it changes nothing for the removed item.
	e.tick()
	if err := e.gh.CloseIssue(legacyRepo, 1, "completed", twPerson); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Reconcile(e.ctx); err != nil {
		t.Fatal(err)
	}
	if it := e.item("PM-R", "AI-1"); it.Status != ft.StatusWontDo {
		t.Errorf("removed item took the unlinked ticket's status: %+v", it)
	}
}

func TestNamingAnotherTicketUnlinksTheFirst(t *testing.T) {
	pgtest.ForEach(t, testNamingAnotherTicketUnlinksTheFirst)
}

func testNamingAnotherTicketUnlinksTheFirst(t *testing.T, db pgtest.Backend) {
	e := newAdoptEnv(t, db)
	first := e.personIssue(legacyRepo, githubfake.NewIssue{Title: "First"})
	second := e.personIssue(legacyRepo, githubfake.NewIssue{Title: "Second"})
	e.submit(adoptDoc("PM-N", naming("AI-1", first)))
	e.run()
	e.submit(adoptDoc("PM-N", naming("AI-1", second)))
	e.settle()

	it := e.item("PM-N", "AI-1")
	if it.Ticket == nil || it.Ticket.Key != second || it.Sync != ft.SyncLinked {
		t.Fatalf("item = %+v (ticket %+v); want linked to %s", it, it.Ticket, second)
	}
	f := e.ghIssue(first)
	if c := botComments(f); f.State != "open" || len(c) != 2 || !strings.Contains(c[1], second) || !strings.Contains(c[1], "no longer follows") {
		t.Errorf("first issue: %s, comments %q; want it open, unlinked with a comment pointing to %s", f.State, c, second)
	}
	if s := e.ghIssue(second); len(botComments(s)) != 1 || !slices.Contains(s.Labels, "postmortem") {
		t.Errorf("second issue = %+v; want it adopted", s)
	}
	// The first ticket's news is not the item's any more; the second's is.
	e.tick()
	if err := e.gh.CloseIssue(legacyRepo, 1, "completed", twPerson); err != nil {
		t.Fatal(err)
	}
	e.deliver("github", "gh-first-closed", "issues", e.githubPayload("issues.closed.json", "closed", first, twPerson))
	if it := e.item("PM-N", "AI-1"); it.Status != ft.StatusOpen {
		t.Errorf("the unlinked ticket moved the item: %+v", it)
	}
	e.tick()
	if err := e.gh.CloseIssue(legacyRepo, 2, "completed", twPerson); err != nil {
		t.Fatal(err)
	}
	e.deliver("github", "gh-second-closed", "issues", e.githubPayload("issues.closed.json", "closed", second, twPerson))
	if it := e.item("PM-N", "AI-1"); it.Status != ft.StatusDone {
		t.Errorf("the adopted ticket's webhook did not reach the item: %+v", it)
	}
	if n := e.createdIssues(); n != 0 {
		t.Errorf("%d creates; want none", n)
	}
}

// TestNamingATicketForAnItemThatHasItsOwn: the named ticket is adopted, and the ticket
// followthrough made is closed as not planned, pointing to it, once the adoption succeeded
// (until then the item keeps following its own).
func TestNamingATicketForAnItemThatHasItsOwn(t *testing.T) {
	pgtest.ForEach(t, testNamingATicketForAnItemThatHasItsOwn)
}

func testNamingATicketForAnItemThatHasItsOwn(t *testing.T, db pgtest.Backend) {
	e := newAdoptEnv(t, db)
	e.submit(adoptDoc("PM-O", naming("AI-1", "")))
	e.run()
	own := e.item("PM-O", "AI-1").Ticket
	if own == nil || own.Key != twRepo+"#1" {
		t.Fatalf("own ticket = %+v", own)
	}
	existing := e.personIssue(legacyRepo, githubfake.NewIssue{Title: "Tracked already"})
	e.gh.SetReadOnly(legacyRepo, true)
	e.submit(adoptDoc("PM-O", naming("AI-1", existing)))
	e.settle()
	it := e.item("PM-O", "AI-1")
	if it.Sync != ft.SyncFailed || it.Ticket == nil || it.Ticket.Key != own.Key || e.ghIssue(own.Key).State != "open" {
		t.Fatalf("item = %+v (ticket %+v); want failed, still following its own open ticket", it, it.Ticket)
	}

	e.gh.SetReadOnly(legacyRepo, false)
	if _, err := e.eng.Retry(e.ctx, "PM-O"); err != nil {
		t.Fatal(err)
	}
	e.settle()
	it = e.item("PM-O", "AI-1")
	if it.Ticket == nil || it.Ticket.Key != existing || it.Sync != ft.SyncLinked {
		t.Fatalf("item = %+v (ticket %+v); want linked to %s", it, it.Ticket, existing)
	}
	is := e.ghIssue(own.Key)
	if is.State != "closed" || is.StateReason != "not_planned" || len(is.Comments) != 1 || !strings.Contains(is.Comments[0].Body, existing) {
		t.Errorf("own ticket = %+v; want closed as not planned with a comment pointing to %s", is, existing)
	}
	if n := e.createdIssues(); n != 1 {
		t.Errorf("%d creates; want only the first", n)
	}
}

func TestNamingNoTicketAnyMoreGivesTheItemItsOwn(t *testing.T) {
	pgtest.ForEach(t, testNamingNoTicketAnyMoreGivesTheItemItsOwn)
}

func testNamingNoTicketAnyMoreGivesTheItemItsOwn(t *testing.T, db pgtest.Backend) {
	e := newAdoptEnv(t, db)
	existing := e.personIssue(legacyRepo, githubfake.NewIssue{Title: "Existing"})
	e.submit(adoptDoc("PM-U", naming("AI-1", existing)))
	e.run()
	e.submit(adoptDoc("PM-U", naming("AI-1", "")))
	e.settle()
	it := e.item("PM-U", "AI-1")
	if it.Ticket == nil || it.Ticket.Key != twRepo+"#1" || it.Sync != ft.SyncLinked || it.Target.Repo != twRepo {
		t.Fatalf("item = %+v (ticket %+v); want its own ticket in %s", it, it.Ticket, twRepo)
	}
	is := e.ghIssue(existing)
	if c := botComments(is); is.State != "open" || len(c) != 2 || !strings.Contains(c[1], twRepo+"#1") {
		t.Errorf("existing issue: %s, comments %q; want it open and unlinked, pointing to the new ticket", is.State, c)
	}
}

func TestAdoptionThatCannotBeDoneFailsTheItemInWords(t *testing.T) {
	pgtest.ForEach(t, testAdoptionThatCannotBeDoneFailsTheItemInWords)
}

func testAdoptionThatCannotBeDoneFailsTheItemInWords(t *testing.T, db pgtest.Backend) {
	for _, tt := range []struct {
		name    string
		prepare func(e *twEnv) string // the ticket the item names
		want    []string              // parts of last_error
	}{
		{"missing GitHub issue", func(e *twEnv) string {
			e.personIssue(legacyRepo, githubfake.NewIssue{Title: "Another"})
			return legacyRepo + "#9"
		}, []string{legacyRepo + "#9", "does not exist"}},
		{"missing Jira issue", func(*twEnv) string { return "OPS-404" }, []string{"OPS-404", "does not exist"}},
		{"pull request", func(e *twEnv) string {
			return e.personIssue(legacyRepo, githubfake.NewIssue{Title: "A fix", PullRequest: true})
		}, []string{"pull request"}},
		{"read-only repository", func(e *twEnv) string {
			e.gh.SetReadOnly(legacyRepo, true)
			return e.personIssue(legacyRepo, githubfake.NewIssue{Title: "Theirs"})
		}, []string{"cannot write to the ticket " + legacyRepo + "#1", "Resource not accessible"}},
		{"read-only Jira project", func(e *twEnv) string {
			e.jf.SetReadOnly("OPS", true)
			return e.jf.CreateIssue(jirafake.NewIssue{Project: "OPS", Summary: "Theirs"}).Key
		}, []string{"cannot write to the ticket OPS-1", "cannot be set"}},
		{"followed by another item", func(e *twEnv) string {
			key := e.personIssue(legacyRepo, githubfake.NewIssue{Title: "Shared"})
			e.submit(adoptDoc("PM-FIRST", naming("AI-7", key)))
			e.run()
			return key
		}, []string{"already followed by action item AI-7 of postmortem PM-FIRST"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newAdoptEnv(t, db)
			key := tt.prepare(e)
			e.submit(adoptDoc("PM-X", naming("AI-1", key)))
			e.settle()
			it := e.item("PM-X", "AI-1")
			if it.Sync != ft.SyncFailed || it.LastError == nil || it.Ticket != nil {
				t.Fatalf("item = %+v; want sync failed with a reason and no ticket", it)
			}
			for _, w := range tt.want {
				if !strings.Contains(*it.LastError, w) {
					t.Errorf("last_error = %q; want it to say %q", *it.LastError, w)
				}
			}
			if n := e.createdIssues(); n != 0 {
				t.Errorf("%d creates; want none", n)
			}
			if n := len(jiraBotComments(e.jiraIssueOr("OPS-1"))) + e.botCommentsOn(legacyRepo); n > 1 {
				t.Errorf("%d comments by followthrough; want at most the first item's", n)
			}
		})
	}
}

// jiraIssueOr is the Jira issue with that key, or none.
func (e *twEnv) jiraIssueOr(key string) jirafake.Issue {
	is, _ := e.jf.Issue(key)
	return is
}

// botCommentsOn counts followthrough's comments on every issue of a repository.
func (e *twEnv) botCommentsOn(repo string) int {
	n := 0
	for _, is := range e.gh.Issues(repo) {
		n += len(botComments(is))
	}
	return n
}

func TestRetryAdoptsAgainAndNeverCreates(t *testing.T) {
	pgtest.ForEach(t, testRetryAdoptsAgainAndNeverCreates)
}

func testRetryAdoptsAgainAndNeverCreates(t *testing.T, db pgtest.Backend) {
	e := newAdoptEnv(t, db)
	key := e.personIssue(legacyRepo, githubfake.NewIssue{Title: "Theirs"})
	e.gh.SetReadOnly(legacyRepo, true)
	e.submit(adoptDoc("PM-T", naming("AI-1", key)))
	e.settle()
	if it := e.item("PM-T", "AI-1"); it.Sync != ft.SyncFailed {
		t.Fatalf("item = %+v; want failed", it)
	}
	// Still read-only: retrying fails again, and makes no ticket instead.
	if _, err := e.eng.Retry(e.ctx, "PM-T"); err != nil {
		t.Fatal(err)
	}
	e.settle()
	if it := e.item("PM-T", "AI-1"); it.Sync != ft.SyncFailed || it.Ticket != nil {
		t.Fatalf("item = %+v; want failed again, without a ticket", it)
	}
	e.gh.SetReadOnly(legacyRepo, false)
	if _, err := e.eng.Retry(e.ctx, "PM-T"); err != nil {
		t.Fatal(err)
	}
	e.settle()
	if it := e.item("PM-T", "AI-1"); it.Sync != ft.SyncLinked || it.Ticket == nil || it.Ticket.Key != key {
		t.Fatalf("item = %+v; want linked to %s", it, key)
	}
	if c := botComments(e.ghIssue(key)); len(c) != 1 {
		t.Errorf("comments = %q; want one", c)
	}

	// Deleted by a person: the item fails, and retry looks for the named ticket again rather
	// than making one.
	e.tick()
	if err := e.gh.DeleteIssue(legacyRepo, 1); err != nil {
		t.Fatal(err)
	}
	e.deliver("github", "gh-deleted", "issues", e.githubPayload("deleted.payload.json", "deleted", key, twPerson))
	it := e.item("PM-T", "AI-1")
	if it.Sync != ft.SyncFailed || it.LastError == nil || !strings.Contains(*it.LastError, "name another ticket") {
		t.Fatalf("item after deletion = %+v; want failed, saying to name another ticket", it)
	}
	if _, err := e.eng.Retry(e.ctx, "PM-T"); err != nil {
		t.Fatal(err)
	}
	e.settle()
	it = e.item("PM-T", "AI-1")
	if it.Sync != ft.SyncFailed || it.LastError == nil || !strings.Contains(*it.LastError, "does not exist") {
		t.Fatalf("item after retry = %+v; want failed: the named ticket does not exist", it)
	}
	if n := e.createdIssues(); n != 0 {
		t.Errorf("%d creates; want none ever", n)
	}
}

func TestReconcileFollowsAnAdoptedTicketsRepository(t *testing.T) {
	pgtest.ForEach(t, testReconcileFollowsAnAdoptedTicketsRepository)
}

func testReconcileFollowsAnAdoptedTicketsRepository(t *testing.T, db pgtest.Backend) {
	e := newAdoptEnv(t, db)
	key := e.personIssue(legacyRepo, githubfake.NewIssue{Title: "Theirs"})
	e.submit(adoptDoc("PM-C", naming("AI-1", key)))
	e.run()
	e.tick()
	// Closed without any webhook: only reconciliation can tell.
	if err := e.gh.CloseIssue(legacyRepo, 1, "completed", twPerson); err != nil {
		t.Fatal(err)
	}
	e.gh.ResetCalls()
	if err := e.eng.Reconcile(e.ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.gh.Calls("GET", "/repos/"+legacyRepo+"/issues"); n != 1 {
		t.Errorf("%d listings of %s; want reconciliation to look there once", n, legacyRepo)
	}
	it := e.item("PM-C", "AI-1")
	h := e.history("PM-C", "AI-1")
	if it.Status != ft.StatusDone || len(h) != 1 || h[0].Source != ft.SourceReconcile {
		t.Fatalf("item = %+v, history %+v; want done through reconciliation", it, h)
	}
}

func TestInactivityOfAnAdoptedTicketCountsFromItsAdoption(t *testing.T) {
	pgtest.ForEach(t, testInactivityOfAnAdoptedTicketCountsFromItsAdoption)
}

func testInactivityOfAnAdoptedTicketCountsFromItsAdoption(t *testing.T, db pgtest.Backend) {
	e := newAdoptEnv(t, db)
	// Opened two months before the postmortem names it, and quiet since.
	key := e.personIssue(legacyRepo, githubfake.NewIssue{Title: "Old and quiet"})
	e.clock.Advance(60 * 24 * time.Hour)
	e.submit(adoptDoc("PM-I", naming("AI-1", key)))
	e.run()
	adopted := e.clock.Now()
	scan := func() ft.ItemView {
		t.Helper()
		if _, err := e.eng.ScanStalls(e.ctx); err != nil {
			t.Fatal(err)
		}
		return e.item("PM-I", "AI-1")
	}
	if it := scan(); it.Stalled {
		t.Fatalf("stalled at adoption: %+v; inactivity counts from the adoption, not the ticket's creation", it)
	}
	// P1 stalls after 14 days without activity.
	e.clock.Set(adopted.Add(14*24*time.Hour - time.Minute))
	if it := scan(); it.Stalled {
		t.Fatalf("stalled a minute before 14 days after adoption: %+v", it)
	}
	e.clock.Set(adopted.Add(14 * 24 * time.Hour))
	if it := scan(); !it.Stalled || it.StalledReason == nil || *it.StalledReason != ft.StallInactive {
		t.Fatalf("not stalled as inactive 14 days after adoption: %+v", it)
	}
}

func TestItemsFinishedAtSignOffHaveNoTicket(t *testing.T) {
	pgtest.ForEach(t, testItemsFinishedAtSignOffHaveNoTicket)
}

func testItemsFinishedAtSignOffHaveNoTicket(t *testing.T, db pgtest.Backend) {
	e := newAdoptEnv(t, db)
	e.submit(adoptDoc("PM-F", finishedAt("AI-1", ft.StatusDone), finishedAt("AI-2", ft.StatusWontDo)))
	e.settle()
	pm := e.pm("PM-F")
	if pm.State != ft.StateCompleted || pm.Completion != ft.NewCompletion(2, 2) {
		t.Errorf("postmortem %s, completion %+v; want completed at once, 100%%", pm.State, pm.Completion)
	}
	for id, want := range map[string]ft.Status{"AI-1": ft.StatusDone, "AI-2": ft.StatusWontDo} {
		it := e.item("PM-F", id)
		if it.Status != want || it.Sync != ft.SyncNone || it.Ticket != nil || it.LastError != nil {
			t.Errorf("%s = %+v; want %s, sync none, no ticket", id, it, want)
		}
		if h := e.history("PM-F", id); len(h) != 0 {
			t.Errorf("%s history = %+v; want none: the status is the item's from the start", id, h)
		}
	}
	if n := e.gh.CallCount() + e.jf.CallCount(); n != 0 {
		t.Errorf("%d tracker calls; want none", n)
	}
	_, err := e.eng.SetItemStatus(e.ctx, "PM-F", "AI-1", ft.StatusOpen)
	if !errors.Is(err, ft.ErrConflict) || !strings.Contains(err.Error(), "finished at sign-off") {
		t.Errorf("PATCH of an item finished at sign-off: %v; want a conflict saying why", err)
	}

	// With an unfinished item beside it, the postmortem is tracking, half done.
	e.submit(adoptDoc("PM-H", finishedAt("AI-1", ft.StatusDone), naming("AI-2", "")))
	e.settle()
	if pm := e.pm("PM-H"); pm.State != ft.StateTracking || pm.Completion != ft.NewCompletion(1, 2) {
		t.Errorf("postmortem %s, completion %+v; want tracking, 1 of 2", pm.State, pm.Completion)
	}
	if it := e.item("PM-H", "AI-2"); it.Ticket == nil || it.Sync != ft.SyncLinked {
		t.Errorf("AI-2 = %+v; want its own ticket", it)
	}
}

func TestSignOffMarkCountsOnlyWhenTheItemFirstAppears(t *testing.T) {
	pgtest.ForEach(t, testSignOffMarkCountsOnlyWhenTheItemFirstAppears)
}

func testSignOffMarkCountsOnlyWhenTheItemFirstAppears(t *testing.T, db pgtest.Backend) {
	e := newAdoptEnv(t, db)
	e.submit(adoptDoc("PM-M", finishedAt("AI-1", ft.StatusDone), naming("AI-2", "")))
	e.settle()
	e.gh.ResetCalls()
	// A later revision marks both differently: neither changes.
	e.submit(adoptDoc("PM-M", finishedAt("AI-1", ft.StatusWontDo), finishedAt("AI-2", ft.StatusDone)))
	e.settle()
	if it := e.item("PM-M", "AI-1"); it.Status != ft.StatusDone || it.Sync != ft.SyncNone {
		t.Errorf("AI-1 = %+v; want done as at sign-off, sync none", it)
	}
	if it := e.item("PM-M", "AI-2"); it.Status != ft.StatusOpen || it.Sync != ft.SyncLinked {
		t.Errorf("AI-2 = %+v; want still open (its ticket owns its status), linked", it)
	}
	if is := e.ghIssue(twRepo + "#1"); is.State != "open" {
		t.Errorf("AI-2's ticket %s; want it left open", is.State)
	}
	for _, id := range []string{"AI-1", "AI-2"} {
		if h := e.history("PM-M", id); len(h) != 0 {
			t.Errorf("%s history = %+v; want none", id, h)
		}
	}
}

func TestUncheckingAFinishedItemGivesItATicket(t *testing.T) {
	pgtest.ForEach(t, testUncheckingAFinishedItemGivesItATicket)
}

func testUncheckingAFinishedItemGivesItATicket(t *testing.T, db pgtest.Backend) {
	e := newAdoptEnv(t, db)
	existing := e.personIssue(legacyRepo, githubfake.NewIssue{Title: "Theirs"})
	named := finishedAt("AI-2", ft.StatusDone)
	named.Ticket = existing
	e.submit(adoptDoc("PM-K", finishedAt("AI-1", ft.StatusDone), named))
	e.settle()
	if pm := e.pm("PM-K"); pm.State != ft.StateCompleted || e.createdIssues() != 0 || len(botComments(e.ghIssue(existing))) != 0 {
		t.Fatalf("postmortem %s; want completed with nothing written to any tracker", pm.State)
	}

	e.submit(adoptDoc("PM-K", naming("AI-1", ""), naming("AI-2", existing)))
	e.settle()
	it := e.item("PM-K", "AI-1")
	if it.Status != ft.StatusOpen || it.Sync != ft.SyncLinked || it.Ticket == nil || it.Ticket.Key != twRepo+"#1" {
		t.Fatalf("AI-1 = %+v (ticket %+v); want open with a ticket of its own", it, it.Ticket)
	}
	if h := e.history("PM-K", "AI-1"); len(h) != 1 || h[0].From != ft.StatusDone || h[0].To != ft.StatusOpen || h[0].Source != ft.SourceRevision {
		t.Errorf("AI-1 history = %+v; want done -> open by the revision", h)
	}
	it = e.item("PM-K", "AI-2")
	if it.Ticket == nil || it.Ticket.Key != existing || it.Sync != ft.SyncLinked || it.Status != ft.StatusOpen {
		t.Fatalf("AI-2 = %+v (ticket %+v); want the ticket it names adopted, not one created", it, it.Ticket)
	}
	if n := e.createdIssues(); n != 1 {
		t.Errorf("%d creates; want one, for AI-1", n)
	}
	if pm := e.pm("PM-K"); pm.State != ft.StateTracking {
		t.Errorf("state = %s; want tracking again", pm.State)
	}

	// Checked again: the mark is ignored, the ticket owns the status.
	e.submit(adoptDoc("PM-K", finishedAt("AI-1", ft.StatusDone), naming("AI-2", existing)))
	e.settle()
	if it := e.item("PM-K", "AI-1"); it.Status != ft.StatusOpen || it.Sync != ft.SyncLinked {
		t.Errorf("AI-1 after checking it again = %+v; want open, linked", it)
	}
	if is := e.ghIssue(twRepo + "#1"); is.State != "open" {
		t.Errorf("AI-1's ticket %s; want it open", is.State)
	}
}

// TestTwoItemsNamingOneTicket: one adopts it (their jobs run side by side, so either), the
// other fails saying which item follows it, and the ticket gets one comment.
func TestTwoItemsNamingOneTicket(t *testing.T) { pgtest.ForEach(t, testTwoItemsNamingOneTicket) }

func testTwoItemsNamingOneTicket(t *testing.T, db pgtest.Backend) {
	e := newAdoptEnv(t, db)
	key := e.personIssue(legacyRepo, githubfake.NewIssue{Title: "Shared"})
	e.submit(adoptDoc("PM-2", naming("AI-1", key), naming("AI-2", key)))
	e.settle()
	winner, loser := e.item("PM-2", "AI-1"), e.item("PM-2", "AI-2")
	if winner.Sync != ft.SyncLinked {
		winner, loser = loser, winner
	}
	if winner.Sync != ft.SyncLinked || winner.Ticket == nil || winner.Ticket.Key != key {
		t.Fatalf("neither item is linked to %s: %+v, %+v", key, winner, loser)
	}
	want := fmt.Sprintf("already followed by action item %s of postmortem PM-2", winner.ID)
	if loser.Sync != ft.SyncFailed || loser.Ticket != nil || loser.LastError == nil || !strings.Contains(*loser.LastError, want) {
		t.Errorf("%s = %+v; want failed, saying %q", loser.ID, loser, want)
	}
	if c := botComments(e.ghIssue(key)); len(c) != 1 || !strings.Contains(c[0], "followthrough:PM-2/"+winner.ID) {
		t.Errorf("comments = %q; want one, the winner's", c)
	}
}

// TestUnlinkThatCannotBeWrittenLeavesTheItemLinked: the ticket an item left concerns it no
// more; failing to comment there does not fail the item.
func TestUnlinkThatCannotBeWrittenLeavesTheItemLinked(t *testing.T) {
	pgtest.ForEach(t, testUnlinkThatCannotBeWrittenLeavesTheItemLinked)
}

func testUnlinkThatCannotBeWrittenLeavesTheItemLinked(t *testing.T, db pgtest.Backend) {
	e := newAdoptEnv(t, db)
	first := e.personIssue("acme/old", githubfake.NewIssue{Title: "First"})
	second := e.personIssue(legacyRepo, githubfake.NewIssue{Title: "Second"})
	e.submit(adoptDoc("PM-W", naming("AI-1", first)))
	e.run()
	e.gh.SetReadOnly("acme/old", true)
	e.submit(adoptDoc("PM-W", naming("AI-1", second)))
	e.settle()
	it := e.item("PM-W", "AI-1")
	if it.Sync != ft.SyncLinked || it.LastError != nil || it.Ticket == nil || it.Ticket.Key != second {
		t.Fatalf("item = %+v; want linked to %s, without an error", it, second)
	}
	if _, failed, err := e.st.JobCounts(e.ctx); err != nil || failed != 1 {
		t.Errorf("%d failed jobs (%v); want the one unlink", failed, err)
	}
}
