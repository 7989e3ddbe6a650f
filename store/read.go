package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
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
// Its row and its items are read at one moment (readAtOnce): its state and its completion agree.
func (s *Store) Postmortem(ctx context.Context, id string) (ft.PostmortemView, error) {
	pm, _, err := s.postmortemAtOnce(ctx, id, false)
	return pm, err
}

// postmortemAtOnce reads a postmortem and its items and, withHistory, its items' status
// changes (by item id, oldest first), all at one moment (readAtOnce).
func (s *Store) postmortemAtOnce(ctx context.Context, id string, withHistory bool) (ft.PostmortemView, map[string][]ft.HistoryEntry, error) {
	var p PostmortemRecord
	var history map[string][]ft.HistoryEntry
	err := s.readAtOnce(ctx, func(q querier) error {
		var err error
		if p, err = loadPostmortem(ctx, q, id, true); err != nil || !withHistory {
			return err
		}
		history, err = readHistory(ctx, q, id)
		return err
	})
	if err != nil {
		return ft.PostmortemView{}, nil, err
	}
	return p.View(), history, nil
}

// readAtOnce runs read's queries in one read transaction of the page readers, so that they all
// see the database at one moment (readSnapshot): statements run one by one on the pool each
// see what is committed when they run, and a postmortem's row and its items, read by two, could
// show it completed with none of its items finished. The transaction runs the readers'
// prepared statements; a text met first there runs as text and is prepared after, once the
// transaction's connection is back in the pool (prepareWanted), so that a read never holds one
// connection while it waits for another.
func (s *Store) readAtOnce(ctx context.Context, read func(querier) error) error {
	tx, err := s.readSnapshot(ctx)
	if err != nil {
		return err
	}
	tx.stmts = s.readDB.prepared
	err = read(tx.reader())
	_ = tx.tx.Rollback() // it only read: nothing to keep
	s.readDB.prepared.prepareWanted(ctx)
	return err
}

// ListPostmortems returns a page of postmortems, newest sign-off first, and the cursor of the
// next page ("" on the last page).
//
// The pages of one walk (a first page, then each page's next cursor) see every postmortem that
// existed when it began exactly once, whatever revisions move sign-offs meanwhile: the cursor
// holds, with its position, the walk's beginning (the last move of a sort key then, sort_seq),
// and a postmortem moved since is placed by its sort key as of then, which its revisions keep.
// One added since is placed by its first sort key, so it is seen at most once. The filters
// (state, team, severity) match each postmortem as it is when a page is read: a filtered walk
// sees each postmortem at most once, and exactly once each that matches all along. A cursor of
// the earlier form, without a beginning, is read as if the walk began with its page; so is one
// of a walk during which more than maxWalkMoves sign-offs moved.
func (s *Store) ListPostmortems(ctx context.Context, f ft.ListFilter) ([]ft.PostmortemView, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	var after *listCursor
	if f.Cursor != "" {
		c, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		after = &c
	}
	// The walk's beginning, the postmortems and their items at one moment (readAtOnce).
	var records []PostmortemRecord
	var began int64
	err := s.readAtOnce(ctx, func(q querier) error {
		var lastMove int64
		if err := q.QueryRowContext(ctx, `SELECT `+lastMoveQuery).Scan(&lastMove); err != nil {
			return err
		}
		began = lastMove
		if after != nil && after.began >= 0 {
			if after.began > lastMove {
				return ft.ErrBadCursor // no walk began at a move not yet made
			}
			// Move numbers have no gaps: lastMove - began moves were made since.
			if lastMove-after.began <= maxWalkMoves {
				began = after.began
			}
		}
		// Moved since the walk began: read apart below, and placed as of then.
		unmovedUpTo := int64(-1)
		if began < lastMove {
			unmovedUpTo = began
		}
		query, args := listQuery(f, after, unmovedUpTo, limit+1)
		rows, err := q.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		records, err = collect(rows, func(rows *sql.Rows) (PostmortemRecord, error) { return scanPostmortem(rows) })
		if err != nil {
			return err
		}
		if unmovedUpTo >= 0 {
			moved, err := movedSince(ctx, q, began, f, after)
			if err != nil {
				return err
			}
			records = append(records, moved...)
			slices.SortFunc(records, func(a, b PostmortemRecord) int {
				return cmp.Or(strings.Compare(b.sortAt, a.sortAt), strings.Compare(b.ID, a.ID))
			})
			records = records[:min(len(records), limit+1)]
		}
		// The one more than limit only says that there is a next page: its items are not read.
		refs := make([]*PostmortemRecord, min(len(records), limit))
		for i := range refs {
			refs[i] = &records[i]
		}
		return fillItems(ctx, q, refs...)
	})
	if errors.Is(err, ft.ErrBadCursor) {
		return nil, "", ft.ErrBadCursor
	}
	if err != nil {
		return nil, "", fmt.Errorf("list postmortems: %w", err)
	}
	next := ""
	if len(records) > limit {
		records = records[:limit]
		last := records[limit-1]
		next = encodeCursor(listCursor{sortAt: last.sortAt, id: last.ID, began: began})
	}
	pms := make([]ft.PostmortemView, len(records))
	for i, p := range records {
		pms[i] = p.View()
	}
	return pms, next, nil
}

