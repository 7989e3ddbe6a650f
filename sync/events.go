package sync

import (
	"context"
	"fmt"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/store"
)

// applied says what applyTicketEvent did with an event.
type applied struct {
	// Ignored is why the event changed nothing at all ("" when it was applied): the ticket is
	// not one of ours, the event is older than what is known, or the ticket was deleted.
	Ignored      string
	PostmortemID string
	ItemID       string
	// StatusChanged is set when the item took the ticket's status: From -> To.
	StatusChanged bool
	From, To      ft.Status
	// Deleted is set when this event told us the ticket is gone.
	Deleted bool
	// Activity is set when the event moved the item's last activity time.
	Activity bool
}

// Reasons an event is ignored.
const (
	ignoredNotOurs = "not a ticket followthrough created"
	ignoredOlder   = "older than what is known about the ticket"
	ignoredDeleted = "the ticket was deleted"
)

// applyTicketEvent applies what a tracker says about one ticket (a webhook or a reconcile) in
// the caller's transaction, by these rules:
//
//   - a ticket that followthrough did not create is ignored;
//   - an event strictly older (by the tracker's updated time) than the last one applied to the
//     ticket is ignored; otherwise the ticket's known updated time moves forward;
//   - a deletion marks the ticket deleted and, when it is the item's current ticket, the item
//     sync: failed with a last_error that says how to get a new one; nothing is re-created;
//   - a status that differs from the item's becomes the item's status (with history: source,
//     actor), when the ticket is the item's current one, the item was not removed, the event
//     is not followthrough's own change coming back (actor == self), and no change of ours is
//     still waiting to be pushed to the ticket (that push wins: it is the newer intent);
//   - people's activity (ev.Activity by anyone but self, or a status change) moves the item's
//     last activity time forward to the event's time.
//
// applyEvent does what follows from the result: the outbound event, and the postmortem
// evaluated.
func applyTicketEvent(ctx context.Context, tx *store.Tx, ev ft.TicketEvent, source, self string, now time.Time) (applied, error) {
	t, ok, err := store.FindTicket(ctx, tx, ev.Ref, ev.Ref.FoldsCase())
	if err != nil || !ok {
		return applied{Ignored: ignoredNotOurs}, err
	}
	return applyToTicket(ctx, tx, t, ev, source, self, now)
}

// applyToTicket is applyTicketEvent for the stored ticket t that ev is about, read already.
func applyToTicket(ctx context.Context, tx *store.Tx, t store.TicketRecord, ev ft.TicketEvent, source, self string, now time.Time) (applied, error) {
	a := applied{PostmortemID: t.PostmortemID, ItemID: t.ItemID}
	if t.Deleted {
		a.Ignored = ignoredDeleted
		return a, nil
	}
	// A deletion is final whatever its time says.
	if !ev.Deleted && !t.TrackerUpdated.IsZero() && !ev.UpdatedAt.IsZero() && ev.UpdatedAt.Before(t.TrackerUpdated) {
		a.Ignored = ignoredOlder
		return a, nil
	}
	at := ev.UpdatedAt
	if at.IsZero() {
		at = now
	}
	if !ev.UpdatedAt.IsZero() {
		if err := store.AdvanceTicketUpdated(ctx, tx, t.ID, at); err != nil {
			return a, fmt.Errorf("apply event for %s: %w", ev.Ref.Key, err)
		}
	}
	if ev.Deleted {
		a.Deleted = true
		if err := store.MarkTicketDeleted(ctx, tx, t.ID, now); err != nil {
			return a, fmt.Errorf("apply deletion of %s: %w", ev.Ref.Key, err)
		}
		if t.Current {
			item, err := store.LoadItemTx(ctx, tx, a.PostmortemID, a.ItemID)
			if err != nil {
				return a, fmt.Errorf("apply deletion of %s: %w", ev.Ref.Key, err)
			}
			if item.Removed {
				// The ticket of a removed item (closed as not planned) is gone: nothing is left
				// to follow or to retry, and the item, brought back, gets a new one.
				if err := store.DropDeletedTicket(ctx, tx, a.PostmortemID, a.ItemID); err != nil {
					return a, fmt.Errorf("apply deletion of %s: %w", ev.Ref.Key, err)
				}
				if err := settleRemovedWithoutTicket(ctx, tx, a.PostmortemID, a.ItemID, now); err != nil {
					return a, fmt.Errorf("apply deletion of %s: %w", ev.Ref.Key, err)
				}
				return a, nil
			}
			adopted, err := store.TicketAdopted(ctx, tx, t.Ref)
			if err != nil {
				return a, fmt.Errorf("apply deletion of %s: %w", ev.Ref.Key, err)
			}
			msg := fmt.Sprintf("%s ticket %s was deleted; %s", ev.Ref.Kind, ev.Ref.Key, deletedAdvice(adopted, a.PostmortemID))
			if err := store.SetItemSyncFailed(ctx, tx, a.PostmortemID, a.ItemID, msg, now); err != nil {
				return a, fmt.Errorf("apply deletion of %s: %w", ev.Ref.Key, err)
			}
		}
		return a, nil
	}
	if !t.Current {
		return a, nil
	}
	item, err := store.LoadItemTx(ctx, tx, a.PostmortemID, a.ItemID)
	if err != nil || item.Removed {
		return a, err
	}
	ours := self != "" && ev.Actor == self
	if ev.Status.Valid() && ev.Status != item.Status && !ours {
		pending, err := store.HasUnfinishedJob(ctx, tx, a.PostmortemID, a.ItemID, jobSetStatus, jobReopenTicket, jobCloseRemoved)
		if err != nil {
			return a, fmt.Errorf("apply event for %s: %w", ev.Ref.Key, err)
		}
		if !pending {
			if _, err := store.SetItemStatus(ctx, tx, a.PostmortemID, a.ItemID, ev.Status, source, ev.Actor, now); err != nil {
				return a, fmt.Errorf("apply status of %s: %w", ev.Ref.Key, err)
			}
			a.StatusChanged, a.From, a.To = true, item.Status, ev.Status
		}
	}
	if (ev.Activity && !ours) || a.StatusChanged {
		if a.Activity, err = store.AdvanceActivity(ctx, tx, a.PostmortemID, a.ItemID, at); err != nil {
			return a, fmt.Errorf("apply activity on %s: %w", ev.Ref.Key, err)
		}
	}
	return a, nil
}
