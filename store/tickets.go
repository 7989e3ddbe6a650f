package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	ft "github.com/followthrough/followthrough"
)

// TicketRecord is a ticket as stored.
type TicketRecord struct {
	ID             int64
	PostmortemID   string
	ItemID         string
	Ref            ft.TicketRef
	Current        bool      // the item's ticket now (not one it left behind)
	TrackerUpdated time.Time // the tracker's updated time of the last event applied; zero: none
	Deleted        bool      // the tracker told us it was deleted
}

// FindTicket reads the ticket with ref's kind and key in the caller's transaction; with
// foldCase a key that differs only in case matches too (for trackers whose names are
// case-insensitive). ok is false when followthrough has no such ticket.
func FindTicket(ctx context.Context, tx *Tx, ref ft.TicketRef, foldCase bool) (t TicketRecord, ok bool, err error) {
	if !ft.StorableText(ref.Key) {
		// No stored key holds what no database can store: asking PostgreSQL would fail.
		return t, false, nil
	}
	var updated, deleted sql.NullString
	var kind string
	row := func(cond, key string) error {
		return tx.queryRow(ctx, `SELECT id, postmortem_id, item_id, kind, key, url, current, tracker_updated_at, deleted_at
			FROM tickets WHERE kind = ? AND `+cond, string(ref.Kind), key).Scan(&t.ID, &t.PostmortemID, &t.ItemID,
			&kind, &t.Ref.Key, &t.Ref.URL, &t.Current, &updated, &deleted)
	}
	err = row(`key = ?`, ref.Key)
	if errors.Is(err, sql.ErrNoRows) && foldCase {
		// Folded here as the column is folded (ASCII letters only), not by lower(?), which
		// PostgreSQL runs under the database's collation (every letter).
		err = row(`key = ? COLLATE NOCASE`, foldASCII(ref.Key))
	}
	if errors.Is(err, sql.ErrNoRows) {
		return t, false, nil
	}
	if err != nil {
		return t, false, fmt.Errorf("read ticket %s: %w", ref.Key, err)
	}
	t.Ref.Kind = ft.TrackerKind(kind)
	t.TrackerUpdated = nullableTime(updated)
	t.Deleted = deleted.Valid
	return t, true, nil
}

// AdvanceTicketUpdated moves a ticket's known tracker updated time forward to at (never back),
// in the caller's transaction.
func AdvanceTicketUpdated(ctx context.Context, tx *Tx, ticketID int64, at time.Time) error {
	text := formatTime(at)
	_, err := tx.exec(ctx, `UPDATE tickets SET tracker_updated_at = ?
		WHERE id = ? AND (tracker_updated_at IS NULL OR tracker_updated_at < ?)`, text, ticketID, text)
	return err
}

// MarkTicketDeleted records that the tracker deleted the ticket.
func MarkTicketDeleted(ctx context.Context, tx *Tx, ticketID int64, now time.Time) error {
	_, err := tx.exec(ctx, `UPDATE tickets SET deleted_at = ? WHERE id = ?`, formatTime(now), ticketID)
	return err
}

// TicketDeleted reports whether the tracker told us the ticket was deleted.
func TicketDeleted(ctx context.Context, tx *Tx, ref ft.TicketRef) (bool, error) {
	var deleted sql.NullString
	err := tx.queryRow(ctx, `SELECT deleted_at FROM tickets WHERE kind = ? AND key = ?`, string(ref.Kind), ref.Key).Scan(&deleted)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return deleted.Valid, err
}

// DropDeletedTicket stops an item pointing to its current ticket when the tracker deleted it.
// The ticket stays on record (one ticket never belongs to two items).
func DropDeletedTicket(ctx context.Context, tx *Tx, pmID, itemID string) error {
	_, err := tx.exec(ctx, `UPDATE tickets SET current = 0
		WHERE postmortem_id = ? AND item_id = ? AND current = 1 AND deleted_at IS NOT NULL`, pmID, itemID)
	return err
}

// LinkTicket makes the ticket the item's current one (an earlier current ticket stops being
// current) and shows the item as linked. Linking the same ticket again changes nothing. It
// returns the ticket that was current before, if another.
func LinkTicket(ctx context.Context, tx *Tx, pmID, itemID string, t ft.Ticket, scope string, now time.Time) (*ft.TicketRef, error) {
	var previous *ft.TicketRef
	var oldKind, oldKey, oldURL string
	err := tx.queryRow(ctx, `SELECT kind, key, url FROM tickets WHERE postmortem_id = ? AND item_id = ? AND current = 1`,
		pmID, itemID).Scan(&oldKind, &oldKey, &oldURL)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, err
	case oldKind == string(t.Ref.Kind) && oldKey == t.Ref.Key:
		return nil, setLinked(ctx, tx, pmID, itemID, now)
	default:
		previous = &ft.TicketRef{Kind: ft.TrackerKind(oldKind), Key: oldKey, URL: oldURL}
		if _, err := tx.exec(ctx, `UPDATE tickets SET current = 0 WHERE postmortem_id = ? AND item_id = ? AND current = 1`,
			pmID, itemID); err != nil {
			return nil, err
		}
	}
	created := t.CreatedAt
	if created.IsZero() {
		created = now
	}
	// A ticket found again (moved back) becomes current again; it can never belong to another
	// item. One statement: on PostgreSQL, looking for the key first (an UPDATE of no row) made
	// each ticket being made read the index page where the others' new keys go, and most of
	// those transactions aborted each other.
	var linked int
	err = tx.queryRow(ctx, `INSERT INTO tickets (postmortem_id, item_id, kind, scope, key, url, current, created_at, tracker_updated_at)
		VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)
		ON CONFLICT (kind, key) DO UPDATE SET current = 1, deleted_at = NULL
		WHERE tickets.postmortem_id = excluded.postmortem_id AND tickets.item_id = excluded.item_id
		RETURNING 1`, pmID, itemID, string(t.Ref.Kind), scope, t.Ref.Key, t.Ref.URL,
		formatTime(created), nullTime(&t.UpdatedAt)).Scan(&linked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("link ticket %s to %s/%s: it is another item's ticket: %w", t.Ref.Key, pmID, itemID, ft.ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("link ticket %s to %s/%s: %w", t.Ref.Key, pmID, itemID, err)
	}
	return previous, setLinked(ctx, tx, pmID, itemID, now)
}

