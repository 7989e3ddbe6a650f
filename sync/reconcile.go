package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/store"
)

// Defaults for the periodic work when the configuration leaves them unset.
const (
	defaultReconcileEvery = 5 * time.Minute
	defaultStallScanEvery = time.Hour
	// deliveryRetention is how long webhook delivery ids (and processed deliveries) are
	// remembered as seen: longer than the trackers let anyone redeliver (GitHub: 3 days), so a
	// redelivery is still known as one. An older one is applied again, which the older-event
	// rule makes harmless.
	deliveryRetention = 7 * 24 * time.Hour
	// doneJobRetention is how long done outbox jobs stay, to be looked at; claims never read
	// them, so this only bounds the table's size to about a day of work.
	doneJobRetention = 24 * time.Hour
)

// periodic runs the periodic work while this process leads it: one process at a time does it,
// however many share the database, so its tracker calls do not grow with them. A process that
// does not lead waits for the lead, and takes it over when the leader dies.
func (e *Engine) periodic(ctx context.Context) {
	for ctx.Err() == nil {
		leadCtx, resign, err := e.opts.Store.Lead(ctx, e.opts.LeaderEvery)
		if err != nil {
			return // ctx ended
		}
		e.leading.Store(true)
		e.logger.Info("leading the periodic work", slog.String("process", e.owner))
		e.lead(leadCtx)
		e.leading.Store(false)
		resign()
		if ctx.Err() == nil {
			e.logger.Warn("no longer leading the periodic work", slog.String("process", e.owner))
		}
	}
}

// lead reconciles every reconcile.every and scans for stalls every stall.scan_every until ctx
// ends. Each keeps its cadence across all processes together: it runs once its period has
// passed since it last finished on any of them (the store keeps when), so a process that
// takes the lead (at start, or when the leader died) runs at once only the work that is due,
// and a run cut short is run again. A finish time ahead of this process's clock (another
// process's clock was ahead) delays a run by at most one period.
func (e *Engine) lead(ctx context.Context) {
	every := e.opts.Config.Reconcile.Every
	if every <= 0 {
		every = defaultReconcileEvery
	}
	scanEvery := e.opts.Config.Stall.ScanEvery
	if scanEvery <= 0 {
		scanEvery = defaultStallScanEvery
	}
	works := []periodicWork{
		{name: periodicReconcile, every: every, run: func() {
			e.reconcileRuns.Add(1)
			if err := e.Reconcile(ctx); err != nil && ctx.Err() == nil {
				e.logger.Error("reconcile", slog.String("error", err.Error()))
			}
			e.prune(ctx)
		}},
		{name: periodicStall, every: scanEvery, run: func() {
			e.stallRuns.Add(1)
			if err := e.scanStalls(ctx); err != nil && ctx.Err() == nil {
				e.logger.Error("stall scan", slog.String("error", err.Error()))
			}
		}},
	}
	start := e.opts.Clock.Now()
	for i := range works {
		last, err := e.opts.Store.PeriodicFinished(ctx, works[i].name)
		if err != nil && ctx.Err() == nil {
			// Unknown: run it now rather than risk never running it.
			e.logger.Error("read when the periodic work last ran", slog.String("work", works[i].name), slog.String("error", err.Error()))
		}
		works[i].next = last.Add(works[i].every)
		if latest := start.Add(works[i].every); works[i].next.After(latest) {
			works[i].next = latest
		}
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for ctx.Err() == nil {
		now := e.opts.Clock.Now()
		next := works[0].next
		for _, w := range works[1:] {
			if w.next.Before(next) {
				next = w.next
			}
		}
		if wait := next.Sub(now); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			continue
		}
		for i := range works {
			if works[i].next.After(now) {
				continue
			}
			works[i].run()
			if ctx.Err() != nil {
				return // cut short: record nothing, so that the next leader runs it
			}
			finished := e.opts.Clock.Now()
			if err := e.opts.Store.RecordPeriodicFinish(ctx, works[i].name, finished); err != nil && ctx.Err() == nil {
				e.logger.Error("record the end of the periodic work", slog.String("work", works[i].name), slog.String("error", err.Error()))
			}
			works[i].next = finished.Add(works[i].every)
		}
	}
}

