package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/store"
)

type movedTicket struct {
	Old    ft.TicketRef `json:"old"`
	New    ft.TicketRef `json:"new"`              // the new ticket; its Key may be only the new scope
	Reason string       `json:"reason,omitempty"` // reasonMoved (default), reasonRemoved or reasonLeftBehind
}

const (
	reasonMoved   = "moved"
	reasonRemoved = "removed"
	// reasonLeftBehind: made by a lost create where the item no longer goes; the comment points
	// to whatever the item's ticket is when the close runs.
	reasonLeftBehind = "left_behind"
)

func (e *Engine) handle(ctx context.Context, job store.Job) error {
	switch job.Kind {
	case jobCreateTicket, jobMoveTicket:
		return e.ensureTicket(ctx, job)
	case jobUpdateTicket:
		return e.updateTicket(ctx, job)
	case jobCloseRemoved:
		return e.closeRemoved(ctx, job)
	case jobReopenTicket, jobSetStatus:
		return e.pushStatus(ctx, job)
	case jobCloseMoved:
		return e.closeMoved(ctx, job)
	case jobNotify:
		return e.deliver(ctx, job)
	case jobComment:
		return e.comment(ctx, job)
	case jobLabel:
		return e.label(ctx, job)
	case jobOwnTicket:
		return e.ownTicket(ctx, job)
	case jobLinkPostmortem:
		return e.linkPostmortem(ctx, job)
	case jobAdoptTicket:
		return e.adoptTicket(ctx, job)
	case jobUnlinkTicket:
		return e.unlinkTicket(ctx, job)
	case jobProcessWebhook:
		return e.processWebhook(ctx, job)
	}
	return final(fmt.Errorf("unknown job kind %q", job.Kind))
}

