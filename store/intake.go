package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	ft "github.com/followthrough/followthrough"
)

// IntakeOutcome says what Intake did with a document.
type IntakeOutcome int

// The outcomes of Intake.
const (
	Created   IntakeOutcome = iota // a new postmortem
	Unchanged                      // the same document again: nothing new
	Revised                        // a new revision of a known postmortem
)

// Outbox job kinds: the tracker work a change needs, done by the sync worker.
const (
	JobCreateTicket   = "create_ticket" // open the item's ticket in its target
	JobUpdateTicket   = "update_ticket" // title, description, due, owner changed
	JobCloseRemoved   = "close_removed" // the item left the postmortem: close as not planned
	JobMoveTicket     = "move_ticket"   // the item's target changed: close old, open new
	JobReopenTicket   = "reopen_ticket" // a removed item came back
	JobSetStatus      = "set_status"    // a status set through the API goes to the ticket
	JobComment        = "comment"       // a comment on an item's or the postmortem's ticket
	JobLabel          = "label"         // add or remove a label
	JobOwnTicket      = "own_ticket"    // reopen or close the postmortem's own ticket
	JobNotify         = "notify"        // an outbound event to one notify URL
	JobProcessWebhook = "process_webhook"
	JobLinkPostmortem = "link_postmortem" // link a new ticket back to its postmortem (Jira's remote link)
	JobCloseMoved     = "close_moved"     // close a ticket the item left behind, pointing to its new one
)

// Intake durably stores a validated, normalized document together with the outbox work for its
// tickets, in one transaction. targets[i] is where doc.ActionItems[i]'s ticket goes.
func (s *Store) Intake(ctx context.Context, doc *ft.Document, targets []ft.Target, now time.Time) (IntakeOutcome, error) {
	if len(targets) != len(doc.ActionItems) {
		return 0, fmt.Errorf("intake %s: %d targets for %d items", doc.ID, len(targets), len(doc.ActionItems))
	}
	var outcome IntakeOutcome
	err := s.Write(ctx, func(tx *Tx) error {
		var err error
		outcome, err = s.intake(ctx, tx, doc, targets, now)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("intake %s: %w", doc.ID, err)
	}
	return outcome, nil
}

func (s *Store) intake(ctx context.Context, tx *Tx, doc *ft.Document, targets []ft.Target, now time.Time) (IntakeOutcome, error) {
	hash := doc.Hash()
	document, err := json.Marshal(doc)
	if err != nil {
		return 0, err
	}
	var revision int
	var oldHash, oldDocument string
	err = tx.queryRow(ctx, `SELECT p.revision, r.doc_hash, r.document FROM postmortems p
		JOIN postmortem_revisions r ON r.postmortem_id = p.id AND r.revision = p.revision
		WHERE p.id = ?`, doc.ID).Scan(&revision, &oldHash, &oldDocument)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		revision = 0
	case err != nil:
		return 0, err
	case oldHash == hash:
		return Unchanged, nil
	}
	revision++
	nowText := formatTime(now)
	var ownKind, ownKey any
	if doc.Tracker != nil {
		ownKind, ownKey = string(doc.Tracker.Kind), doc.Tracker.TicketKey()
	}
	sortAt := nowText
	if doc.SignedOffAt != nil {
		sortAt = formatTime(*doc.SignedOffAt)
	}
	if revision == 1 {
		_, err = tx.exec(ctx, `INSERT INTO postmortems (id, title, url, severity, team, signed_off_at,
			accepted_at, sort_at, own_kind, own_key, revision, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`,
			doc.ID, doc.Title, doc.URL, doc.Severity, doc.Team, nullTime(doc.SignedOffAt),
			nowText, sortAt, ownKind, ownKey, nowText)
	} else {
		// sort_at keeps the first acceptance time when there is no sign-off time.
		_, err = tx.exec(ctx, `UPDATE postmortems SET title = ?, url = ?, severity = ?, team = ?,
			signed_off_at = ?, sort_at = COALESCE(?, accepted_at), own_kind = ?, own_key = ?,
			revision = ?, updated_at = ? WHERE id = ?`,
			doc.Title, doc.URL, doc.Severity, doc.Team, nullTime(doc.SignedOffAt),
			nullTime(doc.SignedOffAt), ownKind, ownKey, revision, nowText, doc.ID)
	}
	if err != nil {
		return 0, err
	}
	if _, err := tx.exec(ctx, `INSERT INTO postmortem_revisions (postmortem_id, revision, doc_hash, document, received_at)
		VALUES (?, ?, ?, ?, ?)`, doc.ID, revision, hash, string(document), nowText); err != nil {
		return 0, err
	}
	stored, err := LoadItemsTx(ctx, tx, doc.ID)
	if err != nil {
		return 0, err
	}
	existing := make(map[string]ItemRow, len(stored))
	for _, it := range stored {
		existing[it.ID] = it.ItemRow
	}
	var oldDoc ft.Document
	if oldDocument != "" {
		if err := json.Unmarshal([]byte(oldDocument), &oldDoc); err != nil {
			return 0, fmt.Errorf("read revision %d: %w", revision-1, err)
		}
	}
	seen := map[string]bool{}
	var revised []StatusChange // status changes the revision makes, for the status hook
	for i, item := range doc.ActionItems {
		seen[item.ID] = true
		old, ok := existing[item.ID]
		target := targets[i]
		if ok && routedAlike(&oldDoc, doc, item.ID) {
			// Routes decide where an item goes when it first arrives; a revision that changes
			// nothing routing looks at keeps it there, even if the routes were edited since.
			target = old.Target
		}
		row := newItemRow(doc, item, target, i)
		if !ok {
			if err := insertItem(ctx, tx, row, nowText); err != nil {
				return 0, err
			}
			if err := enqueue(ctx, tx, Job{Kind: JobCreateTicket, PostmortemID: doc.ID, ItemID: item.ID, Tracker: string(row.Target.Kind)}, now); err != nil {
				return 0, err
			}
			continue
		}
		if old.Removed && old.Status != ft.StatusOpen {
			revised = append(revised, StatusChange{ItemID: item.ID, From: old.Status, To: ft.StatusOpen})
		}
		if err := reviseItem(ctx, tx, old, row, now); err != nil {
			return 0, err
		}
	}
	for id, old := range existing {
		if seen[id] || old.Removed {
			continue
		}
		if old.Status != ft.StatusWontDo {
			revised = append(revised, StatusChange{ItemID: id, From: old.Status, To: ft.StatusWontDo})
		}
		if err := removeItem(ctx, tx, old, now); err != nil {
			return 0, err
		}
	}
	if s.statusHook != nil {
		for _, c := range revised {
			if err := s.statusHook(ctx, tx, doc.ID, c.ItemID, c.From, c.To, SourceRevision, now); err != nil {
				return 0, err
			}
		}
	}
	if err := s.evaluate(ctx, tx, doc.ID, now); err != nil {
		return 0, err
	}
	if revision == 1 {
		return Created, nil
	}
	return Revised, nil
}

