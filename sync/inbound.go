package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/store"
)

// webhookJob is the payload of a process_webhook job.
type webhookJob struct {
	EventID int64 `json:"inbound_event_id"`
}

// RecordWebhook persists one verified tracker webhook delivery before it is acknowledged. The
// tracker's connector reads it first, outside the writer; then, in one transaction of the group
// commit, its (source, deliveryID) is remembered and, only when it is about a ticket
// followthrough follows, it is applied. An organisation's webhook sends every issue event of
// every repository: the others leave the delivery id behind and nothing else. ignored says why
// the delivery was not stored ("" when it was): a delivery id seen before (nothing is
// written), an event the tracker does not use, a body it cannot read, or a ticket not
// followed. The web handler calls it after checking the signature, and answers 200 once it
// returns without error.
//
// On SQLite, a delivery about a followed ticket is applied in that same transaction (its
// status, the postmortem's evaluation and the work that follows), so it is never a second
// write: when followthrough already knows its own identity in the tracker (to tell its own
// changes from people's) and nothing of that ticket's is queued ahead of it. Otherwise (and
// always on PostgreSQL), or when applying it fails (what it wrote is undone, in the same
// transaction), its body is stored as an inbound event with a job that applies it later. The
// webhook jobs of one ticket share one ordering key (item "webhook:<source>:<ticket key>"),
// so a ticket's events are applied in the order they arrived while other tickets' run beside
// them.
// A delivery for a tracker this engine does not run is stored under "webhook:<source>", for
// the worker to decide.
//
// source is "github" or "jira". deliveryID is GitHub's X-GitHub-Delivery, or Jira's
// X-Atlassian-Webhook-Identifier (the web handler identifies a Jira delivery without one by
// its body). event is GitHub's X-GitHub-Event, or Jira's webhookEvent.
func (e *Engine) RecordWebhook(ctx context.Context, source, deliveryID, event string, payload []byte) (ignored string, err error) {
	if source == "" || deliveryID == "" {
		return "", errors.New("record webhook: no source or delivery id")
	}
	self, applyNow := e.knownSelf(ft.TrackerKind(source))
	// On PostgreSQL, writes that touch the same postmortem abort each other and run again, so
	// there the answer waits only for the small write that records the delivery, and the
	// worker applies it: measured with ftload, 207 deliveries/s accepted instead of 70, and
	// applied at the same rate either way. SQLite's one writer runs every write in turn.
	applyNow = applyNow && e.opts.Store.Dialect() == store.SQLite
	ev, ignoredBefore := e.readWebhook(source, deliveryID, event, payload)
	now := e.opts.Clock.Now()
	var a applied
	var appliedNow bool
	err = e.opts.Store.Write(ctx, func(tx *store.Tx) error {
		a, appliedNow, ignored = applied{}, false, ""
		duplicate, err := store.RecordDelivery(ctx, tx, source, deliveryID, now)
		if err != nil {
			return err
		}
		if duplicate {
			ignored = ft.WebhookDuplicate
			return nil
		}
		if ignoredBefore != "" {
			ignored = ignoredBefore
			return nil
		}
		itemKey := "webhook:" + source
		if ev.Ref.Kind != "" {
			t, ok, err := store.FindTicket(ctx, tx, ev.Ref, ev.Ref.FoldsCase())
			if err != nil {
				return err
			}
			if !ok || t.Deleted {
				ignored = ft.WebhookNotFollowed
				return nil
			}
			itemKey += ":" + t.Ref.Key
			if applyNow {
				var err error
				if a, appliedNow, err = e.applyAtReceipt(ctx, tx, t, ev, itemKey, source, deliveryID, self, now); err != nil || appliedNow {
					return err
				}
			}
		}
		id, err := store.InsertInboundEvent(ctx, tx, store.InboundEvent{Source: source, DeliveryID: deliveryID,
			Event: event, Payload: payload, ReceivedAt: now})
		if err != nil {
			return err
		}
		body, _ := json.Marshal(webhookJob{EventID: id})
		return store.Enqueue(ctx, tx, store.Job{Kind: jobProcessWebhook, ItemID: itemKey, Payload: body}, now)
	})
	if err != nil {
		return "", fmt.Errorf("record %s webhook %s: %w", source, deliveryID, err)
	}
	if appliedNow {
		logApplied(e.logger.With(slog.String("source", source), slog.String("delivery_id", deliveryID),
			slog.String("event", event)), ev, a)
	}
	if ignored == "" {
		e.wake()
	}
	return ignored, nil
}

// applyAtReceipt applies, in RecordWebhook's transaction, the delivery ev about the followed
// ticket t, when nothing of that ticket's is queued ahead of it (itemKey is the ordering key of
// its webhook jobs). When applying fails, what it wrote is undone and done is false, for the
// delivery to be stored for its job in the same transaction, so that the ticket's next
// delivery queues behind it and their order holds. err is a failure of the transaction.
func (e *Engine) applyAtReceipt(ctx context.Context, tx *store.Tx, t store.TicketRecord, ev ft.TicketEvent,
	itemKey, source, deliveryID, self string, now time.Time) (a applied, done bool, err error) {
	queued, err := store.HasUnfinishedJob(ctx, tx, "", itemKey, jobProcessWebhook)
	if err != nil || queued {
		return applied{}, false, err
	}
	failed, err := store.Attempt(ctx, tx, func() error {
		var err error
		if a, err = applyToTicket(ctx, tx, t, ev, source, self, now); err != nil {
			return err
		}
		a, err = e.followApplied(ctx, tx, a, source, now)
		return err
	})
	if err != nil {
		return applied{}, false, err
	}
	if failed != nil {
		e.logger.Warn("webhook not applied at receipt; queued", slog.String("source", source),
			slog.String("delivery_id", deliveryID), slog.String("error", failed.Error()))
		return applied{}, false, nil
	}
	return a, true, nil
}