// maxWalkMoves bounds the moves made since a walk began that its pages place as of then: each
// page reads every postmortem moved since (movedSince), and a cursor kept for months (a
// bookmark) or written by hand must not make a page read all of them. A walk during which
// more sign-offs moved (they move when a postmortem is re-signed: a few a day) reads on from
// its position as if it began with the page, as a cursor of the earlier form does.
var maxWalkMoves int64 = 1000 // a variable for tests

// lastMoveQuery is the number of the last move of any postmortem's sort key (0 before the
// first), read from the end of postmortems_moved.
const lastMoveQuery = `COALESCE((SELECT sort_seq FROM postmortems WHERE sort_seq > 0 ORDER BY sort_seq DESC LIMIT 1), 0)`

// movedQuery reads the postmortems whose sort key moved after a walk began (move ?), through
// postmortems_moved, each with its sort key as of then: that of its last revision made by then
// (a revision keeps its key and the number of its last move). Every revision made before
// migration 0020 had moved nothing, and the last of them has its key, so there is one; the
// current key stands in if not.
const movedQuery = `SELECT ` + postmortemColumns + `, COALESCE((SELECT r.sort_at FROM postmortem_revisions r
	WHERE r.postmortem_id = p.id AND r.sort_seq <= ? ORDER BY r.revision DESC LIMIT 1), p.sort_at)
	FROM postmortems p WHERE p.sort_seq > ? AND p.sort_seq > 0`

// movedSince returns the postmortems moved since move began that f selects after the cursor,
// each placed (sortAt) as of move began. They are few: those whose sign-off changed during a
// walk. The filters and the cursor apply here, in Go, so that the query always reads the moved
// postmortems through their index; text compares byte by byte in both databases, as here.
func movedSince(ctx context.Context, q querier, began int64, f ft.ListFilter, after *listCursor) ([]PostmortemRecord, error) {
	rows, err := q.QueryContext(ctx, movedQuery, began, began)
	if err != nil {
		return nil, err
	}
	moved, err := collect(rows, func(rows *sql.Rows) (PostmortemRecord, error) {
		var placed string
		p, err := scanPostmortem(withExtra{rows, &placed})
		p.sortAt = placed
		return p, err
	})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(moved, func(p PostmortemRecord) bool {
		return (f.State != "" && string(p.State) != f.State) || (f.Team != "" && p.Team != f.Team) ||
			(f.Severity != "" && p.Severity != f.Severity) ||
			(after != nil && cmp.Or(strings.Compare(p.sortAt, after.sortAt), strings.Compare(p.ID, after.id)) >= 0)
	}), nil
}

// withExtra scans a row of postmortemColumns followed by the columns of extra.
type withExtra struct {
	rows  *sql.Rows
	extra any
}

func (w withExtra) Scan(dest ...any) error { return w.rows.Scan(append(dest, w.extra)...) }

// listQuery selects up to limit postmortems as f asks (all of them when limit is 0), after the
// cursor's position (from the top when nil), in the list's order; with unmovedUpTo >= 0, only
// those whose sort key has not moved since that move.
func listQuery(f ft.ListFilter, after *listCursor, unmovedUpTo int64, limit int) (string, []any) {
	where, args := listWhere(f, "", after, unmovedUpTo)
	query := `SELECT ` + postmortemColumns + ` FROM postmortems WHERE ` + where + listOrder
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	return query, args
}

// listOrder is the list's order, newest sign-off first; postmortems_list, or the index of the
// filter (postmortems_by_state, _by_team, _by_severity), reads it in that order.
const listOrder = ` ORDER BY sort_at DESC, id DESC`

