package sync

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/internal/pgtest"
	"github.com/followthrough/followthrough/internal/testclock"
	"github.com/followthrough/followthrough/store"
)

// intakeEnv is an engine (not running: the tests look at what it stores and queues) on a store
// in a new database of the backend, with GitHub and Jira configured, every item routed to acme/a, and a
// notify URL that hears item.status_changed.
type intakeEnv struct {
	t     *testing.T
	ctx   context.Context
	clock *testclock.Clock
	cfg   *config.Config
	st    *store.Store
	eng   *Engine
	db    *sql.DB // the same database, read directly
}

var (
	t0    = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	repoA = ft.Target{Kind: ft.GitHub, Repo: "acme/a"}
	repoB = ft.Target{Kind: ft.GitHub, Repo: "acme/b"}
)

func newIntakeEnv(t *testing.T, on pgtest.Backend) *intakeEnv {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	path := on.Database(t)
	st, err := store.Open(ctx, path, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	driver, dsn := "sqlite", "file:"+path+"?mode=ro"
	if ft.IsPostgresURL(path) {
		driver, dsn = "pgx", path
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := config.Default()
	cfg.GitHub = config.DefaultGitHub()
	cfg.GitHub.Token = "ghp_test"
	cfg.Jira = config.DefaultJira()
	cfg.Jira.URL = "https://acme.atlassian.net"
	cfg.Routes = []config.Route{{To: config.RouteTarget{Kind: "github", Repo: repoA.Repo}}}
	cfg.Notify = []config.Notify{{URL: "https://hooks.example.com/ft", Secret: "whsec_c2VjcmV0",
		Events: []string{ft.EventStatusChanged}}}
	clock := testclock.New(t0)
	eng := New(Options{Store: st, Config: cfg, Clock: clock, Logger: logger})
	return &intakeEnv{t: t, ctx: ctx, clock: clock, cfg: cfg, st: st, eng: eng, db: db}
}

func testDoc(id string, items ...ft.ActionItem) *ft.Document {
	signed := t0
	if items == nil {
		items = []ft.ActionItem{}
	}
	return &ft.Document{ID: id, Title: "Outage " + id, Status: "finalized", Team: "payments",
		SignedOffBy: []string{"carol@acme.com"}, SignedOffAt: &signed, ActionItems: items}
}

func item(id, title string) ft.ActionItem {
	return ft.ActionItem{ID: id, Title: title, Owner: "bob@acme.com", Priority: "P1"}
}

type jobRow struct{ Kind, Item string }

// jobs is the outbox, oldest first, without notifications.
func (e *intakeEnv) jobs() []jobRow {
	e.t.Helper()
	rows, err := e.db.Query(`SELECT kind, item_id FROM outbox WHERE kind <> '` + jobNotify + `' ORDER BY id`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []jobRow
	for rows.Next() {
		var j jobRow
		if err := rows.Scan(&j.Kind, &j.Item); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, j)
	}
	return out
}

// statusEvents are the queued item.status_changed events, oldest first, as
// "<postmortem>/<item> <from>-><to> <source>".
func (e *intakeEnv) statusEvents() []string {
	e.t.Helper()
	rows, err := e.db.Query(`SELECT payload FROM outbox WHERE kind = '` + jobNotify + `' ORDER BY id`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			e.t.Fatal(err)
		}
		var p struct {
			Body struct {
				Type string `json:"type"`
				Data struct {
					ID     string        `json:"id"`
					Item   ft.ItemView   `json:"item"`
					Change *StatusChange `json:"change"`
				} `json:"data"`
			} `json:"body"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			e.t.Fatal(err)
		}
		d := p.Body.Data
		if p.Body.Type == ft.EventStatusChanged {
			out = append(out, fmt.Sprintf("%s/%s %s->%s %s", d.ID, d.Item.ID, d.Change.From, d.Change.To, d.Change.Source))
		}
	}
	return out
}

func TestIntakeCreatedUnchangedRevised(t *testing.T) {
	pgtest.ForEach(t, testIntakeCreatedUnchangedRevised)
}

func testIntakeCreatedUnchangedRevised(t *testing.T, db pgtest.Backend) {
	e := newIntakeEnv(t, db)
	s, ctx := e.st, e.ctx
	doc := testDoc("PM-1", item("AI-1", "one"), item("AI-2", "two"))
	out, err := e.eng.Intake(ctx, doc)
	if err != nil || out != ft.IntakeCreated {
		t.Fatalf("first intake = %v, %v; want Created", out, err)
	}
	e.clock.Set(t0.Add(time.Hour))
	out, err = e.eng.Intake(ctx, testDoc("PM-1", item("AI-1", "one"), item("AI-2", "two")))
	if err != nil || out != ft.IntakeUnchanged {
		t.Fatalf("same again = %v, %v; want Unchanged", out, err)
	}
	if got := e.jobs(); len(got) != 2 || got[0] != (jobRow{jobCreateTicket, "AI-1"}) || got[1] != (jobRow{jobCreateTicket, "AI-2"}) {
		t.Fatalf("jobs after redelivery = %v", got)
	}

	// Revision: AI-1 changed title, AI-2 removed, AI-3 new.
	e.clock.Set(t0.Add(2 * time.Hour))
	out, err = e.eng.Intake(ctx, testDoc("PM-1", item("AI-1", "one, better"), item("AI-3", "three")))
	if err != nil || out != ft.IntakeRevised {
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
	want := []jobRow{{jobCreateTicket, "AI-1"}, {jobCreateTicket, "AI-2"}, {jobUpdateTicket, "AI-1"},
		{jobCreateTicket, "AI-3"}, {jobCloseRemoved, "AI-2"}}
	if got := e.jobs(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("jobs = %v; want %v", got, want)
	}

	// AI-2 returns; AI-3 moves to a repository of its own.
	moved := item("AI-3", "three")
	moved.Tracker = &repoB
	e.clock.Set(t0.Add(3 * time.Hour))
	out, err = e.eng.Intake(ctx, testDoc("PM-1", item("AI-1", "one, better"), item("AI-2", "two"), moved))
	if err != nil || out != ft.IntakeRevised {
		t.Fatalf("second revision = %v, %v", out, err)
	}
	want = append(want, jobRow{jobCreateTicket, "AI-2"}, jobRow{jobReopenTicket, "AI-2"}, jobRow{jobMoveTicket, "AI-3"})
	if got := e.jobs(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("jobs = %v; want %v", got, want)
	}
	_, byItem, err := s.PostmortemWithHistory(ctx, "PM-1")
	hist := byItem["AI-2"]
	if err != nil || len(hist) != 2 || hist[0].To != ft.StatusWontDo || hist[1].To != ft.StatusOpen {
		t.Fatalf("history of AI-2 = %+v, %v", hist, err)
	}
}

// TestRevisionsKeepFigureNumbersRight: through revisions that change each input of the figure
// numbers in turn, and some that change none, every item and status change keeps the numbers
// its postmortem and item give it (as migration 0015 works them out), whether ApplyIntake
// brought the rows it does not write up to date or left them alone (SameFigures).
func TestRevisionsKeepFigureNumbersRight(t *testing.T) {
	pgtest.ForEach(t, testRevisionsKeepFigureNumbersRight)
}

func testRevisionsKeepFigureNumbersRight(t *testing.T, db pgtest.Backend) {
	e := newIntakeEnv(t, db)
	doc := testDoc("PM-1", item("AI-1", "one"), item("AI-2", "two"), item("AI-3", "three"))
	doc.Severity = "SEV2"
	revise := func(step string, edit func(*ft.Document)) {
		t.Helper()
		edit(doc)
		e.clock.Advance(time.Hour) // a revision's time is never a figure
		if _, err := e.eng.Intake(e.ctx, doc); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		rows, err := e.db.Query(`SELECT 'item ' || i.item_id FROM items i JOIN postmortems p ON p.id = i.postmortem_id
			WHERE i.figure_team <> CASE WHEN i.team <> '' THEN i.team ELSE p.team END
				OR i.severity <> p.severity OR i.signed_off_unix <> unixepoch(p.sort_at)
			UNION ALL
			SELECT 'history of ' || h.item_id FROM status_history h
			JOIN items i ON i.postmortem_id = h.postmortem_id AND i.item_id = h.item_id
			WHERE h.figure_team <> i.figure_team OR h.severity <> i.severity
				OR h.signed_off_unix <> i.signed_off_unix OR h.removed <> i.removed`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var wrong []string
		for rows.Next() {
			var w string
			if err := rows.Scan(&w); err != nil {
				t.Fatal(err)
			}
			wrong = append(wrong, w)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if len(wrong) > 0 {
			t.Fatalf("after %s, figure numbers out of date: %v", step, wrong)
		}
	}
	revise("intake", func(*ft.Document) {})
	err := e.st.Write(e.ctx, func(tx *store.Tx) error {
		for _, id := range []string{"AI-1", "AI-2", "AI-3"} {
			if _, err := store.SetItemStatus(e.ctx, tx, "PM-1", id, ft.StatusInProgress, "github", "", e.clock.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	revise("a title", func(d *ft.Document) { d.Title = "renamed" })
	revise("AI-2 dropped", func(d *ft.Document) { d.ActionItems = slices.Delete(d.ActionItems, 1, 2) })
	revise("AI-1's team", func(d *ft.Document) { d.ActionItems[0].Team = "infra" })
	revise("the postmortem's team", func(d *ft.Document) { d.Team = "search" })
	revise("severity", func(d *ft.Document) { d.Severity = "SEV1" })
	revise("another sign-off", func(d *ft.Document) { later := t0.Add(-time.Hour); d.SignedOffAt = &later })
	revise("AI-2 back", func(d *ft.Document) { d.ActionItems = slices.Insert(d.ActionItems, 1, item("AI-2", "two")) })
	revise("AI-3 dropped", func(d *ft.Document) { d.ActionItems = d.ActionItems[:2] })
	revise("sign-off dropped", func(d *ft.Document) { d.SignedOffAt = nil })
	revise("a zero sign-off", func(d *ft.Document) { d.SignedOffAt = &time.Time{} })
	revise("AI-1 renamed", func(d *ft.Document) { d.ActionItems[0].Title = "one, better" })
	revise("signed off again", func(d *ft.Document) { signed := t0; d.SignedOffAt = &signed })
	var changes int
	if err := e.db.QueryRow(`SELECT COUNT(*) FROM status_history`).Scan(&changes); err != nil || changes != 6 {
		t.Fatalf("%d status changes (%v), want 6: the test checks their numbers", changes, err)
	}
}

func TestRevisionKeepsWhereRoutesSentAnItem(t *testing.T) {
	pgtest.ForEach(t, testRevisionKeepsWhereRoutesSentAnItem)
}

func testRevisionKeepsWhereRoutesSentAnItem(t *testing.T, db pgtest.Backend) {
	e := newIntakeEnv(t, db)
	ctx := e.ctx
	if _, err := e.eng.Intake(ctx, testDoc("PM-1", item("AI-1", "one"))); err != nil {
		t.Fatal(err)
	}
	// The routes changed (repoB now), but nothing the routes look at did: the item stays.
	e.cfg.Routes = []config.Route{{To: config.RouteTarget{Kind: "github", Repo: repoB.Repo}}}
	if _, err := e.eng.Intake(ctx, testDoc("PM-1", item("AI-1", "one, better"))); err != nil {
		t.Fatal(err)
	}
	it, err := e.st.LoadItem(ctx, "PM-1", "AI-1")
	if err != nil || it.Target != repoA {
		t.Fatalf("target = %+v, %v; want %+v", it.Target, err, repoA)
	}
	// A new team is something routes look at: the item follows the routes.
	doc := testDoc("PM-1", item("AI-1", "one, better"))
	doc.Team = "infra"
	if _, err := e.eng.Intake(ctx, doc); err != nil {
		t.Fatal(err)
	}
	if it, _ := e.st.LoadItem(ctx, "PM-1", "AI-1"); it.Target != repoB {
		t.Fatalf("target after a team change = %+v; want %+v", it.Target, repoB)
	}
}

// TestRevisionKeepsItemsThatNoLongerRoute is the regression test of a revision refused because
// an item the postmortem already had matched no route after the routes were edited: existing
// items keep their target; only new items need a route.
func TestRevisionKeepsItemsThatNoLongerRoute(t *testing.T) {
	pgtest.ForEach(t, testRevisionKeepsItemsThatNoLongerRoute)
}

func testRevisionKeepsItemsThatNoLongerRoute(t *testing.T, db pgtest.Backend) {
	e := newIntakeEnv(t, db)
	ctx := e.ctx
	e.cfg.Routes = []config.Route{{When: config.RouteWhen{Team: "payments"}, To: config.RouteTarget{Kind: "github", Repo: repoA.Repo}}}
	if _, err := e.eng.Intake(ctx, testDoc("PM-1", item("AI-1", "one"))); err != nil {
		t.Fatal(err)
	}
	// The payments route is gone: nothing routes AI-1 any more.
	e.cfg.Routes = []config.Route{{When: config.RouteWhen{Team: "search"}, To: config.RouteTarget{Kind: "github", Repo: repoB.Repo}}}

	// A new item without a route is refused, naming it alone; nothing is stored.
	_, err := e.eng.Intake(ctx, testDoc("PM-1", item("AI-1", "one, better"), item("AI-2", "two")))
	var routing *ft.RoutingError
	if !errors.As(err, &routing) || len(routing.Fields) != 1 || routing.Fields[0].Field != "action_items[1].tracker" {
		t.Fatalf("revision with an unroutable new item: %v; want a routing error on action_items[1] only", err)
	}
	if pm, _ := e.st.Postmortem(ctx, "PM-1"); pm.Revision != 1 {
		t.Fatalf("the refused revision was stored: revision %d", pm.Revision)
	}

	for i, doc := range []*ft.Document{
		testDoc("PM-1", item("AI-1", "one, better")),                                                            // routing inputs unchanged
		func() *ft.Document { d := testDoc("PM-1", item("AI-1", "one, better")); d.Team = "infra"; return d }(), // changed, no route
	} {
		if _, err := e.eng.Intake(ctx, doc); err != nil {
			t.Fatalf("revision %d: %v; want it accepted", i+2, err)
		}
		it, err := e.st.LoadItem(ctx, "PM-1", "AI-1")
		if err != nil || it.Target != repoA || it.Title != "one, better" {
			t.Fatalf("revision %d: item %+v, %v; want it revised and still in %+v", i+2, it.ItemRow, err, repoA)
		}
	}
}

func TestIntakeNoItemsIsCompleted(t *testing.T) { pgtest.ForEach(t, testIntakeNoItemsIsCompleted) }

func testIntakeNoItemsIsCompleted(t *testing.T, db pgtest.Backend) {
	e := newIntakeEnv(t, db)
	if _, err := e.eng.Intake(e.ctx, testDoc("PM-0")); err != nil {
		t.Fatal(err)
	}
	pm, err := e.st.Postmortem(e.ctx, "PM-0")
	if err != nil {
		t.Fatal(err)
	}
	if pm.State != ft.StateCompleted || pm.Completion.Percent != 100 {
		t.Fatalf("state %s, completion %+v; want completed 100", pm.State, pm.Completion)
	}
}

// TestRevisionStatusChangesAreAnnounced: the statuses a revision changes (removed: won't do;
// back again: open) reach item.status_changed, with source revision.
func TestRevisionStatusChangesAreAnnounced(t *testing.T) {
	pgtest.ForEach(t, testRevisionStatusChangesAreAnnounced)
}

func testRevisionStatusChangesAreAnnounced(t *testing.T, db pgtest.Backend) {
	e := newIntakeEnv(t, db)
	steps := [][]ft.ActionItem{
		{item("AI-1", "x"), item("AI-2", "y")},
		{item("AI-1", "x")},                    // AI-2 removed
		{item("AI-1", "x"), item("AI-2", "y")}, // AI-2 back
	}
	for i, items := range steps {
		e.clock.Set(t0.Add(time.Duration(i) * time.Hour))
		if _, err := e.eng.Intake(e.ctx, testDoc("PM-1", items...)); err != nil {
			t.Fatal(err)
		}
	}
	want := "[PM-1/AI-2 open->wont_do revision PM-1/AI-2 wont_do->open revision]"
	if got := e.statusEvents(); fmt.Sprint(got) != want {
		t.Fatalf("events = %v; want %s", got, want)
	}
}

// TestRevisionEventsReadThePostmortemOnce is the regression test of a revision that read the
// whole postmortem once per status change it announced (removing 1,000 items read about a
// million rows): the events are built from the one read that evaluation makes.
func TestRevisionEventsReadThePostmortemOnce(t *testing.T) {
	pgtest.ForEach(t, testRevisionEventsReadThePostmortemOnce)
}

func testRevisionEventsReadThePostmortemOnce(t *testing.T, db pgtest.Backend) {
	e := newIntakeEnv(t, db)
	const n = 200
	var items []ft.ActionItem
	for i := range n {
		items = append(items, item(fmt.Sprintf("AI-%d", i), "x"))
	}
	if _, err := e.eng.Intake(e.ctx, testDoc("PM-1", items...)); err != nil {
		t.Fatal(err)
	}
	before := e.st.ItemRowsRead()
	if _, err := e.eng.Intake(e.ctx, testDoc("PM-1")); err != nil { // every item removed
		t.Fatal(err)
	}
	// The revision reads the items to plan, and once more to evaluate.
	if reads := e.st.ItemRowsRead() - before; reads > 2*n {
		t.Errorf("the revision read %d item rows for %d items; want at most %d", reads, n, 2*n)
	}
	if got := len(e.statusEvents()); got != n {
		t.Fatalf("%d status events; want %d", got, n)
	}
}

// TestPlanIntakeRemovesItemsInTheirOrder is the regression test of items that a revision
// dropped coming out in map order: their jobs and status changes come in the postmortem's
// order, every time.
func TestPlanIntakeRemovesItemsInTheirOrder(t *testing.T) {
	var stored []store.Item
	var want []string
	for i := range 40 {
		// Stored in the postmortem's order (by position), as LoadItemsTx reads them.
		id := fmt.Sprintf("AI-%02d", (i*7)%40)
		stored = append(stored, store.Item{ItemRow: store.ItemRow{PostmortemID: "PM-1", ID: id, Position: i,
			Target: repoA, Status: ft.StatusOpen, Labels: []string{}}})
		want = append(want, id)
	}
	plan, err := planIntake(testDoc("PM-1"), testDoc("PM-1"), mustEncode(t, testDoc("PM-1")), nil, 1, stored)
	if err != nil {
		t.Fatal(err)
	}
	var jobs, changed []string
	for _, j := range plan.Jobs {
		jobs = append(jobs, j.ItemID)
	}
	for _, c := range plan.Items {
		if c.StatusChanged() {
			changed = append(changed, c.Row.ID)
		}
	}
	if !slices.Equal(jobs, want) || !slices.Equal(changed, want) {
		t.Fatalf("removed in the order\n jobs %v\n status %v\nwant %v", jobs, changed, want)
	}
}

// TestPlanIntake checks the plan of each kind of change, without a database.
func TestPlanIntake(t *testing.T) {
	stored := func(id string, target ft.Target, status ft.Status, removed bool) store.Item {
		return store.Item{ItemRow: store.ItemRow{PostmortemID: "PM-1", ID: id, Title: "t " + id, Owner: "bob@acme.com",
			Priority: "P1", Labels: []string{}, Target: target, Status: status, Removed: removed}}
	}
	it := func(id string) ft.ActionItem {
		return ft.ActionItem{ID: id, Title: "t " + id, Owner: "bob@acme.com", Priority: "P1"}
	}
	renamed := it("AI-2")
	renamed.Title = "renamed"
	tests := []struct {
		name    string
		items   []ft.ActionItem
		targets []ft.Target
		stored  []store.Item
		jobs    string
		status  string // the status changes, item:from->to
		same    bool   // the plan's SameFigures: no item removed or brought back
	}{
		{"new postmortem", []ft.ActionItem{it("AI-1"), it("AI-2")}, []ft.Target{repoA, repoA}, nil,
			"[create_ticket:AI-1 create_ticket:AI-2]", "[]", true},
		{"unchanged item", []ft.ActionItem{it("AI-1")}, []ft.Target{repoA},
			[]store.Item{stored("AI-1", repoA, ft.StatusDone, false)}, "[]", "[]", true},
		{"changed fields", []ft.ActionItem{renamed}, []ft.Target{repoA},
			[]store.Item{stored("AI-2", repoA, ft.StatusInProgress, false)}, "[update_ticket:AI-2]", "[]", true},
		{"moved", []ft.ActionItem{renamed}, []ft.Target{repoB},
			[]store.Item{stored("AI-2", repoA, ft.StatusOpen, false)}, "[move_ticket:AI-2]", "[]", true},
		{"removed", nil, nil,
			[]store.Item{stored("AI-1", repoA, ft.StatusInProgress, false), stored("AI-2", repoA, ft.StatusWontDo, true)},
			"[close_removed:AI-1]", "[AI-1:in_progress->wont_do]", false},
		{"removed before, still dropped", nil, nil,
			[]store.Item{stored("AI-2", repoA, ft.StatusWontDo, true)}, "[]", "[]", true},
		{"back, same place", []ft.ActionItem{it("AI-1")}, []ft.Target{repoA},
			[]store.Item{stored("AI-1", repoA, ft.StatusWontDo, true)},
			"[create_ticket:AI-1 reopen_ticket:AI-1]", "[AI-1:wont_do->open]", false},
		{"back, changed", []ft.ActionItem{renamed}, []ft.Target{repoA},
			[]store.Item{stored("AI-2", repoA, ft.StatusWontDo, true)},
			"[create_ticket:AI-2 reopen_ticket:AI-2 update_ticket:AI-2]", "[AI-2:wont_do->open]", false},
		{"back elsewhere", []ft.ActionItem{it("AI-1")}, []ft.Target{repoB},
			[]store.Item{stored("AI-1", repoA, ft.StatusWontDo, true)}, "[move_ticket:AI-1]", "[AI-1:wont_do->open]", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := planIntake(testDoc("PM-1", tt.items...), testDoc("PM-1"), mustEncode(t, testDoc("PM-1", tt.items...)), tt.targets, 1, tt.stored)
			if err != nil {
				t.Fatal(err)
			}
			jobs, status := []string{}, []string{}
			for _, j := range plan.Jobs {
				jobs = append(jobs, j.Kind+":"+j.ItemID)
			}
			for _, c := range plan.Items {
				if c.StatusChanged() {
					status = append(status, fmt.Sprintf("%s:%s->%s", c.Row.ID, c.From, c.Row.Status))
				}
			}
			if fmt.Sprint(jobs) != tt.jobs || fmt.Sprint(status) != tt.status {
				t.Errorf("jobs %v, status changes %v; want %s and %s", jobs, status, tt.jobs, tt.status)
			}
			if plan.Revision.Number != 2 || plan.Postmortem.ID != "PM-1" {
				t.Errorf("plan writes %s revision %d", plan.Postmortem.ID, plan.Revision.Number)
			}
			if plan.SameFigures != tt.same {
				t.Errorf("SameFigures %v, want %v", plan.SameFigures, tt.same)
			}
		})
	}
}

// TestPlanIntakeSameFigures: a revision leaves the figure numbers of the rows it does not
// write alone (SameFigures) only when it keeps the postmortem's team, severity and sign-off
// second, and its items' teams.
func TestPlanIntakeSameFigures(t *testing.T) {
	later, sameSecond := t0.Add(time.Hour), t0.Add(600*time.Millisecond)
	tests := []struct {
		name string
		edit func(prev, doc *ft.Document) // from the stored document, prev, to the revision, doc
		same bool
	}{
		{"unchanged", func(prev, doc *ft.Document) {}, true},
		{"other fields", func(prev, doc *ft.Document) {
			doc.Title, doc.ActionItems[0].Title, doc.ActionItems[1].Due = "renamed", "renamed", "2026-12-24"
		}, true},
		{"a new item", func(prev, doc *ft.Document) { doc.ActionItems = append(doc.ActionItems, item("AI-3", "new")) }, true},
		{"team", func(prev, doc *ft.Document) { doc.Team = "search" }, false},
		{"severity", func(prev, doc *ft.Document) { doc.Severity = "SEV1" }, false},
		{"signed off later", func(prev, doc *ft.Document) { doc.SignedOffAt = &later }, false},
		{"signed off in the same second", func(prev, doc *ft.Document) { doc.SignedOffAt = &sameSecond }, true},
		{"sign-off dropped", func(prev, doc *ft.Document) { doc.SignedOffAt = nil }, false},
		{"signed off at last", func(prev, doc *ft.Document) { prev.SignedOffAt = nil }, false},
		{"an item's team", func(prev, doc *ft.Document) { doc.ActionItems[1].Team = "infra" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev, doc := testDoc("PM-1", item("AI-1", "a"), item("AI-2", "b")), testDoc("PM-1", item("AI-1", "a"), item("AI-2", "b"))
			prev.Severity, doc.Severity = "SEV2", "SEV2"
			var stored []store.Item
			for i, it := range prev.ActionItems {
				stored = append(stored, store.Item{ItemRow: itemRow(prev, it, repoA, i)})
			}
			tt.edit(prev, doc)
			targets := make([]ft.Target, len(doc.ActionItems))
			for i := range targets {
				targets[i] = repoA
			}
			plan, err := planIntake(doc, prev, mustEncode(t, doc), targets, 1, stored)
			if err != nil {
				t.Fatal(err)
			}
			if plan.SameFigures != tt.same {
				t.Errorf("SameFigures %v, want %v", plan.SameFigures, tt.same)
			}
		})
	}
}

func TestRecordWebhookOnceAndQueued(t *testing.T) { pgtest.ForEach(t, testRecordWebhookOnceAndQueued) }

func testRecordWebhookOnceAndQueued(t *testing.T, db pgtest.Backend) {
	e := newIntakeEnv(t, db)
	s, ctx := e.st, e.ctx
	payload := []byte(`{"action":"closed"}`)
	dup, err := record(e, t0, "github", "d-1", "issues", payload)
	if err != nil || dup {
		t.Fatalf("first: dup %v, %v", dup, err)
	}
	dup, err = record(e, t0.Add(time.Minute), "github", "d-1", "issues", payload)
	if err != nil || !dup {
		t.Fatalf("again: dup %v, %v", dup, err)
	}
	// The same id from another source is another delivery.
	if dup, err := record(e, t0, "jira", "d-1", "jira:issue_updated", []byte(`{}`)); err != nil || dup {
		t.Fatalf("jira: dup %v, %v", dup, err)
	}
	jobs, err := s.ClaimJobs(ctx, "w", "", t0, time.Minute, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 {
		t.Fatalf("%d jobs, want 2", len(jobs))
	}
	id, err := webhookEventID(jobs[0])
	if err != nil {
		t.Fatal(err)
	}
	ev, err := s.InboundEvent(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if jobs[0].Kind != jobProcessWebhook || jobs[0].ItemID != "webhook:github" || ev.Source != "github" ||
		ev.DeliveryID != "d-1" || ev.Event != "issues" || string(ev.Payload) != string(payload) || !ev.ProcessedAt.IsZero() {
		t.Fatalf("job %+v event %+v", jobs[0], ev)
	}
	if err := s.Write(ctx, func(tx *store.Tx) error { return store.MarkInboundProcessed(ctx, tx, id, t0, "") }); err != nil {
		t.Fatal(err)
	}
	if ev, _ := s.InboundEvent(ctx, id); ev.ProcessedAt.IsZero() || ev.Error != "" {
		t.Fatalf("after processing: %+v", ev)
	}
	// Pruning forgets old delivery ids and processed events only.
	e.clock.Set(t0.Add(deliveryRetention + time.Second))
	e.eng.prune(ctx)
	if _, err := s.InboundEvent(ctx, id); !errors.Is(err, ft.ErrNotFound) {
		t.Fatalf("processed event kept: %v", err)
	}
	if dup, err := record(e, t0.Add(time.Hour), "github", "d-1", "issues", payload); err != nil || dup {
		t.Fatalf("after pruning: dup %v, %v", dup, err)
	}
}

// record is a delivery recorded by the engine at time at.
func record(e *intakeEnv, at time.Time, source, deliveryID, event string, payload []byte) (bool, error) {
	e.clock.Set(at)
	ignored, err := e.eng.RecordWebhook(e.ctx, source, deliveryID, event, payload)
	return ignored == ft.WebhookDuplicate, err
}

// TestStallCommentUsesThePolicyFallback is the regression test of stall comments that read
// default_due and inactive_after by the item's priority directly, skipping the P2 fallback
// that the stall rules apply: the comment names the durations the rules used.
func TestStallCommentUsesThePolicyFallback(t *testing.T) {
	cfg := config.Default()
	cfg.Stall.DefaultDue = map[string]time.Duration{"P2": 3 * day}
	cfg.Stall.InactiveAfter = map[string]time.Duration{"P2": 2 * day}
	e := New(Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	pm := store.PostmortemRecord{ID: "PM-1", Title: "Outage"}
	it := store.Item{ItemRow: store.ItemRow{ID: "AI-1", Priority: "P1", Status: ft.StatusOpen}}
	for _, tt := range []struct {
		c    stallComment
		want string
	}{
		{stallComment{Reason: ft.StallOverdue, Due: "2026-01-08", DueDefaulted: true}, "P1 items are due 3 days after the postmortem's sign-off"},
		{stallComment{Reason: ft.StallInactive, InactiveSince: t0}, "P1 items stall after 2 days without activity"},
	} {
		if got := e.stallCommentBody(pm, it, "@bob", tt.c); !strings.Contains(got, tt.want) {
			t.Errorf("%s comment:\n%s\nwant it to say %q", tt.c.Reason, got, tt.want)
		}
	}
}

// TestNotifyDeliveryErrorNamesTheReceiver is the regression test of a failed notification told
// as a tracker's error with no tracker, a message that started with a space: it names the
// receiver (scheme and host only), says what went wrong, and is retried.
func TestNotifyDeliveryErrorNamesTheReceiver(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	for _, tt := range []struct {
		url, want string
	}{
		{failing.URL + "/hook/SECRET", "notify " + failing.URL + ": the receiver answered 503 Service Unavailable"},
		{gone.URL + "/hook/SECRET", "notify " + gone.URL + ": "},
	} {
		cfg := config.Default()
		cfg.Notify = []config.Notify{{URL: tt.url, Secret: "whsec_c2VjcmV0", Events: []string{ft.EventCompleted}}}
		e := New(Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
		payload, _ := json.Marshal(notifyPayload{URL: tt.url, WebhookID: "msg_1", Body: json.RawMessage(`{}`)})
		err := e.deliver(context.Background(), store.Job{ID: 1, Kind: jobNotify, Payload: payload})
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("delivery to %s: %v; want an error starting %q, without the path", tt.url, err, tt.want)
		}
		if retry, _ := classify(err); !retry {
			t.Errorf("delivery to %s: %v is not retried", tt.url, err)
		}
	}
}

// Pruning forgets delivery ids after deliveryRetention (longer than GitHub's 3 days of
// redelivery) and done jobs after doneJobRetention; younger ones stay, and so do open jobs.
func TestPruneRetentions(t *testing.T) { pgtest.ForEach(t, testPruneRetentions) }

func testPruneRetentions(t *testing.T, db pgtest.Backend) {
	e := newIntakeEnv(t, db)
	if deliveryRetention <= 3*24*time.Hour || doneJobRetention <= 0 {
		t.Fatalf("retentions %v and %v", deliveryRetention, doneJobRetention)
	}
	count := func(query string) int {
		t.Helper()
		var n int
		if err := e.db.QueryRow(query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// An old delivery, its job done; a young delivery, its job done; a young job still open.
	for i, at := range []time.Time{t0, t0.Add(deliveryRetention)} {
		if dup, err := record(e, at, "github", fmt.Sprintf("d-%d", i), "issues", []byte(`{}`)); err != nil || dup {
			t.Fatalf("record: %v, %v", dup, err)
		}
		jobs, err := e.st.ClaimJobs(e.ctx, "w", "", at, time.Minute, 10, nil)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim: %d, %v", len(jobs), err)
		}
		if err := e.st.CompleteJob(e.ctx, jobs[0].ID, at, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := record(e, t0.Add(deliveryRetention), "github", "d-open", "issues", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(t0.Add(deliveryRetention + time.Hour))
	e.eng.prune(e.ctx)
	if n := count(`SELECT COUNT(*) FROM webhook_deliveries`); n != 2 {
		t.Errorf("%d delivery ids kept, want the 2 younger than %v", n, deliveryRetention)
	}
	if n := count(`SELECT COUNT(*) FROM outbox WHERE done_at IS NOT NULL`); n != 1 {
		t.Errorf("%d done jobs kept, want the 1 done within %v", n, doneJobRetention)
	}
	if n := count(`SELECT COUNT(*) FROM outbox WHERE done_at IS NULL`); n != 1 {
		t.Errorf("%d open jobs kept, want 1", n)
	}
}

// mustEncode is doc as intake encodes it for its revision.
func mustEncode(t *testing.T, doc *ft.Document) store.Revision {
	t.Helper()
	rev, err := encodeRevision(doc)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

func TestEncodeRevisionHashIsDocumentHash(t *testing.T) {
	doc := testDoc("PM-1")
	if got := mustEncode(t, doc).Hash; got != doc.Hash() {
		t.Fatalf("encodeRevision hash %s, Document.Hash %s", got, doc.Hash())
	}
}
