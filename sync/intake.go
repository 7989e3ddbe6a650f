package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/store"
)

// Intake accepts a normalized, valid postmortem document (ft.Document.Validate found nothing)
// and returns once it is durably stored with the work for its tickets. In one transaction it
// compares the document with the latest stored revision (the same document again changes
// nothing), routes the items that need a route, plans what the document changes, applies the
// plan and evaluates the postmortem (its stalls, state and events); then it wakes the worker.
// New items that have nowhere to go are a *ft.RoutingError, and nothing is stored.
func (e *Engine) Intake(ctx context.Context, doc *ft.Document) (ft.IntakeOutcome, error) {
	outcome, _, err := e.IntakeView(ctx, doc)
	return outcome, err
}

// IntakeView is Intake, and also returns the postmortem as GET shows it right after, built
// from what the intake wrote (reading it back cost a third of intake's time). The view is
// empty when the document is unchanged: nothing was written, and the caller reads it.
func (e *Engine) IntakeView(ctx context.Context, doc *ft.Document) (ft.IntakeOutcome, ft.PostmortemView, error) {
	now := e.opts.Clock.Now()
	// Encoded here, before the writer: the writer runs one transaction at a time, so the
	// work done in it is what limits intakes per second.
	rev, err := encodeRevision(doc)
	if err != nil {
		return 0, ft.PostmortemView{}, fmt.Errorf("intake %s: %w", doc.ID, err)
	}
	router := e.opts.Config.Router()
	var outcome ft.IntakeOutcome
	var written store.PostmortemRecord
	err = e.opts.Store.Write(ctx, func(tx *store.Tx) error {
		prev, found, err := store.LatestRevision(ctx, tx, doc.ID)
		if err != nil {
			return err
		}
		if found && prev.Hash == rev.Hash {
			outcome = ft.IntakeUnchanged
			return nil
		}
		var prevDoc ft.Document
		var stored []store.Item
		// A postmortem without a revision has no items: intake writes both together.
		if found {
			if err := json.Unmarshal(prev.Document, &prevDoc); err != nil {
				return fmt.Errorf("read revision %d: %w", prev.Number, err)
			}
			if stored, err = store.LoadItemsTx(ctx, tx, doc.ID); err != nil {
				return err
			}
		}
		targets, err := routeItems(router, doc, &prevDoc, stored)
		if err != nil {
			return err
		}
		plan, err := planIntake(doc, &prevDoc, rev, targets, prev.Number, stored)
		if err != nil {
			return err
		}
		if err := store.ApplyIntake(ctx, tx, plan, now); err != nil {
			return err
		}
		var changes []itemStatusChange
		for _, c := range plan.Items {
			if c.StatusChanged() {
				changes = append(changes, itemStatusChange{ItemID: c.Row.ID,
					Change: StatusChange{From: c.From, To: c.Row.Status, Source: ft.SourceRevision}})
			}
		}
		if rec, ok := plan.NewRecord(now); ok {
			_, written, err = e.evaluateLoaded(ctx, tx, rec, now, changes...)
		} else {
			_, written, err = e.evaluateRecord(ctx, tx, doc.ID, now, changes...)
		}
		if err != nil {
			return err
		}
		outcome = ft.IntakeRevised
		if !found {
			outcome = ft.IntakeCreated
		}
		return nil
	})
	var routing *ft.RoutingError
	if errors.As(err, &routing) {
		return 0, ft.PostmortemView{}, routing
	}
	if err != nil {
		return 0, ft.PostmortemView{}, fmt.Errorf("intake %s: %w", doc.ID, err)
	}
	if outcome == ft.IntakeUnchanged {
		return outcome, ft.PostmortemView{}, nil
	}
	e.wake()
	return outcome, written.View(), nil
}

// routeItems says where each item's ticket goes (targets[i] is doc.ActionItems[i]'s). Routes
// decide where an item goes when it arrives: an item the postmortem already has keeps its
// target unless what routing looks at changed (the ticket it names; its own tracker; or,
// routed, its team, the postmortem's severity or its labels), and when its new route leads
// nowhere it keeps its target too. An item that names an existing ticket goes where the
// ticket is. New items, items naming a tracker or a ticket anew, and items that stopped
// naming a ticket must route: those that cannot are a *ft.RoutingError naming each.
func routeItems(r ft.Router, doc, prevDoc *ft.Document, stored []store.Item) ([]ft.Target, error) {
	have := make(map[string]store.Item, len(stored))
	for _, it := range stored {
		have[it.ID] = it
	}
	targets := make([]ft.Target, len(doc.ActionItems))
	var fields []ft.FieldError
	for i, it := range doc.ActionItems {
		old, exists := have[it.ID]
		if exists && routedAlike(prevDoc, doc, it.ID) {
			targets[i] = old.Target
			continue
		}
		t, err := r.Route(doc, it)
		var problem *ft.RouteProblem
		switch {
		case err == nil:
			targets[i] = t
		case exists && it.Tracker == nil && it.Ticket == "" && old.NamedTicket == "":
			targets[i] = old.Target
		case errors.As(err, &problem):
			fields = append(fields, problem.FieldError(i))
		default:
			return nil, err
		}
	}
	if len(fields) > 0 {
		return nil, &ft.RoutingError{Fields: fields}
	}
	return targets, nil
}

