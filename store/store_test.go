package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/internal/pgtest"
	"github.com/followthrough/followthrough/migrations"
)

// backend is a database the store's tests run on (pgtest.Backends). Tests of behaviour both
// databases share run on every backend (forEachBackend); tests of what only SQLite has (its
// query plans, its file lock, its group commit) use openTest, which is SQLite.
type backend struct{ pgtest.Backend }

// forEachBackend runs test once per backend, as subtests named after them.
func forEachBackend(t *testing.T, test func(t *testing.T, db backend)) {
	pgtest.ForEach(t, func(t *testing.T, b pgtest.Backend) { test(t, backend{b}) })
}

// open is a migrated store on a new database of the backend.
func (b backend) open(t testing.TB) *Store {
	t.Helper()
	return openAt(t, b.Database(t))
}

// openAt is a migrated store on database, closed when the test ends.
func openAt(t testing.TB, database string) *Store {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, database, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// openAtVersion is a store on a new database of the backend, migrated up to version only, for
// tests of a migration.
func (b backend) openAtVersion(t testing.TB, version int64) *Store {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, b.Database(t), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	migrateTo(t, s, version)
	return s
}

// migrateTo migrates s up to version only.
func migrateTo(t testing.TB, s *Store, version int64) {
	t.Helper()
	p, err := s.migrationProvider()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(context.Background(), version); err != nil {
		t.Fatal(err)
	}
}

// openTest is a migrated SQLite store, for the tests of what only SQLite has.
func openTest(t testing.TB) *Store {
	t.Helper()
	return openAt(t, pgtest.SQLiteFile(t))
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

// intakeNew stores a new postmortem as a first intake does: the postmortem, its items going
// to targets (targets[i] for doc.ActionItems[i]), and a create job for each. (The engine
// plans intakes; sync tests that.)
func intakeNew(ctx context.Context, s *Store, doc *ft.Document, targets []ft.Target, now time.Time) error {
	document, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	plan := IntakePlan{
		Postmortem: PostmortemRow{ID: doc.ID, Title: doc.Title, URL: doc.URL, Severity: doc.Severity, Team: doc.Team,
			SignedOffAt: doc.SignedOffAt},
		Revision: Revision{Number: 1, Hash: doc.Hash(), Document: document},
	}
	for i, it := range doc.ActionItems {
		row := ItemRow{PostmortemID: doc.ID, ID: it.ID, Position: i, Title: it.Title, Owner: it.Owner,
			Priority: it.Priority, Labels: []string{}, Target: targets[i], Status: ft.StatusOpen}
		plan.Items = append(plan.Items, ItemChange{Row: row, New: true})
		plan.Jobs = append(plan.Jobs, Job{Kind: "create_ticket", PostmortemID: doc.ID, ItemID: it.ID, Tracker: string(targets[i].Kind)})
	}
	return s.Write(ctx, func(tx *Tx) error { return ApplyIntake(ctx, tx, plan, now) })
}

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

func TestListPaging(t *testing.T) { forEachBackend(t, testListPaging) }

func testListPaging(t *testing.T, db backend) {
	s := db.open(t)
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
		if err := intakeNew(ctx, s, doc, targets(len(items), repoA), t0); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	cursor := ""
	for pages := 0; ; pages++ {
		pms, next, err := s.ListPostmortems(ctx, ft.ListFilter{Limit: 3, Cursor: cursor})
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
	pms, _, err := s.ListPostmortems(ctx, ft.ListFilter{Team: "infra", Limit: 50})
	if err != nil || len(pms) != 4 {
		t.Fatalf("team filter: %d, %v", len(pms), err)
	}
	if _, _, err := s.ListPostmortems(ctx, ft.ListFilter{Cursor: "not-a-cursor"}); err != ft.ErrBadCursor {
		t.Fatalf("bad cursor err = %v", err)
	}
}

func TestWriteErrorRollsBackOnlyItsOwnWork(t *testing.T) {
	forEachBackend(t, testWriteErrorRollsBackOnlyItsOwnWork)
}

func testWriteErrorRollsBackOnlyItsOwnWork(t *testing.T, db backend) {
	s := db.open(t)
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
				errs[i] = intakeNew(ctx, s, doc, targets(2, repoA), t0)
				return
			}
			errs[i] = intakeNew(ctx, s, doc, targets(1, repoA), t0)
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

// BenchmarkIntake: 16 writers at once storing new postmortems, on each backend: SQLite's
// group commit against PostgreSQL's concurrent SERIALIZABLE transactions.
func BenchmarkIntake(b *testing.B) {
	for _, db := range pgtest.Backends {
		b.Run(db.Name, func(b *testing.B) { benchmarkIntake(b, openAt(b, db.Database(b))) })
	}
}

func benchmarkIntake(b *testing.B, s *Store) {
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
			if err := intakeNew(ctx, s, testDoc(id, item("AI-1", "x"), item("AI-2", "y")), targets(2, repoA), t0); err != nil {
				b.Error(err)
				return
			}
		}
	})
	tx, commits := s.WriteStats()
	b.ReportMetric(float64(tx)/float64(commits), "tx/commit")
	b.ReportMetric(float64(s.WriteRetries())/float64(b.N), "retries/op")
}

