package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	ft "github.com/followthrough/followthrough"
)

// RecordDelivery remembers a tracker webhook delivery by source ("github" or "jira") and id,
// in the caller's transaction. duplicate is true, and nothing is written, when the delivery
// was recorded before.
func RecordDelivery(ctx context.Context, tx *Tx, source, deliveryID string, now time.Time) (duplicate bool, err error) {
	res, err := tx.exec(ctx, `INSERT INTO webhook_deliveries (source, delivery_id, received_at) VALUES (?, ?, ?)
		ON CONFLICT (source, delivery_id) DO NOTHING`, source, deliveryID, formatTime(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 0, err
}

// InsertInboundEvent stores a delivery's body (ID, ProcessedAt and Error are not read) in the
// caller's transaction and returns its id.
func InsertInboundEvent(ctx context.Context, tx *Tx, ev InboundEvent) (int64, error) {
	var id int64
	err := tx.queryRow(ctx, `INSERT INTO inbound_events (source, delivery_id, event, payload, received_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`, ev.Source, ev.DeliveryID, ev.Event, ev.Payload, formatTime(ev.ReceivedAt)).Scan(&id)
	return id, err
}

// InboundEvent is one tracker webhook delivery as it was stored.
type InboundEvent struct {
	ID          int64
	Source      string // github, jira
	DeliveryID  string
	Event       string // X-GitHub-Event or Jira's webhookEvent
	Payload     []byte
	ReceivedAt  time.Time
	ProcessedAt time.Time // zero until processed
	Error       string    // why processing gave up, when it did
}

// InboundEvent reads one stored webhook delivery.
func (s *Store) InboundEvent(ctx context.Context, id int64) (InboundEvent, error) {
	ev := InboundEvent{ID: id}
	var received string
	var processed, errText sql.NullString
	err := s.readDB.QueryRowContext(ctx, `SELECT source, delivery_id, event, payload, received_at, processed_at, error
		FROM inbound_events WHERE id = ?`, id).Scan(&ev.Source, &ev.DeliveryID, &ev.Event, &ev.Payload, &received,
		&processed, &errText)
	if errors.Is(err, sql.ErrNoRows) {
		return ev, fmt.Errorf("inbound event %d: %w", id, ft.ErrNotFound)
	}
	if err != nil {
		return ev, fmt.Errorf("read inbound event %d: %w", id, err)
	}
	ev.ReceivedAt = parseTime(received)
	if processed.Valid {
		ev.ProcessedAt = parseTime(processed.String)
	}
	ev.Error = errText.String
	return ev, nil
}

// MarkInboundProcessed records that an inbound event was dealt with; errText says why it could
// not be used, when it could not ("" when it was applied or was irrelevant).
func MarkInboundProcessed(ctx context.Context, tx *Tx, id int64, now time.Time, errText string) error {
	_, err := tx.exec(ctx, `UPDATE inbound_events SET processed_at = ?, error = ? WHERE id = ?`,
		formatTime(now), nullString(errText), id)
	return err
}

// PruneInbound forgets webhook delivery ids, processed inbound events and finished outbox
// jobs from before before. A redelivery older than that is applied again, which the
// older-event rule makes harmless; given-up jobs stay, for retry.
func (s *Store) PruneInbound(ctx context.Context, before time.Time) error {
	return s.Write(ctx, func(tx *Tx) error {
		cut := formatTime(before)
		if _, err := tx.exec(ctx, `DELETE FROM webhook_deliveries WHERE received_at < ?`, cut); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM inbound_events WHERE processed_at IS NOT NULL AND received_at < ?`, cut); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `DELETE FROM outbox WHERE done_at IS NOT NULL AND done_at < ?`, cut)
		return err
	})
}

// Applied says what ApplyTicketEvent did with an event.
type Applied struct {
	// Ignored is why the event changed nothing at all ("" when it was applied): the ticket is
	// not one of ours, the event is older than what is known, or the ticket was deleted.
	Ignored      string
	PostmortemID string
	ItemID       string
	// StatusChanged is set when the item took the ticket's status: From -> To.
	StatusChanged bool
	From, To      ft.Status
	// Deleted is set when this event told us the ticket is gone.
	Deleted bool
	// Activity is set when the event moved the item's last activity time.
	Activity bool
}

// Reasons an event is ignored.
const (
	IgnoredNotOurs = "not a ticket followthrough created"
	IgnoredOlder   = "older than what is known about the ticket"
	IgnoredDeleted = "the ticket was deleted"
)

// ApplyTicketEvent applies what a tracker says about one ticket (a webhook or a reconcile) in
// the caller's transaction, by these rules:
//
//   - a ticket that followthrough did not create is ignored;
//   - an event strictly older (by the tracker's updated time) than the last one applied to the
//     ticket is ignored; otherwise the ticket's known updated time moves forward;
//   - a deletion marks the ticket deleted and, when it is the item's current ticket, the item
//     sync: failed with a last_error that says how to get a new one; nothing is re-created;
//   - a status that differs from the item's becomes the item's status (with history: source,
//     actor), when the ticket is the item's current one, the item was not removed, the event
//     is not followthrough's own change coming back (actor == self), and no change of ours is
//     still waiting to be pushed to the ticket (that push wins: it is the newer intent);
//   - people's activity (ev.Activity by anyone but self, or a status change) moves the item's
//     last activity time forward to the event's time.
//
// The caller queues the outbound event and re-evaluates the postmortem when the result says
// so (sync does both in the same transaction).
func ApplyTicketEvent(ctx context.Context, tx *Tx, ev ft.TicketEvent, source, self string, now time.Time) (Applied, error) {
	var a Applied
	var ticketID int64
	var current, removed bool
	var status ft.Status
	var known, deleted sql.NullString
	row := func(cond string, args ...any) error {
		return tx.queryRow(ctx, `SELECT t.id, t.postmortem_id, t.item_id, t.current, t.tracker_updated_at, t.deleted_at,
			i.status, i.removed
			FROM tickets t JOIN items i ON i.postmortem_id = t.postmortem_id AND i.item_id = t.item_id
			WHERE `+cond, args...).Scan(&ticketID, &a.PostmortemID, &a.ItemID, &current, &known, &deleted, &status, &removed)
	}
	err := row(`t.kind = ? AND t.key = ?`, string(ev.Ref.Kind), ev.Ref.Key)
	if errors.Is(err, sql.ErrNoRows) && ev.Ref.Kind == ft.GitHub {
		// GitHub names are case-insensitive; a webhook carries the canonical spelling, which may
		// differ from the configured one.
		err = row(`t.kind = ? AND t.key = ? COLLATE NOCASE`, string(ev.Ref.Kind), ev.Ref.Key)
	}
	if errors.Is(err, sql.ErrNoRows) {
		a.Ignored = IgnoredNotOurs
		return a, nil
	}
	if err != nil {
		return a, fmt.Errorf("apply event for %s: %w", ev.Ref.Key, err)
	}
	if deleted.Valid {
		a.Ignored = IgnoredDeleted
		return a, nil
	}
	// A deletion is final whatever its time says.
	if !ev.Deleted && known.Valid && !ev.UpdatedAt.IsZero() && ev.UpdatedAt.Before(parseTime(known.String)) {
		a.Ignored = IgnoredOlder
		return a, nil
	}
	at := ev.UpdatedAt
	if at.IsZero() {
		at = now
	}
	atText := formatTime(at)
	if !ev.UpdatedAt.IsZero() {
		if _, err := tx.exec(ctx, `UPDATE tickets SET tracker_updated_at = ?
			WHERE id = ? AND (tracker_updated_at IS NULL OR tracker_updated_at < ?)`, atText, ticketID, atText); err != nil {
			return a, fmt.Errorf("apply event for %s: %w", ev.Ref.Key, err)
		}
	}
	if ev.Deleted {
		a.Deleted = true
		if _, err := tx.exec(ctx, `UPDATE tickets SET deleted_at = ? WHERE id = ?`, formatTime(now), ticketID); err != nil {
			return a, fmt.Errorf("apply deletion of %s: %w", ev.Ref.Key, err)
		}
		if current {
			msg := fmt.Sprintf("%s ticket %s was deleted; POST /v1/postmortems/%s/retry makes a new one",
				ev.Ref.Kind, ev.Ref.Key, a.PostmortemID)
			if err := SetItemSyncFailed(ctx, tx, a.PostmortemID, a.ItemID, msg, now); err != nil {
				return a, fmt.Errorf("apply deletion of %s: %w", ev.Ref.Key, err)
			}
		}
		return a, nil
	}
	if !current || removed {
		return a, nil
	}
	ours := self != "" && ev.Actor == self
	if ev.Status.Valid() && ev.Status != status && !ours {
		pending, err := statusPushPending(ctx, tx, a.PostmortemID, a.ItemID)
		if err != nil {
			return a, fmt.Errorf("apply event for %s: %w", ev.Ref.Key, err)
		}
		if !pending {
			if err := setItemStatus(ctx, tx, a.PostmortemID, a.ItemID, status, ev.Status, source, ev.Actor, now); err != nil {
				return a, fmt.Errorf("apply status of %s: %w", ev.Ref.Key, err)
			}
			a.StatusChanged, a.From, a.To = true, status, ev.Status
		}
	}
	if (ev.Activity && !ours) || a.StatusChanged {
		res, err := tx.exec(ctx, `UPDATE items SET last_activity_at = ?
			WHERE postmortem_id = ? AND item_id = ? AND (last_activity_at IS NULL OR last_activity_at < ?)`,
			atText, a.PostmortemID, a.ItemID, atText)
		if err != nil {
			return a, fmt.Errorf("apply activity on %s: %w", ev.Ref.Key, err)
		}
		n, _ := res.RowsAffected()
		a.Activity = n > 0
	}
	return a, nil
}

// statusPushPending reports whether a change of the item's status made on followthrough's
// side is still waiting to reach the ticket.
func statusPushPending(ctx context.Context, tx *Tx, pmID, itemID string) (bool, error) {
	var pending bool
	err := tx.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE postmortem_id = ? AND item_id = ?
		AND done_at IS NULL AND failed_at IS NULL AND kind IN (?, ?, ?))`,
		pmID, itemID, JobSetStatus, JobReopenTicket, JobCloseRemoved).Scan(&pending)
	return pending, err
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

// TicketDeleted reports whether the tracker told us the ticket was deleted.
func TicketDeleted(ctx context.Context, tx *Tx, ref ft.TicketRef) (bool, error) {
	var deleted sql.NullString
	err := tx.queryRow(ctx, `SELECT deleted_at FROM tickets WHERE kind = ? AND key = ?`, string(ref.Kind), ref.Key).Scan(&deleted)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return deleted.Valid, err
}

// RetryFailed tries every item of the postmortem with sync: failed again: its given-up jobs are
// queued again as they were (a create that was in flight still looks for its marker first),
// an item whose ticket was deleted stops pointing to it and gets a create job for a new one,
// and the item shows sync: pending (linked, when its ticket exists). It returns how many items
// it retried.
func (s *Store) RetryFailed(ctx context.Context, pmID string, now time.Time) (int, error) {
	n := 0
	err := s.Write(ctx, func(tx *Tx) error {
		n = 0
		var exists bool
		if err := tx.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM postmortems WHERE id = ?)`, pmID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("postmortem %s: %w", pmID, ft.ErrNotFound)
		}
		rows, err := tx.query(ctx, `SELECT item_id FROM items WHERE postmortem_id = ? AND sync = 'failed' ORDER BY position, item_id`, pmID)
		if err != nil {
			return err
		}
		failed, err := collect(rows, scanString)
		if err != nil {
			return err
		}
		for _, itemID := range failed {
			if err := retryItem(ctx, tx, pmID, itemID, now); err != nil {
				return fmt.Errorf("retry %s/%s: %w", pmID, itemID, err)
			}
			n++
		}
		return nil
	})
	if errors.Is(err, ft.ErrNotFound) {
		return 0, err
	}
	if err != nil {
		return 0, fmt.Errorf("retry %s: %w", pmID, err)
	}
	return n, nil
}

func retryItem(ctx context.Context, tx *Tx, pmID, itemID string, now time.Time) error {
	nowText := formatTime(now)
	// A deleted ticket stays in the table (one ticket never belongs to two items) but is no
	// longer the item's: the create below makes a new one.
	if _, err := tx.exec(ctx, `UPDATE tickets SET current = 0
		WHERE postmortem_id = ? AND item_id = ? AND current = 1 AND deleted_at IS NOT NULL`, pmID, itemID); err != nil {
		return err
	}
	// Given-up tracker jobs run again, in their original order (they keep their ids).
	if _, err := tx.exec(ctx, `UPDATE outbox SET failed_at = NULL, attempts = 0, next_attempt_at = ?, last_error = NULL,
		lease_owner = NULL, lease_until = NULL
		WHERE postmortem_id = ? AND item_id = ? AND tracker != '' AND failed_at IS NOT NULL`, nowText, pmID, itemID); err != nil {
		return err
	}
	it, err := LoadItemTx(ctx, tx, pmID, itemID)
	if err != nil {
		return err
	}
	if it.Ticket == nil && !it.Removed {
		var queued bool
		if err := tx.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE postmortem_id = ? AND item_id = ?
			AND done_at IS NULL AND failed_at IS NULL AND kind IN (?, ?))`, pmID, itemID, JobCreateTicket, JobMoveTicket).Scan(&queued); err != nil {
			return err
		}
		if !queued {
			if err := enqueue(ctx, tx, Job{Kind: JobCreateTicket, PostmortemID: pmID, ItemID: itemID,
				Tracker: string(it.Target.Kind)}, now); err != nil {
				return err
			}
		}
	}
	syncState := ft.SyncPending
	if it.Ticket != nil {
		syncState = ft.SyncLinked
	}
	_, err = tx.exec(ctx, `UPDATE items SET sync = ?, last_error = NULL, updated_at = ? WHERE postmortem_id = ? AND item_id = ?`,
		string(syncState), nowText, pmID, itemID)
	return err
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
