package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
)

func openTest(t testing.TB) *Store {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "ft.db"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func testDoc(id string, items ...ft.ActionItem) *ft.Document {
	signed := t0
	return &ft.Document{ID: id, Title: "Outage " + id, Status: "finalized", Team: "payments",
		SignedOffBy: []string{"carol@acme.com"}, SignedOffAt: &signed, ActionItems: items}
}

func item(id, title string) ft.ActionItem {
	return ft.ActionItem{ID: id, Title: title, Owner: "bob@acme.com", Priority: "P1"}
}

func targets(n int, t ft.Target) []ft.Target {
	out := make([]ft.Target, n)
	for i := range out {
		out[i] = t
	}
	return out
}

var repoA = ft.Target{Kind: ft.GitHub, Repo: "acme/a"}
var repoB = ft.Target{Kind: ft.GitHub, Repo: "acme/b"}

type jobRow struct{ Kind, Item string }

func pendingJobs(t *testing.T, s *Store) []jobRow {
	t.Helper()
	rows, err := s.readDB.Query(`SELECT kind, item_id FROM outbox ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []jobRow
	for rows.Next() {
		var j jobRow
		if err := rows.Scan(&j.Kind, &j.Item); err != nil {
			t.Fatal(err)
		}
		out = append(out, j)
	}
	return out
}

func TestIntakeCreatedUnchangedRevised(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	doc := testDoc("PM-1", item("AI-1", "one"), item("AI-2", "two"))
	out, err := s.Intake(ctx, doc, targets(2, repoA), t0)
	if err != nil || out != Created {
		t.Fatalf("first intake = %v, %v; want Created", out, err)
	}
	out, err = s.Intake(ctx, testDoc("PM-1", item("AI-1", "one"), item("AI-2", "two")), targets(2, repoA), t0.Add(time.Hour))
	if err != nil || out != Unchanged {
		t.Fatalf("same again = %v, %v; want Unchanged", out, err)
	}
	if got := pendingJobs(t, s); len(got) != 2 || got[0] != (jobRow{JobCreateTicket, "AI-1"}) || got[1] != (jobRow{JobCreateTicket, "AI-2"}) {
		t.Fatalf("jobs after redelivery = %v", got)
	}

	// Revision: AI-1 changed title, AI-2 removed, AI-3 new.
	out, err = s.Intake(ctx, testDoc("PM-1", item("AI-1", "one, better"), item("AI-3", "three")), targets(2, repoA), t0.Add(2*time.Hour))
	if err != nil || out != Revised {
		t.Fatalf("revision = %v, %v; want Revised", out, err)
	}
	pm, err := s.Postmortem(ctx, "PM-1")
	if err != nil {
		t.Fatal(err)
	}
	if pm.Revision != 2 || len(pm.Items) != 3 {
		t.Fatalf("revision %d with %d items; want 2 with 3", pm.Revision, len(pm.Items))
	}
	removed := pm.Items[2]
	if removed.ID != "AI-2" || !removed.Removed || removed.Status != ft.StatusWontDo {
		t.Fatalf("removed item = %+v", removed)
	}
	if pm.Completion != (ft.Completion{Done: 1, Total: 3, Percent: 33}) {
		t.Fatalf("completion = %+v", pm.Completion)
	}
	want := []jobRow{{JobCreateTicket, "AI-1"}, {JobCreateTicket, "AI-2"}, {JobUpdateTicket, "AI-1"}, {JobCreateTicket, "AI-3"}, {JobCloseRemoved, "AI-2"}}
	if got := pendingJobs(t, s); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("jobs = %v; want %v", got, want)
	}

	// AI-2 returns; AI-3 moves to a repository of its own.
	moved := item("AI-3", "three")
	moved.Tracker = &repoB
	out, err = s.Intake(ctx, testDoc("PM-1", item("AI-1", "one, better"), item("AI-2", "two"), moved),
		[]ft.Target{repoA, repoA, repoB}, t0.Add(3*time.Hour))
	if err != nil || out != Revised {
		t.Fatalf("second revision = %v, %v", out, err)
	}
	want = append(want, jobRow{JobCreateTicket, "AI-2"}, jobRow{JobReopenTicket, "AI-2"}, jobRow{JobMoveTicket, "AI-3"})
	if got := pendingJobs(t, s); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("jobs = %v; want %v", got, want)
	}
	hist, err := s.History(ctx, "PM-1", "AI-2")
	if err != nil || len(hist) != 2 || hist[0].To != ft.StatusWontDo || hist[1].To != ft.StatusOpen {
		t.Fatalf("history of AI-2 = %+v, %v", hist, err)
	}
}

func TestRevisionKeepsWhereRoutesSentAnItem(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if _, err := s.Intake(ctx, testDoc("PM-1", item("AI-1", "one")), targets(1, repoA), t0); err != nil {
		t.Fatal(err)
	}
	// The routes changed (repoB now), but nothing the routes look at did: the item stays.
	if _, err := s.Intake(ctx, testDoc("PM-1", item("AI-1", "one, better")), targets(1, repoB), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	it, err := s.LoadItem(ctx, "PM-1", "AI-1")
	if err != nil || it.Target != repoA {
		t.Fatalf("target = %+v, %v; want %+v", it.Target, err, repoA)
	}
	// A new team is something routes look at: the item follows the routes.
	doc := testDoc("PM-1", item("AI-1", "one, better"))
	doc.Team = "infra"
	if _, err := s.Intake(ctx, doc, targets(1, repoB), t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if it, _ := s.LoadItem(ctx, "PM-1", "AI-1"); it.Target != repoB {
		t.Fatalf("target after a team change = %+v; want %+v", it.Target, repoB)
	}
}

func TestIntakeNoItemsIsCompleted(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if _, err := s.Intake(ctx, testDoc("PM-0"), nil, t0); err != nil {
		t.Fatal(err)
	}
	pm, err := s.Postmortem(ctx, "PM-0")
	if err != nil {
		t.Fatal(err)
	}
	if pm.State != ft.StateCompleted || pm.Completion.Percent != 100 {
		t.Fatalf("state %s, completion %+v; want completed 100", pm.State, pm.Completion)
	}
}

func TestListPaging(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	for i := range 7 {
		// PM-i has i+1 items, so each page shows whether items landed on their own postmortem.
		var items []ft.ActionItem
		for n := range i + 1 {
			items = append(items, item(fmt.Sprintf("AI-%d", n), "x"))
		}
		doc := testDoc(fmt.Sprintf("PM-%d", i), items...)
		signed := t0.Add(time.Duration(i) * time.Hour)
		doc.SignedOffAt = &signed
		if i%2 == 0 {
			doc.Team = "infra"
		}
		if _, err := s.Intake(ctx, doc, targets(len(items), repoA), t0); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	cursor := ""
	for pages := 0; ; pages++ {
		pms, next, err := s.ListPostmortems(ctx, ListFilter{Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, pm := range pms {
			ids = append(ids, pm.ID)
			var n int
			fmt.Sscanf(pm.ID, "PM-%d", &n)
			if len(pm.Items) != n+1 || pm.Completion.Total != n+1 {
				t.Fatalf("%s listed with %d items (completion total %d), want %d", pm.ID, len(pm.Items), pm.Completion.Total, n+1)
			}
		}
		if next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		cursor = next
	}
	if fmt.Sprint(ids) != "[PM-6 PM-5 PM-4 PM-3 PM-2 PM-1 PM-0]" {
		t.Fatalf("pages = %v", ids)
	}
	pms, _, err := s.ListPostmortems(ctx, ListFilter{Team: "infra", Limit: 50})
	if err != nil || len(pms) != 4 {
		t.Fatalf("team filter: %d, %v", len(pms), err)
	}
	if _, _, err := s.ListPostmortems(ctx, ListFilter{Cursor: "not-a-cursor"}); err != ft.ErrBadCursor {
		t.Fatalf("bad cursor err = %v", err)
	}
}

func TestWriteErrorRollsBackOnlyItsOwnWork(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			doc := testDoc(fmt.Sprintf("PM-%d", i), item("AI-1", "x"))
			if i%4 == 0 {
				// Two items with the same id fail on the primary key, after the postmortem row was written.
				doc.ActionItems = append(doc.ActionItems, item("AI-1", "dup"))
				_, errs[i] = s.Intake(ctx, doc, targets(2, repoA), t0)
				return
			}
			_, errs[i] = s.Intake(ctx, doc, targets(1, repoA), t0)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		_, getErr := s.Postmortem(ctx, fmt.Sprintf("PM-%d", i))
		if i%4 == 0 {
			if err == nil || getErr == nil {
				t.Fatalf("PM-%d: intake err %v, get err %v; want both to fail", i, err, getErr)
			}
			continue
		}
		if err != nil || getErr != nil {
			t.Fatalf("PM-%d: intake err %v, get err %v", i, err, getErr)
		}
	}
}

func BenchmarkIntakeGroupCommit(b *testing.B) {
	s := openTest(b)
	ctx := context.Background()
	var n sync.Mutex
	next := 0
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n.Lock()
			next++
			id := fmt.Sprintf("PM-%d", next)
			n.Unlock()
			if _, err := s.Intake(ctx, testDoc(id, item("AI-1", "x"), item("AI-2", "y")), targets(2, repoA), t0); err != nil {
				b.Error(err)
				return
			}
		}
	})
	tx, commits := s.WriteStats()
	b.ReportMetric(float64(tx)/float64(commits), "tx/commit")
}

func TestPruneKeepsUnfinishedJobs(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if _, err := s.Intake(ctx, testDoc("PM-1", item("AI-1", "x"), item("AI-2", "y")), targets(2, repoA), t0); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.ClaimJobs(ctx, "w", "github", t0, time.Minute, 10)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("claimed %d, %v", len(jobs), err)
	}
	if err := s.CompleteJob(ctx, jobs[0].ID, t0, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.FailJob(ctx, jobs[1], 1, t0, "gone"); err != nil {
		t.Fatal(err)
	}
	if err := s.EnqueueNow(ctx, Job{Kind: JobUpdateTicket, PostmortemID: "PM-1", ItemID: "AI-1", Tracker: "github"}, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.PruneInbound(ctx, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, j := range pendingJobs(t, s) {
		left = append(left, j.Kind)
	}
	if fmt.Sprint(left) != "[create_ticket update_ticket]" {
		t.Fatalf("after pruning: %v; want the failed create and the pending update", left)
	}
}

func TestClaimUsesTheOpenJobsIndex(t *testing.T) {
	s := openTest(t)
	rows, err := s.readDB.Query(`EXPLAIN QUERY PLAN SELECT 1 FROM outbox e WHERE e.postmortem_id = 'p'
		AND e.item_id = 'i' AND e.id < 5 AND e.done_at IS NULL AND e.failed_at IS NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	plan := ""
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan += detail + "\n"
	}
	if !strings.Contains(plan, "outbox_open_item") {
		t.Fatalf("plan does not use outbox_open_item:\n%s", plan)
	}
}

func TestOneProcessOwnsADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ft.db")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	first, err := Open(context.Background(), path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), path, quiet); err == nil || !strings.Contains(err.Error(), "in use by another followthrough process") {
		t.Fatalf("second open: %v; want the database in use", err)
	}
	first.Close()
	again, err := Open(context.Background(), path, quiet)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	again.Close()
}