// StatusChange is an item's status change that a revision made.
type StatusChange struct {
	ItemID   string
	From, To ft.Status
}

// routedAlike reports whether an item was routed (no tracker of its own) in both documents with
// the same inputs: its team (else the postmortem's), the postmortem's severity and its labels.
func routedAlike(oldDoc, doc *ft.Document, itemID string) bool {
	find := func(d *ft.Document) *ft.ActionItem {
		for i := range d.ActionItems {
			if d.ActionItems[i].ID == itemID {
				return &d.ActionItems[i]
			}
		}
		return nil
	}
	was, now := find(oldDoc), find(doc)
	if was == nil || now == nil || was.Tracker != nil || now.Tracker != nil {
		return false
	}
	team := func(d *ft.Document, it *ft.ActionItem) string {
		if it.Team != "" {
			return it.Team
		}
		return d.Team
	}
	return team(oldDoc, was) == team(doc, now) && oldDoc.Severity == doc.Severity && slices.Equal(was.Labels, now.Labels)
}

func newItemRow(doc *ft.Document, item ft.ActionItem, target ft.Target, position int) ItemRow {
	labels := item.Labels
	if labels == nil {
		labels = []string{}
	}
	return ItemRow{
		PostmortemID: doc.ID, ID: item.ID, Position: position, Title: item.Title,
		Description: item.Description, Owner: item.Owner, Priority: item.Priority, Due: item.Due,
		Type: item.Type, Team: item.Team, Labels: labels, Target: target, Status: ft.StatusOpen,
	}
}

// ticketFieldsEqual reports whether the fields a ticket shows are the same.
func (r ItemRow) ticketFieldsEqual(o ItemRow) bool {
	return r.Title == o.Title && r.Description == o.Description && r.Owner == o.Owner &&
		r.Due == o.Due && r.Priority == o.Priority && slices.Equal(r.Labels, o.Labels)
}