// ensureTicket gives the item exactly one ticket in its target. A create whose outcome was lost
// is looked for by its marker, where it was sent, before anything else: a ticket made there is
// either the item's or is closed, never left open and unfollowed.
func (e *Engine) ensureTicket(ctx context.Context, job store.Job) error {
	now := e.opts.Clock.Now()
	item, err := e.opts.Store.LoadItem(ctx, job.PostmortemID, job.ItemID)
	if err != nil {
		return err
	}
	marker := ft.Marker(job.PostmortemID, job.ItemID)
	if handled, err := e.settleLostCreates(ctx, job, item, now); handled || err != nil {
		return err
	}
	target := item.Target
	if !wantsOwnTicket(item) || (item.Ticket != nil && !item.Adopted() && item.Ticket.Target().SameScope(target)) {
		return e.opts.Store.CompleteJob(ctx, job.ID, now, nil)
	}
	tr, err := e.tracker(target.Kind)
	if err != nil {
		return err
	}
	pm, err := e.opts.Store.PostmortemHead(ctx, job.PostmortemID)
	if err != nil {
		return err
	}
	if err := e.opts.Store.MarkInFlight(ctx, job.ID, now, target); err != nil {
		return err
	}
	created, err := tr.Create(ctx, ft.NewTicket{
		Target: target, Marker: marker, Title: item.Title, Body: item.Description, Text: e.ticketText(pm, item),
		Labels: item.Labels, Owner: item.Owner, Priority: item.Priority, Due: item.Due,
		PostmortemID: pm.ID,
	})
	if err != nil {
		if rerr := e.afterFailedCreate(ctx, job, target, err); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	return e.opts.Store.Write(ctx, func(tx *store.Tx) error {
		cur, err := store.LoadItemTx(ctx, tx, job.PostmortemID, job.ItemID)
		if err != nil {
			return err
		}
		if err := e.linkTx(ctx, tx, job, cur, created, "", now); err != nil {
			return err
		}
		return store.MarkJobDone(ctx, tx, job.ID, now)
	})
}

// settleLostCreates looks, before the job gives the item a ticket or settles its removal, for
// the tickets of the item's creates whose outcome is unknown. handled is true when the job's
// run ends there (a ticket was found and decided on, a create may still land, or an error).
func (e *Engine) settleLostCreates(ctx context.Context, job store.Job, item store.Item, now time.Time) (handled bool, err error) {
	marker := ft.Marker(job.PostmortemID, job.ItemID)
	// The creates whose outcome is unknown: this job's, and those of the item's jobs that were
	// given up before they learned it (their tickets are nobody's else to find).
	var lost []store.Job
	if job.InFlight() && (job.Kind == jobCreateTicket || job.Kind == jobMoveTicket) {
		lost = append(lost, job)
	}
	givenUp, err := e.opts.Store.GivenUpInFlight(ctx, job.PostmortemID, job.ItemID, jobCreateTicket, jobMoveTicket)
	if err != nil {
		return true, err
	}
	lost = append(lost, givenUp...)
	for _, l := range lost {
		sent, ok := l.InFlightTarget()
		if !ok {
			sent = item.Target
		}
		if _, configured := e.opts.Trackers[sent.Kind]; !configured && l.ID != job.ID {
			continue // nowhere to look: a tracker no longer configured (failUnconfiguredWork)
		}
		found, ok, err := e.findLostCreate(ctx, sent, marker)
		if err != nil {
			return true, err
		}
		if ok {
			e.logger.Info("ticket found by marker after an unknown outcome", slog.String("key", found.Ref.Key), slog.String("marker", marker))
			return true, e.adoptLostCreate(ctx, job, l.ID, sent, found)
		}
		// The lost create may still be landing (the tracker can process a request after we
		// stopped waiting, or crashed), and a tracker's search may lag behind creates: only an
		// absence that outlasts the tracker's settle time is an absence.
		tr, err := e.tracker(sent.Kind)
		if err != nil {
			return true, err
		}
		if settle := tr.SettleTime(); settle > 0 {
			if waited := now.Sub(l.InFlightSince()); waited < settle {
				return true, errRetryLater{after: settle - waited, reason: "waiting for a possibly created ticket to show before creating it again"}
			}
		}
		if l.ID != job.ID {
			// Settled: no ticket of that given-up create is to be found.
			if err := e.opts.Store.Write(ctx, func(tx *store.Tx) error { return store.ClearInFlight(ctx, tx, l.ID) }); err != nil {
				return true, err
			}
		}
	}
	return false, nil
}

// afterFailedCreate records what a failed create leaves behind. A refusal (any 4xx, a rate
// limit, our own pacing: ft.OutcomeRefused) made no ticket, so the create is no longer in
// flight and its retry creates at once, without looking for a lost create or waiting for one
// to settle. Any other failure (no answer, a timeout, a 5xx) may have made the ticket: it stays
// in flight, and the wait for it to show counts from now, when we stopped listening, not from
// the send (the call itself may have taken the whole timeout).
func (e *Engine) afterFailedCreate(ctx context.Context, job store.Job, target ft.Target, err error) error {
	if ft.Refused(err) {
		return e.opts.Store.Write(ctx, func(tx *store.Tx) error { return store.ClearInFlight(ctx, tx, job.ID) })
	}
	return e.opts.Store.MarkInFlight(ctx, job.ID, e.opts.Clock.Now(), target)
}

// findLostCreate looks for the ticket a lost create may have made in target. Tickets already
// known (an earlier ticket of the item, moved away from or closed) are not it.
func (e *Engine) findLostCreate(ctx context.Context, target ft.Target, marker string) (ft.Ticket, bool, error) {
	tr, err := e.tracker(target.Kind)
	if err != nil {
		return ft.Ticket{}, false, err
	}
	found, ok, err := tr.FindByMarker(ctx, target, marker)
	if err != nil || !ok {
		return found, false, err
	}
	known, err := e.opts.Store.TicketKnown(ctx, found.Ref)
	if err != nil || known {
		return ft.Ticket{}, false, err
	}
	return found, true, nil
}

// adoptLostCreate decides, in one transaction with the item as it is now, what a ticket made by
// a lost create becomes: the item's ticket when the item still goes there, else a ticket left
// behind, closed as not planned once the item's own work is done.
// lostID is the job whose create made it: this job, or one of the item's given up before it
// learned the outcome, whose create is settled with it.
func (e *Engine) adoptLostCreate(ctx context.Context, job store.Job, lostID int64, sent ft.Target, found ft.Ticket) error {
	now := e.opts.Clock.Now()
	self, err := e.selfOf(ctx, found.Ref.Kind)
	if err != nil {
		return err
	}
	return e.opts.Store.Write(ctx, func(tx *store.Tx) error {
		item, err := store.LoadItemTx(ctx, tx, job.PostmortemID, job.ItemID)
		if err != nil {
			return err
		}
		if err := store.ClearInFlight(ctx, tx, lostID); err != nil {
			return err
		}
		hasOwn := item.Ticket != nil && !item.Adopted() && item.Ticket.Target().SameScope(item.Target)
		if wantsOwnTicket(item) && !hasOwn && sent.SameScope(item.Target) {
			if err := e.linkTx(ctx, tx, job, item, found, self, now); err != nil {
				return err
			}
			return store.MarkJobDone(ctx, tx, job.ID, now)
		}
		if err := store.RecordLeftBehind(ctx, tx, job.PostmortemID, job.ItemID, found, sent.Scope(), now); err != nil {
			return err
		}
		// Queued after this job, the close runs once the item's own ticket is settled, and
		// points to it.
		payload, _ := json.Marshal(movedTicket{Old: found.Ref, Reason: reasonLeftBehind})
		if err := store.Enqueue(ctx, tx, store.Job{Kind: jobCloseMoved, PostmortemID: job.PostmortemID,
			ItemID: job.ItemID, Tracker: string(found.Ref.Kind), Payload: payload}, now); err != nil {
			return err
		}
		return store.RescheduleJob(ctx, tx, job.ID, now)
	})
}

// linkTx records the ticket as the item's, in the caller's transaction, with what follows: the
// link back to the postmortem, the closing (or unlinking: leaveTicket) of a ticket the item leaves, the stalled label when
// the item is stalled already, and the status: a new ticket follows the item; a ticket found
// after a lost create (foundBy is then our own identity in its tracker) that people already
// moved on tells the item: their change wins.
func (e *Engine) linkTx(ctx context.Context, tx *store.Tx, job store.Job, item store.Item, t ft.Ticket, foundBy string, now time.Time) error {
	previous, err := store.LinkTicket(ctx, tx, job.PostmortemID, job.ItemID, t, item.Target.Scope(), now)
	if err != nil {
		return err
	}
	// The link back to the postmortem is its own job, so that it is retried on its own and
	// also made for a ticket found again by its marker.
	linkPayload, _ := json.Marshal(linkJob{Key: t.Ref.Key})
	if err := store.Enqueue(ctx, tx, store.Job{Kind: jobLinkPostmortem, PostmortemID: job.PostmortemID,
		ItemID: job.ItemID, Tracker: string(t.Ref.Kind), Payload: linkPayload}, now); err != nil {
		return err
	}
	if err := queueStalledLabel(ctx, tx, job, item, t.Ref, now); err != nil {
		return err
	}
	if previous != nil {
		if err := e.leaveTicket(ctx, tx, job, item, *previous, t.Ref, now); err != nil {
			return err
		}
	}
	switch {
	case t.Status == "" || t.Status == item.Status:
	case foundBy != "" && t.Status != ft.StatusOpen:
		_, err := e.applyEvent(ctx, tx, ft.TicketEvent{Ref: t.Ref, Status: t.Status, UpdatedAt: t.UpdatedAt},
			string(t.Ref.Kind), foundBy, now)
		return err
	default:
		return store.Enqueue(ctx, tx, store.Job{Kind: jobSetStatus, PostmortemID: job.PostmortemID,
			ItemID: job.ItemID, Tracker: string(t.Ref.Kind)}, now)
	}
	return nil
}

// wantsOwnTicket reports whether the item should have a ticket that followthrough creates: it is
// not removed, not finished at sign-off, and its document names no existing ticket (while it
// names one, followthrough never creates one).
func wantsOwnTicket(item store.Item) bool {
	return !item.Removed && item.Sync != ft.SyncNone && item.NamedTicket == ""
}

// selfOf is our own identity in a tracker: the connector asks the tracker once and keeps it.
func (e *Engine) selfOf(ctx context.Context, kind ft.TrackerKind) (string, error) {
	tr, err := e.tracker(kind)
	if err != nil {
		return "", err
	}
	return tr.Self(ctx)
}

// knownSelf is selfOf when the connector has read it already (ft.SelfKnower): it never calls
// the tracker, nor waits for a call in flight.
func (e *Engine) knownSelf(kind ft.TrackerKind) (string, bool) {
	k, ok := e.opts.Trackers[kind].(ft.SelfKnower)
	if !ok {
		return "", false
	}
	return k.KnownSelf()
}

type linkJob struct {
	Key string `json:"key"`
}

// linkPostmortem links an item's ticket back to its postmortem, unless the item has moved on
// to another ticket since.
func (e *Engine) linkPostmortem(ctx context.Context, job store.Job) error {
	var p linkJob
	if err := json.Unmarshal(job.Payload, &p); err != nil {
		return final(fmt.Errorf("link postmortem: bad payload: %w", err))
	}
	item, tr, err := e.itemTicket(ctx, job)
	if err != nil || tr == nil {
		return err
	}
	if item.Ticket.Key != p.Key {
		return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil)
	}
	pm, err := e.opts.Store.PostmortemHead(ctx, job.PostmortemID)
	if err != nil {
		return err
	}
	if err := tr.LinkPostmortem(ctx, p.Key, ft.PostmortemLink{ID: pm.ID, Title: pm.Title, URL: e.postmortemLink(pm)}); err != nil {
		return err
	}
	return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil)
}