func TestRevisionStatusChangesReachTheHook(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	var got []string
	s.SetStatusHook(func(ctx context.Context, tx *Tx, pmID, itemID string, from, to ft.Status, source string, now time.Time) error {
		got = append(got, fmt.Sprintf("%s/%s %s->%s %s", pmID, itemID, from, to, source))
		return nil
	})
	steps := [][]ft.ActionItem{
		{item("AI-1", "x"), item("AI-2", "y")},
		{item("AI-1", "x")},                    // AI-2 removed
		{item("AI-1", "x"), item("AI-2", "y")}, // AI-2 back
	}
	for i, items := range steps {
		if _, err := s.Intake(ctx, testDoc("PM-1", items...), targets(len(items), repoA), t0.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	want := "[PM-1/AI-2 open->wont_do revision PM-1/AI-2 wont_do->open revision]"
	if fmt.Sprint(got) != want {
		t.Fatalf("hook calls = %v; want %s", got, want)
	}
}

func TestFailUnconfiguredWork(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	jiraTarget := ft.Target{Kind: ft.Jira, Project: "PAY", IssueType: "Task"}
	if _, err := s.Intake(ctx, testDoc("PM-1", item("AI-1", "x"), item("AI-2", "y")), []ft.Target{repoA, jiraTarget}, t0); err != nil {
		t.Fatal(err)
	}
	n, err := s.FailUnconfiguredWork(ctx, []string{"", "github"}, t0)
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
