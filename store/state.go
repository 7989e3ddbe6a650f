package store

import (
	"context"
	"fmt"
	"time"

	ft "github.com/followthrough/followthrough"
)

// StateChange is a postmortem's move from one state to another.
type StateChange struct {
	PostmortemID string
	From, To     ft.State
	// ReopenedCount and CompletedCount are the postmortem's entries into reopened and into
	// completed so far, this change included: they number the episodes that work is keyed by.
	ReopenedCount  int
	CompletedCount int
}

// Changed reports whether the state moved.
func (c StateChange) Changed() bool { return c.From != c.To }

// RefreshState sets a postmortem's state from its items: completed when every item is finished,
// reopened when an unfinished item is stalled, tracking otherwise. Entering reopened counts in
// reopened_count (also from completed), entering completed in completed_count. It returns the
// change, From == To when there was none.
func RefreshState(ctx context.Context, tx *Tx, pmID string, now time.Time) (StateChange, error) {
	change := StateChange{PostmortemID: pmID}
	var total, finished, stalled int
	err := tx.queryRow(ctx, `SELECT p.state, p.reopened_count, p.completed_count,
		(SELECT COUNT(*) FROM items i WHERE i.postmortem_id = p.id),
		(SELECT COUNT(*) FROM items i WHERE i.postmortem_id = p.id AND i.status IN ('done','wont_do')),
		(SELECT COUNT(*) FROM items i WHERE i.postmortem_id = p.id AND i.status NOT IN ('done','wont_do')
			AND i.stalled_reason IS NOT NULL)
		FROM postmortems p WHERE p.id = ?`, pmID).Scan(&change.From, &change.ReopenedCount, &change.CompletedCount,
		&total, &finished, &stalled)
	if err != nil {
		return change, fmt.Errorf("refresh state of %s: %w", pmID, err)
	}
	switch {
	case finished == total:
		change.To = ft.StateCompleted
	case stalled > 0:
		change.To = ft.StateReopened
	default:
		change.To = ft.StateTracking
	}
	if change.To == change.From {
		return change, nil
	}
	reopened, completed := 0, 0
	switch change.To {
	case ft.StateReopened:
		reopened = 1
	case ft.StateCompleted:
		completed = 1
	}
	change.ReopenedCount += reopened
	change.CompletedCount += completed
	if _, err := tx.exec(ctx, `UPDATE postmortems SET state = ?, reopened_count = reopened_count + ?,
		completed_count = completed_count + ?, updated_at = ? WHERE id = ?`,
		string(change.To), reopened, completed, formatTime(now), pmID); err != nil {
		return change, fmt.Errorf("refresh state of %s: %w", pmID, err)
	}
	return change, nil
}
