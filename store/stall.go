package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	ft "github.com/followthrough/followthrough"
)

// StallFacts is what stall evaluation reads about one postmortem, inside the caller's
// transaction.
type StallFacts struct {
	PostmortemID string
	Title        string
	URL          string
	State        ft.State
	AcceptedAt   time.Time
	SignedOffAt  *time.Time
	Own          *ft.TicketRef // the postmortem's own ticket, if it has one (no URL)
	Items        []Item        // in the postmortem's order, removed items last
}

// DueFrom is where default_due counts from: signed_off_at, or the acceptance when absent.
func (f StallFacts) DueFrom() time.Time {
	if f.SignedOffAt != nil {
		return *f.SignedOffAt
	}
	return f.AcceptedAt
}

// LoadStallFacts reads a postmortem and its items for stall evaluation.
func LoadStallFacts(ctx context.Context, tx *Tx, pmID string) (StallFacts, error) {
	f := StallFacts{PostmortemID: pmID}
	var signedOff sql.NullString
	var accepted, ownKind, ownKey string
	err := tx.queryRow(ctx, `SELECT title, url, state, accepted_at, signed_off_at, COALESCE(own_kind, ''),
		COALESCE(own_key, '') FROM postmortems WHERE id = ?`, pmID).Scan(
		&f.Title, &f.URL, &f.State, &accepted, &signedOff, &ownKind, &ownKey)
	if errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("postmortem %s: %w", pmID, ft.ErrNotFound)
	}
	if err != nil {
		return f, fmt.Errorf("read stall facts of %s: %w", pmID, err)
	}
	f.AcceptedAt = parseTime(accepted)
	if signedOff.Valid {
		t := parseTime(signedOff.String)
		f.SignedOffAt = &t
	}
	if ownKind != "" && ownKey != "" {
		f.Own = &ft.TicketRef{Kind: ft.TrackerKind(ownKind), Key: ownKey}
	}
	if f.Items, err = loadItems(ctx, tx.tx, `i.postmortem_id = ?`, pmID); err != nil {
		return f, fmt.Errorf("read stall facts of %s: %w", pmID, err)
	}
	return f, nil
}

// SetItemStall stores an item's stall bookkeeping. The item's updated_at is left alone: a
// stall is not an edit.
func SetItemStall(ctx context.Context, tx *Tx, pmID, itemID string, st ItemStall) error {
	var since any
	if !st.Since.IsZero() {
		since = formatTime(st.Since)
	}
	_, err := tx.exec(ctx, `UPDATE items SET stalled_reason = ?, stall_episode = ?, stalled_at = ?, stalled_label = ?
		WHERE postmortem_id = ? AND item_id = ?`,
		nullString(string(st.Reason)), st.Episode, since, st.Label, pmID, itemID)
	if err != nil {
		return fmt.Errorf("store stall of %s/%s: %w", pmID, itemID, err)
	}
	return nil
}

// ItemStallNow reads an item's stall bookkeeping as committed, for a job that must know
// whether the stall it was queued for is still the current one.
func (s *Store) ItemStallNow(ctx context.Context, pmID, itemID string) (ItemStall, error) {
	it, err := s.LoadItem(ctx, pmID, itemID)
	return it.Stall, err
}

// PostmortemsToScan lists the postmortems a stall scan evaluates: every one not completed (a
// completed postmortem has no unfinished item that could stall), oldest first.
func (s *Store) PostmortemsToScan(ctx context.Context) ([]string, error) {
	rows, err := s.readDB.QueryContext(ctx, `SELECT id FROM postmortems WHERE state <> 'completed' ORDER BY sort_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list postmortems to scan: %w", err)
	}
	ids, err := collect(rows, scanString)
	if err != nil {
		return nil, fmt.Errorf("list postmortems to scan: %w", err)
	}
	return ids, nil
}