// TestWriterCountsItsTime: SQLite's writer counts its transactions, its commits, and the time
// it spends on them, and on committing them, for /metrics.
func TestWriterCountsItsTime(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	start := time.Now()
	if err := intakeNew(ctx, s, testDoc("PM-1", item("AI-1", "x")), targets(1, repoA), t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, func(tx *Tx) error { time.Sleep(30 * time.Millisecond); return nil }); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	tx, commits := s.WriteStats()
	busy, committing := s.WriterTime()
	if tx != 2 || commits != 2 {
		t.Errorf("%d transactions in %d commits, want 2 in 2", tx, commits)
	}
	if busy < 30*time.Millisecond || busy > took || committing <= 0 || committing >= busy {
		t.Errorf("writer busy %v, committing %v, in %v: want busy at least the 30ms write and at most the time taken, and a part of it committing", busy, committing, took)
	}
}

func TestPruneKeepsUnfinishedJobs(t *testing.T) { forEachBackend(t, testPruneKeepsUnfinishedJobs) }

func testPruneKeepsUnfinishedJobs(t *testing.T, db backend) {
	s := db.open(t)
	ctx := context.Background()
	if err := intakeNew(ctx, s, testDoc("PM-1", item("AI-1", "x"), item("AI-2", "y")), targets(2, repoA), t0); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.ClaimJobs(ctx, "w", "github", t0, time.Minute, 10, nil)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("claimed %d, %v", len(jobs), err)
	}
	if err := s.CompleteJob(ctx, jobs[0].ID, t0, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, func(tx *Tx) error { return FailJob(ctx, tx, jobs[1].ID, 1, t0, "gone") }); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, func(tx *Tx) error {
		return Enqueue(ctx, tx, Job{Kind: "update_ticket", PostmortemID: "PM-1", ItemID: "AI-1", Tracker: "github"}, t0)
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneDoneJobs(ctx, t0.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("pruned %d done jobs, %v; want the 1 done", n, err)
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
	p := plan(t, s, `SELECT 1 FROM outbox e WHERE e.postmortem_id = 'p'
		AND e.item_id = 'i' AND e.id < 5 AND e.done_at IS NULL AND e.failed_at IS NULL`)
	if !strings.Contains(p, "outbox_open_item") {
		t.Fatalf("plan does not use outbox_open_item:\n%s", p)
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

// TestOlderBinaryRefusesANewerSchema: a database migrated by a newer release (a migration
// this binary does not have) is refused, not written with statements that may no longer mean
// what they say.
func TestOlderBinaryRefusesANewerSchema(t *testing.T) {
	forEachBackend(t, testOlderBinaryRefusesANewerSchema)
}

func testOlderBinaryRefusesANewerSchema(t *testing.T, db backend) {
	s := db.open(t)
	ctx := context.Background()
	if _, err := s.writeDB.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, TRUE)`); err != nil {
		t.Fatal(err)
	}
	err := s.Migrate(ctx)
	if err == nil || !strings.Contains(err.Error(), "schema version 9999, newer than this binary's") {
		t.Fatalf("migrate: %v; want the newer schema refused", err)
	}
}

// TestBothDatabasesHaveTheSameSchema: the PostgreSQL migrations are the SQLite ones' twins:
// the same numbers, and once applied the same tables with the same columns in the same order
// (what copy-db and the shared SQL rely on), and the same indexes.
func TestBothDatabasesHaveTheSameSchema(t *testing.T) {
	versions := func(fsys fs.FS) []string {
		names, err := fs.Glob(fsys, "*.sql")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range names {
			out = append(out, strings.SplitN(n, "_", 2)[0])
		}
		return out
	}
	if s, p := versions(migrations.SQLite), versions(migrations.Postgres); fmt.Sprint(s) != fmt.Sprint(p) {
		t.Errorf("migration numbers differ: SQLite %v, PostgreSQL %v", s, p)
	}
	columns := func(s *Store, query string) string {
		rows, err := s.readDB.Query(query)
		if err != nil {
			t.Fatal(err)
		}
		list, err := collect(rows, func(rows *sql.Rows) (string, error) {
			var table, column string
			err := rows.Scan(&table, &column)
			return table + "." + column, err
		})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(list, "\n")
	}
	lite, pg := openTest(t), openAt(t, pgtest.URL(t))
	sqlite := columns(lite, `SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT IN ('goose_db_version', 'sqlite_sequence') ORDER BY m.name, p.cid`)
	postgres := columns(pg, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name <> 'goose_db_version' ORDER BY table_name COLLATE "C", ordinal_position`)
	// The indexes by name, but for those of primary keys and UNIQUE columns, which each
	// database names its own way.
	sqliteIndexes := columns(lite, `SELECT tbl_name, name FROM sqlite_master
		WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex_%' ORDER BY tbl_name, name`)
	postgresIndexes := columns(pg, `SELECT tablename, indexname FROM pg_indexes
		WHERE schemaname = current_schema() AND tablename <> 'goose_db_version'
		AND indexname NOT LIKE '%\_pkey' AND indexname NOT LIKE '%\_key' ORDER BY tablename COLLATE "C", indexname COLLATE "C"`)
	if !strings.Contains(sqliteIndexes, "outbox.outbox_claim") {
		t.Fatalf("SQLite's indexes miss outbox_claim:\n%s", sqliteIndexes)
	}
	if sqliteIndexes != postgresIndexes {
		t.Errorf("indexes differ\nSQLite:\n%s\n\nPostgreSQL:\n%s", sqliteIndexes, postgresIndexes)
	}
	if !strings.Contains(sqlite, "outbox.lease_owner") {
		t.Fatalf("SQLite's columns miss outbox.lease_owner:\n%s", sqlite)
	}
	if sqlite != postgres {
		t.Errorf("columns differ\nSQLite:\n%s\n\nPostgreSQL:\n%s", sqlite, postgres)
	}
}

// TestClaimPlan checks that the claim reads open jobs only, through indexes, whatever the
// done history: the lane's open jobs in queue order from outbox_claim, with no sort and no scan
// of the table, and the check for earlier open jobs of the same key from outbox_open_item.
// SQLite's plan (EXPLAIN QUERY PLAN): SQLite only.
func TestClaimPlan(t *testing.T) {
	s := openTest(t)
	p := plan(t, s, claimJobsSQL, "w", "u", "github", "n", "n", "w", textList{"1"}, "n", "w", textList{"1"}, 4)
	t.Log(p)
	for _, want := range []string{"USING INDEX outbox_claim (tracker=?)", "USING INDEX outbox_open_item"} {
		if !strings.Contains(p, want) {
			t.Errorf("claim plan lacks %q:\n%s", want, p)
		}
	}
	for _, bad := range []string{"SCAN o\n", "SCAN outbox\n", "TEMP B-TREE"} {
		if strings.Contains(p+"\n", bad) {
			t.Errorf("claim plan has %q:\n%s", bad, p)
		}
	}
}

// TestClaimPlanPostgres checks PostgreSQL's claim where its planner went wrong: statistics
// taken when every job was done (as autovacuum leaves them on a busy outbox), then a burst of
// open work in two lanes. Each open job of the lane must cost one lookup of its item's earlier
// open jobs in outbox_open_item; the planner used to read every open job for each instead
// (a claim of 50 among 2,000 queued took half a second). The claim then takes each item's
// earliest open job, and only those.
func TestClaimPlanPostgres(t *testing.T) {
	s := openAt(t, pgtest.URL(t))
	ctx := context.Background()
	var done, burst []Job
	for i := range 2000 {
		done = append(done, Job{Kind: "create_ticket", PostmortemID: fmt.Sprintf("PM-%d", i), ItemID: "AI-1", Tracker: "github"})
	}
	for i := range 300 {
		burst = append(burst, Job{Kind: "process_webhook", ItemID: fmt.Sprintf("webhook:github:acme/api#%d", i%10)})
		if i < 100 {
			burst = append(burst, Job{Kind: "create_ticket", PostmortemID: fmt.Sprintf("PM-new-%d", i), ItemID: "AI-1", Tracker: "github"})
		}
	}
	if err := s.Write(ctx, func(tx *Tx) error {
		if err := enqueueAll(ctx, tx, done, t0); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `UPDATE outbox SET done_at = ?`, formatTime(t0)); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `ANALYZE outbox`); err != nil {
			return err
		}
		return enqueueAll(ctx, tx, burst, t0)
	}); err != nil {
		t.Fatal(err)
	}
	lookup := regexp.MustCompile(`Index (Only )?Scan using outbox_open_item on outbox e\s+Index Cond: \(\(postmortem_id = o\.postmortem_id\) AND \(item_id = o\.item_id\) AND \(id < o\.id\)\)`)
	for _, lane := range []string{"", "github"} {
		p := planPostgres(t, s, claimJobsPostgresSQL, "w", "u", "n", "w", textList{"1"}, lane, "n", "n", "w", textList{"1"}, 64)
		plan := strings.Join(p, "\n")
		// One step a line, without the indent and arrow that nest it.
		for i := range p {
			p[i] = strings.TrimLeft(strings.TrimSpace(p[i]), "-> ")
		}
		flat := strings.Join(p, "\n")
		if !lookup.MatchString(flat) || strings.Contains(flat, "Join Filter") {
			t.Errorf("lane %q: the claim does not look up each job's item in outbox_open_item:\n%s", lane, plan)
		}
	}
	webhooks, err := s.ClaimJobs(ctx, "w", "", t0.Add(time.Minute), time.Minute, 64, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, j := range webhooks {
		if seen[j.ItemID] {
			t.Errorf("claimed two jobs of %s", j.ItemID)
		}
		seen[j.ItemID] = true
	}
	if len(webhooks) != 10 || webhooks[0].ID > webhooks[9].ID || webhooks[9].ItemID != "webhook:github:acme/api#9" {
		t.Errorf("claimed %d webhook jobs, want the first of each of 10 tickets: %+v", len(webhooks), webhooks)
	}
	creates, err := s.ClaimJobs(ctx, "w", "github", t0.Add(time.Minute), time.Minute, 64, nil)
	if err != nil || len(creates) != 64 || creates[0].PostmortemID != "PM-new-0" {
		t.Errorf("claimed %d create jobs (%v), want the first 64 of the burst", len(creates), err)
	}
}

