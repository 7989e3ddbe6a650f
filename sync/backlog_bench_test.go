package sync_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/internal/pgtest"
	"github.com/followthrough/followthrough/store"
	"github.com/followthrough/followthrough/sync"
)

// BenchmarkBacklogAfterHistory makes the tickets of a backlog of 1,000 postmortems (5,000
// items) at a zero-latency GitHub stand-in with pacing off, and reports tickets/s. "empty"
// starts from a new database; "history" from one that already holds 10,000 postmortems (50,000
// items with their tickets) and 200,000 done jobs, as a year of service leaves it, so that the
// two show whether ticket creation slows down as the database ages. The history is copied, in
// SQL, from one postmortem the engine took in and made tickets for (see cloneHistory).
//
//	go test -run '^$' -bench BacklogAfterHistory -benchtime 1x ./sync
func BenchmarkBacklogAfterHistory(b *testing.B) {
	for _, db := range pgtest.Backends {
		for _, history := range []bool{false, true} {
			name := db.Name + "/empty"
			if history {
				name = db.Name + "/history"
			}
			b.Run(name, func(b *testing.B) { benchBacklog(b, db.Database(b), history) })
		}
	}
}

const (
	historyPostmortems = 10_000
	historyDoneJobs    = 200_000
	backlogPostmortems = 1_000
)

func benchBacklog(b *testing.B, database string, history bool) {
	ctx := context.Background()
	cfg, tr, logger := benchGitHub(b)
	open := func() (*store.Store, *sync.Engine) {
		st, err := store.Open(ctx, database, logger)
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		return st, sync.New(sync.Options{Store: st, Config: cfg, Logger: logger,
			Trackers: map[ft.TrackerKind]ft.Tracker{ft.GitHub: tr}})
	}
	st, eng := open()
	if history {
		intakeBacklog(b, eng, "PM-T", 1)
		if _, err := eng.RunDue(ctx); err != nil {
			b.Fatal(err)
		}
		st.Close()
		cloneHistory(b, database, "PM-T0")
		st, eng = open()
	}
	defer st.Close()
	// ns/op is the backlog's alone, not the opening of the store or the history's making.
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		intakeBacklog(b, eng, fmt.Sprintf("PM-B%d-", i), backlogPostmortems)
		b.StartTimer()
		start := time.Now()
		n, err := eng.RunDue(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if n < backlogPostmortems*5 {
			b.Fatalf("ran %d jobs, want at least %d creates", n, backlogPostmortems*5)
		}
		b.ReportMetric(float64(backlogPostmortems*5)/time.Since(start).Seconds(), "tickets/s")
	}
	b.StopTimer()
	if pending, failed, err := st.JobCounts(ctx); err != nil || pending != 0 || failed != 0 {
		b.Fatalf("after the backlog: %d jobs pending, %d failed (%v)", pending, failed, err)
	}
}

// intakeBacklog takes in n postmortems of 5 items, each item for GitHub.
func intakeBacklog(b *testing.B, eng *sync.Engine, prefix string, n int) {
	ctx := context.Background()
	now := time.Now()
	targets := make([]ft.Target, 5)
	for i := range targets {
		targets[i] = ft.Target{Kind: ft.GitHub, Repo: "codinasion/codinasion-bot"}
	}
	for i := range n {
		doc := &ft.Document{ID: fmt.Sprintf("%s%d", prefix, i), Title: "Outage", Status: "finalized",
			SignedOffBy: []string{"carol@acme.com"}, SignedOffAt: &now}
		for j := range 5 {
			doc.ActionItems = append(doc.ActionItems, ft.ActionItem{ID: fmt.Sprintf("AI-%d", j+1), Title: "Action",
				Owner: "bob@acme.com", Priority: "P2"})
		}
		if _, err := eng.Intake(ctx, sync.WithTargets(doc, targets)); err != nil {
			b.Fatal(err)
		}
	}
}

// cloneHistory copies the rows of postmortem template (its revisions, items, tickets, status
// history and done jobs) into historyPostmortems postmortems, and its done jobs again until
// historyDoneJobs are done, with each copy's keys made its own. It reads the column lists
// from the database, so that it copies every column whatever migrations add.
func cloneHistory(b *testing.B, database, template string) {
	ctx := context.Background()
	driver, postgres := "sqlite", strings.HasPrefix(database, "postgres")
	if postgres {
		driver = "pgx"
	}
	db, err := sql.Open(driver, database)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	columns := func(table string) []string {
		q := `SELECT name FROM pragma_table_info(?)`
		if postgres {
			q = `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()
				AND table_name = $1 ORDER BY ordinal_position`
		}
		rows, err := db.QueryContext(ctx, q, table)
		if err != nil {
			b.Fatal(err)
		}
		defer rows.Close()
		var cols []string
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				b.Fatal(err)
			}
			cols = append(cols, c)
		}
		return cols
	}
	// clone copies table's rows of the template n times; made maps a column to the expression
	// of its value in copy k (the template's value is the column itself); id columns are left
	// to the database.
	clone := func(table, key string, n int, made map[string]string) {
		var cols, values []string
		for _, c := range columns(table) {
			if c == "id" && table != "postmortems" {
				continue
			}
			cols = append(cols, c)
			if expr, ok := made[c]; ok {
				values = append(values, expr)
			} else {
				values = append(values, c)
			}
		}
		q := fmt.Sprintf(`WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < %d)
			INSERT INTO %s (%s) SELECT %s FROM %s, n WHERE %s = '%s'`,
			n, table, strings.Join(cols, ", "), strings.Join(values, ", "), table, key, template)
		if _, err := db.ExecContext(ctx, q); err != nil {
			b.Fatalf("copy %s: %v", table, err)
		}
	}
	copyID := `'PM-H' || k`
	clone("postmortems", "id", historyPostmortems, map[string]string{"id": copyID})
	for _, table := range []string{"postmortem_revisions", "items", "status_history"} {
		clone(table, "postmortem_id", historyPostmortems, map[string]string{"postmortem_id": copyID})
	}
	clone("tickets", "postmortem_id", historyPostmortems, map[string]string{"postmortem_id": copyID,
		"key": `key || '-' || k`, "url": `url || '-' || k`})
	var jobs int
	if err := db.QueryRowContext(ctx, fmt.Sprintf(`SELECT COUNT(*) FROM outbox WHERE postmortem_id = '%s' AND done_at IS NOT NULL`, template)).Scan(&jobs); err != nil || jobs == 0 {
		b.Fatalf("the template's done jobs: %d (%v)", jobs, err)
	}
	clone("outbox", "postmortem_id", historyDoneJobs/jobs, map[string]string{"postmortem_id": `'PM-H' || (1 + (k - 1) % ` + fmt.Sprint(historyPostmortems) + `)`,
		"dedupe_key": `dedupe_key || '-' || k`})
	var items, tickets, done int
	if err := db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM items), (SELECT COUNT(*) FROM tickets),
		(SELECT COUNT(*) FROM outbox WHERE done_at IS NOT NULL)`).Scan(&items, &tickets, &done); err != nil {
		b.Fatal(err)
	}
	if items < historyPostmortems*5 || tickets < historyPostmortems*5 || done < historyDoneJobs {
		b.Fatalf("the history holds %d items, %d tickets and %d done jobs", items, tickets, done)
	}
	b.Logf("history: %d items, %d tickets, %d done jobs", items, tickets, done)
	if postgres {
		if _, err := db.ExecContext(ctx, `ANALYZE`); err != nil {
			b.Fatal(err)
		}
	}
}
