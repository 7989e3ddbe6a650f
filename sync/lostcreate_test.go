package sync_test

import (
	"bytes"
	"cmp"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	gosync "sync"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/connectors/github"
	"github.com/followthrough/followthrough/internal/pgtest"
	"github.com/followthrough/followthrough/sync"
)

// A lost create in A, then the item moves to B and the create job's create in B is refused
// for good: the move job makes B's ticket, and the stray in A is still closed.
func TestStrayLeftOpenWhenCreateJobFails(t *testing.T) {
	pgtest.ForEach(t, testStrayLeftOpenWhenCreateJobFails)
}

func testStrayLeftOpenWhenCreateJobFails(t *testing.T, db pgtest.Backend) {
	e := newTWEnv(t, db)
	const repoA, repoB = "acme/a", "acme/b"
	e.gh.LoseNextResponse("POST", "/repos/"+repoA+"/issues")
	e.revise("PM-X", [2]string{"AI-1", repoA})
	e.run() // made in A, answer lost
	e.gh.FailNextMatching(1, "POST", "/repos/"+repoB+"/issues", 422)
	e.revise("PM-X", [2]string{"AI-1", repoB})
	e.settle()
	it := e.item("PM-X", "AI-1")
	t.Logf("item ticket=%+v sync=%s err=%v", it.Ticket, it.Sync, it.LastError)
	if n := e.openIssues(repoA); n != 0 {
		t.Fatalf("%s has %d open issue(s) nobody follows (stray from the lost create)", repoA, n)
	}
}

// hookTracker runs a hook after FindByMarker answers, i.e. while the engine is between
// loading the item and acting on what it found.
type hookTracker struct {
	ft.Tracker
	hook func()
}

func (h *hookTracker) FindByMarker(ctx context.Context, target ft.Target, marker string) (ft.Ticket, bool, error) {
	t, ok, err := h.Tracker.FindByMarker(ctx, target, marker)
	if h.hook != nil {
		f := h.hook
		h.hook = nil
		f()
	}
	return t, ok, err
}

// A lost create, then the item is removed, and comes back while the next attempt looks for
// the lost ticket: the decision is made on the item as it is then, so there is one ticket.
func TestRemovedThenRestoredDuringLookupMakesSecondTicket(t *testing.T) {
	pgtest.ForEach(t, testRemovedThenRestoredDuringLookupMakesSecondTicket)
}