func (e *Engine) updateTicket(ctx context.Context, job store.Job) error {
	item, tr, err := e.itemTicket(ctx, job)
	if err != nil || tr == nil {
		return err
	}
	if item.Adopted() {
		// Its title and description are its authors'.
		return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil)
	}
	pm, err := e.opts.Store.PostmortemHead(ctx, job.PostmortemID)
	if err != nil {
		return err
	}
	t, err := tr.Update(ctx, item.Ticket.Key, ft.TicketUpdate{
		Title: item.Title, Body: item.Description, Text: e.ticketText(pm, item), Marker: ft.Marker(job.PostmortemID, job.ItemID),
		Owner: item.Owner, Due: item.Due, ClearDue: item.Due == "",
	})
	if err != nil {
		return err
	}
	return e.finishWithTicket(ctx, job, t)
}

// closeRemoved closes the ticket of an item that a revision removed, as not planned; a ticket
// followthrough adopted is unlinked instead.
func (e *Engine) closeRemoved(ctx context.Context, job store.Job) error {
	item, err := e.opts.Store.LoadItem(ctx, job.PostmortemID, job.ItemID)
	if err != nil {
		return err
	}
	if item.Removed {
		// A create given up before it learned whether it made a ticket: that ticket is closed
		// too, not left open and unfollowed.
		if handled, err := e.settleLostCreates(ctx, job, item, e.opts.Clock.Now()); handled || err != nil {
			return err
		}
	}
	if item.Removed && item.Ticket == nil {
		return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), func(tx *store.Tx) error {
			return settleRemovedWithoutTicket(ctx, tx, job.PostmortemID, job.ItemID, e.opts.Clock.Now())
		})
	}
	item, tr, err := e.itemTicket(ctx, job)
	if err != nil || tr == nil {
		return err
	}
	if !item.Removed {
		// It came back before this ran.
		return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil)
	}
	if item.Adopted() {
		return e.unlinkRemoved(ctx, job, tr, item.Ticket.Key)
	}
	t, err := tr.SetStatus(ctx, item.Ticket.Key, ft.StatusWontDo)
	if err != nil {
		return err
	}
	if err := e.postComment(ctx, job, tr, item.Ticket.Key, removedComment(job.PostmortemID)); err != nil {
		return err
	}
	return e.finishWithTicket(ctx, job, t)
}