// TestWriterPreparesEachStatementOnce checks that the writer's statements are prepared once and
// then run prepared: after the first intakes, more intakes prepare nothing new. SQLite only:
// pgx prepares and caches PostgreSQL's statements per connection by itself.
func TestWriterPreparesEachStatementOnce(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	intake := func(id string) {
		t.Helper()
		if err := intakeNew(ctx, s, testDoc(id, item("AI-1", "x"), item("AI-2", "y")), targets(2, repoA), t0); err != nil {
			t.Fatal(err)
		}
	}
	intake("PM-1")
	intake("PM-2")
	s.stmts.mu.Lock()
	prepared := len(s.stmts.stmts)
	s.stmts.mu.Unlock()
	hits := s.stmts.hits.Load()
	for i := 3; i <= 10; i++ {
		intake(fmt.Sprintf("PM-%d", i))
	}
	s.stmts.mu.Lock()
	defer s.stmts.mu.Unlock()
	if len(s.stmts.stmts) != prepared || len(s.stmts.wanted) != 0 {
		t.Errorf("%d statements prepared after two intakes, %d (and %d waiting) after ten", prepared, len(s.stmts.stmts), len(s.stmts.wanted))
	}
	if prepared == 0 || s.stmts.hits.Load()-hits < 8*int64(prepared)/2 {
		t.Errorf("%d statements prepared, run prepared %d times in eight intakes", prepared, s.stmts.hits.Load()-hits)
	}
}