func insertItem(ctx context.Context, tx *Tx, r ItemRow, now string) error {
	labels, _ := json.Marshal(r.Labels)
	_, err := tx.exec(ctx, `INSERT INTO items (postmortem_id, item_id, position, title, description, owner,
		priority, due, type, team, labels, target_kind, target_scope, target_issue_type, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.PostmortemID, r.ID, r.Position, r.Title, r.Description, r.Owner, r.Priority, nullString(r.Due),
		r.Type, r.Team, string(labels), string(r.Target.Kind), r.Target.Scope(), r.Target.IssueType, now, now)
	return err
}

// reviseItem applies a revision to an item that the postmortem had before.
func reviseItem(ctx context.Context, tx *Tx, old, row ItemRow, now time.Time) error {
	labels, _ := json.Marshal(row.Labels)
	nowText := formatTime(now)
	if _, err := tx.exec(ctx, `UPDATE items SET position = ?, title = ?, description = ?, owner = ?,
		priority = ?, due = ?, type = ?, team = ?, labels = ?, target_kind = ?, target_scope = ?,
		target_issue_type = ?, removed = 0, updated_at = ? WHERE postmortem_id = ? AND item_id = ?`,
		row.Position, row.Title, row.Description, row.Owner, row.Priority, nullString(row.Due), row.Type,
		row.Team, string(labels), string(row.Target.Kind), row.Target.Scope(), row.Target.IssueType,
		nowText, row.PostmortemID, row.ID); err != nil {
		return err
	}
	base := Job{PostmortemID: row.PostmortemID, ItemID: row.ID, Tracker: string(row.Target.Kind)}
	if old.Removed {
		// A removed item came back: it is open again, and so is its ticket.
		if err := setItemStatus(ctx, tx, row.PostmortemID, row.ID, old.Status, ft.StatusOpen, "revision", "", now); err != nil {
			return err
		}
		if !row.Target.SameScope(old.Target) {
			base.Kind = JobMoveTicket
			return enqueue(ctx, tx, base, now)
		}
		// It may never have had a ticket (removed before its create ran): make sure it has one.
		base.Kind = JobCreateTicket
		if err := enqueue(ctx, tx, base, now); err != nil {
			return err
		}
		base.Kind = JobReopenTicket
		if err := enqueue(ctx, tx, base, now); err != nil {
			return err
		}
		if !row.ticketFieldsEqual(old) {
			base.Kind = JobUpdateTicket
			return enqueue(ctx, tx, base, now)
		}
		return nil
	}
	if !row.Target.SameScope(old.Target) {
		base.Kind = JobMoveTicket
		return enqueue(ctx, tx, base, now)
	}
	if !row.ticketFieldsEqual(old) {
		base.Kind = JobUpdateTicket
		return enqueue(ctx, tx, base, now)
	}
	return nil
}

// removeItem marks an item that a revision dropped: it stays, removed and won't-do.
func removeItem(ctx context.Context, tx *Tx, old ItemRow, now time.Time) error {
	if _, err := tx.exec(ctx, `UPDATE items SET removed = 1, stalled_reason = NULL, updated_at = ?
		WHERE postmortem_id = ? AND item_id = ?`, formatTime(now), old.PostmortemID, old.ID); err != nil {
		return err
	}
	if err := setItemStatus(ctx, tx, old.PostmortemID, old.ID, old.Status, ft.StatusWontDo, "revision", "", now); err != nil {
		return err
	}
	return enqueue(ctx, tx, Job{Kind: JobCloseRemoved, PostmortemID: old.PostmortemID, ItemID: old.ID, Tracker: string(old.Target.Kind)}, now)
}

// setItemStatus changes an item's status and records it in the history; no change, no record.
func setItemStatus(ctx context.Context, tx *Tx, pmID, itemID string, from, to ft.Status, source, actor string, now time.Time) error {
	if from == to {
		return nil
	}
	nowText := formatTime(now)
	if _, err := tx.exec(ctx, `UPDATE items SET status = ?, updated_at = ? WHERE postmortem_id = ? AND item_id = ?`,
		string(to), nowText, pmID, itemID); err != nil {
		return err
	}
	_, err := tx.exec(ctx, `INSERT INTO status_history (postmortem_id, item_id, from_status, to_status, source, actor, at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, pmID, itemID, string(from), string(to), source, actor, nowText)
	return err
}