// routedAlike reports whether an item is in both documents with the same inputs to routing:
// the same tracker of its own, or, routed, the same team (else the postmortem's), postmortem
// severity and labels.
func routedAlike(oldDoc, doc *ft.Document, itemID string) bool {
	find := func(d *ft.Document) *ft.ActionItem {
		i := slices.IndexFunc(d.ActionItems, func(it ft.ActionItem) bool { return it.ID == itemID })
		if i < 0 {
			return nil
		}
		return &d.ActionItems[i]
	}
	was, now := find(oldDoc), find(doc)
	switch {
	case was == nil || now == nil || was.Ticket != now.Ticket:
		return false
	case now.Ticket != "":
		return true
	case was.Tracker != nil || now.Tracker != nil:
		return was.Tracker != nil && now.Tracker != nil && *was.Tracker == *now.Tracker
	}
	team := func(d *ft.Document, it *ft.ActionItem) string {
		if it.Team != "" {
			return it.Team
		}
		return d.Team
	}
	return team(oldDoc, was) == team(doc, now) && oldDoc.Severity == doc.Severity && slices.Equal(was.Labels, now.Labels)
}

// encodeRevision is the document as a revision stores it: its canonical JSON and that JSON's
// hash, from one encoding; the number is planIntake's.
func encodeRevision(doc *ft.Document) (store.Revision, error) {
	document, hash, err := doc.Canonical()
	if err != nil {
		return store.Revision{}, err
	}
	return store.Revision{Hash: hash, Document: document}, nil
}

// planIntake decides what a new revision of a postmortem writes, from the document (encoded as
// rev), where its items go (targets[i] is doc.ActionItems[i]'s), the stored revision's
// document and number (0: none) and the stored items (in the postmortem's order). It reads
// nothing: every input is given.
//
//   - A new item is inserted, open, and its ticket is created; one that names an existing
//     ticket has that ticket adopted instead; one finished at sign-off keeps that status, with
//     no ticket and sync none.
//   - An item it had is updated: a ticket whose fields changed is updated (one that people
//     opened never is), a ticket in another repository or project is moved (a new one, the
//     old one closed). An item that names another existing ticket has it adopted (the ticket
//     it leaves is closed, or unlinked when people opened it, once the new one is linked);
//     one that stops naming a ticket gets one of its own.
//   - An item finished at sign-off keeps no ticket while its mark stays (the mark counts only
//     when the item first appears); unchecked, it is open and gets a ticket.
//   - An item that was removed and comes back is open again: its ticket is reopened (made, if
//     it never was) and updated, or moved, or the ticket it names is adopted again. Its
//     inactivity counts from its return.
//   - An item the document dropped stays, removed and won't do, and its ticket is closed as
//     not planned (unlinked, when people opened it). Dropped items come in the postmortem's
//     order, so their work and events do too.
//   - The figure numbers of the rows the plan does not write are left alone when the revision
//     changes nothing they are worked out from (store.IntakePlan.SameFigures).
func planIntake(doc, prevDoc *ft.Document, rev store.Revision, targets []ft.Target, prevRevision int, stored []store.Item) (store.IntakePlan, error) {
	if len(targets) != len(doc.ActionItems) {
		return store.IntakePlan{}, fmt.Errorf("%d targets for %d items", len(targets), len(doc.ActionItems))
	}
	rev.Number = prevRevision + 1
	plan := store.IntakePlan{
		Postmortem: store.PostmortemRow{ID: doc.ID, Title: doc.Title, URL: doc.URL, Severity: doc.Severity,
			Team: doc.Team, SignedOffAt: doc.SignedOffAt},
		Revision: rev,
		// The stored row is the previous document's: only intake writes what the figures
		// are worked out from.
		SameFigures: prevRevision > 0 && doc.Team == prevDoc.Team && doc.Severity == prevDoc.Severity &&
			sameSecond(doc.SignedOffAt, prevDoc.SignedOffAt),
	}
	if doc.Tracker != nil {
		plan.Postmortem.Own = &ft.TicketRef{Kind: doc.Tracker.Kind, Key: doc.Tracker.TicketKey()}
	}
	have := make(map[string]store.Item, len(stored))
	for _, it := range stored {
		have[it.ID] = it
	}
	queue := func(kind string, row store.ItemRow) {
		plan.Jobs = append(plan.Jobs, store.Job{Kind: kind, PostmortemID: doc.ID, ItemID: row.ID, Tracker: string(row.Target.Kind)})
	}
	// queueTicket gives the item the ticket it should have: the one it names, else its own.
	queueTicket := func(row store.ItemRow) {
		if row.NamedTicket != "" {
			plan.Jobs = append(plan.Jobs, adoptJobFor(row))
			return
		}
		queue(jobCreateTicket, row)
	}
	seen := make(map[string]bool, len(doc.ActionItems))
	for i, item := range doc.ActionItems {
		seen[item.ID] = true
		row := itemRow(doc, item, targets[i], i)
		old, ok := have[item.ID]
		if !ok {
			change := store.ItemChange{Row: row, New: true}
			if item.Status.Finished() {
				change.Row.Status, change.Sync = item.Status, ft.SyncNone
			} else {
				queueTicket(row)
			}
			plan.Items = append(plan.Items, change)
			continue
		}
		if old.Removed || old.Team != row.Team { // its history copies both
			plan.SameFigures = false
		}
		change := store.ItemChange{Row: row, From: old.Status}
		change.Row.Status = old.Status
		switch {
		case old.Sync == ft.SyncNone && item.Status.Finished():
			// Still marked finished, and still without a ticket. A removed item that comes
			// back takes its mark again.
			if old.Removed {
				change.Row.Status = item.Status
			}
		case old.Sync == ft.SyncNone:
			change.Row.Status, change.Sync = ft.StatusOpen, ft.SyncPending
			queueTicket(row)
		default:
			if old.Removed {
				change.Row.Status = ft.StatusOpen
			}
			planTicketWork(row, old, queue, queueTicket)
		}
		plan.Items = append(plan.Items, change)
	}
	for _, old := range stored {
		if seen[old.ID] || old.Removed {
			continue
		}
		row := old.ItemRow
		row.Removed, row.Status = true, ft.StatusWontDo
		plan.SameFigures = false
		plan.Items = append(plan.Items, store.ItemChange{Row: row, From: old.Status})
		if old.Sync != ft.SyncNone {
			queue(jobCloseRemoved, row)
		}
	}
	return plan, nil
}

