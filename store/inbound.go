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
