package store

import (
	"context"
	"database/sql"
	"maps"
	"slices"
	"strings"
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

	// The database as it was before migration 0009 (and so before 0015), then migrated again.
	revertFigureNumbers(t, s)
	for _, stmt := range []string{
		`DROP INDEX IF EXISTS items_insights`, // migration 0016 dropped it
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

// figureNumbers reads the numbers migration 0015 keeps on items and their status history, one
// line per row.
func figureNumbers(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.readDB.Query(`SELECT postmortem_id || '/' || item_id || ' team=' || figure_team || ' severity=' || severity
		|| ' signed_off=' || signed_off_unix || ' created_week=' || created_week || ' due_day=' || COALESCE(CAST(due_day AS TEXT), 'none')
		|| ' finished=' || COALESCE(CAST(finished_unix AS TEXT), 'none') || ' born_finished=' || born_finished FROM items
		UNION ALL
		SELECT 'history ' || id || ' ' || postmortem_id || '/' || item_id || ' week=' || week || ' crossing=' || crossing
		|| ' team=' || figure_team || ' severity=' || severity || ' signed_off=' || signed_off_unix || ' removed=' || removed
		FROM status_history ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := collect(rows, scanString)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// revertFigureNumbers turns the database back to before migration 0015.
func revertFigureNumbers(t *testing.T, s *Store) {
	t.Helper()
	stmts := []string{
		`DROP INDEX items_by_created_week`, `DROP INDEX status_history_crossings`, `DROP INDEX items_by_figure_team`,
		`DROP INDEX items_days_to_done`, `DROP INDEX items_unfinished`, `DROP INDEX items_owed`,
		`CREATE INDEX items_owed ON items (lower(owner), postmortem_id, item_id, priority, due, team, stalled_reason,
			removed, status, owner) WHERE removed = 0 AND status IN ('open', 'in_progress')`,
	}
	for _, c := range []string{"figure_team", "severity", "signed_off_unix", "created_week", "due_day", "finished_unix", "born_finished"} {
		stmts = append(stmts, `ALTER TABLE items DROP COLUMN `+c)
	}
	for _, c := range []string{"week", "crossing", "figure_team", "severity", "signed_off_unix", "removed"} {
		stmts = append(stmts, `ALTER TABLE status_history DROP COLUMN `+c)
	}
	stmts = append(stmts, `DELETE FROM goose_db_version WHERE version_id = 15`)
	for _, stmt := range stmts {
		if _, err := s.writeDB.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// TestFigureNumbersBackfill: the numbers the store keeps on items and their history as they
// change (intake, status changes, a revision that drops an item, reopen and finish, won't do,
// and a revision that moves a postmortem to another team, severity and sign-off) are the
// numbers migration 0015 works out from scratch for a database that predates it, and the
// figures are the same from both.
func TestFigureNumbersBackfill(t *testing.T) { forEachBackend(t, testFigureNumbersBackfill) }

func testFigureNumbersBackfill(t *testing.T, db backend) {
	ctx := context.Background()
	s := db.open(t)
	seedInsights(t, s)
	// Revision 2 of PM-B: another team, severity and sign-off; B3 gets its own team and no due
	// date, B2 is dropped.
	err := s.Write(ctx, func(tx *Tx) error {
		items, err := LoadItemsTx(ctx, tx, "PM-B")
		if err != nil {
			return err
		}
		var changes []ItemChange
		for _, it := range items {
			c := ItemChange{Row: it.ItemRow, From: it.Status}
			switch it.ID {
			case "B2":
				c.Row.Removed, c.Row.Status = true, ft.StatusWontDo
			case "B3":
				c.Row.Team, c.Row.Due = "storage", ""
			}
			changes = append(changes, c)
		}
		signed := at("2026-09-30T23:30:00Z")
		return ApplyIntake(ctx, tx, IntakePlan{
			Postmortem: PostmortemRow{ID: "PM-B", Title: "Outage PM-B", Team: "search-infra", Severity: "SEV1", SignedOffAt: &signed},
			Revision:   Revision{Number: 2, Hash: "revision-2", Document: []byte("{}")},
			Items:      changes,
		}, at("2026-11-25T10:00:00Z"))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Write(ctx, func(tx *Tx) error {
		if _, err := SetItemStatus(ctx, tx, "PM-B", "B7", ft.StatusOpen, "github", "", at("2026-11-25T11:00:00Z")); err != nil {
			return err
		}
		_, err := SetItemStatus(ctx, tx, "PM-C", "C1", ft.StatusWontDo, "api", "", at("2026-11-25T12:00:00Z"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	kept := figureNumbers(t, s)
	filters := []ft.InsightsFilter{{}, {Team: "search-infra"}, {Team: "storage"}, {Severity: "SEV1"},
		{Since: at("2026-10-01T00:00:00Z")}, {Since: at("2026-09-30T00:00:00Z")}}
	var before []string
	for _, f := range filters {
		figures, err := s.Insights(ctx, f, testPolicy, insightsNow)
		if err != nil {
			t.Fatal(err)
		}
		before = append(before, jsonText(t, figures))
	}

	revertFigureNumbers(t, s)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if got := figureNumbers(t, s); !slices.Equal(got, kept) {
		t.Errorf("backfilled numbers:\n%s\nthe store kept:\n%s", strings.Join(got, "\n"), strings.Join(kept, "\n"))
	}
	for i, f := range filters {
		figures, err := s.Insights(ctx, f, testPolicy, insightsNow)
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonText(t, figures); got != before[i] {
			t.Errorf("figures for %+v after the backfill:\n%s\nbefore:\n%s", f, got, before[i])
		}
	}
}
