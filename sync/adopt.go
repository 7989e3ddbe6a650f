package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/store"
)

// Existing tickets. An action item whose document names a ticket that people opened is not
// given one of its own: the engine adopts that ticket and follows it like its own (webhooks,
// reconciliation, stalls), except that its title and description stay as their authors wrote
// them, and that when the item leaves it (removed, or naming another ticket) it is unlinked
// with a comment, never closed.
const (
	jobAdoptTicket  = "adopt_ticket"  // link the existing ticket an item names
	jobUnlinkTicket = "unlink_ticket" // say on an adopted ticket that followthrough no longer follows it
)

// adoptJob is the payload of an adopt_ticket job: the ticket the item's document names.
type adoptJob struct {
	Ticket ft.TicketRef `json:"ticket"`
}

// adoptJobFor is the job that adopts the ticket the item names.
func adoptJobFor(row store.ItemRow) store.Job {
	ref, _ := ft.TicketSites{}.ParseTicket(row.NamedTicket)
	payload, _ := json.Marshal(adoptJob{Ticket: ft.TicketRef{Kind: ref.Kind, Key: ref.Key}})
	return store.Job{Kind: jobAdoptTicket, PostmortemID: row.PostmortemID, ItemID: row.ID,
		Tracker: string(ref.Kind), Payload: payload}
}

// errAdoptSuperseded ends an adoption that the item no longer wants: a revision removed it or
// named another ticket before the job ran.
var errAdoptSuperseded = errors.New("the item no longer names this ticket")

// adoptTicket links the existing ticket the item names, exactly once whatever is retried:
//
//  1. it reads the ticket (one that does not exist, or is a pull request, fails the item);
//  2. it reserves the ticket for the item, unless another item follows it (that fails the
//     item), so that no other item writes to it meanwhile;
//  3. it writes to the ticket: the labels followthrough's tickets carry and the assignee when
//     it has none (Tracker.Adopt), the link back to the postmortem, and one comment saying
//     which postmortem follows it now, carrying the item's marker and written at most once
//     (postComment, keyed by the job); a ticket that cannot be written fails the item with
//     the tracker's words, and the item keeps what it had;
//  4. it reads the ticket again and, in one transaction, makes it the item's current one: the
//     item takes its status, recorded in its history, and shows sync: linked; the ticket the
//     item had before is closed (its own) or unlinked (one it adopted).
//
// Retry runs this again, and never creates a ticket instead.
func (e *Engine) adoptTicket(ctx context.Context, job store.Job) error {
	var p adoptJob
	if err := json.Unmarshal(job.Payload, &p); err != nil || p.Ticket.Key == "" {
		return final(fmt.Errorf("adopt ticket: bad payload: %s", job.Payload))
	}
	key := p.Ticket.Key
	item, err := e.opts.Store.LoadItem(ctx, job.PostmortemID, job.ItemID)
	if err != nil {
		return err
	}
	if !namesTicket(item, key) {
		return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil)
	}
	tr, err := e.tracker(p.Ticket.Kind)
	if err != nil {
		return err
	}
	t, err := e.readNamedTicket(ctx, tr, key)
	if err != nil {
		return err
	}
	own := false
	err = e.opts.Store.Write(ctx, func(tx *store.Tx) error {
		var err error
		own, _, err = e.mayAdopt(ctx, tx, job, t)
		if err != nil || own {
			return err
		}
		return store.ReserveTicket(ctx, tx, job.PostmortemID, job.ItemID, t, e.opts.Clock.Now())
	})
	switch {
	case errors.Is(err, errAdoptSuperseded):
		return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil)
	case err != nil:
		return err
	case own:
		return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), func(tx *store.Tx) error {
			return store.SetItemSync(ctx, tx, job.PostmortemID, job.ItemID, ft.SyncLinked, e.opts.Clock.Now())
		})
	}
	if err := e.writeAdoption(ctx, job, tr, t, item); err != nil {
		return fmt.Errorf("followthrough cannot write to the ticket %s that the postmortem names, so it does not follow it: %w", key, err)
	}
	// Read again: people may have moved it while it was being linked, and events about it
	// are not applied to the item before it is linked.
	if t, err = e.readNamedTicket(ctx, tr, key); err != nil {
		return err
	}
	err = e.opts.Store.Write(ctx, func(tx *store.Tx) error {
		_, item, err := e.mayAdopt(ctx, tx, job, t)
		if err != nil {
			return err
		}
		return e.linkAdopted(ctx, tx, job, item, t)
	})
	if errors.Is(err, errAdoptSuperseded) {
		return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil)
	}
	if err == nil {
		// The item's status and state may have changed: their events are queued.
		e.wake()
	}
	return err
}