// settleRemovedWithoutTicket shows a removed item without a ticket (its create made none, or
// people deleted it) as having none (sync: none) rather than one pending or failed for ever:
// none is due for it now. It reads the item in the transaction, so that one brought back
// meanwhile, or linked, is left as it is; one brought back later gets a ticket (planIntake).
func settleRemovedWithoutTicket(ctx context.Context, tx *store.Tx, pmID, itemID string, now time.Time) error {
	item, err := store.LoadItemTx(ctx, tx, pmID, itemID)
	if err != nil || !item.Removed || item.Ticket != nil || item.Sync == ft.SyncNone {
		return err
	}
	return store.SetItemSync(ctx, tx, pmID, itemID, ft.SyncNone, now)
}

func removedComment(pmID string) string {
	return fmt.Sprintf("This action item was removed from postmortem %s in a revision, so followthrough closed it as not planned.", pmID)
}

// pushStatus moves the item's ticket to the item's current status.
func (e *Engine) pushStatus(ctx context.Context, job store.Job) error {
	item, tr, err := e.itemTicket(ctx, job)
	if err != nil || tr == nil {
		return err
	}
	t, err := tr.SetStatus(ctx, item.Ticket.Key, item.Status)
	if err != nil {
		return err
	}
	return e.finishWithTicket(ctx, job, t)
}

