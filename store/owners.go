package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	ft "github.com/followthrough/followthrough"
)

// Who owes what: the status page's /owners and /owners/{email}. An owner owes their unfinished
// (open or in_progress), not removed items; owners compare case-insensitively, as the database's
// lower() folds them.

// OwnerSummary is what one owner owes.
type OwnerSummary struct {
	Email   string `json:"email"` // lower-cased
	Open    int    `json:"open"`  // unfinished items
	Overdue int    `json:"overdue"`
	Stalled int    `json:"stalled"`
	// OldestOverdueDue is the earliest effective due date of their overdue items, YYYY-MM-DD;
	// nil when none is overdue.
	OldestOverdueDue *string `json:"oldest_overdue_due"`
}

// OwedItem is one unfinished item of an owner.
type OwedItem struct {
	ft.ItemView
	PostmortemID    string `json:"postmortem_id"`
	PostmortemTitle string `json:"postmortem_title"`
	// DueDate is the effective due date: the item's own, else the one default_due gives.
	DueDate string `json:"due_date"`
	Overdue bool   `json:"overdue"`
	// DaysOverdue counts the days from the due date to today (UTC): 1 on the day after it; 0
	// when the item is not overdue.
	DaysOverdue int `json:"days_overdue"`
}

// Owners lists every owner with unfinished items, and nobody else, at now: those with overdue
// items first, by their oldest overdue due date, then the rest; each group by email.
func (s *Store) Owners(ctx context.Context, due DefaultDue, now time.Time) ([]OwnerSummary, error) {
	q := ownersQuery(due, dayNumber(now))
	rows, err := s.readDB.QueryContext(ctx, q.sql.String(), q.args...)
	if err != nil {
		return nil, fmt.Errorf("owners: %w", err)
	}
	owners, err := collect(rows, func(rows *sql.Rows) (OwnerSummary, error) {
		var o OwnerSummary
		var oldest sql.NullInt64
		if err := rows.Scan(&o.Email, &o.Open, &o.Overdue, &o.Stalled, &oldest); err != nil {
			return o, err
		}
		if oldest.Valid {
			date := dayDate(oldest.Int64)
			o.OldestOverdueDue = &date
		}
		return o, nil
	})
	if err != nil {
		return nil, fmt.Errorf("owners: %w", err)
	}
	if owners == nil {
		owners = []OwnerSummary{}
	}
	return owners, nil
}

// ownersQuery selects, per owner, the unfinished, overdue (on the day today) and stalled items
// and the day number of the oldest overdue due date, in the order of Owners.
func ownersQuery(due DefaultDue, today int64) *sqlText {
	q := &sqlText{}
	q.add(`SELECT email, COUNT(*), SUM(CASE WHEN due_day < ? THEN 1 ELSE 0 END), SUM(stalled),
		MIN(CASE WHEN due_day < ? THEN due_day END) AS oldest
	FROM (SELECT lower(i.owner) AS email, CASE WHEN i.stalled_reason IS NOT NULL THEN 1 ELSE 0 END AS stalled, `, today, today).
		dueDay(due).add(` AS due_day
		FROM postmortems p JOIN items i ON i.postmortem_id = p.id
		WHERE i.removed = 0 AND i.status IN ` + unfinishedStatuses + `) AS owed
	GROUP BY email ORDER BY oldest NULLS LAST, email`)
	return q
}

// OwnerItems returns the owner's email as the database folds it and their unfinished items
// across postmortems at now: overdue items first by due date, then the rest by their own due
// date with undated items last; ties by postmortem id, then item id. Someone who owes nothing
// gets no items.
func (s *Store) OwnerItems(ctx context.Context, email string, due DefaultDue, now time.Time) (string, []OwedItem, error) {
	var folded string
	if err := s.readDB.QueryRowContext(ctx, `SELECT lower(?)`, email).Scan(&folded); err != nil {
		return "", nil, fmt.Errorf("items of %s: %w", email, err)
	}
	today := dayNumber(now)
	q := ownerItemsQuery(folded, due, today)
	rows, err := s.readDB.QueryContext(ctx, q.sql.String(), q.args...)
	if err != nil {
		return "", nil, fmt.Errorf("items of %s: %w", email, err)
	}
	items, err := collect(rows, func(rows *sql.Rows) (OwedItem, error) {
		var it OwedItem
		var dueDay sql.NullInt64
		var err error
		it.ItemView, err = scanItem(rows, &it.PostmortemID, &it.PostmortemTitle, &dueDay)
		if err != nil || !dueDay.Valid {
			return it, err
		}
		it.DueDate = dayDate(dueDay.Int64)
		if dueDay.Int64 < today {
			it.Overdue, it.DaysOverdue = true, int(today-dueDay.Int64)
		}
		return it, nil
	})
	if err != nil {
		return "", nil, fmt.Errorf("items of %s: %w", email, err)
	}
	if items == nil {
		items = []OwedItem{}
	}
	return folded, items, nil
}

// ownerItemsQuery selects the postmortem id and title, the due day and the item columns of the
// unfinished items of an owner (as lower() folds it), in the order of OwnerItems on the day
// today.
func ownerItemsQuery(folded string, due DefaultDue, today int64) *sqlText {
	q := &sqlText{}
	q.add(`SELECT o.* FROM (SELECT i.postmortem_id, p.title, `).dueDay(due).add(` AS due_day, `+itemColumns+`
		FROM items i JOIN postmortems p ON p.id = i.postmortem_id
		LEFT JOIN tickets t ON t.postmortem_id = i.postmortem_id AND t.item_id = i.item_id AND t.current = 1
		WHERE lower(i.owner) = ? AND i.removed = 0 AND i.status IN `+unfinishedStatuses+`) AS o
	ORDER BY CASE WHEN o.due_day < ? THEN 0 ELSE 1 END, CASE WHEN o.due_day < ? THEN o.due_day END,
		o.due NULLS LAST, o.postmortem_id, o.item_id`, folded, today, today)
	return q
}
