package sync

import (
	"context"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/store"
)

// Evaluate brings a postmortem's state up to date inside the caller's transaction, after any
// change to its items (a status change from any side, a revision, a stall scan), and queues what
// a change of state needs: events to notify URLs and, later, work on the postmortem's own ticket.
func Evaluate(ctx context.Context, tx *store.Tx, cfg *config.Config, pmID string, now time.Time) (store.StateChange, error) {
	change, err := store.RefreshState(ctx, tx, pmID, now)
	if err != nil || change.From == change.To {
		return change, err
	}
	event := ""
	switch {
	case change.To == ft.StateReopened:
		event = EventReopened
	case change.To == ft.StateCompleted:
		event = EventCompleted
	case change.From == ft.StateReopened && change.To == ft.StateTracking:
		event = EventResumed
	}
	if event == "" {
		return change, nil
	}
	return change, QueueEvent(ctx, tx, cfg.Notify, event, pmID, "", nil, now)
}
