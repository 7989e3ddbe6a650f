package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	ft "github.com/followthrough/followthrough"
)

// Revision is the latest stored revision of a postmortem's document.
type Revision struct {
	Number   int    // 1 for the first document
	Hash     string // ft.Document.Hash
	Document []byte // the canonical JSON
}

// LatestRevision reads the postmortem's latest revision in the caller's transaction; ok is
// false for a postmortem not stored yet.
func LatestRevision(ctx context.Context, tx *Tx, pmID string) (rev Revision, ok bool, err error) {
	var document string
	err = tx.queryRow(ctx, `SELECT p.revision, r.doc_hash, r.document FROM postmortems p
		JOIN postmortem_revisions r ON r.postmortem_id = p.id AND r.revision = p.revision
		WHERE p.id = ?`, pmID).Scan(&rev.Number, &rev.Hash, &document)
	if errors.Is(err, sql.ErrNoRows) {
		return Revision{}, false, nil
	}
	if err != nil {
		return Revision{}, false, fmt.Errorf("read revision of %s: %w", pmID, err)
	}
	rev.Document = []byte(document)
	return rev, true, nil
}

// PostmortemRow is a postmortem's own fields as intake writes them.
type PostmortemRow struct {
	ID          string
	Title       string
	URL         string
	Severity    string
	Team        string
	SignedOffAt *time.Time
	Own         *ft.TicketRef // its own ticket (kind and key), if it names one
}

// signedOff is the postmortem's sign-off time as stored: none for a zero time (nullTime), as a
// normalized document has none already (ft.Document.Normalize); this keeps the sort key, the
// figures and NewRecord agreeing with the stored column whoever calls ApplyIntake.
func (pm PostmortemRow) signedOff() *time.Time {
	if pm.SignedOffAt == nil || pm.SignedOffAt.IsZero() {
		return nil
	}
	return pm.SignedOffAt
}

// IntakePlan is everything one intake writes, as the engine decided it. ApplyIntake writes it
// in the caller's transaction, in this order.
type IntakePlan struct {
	Postmortem PostmortemRow
	Revision   Revision     // the new revision: inserted, and the postmortem's from now on
	Items      []ItemChange // the document's items in its order, then the items it dropped
	Jobs       []Job        // queued in this order
	// SameFigures says that the revision keeps every input of the figure numbers (figures.go)
	// as stored: the postmortem's team, severity and sign-off time (in seconds), and each
	// item's own team and removed flag. The numbers of the rows it does not write (the items
	// it no longer lists, and status history) are then right already, and ApplyIntake leaves
	// them alone. False, the safe value, brings them up to date.
	SameFigures bool
}

// ItemChange is one item that an intake inserts or updates.
type ItemChange struct {
	Row ItemRow // as the item is after the change
	New bool    // inserted; else the stored item is updated to Row
	// From is the stored item's status before an update. When Row.Status differs, the change
	// is recorded in the item's history with source "revision".
	From ft.Status
	// Sync, when set, is the item's sync state after the change: none for an item finished at
	// sign-off, pending for one that needs a ticket again. Empty leaves it as it is (pending
	// for a new item).
	Sync ft.SyncState
}

// StatusChanged reports whether the change moves the item's status.
func (c ItemChange) StatusChanged() bool { return !c.New && c.From != c.Row.Status }

// ApplyIntake writes an intake's plan in the caller's transaction: the postmortem's row
// (inserted for revision 1: acceptance time now), its revision, every item change with the
// history of the statuses it moves, and the jobs.
func ApplyIntake(ctx context.Context, tx *Tx, p IntakePlan, now time.Time) error {
	pm := p.Postmortem
	sortAt, sortSeq, err := writePostmortem(ctx, tx, pm, p.Revision.Number, now)
	if err != nil {
		return fmt.Errorf("write postmortem %s: %w", pm.ID, err)
	}
	// The revision keeps its sort key, by which a list walk begun before a later move places
	// the postmortem (ListPostmortems).
	if _, err := tx.exec(ctx, `INSERT INTO postmortem_revisions (postmortem_id, revision, doc_hash, document, received_at,
		sort_at, sort_seq) VALUES (?, ?, ?, ?, ?, ?, ?)`, pm.ID, p.Revision.Number, p.Revision.Hash, string(p.Revision.Document),
		formatTime(now), formatTime(sortAt), sortSeq); err != nil {
		return fmt.Errorf("write revision %d of %s: %w", p.Revision.Number, pm.ID, err)
	}
	figures := figuresOf(pm, sortAt)
	var inserts []ItemChange
	for _, c := range p.Items {
		if c.New {
			inserts = append(inserts, c)
		}
	}
	if err := insertItems(ctx, tx, inserts, figures, now); err != nil {
		return fmt.Errorf("write items of %s: %w", pm.ID, err)
	}
	for _, c := range p.Items {
		if !c.New {
			if err := updateItem(ctx, tx, c.Row, figures, now); err != nil {
				return fmt.Errorf("write item %s/%s: %w", pm.ID, c.Row.ID, err)
			}
		}
		if c.Sync != "" && !c.New { // a new item's is in its row
			if err := SetItemSync(ctx, tx, pm.ID, c.Row.ID, c.Sync, now); err != nil {
				return fmt.Errorf("write sync of %s/%s: %w", pm.ID, c.Row.ID, err)
			}
		}
		if c.StatusChanged() {
			if err := setItemStatus(ctx, tx, pm.ID, c.Row.ID, c.From, c.Row.Status, ft.SourceRevision, "", now); err != nil {
				return fmt.Errorf("write status of %s/%s: %w", pm.ID, c.Row.ID, err)
			}
		}
	}
	if p.Revision.Number > 1 && !p.SameFigures {
		if err := refreshFigureNumbers(ctx, tx, pm.ID, figures); err != nil {
			return fmt.Errorf("write figures of %s: %w", pm.ID, err)
		}
	}
	if err := enqueueAll(ctx, tx, p.Jobs, now); err != nil {
		return fmt.Errorf("queue the work of %s: %w", pm.ID, err)
	}
	return nil
}

