package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	ft "github.com/followthrough/followthrough"
)

// Tickets that people opened and an item's document names are adopted rather than created:
// their row in tickets carries adopted_at. A ticket still belongs to one item at a time; when
// the item that had it no longer follows it (it named another, or a revision removed it), the
// row passes to the item that adopts it next.

// ReserveTicket gives the item the row of an existing ticket it is about to adopt, not yet as
// its current ticket, in the caller's transaction: while the item's document names the
// ticket, no other item can take it (TicketFollower), and what the item had stays its own
// until AdoptTicket. A row that another item holds passes to this item (the caller has
// checked that that item no longer follows it).
func ReserveTicket(ctx context.Context, tx *Tx, pmID, itemID string, t ft.Ticket, now time.Time) error {
	_, err := reserveTicket(ctx, tx, pmID, itemID, t, now)
	return err
}

// reserveTicket is ReserveTicket, returning the ticket's row as it is now the item's.
func reserveTicket(ctx context.Context, tx *Tx, pmID, itemID string, t ft.Ticket, now time.Time) (TicketRecord, error) {
	rec, found, err := FindTicket(ctx, tx, t.Ref, t.Ref.FoldsCase())
	switch {
	case err != nil:
		return rec, err
	case found && rec.PostmortemID == pmID && rec.ItemID == itemID:
		return rec, nil
	case found:
		_, err = tx.exec(ctx, `UPDATE tickets SET postmortem_id = ?, item_id = ?, current = 0 WHERE id = ?`,
			pmID, itemID, rec.ID)
	default:
		created := t.CreatedAt
		if created.IsZero() {
			created = now
		}
		rec = TicketRecord{Ref: t.Ref, TrackerUpdated: t.UpdatedAt}
		err = tx.queryRow(ctx, `INSERT INTO tickets (postmortem_id, item_id, kind, scope, key, url, current, created_at,
			tracker_updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?) RETURNING id`,
			pmID, itemID, string(t.Ref.Kind), t.Ref.Scope(), t.Ref.Key, t.Ref.URL, formatTime(created), nullTime(&t.UpdatedAt)).Scan(&rec.ID)
	}
	if err != nil {
		return rec, fmt.Errorf("reserve ticket %s for %s/%s: %w", t.Ref.Key, pmID, itemID, err)
	}
	rec.PostmortemID, rec.ItemID, rec.Current = pmID, itemID, false
	return rec, nil
}

// AdoptTicket makes the existing ticket that the item reserved (ReserveTicket) its current
// one, adopted now, in the caller's transaction, as the tracker last showed it. A ticket the
// item follows already is left as it is, its adoption time kept. It returns the item's
// current ticket before, when it was another; that ticket stops being current.
func AdoptTicket(ctx context.Context, tx *Tx, pmID, itemID string, t ft.Ticket, now time.Time) (*ft.TicketRef, error) {
	rec, err := reserveTicket(ctx, tx, pmID, itemID, t, now)
	if err != nil {
		return nil, err
	}
	if rec.Current {
		return nil, NoteTicketUpdated(ctx, tx, rec.Ref, t.UpdatedAt)
	}
	var previous *ft.TicketRef
	var oldKind, oldKey, oldURL string
	err = tx.queryRow(ctx, `SELECT kind, key, url FROM tickets WHERE postmortem_id = ? AND item_id = ? AND current = 1`,
		pmID, itemID).Scan(&oldKind, &oldKey, &oldURL)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("adopt ticket %s for %s/%s: %w", t.Ref.Key, pmID, itemID, err)
	default:
		previous = &ft.TicketRef{Kind: ft.TrackerKind(oldKind), Key: oldKey, URL: oldURL}
		if _, err := tx.exec(ctx, `UPDATE tickets SET current = 0 WHERE postmortem_id = ? AND item_id = ? AND current = 1`,
			pmID, itemID); err != nil {
			return nil, fmt.Errorf("adopt ticket %s for %s/%s: %w", t.Ref.Key, pmID, itemID, err)
		}
	}
	if _, err := tx.exec(ctx, `UPDATE tickets SET url = ?, current = 1, deleted_at = NULL, adopted_at = ? WHERE id = ?`,
		t.Ref.URL, formatTime(now), rec.ID); err != nil {
		return nil, fmt.Errorf("adopt ticket %s for %s/%s: %w", t.Ref.Key, pmID, itemID, err)
	}
	return previous, NoteTicketUpdated(ctx, tx, rec.Ref, t.UpdatedAt)
}

// TicketFollower is the item that follows the ticket, or is about to: the one whose current
// ticket it is, unless the tracker deleted it, or the one holding it whose document names it
// (its adoption is under way or failed). An item a revision removed follows nothing. ok is
// false when no item follows it.
func TicketFollower(ctx context.Context, tx *Tx, ref ft.TicketRef) (pmID, itemID string, ok bool, err error) {
	rec, found, err := FindTicket(ctx, tx, ref, ref.FoldsCase())
	if err != nil || !found {
		return "", "", false, err
	}
	var removed bool
	var named, sync string
	err = tx.queryRow(ctx, `SELECT removed, named_ticket, sync FROM items WHERE postmortem_id = ? AND item_id = ?`,
		rec.PostmortemID, rec.ItemID).Scan(&removed, &named, &sync)
	if err != nil {
		return "", "", false, fmt.Errorf("read the item of ticket %s: %w", ref.Key, err)
	}
	names := sync != string(ft.SyncNone) && (named == rec.Ref.Key || ref.FoldsCase() && strings.EqualFold(named, rec.Ref.Key))
	follows := !removed && (rec.Current && !rec.Deleted || names)
	return rec.PostmortemID, rec.ItemID, follows, nil
}

// TicketAdopted reports whether followthrough adopted the ticket (people opened it) rather
// than created it.
func TicketAdopted(ctx context.Context, tx *Tx, ref ft.TicketRef) (bool, error) {
	var adopted bool
	err := tx.queryRow(ctx, `SELECT adopted_at IS NOT NULL FROM tickets WHERE kind = ? AND key = ?`,
		string(ref.Kind), ref.Key).Scan(&adopted)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return adopted, err
}

// TicketHeldBy reports whether the ticket's row belongs to the item (current or not): a
// ticket that passed to another item since is that item's to speak of.
func (s *Store) TicketHeldBy(ctx context.Context, ref ft.TicketRef, pmID, itemID string) (bool, error) {
	var held bool
	err := s.readDB.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM tickets
		WHERE kind = ? AND key = ? AND postmortem_id = ? AND item_id = ?)`,
		string(ref.Kind), ref.Key, pmID, itemID).Scan(&held)
	if err != nil {
		return false, fmt.Errorf("read ticket %s: %w", ref.Key, err)
	}
	return held, nil
}
