package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	ft "github.com/followthrough/followthrough"
)

// SetItemWaiting records why an item's create is held back and until when, in the caller's
// transaction. Linking the item, or failing it, clears it (setLinked, SetItemSync,
// SetItemSyncFailed).
func SetItemWaiting(ctx context.Context, tx *Tx, pmID, itemID string, w ft.Waiting) error {
	_, err := tx.exec(ctx, `UPDATE items SET waiting_reason = ?, waiting_until = ? WHERE postmortem_id = ? AND item_id = ?`,
		w.Reason, formatTime(w.Until), pmID, itemID)
	if err != nil {
		return fmt.Errorf("store what %s/%s waits for: %w", pmID, itemID, err)
	}
	return nil
}

// WaitingItems are the items of one tracker whose create is held back.
type WaitingItems struct {
	Tracker ft.TrackerKind
	Count   int
	Last    time.Time // the latest turn among them
}

// ItemsWaiting counts, per tracker, the pending items whose create is held back beyond now.
func (s *Store) ItemsWaiting(ctx context.Context, now time.Time) ([]WaitingItems, error) {
	rows, err := s.readDB.QueryContext(ctx, queryItemsWaiting, formatTime(now))
	if err != nil {
		return nil, fmt.Errorf("count waiting items: %w", err)
	}
	out, err := collect(rows, func(rows *sql.Rows) (WaitingItems, error) {
		var w WaitingItems
		var last string
		err := rows.Scan(&w.Tracker, &w.Count, &last)
		w.Last = parseTime(last)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("count waiting items: %w", err)
	}
	return out, nil
}

// queryItemsWaiting is served by items_waiting: a range of the items that wait at all.
const queryItemsWaiting = `SELECT target_kind, COUNT(*), MAX(waiting_until) FROM items
	WHERE waiting_until > ? AND sync = 'pending' GROUP BY target_kind ORDER BY target_kind`
