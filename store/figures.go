package store

import (
	"context"
	"time"

	ft "github.com/followthrough/followthrough"
)

// The numbers that /insights and /owners compute with, kept on items and their status history
// as they change (migration 0015), so that a request reads integers from indexes in the order
// it groups by, and no time text, no join with the postmortems:
//
//   - an item's figure_team (its own team, else its postmortem's), severity and signed_off_unix
//     (its postmortem's severity, and its sign-off, or acceptance when there is none, in Unix
//     seconds), due_day (own due date), created_week and born_finished (finished when
//     created): written by intake with the item (insertItems, updateItem), and for the items a
//     revision no longer lists by refreshFigureNumbers; finished_unix: set by setItemStatus
//     with finished_at;
//   - a status change's week and crossing, and a copy of its item's filter numbers and removed
//     flag: set by setItemStatus, and brought up to date by refreshFigureNumbers after a
//     revision that changes what they are worked out from (IntakePlan.SameFigures).
//
// A first intake writes them with its rows and reads nothing back: on PostgreSQL, reading a
// postmortem's items again would make concurrent intakes conflict (predicate locks).
//
// The day and week numbers are worked out here, in Go, so that the SQL stays the same on every
// database.

// weekOf is the day number of the Monday that starts the week (UTC) of the day day. Day 0,
// 1970-01-01, was a Thursday.
func weekOf(day int64) int64 { return (day+3)/7*7 - 3 }

// dueDayOf is the day number of a YYYY-MM-DD due date, or nil (NULL) for none.
func dueDayOf(due string) any {
	t, err := time.Parse(time.DateOnly, due)
	if err != nil {
		return nil
	}
	return dayNumber(t)
}

// crossing is 1 for a change from unfinished into finished, -1 for one back, 0 for any other.
func crossing(from, to ft.Status) int {
	switch {
	case !from.Finished() && to.Finished():
		return 1
	case from.Finished() && !to.Finished():
		return -1
	}
	return 0
}

// postmortemFigures are the figure numbers a postmortem gives its items.
type postmortemFigures struct {
	team, severity string
	signedOffUnix  int64 // its sign-off, else its acceptance (sort_at), in Unix seconds
}

// teamOf is an item's team as the figures count it: its own, else its postmortem's.
func (pm postmortemFigures) teamOf(r ItemRow) string {
	if r.Team != "" {
		return r.Team
	}
	return pm.team
}

// figuresOf is the figure numbers of a postmortem that intake has just written with the sort
// key sortAt (its sign-off, else its first acceptance: writePostmortem).
func figuresOf(pm PostmortemRow, sortAt time.Time) postmortemFigures {
	return postmortemFigures{team: pm.Team, severity: pm.Severity, signedOffUnix: sortAt.Unix()}
}

// refreshFigureNumbers brings the figure numbers of a postmortem's items that a revision did
// not write (items it no longer lists) and of their status history up to date with the
// postmortem's, pm; rows already up to date are left alone.
func refreshFigureNumbers(ctx context.Context, tx *Tx, pmID string, pm postmortemFigures) error {
	_, err := tx.exec(ctx, `UPDATE items SET figure_team = CASE WHEN team <> '' THEN team ELSE ? END,
		severity = ?, signed_off_unix = ?
		WHERE postmortem_id = ? AND (figure_team <> CASE WHEN team <> '' THEN team ELSE ? END
			OR severity <> ? OR signed_off_unix <> ?)`,
		pm.team, pm.severity, pm.signedOffUnix, pmID, pm.team, pm.severity, pm.signedOffUnix)
	if err != nil {
		return err
	}
	// Only rows that differ are written, so that a revision that changes nothing the figures
	// select on rewrites no index entry.
	const item = `FROM items i WHERE i.postmortem_id = status_history.postmortem_id AND i.item_id = status_history.item_id`
	_, err = tx.exec(ctx, `UPDATE status_history SET
		figure_team = (SELECT i.figure_team `+item+`), removed = (SELECT i.removed `+item+`),
		severity = ?, signed_off_unix = ?
		WHERE postmortem_id = ? AND (severity <> ? OR signed_off_unix <> ?
			OR EXISTS (SELECT 1 `+item+` AND (i.figure_team <> status_history.figure_team OR i.removed <> status_history.removed)))`,
		pm.severity, pm.signedOffUnix, pmID, pm.severity, pm.signedOffUnix)
	return err
}