// The readers prepare each query text once too: reading postmortems again prepares nothing
// new, and every read after the first of its text runs prepared, with the right rows.
func TestReadersPrepareEachQueryOnce(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	for _, id := range []string{"PM-1", "PM-2"} {
		if err := intakeNew(ctx, s, testDoc(id, item("AI-1", "x"), item("AI-2", "y")), targets(2, repoA), t0); err != nil {
			t.Fatal(err)
		}
	}
	read := func(id string) {
		t.Helper()
		pm, err := s.Postmortem(ctx, id)
		if err != nil || pm.ID != id || len(pm.Items) != 2 {
			t.Fatalf("read %s: %+v, %v", id, pm, err)
		}
	}
	read("PM-1")
	cache := s.readDB.prepared
	cache.mu.Lock()
	prepared := len(cache.stmts)
	cache.mu.Unlock()
	hits := cache.hits.Load()
	for range 5 {
		read("PM-2")
		read("PM-1")
	}
	cache.mu.Lock()
	defer cache.mu.Unlock()
	if prepared == 0 || len(cache.stmts) != prepared {
		t.Errorf("%d queries prepared after one read, %d after eleven", prepared, len(cache.stmts))
	}
	if got := cache.hits.Load() - hits; got < 10*int64(prepared) {
		t.Errorf("%d queries prepared, run prepared %d times in ten reads", prepared, got)
	}
}