// listWhere is the condition on postmortems (named table, or unnamed when "") that selects
// what f asks for: its filters, what comes after the cursor's position (after, if any), and
// with unmovedUpTo >= 0 what has not moved since that move.
func listWhere(f ft.ListFilter, table string, after *listCursor, unmovedUpTo int64) (string, []any) {
	col := func(name string) string {
		if table == "" {
			return name
		}
		return table + "." + name
	}
	where := []string{"1 = 1"}
	var args []any
	if f.State != "" {
		where, args = append(where, col("state")+" = ?"), append(args, f.State)
	}
	if f.Team != "" {
		where, args = append(where, col("team")+" = ?"), append(args, f.Team)
	}
	if f.Severity != "" {
		where, args = append(where, col("severity")+" = ?"), append(args, f.Severity)
	}
	if unmovedUpTo >= 0 {
		where, args = append(where, col("sort_seq")+" <= ?"), append(args, unmovedUpTo)
	}
	if after != nil {
		// A row value: the index reads on from the cursor instead of from the top.
		where = append(where, "("+col("sort_at")+", "+col("id")+") < (?, ?)")
		args = append(args, after.sortAt, after.id)
	}
	return strings.Join(where, " AND "), args
}

// EachPostmortem calls fn with every postmortem that f selects, from f.Cursor on (f.Limit does
// not apply), newest sign-off first, each with its items: the exports. It streams, holding one
// postmortem at a time whatever their number: the postmortems and their items come from two
// queries read side by side in one read transaction (one snapshot), on a connection reserved
// for exports, so that an export never holds the writer nor the connections pages read with,
// however slowly its client reads. A bad cursor is ft.ErrBadCursor before fn is called.
func (s *Store) EachPostmortem(ctx context.Context, f ft.ListFilter, fn func(ft.PostmortemView) error) error {
	// An export is one snapshot: a cursor is only where it starts, at the sort keys of now.
	var after *listCursor
	if f.Cursor != "" {
		c, err := decodeCursor(f.Cursor)
		if err != nil {
			return err
		}
		after = &c
	}
	query, args := listQuery(f, after, -1, 0)
	itemsQuery, itemArgs := exportItemsQuery(f, after)
	pmsTx, itemsTx, end, err := s.exportSnapshot(ctx)
	if err != nil {
		return fmt.Errorf("export postmortems: %w", redactError(err, s.pgDatabase()))
	}
	defer end()
	pms, err := pmsTx.query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("export postmortems: %w", err)
	}
	defer pms.Close()
	items, err := itemsTx.query(ctx, itemsQuery, itemArgs...)
	if err != nil {
		return fmt.Errorf("export postmortems: %w", err)
	}
	defer items.Close()
	var next *Item // the first item not yet given to its postmortem
	readItem := func() error {
		next = nil
		if !items.Next() {
			return items.Err()
		}
		it, err := scanItem(items)
		if err != nil {
			return err
		}
		next = &it
		return nil
	}
	if err := readItem(); err != nil {
		return fmt.Errorf("export postmortems: %w", err)
	}
	for pms.Next() {
		p, err := scanPostmortem(pms)
		if err != nil {
			return fmt.Errorf("export postmortems: %w", err)
		}
		// Both queries read in the same order, so a postmortem's items come next.
		p.Items = p.Items[:0]
		for next != nil && next.PostmortemID == p.ID {
			p.Items = append(p.Items, *next)
			if err := readItem(); err != nil {
				return fmt.Errorf("export postmortems: %w", err)
			}
		}
		if err := fn(p.View()); err != nil {
			return err
		}
	}
	if err := pms.Err(); err != nil {
		return fmt.Errorf("export postmortems: %w", err)
	}
	return nil
}

