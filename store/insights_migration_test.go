package store

import (
	"context"
	"database/sql"
	"maps"
	"testing"

	ft "github.com/followthrough/followthrough"
)

// TestFinishedAtBackfill: migration 0009 gives a database that predates it the finish times
// the store keeps on items as their statuses change (setItemStatus), from the status history:
// the latest change into finished (A7: reopened, then done again), none for an item finished
// at sign-off (B5), and the change into done after a won't-do at sign-off was unchecked (B8).
func TestFinishedAtBackfill(t *testing.T) { forEachBackend(t, testFinishedAtBackfill) }

func testFinishedAtBackfill(t *testing.T, db backend) {
	ctx := context.Background()
	s := db.open(t)
	seedInsights(t, s)
	finishedAt := func() map[string]string {
		t.Helper()
		rows, err := s.readDB.QueryContext(ctx, `SELECT item_id, finished_at FROM items`)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		_, err = collect(rows, func(rows *sql.Rows) (struct{}, error) {
			var id string
			var at sql.NullString
			err := rows.Scan(&id, &at)
			if at.Valid {
				out[id] = at.String
			}
			return struct{}{}, err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	kept := finishedAt()
	for id, want := range map[string]string{
		"A1": "2026-11-09T10:00:00.000000000Z",
		"A7": "2026-11-12T10:00:00.000000000Z",
		"B8": "2026-10-14T08:00:00.000000000Z",
	} {
		if kept[id] != want {
			t.Errorf("%s finished at %q; want %q", id, kept[id], want)
		}
	}
	if at, ok := kept["B5"]; ok {
		t.Errorf("B5, finished at sign-off, has a finish time %q", at)
	}
	figures, err := s.Insights(ctx, ft.InsightsFilter{}, testPolicy, insightsNow)
	if err != nil {
		t.Fatal(err)
	}

	// The database as it was before migration 0009, then migrated again.
	for _, stmt := range []string{
		`DROP INDEX items_insights`,
		`ALTER TABLE items DROP COLUMN finished_at`,
		`CREATE INDEX items_insights ON items (postmortem_id, item_id, removed, status, priority, due, team, created_at)`,
		`DELETE FROM goose_db_version WHERE version_id = 9`,
	} {
		if _, err := s.writeDB.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if got := finishedAt(); !maps.Equal(got, kept) {
		t.Errorf("backfilled finish times %v; the store kept %v", got, kept)
	}
	again, err := s.Insights(ctx, ft.InsightsFilter{}, testPolicy, insightsNow)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := jsonText(t, figures), jsonText(t, again); a != b {
		t.Errorf("figures after the backfill:\n%s\nbefore:\n%s", b, a)
	}
}