// RecordLeftBehind keeps on record a ticket made for an item where the item no longer goes (a
// lost create found after the item moved or was removed): it belongs to the item but is not its
// current ticket, so events about it change nothing.
func RecordLeftBehind(ctx context.Context, tx *Tx, pmID, itemID string, t ft.Ticket, scope string, now time.Time) error {
	created := t.CreatedAt
	if created.IsZero() {
		created = now
	}
	_, err := tx.exec(ctx, `INSERT INTO tickets (postmortem_id, item_id, kind, scope, key, url, current, created_at, tracker_updated_at)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (kind, key) DO NOTHING`,
		pmID, itemID, string(t.Ref.Kind), scope, t.Ref.Key, t.Ref.URL, formatTime(created), nullTime(&t.UpdatedAt))
	return err
}

func setLinked(ctx context.Context, tx *Tx, pmID, itemID string, now time.Time) error {
	_, err := tx.exec(ctx, `UPDATE items SET sync = 'linked', last_error = NULL, waiting_reason = NULL, waiting_until = NULL,
		updated_at = ? WHERE postmortem_id = ? AND item_id = ?`, formatTime(now), pmID, itemID)
	return err
}

// NoteTicketUpdated remembers the tracker's updated time of a change we made, so that an older
// event about the ticket is recognised as older.
func NoteTicketUpdated(ctx context.Context, tx *Tx, ref ft.TicketRef, updated time.Time) error {
	if updated.IsZero() {
		return nil
	}
	_, err := tx.exec(ctx, `UPDATE tickets SET tracker_updated_at = ?
		WHERE kind = ? AND key = ? AND (tracker_updated_at IS NULL OR tracker_updated_at < ?)`,
		formatTime(updated), string(ref.Kind), ref.Key, formatTime(updated))
	return err
}

// TicketKnown reports whether followthrough already has the ticket on record, for any item.
func (s *Store) TicketKnown(ctx context.Context, ref ft.TicketRef) (bool, error) {
	var known bool
	err := s.readDB.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM tickets WHERE kind = ? AND key = ?)`,
		string(ref.Kind), ref.Key).Scan(&known)
	return known, err
}

// ReconcileScope is one repository or project that has linked tickets, with where
// reconciliation got to there.
type ReconcileScope struct {
	Kind  ft.TrackerKind
	Scope string // "owner/repo" or a Jira project key
	// Since is the newest tracker updated time seen by reconciliation; before the first
	// reconcile of the scope, the oldest time known for any of its tickets.
	Since time.Time
}

// ReconcileScopes lists the repositories and projects that reconciliation polls: those with a
// current ticket that was not deleted. Its cost is one index scan over the tickets' scopes.
func (s *Store) ReconcileScopes(ctx context.Context) ([]ReconcileScope, error) {
	rows, err := s.readDB.QueryContext(ctx, `SELECT t.kind, t.scope,
		COALESCE((SELECT c.since FROM reconcile_cursors c WHERE c.kind = t.kind AND c.scope = t.scope),
			MIN(COALESCE(t.tracker_updated_at, t.created_at)))
		FROM tickets t WHERE t.current = 1 AND t.deleted_at IS NULL
		GROUP BY t.kind, t.scope ORDER BY t.kind, t.scope`)
	if err != nil {
		return nil, fmt.Errorf("list reconcile scopes: %w", err)
	}
	out, err := collect(rows, func(rows *sql.Rows) (ReconcileScope, error) {
		var sc ReconcileScope
		var since string
		err := rows.Scan(&sc.Kind, &sc.Scope, &since)
		sc.Since = parseTime(since)
		return sc, err
	})
	if err != nil {
		return nil, fmt.Errorf("list reconcile scopes: %w", err)
	}
	return out, nil
}

// AdvanceReconcileCursor moves a scope's reconcile cursor forward to since (never back).
func AdvanceReconcileCursor(ctx context.Context, tx *Tx, kind ft.TrackerKind, scope string, since time.Time) error {
	if since.IsZero() {
		return nil
	}
	text := formatTime(since)
	_, err := tx.exec(ctx, `INSERT INTO reconcile_cursors (kind, scope, since) VALUES (?, ?, ?)
		ON CONFLICT (kind, scope) DO UPDATE SET since = excluded.since WHERE excluded.since > reconcile_cursors.since`,
		string(kind), scope, text)
	return err
}
