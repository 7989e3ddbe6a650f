package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	ft "github.com/followthrough/followthrough"
)

// ItemRow is an action item as its postmortem's document gives it, with where its ticket goes:
// what intake writes.
type ItemRow struct {
	PostmortemID string
	ID           string
	Position     int
	Title        string
	Description  string
	Owner        string
	Priority     string
	Due          string
	Type         string
	Team         string
	Labels       []string
	Target       ft.Target
	Status       ft.Status
	Removed      bool
	// NamedTicket is the existing ticket the document names for the item ("owner/repo#N" or
	// "PROJ-N"), to be followed instead of one of its own; "" when it names none.
	NamedTicket string
}

// Item is an action item as stored: its row, how its ticket is doing, its stall bookkeeping
// and its current ticket. It is the one read model of the items table: every read of items
// scans itemColumns with scanItem.
type Item struct {
	ItemRow
	Sync          ft.SyncState
	LastError     string    // why sync failed, "" when it did not
	LastActivity  time.Time // people's last activity on the ticket; zero: none
	CreatedAt     time.Time // when followthrough accepted the item
	Stall         ItemStall
	Ticket        *ft.TicketRef // the current ticket, nil before it exists
	TicketCreated time.Time     // the tracker's creation time of the ticket
	TicketUpdated time.Time     // the tracker's updated time of the last event applied
	// TicketAdopted is when followthrough adopted the ticket, one that people opened; zero for
	// a ticket followthrough created.
	TicketAdopted time.Time
	Waiting       *ft.Waiting // why its create is held back, and until when (see SetItemWaiting)
	// RestoredAt is when a revision last brought the item back after one removed it; zero:
	// never. Inactivity counts from no earlier.
	RestoredAt time.Time
}

// TicketSince is when the item's ticket became its ticket: its creation, or its adoption for
// an existing ticket that followthrough follows. Inactivity counts from it.
func (it Item) TicketSince() time.Time {
	if !it.TicketAdopted.IsZero() {
		return it.TicketAdopted
	}
	return it.TicketCreated
}

// Adopted reports whether the item's current ticket is one that people opened and
// followthrough adopted: its title and description are theirs, and it is unlinked, never
// closed, when the item leaves it.
func (it Item) Adopted() bool { return it.Ticket != nil && !it.TicketAdopted.IsZero() }

// ItemStall is an item's stall bookkeeping.
type ItemStall struct {
	Reason  ft.StallReason // StallNone when not stalled
	Episode int            // entries into stalled so far; the current stall's number while stalled
	Since   time.Time      // when the current (or last) stall began
	Label   bool           // the `stalled` label is on the ticket, or queued to go on
}

// itemColumns and itemsFrom read an item with its current ticket, for scanItem.
const (
	itemColumns = `i.postmortem_id, i.item_id, i.position, i.title, i.description, i.owner, i.priority,
	COALESCE(i.due, ''), i.type, i.team, i.labels, i.target_kind, i.target_scope, i.target_issue_type,
	i.status, i.removed, i.sync, COALESCE(i.last_error, ''), i.last_activity_at, i.created_at,
	COALESCE(i.stalled_reason, ''), i.stall_episode, i.stalled_at, i.stalled_label, i.named_ticket,
	COALESCE(i.waiting_reason, ''), i.waiting_until, i.restored_at,
	t.kind, t.key, t.url, t.created_at, t.tracker_updated_at, t.adopted_at`
	itemsFrom = ` FROM items i
	LEFT JOIN tickets t ON t.postmortem_id = i.postmortem_id AND t.item_id = i.item_id AND t.current = 1`
	// itemOrder is a postmortem's order: the document's, removed items last.
	itemOrder = ` ORDER BY i.postmortem_id, i.removed, i.position, i.item_id`
)