// readWebhook reads a delivery with its tracker's connector: the ticket event, or why it is
// not stored. Both are empty for a tracker this engine does not run.
func (e *Engine) readWebhook(source, deliveryID, event string, payload []byte) (ev ft.TicketEvent, ignored string) {
	tr, ok := e.opts.Trackers[ft.TrackerKind(source)]
	if !ok {
		return ft.TicketEvent{}, ""
	}
	ev, relevant, err := tr.ParseWebhook(event, payload)
	switch {
	case err != nil:
		e.logger.Warn("webhook unreadable", slog.String("source", source), slog.String("delivery_id", deliveryID),
			slog.String("event", event), slog.String("error", err.Error()))
		return ft.TicketEvent{}, ft.WebhookUnreadable
	case !relevant:
		return ft.TicketEvent{}, ft.WebhookNotUsed
	}
	return ev, ""
}

// webhookEventID is the inbound event a process_webhook job is about.
func webhookEventID(j store.Job) (int64, error) {
	var p webhookJob
	if err := json.Unmarshal(j.Payload, &p); err != nil || p.EventID == 0 {
		return 0, fmt.Errorf("webhook job %d: no inbound event id in its payload", j.ID)
	}
	return p.EventID, nil
}

// processWebhook applies one stored tracker webhook delivery, read by its tracker's connector.
// Deliveries that cannot be read, are not relevant, or come from a tracker that is not
// configured are marked processed (with the reason) and never retried; only a failure to learn
// our own identity in the tracker is, since without it our own changes would count as people's
// activity.
func (e *Engine) processWebhook(ctx context.Context, job store.Job) error {
	id, err := webhookEventID(job)
	if err != nil {
		e.logger.Warn("webhook job without event", slog.Int64("job_id", job.ID), slog.String("error", err.Error()))
		return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil)
	}
	in, err := e.opts.Store.InboundEvent(ctx, id)
	if errors.Is(err, ft.ErrNotFound) {
		return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil)
	}
	if err != nil {
		return err
	}
	if !in.ProcessedAt.IsZero() {
		return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil)
	}
	log := e.logger.With(slog.Int64("inbound_event_id", in.ID), slog.String("source", in.Source),
		slog.String("delivery_id", in.DeliveryID), slog.String("event", in.Event))
	finish := func(reason string) error {
		return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), func(tx *store.Tx) error {
			return store.MarkInboundProcessed(ctx, tx, in.ID, e.opts.Clock.Now(), reason)
		})
	}
	tr, ok := e.opts.Trackers[ft.TrackerKind(in.Source)]
	if !ok {
		return finish(fmt.Sprintf("%s is not configured", in.Source))
	}
	ev, relevant, err := tr.ParseWebhook(in.Event, in.Payload)
	if err != nil {
		log.Warn("webhook unreadable", slog.String("error", err.Error()))
		return finish(err.Error())
	}
	if !relevant {
		return finish("")
	}
	self, err := e.selfOf(ctx, ev.Ref.Kind)
	if err != nil {
		return fmt.Errorf("webhook %d: learn our own %s identity: %w", in.ID, ev.Ref.Kind, err)
	}
	now := e.opts.Clock.Now()
	var a applied
	err = e.opts.Store.CompleteJob(ctx, job.ID, now, func(tx *store.Tx) error {
		var err error
		if a, err = e.applyEvent(ctx, tx, ev, in.Source, self, now); err != nil {
			return err
		}
		return store.MarkInboundProcessed(ctx, tx, in.ID, now, "")
	})
	if err != nil {
		return err
	}
	logApplied(log, ev, a)
	return nil
}

// applyEvent applies a ticket event in the caller's transaction and does what follows from it
// there too: item.status_changed to the notify URLs, and the postmortem's state re-evaluated.
func (e *Engine) applyEvent(ctx context.Context, tx *store.Tx, ev ft.TicketEvent, source, self string, now time.Time) (applied, error) {
	a, err := applyTicketEvent(ctx, tx, ev, source, self, now)
	if err != nil {
		return a, err
	}
	return e.followApplied(ctx, tx, a, source, now)
}

// followApplied does, in the caller's transaction, what follows from a ticket event applied
// (a, from applyTicketEvent or applyToTicket): item.status_changed to the notify URLs, and the
// postmortem evaluated.
func (e *Engine) followApplied(ctx context.Context, tx *store.Tx, a applied, source string, now time.Time) (applied, error) {
	if a.Ignored != "" {
		return a, nil
	}
	if a.StatusChanged || a.Activity || a.Deleted {
		var changes []itemStatusChange
		if a.StatusChanged {
			changes = append(changes, itemStatusChange{ItemID: a.ItemID, Change: StatusChange{From: a.From, To: a.To, Source: source}})
		}
		if _, err := e.evaluate(ctx, tx, a.PostmortemID, now, changes...); err != nil {
			return a, err
		}
	}
	return a, nil
}

func logApplied(log *slog.Logger, ev ft.TicketEvent, a applied) {
	attrs := []any{slog.String("ticket", ev.Ref.Key)}
	switch {
	case a.Ignored != "":
		log.Debug("ticket event ignored", append(attrs, slog.String("reason", a.Ignored))...)
	case a.Deleted:
		log.Warn("ticket deleted", append(attrs, slog.String("postmortem_id", a.PostmortemID), slog.String("item_id", a.ItemID))...)
	case a.StatusChanged:
		log.Info("item status changed", append(attrs, slog.String("postmortem_id", a.PostmortemID),
			slog.String("item_id", a.ItemID), slog.String("from", string(a.From)), slog.String("to", string(a.To)))...)
	}
}