// readNamedTicket reads the ticket a postmortem names, saying in words why it cannot be
// followed when it cannot be read.
func (e *Engine) readNamedTicket(ctx context.Context, tr ft.Tracker, key string) (ft.Ticket, error) {
	t, err := tr.Get(ctx, key)
	if errors.Is(err, ft.ErrTicketNotFound) {
		return t, fmt.Errorf("the ticket %s that the postmortem names for this item does not exist, or followthrough cannot see it: %w", key, err)
	}
	if err != nil {
		return t, fmt.Errorf("followthrough cannot follow the ticket %s: %w", key, err)
	}
	return t, nil
}

// namesTicket reports whether the item still wants the ticket with this key.
func namesTicket(item store.Item, key string) bool {
	return !item.Removed && item.Sync != ft.SyncNone && item.NamedTicket == key
}

// mayAdopt checks, in the caller's transaction, that the item (returned as read) may adopt
// the ticket: errAdoptSuperseded when the item no longer names it, a final error when another
// item follows it. own is true when the ticket is the one followthrough made for the item: there
// is nothing to adopt.
func (e *Engine) mayAdopt(ctx context.Context, tx *store.Tx, job store.Job, t ft.Ticket) (own bool, item store.Item, err error) {
	item, err = store.LoadItemTx(ctx, tx, job.PostmortemID, job.ItemID)
	if err != nil {
		return false, item, err
	}
	if !namesTicket(item, t.Ref.Key) {
		return false, item, errAdoptSuperseded
	}
	if item.Ticket != nil && !item.Adopted() && item.Ticket.Kind == t.Ref.Kind && strings.EqualFold(item.Ticket.Key, t.Ref.Key) {
		return true, item, nil
	}
	pmID, itemID, follows, err := store.TicketFollower(ctx, tx, t.Ref)
	if err != nil {
		return false, item, err
	}
	if follows && (pmID != job.PostmortemID || itemID != job.ItemID) {
		return false, item, final(fmt.Errorf("the ticket %s that the postmortem names is already followed by action item %s of postmortem %s: a ticket follows one action item; name another ticket, or none to have followthrough create one",
			t.Ref.Key, itemID, pmID))
	}
	return false, item, nil
}

// linkAdopted makes the reserved ticket the item's current one, in the caller's transaction,
// with what follows from it: the ticket the item leaves, the stalled label, the item's status
// taken from the ticket (with history and its event), the postmortem evaluated, and the item
// shown linked.
func (e *Engine) linkAdopted(ctx context.Context, tx *store.Tx, job store.Job, item store.Item, t ft.Ticket) error {
	now := e.opts.Clock.Now()
	previous, err := store.AdoptTicket(ctx, tx, job.PostmortemID, job.ItemID, t, now)
	if err != nil {
		return err
	}
	if previous != nil {
		if err := e.leaveTicket(ctx, tx, job, item, *previous, t.Ref, now); err != nil {
			return err
		}
	}
	if err := queueStalledLabel(ctx, tx, job, item, t.Ref, now); err != nil {
		return err
	}
	var changes []itemStatusChange
	if t.Status.Valid() && t.Status != item.Status {
		source := string(t.Ref.Kind)
		if _, err := store.SetItemStatus(ctx, tx, job.PostmortemID, job.ItemID, t.Status, source, "", now); err != nil {
			return err
		}
		changes = append(changes, itemStatusChange{ItemID: job.ItemID,
			Change: StatusChange{From: item.Status, To: t.Status, Source: source}})
	}
	if err := store.SetItemSync(ctx, tx, job.PostmortemID, job.ItemID, ft.SyncLinked, now); err != nil {
		return err
	}
	if _, err := e.evaluate(ctx, tx, job.PostmortemID, now, changes...); err != nil {
		return err
	}
	return store.MarkJobDone(ctx, tx, job.ID, now)
}