func testRemovedThenRestoredDuringLookupMakesSecondTicket(t *testing.T, db pgtest.Backend) {
	e := newTWEnv(t, db)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ghTr, err := github.New(e.cfg.GitHub, nil, github.Options{Logger: logger, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ht := &hookTracker{Tracker: ghTr}
	e.eng = sync.New(sync.Options{Store: e.st, Config: e.cfg, Clock: e.clock, Logger: logger,
		Trackers: map[ft.TrackerKind]ft.Tracker{ft.GitHub: ht, ft.Jira: e.jiraTr}})
	e.gh.LoseNextResponse("POST", "/repos/"+twRepo+"/issues")
	e.revise("PM-Y", [2]string{"AI-1"})
	e.run()                                                  // made, answer lost
	e.revise("PM-Y")                                         // removed
	ht.hook = func() { e.revise("PM-Y", [2]string{"AI-1"}) } // back, during the lookup
	e.settle()
	it := e.item("PM-Y", "AI-1")
	t.Logf("item ticket=%+v sync=%s status=%s", it.Ticket, it.Sync, it.Status)
	if n := len(e.gh.Issues(twRepo)); n != 1 {
		for _, is := range e.gh.Issues(twRepo) {
			t.Logf("issue #%d %s %s", is.Number, is.State, is.StateReason)
		}
		t.Fatalf("%d issues for one item after one lost create; want 1", n)
	}
}

// Jira P → GitHub → back to Jira P, and the create back in P is lost: the lookup by marker
// in P must not take the item's old closed ticket for the lost one.
func TestJiraMoveBackLostCreateLinksOldTicket(t *testing.T) {
	pgtest.ForEach(t, testJiraMoveBackLostCreateLinksOldTicket)
}

func testJiraMoveBackLostCreateLinksOldTicket(t *testing.T, db pgtest.Backend) {
	e := newTWEnv(t, db)
	pmID := "PM-J"
	jiraT := ft.Target{Kind: ft.Jira, Project: twProject, IssueType: "Task"}
	ghT := ft.Target{Kind: ft.GitHub, Repo: twRepo}
	doc := func(tg ft.Target) (*ft.Document, []ft.Target) {
		signed := twStart
		tcopy := tg
		return &ft.Document{ID: pmID, Title: "Outage", Status: "finalized", SignedOffBy: []string{"carol@acme.com"},
			SignedOffAt: &signed, ActionItems: []ft.ActionItem{{ID: "AI-1", Title: "Do it", Owner: "bob@acme.com",
				Priority: "P1", Tracker: &tcopy}}}, []ft.Target{tg}
	}
	intake := func(tg ft.Target) {
		d, ts := doc(tg)
		if _, err := e.eng.Intake(e.ctx, sync.WithTargets(d, ts)); err != nil {
			t.Fatal(err)
		}
	}
	intake(jiraT)
	e.settle()
	first := e.item(pmID, "AI-1").Ticket
	intake(ghT)
	e.settle()
	e.jf.SetSearchLag(e.cfg.Jira.SearchLag)
	e.jf.LoseNextResponse("POST", "/rest/api/2/issue")
	intake(jiraT)
	e.run() // create lost
	e.clock.Advance(2 * time.Second)
	e.run() // looks for it within the search lag
	e.settle()
	it := e.item(pmID, "AI-1")
	t.Logf("first=%+v now=%+v", first, it.Ticket)
	for _, is := range e.jf.Issues(twProject) {
		t.Logf("jira %s status=%s", is.Key, is.Status)
	}
	open := 0
	for _, is := range e.jf.Issues(twProject) {
		if is.Status != "Done" && is.Status != "Won't Do" {
			open++
		}
	}
	if it.Ticket != nil && it.Ticket.Key == first.Key {
		t.Fatalf("item re-linked to its old ticket %s; %d open Jira issues", first.Key, open)
	}
	if open != 1 {
		t.Fatalf("%d open Jira issues; want 1", open)
	}
}

// The item's ticket was deleted (sync: failed); a revision moves the item: the new ticket is
// linked, and closing the deleted one neither fails nor marks the item failed.
func TestMoveAfterDeletionShowsFailedWhileLinked(t *testing.T) {
	pgtest.ForEach(t, testMoveAfterDeletionShowsFailedWhileLinked)
}

func testMoveAfterDeletionShowsFailedWhileLinked(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	const repoA, repoB = "acme/a", "acme/b"
	env.revise("PM-D", [2]string{"AI-1", repoA})
	env.run()
	key := env.item("PM-D", "AI-1").Ticket.Key
	env.tick()
	payload := env.githubPayload("deleted.payload.json", "deleted", key, twPerson)
	if err := env.gh.DeleteIssue(repoA, 1); err != nil {
		t.Fatal(err)
	}
	env.deliver("github", nextDelivery(), "issues", payload)
	env.revise("PM-D", [2]string{"AI-1", repoB})
	env.settle()
	if _, err := env.eng.Retry(env.ctx, "PM-D"); err != nil {
		t.Fatal(err)
	}
	env.settle()
	it := env.item("PM-D", "AI-1")
	t.Logf("ticket=%+v sync=%s err=%v", it.Ticket, it.Sync, it.LastError)
	if it.Ticket != nil && it.Ticket.Key == repoB+"#1" && it.Sync != ft.SyncLinked {
		t.Fatalf("item linked to %s but shows sync %s: %v", it.Ticket.Key, it.Sync, *it.LastError)
	}
}

// A create's answer is lost and the owner closes the new issue as completed before the next
// attempt (its webhook is ignored: not ours yet). The next attempt finds the issue by its
// marker and takes the owner's status; it does not push the item's stale "open" onto it.
func TestFoundTicketStatusIsOverwritten(t *testing.T) {
	pgtest.ForEach(t, testFoundTicketStatusIsOverwritten)
}

func testFoundTicketStatusIsOverwritten(t *testing.T, db pgtest.Backend) {
	e := newTWEnv(t, db)
	e.gh.LoseNextResponse("POST", "/repos/"+twRepo+"/issues")
	e.revise("PM-F", [2]string{"AI-1"})
	e.run() // made, answer lost
	e.tick()
	if err := e.gh.CloseIssue(twRepo, 1, "completed", twPerson); err != nil {
		t.Fatal(err)
	}
	e.deliver("github", nextDelivery(), "issues", e.githubPayload("issues.closed.json", "closed", twRepo+"#1", twPerson))
	e.settle()
	it := e.item("PM-F", "AI-1")
	is, _ := e.gh.Issue(twRepo, 1)
	t.Logf("item status=%s sync=%s; issue state=%s", it.Status, it.Sync, is.State)
	if is.State != "closed" || it.Status != ft.StatusDone {
		t.Fatalf("owner closed the issue as completed; now issue %s, item %s", is.State, it.Status)
	}
}

// slowCreate advances the clock before the real create: time spent inside Create before the
// POST lands (Jira's assignee lookup, GitHub's pacer, a slow server).
type slowCreate struct {
	ft.Tracker
	before func()
}

func (s *slowCreate) Create(ctx context.Context, nt ft.NewTicket) (ft.Ticket, error) {
	if s.before != nil {
		s.before()
	}
	return s.Tracker.Create(ctx, nt)
}

// The settle wait counts from when the create's outcome was lost, not from before Create was
// called: a Jira issue that landed 25 s into the call, still hidden by the search lag at the
// next attempt, is waited for rather than made twice.
func TestSettleCountsFromBeforeTheSend(t *testing.T) {
	pgtest.ForEach(t, testSettleCountsFromBeforeTheSend)
}

func testSettleCountsFromBeforeTheSend(t *testing.T, db pgtest.Backend) {
	e := newTWEnv(t, db)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	sc := &slowCreate{Tracker: e.jiraTr}
	e.eng = sync.New(sync.Options{Store: e.st, Config: e.cfg, Clock: e.clock, Logger: logger,
		Trackers: map[ft.TrackerKind]ft.Tracker{ft.Jira: sc}})
	e.jf.SetSearchLag(e.cfg.Jira.SearchLag) // the configured lag is the real one
	first := true
	sc.before = func() {
		if first {
			first = false
			e.clock.Advance(25 * time.Second)
		}
	}
	e.jf.LoseNextResponse("POST", "/rest/api/2/issue")
	jt := ft.Target{Kind: ft.Jira, Project: twProject, IssueType: "Task"}
	signed := twStart
	doc := &ft.Document{ID: "PM-Z", Title: "Outage", Status: "finalized", SignedOffBy: []string{"c@acme.com"},
		SignedOffAt: &signed, ActionItems: []ft.ActionItem{{ID: "AI-1", Title: "x", Owner: "bob@acme.com", Priority: "P1", Tracker: &jt}}}
	if _, err := e.eng.Intake(e.ctx, sync.WithTargets(doc, []ft.Target{jt})); err != nil {
		t.Fatal(err)
	}
	e.run() // issue made at +25 s, answer lost
	e.clock.Advance(6 * time.Second)
	e.run() // 31 s after MarkInFlight, 6 s after the issue landed: hidden by the lag
	e.settle()
	if n := len(e.jf.Issues(twProject)); n != 1 {
		t.Fatalf("%d Jira issues for one item; want 1", n)
	}
}

// A receiver's URL may carry its credential: no log line of the worker shows it.
func TestNotifyURLInJobLogs(t *testing.T) { pgtest.ForEach(t, testNotifyURLInJobLogs) }

func testNotifyURLInJobLogs(t *testing.T, db pgtest.Backend) {
	e := newTWEnv(t, db)
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	e.cfg.Notify[0].URL = e.recv.srv.URL + "/hook/SECRET-TOKEN-123"
	e.eng = sync.New(sync.Options{Store: e.st, Config: e.cfg, Clock: e.clock, Logger: logger,
		Trackers: map[ft.TrackerKind]ft.Tracker{ft.GitHub: e.engTracker(t)}})
	e.revise("PM-N", [2]string{"AI-1"})
	e.run()
	if _, err := e.eng.SetItemStatus(e.ctx, "PM-N", "AI-1", ft.StatusDone); err != nil {
		t.Fatal(err)
	}
	e.run()
	if strings.Contains(buf.String(), "SECRET-TOKEN-123") {
		for _, l := range strings.Split(buf.String(), "\n") {
			if strings.Contains(l, "SECRET-TOKEN-123") {
				t.Log(l)
				break
			}
		}
		t.Fatal("the notify URL's secret path is in the logs")
	}
}

func (e *twEnv) engTracker(t *testing.T) ft.Tracker {
	gh, err := github.New(e.cfg.GitHub, nil, github.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return gh
}

// lateTransport holds back the first comment POST: it answers the caller with a timeout at once
// and delivers the request only when released, as a tracker that finishes a write after the
// client stopped waiting.
type lateTransport struct {
	mu      gosync.Mutex
	held    bool
	release chan struct{}
	landed  chan struct{}
}

func (l *lateTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	l.mu.Lock()
	hold := !l.held && req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/comments")
	if hold {
		l.held = true
	}
	l.mu.Unlock()
	if !hold {
		return http.DefaultTransport.RoundTrip(req)
	}
	body, _ := io.ReadAll(req.Body)
	late := req.Clone(context.Background())
	late.Body = io.NopCloser(bytes.NewReader(body))
	go func() {
		<-l.release
		if resp, err := http.DefaultTransport.RoundTrip(late); err == nil {
			resp.Body.Close()
		}
		close(l.landed)
	}()
	return nil, &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
}

// A removal comment whose POST lands after the client gave up is not written again by the
// retry: the job waits the settle time before it looks for the comment.
func TestCommentThatLandsLateIsWrittenOnce(t *testing.T) {
	pgtest.ForEach(t, testCommentThatLandsLateIsWrittenOnce)
}

func testCommentThatLandsLateIsWrittenOnce(t *testing.T, db pgtest.Backend) {
	e := newTWEnv(t, db)
	late := &lateTransport{release: make(chan struct{}), landed: make(chan struct{})}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	gh, err := github.New(e.cfg.GitHub, nil, github.Options{Logger: logger, Now: e.clock.Now, Transport: late})
	if err != nil {
		t.Fatal(err)
	}
	e.eng = sync.New(sync.Options{Store: e.st, Config: e.cfg, Clock: e.clock, Logger: logger,
		Trackers: map[ft.TrackerKind]ft.Tracker{ft.GitHub: gh}})
	e.revise("PM-C", [2]string{"AI-1"}, [2]string{"AI-2"})
	e.run()
	e.revise("PM-C", [2]string{"AI-2"}) // AI-1 removed: its ticket is closed with a comment
	e.run()                             // the comment POST is held back; the caller sees a timeout
	e.clock.Advance(2 * time.Second)
	e.run() // a retry now would not see the comment yet
	close(late.release)
	<-late.landed
	e.settle()
	key := e.item("PM-C", "AI-1").Ticket.Key
	repo, num := splitGitHubKey(t, key)
	is, _ := e.gh.Issue(repo, num)
	if len(is.Comments) != 1 || is.State != "closed" {
		t.Fatalf("%s: %d comments, state %s; want one comment and closed", key, len(is.Comments), is.State)
	}
	if pending, failed, _ := e.st.JobCounts(e.ctx); pending != 0 || failed != 0 {
		t.Fatalf("jobs: %d pending, %d failed", pending, failed)
	}
}

// giveUpInFlight makes the item (alone in postmortem pmID, in its own repository ownRepo, or
// routed to twRepo when "") a create whose answer is lost, then has the job given up while the
// create is still in flight: the lookup for the lost ticket is refused for good. The item
// shows sync: failed.
func (e *twEnv) giveUpInFlight(pmID, itemID, ownRepo string) {
	e.t.Helper()
	repo := cmp.Or(ownRepo, twRepo)
	e.gh.LoseNextResponse("POST", "/repos/"+repo+"/issues")
	e.revise(pmID, [2]string{itemID, ownRepo})
	e.run() // made, answer lost
	e.gh.FailNextMatching(1, "GET", "/repos/"+repo+"/issues", http.StatusForbidden)
	e.settle() // the lookup is refused: the job is given up, its create in flight
	if it := e.item(pmID, itemID); it.Sync != ft.SyncFailed {
		e.t.Fatalf("item = %+v; want sync failed after the lookup was refused", it)
	}
}

// A lost create, then its job is given up while the create is still in flight (the lookup
// for the lost ticket is refused for good). Later work that gives the item a ticket must look
// for the lost one first: a revision that removes the item and brings it back queues a new
// create, which must not open a second ticket in the same repository.
func TestCreateGivenUpInFlightThenRestoredMakesNoSecondTicket(t *testing.T) {
	pgtest.ForEach(t, testCreateGivenUpInFlightThenRestoredMakesNoSecondTicket)
}

func testCreateGivenUpInFlightThenRestoredMakesNoSecondTicket(t *testing.T, db pgtest.Backend) {
	e := newTWEnv(t, db)
	e.giveUpInFlight("PM-G", "AI-1", "")
	e.revise("PM-G")                    // removed
	e.revise("PM-G", [2]string{"AI-1"}) // and back
	e.settle()
	it := e.item("PM-G", "AI-1")
	if n := len(e.gh.Issues(twRepo)); n != 1 {
		for _, is := range e.gh.Issues(twRepo) {
			t.Logf("issue #%d %s", is.Number, is.State)
		}
		t.Fatalf("%d issues for one item after one lost create; want 1 (item %+v)", n, it)
	}
	if it.Ticket == nil || it.Ticket.Key != twRepo+"#1" || it.Sync != ft.SyncLinked {
		t.Fatalf("item = %+v; want linked to the lost create's %s#1", it, twRepo)
	}
}

// The same, but the revision moves the item to another repository: the ticket the lost create
// made where the item no longer goes is closed, not left open and unfollowed.
func TestCreateGivenUpInFlightThenMovedClosesTheStray(t *testing.T) {
	pgtest.ForEach(t, testCreateGivenUpInFlightThenMovedClosesTheStray)
}

func testCreateGivenUpInFlightThenMovedClosesTheStray(t *testing.T, db pgtest.Backend) {
	e := newTWEnv(t, db)
	const repoA, repoB = "acme/a", "acme/b"
	e.giveUpInFlight("PM-G", "AI-1", repoA)
	e.revise("PM-G", [2]string{"AI-1", repoB})
	e.settle()
	it := e.item("PM-G", "AI-1")
	if it.Ticket == nil || it.Ticket.Key != repoB+"#1" {
		t.Fatalf("item = %+v; want its ticket in %s", it, repoB)
	}
	if n := e.openIssues(repoA); n != 0 {
		t.Fatalf("%s has %d open issue(s) nobody follows (the lost create's)", repoA, n)
	}
}

// The same, but the revision removes the item for good: the ticket the given-up create made is
// closed as not planned, not left open and unfollowed.
func TestCreateGivenUpInFlightThenRemovedClosesTheStray(t *testing.T) {
	pgtest.ForEach(t, testCreateGivenUpInFlightThenRemovedClosesTheStray)
}

func testCreateGivenUpInFlightThenRemovedClosesTheStray(t *testing.T, db pgtest.Backend) {
	e := newTWEnv(t, db)
	e.giveUpInFlight("PM-G", "AI-1", "")
	e.revise("PM-G") // removed
	e.settle()
	if n := e.openIssues(twRepo); n != 0 {
		t.Fatalf("%s has %d open issue(s) nobody follows (the lost create's)", twRepo, n)
	}
	if is, _ := e.gh.Issue(twRepo, 1); is.StateReason != "not_planned" {
		t.Fatalf("lost create's issue %+v; want closed as not planned", is)
	}
}