// The periodic work's names, as the store keeps when each last finished.
const (
	periodicReconcile = "reconcile"
	periodicStall     = "stall"
)

// periodicWork is one piece of the periodic work: what it is called, how often it runs, what
// it does, and when it runs next.
type periodicWork struct {
	name  string
	every time.Duration
	run   func()
	next  time.Time
}

// Reconcile runs one reconciliation cycle: for every repository or project with linked
// tickets, it asks the tracker for the tickets changed since the newest change it has seen
// there and applies each one's status as an event with source "reconcile" (an event older than
// what is known changes nothing). Its cost grows with the scopes and the changed tickets, not
// with all tickets: GitHub answers an unchanged repository with a 304, Jira with one search
// page per project. A scope that fails does not stop the others; their errors are joined.
func (e *Engine) Reconcile(ctx context.Context) error {
	scopes, err := e.opts.Store.ReconcileScopes(ctx)
	if err != nil {
		return err
	}
	var errs []error
	changed := false
	for _, sc := range scopes {
		tr, ok := e.opts.Trackers[sc.Kind]
		if !ok {
			continue
		}
		n, err := e.reconcileScope(ctx, tr, sc)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs = append(errs, fmt.Errorf("reconcile %s %s: %w", sc.Kind, sc.Scope, err))
			continue
		}
		changed = changed || n > 0
	}
	if changed {
		// Status changes queue outbound events.
		e.wake()
	}
	return errors.Join(errs...)
}

// reconcileScope reconciles one repository or project and returns how many item statuses
// changed.
func (e *Engine) reconcileScope(ctx context.Context, tr ft.Tracker, sc store.ReconcileScope) (int, error) {
	target := ft.ScopeTarget(sc.Kind, sc.Scope)
	since := sc.Since
	if !since.IsZero() {
		// A search index that lags behind (Jira Cloud) may show a change older than the newest
		// one seen only later: look back that far again. Seeing a ticket twice is harmless.
		since = since.Add(-tr.SearchLag())
	}
	tickets, err := tr.ListChanged(ctx, ft.ChangeQuery{Target: target, Since: since})
	if err != nil {
		return 0, err
	}
	if len(tickets) == 0 {
		return 0, nil
	}
	now := e.opts.Clock.Now()
	changed := 0
	err = e.opts.Store.Write(ctx, func(tx *store.Tx) error {
		changed = 0
		newest := sc.Since
		for _, t := range tickets {
			ev := ft.TicketEvent{Ref: t.Ref, Status: t.Status, UpdatedAt: t.UpdatedAt, Marker: t.Marker}
			a, err := e.applyEvent(ctx, tx, ev, ft.SourceReconcile, "", now)
			if err != nil {
				return err
			}
			if a.StatusChanged {
				changed++
				e.logger.Info("item status changed", slog.String("ticket", t.Ref.Key), slog.String("source", ft.SourceReconcile),
					slog.String("postmortem_id", a.PostmortemID), slog.String("item_id", a.ItemID),
					slog.String("from", string(a.From)), slog.String("to", string(a.To)))
			}
			if t.UpdatedAt.After(newest) {
				newest = t.UpdatedAt
			}
		}
		return store.AdvanceReconcileCursor(ctx, tx, sc.Kind, sc.Scope, newest)
	})
	return changed, err
}

// prune forgets delivery ids and processed deliveries after deliveryRetention, and done jobs
// after doneJobRetention.
func (e *Engine) prune(ctx context.Context) {
	now := e.opts.Clock.Now()
	if _, err := e.opts.Store.PruneDeliveries(ctx, now.Add(-deliveryRetention)); err != nil && ctx.Err() == nil {
		e.logger.Error("prune webhook deliveries", slog.String("error", err.Error()))
	}
	if _, err := e.opts.Store.PruneDoneJobs(ctx, now.Add(-doneJobRetention)); err != nil && ctx.Err() == nil {
		e.logger.Error("prune done jobs", slog.String("error", err.Error()))
	}
}