// A worker takes its own leased jobs back at its next claim (their outcome could not be
// stored: a full disk), while another worker leaves them until the lease runs out.
func TestClaimTakesBackOwnLeases(t *testing.T) { forEachBackend(t, testClaimTakesBackOwnLeases) }

func testClaimTakesBackOwnLeases(t *testing.T, db backend) {
	s := db.open(t)
	ctx := context.Background()
	if err := intakeNew(ctx, s, testDoc("PM-1", item("AI-1", "x"), item("AI-2", "y")), targets(2, repoA), t0); err != nil {
		t.Fatal(err)
	}
	first, err := s.ClaimJobs(ctx, "w1", "github", t0, time.Minute, 10, nil)
	if err != nil || len(first) != 2 {
		t.Fatalf("first claim: %d, %v", len(first), err)
	}
	if other, err := s.ClaimJobs(ctx, "w2", "github", t0.Add(time.Second), time.Minute, 10, nil); err != nil || len(other) != 0 {
		t.Fatalf("another worker claimed %d leased jobs (%v)", len(other), err)
	}
	again, err := s.ClaimJobs(ctx, "w1", "github", t0.Add(time.Second), time.Minute, 10, nil)
	if err != nil || len(again) != 2 || again[0].ID != first[0].ID || again[1].ID != first[1].ID {
		t.Fatalf("the same worker took back %d of its 2 jobs (%v)", len(again), err)
	}
}