// writePostmortem inserts revision 1 of a postmortem, or updates it to a later revision, and
// returns its sort key as written: the sign-off time, else the first acceptance (which only the
// stored row has, for a later revision: the update returns it rather than a second statement
// reading it); and the number of the key's last move (sort_seq, migration 0020): 0 for a new
// postmortem, kept by a revision that keeps the key, the next of all postmortems' moves for one
// that moves it. Moves are numbered in the order they commit: a move reads the last number
// through postmortems_moved (on PostgreSQL two at once conflict, and one is run again), so a
// walk that saw move n as committed sees every move up to n.
func writePostmortem(ctx context.Context, tx *Tx, pm PostmortemRow, revision int, now time.Time) (sortAt time.Time, sortSeq int64, err error) {
	var ownKind, ownKey any
	if pm.Own != nil {
		ownKind, ownKey = string(pm.Own.Kind), pm.Own.Key
	}
	nowText := formatTime(now)
	if revision == 1 {
		sortAt = now
		if signed := pm.signedOff(); signed != nil {
			sortAt = *signed
		}
		_, err := tx.exec(ctx, `INSERT INTO postmortems (id, title, url, severity, team, signed_off_at,
			accepted_at, sort_at, own_kind, own_key, revision, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`,
			pm.ID, pm.Title, pm.URL, pm.Severity, pm.Team, nullTime(pm.SignedOffAt),
			nowText, formatTime(sortAt), ownKind, ownKey, nowText)
		return sortAt, 0, err
	}
	var sortAtText string
	// SET reads the row as it was: sort_seq compares the old key with the new.
	err = tx.queryRow(ctx, `UPDATE postmortems SET title = ?, url = ?, severity = ?, team = ?,
		signed_off_at = ?, sort_seq = CASE WHEN sort_at = COALESCE(?, accepted_at) THEN sort_seq
			ELSE `+lastMoveQuery+` + 1 END,
		sort_at = COALESCE(?, accepted_at), own_kind = ?, own_key = ?,
		revision = ?, updated_at = ? WHERE id = ? RETURNING sort_at, sort_seq`,
		pm.Title, pm.URL, pm.Severity, pm.Team, nullTime(pm.SignedOffAt), nullTime(pm.SignedOffAt),
		nullTime(pm.SignedOffAt), ownKind, ownKey, revision, nowText, pm.ID).Scan(&sortAtText, &sortSeq)
	return parseTime(sortAtText), sortSeq, err
}

// NewRecord is the postmortem that ApplyIntake writes for revision 1, as LoadPostmortemTx
// reads it back (times at the stored precision, targets as stored), so that intake evaluates
// a new postmortem and answers without reading back what it just wrote. ok is false for a
// later revision, whose record depends on what was stored before: read it.
func (p IntakePlan) NewRecord(now time.Time) (rec PostmortemRecord, ok bool) {
	if p.Revision.Number != 1 {
		return PostmortemRecord{}, false
	}
	accepted := parseTime(formatTime(now))
	pm := p.Postmortem
	rec = PostmortemRecord{ID: pm.ID, Title: pm.Title, URL: pm.URL, Severity: pm.Severity, Team: pm.Team,
		State: ft.StateTracking, Revision: 1, AcceptedAt: accepted, sortAt: formatTime(now),
		Items: make([]Item, 0, len(p.Items))}
	if signedOff := pm.signedOff(); signedOff != nil {
		signed := parseTime(formatTime(*signedOff))
		rec.SignedOffAt, rec.sortAt = &signed, formatTime(signed)
	}
	if pm.Own != nil {
		rec.Own = &ft.TicketRef{Kind: pm.Own.Kind, Key: pm.Own.Key}
	}
	for _, c := range p.Items {
		it := Item{ItemRow: c.Row, Sync: ft.SyncPending, CreatedAt: accepted}
		if c.Sync != "" {
			it.Sync = c.Sync
		}
		it.Target = ft.ScopeTarget(c.Row.Target.Kind, c.Row.Target.Scope())
		it.Target.IssueType = c.Row.Target.IssueType
		it.Labels = slices.Clone(c.Row.Labels) // as stored: nil stays nil, empty stays empty
		rec.Items = append(rec.Items, it)
	}
	return rec, true
}