// sameSecond reports whether two sign-off times are the same to the second, as the figures
// count them, or both none.
func sameSecond(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Unix() == b.Unix()
}

// planTicketWork queues what a revision's item (row) needs done to the ticket of the stored
// item it was (old), an item that has or is getting a ticket.
func planTicketWork(row store.ItemRow, old store.Item, queue func(string, store.ItemRow), queueTicket func(store.ItemRow)) {
	switch {
	case row.NamedTicket != "" && (row.NamedTicket != old.NamedTicket || old.Removed):
		queueTicket(row)
	case row.NamedTicket != "":
		// The same ticket, followed already or being adopted: its title and description
		// are its authors'.
	case old.NamedTicket != "":
		// It names no ticket any more: it gets its own, and leaves the one it named.
		queueTicket(row)
	case !row.Target.SameScope(old.Target):
		queue(jobMoveTicket, row)
	case old.Removed:
		// It may never have had a ticket (removed before its create ran): make sure it has
		// one, then open it again.
		queue(jobCreateTicket, row)
		queue(jobReopenTicket, row)
		if !ticketFieldsEqual(row, old.ItemRow) {
			queue(jobUpdateTicket, row)
		}
	case !ticketFieldsEqual(row, old.ItemRow) && !old.Adopted():
		queue(jobUpdateTicket, row)
	}
}

// itemRow is the stored row of the document's item at position, open, going to target.
func itemRow(doc *ft.Document, item ft.ActionItem, target ft.Target, position int) store.ItemRow {
	labels := item.Labels
	if labels == nil {
		labels = []string{}
	}
	return store.ItemRow{
		PostmortemID: doc.ID, ID: item.ID, Position: position, Title: item.Title,
		Description: item.Description, Owner: item.Owner, Priority: item.Priority, Due: item.Due,
		Type: item.Type, Team: item.Team, Labels: labels, Target: target, Status: ft.StatusOpen,
		NamedTicket: item.Ticket,
	}
}

// ticketFieldsEqual reports whether the fields a ticket shows are the same.
func ticketFieldsEqual(a, b store.ItemRow) bool {
	return a.Title == b.Title && a.Description == b.Description && a.Owner == b.Owner &&
		a.Due == b.Due && a.Priority == b.Priority && slices.Equal(a.Labels, b.Labels)
}
