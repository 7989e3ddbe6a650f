package store

import (
	"context"
	"fmt"
)

// SetItemStall stores an item's stall bookkeeping. The item's updated_at is left alone: a
// stall is not an edit.
func SetItemStall(ctx context.Context, tx *Tx, pmID, itemID string, st ItemStall) error {
	var since any
	if !st.Since.IsZero() {
		since = formatTime(st.Since)
	}
	_, err := tx.exec(ctx, `UPDATE items SET stalled_reason = ?, stall_episode = ?, stalled_at = ?, stalled_label = ?
		WHERE postmortem_id = ? AND item_id = ?`,
		nullString(string(st.Reason)), st.Episode, since, st.Label, pmID, itemID)
	if err != nil {
		return fmt.Errorf("store stall of %s/%s: %w", pmID, itemID, err)
	}
	return nil
}

// ItemStallNow reads an item's stall bookkeeping as committed, for a job that must know
// whether the stall it was queued for is still the current one.
func (s *Store) ItemStallNow(ctx context.Context, pmID, itemID string) (ItemStall, error) {
	it, err := s.LoadItem(ctx, pmID, itemID)
	return it.Stall, err
}

// PostmortemsToScan lists the postmortems a stall scan evaluates: every one not completed (a
// completed postmortem has no unfinished item that could stall), oldest first.
func (s *Store) PostmortemsToScan(ctx context.Context) ([]string, error) {
	rows, err := s.readDB.QueryContext(ctx, `SELECT id FROM postmortems WHERE state <> 'completed' ORDER BY sort_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list postmortems to scan: %w", err)
	}
	ids, err := collect(rows, scanString)
	if err != nil {
		return nil, fmt.Errorf("list postmortems to scan: %w", err)
	}
	return ids, nil
}
