package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
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

// ListFilter selects and pages postmortems. Limit is already bounded by the caller.
type ListFilter struct {
	State    string
	Team     string
	Severity string
	Limit    int
	Cursor   string
}

// Postmortem returns one postmortem with its items, as the API shows it.
func (s *Store) Postmortem(ctx context.Context, id string) (ft.PostmortemView, error) {
	return postmortemView(ctx, s.readDB, id)
}

// PostmortemHead is a postmortem without its items (Items is nil, Completion zero): for work
// that needs only its title, link and severity, without reading every item.
func (s *Store) PostmortemHead(ctx context.Context, id string) (ft.PostmortemView, error) {
	pm, _, err := scanPostmortem(s.readDB.QueryRowContext(ctx, `SELECT `+postmortemColumns+` FROM postmortems WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return pm, fmt.Errorf("postmortem %s: %w", id, ft.ErrNotFound)
	}
	if err != nil {
		return pm, fmt.Errorf("read postmortem %s: %w", id, err)
	}
	return pm, nil
}

// PostmortemTx is Postmortem inside a write transaction, for events that carry the view.
func PostmortemTx(ctx context.Context, tx *Tx, id string) (ft.PostmortemView, error) {
	return postmortemView(ctx, tx.tx, id)
}

const postmortemColumns = `id, title, url, severity, team, signed_off_at, accepted_at, sort_at, state,
	reopened_count, COALESCE(own_kind, ''), COALESCE(own_key, ''), revision`

func scanPostmortem(row interface{ Scan(...any) error }) (ft.PostmortemView, string, error) {
	var pm ft.PostmortemView
	var signedOff sql.NullString
	var accepted, sortAt, ownKind, ownKey string
	err := row.Scan(&pm.ID, &pm.Title, &pm.URL, &pm.Severity, &pm.Team, &signedOff, &accepted, &sortAt,
		&pm.State, &pm.ReopenedCount, &ownKind, &ownKey, &pm.Revision)
	if err != nil {
		return pm, "", err
	}
	if signedOff.Valid {
		t := parseTime(signedOff.String)
		pm.SignedOffAt = &t
	}
	pm.AcceptedAt = parseTime(accepted)
	if ownKind != "" {
		pm.Tracker = &ft.TicketRef{Kind: ft.TrackerKind(ownKind), Key: ownKey}
	}
	return pm, sortAt, nil
}

func postmortemView(ctx context.Context, q querier, id string) (ft.PostmortemView, error) {
	pm, _, err := scanPostmortem(q.QueryRowContext(ctx, `SELECT `+postmortemColumns+` FROM postmortems WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return pm, fmt.Errorf("postmortem %s: %w", id, ft.ErrNotFound)
	}
	if err != nil {
		return pm, fmt.Errorf("read postmortem %s: %w", id, err)
	}
	if err := fillItems(ctx, q, &pm); err != nil {
		return pm, fmt.Errorf("read postmortem %s: %w", id, err)
	}
	return pm, nil
}

// fillItems reads the items of the postmortems, all in one query, and their completion.
func fillItems(ctx context.Context, q querier, pms ...*ft.PostmortemView) error {
	if len(pms) == 0 {
		return nil
	}
	ids := make([]string, len(pms))
	byID := make(map[string]*ft.PostmortemView, len(pms))
	for i, pm := range pms {
		ids[i], byID[pm.ID] = pm.ID, pm
		pm.Items = []ft.ItemView{}
	}
	idList, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	items, err := loadItems(ctx, q, `i.postmortem_id IN (SELECT value FROM json_each(?))`, string(idList))
	if err != nil {
		return err
	}
	for _, it := range items {
		pm := byID[it.PostmortemID]
		pm.Items = append(pm.Items, it.View())
	}
	for _, pm := range pms {
		done := 0
		for _, it := range pm.Items {
			if it.Status.Finished() {
				done++
			}
		}
		pm.Completion = ft.NewCompletion(done, len(pm.Items))
	}
	return nil
}

// ListPostmortems returns a page of postmortems, newest sign-off first, and the cursor of the
// next page ("" on the last page).
func (s *Store) ListPostmortems(ctx context.Context, f ListFilter) ([]ft.PostmortemView, string, error) {
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
	var pms []ft.PostmortemView
	var sortKeys []string
	for rows.Next() {
		pm, sortAt, err := scanPostmortem(rows)
		if err != nil {
			rows.Close()
			return nil, "", fmt.Errorf("list postmortems: %w", err)
		}
		pms, sortKeys = append(pms, pm), append(sortKeys, sortAt)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list postmortems: %w", err)
	}
	next := ""
	if len(pms) > limit {
		pms = pms[:limit]
		next = encodeCursor(sortKeys[limit-1], pms[limit-1].ID)
	}
	refs := make([]*ft.PostmortemView, len(pms))
	for i := range pms {
		refs[i] = &pms[i]
	}
	if err := fillItems(ctx, s.readDB, refs...); err != nil {
		return nil, "", fmt.Errorf("list postmortems: %w", err)
	}
	if pms == nil {
		pms = []ft.PostmortemView{}
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