// scanItem reads one row of itemColumns.
func scanItem(row interface{ Scan(...any) error }) (Item, error) {
	var it Item
	var labels, kind, scope, issueType, created, reason, waitingReason string
	var activity, stalledAt, waitingUntil, restoredAt, tKind, tKey, tURL, tCreated, tUpdated, tAdopted sql.NullString
	err := row.Scan(&it.PostmortemID, &it.ID, &it.Position, &it.Title, &it.Description, &it.Owner, &it.Priority,
		&it.Due, &it.Type, &it.Team, &labels, &kind, &scope, &issueType,
		&it.Status, &it.Removed, &it.Sync, &it.LastError, &activity, &created,
		&reason, &it.Stall.Episode, &stalledAt, &it.Stall.Label, &it.NamedTicket,
		&waitingReason, &waitingUntil, &restoredAt,
		&tKind, &tKey, &tURL, &tCreated, &tUpdated, &tAdopted)
	if err != nil {
		return it, err
	}
	_ = json.Unmarshal([]byte(labels), &it.Labels)
	it.Target = ft.ScopeTarget(ft.TrackerKind(kind), scope)
	it.Target.IssueType = issueType
	it.LastActivity = nullableTime(activity)
	it.CreatedAt = parseTime(created)
	it.Stall.Reason = ft.StallReason(reason)
	it.Stall.Since = nullableTime(stalledAt)
	it.RestoredAt = nullableTime(restoredAt)
	if waitingUntil.Valid {
		it.Waiting = &ft.Waiting{Reason: waitingReason, Until: parseTime(waitingUntil.String)}
	}
	if tKey.Valid {
		it.Ticket = &ft.TicketRef{Kind: ft.TrackerKind(tKind.String), Key: tKey.String, URL: tURL.String}
		it.TicketCreated = parseTime(tCreated.String)
		it.TicketUpdated = nullableTime(tUpdated)
		it.TicketAdopted = nullableTime(tAdopted)
	}
	return it, nil
}

func nullableTime(s sql.NullString) time.Time {
	if !s.Valid {
		return time.Time{}
	}
	return parseTime(s.String)
}

// View is the item as the API shows it.
func (it Item) View() ft.ItemView {
	v := ft.ItemView{
		ID: it.ID, Title: it.Title, Description: it.Description, Owner: it.Owner, Priority: it.Priority,
		Labels: it.Labels, Status: it.Status, Sync: it.Sync, Removed: it.Removed, Ticket: it.Ticket,
		Target: it.Target, CreatedAt: it.CreatedAt,
	}
	if it.Due != "" {
		due := it.Due
		v.Due = &due
	}
	if it.Stall.Reason != ft.StallNone && !it.Status.Finished() {
		reason := it.Stall.Reason
		v.Stalled, v.StalledReason = true, &reason
	}
	if it.LastError != "" {
		msg := it.LastError
		v.LastError = &msg
	}
	if !it.LastActivity.IsZero() {
		at := it.LastActivity
		v.LastActivity = &at
	}
	if it.Waiting != nil && it.Sync == ft.SyncPending {
		w := *it.Waiting
		v.Waiting = &w
	}
	return v
}

// loadItems reads the items that where selects (a condition on i), in their postmortems'
// order.
func loadItems(ctx context.Context, q querier, where string, args ...any) ([]Item, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+itemColumns+itemsFrom+` WHERE `+where+itemOrder, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(rows *sql.Rows) (Item, error) { return scanItem(rows) })
}

// LoadItem reads one item and its current ticket.
func (s *Store) LoadItem(ctx context.Context, pmID, itemID string) (Item, error) {
	return loadItem(ctx, s.readDB, pmID, itemID)
}

// LoadItemTx is LoadItem inside a write transaction.
func LoadItemTx(ctx context.Context, tx *Tx, pmID, itemID string) (Item, error) {
	return loadItem(ctx, tx.reader(), pmID, itemID)
}

func loadItem(ctx context.Context, q querier, pmID, itemID string) (Item, error) {
	it, err := scanItem(q.QueryRowContext(ctx, `SELECT `+itemColumns+itemsFrom+
		` WHERE i.postmortem_id = ? AND i.item_id = ?`, pmID, itemID))
	if errors.Is(err, sql.ErrNoRows) {
		return it, fmt.Errorf("item %s/%s: %w", pmID, itemID, ft.ErrNotFound)
	}
	if err != nil {
		return it, fmt.Errorf("read item %s/%s: %w", pmID, itemID, err)
	}
	return it, nil
}

