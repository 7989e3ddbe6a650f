package sync

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/internal/pgtest"
	"github.com/followthrough/followthrough/store"
)

// linkedItem stores a postmortem with one item linked to a GitHub ticket updated at t0, its
// create job done.
func (e *intakeEnv) linkedItem(pmID string) ft.TicketRef {
	e.t.Helper()
	ctx := e.ctx
	if _, err := e.eng.Intake(ctx, testDoc(pmID, item("AI-1", "one"))); err != nil {
		e.t.Fatal(err)
	}
	ref := ft.TicketRef{Kind: ft.GitHub, Key: "acme/a#1", URL: "https://github.example/acme/a/issues/1"}
	err := e.st.Write(ctx, func(tx *store.Tx) error {
		_, err := store.LinkTicket(ctx, tx, pmID, "AI-1", ft.Ticket{Ref: ref, Status: ft.StatusOpen, CreatedAt: t0, UpdatedAt: t0}, "acme/a", t0)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	// The create job is done: only what the tests queue is pending.
	jobs, err := e.st.ClaimJobs(ctx, "w", "github", t0, time.Minute, 10, nil)
	if err != nil || len(jobs) != 1 {
		e.t.Fatalf("claim the create: %v %v", jobs, err)
	}
	if err := e.st.CompleteJob(ctx, jobs[0].ID, t0, nil); err != nil {
		e.t.Fatal(err)
	}
	return ref
}

func apply(t *testing.T, s *store.Store, ev ft.TicketEvent, source, self string) applied {
	t.Helper()
	var a applied
	err := s.Write(context.Background(), func(tx *store.Tx) error {
		var err error
		a, err = applyTicketEvent(context.Background(), tx, ev, source, self, t0.Add(time.Hour))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestApplyTicketEventRules(t *testing.T) { pgtest.ForEach(t, testApplyTicketEventRules) }

func testApplyTicketEventRules(t *testing.T, db pgtest.Backend) {
	e := newIntakeEnv(t, db)
	s, ctx := e.st, e.ctx
	ref := e.linkedItem("PM-1")
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

	steps := []struct {
		name       string
		ev         ft.TicketEvent
		self       string
		wantIgnore string
		wantChange bool
		wantStatus ft.Status
		activity   bool
	}{
		{"not ours", ft.TicketEvent{Ref: ft.TicketRef{Kind: ft.GitHub, Key: "acme/a#99"}, Status: ft.StatusDone, UpdatedAt: at(1)},
			"", ignoredNotOurs, false, ft.StatusOpen, false},
		{"closed by a person", ft.TicketEvent{Ref: ref, Status: ft.StatusDone, Actor: "bob", Activity: true, UpdatedAt: at(2)},
			"bot", "", true, ft.StatusDone, true},
		{"older reopen", ft.TicketEvent{Ref: ref, Status: ft.StatusOpen, Actor: "bob", Activity: true, UpdatedAt: at(1)},
			"bot", ignoredOlder, false, ft.StatusDone, false},
		{"same time, other case in the key", ft.TicketEvent{Ref: ft.TicketRef{Kind: ft.GitHub, Key: "Acme/A#1"},
			Status: ft.StatusWontDo, Actor: "bob", UpdatedAt: at(2)}, "bot", "", true, ft.StatusWontDo, false},
		{"our own reopen", ft.TicketEvent{Ref: ref, Status: ft.StatusOpen, Actor: "bot", Activity: true, UpdatedAt: at(3)},
			"bot", "", false, ft.StatusWontDo, false},
		{"a comment", ft.TicketEvent{Ref: ref, Status: ft.StatusWontDo, Actor: "carol", Activity: true, UpdatedAt: at(4)},
			"bot", "", false, ft.StatusWontDo, true},
		{"deleted", ft.TicketEvent{Ref: ref, Deleted: true, Actor: "carol", UpdatedAt: at(4)},
			"bot", "", false, ft.StatusWontDo, false},
		{"after deletion", ft.TicketEvent{Ref: ref, Status: ft.StatusOpen, Actor: "carol", UpdatedAt: at(9)},
			"bot", ignoredDeleted, false, ft.StatusWontDo, false},
	}
	for _, step := range steps {
		a := apply(t, s, step.ev, "github", step.self)
		if a.Ignored != step.wantIgnore || a.StatusChanged != step.wantChange || a.Activity != step.activity {
			t.Fatalf("%s: %+v", step.name, a)
		}
		it, err := s.LoadItem(ctx, "PM-1", "AI-1")
		if err != nil {
			t.Fatal(err)
		}
		if it.Status != step.wantStatus {
			t.Fatalf("%s: status %s, want %s", step.name, it.Status, step.wantStatus)
		}
	}
	it, _ := s.LoadItem(ctx, "PM-1", "AI-1")
	if !it.LastActivity.Equal(at(4)) || !it.TicketUpdated.Equal(at(4)) {
		t.Fatalf("activity %v, ticket updated %v", it.LastActivity, it.TicketUpdated)
	}
	pm, _ := s.Postmortem(ctx, "PM-1")
	got := pm.Items[0]
	if got.Sync != ft.SyncFailed || got.LastError == nil || !strings.Contains(*got.LastError, "acme/a#1 was deleted") {
		t.Fatalf("after deletion: sync %s error %v", got.Sync, got.LastError)
	}
	_, byItem, _ := s.PostmortemWithHistory(ctx, "PM-1")
	h := byItem["AI-1"]
	if len(h) != 2 || h[0].Source != "github" || h[0].Actor != "bob" || h[1].To != ft.StatusWontDo {
		t.Fatalf("history %+v", h)
	}
}

func TestApplyTicketEventWaitsForOurPush(t *testing.T) {
	pgtest.ForEach(t, testApplyTicketEventWaitsForOurPush)
}

func testApplyTicketEventWaitsForOurPush(t *testing.T, db pgtest.Backend) {
	e := newIntakeEnv(t, db)
	s, ctx := e.st, e.ctx
	ref := e.linkedItem("PM-1")
	err := s.Write(ctx, func(tx *store.Tx) error {
		if _, err := store.SetItemStatus(ctx, tx, "PM-1", "AI-1", ft.StatusDone, ft.SourceAPI, "", t0); err != nil {
			return err
		}
		return store.Enqueue(ctx, tx, store.Job{Kind: jobSetStatus, PostmortemID: "PM-1", ItemID: "AI-1", Tracker: "github"}, t0)
	})
	if err != nil {
		t.Fatal(err)
	}
	// Someone edits the ticket before our push: it still shows open, and that must not undo
	// the change made through the API.
	a := apply(t, s, ft.TicketEvent{Ref: ref, Status: ft.StatusOpen, Actor: "bob", Activity: true, UpdatedAt: t0.Add(time.Minute)}, "github", "bot")
	if a.StatusChanged || !a.Activity {
		t.Fatalf("%+v", a)
	}
	if it, _ := s.LoadItem(ctx, "PM-1", "AI-1"); it.Status != ft.StatusDone {
		t.Fatalf("status %s, want done", it.Status)
	}
}

func TestRetryFailedRevivesJobsAndReplacesDeletedTickets(t *testing.T) {
	pgtest.ForEach(t, testRetryFailedRevivesJobsAndReplacesDeletedTickets)
}

func testRetryFailedRevivesJobsAndReplacesDeletedTickets(t *testing.T, db pgtest.Backend) {
	e := newIntakeEnv(t, db)
	s, ctx := e.st, e.ctx
	ref := e.linkedItem("PM-1")
	// A given-up update job, then the ticket is deleted.
	if err := s.Write(ctx, func(tx *store.Tx) error {
		return store.Enqueue(ctx, tx, store.Job{Kind: jobUpdateTicket, PostmortemID: "PM-1", ItemID: "AI-1", Tracker: "github"}, t0)
	}); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.ClaimJobs(ctx, "w", "github", t0, time.Minute, 10, nil)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	if err := s.Write(ctx, func(tx *store.Tx) error { return failJob(ctx, tx, jobs[0], 1, t0, "github update: 404: gone") }); err != nil {
		t.Fatal(err)
	}
	apply(t, s, ft.TicketEvent{Ref: ref, Deleted: true, UpdatedAt: t0.Add(time.Minute)}, "github", "bot")

	e.clock.Set(t0.Add(time.Hour))
	wakes := e.eng.Wakes()
	if _, err := e.eng.Retry(ctx, "PM-1"); err != nil || e.eng.Wakes() != wakes+1 {
		t.Fatalf("retry: %d items retried, %v", e.eng.Wakes()-wakes, err)
	}
	it, _ := s.LoadItem(ctx, "PM-1", "AI-1")
	if it.Ticket != nil || it.Sync != ft.SyncPending {
		t.Fatalf("after retry: ticket %v sync %s", it.Ticket, it.Sync)
	}
	jobs, err = s.ClaimJobs(ctx, "w", "github", t0.Add(time.Hour), time.Minute, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The revived update runs first; the new create waits behind it.
	if len(jobs) != 1 || jobs[0].Kind != jobUpdateTicket || jobs[0].Attempts != 0 {
		t.Fatalf("jobs %+v", jobs)
	}
	if err := s.CompleteJob(ctx, jobs[0].ID, t0.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	jobs, _ = s.ClaimJobs(ctx, "w", "github", t0.Add(time.Hour), time.Minute, 10, nil)
	if len(jobs) != 1 || jobs[0].Kind != jobCreateTicket {
		t.Fatalf("jobs %+v", jobs)
	}
	e.clock.Set(t0.Add(2 * time.Hour))
	wakes = e.eng.Wakes()
	if _, err := e.eng.Retry(ctx, "PM-1"); err != nil || e.eng.Wakes() != wakes {
		t.Fatalf("second retry: %d items retried, %v", e.eng.Wakes()-wakes, err)
	}
	if _, err := e.eng.Retry(ctx, "PM-2"); !errors.Is(err, ft.ErrNotFound) {
		t.Fatalf("unknown postmortem: %v", err)
	}
}

func TestFailUnconfiguredWork(t *testing.T) { pgtest.ForEach(t, testFailUnconfiguredWork) }

func testFailUnconfiguredWork(t *testing.T, db pgtest.Backend) {
	e := newIntakeEnv(t, db)
	s, ctx := e.st, e.ctx
	jiraTarget := ft.Target{Kind: ft.Jira, Project: "PAY", IssueType: "Task"}
	if _, err := e.eng.Intake(ctx, WithTargets(testDoc("PM-1", item("AI-1", "x"), item("AI-2", "y")), []ft.Target{repoA, jiraTarget})); err != nil {
		t.Fatal(err)
	}
	n, err := e.eng.failUnconfiguredWork(ctx, []string{"", "github"}, t0)
	if err != nil || n != 1 {
		t.Fatalf("failed %d jobs, %v; want the one jira job", n, err)
	}
	jira, _ := s.LoadItem(ctx, "PM-1", "AI-2")
	gh, _ := s.LoadItem(ctx, "PM-1", "AI-1")
	if jira.Sync != ft.SyncFailed || gh.Sync != ft.SyncPending {
		t.Fatalf("sync: jira item %s, github item %s; want failed and pending", jira.Sync, gh.Sync)
	}
	pending, failed, _ := s.JobCounts(ctx)
	if pending != 1 || failed != 1 {
		t.Fatalf("jobs: %d pending, %d failed", pending, failed)
	}
}