// writeAdoption writes to an adopted ticket what marks it as followed: labels and assignee,
// the link back to the postmortem, and the one comment.
func (e *Engine) writeAdoption(ctx context.Context, job store.Job, tr ft.Tracker, t ft.Ticket, item store.Item) error {
	pm, err := e.opts.Store.PostmortemHead(ctx, job.PostmortemID)
	if err != nil {
		return err
	}
	if err := tr.Adopt(ctx, t, ft.Adoption{PostmortemID: pm.ID, Owner: item.Owner}); err != nil {
		return err
	}
	link := ft.PostmortemLink{ID: pm.ID, Title: pm.Title, URL: e.postmortemLink(pm)}
	if err := tr.LinkPostmortem(ctx, t.Ref.Key, link); err != nil {
		return err
	}
	return e.postComment(ctx, job, tr, t.Ref.Key, adoptedComment(link, item.ID, e.opts.Config.PostmortemPage(pm.ID)))
}

// adoptedComment says on a ticket which postmortem follows it now, with the item's marker.
func adoptedComment(pm ft.PostmortemLink, itemID, statusPage string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "followthrough now follows this ticket as action item %s of postmortem %s %q", itemID, pm.ID, pm.Title)
	if pm.URL != "" {
		fmt.Fprintf(&b, " (%s)", pm.URL)
	}
	b.WriteString(". Its status shows on the postmortem's status page, and the postmortem is reopened if it stalls; its title and description stay as they are.")
	if statusPage != "" && statusPage != pm.URL {
		fmt.Fprintf(&b, "\n\nStatus: %s", statusPage)
	}
	fmt.Fprintf(&b, "\n\n%s", ft.Marker(pm.ID, itemID))
	return b.String()
}

// unlinkJob is the payload of an unlink_ticket job: the adopted ticket an item left for
// another (Now), and whether the stalled label came with the item and goes with it.
type unlinkJob struct {
	Ticket        ft.TicketRef `json:"ticket"`
	Now           ft.TicketRef `json:"now"`
	RemoveStalled bool         `json:"remove_stalled,omitempty"`
}

// leaveTicket queues, in the caller's transaction, what becomes of the ticket an item leaves
// for another (next): a ticket followthrough made is closed as not planned, pointing to the
// next; one it adopted is unlinked with a comment, never closed.
func (e *Engine) leaveTicket(ctx context.Context, tx *store.Tx, job store.Job, item store.Item, left, next ft.TicketRef, now time.Time) error {
	adopted, err := store.TicketAdopted(ctx, tx, left)
	if err != nil {
		return err
	}
	kind, payload := jobCloseMoved, any(movedTicket{Old: left, New: next})
	if adopted {
		kind, payload = jobUnlinkTicket, unlinkJob{Ticket: left, Now: next, RemoveStalled: item.Stall.Label}
	}
	raw, _ := json.Marshal(payload)
	return store.Enqueue(ctx, tx, store.Job{Kind: kind, PostmortemID: job.PostmortemID,
		ItemID: job.ItemID, Tracker: string(left.Kind), Payload: raw}, now)
}