// readSnapshot begins a read transaction whose queries all see one snapshot of the database:
// SQLite's read transactions do; on PostgreSQL it is REPEATABLE READ (READ COMMITTED would
// take a snapshot per statement).
func (s *Store) readSnapshot(ctx context.Context) (*Tx, error) {
	var opts *sql.TxOptions
	if s.dialect == Postgres {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	tx, err := s.readDB.beginTx(ctx, opts, &s.itemReads)
	return tx, redactError(err, s.pgDatabase())
}

// exportSnapshot opens the read transactions of an export, which see one snapshot: one
// transaction for both queries on SQLite; on PostgreSQL, whose connection reads one result at
// a time, two on two connections, the second set to the first's exported snapshot. end
// finishes them.
func (s *Store) exportSnapshot(ctx context.Context) (pms, items *Tx, end func(), err error) {
	if s.dialect != Postgres {
		tx, err := s.exportDB.beginTx(ctx, nil, &s.itemReads)
		if err != nil {
			return nil, nil, nil, err
		}
		return tx, tx, func() { _ = tx.tx.Rollback() }, nil // it only read: nothing to keep
	}
	select {
	case s.pg.exports <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, nil, ctx.Err()
	}
	var opened []*Tx
	end = func() {
		for _, tx := range opened {
			_ = tx.tx.Rollback()
		}
		<-s.pg.exports
	}
	opts := &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	for range 2 {
		tx, err := s.exportDB.beginTx(ctx, opts, &s.itemReads)
		if err != nil {
			end()
			return nil, nil, nil, err
		}
		opened = append(opened, tx)
	}
	var snapshot string
	if err := opened[0].queryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snapshot); err != nil {
		end()
		return nil, nil, nil, err
	}
	// The snapshot id is PostgreSQL's own text; SET TRANSACTION takes no parameter.
	if _, err := opened[1].exec(ctx, "SET TRANSACTION SNAPSHOT '"+strings.ReplaceAll(snapshot, "'", "")+"'"); err != nil {
		end()
		return nil, nil, nil, err
	}
	return opened[0], opened[1], end, nil
}

// exportItemsQuery selects the items of the postmortems that f selects, in the list's order
// and then each postmortem's own.
func exportItemsQuery(f ft.ListFilter, after *listCursor) (string, []any) {
	where, args := listWhere(f, "p", after, -1)
	// CROSS JOIN keeps postmortems the outer loop, read in the list's order through its index:
	// rows then come out as they are read, each postmortem's items sorted on their own,
	// rather than every item sorted at once before the first row.
	return `SELECT ` + itemColumns + ` FROM postmortems p CROSS JOIN items i ON i.postmortem_id = p.id
	LEFT JOIN tickets t ON t.postmortem_id = i.postmortem_id AND t.item_id = i.item_id AND t.current = 1
	WHERE ` + where + ` ORDER BY p.sort_at DESC, p.id DESC, i.removed, i.position, i.item_id`, args
}

// listCursor is where a walk through the list's pages got to: after postmortem id, placed at
// sortAt, in a walk that began when the last move of a sort key was number began (-1 in a
// cursor of the earlier form, which has none).
type listCursor struct {
	sortAt, id string
	began      int64
}

func encodeCursor(c listCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.sortAt + "|" + c.id + "|" + strconv.FormatInt(c.began, 10)))
}

// decodeCursor reads a cursor of encodeCursor, or of its earlier form "sortAt|id"; anything
// else is ft.ErrBadCursor.
func decodeCursor(text string) (listCursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil {
		return listCursor{}, ft.ErrBadCursor
	}
	parts := strings.Split(string(b), "|")
	c := listCursor{began: -1}
	switch len(parts) {
	case 3:
		c.began, err = strconv.ParseInt(parts[2], 10, 64)
		if err != nil || c.began < 0 {
			return listCursor{}, ft.ErrBadCursor
		}
		fallthrough
	case 2:
		c.sortAt, c.id = parts[0], parts[1]
	default:
		return listCursor{}, ft.ErrBadCursor
	}
	if c.id == "" {
		return listCursor{}, ft.ErrBadCursor
	}
	if _, err := time.Parse(timeFormat, c.sortAt); err != nil {
		return listCursor{}, ft.ErrBadCursor
	}
	return c, nil
}

// PostmortemWithHistory returns a postmortem, as Postmortem does, and its items' status changes,
// by item id, oldest first, read at one moment: each item's status is where its last change
// took it, as the postmortem page shows them side by side.
func (s *Store) PostmortemWithHistory(ctx context.Context, id string) (ft.PostmortemView, map[string][]ft.HistoryEntry, error) {
	return s.postmortemAtOnce(ctx, id, true)
}

func readHistory(ctx context.Context, q querier, pmID string) (map[string][]ft.HistoryEntry, error) {
	rows, err := q.QueryContext(ctx, historyQuery, pmID)
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

// historyQuery reads a postmortem's status changes, through status_history_item.
const historyQuery = `SELECT item_id, from_status, to_status, source, actor, at FROM status_history
	WHERE postmortem_id = ? ORDER BY id`
