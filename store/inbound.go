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
// not be used, when it could not ("" when it was applied or was irrelevant). Its body is
// dropped: what it said is applied (or the reason is kept), and the row stays only so long as
// its delivery id is remembered.
func MarkInboundProcessed(ctx context.Context, tx *Tx, id int64, now time.Time, errText string) error {
	_, err := tx.exec(ctx, `UPDATE inbound_events SET processed_at = ?, error = ?, payload = ? WHERE id = ?`,
		formatTime(now), nullString(errText), []byte{}, id)
	return err
}

// pruneChunk bounds the rows one pruning write deletes, so that pruning a long history holds
// the writer for milliseconds at a time, never for the whole history at once.
const pruneChunk = 2000

// PruneDeliveries forgets webhook delivery ids and processed inbound events received before
// before; it returns how many rows went. A redelivery older than that is applied again, which
// the older-event rule makes harmless.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) (int64, error) {
	cut := formatTime(before)
	ids, err := s.pruneInChunks(ctx, `DELETE FROM webhook_deliveries WHERE (source, delivery_id) IN (
		SELECT source, delivery_id FROM webhook_deliveries WHERE received_at < ? LIMIT ?)`, cut)
	if err != nil {
		return ids, fmt.Errorf("prune webhook deliveries: %w", err)
	}
	events, err := s.pruneInChunks(ctx, `DELETE FROM inbound_events WHERE id IN (
		SELECT id FROM inbound_events WHERE processed_at IS NOT NULL AND received_at < ? LIMIT ?)`, cut)
	if err != nil {
		return ids + events, fmt.Errorf("prune inbound events: %w", err)
	}
	return ids + events, nil
}

// PruneDoneJobs deletes the outbox jobs done before before (given-up jobs stay, for retry) and
// returns how many went. Claims never read done jobs; this keeps the table itself to recent work.
func (s *Store) PruneDoneJobs(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.pruneInChunks(ctx, `DELETE FROM outbox WHERE id IN (
		SELECT id FROM outbox WHERE done_at IS NOT NULL AND done_at < ? LIMIT ?)`, formatTime(before))
	if err != nil {
		return n, fmt.Errorf("prune done jobs: %w", err)
	}
	return n, nil
}

// pruneInChunks runs query (arguments: the cut and the chunk size) in separate writes until a
// write deletes less than a chunk.
func (s *Store) pruneInChunks(ctx context.Context, query, cut string) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.Write(ctx, func(tx *Tx) error {
			res, err := tx.exec(ctx, query, cut, pruneChunk)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		total += n
		if err != nil || n < pruneChunk {
			return total, err
		}
	}
}

// InboundStats is what webhook deliveries leave in the database, for tests and benchmarks.
type InboundStats struct {
	Deliveries   int   // delivery ids remembered
	Events       int   // stored deliveries
	Unprocessed  int   // stored deliveries not processed yet
	PayloadBytes int64 // bytes of the stored bodies
	WebhookJobs  int   // process_webhook jobs not finished
}

// InboundStats counts what webhook deliveries left behind.
func (s *Store) InboundStats(ctx context.Context) (InboundStats, error) {
	var st InboundStats
	err := s.readDB.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM webhook_deliveries),
		(SELECT COUNT(*) FROM inbound_events),
		(SELECT COUNT(*) FROM inbound_events WHERE processed_at IS NULL),
		(SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM inbound_events),
		(SELECT COUNT(*) FROM outbox WHERE kind = 'process_webhook' AND done_at IS NULL AND failed_at IS NULL)`).
		Scan(&st.Deliveries, &st.Events, &st.Unprocessed, &st.PayloadBytes, &st.WebhookJobs)
	if err != nil {
		return st, fmt.Errorf("count webhook deliveries: %w", err)
	}
	return st, nil
}