// unlinkTicket runs an unlink_ticket job: one comment on the adopted ticket the item left,
// and the stalled label off it when the item's stall put it there. A ticket that passed to
// another item since, or was deleted, needs nothing.
func (e *Engine) unlinkTicket(ctx context.Context, job store.Job) error {
	var p unlinkJob
	if err := json.Unmarshal(job.Payload, &p); err != nil || p.Ticket.Key == "" {
		return final(fmt.Errorf("unlink ticket: bad payload: %s", job.Payload))
	}
	held, err := e.opts.Store.TicketHeldBy(ctx, p.Ticket, job.PostmortemID, job.ItemID)
	if err != nil || !held {
		return errors.Join(err, e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil))
	}
	tr, err := e.tracker(p.Ticket.Kind)
	if err != nil {
		return err
	}
	where := p.Now.Key
	if p.Now.URL != "" {
		where += " (" + p.Now.URL + ")"
	}
	body := fmt.Sprintf("Postmortem %s now follows action item %s in %s, so followthrough no longer follows this ticket. It stays as it is.",
		job.PostmortemID, job.ItemID, where)
	if err := e.unlink(ctx, job, tr, p.Ticket.Key, body, p.RemoveStalled); err != nil {
		return err
	}
	return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil)
}

// unlinkRemoved is close_removed for an adopted ticket: the item left the postmortem, so
// followthrough says on the ticket that it no longer follows it, and leaves it open. The
// ticket stays the removed item's, as a closed one would, until another item adopts it.
func (e *Engine) unlinkRemoved(ctx context.Context, job store.Job, tr ft.Tracker, key string) error {
	body := fmt.Sprintf("Action item %s was removed from postmortem %s in a revision, so followthrough no longer follows this ticket. It stays as it is.",
		job.ItemID, job.PostmortemID)
	if err := e.unlink(ctx, job, tr, key, body, false); err != nil {
		return err
	}
	return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil)
}

// unlink writes the job's one comment on a ticket followthrough stops following (a deleted
// ticket needs none), and takes the stalled label off when asked.
func (e *Engine) unlink(ctx context.Context, job store.Job, tr ft.Tracker, key, body string, removeStalled bool) error {
	if err := e.postComment(ctx, job, tr, key, body); err != nil {
		if errors.Is(err, ft.ErrTicketNotFound) {
			return nil
		}
		return err
	}
	if removeStalled {
		if err := tr.RemoveLabel(ctx, key, StalledLabel); err != nil && !errors.Is(err, ft.ErrTicketNotFound) {
			return err
		}
	}
	return nil
}

// queueStalledLabel puts the stalled label on a ticket that becomes the item's while the item
// is stalled (its ticket came late, or it moved to another): that ticket carries the label
// like any stalled item's.
func queueStalledLabel(ctx context.Context, tx *store.Tx, job store.Job, item store.Item, ref ft.TicketRef, now time.Time) error {
	stall := item.Stall
	if stall.Reason == ft.StallNone || !stall.Label {
		return nil
	}
	payload, _ := json.Marshal(labelJob{Label: StalledLabel, Add: true, Episode: stall.Episode})
	return store.Enqueue(ctx, tx, store.Job{Kind: jobLabel, PostmortemID: job.PostmortemID,
		ItemID: job.ItemID, Tracker: string(ref.Kind), Payload: payload,
		DedupeKey: fmt.Sprintf("stall-label:%s/%s:%d:add:%s", job.PostmortemID, job.ItemID, stall.Episode, ref.Key)}, now)
}

// deletedAdvice is what an item whose ticket the tracker deleted can do about it.
func deletedAdvice(adopted bool, pmID string) string {
	if adopted {
		return "name another ticket for the item in the postmortem, or none to have followthrough create one"
	}
	return fmt.Sprintf("POST /v1/postmortems/%s/retry makes a new one", pmID)
}
