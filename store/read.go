package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	ft "github.com/followthrough/followthrough"
)

// querier is what reads need: the read pool, or a write transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Postmortem returns one postmortem with its items, as the API shows it.
func (s *Store) Postmortem(ctx context.Context, id string) (ft.PostmortemView, error) {
	p, err := loadPostmortem(ctx, s.readDB, id, true)
	if err != nil {
		return ft.PostmortemView{}, err
	}
	return p.View(), nil
}

// ListPostmortems returns a page of postmortems, newest sign-off first, and the cursor of the
// next page ("" on the last page).
func (s *Store) ListPostmortems(ctx context.Context, f ft.ListFilter) ([]ft.PostmortemView, string, error) {
	where := []string{"1 = 1"}
	var args []any
	if f.State != "" {
		where, args = append(where, "state = ?"), append(args, f.State)
	}
	if f.Team != "" {
		where, args = append(where, "team = ?"), append(args, f.Team)
	}
	if f.Severity != "" {
		where, args = append(where, "severity = ?"), append(args, f.Severity)
	}
	if f.Cursor != "" {
		sortAt, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "(sort_at < ? OR (sort_at = ? AND id < ?))")
		args = append(args, sortAt, sortAt, id)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	args = append(args, limit+1)
	rows, err := s.readDB.QueryContext(ctx, `SELECT `+postmortemColumns+` FROM postmortems WHERE `+
		strings.Join(where, " AND ")+` ORDER BY sort_at DESC, id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list postmortems: %w", err)
	}
	records, err := collect(rows, func(rows *sql.Rows) (PostmortemRecord, error) { return scanPostmortem(rows) })
	if err != nil {
		return nil, "", fmt.Errorf("list postmortems: %w", err)
	}
	next := ""
	if len(records) > limit {
		records = records[:limit]
		next = encodeCursor(records[limit-1].sortAt, records[limit-1].ID)
	}
	refs := make([]*PostmortemRecord, len(records))
	for i := range records {
		refs[i] = &records[i]
	}
	if err := fillItems(ctx, s.readDB, refs...); err != nil {
		return nil, "", fmt.Errorf("list postmortems: %w", err)
	}
	pms := make([]ft.PostmortemView, len(records))
	for i, p := range records {
		pms[i] = p.View()
	}
	return pms, next, nil
}

func encodeCursor(sortAt, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(sortAt + "|" + id))
}

func decodeCursor(c string) (sortAt, id string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", "", ft.ErrBadCursor
	}
	sortAt, id, ok := strings.Cut(string(b), "|")
	if !ok || id == "" {
		return "", "", ft.ErrBadCursor
	}
	if _, err := time.Parse(timeFormat, sortAt); err != nil {
		return "", "", ft.ErrBadCursor
	}
	return sortAt, id, nil
}

// History returns an item's status changes, oldest first.
func (s *Store) History(ctx context.Context, pmID, itemID string) ([]ft.HistoryEntry, error) {
	byItem, err := s.history(ctx, pmID, itemID)
	return byItem[itemID], err
}

// PostmortemHistory returns the status changes of every item of a postmortem, by item id,
// oldest first, in one query.
func (s *Store) PostmortemHistory(ctx context.Context, pmID string) (map[string][]ft.HistoryEntry, error) {
	return s.history(ctx, pmID, "")
}

// history reads status changes of one item, or of every item when itemID is empty.
func (s *Store) history(ctx context.Context, pmID, itemID string) (map[string][]ft.HistoryEntry, error) {
	rows, err := s.readDB.QueryContext(ctx, `SELECT item_id, from_status, to_status, source, actor, at FROM status_history
		WHERE postmortem_id = ? AND (? = '' OR item_id = ?) ORDER BY id`, pmID, itemID, itemID)
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", pmID, err)
	}
	defer rows.Close()
	out := map[string][]ft.HistoryEntry{}
	for rows.Next() {
		var h ft.HistoryEntry
		var item, at string
		if err := rows.Scan(&item, &h.From, &h.To, &h.Source, &h.Actor, &at); err != nil {
			return nil, err
		}
		h.At = parseTime(at)
		out[item] = append(out[item], h)
	}
	return out, rows.Err()
}
