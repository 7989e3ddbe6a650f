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
	Items        []StallItem   // in the postmortem's order, removed items last
}

// DueFrom is where default_due counts from: signed_off_at, or the acceptance when absent.
func (f StallFacts) DueFrom() time.Time {
	if f.SignedOffAt != nil {
		return *f.SignedOffAt
	}
	return f.AcceptedAt
}

// StallItem is one action item as stall evaluation sees it.
type StallItem struct {
	ID            string
	Title         string
	Owner         string
	Priority      string
	Due           string // YYYY-MM-DD or empty
	Status        ft.Status
	Removed       bool
	Target        ft.Target
	CreatedAt     time.Time     // when followthrough accepted the item
	Ticket        *ft.TicketRef // current ticket, nil before it exists
	TicketCreated time.Time     // the tracker's creation time of the ticket
	LastActivity  time.Time     // people's last activity on the ticket; zero: none
	Stall         ItemStall
}

// ItemStall is an item's stall bookkeeping.
type ItemStall struct {
	Reason  ft.StallReason // StallNone when not stalled
	Episode int            // entries into stalled so far; the current stall's number while stalled
	Since   time.Time      // when the current (or last) stall began
	Label   bool           // the `stalled` label is on the ticket, or queued to go on
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
	rows, err := tx.query(ctx, `SELECT i.item_id, i.title, i.owner, i.priority, COALESCE(i.due, ''), i.status,
		i.removed, i.target_kind, i.target_scope, i.target_issue_type, i.created_at, i.last_activity_at,
		COALESCE(i.stalled_reason, ''), i.stall_episode, i.stalled_at, i.stalled_label,
		t.kind, t.key, t.url, t.created_at
		FROM items i LEFT JOIN tickets t ON t.postmortem_id = i.postmortem_id AND t.item_id = i.item_id AND t.current = 1
		WHERE i.postmortem_id = ? ORDER BY i.removed, i.position, i.item_id`, pmID)
	if err != nil {
		return f, fmt.Errorf("read stall facts of %s: %w", pmID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var it StallItem
		var kind, scope, issueType, created, reason string
		var activity, stalledAt, tKind, tKey, tURL, tCreated sql.NullString
		if err := rows.Scan(&it.ID, &it.Title, &it.Owner, &it.Priority, &it.Due, &it.Status, &it.Removed,
			&kind, &scope, &issueType, &created, &activity, &reason, &it.Stall.Episode, &stalledAt,
			&it.Stall.Label, &tKind, &tKey, &tURL, &tCreated); err != nil {
			return f, fmt.Errorf("read stall facts of %s: %w", pmID, err)
		}
		it.Target = targetFromColumns(kind, scope, issueType)
		it.CreatedAt = parseTime(created)
		it.Stall.Reason = ft.StallReason(reason)
		if activity.Valid {
			it.LastActivity = parseTime(activity.String)
		}
		if stalledAt.Valid {
			it.Stall.Since = parseTime(stalledAt.String)
		}
		if tKey.Valid {
			it.Ticket = &ft.TicketRef{Kind: ft.TrackerKind(tKind.String), Key: tKey.String, URL: tURL.String}
			it.TicketCreated = parseTime(tCreated.String)
		}
		f.Items = append(f.Items, it)
	}
	if err := rows.Err(); err != nil {
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
	return itemStall(ctx, s.readDB, pmID, itemID)
}

// ItemStallTx is ItemStallNow inside a write transaction.
func ItemStallTx(ctx context.Context, tx *Tx, pmID, itemID string) (ItemStall, error) {
	return itemStall(ctx, tx.tx, pmID, itemID)
}

func itemStall(ctx context.Context, q querier, pmID, itemID string) (ItemStall, error) {
	var st ItemStall
	var reason string
	var since sql.NullString
	err := q.QueryRowContext(ctx, `SELECT COALESCE(stalled_reason, ''), stall_episode, stalled_at, stalled_label
		FROM items WHERE postmortem_id = ? AND item_id = ?`, pmID, itemID).Scan(&reason, &st.Episode, &since, &st.Label)
	if errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("item %s/%s: %w", pmID, itemID, ft.ErrNotFound)
	}
	if err != nil {
		return st, fmt.Errorf("read stall of %s/%s: %w", pmID, itemID, err)
	}
	st.Reason = ft.StallReason(reason)
	if since.Valid {
		st.Since = parseTime(since.String)
	}
	return st, nil
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