// closeMoved closes a ticket an item left behind (it moved, or a lost create made it where the
// item no longer goes), pointing to the item's ticket. A ticket deleted meanwhile needs nothing.
func (e *Engine) closeMoved(ctx context.Context, job store.Job) error {
	var moved movedTicket
	if err := json.Unmarshal(job.Payload, &moved); err != nil {
		return final(fmt.Errorf("close moved ticket: bad payload: %w", err))
	}
	tr, err := e.tracker(moved.Old.Kind)
	if err != nil {
		return err
	}
	if moved.Reason == reasonLeftBehind {
		item, err := e.opts.Store.LoadItem(ctx, job.PostmortemID, job.ItemID)
		if err != nil {
			return err
		}
		switch {
		case item.Ticket != nil && item.Ticket.Kind == moved.Old.Kind && item.Ticket.Key == moved.Old.Key:
			// It became the item's ticket after all.
			return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil)
		case item.Removed:
			moved.Reason = reasonRemoved
		case item.Ticket != nil:
			moved.New = *item.Ticket
		default:
			moved.New = ft.TicketRef{Kind: item.Target.Kind, Key: item.Target.Scope()}
		}
	}
	t, err := tr.SetStatus(ctx, moved.Old.Key, ft.StatusWontDo)
	if errors.Is(err, ft.ErrTicketNotFound) {
		return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil)
	}
	if err != nil {
		return err
	}
	var comment string
	switch {
	case moved.Reason == reasonRemoved:
		comment = removedComment(job.PostmortemID)
	case moved.New.URL != "":
		comment = fmt.Sprintf("This action item moved to %s (%s); followthrough closed this ticket as not planned.", moved.New.Key, moved.New.URL)
	default:
		comment = fmt.Sprintf("This action item moved to %s; followthrough closed this ticket as not planned and follows the item there.", moved.New.Key)
	}
	if err := e.postComment(ctx, job, tr, moved.Old.Key, comment); err != nil && !errors.Is(err, ft.ErrTicketNotFound) {
		return err
	}
	return e.finishWithTicket(ctx, job, t)
}

// itemTicket loads the job's item and the tracker of its current ticket. With no ticket (or a
// tracker no longer configured) the job is done and tr is nil.
func (e *Engine) itemTicket(ctx context.Context, job store.Job) (store.Item, ft.Tracker, error) {
	item, err := e.opts.Store.LoadItem(ctx, job.PostmortemID, job.ItemID)
	if err != nil {
		return item, nil, err
	}
	if item.Ticket == nil {
		// The create job, when it runs, uses the item as it is by then.
		return item, nil, e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil)
	}
	tr, err := e.tracker(item.Ticket.Kind)
	if err != nil {
		return item, nil, err
	}
	return item, tr, nil
}

// finishWithTicket completes the job and remembers the ticket's updated time, so the webhook
// that our own change causes is not taken for news.
func (e *Engine) finishWithTicket(ctx context.Context, job store.Job, t ft.Ticket) error {
	return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), func(tx *store.Tx) error {
		return store.NoteTicketUpdated(ctx, tx, t.Ref, t.UpdatedAt)
	})
}

// ticketText is what the item's ticket says under its description.
func (e *Engine) ticketText(pm store.PostmortemRecord, item store.Item) *ft.TicketText {
	t := &ft.TicketText{ItemID: item.ID, Postmortem: ft.PostmortemLink{ID: pm.ID, Title: pm.Title, URL: e.postmortemLink(pm)},
		Severity: pm.Severity, Owner: item.Owner, Priority: item.Priority, Due: item.Due}
	if page := e.opts.Config.PostmortemPage(pm.ID); page != t.Postmortem.URL {
		t.StatusURL = page
	}
	return t
}

// postmortemLink is the postmortem's own document, else its page on followthrough.
func (e *Engine) postmortemLink(pm store.PostmortemRecord) string {
	if pm.URL != "" {
		return pm.URL
	}
	return e.opts.Config.PostmortemPage(pm.ID)
}