// TestAJobWaitsForEarlierWorkInAnotherLane: an item's jobs run in the order queued whichever
// lanes they are in: a claim of one lane passes over a job while an earlier job of the same
// item is open in another lane, and takes it once that one is done. Both claims (SQLite's and
// PostgreSQL's) look for earlier jobs across lanes.
func TestAJobWaitsForEarlierWorkInAnotherLane(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db backend) {
		s := db.open(t)
		ctx := context.Background()
		if err := s.Write(ctx, func(tx *Tx) error {
			return enqueueAll(ctx, tx, []Job{
				{Kind: "notify", PostmortemID: "PM-1", ItemID: "AI-1"},
				{Kind: "create_ticket", PostmortemID: "PM-1", ItemID: "AI-1", Tracker: "github"},
				{Kind: "create_ticket", PostmortemID: "PM-1", ItemID: "AI-2", Tracker: "github"},
			}, t0)
		}); err != nil {
			t.Fatal(err)
		}
		claim := func(lane string) []Job {
			t.Helper()
			jobs, err := s.ClaimJobs(ctx, "w-"+lane, lane, t0, time.Minute, 10, nil)
			if err != nil {
				t.Fatal(err)
			}
			return jobs
		}
		if got := claim("github"); len(got) != 1 || got[0].ItemID != "AI-2" {
			t.Fatalf("claimed %+v in github's lane, want AI-2's job only: AI-1's waits for its notify", got)
		}
		first := claim("")
		if len(first) != 1 || first[0].Kind != "notify" {
			t.Fatalf("claimed %+v in the other lane, want the notify", first)
		}
		if err := s.Write(ctx, func(tx *Tx) error { return MarkJobDone(ctx, tx, first[0].ID, t0) }); err != nil {
			t.Fatal(err)
		}
		if got := claim("github"); len(got) != 2 || got[0].ItemID != "AI-1" {
			t.Errorf("claimed %+v in github's lane once the notify was done, want AI-1's job (and AI-2's, its own again)", got)
		}
	})
}

// A write the database refuses for want of room fails with ft.ErrWriteRefused, marks the store
// as refusing writes until a write stores something, and a commit that stores nothing does not
// end the episode. SQLite only: it fills the file (LimitPages).
func TestRefusedWritesEpisode(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if err := s.LimitPages(ctx, 1); err != nil {
		t.Fatal(err)
	}
	var err error
	for i := 0; i < 50 && err == nil; i++ {
		err = intakeNew(ctx, s, testDoc(fmt.Sprintf("PM-%d", i), item("AI-1", strings.Repeat("x", 2000))), targets(1, repoA), t0)
	}
	if !errors.Is(err, ft.ErrWriteRefused) || !s.WritesRefused() {
		t.Fatalf("with the database full: %v, refused %v", err, s.WritesRefused())
	}
	if err := s.Ping(ctx); !errors.Is(err, ft.ErrWriteRefused) {
		t.Fatalf("ping while refused: %v", err)
	}
	if err := s.LimitPages(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimJobs(ctx, "w", "nothing-here", t0, time.Minute, 1, nil); err != nil || !s.WritesRefused() {
		t.Fatalf("an empty claim ended the episode (%v)", err)
	}
	if err := intakeNew(ctx, s, testDoc("PM-after", item("AI-1", "x")), targets(1, repoA), t0); err != nil {
		t.Fatal(err)
	}
	if s.WritesRefused() || s.Ping(ctx) != nil {
		t.Fatal("still refused after a write succeeded")
	}
}