// LoadItemsTx reads every item of a postmortem inside a write transaction, in its order
// (removed items last).
func LoadItemsTx(ctx context.Context, tx *Tx, pmID string) ([]Item, error) {
	items, err := loadItems(ctx, tx.reader(), `i.postmortem_id = ?`, pmID)
	tx.countItemReads(len(items))
	if err != nil {
		return nil, fmt.Errorf("read items of %s: %w", pmID, err)
	}
	return items, nil
}

// insertItems adds new items in the caller's transaction, up to maxRowsPerInsert in one
// statement: with their status and sync (pending unless the change says), accepted now, with
// the figure numbers (figures.go) they take from their postmortem, pm, so that a first intake
// reads nothing back and writes each row once.
func insertItems(ctx context.Context, tx *Tx, items []ItemChange, pm postmortemFigures, now time.Time) error {
	nowText := formatTime(now)
	return insertRows(ctx, tx, `INSERT INTO items (postmortem_id, item_id, position, title, description, owner,
		priority, due, type, team, labels, target_kind, target_scope, target_issue_type, status, removed,
		named_ticket, sync, created_at, updated_at, due_day, created_week, born_finished,
		figure_team, severity, signed_off_unix) VALUES `, 26, len(items), func(i int, args []any) []any {
		r, sync := items[i].Row, items[i].Sync
		if sync == "" {
			sync = ft.SyncPending
		}
		labels, _ := json.Marshal(r.Labels)
		return append(args, r.PostmortemID, r.ID, r.Position, r.Title, r.Description, r.Owner, r.Priority, nullString(r.Due),
			r.Type, r.Team, string(labels), string(r.Target.Kind), r.Target.Scope(), r.Target.IssueType,
			string(r.Status), r.Removed, r.NamedTicket, string(sync), nowText, nowText,
			dueDayOf(r.Due), weekOf(dayNumber(now)), boolInt(r.Status.Finished()),
			pm.teamOf(r), pm.severity, pm.signedOffUnix)
	}, "")
}

// updateItem writes an item's row, all but its status (see SetItemStatus), in the caller's
// transaction, with the figure numbers it takes from its postmortem, pm. An item the row brings
// back (stored removed, not removed now) is restored now: its inactivity counts from no
// earlier. SET reads the row as it was.
func updateItem(ctx context.Context, tx *Tx, r ItemRow, pm postmortemFigures, now time.Time) error {
	labels, _ := json.Marshal(r.Labels)
	nowText := formatTime(now)
	_, err := tx.exec(ctx, `UPDATE items SET position = ?, title = ?, description = ?, owner = ?,
		priority = ?, due = ?, type = ?, team = ?, labels = ?, target_kind = ?, target_scope = ?,
		target_issue_type = ?, removed = ?, named_ticket = ?, updated_at = ?, due_day = ?,
		figure_team = ?, severity = ?, signed_off_unix = ?,
		restored_at = CASE WHEN removed = 1 AND ? = 0 THEN ? ELSE restored_at END
		WHERE postmortem_id = ? AND item_id = ?`,
		r.Position, r.Title, r.Description, r.Owner, r.Priority, nullString(r.Due), r.Type,
		r.Team, string(labels), string(r.Target.Kind), r.Target.Scope(), r.Target.IssueType,
		r.Removed, r.NamedTicket, nowText, dueDayOf(r.Due),
		pm.teamOf(r), pm.severity, pm.signedOffUnix, r.Removed, nowText, r.PostmortemID, r.ID)
	return err
}

