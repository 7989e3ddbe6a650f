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
// Its row and its items are read at one moment (readAtOnce): its state and its completion agree.
func (s *Store) Postmortem(ctx context.Context, id string) (ft.PostmortemView, error) {
	var p PostmortemRecord
	err := s.readAtOnce(ctx, func(q querier) error {
		var err error
		p, err = loadPostmortem(ctx, q, id, true)
		return err
	})
	if err != nil {
		return ft.PostmortemView{}, err
	}
	return p.View(), nil
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
func (s *Store) ListPostmortems(ctx context.Context, f ft.ListFilter) ([]ft.PostmortemView, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	query, args, err := listQuery(f, limit+1)
	if err != nil {
		return nil, "", err
	}
	// The postmortems and their items at one moment (readAtOnce).
	var records []PostmortemRecord
	err = s.readAtOnce(ctx, func(q querier) error {
		rows, err := q.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		records, err = collect(rows, func(rows *sql.Rows) (PostmortemRecord, error) { return scanPostmortem(rows) })
		if err != nil {
			return err
		}
		// The one more than limit only says that there is a next page: its items are not read.
		refs := make([]*PostmortemRecord, min(len(records), limit))
		for i := range refs {
			refs[i] = &records[i]
		}
		return fillItems(ctx, q, refs...)
	})
	if err != nil {
		return nil, "", fmt.Errorf("list postmortems: %w", err)
	}
	next := ""
	if len(records) > limit {
		records = records[:limit]
		next = encodeCursor(records[limit-1].sortAt, records[limit-1].ID)
	}
	pms := make([]ft.PostmortemView, len(records))
	for i, p := range records {
		pms[i] = p.View()
	}
	return pms, next, nil
}

// listQuery selects up to limit postmortems as f asks (all of them when limit is 0), in the
// list's order.
func listQuery(f ft.ListFilter, limit int) (string, []any, error) {
	where, args, err := listWhere(f, "")
	if err != nil {
		return "", nil, err
	}
	query := `SELECT ` + postmortemColumns + ` FROM postmortems WHERE ` + where + listOrder
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	return query, args, nil
}

// listOrder is the list's order, newest sign-off first; postmortems_list, or the index of the
// filter (postmortems_by_state, _by_team, _by_severity), reads it in that order.
const listOrder = ` ORDER BY sort_at DESC, id DESC`

// listWhere is the condition on postmortems (named table, or unnamed when "") that selects
// what f asks for: its filters, and what comes after its cursor.
func listWhere(f ft.ListFilter, table string) (string, []any, error) {
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
	if f.Cursor != "" {
		sortAt, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return "", nil, err
		}
		// A row value: the index reads on from the cursor instead of from the top.
		where = append(where, "("+col("sort_at")+", "+col("id")+") < (?, ?)")
		args = append(args, sortAt, id)
	}
	return strings.Join(where, " AND "), args, nil
}

// EachPostmortem calls fn with every postmortem that f selects, from f.Cursor on (f.Limit does
// not apply), newest sign-off first, each with its items: the exports. It streams, holding one
// postmortem at a time whatever their number: the postmortems and their items come from two
// queries read side by side in one read transaction (one snapshot), on a connection reserved
// for exports, so that an export never holds the writer nor the connections pages read with,
// however slowly its client reads. A bad cursor is ft.ErrBadCursor before fn is called.
func (s *Store) EachPostmortem(ctx context.Context, f ft.ListFilter, fn func(ft.PostmortemView) error) error {
	query, args, err := listQuery(f, 0)
	if err != nil {
		return err
	}
	itemsQuery, itemArgs, _ := exportItemsQuery(f)
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
func exportItemsQuery(f ft.ListFilter) (string, []any, error) {
	where, args, err := listWhere(f, "p")
	if err != nil {
		return "", nil, err
	}
	// CROSS JOIN keeps postmortems the outer loop, read in the list's order through its index:
	// rows then come out as they are read, each postmortem's items sorted on their own,
	// rather than every item sorted at once before the first row.
	return `SELECT ` + itemColumns + ` FROM postmortems p CROSS JOIN items i ON i.postmortem_id = p.id
	LEFT JOIN tickets t ON t.postmortem_id = i.postmortem_id AND t.item_id = i.item_id AND t.current = 1
	WHERE ` + where + ` ORDER BY p.sort_at DESC, p.id DESC, i.removed, i.position, i.item_id`, args, nil
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

// PostmortemHistory returns the status changes of every item of a postmortem, by item id,
// oldest first, in one query.
func (s *Store) PostmortemHistory(ctx context.Context, pmID string) (map[string][]ft.HistoryEntry, error) {
	rows, err := s.readDB.QueryContext(ctx, historyQuery, pmID)
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
