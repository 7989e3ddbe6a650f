package sync

import (
	"context"
	"errors"
	"fmt"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/store"
)

// ErrInvalidStatus is returned (wrapped) by SetItemStatus for a status that is not one of the
// four item statuses (the API answers 422).
var ErrInvalidStatus = errors.New("not an item status")

// SetItemStatus sets an item's status from the API (PATCH): in one transaction the status
// changes with history (source "api"), a job is queued that moves the ticket to it, subscribers
// get item.status_changed, and the postmortem's state is re-evaluated; then the worker is woken.
// The same status again changes nothing and sends nothing. It returns the item as the API
// shows it.
//
// Errors: an unknown postmortem or item wraps ft.ErrNotFound; a removed item, an item
// whose ticket does not exist yet, or one whose ticket was deleted wraps ft.ErrConflict;
// an unknown status wraps ErrInvalidStatus.
func (e *Engine) SetItemStatus(ctx context.Context, pmID, itemID string, status ft.Status) (ft.ItemView, error) {
	if !status.Valid() {
		return ft.ItemView{}, fmt.Errorf("status %q: %w (open, in_progress, done or wont_do)", status, ErrInvalidStatus)
	}
	now := e.opts.Clock.Now()
	changed := false
	err := e.opts.Store.Write(ctx, func(tx *store.Tx) error {
		changed = false
		it, err := store.LoadItemTx(ctx, tx, pmID, itemID)
		if err != nil {
			return err
		}
		if it.Removed {
			return fmt.Errorf("item %s of postmortem %s was removed from the postmortem, so its status is wont_do: %w",
				itemID, pmID, ft.ErrConflict)
		}
		if it.Sync == ft.SyncNone {
			return fmt.Errorf("item %s of postmortem %s was finished at sign-off (%s) and has no ticket to follow; uncheck it in the postmortem to give it one: %w",
				itemID, pmID, it.Status, ft.ErrConflict)
		}
		if it.Ticket == nil {
			return fmt.Errorf("item %s of postmortem %s has no ticket yet (sync: %s); its status can be set once the ticket exists: %w",
				itemID, pmID, it.Sync, ft.ErrConflict)
		}
		deleted, err := store.TicketDeleted(ctx, tx, *it.Ticket)
		if err != nil {
			return err
		}
		if deleted {
			return fmt.Errorf("the ticket %s of item %s was deleted; %s: %w",
				it.Ticket.Key, itemID, deletedAdvice(it.Adopted(), pmID), ft.ErrConflict)
		}
		if it.Status == status {
			return nil
		}
		from, err := store.SetItemStatus(ctx, tx, pmID, itemID, status, ft.SourceAPI, "", now)
		if err != nil {
			return err
		}
		changed = true
		if err := store.Enqueue(ctx, tx, store.Job{Kind: jobSetStatus, PostmortemID: pmID, ItemID: itemID,
			Tracker: string(it.Ticket.Kind)}, now); err != nil {
			return err
		}
		_, err = e.evaluate(ctx, tx, pmID, now, itemStatusChange{ItemID: itemID, Change: StatusChange{From: from, To: status, Source: ft.SourceAPI}})
		return err
	})
	if errors.Is(err, ft.ErrNotFound) || errors.Is(err, ft.ErrConflict) {
		// These already say, in words, which item and why.
		return ft.ItemView{}, err
	}
	if err != nil {
		return ft.ItemView{}, fmt.Errorf("set status of %s/%s: %w", pmID, itemID, err)
	}
	if changed {
		e.wake()
	}
	pm, err := e.opts.Store.Postmortem(ctx, pmID)
	if err != nil {
		return ft.ItemView{}, err
	}
	for _, it := range pm.Items {
		if it.ID == itemID {
			return it, nil
		}
	}
	return ft.ItemView{}, fmt.Errorf("item %s/%s: %w", pmID, itemID, ft.ErrNotFound)
}

// Retry tries every item of the postmortem with sync: failed again (POST .../retry): the jobs
// that were given up run again, and an item whose ticket was deleted gets a new ticket (the
// only way it does). It returns the postmortem as the API shows it; an unknown postmortem
// wraps ft.ErrNotFound.
func (e *Engine) Retry(ctx context.Context, pmID string) (ft.PostmortemView, error) {
	now := e.opts.Clock.Now()
	n := 0
	err := e.opts.Store.Write(ctx, func(tx *store.Tx) error {
		n = 0
		exists, err := store.PostmortemExists(ctx, tx, pmID)
		if err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("postmortem %s: %w", pmID, ft.ErrNotFound)
		}
		failed, err := store.FailedItems(ctx, tx, pmID)
		if err != nil {
			return err
		}
		for _, itemID := range failed {
			if err := retryItem(ctx, tx, pmID, itemID, now); err != nil {
				return fmt.Errorf("retry %s/%s: %w", pmID, itemID, err)
			}
			n++
		}
		return nil
	})
	if errors.Is(err, ft.ErrNotFound) {
		return ft.PostmortemView{}, err
	}
	if err != nil {
		return ft.PostmortemView{}, fmt.Errorf("retry %s: %w", pmID, err)
	}
	if n > 0 {
		e.wake()
	}
	return e.opts.Store.Postmortem(ctx, pmID)
}

// retryItem tries an item with sync: failed again: its given-up jobs are queued again as they
// were (a create that was in flight still looks for its marker first), an item whose ticket
// was deleted stops pointing to it and gets a create job for a new one, and the item shows
// sync: pending (linked, when its ticket exists). An item whose document names an existing
// ticket gets an adoption of that ticket instead, never a create.
func retryItem(ctx context.Context, tx *store.Tx, pmID, itemID string, now time.Time) error {
	if err := store.DropDeletedTicket(ctx, tx, pmID, itemID); err != nil {
		return err
	}
	if err := store.RequeueFailedJobs(ctx, tx, pmID, itemID, now); err != nil {
		return err
	}
	it, err := store.LoadItemTx(ctx, tx, pmID, itemID)
	if err != nil {
		return err
	}
	if it.Ticket == nil && !it.Removed {
		queued, err := store.HasUnfinishedJob(ctx, tx, pmID, itemID, jobCreateTicket, jobMoveTicket, jobAdoptTicket)
		if err != nil {
			return err
		}
		job := store.Job{Kind: jobCreateTicket, PostmortemID: pmID, ItemID: itemID, Tracker: string(it.Target.Kind)}
		if it.NamedTicket != "" {
			job = adoptJobFor(it.ItemRow)
		}
		if !queued {
			if err := store.Enqueue(ctx, tx, job, now); err != nil {
				return err
			}
		}
	}
	state := ft.SyncPending
	if it.Ticket != nil {
		state = ft.SyncLinked
	}
	return store.SetItemSync(ctx, tx, pmID, itemID, state, now)
}