// SetItemStatus changes an item's status in the caller's transaction and records the change in
// its history (source: github, jira, api, reconcile or revision; actor may be empty). It
// returns the status before; the same status again changes and records nothing.
func SetItemStatus(ctx context.Context, tx *Tx, pmID, itemID string, to ft.Status, source, actor string, now time.Time) (from ft.Status, err error) {
	err = tx.queryRow(ctx, `SELECT status FROM items WHERE postmortem_id = ? AND item_id = ?`, pmID, itemID).Scan(&from)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("item %s/%s: %w", pmID, itemID, ft.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("set status of %s/%s: %w", pmID, itemID, err)
	}
	if err := setItemStatus(ctx, tx, pmID, itemID, from, to, source, actor, now); err != nil {
		return from, fmt.Errorf("set status of %s/%s: %w", pmID, itemID, err)
	}
	return from, nil
}

// setItemStatus changes an item's status and records it in the history; no change, no record.
// The actor is a tracker's text, made storable.
func setItemStatus(ctx context.Context, tx *Tx, pmID, itemID string, from, to ft.Status, source, actor string, now time.Time) error {
	if from == to {
		return nil
	}
	actor = toStorableText(actor)
	nowText := formatTime(now)
	// A change from unfinished into finished also sets when the item finished (the latest such
	// change; migrations 0009 and 0015), which /insights reads. SET reads the row as it was.
	set, args := `status = ?, updated_at = ?`, []any{string(to), nowText}
	if !from.Finished() && to.Finished() {
		set += `, finished_at = CASE WHEN finished_at > ? THEN finished_at ELSE ? END,
			finished_unix = CASE WHEN finished_at > ? THEN finished_unix ELSE ? END`
		args = append(args, nowText, nowText, nowText, now.Unix())
	}
	if _, err := tx.exec(ctx, `UPDATE items SET `+set+` WHERE postmortem_id = ? AND item_id = ?`,
		append(args, pmID, itemID)...); err != nil {
		return err
	}
	// The change's week and crossing, and the item's numbers the filters select on (figures.go).
	_, err := tx.exec(ctx, `INSERT INTO status_history (postmortem_id, item_id, from_status, to_status, source, actor, at,
		week, crossing, figure_team, severity, signed_off_unix, removed)
		SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, figure_team, severity, signed_off_unix, removed
		FROM items WHERE postmortem_id = ? AND item_id = ?`,
		pmID, itemID, string(from), string(to), source, actor, nowText,
		weekOf(dayNumber(now)), crossing(from, to), pmID, itemID)
	return err
}

// AdvanceActivity moves an item's last activity forward to at (never back) and reports
// whether it moved.
func AdvanceActivity(ctx context.Context, tx *Tx, pmID, itemID string, at time.Time) (bool, error) {
	text := formatTime(at)
	res, err := tx.exec(ctx, `UPDATE items SET last_activity_at = ?
		WHERE postmortem_id = ? AND item_id = ? AND (last_activity_at IS NULL OR last_activity_at < ?)`,
		text, pmID, itemID, text)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// SetItemSync shows an item's sync state, with no error and nothing it waits for.
func SetItemSync(ctx context.Context, tx *Tx, pmID, itemID string, state ft.SyncState, now time.Time) error {
	_, err := tx.exec(ctx, `UPDATE items SET sync = ?, last_error = NULL, waiting_reason = NULL, waiting_until = NULL, updated_at = ?
		WHERE postmortem_id = ? AND item_id = ?`,
		string(state), formatTime(now), pmID, itemID)
	return err
}

// SetItemSyncFailed shows an item as sync: failed with the error in words; it waits no more.
func SetItemSyncFailed(ctx context.Context, tx *Tx, pmID, itemID, errText string, now time.Time) error {
	_, err := tx.exec(ctx, `UPDATE items SET sync = 'failed', last_error = ?, waiting_reason = NULL, waiting_until = NULL, updated_at = ?
		WHERE postmortem_id = ? AND item_id = ?`, errText, formatTime(now), pmID, itemID)
	return err
}

// FailedItems lists the items of a postmortem that show sync: failed, in its order.
func FailedItems(ctx context.Context, tx *Tx, pmID string) ([]string, error) {
	rows, err := tx.query(ctx, `SELECT item_id FROM items WHERE postmortem_id = ? AND sync = 'failed' ORDER BY position, item_id`, pmID)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanString)
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
