package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	ft "github.com/followthrough/followthrough"
)

// Who owes what: the status page's /owners and /owners/{email} (ft.OwnerSummary, ft.OwedItem).
// An owner owes their unfinished (open or in_progress), not removed items; owners compare
// case-insensitively, as the database's lower() folds them.

// Owners lists every owner with unfinished items, and nobody else, at now: those with overdue
// items first, by their oldest overdue due date, then the rest; each group by email.
func (s *Store) Owners(ctx context.Context, policy ft.StallPolicy, now time.Time) ([]ft.OwnerSummary, error) {
	q := ownersQuery(policy, dayNumber(now))
	rows, err := s.readDB.QueryContext(ctx, q.sql.String(), q.args...)
	if err != nil {
		return nil, fmt.Errorf("owners: %w", err)
	}
	owners, err := collect(rows, func(rows *sql.Rows) (ft.OwnerSummary, error) {
		var o ft.OwnerSummary
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
		owners = []ft.OwnerSummary{}
	}
	return owners, nil
}

// ownersQuery selects, per owner, the unfinished, overdue (on the day today) and stalled items
// and the day number of the oldest overdue due date, in the order of Owners.
func ownersQuery(policy ft.StallPolicy, today int64) *sqlText {
	q := &sqlText{}
	q.add(`SELECT email, COUNT(*), SUM(CASE WHEN due_day < ? THEN 1 ELSE 0 END), SUM(stalled),
		MIN(CASE WHEN due_day < ? THEN due_day END) AS oldest
	FROM (SELECT lower(i.owner) AS email, CASE WHEN i.stalled_reason IS NOT NULL THEN 1 ELSE 0 END AS stalled, `, today, today).
		dueDay(policy).add(` AS due_day
		FROM items i WHERE i.removed = 0 AND i.status IN ` + unfinishedStatuses + `) AS owed
	GROUP BY email ORDER BY oldest NULLS LAST, email`)
	return q
}

// OwnerItems returns the owner's email as the database folds it and their unfinished items
// across postmortems at now: overdue items first by due date, then the rest by their own due
// date with undated items last; ties by postmortem id, then item id. Someone who owes nothing
// gets no items.
func (s *Store) OwnerItems(ctx context.Context, email string, policy ft.StallPolicy, now time.Time) (string, []ft.OwedItem, error) {
	folded := foldASCII(email)
	today := dayNumber(now)
	q := ownerItemsQuery(folded, policy, today)
	rows, err := s.readDB.QueryContext(ctx, q.sql.String(), q.args...)
	if err != nil {
		return "", nil, fmt.Errorf("items of %s: %w", email, err)
	}
	items, err := collect(rows, func(rows *sql.Rows) (ft.OwedItem, error) {
		var o ft.OwedItem
		var dueDay sql.NullInt64
		it, err := scanItem(withColumns{rows, []any{&o.PostmortemTitle, &dueDay}})
		if err != nil {
			return o, err
		}
		o.ItemView, o.PostmortemID = it.View(), it.PostmortemID
		if dueDay.Valid {
			o.DueDate = dayDate(dueDay.Int64)
			if dueDay.Int64 < today {
				o.Overdue, o.DaysOverdue = true, int(today-dueDay.Int64)
			}
		}
		return o, nil
	})
	if err != nil {
		return "", nil, fmt.Errorf("items of %s: %w", email, err)
	}
	if items == nil {
		items = []ft.OwedItem{}
	}
	return folded, items, nil
}

// foldASCII lower-cases the ASCII letters of s and leaves every other character as it is, as
// the owner column is folded by lower() in SQL: SQLite's lower() folds ASCII letters only, and
// so does PostgreSQL's on text of collation "C", which the column has. Folding the asked-for
// email in SQL instead (lower(?)) folded it under the database's own collation on PostgreSQL,
// every letter, so that an owner with a capital letter beyond ASCII was never found.
func foldASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// withColumns scans a row of itemColumns followed by more columns, into more.
type withColumns struct {
	rows *sql.Rows
	more []any
}

func (w withColumns) Scan(dest ...any) error { return w.rows.Scan(append(dest, w.more...)...) }

// ownerItemsQuery selects the item columns, the postmortem's title and the due day of the
// unfinished items of an owner (as lower() folds it), in the order of OwnerItems on the day
// today.
func ownerItemsQuery(folded string, policy ft.StallPolicy, today int64) *sqlText {
	q := &sqlText{}
	q.add(`SELECT `+itemColumns+`, p.title, `).dueDay(policy).add(itemsFrom+`
		JOIN postmortems p ON p.id = i.postmortem_id
		WHERE lower(i.owner) = ? AND i.removed = 0 AND i.status IN `+unfinishedStatuses+`
		ORDER BY CASE WHEN `, folded).dueDay(policy).add(` < ? THEN 0 ELSE 1 END, CASE WHEN `, today).dueDay(policy).
		add(` < ? THEN `, today).dueDay(policy).add(` END, i.due NULLS LAST, i.postmortem_id, i.item_id`)
	return q
}
