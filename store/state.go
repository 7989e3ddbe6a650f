package store

import (
	"context"
	"time"

	ft "github.com/followthrough/followthrough"
)

// StateChange is a postmortem's move from one state to another.
type StateChange struct {
	PostmortemID string
	From, To     ft.State
}

// RefreshState sets a postmortem's state from its items: completed when every item is finished,
// reopened when an unfinished item is stalled, tracking otherwise. Entering reopened counts in
// reopened_count. It returns the change, From == To when there was none.
func RefreshState(ctx context.Context, tx *Tx, pmID string, now time.Time) (StateChange, error) {
	change := StateChange{PostmortemID: pmID}
	var total, finished, stalled int
	err := tx.queryRow(ctx, `SELECT p.state,
		(SELECT COUNT(*) FROM items i WHERE i.postmortem_id = p.id),
		(SELECT COUNT(*) FROM items i WHERE i.postmortem_id = p.id AND i.status IN ('done','wont_do')),
		(SELECT COUNT(*) FROM items i WHERE i.postmortem_id = p.id AND i.status NOT IN ('done','wont_do')
			AND i.stalled_reason IS NOT NULL)
		FROM postmortems p WHERE p.id = ?`, pmID).Scan(&change.From, &total, &finished, &stalled)
	if err != nil {
		return change, err
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
	reopened := 0
	if change.To == ft.StateReopened {
		reopened = 1
	}
	_, err = tx.exec(ctx, `UPDATE postmortems SET state = ?, reopened_count = reopened_count + ?, updated_at = ?
		WHERE id = ?`, string(change.To), reopened, formatTime(now), pmID)
	return change, err
}
