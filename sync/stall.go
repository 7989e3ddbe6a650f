package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/store"
)

// commentJob is the payload of a comment job: a stall comment on an item's ticket, written
// when the job runs, or a given text on the postmortem's own ticket.
type commentJob struct {
	Stall  *stallComment `json:"stall,omitempty"`
	Ticket *ft.TicketRef `json:"ticket,omitempty"`
	Body   string        `json:"body,omitempty"`
}

// stallComment says why an item stalled, as decided when it stalled.
type stallComment struct {
	Episode       int            `json:"episode"`
	Reason        ft.StallReason `json:"reason"`
	Due           string         `json:"due,omitempty"` // overdue: the due date
	DueDefaulted  bool           `json:"due_defaulted,omitempty"`
	InactiveSince time.Time      `json:"inactive_since,omitzero"` // inactive: the last activity
}

// labelJob is the payload of a label job on an item's ticket.
type labelJob struct {
	Label   string `json:"label"`
	Add     bool   `json:"add"`
	Episode int    `json:"episode"`
}

// ScanStalls evaluates every postmortem that is not completed at the engine clock's now, one
// small transaction each, so that items stall (and the postmortems reopen) as time passes
// without any event. It returns how many postmortems changed state.
func (e *Engine) ScanStalls(ctx context.Context) (int, error) {
	ids, err := e.opts.Store.PostmortemsToScan(ctx)
	if err != nil {
		return 0, err
	}
	changed := 0
	for _, id := range ids {
		if ctx.Err() != nil {
			return changed, ctx.Err()
		}
		now := e.opts.Clock.Now()
		var change stateChange
		err := e.opts.Store.Write(ctx, func(tx *store.Tx) error {
			var err error
			change, err = e.evaluate(ctx, tx, id, now)
			return err
		})
		if err != nil {
			return changed, fmt.Errorf("stall scan: %w", err)
		}
		if change.Changed() {
			changed++
			e.logger.Info("postmortem state changed", slog.String("postmortem_id", id),
				slog.String("from", string(change.From)), slog.String("to", string(change.To)),
				slog.Int("reopened_count", change.ReopenedCount))
		}
	}
	e.wake()
	e.scans.Add(1)
	return changed, nil
}

// scanStalls is one periodic stall scan (the periodic loop logs its error; the next scan tries
// again).
func (e *Engine) scanStalls(ctx context.Context) error {
	_, err := e.ScanStalls(ctx)
	return err
}

// comment runs a comment job.
func (e *Engine) comment(ctx context.Context, job store.Job) error {
	var p commentJob
	if err := json.Unmarshal(job.Payload, &p); err != nil {
		return final(fmt.Errorf("comment: bad payload: %w", err))
	}
	if p.Stall != nil {
		return e.stallComment(ctx, job, *p.Stall)
	}
	if p.Ticket == nil || p.Body == "" {
		return final(fmt.Errorf("comment: payload names no ticket or text"))
	}
	tr, err := e.tracker(p.Ticket.Kind)
	if err != nil {
		return err
	}
	if err := e.postComment(ctx, job, tr, p.Ticket.Key, p.Body); err != nil {
		return err
	}
	return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil)
}

// commentID is the id of the one comment a job writes (ft.Tracker.Comment), the same on every
// retry of the job, so that a retry after a lost answer does not post it twice. The job's id
// alone could come back: SQLite reuses the highest rowid once done jobs are pruned, so its
// creation time goes with it.
// postComment writes a job's one comment. The tracker skips a comment whose id it already has;
// a comment whose outcome is unknown (no answer, or a gateway's 502/504) may still land after
// that check, so the job waits the tracker's settle time before it asks again, as creates do.
// One the tracker answered, or that our own pacing never sent, is tried again without waiting.
func (e *Engine) postComment(ctx context.Context, job store.Job, tr ft.Tracker, key, body string) error {
	now := e.opts.Clock.Now()
	if job.InFlight() {
		if waited := now.Sub(job.InFlightSince()); waited < tr.SettleTime() {
			return errRetryLater{after: tr.SettleTime() - waited, reason: "waiting for a comment whose answer was lost to show before writing it again"}
		}
	}
	target := ft.Target{Kind: tr.Kind()}
	if err := e.opts.Store.MarkInFlight(ctx, job.ID, now, target); err != nil {
		return err
	}
	// No attempt can have posted before the job was queued; the minute allows for the tracker's
	// clock being behind ours.
	var since time.Time
	if !job.CreatedAt.IsZero() {
		since = job.CreatedAt.Add(-time.Minute)
	}
	err := tr.Comment(ctx, key, commentID(job), body, since)
	if err == nil {
		return nil
	}
	var te *ft.TrackerError
	answered := errors.As(err, &te) && te.StatusCode != 0 && te.StatusCode != http.StatusBadGateway && te.StatusCode != http.StatusGatewayTimeout
	if answered || ft.Refused(err) {
		// Not written: the tracker answered so, or the call was never sent (our own pacing).
		return errors.Join(err, e.opts.Store.Write(ctx, func(tx *store.Tx) error { return store.ClearInFlight(ctx, tx, job.ID) }))
	}
	// The wait counts from when we stopped listening.
	return errors.Join(err, e.opts.Store.MarkInFlight(ctx, job.ID, e.opts.Clock.Now(), target))
}

func commentID(job store.Job) string {
	if job.CreatedAt.IsZero() {
		return fmt.Sprintf("followthrough-comment:%d", job.ID)
	}
	return fmt.Sprintf("followthrough-comment:%d-%d", job.ID, job.CreatedAt.UnixMilli())
}

// stallComment writes the one comment of a stall on the item's ticket, unless the stall ended
// before the job ran: only stalled tickets get stall comments.
func (e *Engine) stallComment(ctx context.Context, job store.Job, c stallComment) error {
	current, err := e.opts.Store.LoadItem(ctx, job.PostmortemID, job.ItemID)
	if err != nil {
		return err
	}
	if st := current.Stall; st.Reason == ft.StallNone || st.Episode != c.Episode {
		e.logger.Info("stall ended before its comment", slog.String("postmortem_id", job.PostmortemID),
			slog.String("item_id", job.ItemID), slog.Int("episode", c.Episode))
		return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil)
	}
	item, tr, err := e.itemTicket(ctx, job)
	if err != nil || tr == nil {
		return err
	}
	pm, err := e.opts.Store.PostmortemHead(ctx, job.PostmortemID)
	if err != nil {
		return err
	}
	if err := e.postComment(ctx, job, tr, item.Ticket.Key, e.stallCommentBody(pm, item, tr.Mention(item.Owner), c)); err != nil {
		return err
	}
	return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil)
}

// label runs a label job on the item's current ticket.
func (e *Engine) label(ctx context.Context, job store.Job) error {
	var p labelJob
	if err := json.Unmarshal(job.Payload, &p); err != nil || p.Label == "" {
		return final(fmt.Errorf("label: bad payload: %w", err))
	}
	item, tr, err := e.itemTicket(ctx, job)
	if err != nil || tr == nil {
		return err
	}
	if p.Add {
		err = tr.AddLabel(ctx, item.Ticket.Key, p.Label)
	} else {
		err = tr.RemoveLabel(ctx, item.Ticket.Key, p.Label)
	}
	if err != nil {
		return err
	}
	return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil)
}

// stallCommentBody says why the item stalled, to its assignee (mention names the owner as
// the ticket's tracker does, so that they are notified), with the postmortem's page.
func (e *Engine) stallCommentBody(pm store.PostmortemRecord, item store.Item, mention string, c stallComment) string {
	cfg := e.opts.Config
	var b strings.Builder
	b.WriteString(mention)
	b.WriteString(" this action item has stalled: ")
	state := "still open"
	if item.Status == ft.StatusInProgress {
		state = "still in progress"
	}
	switch c.Reason {
	case ft.StallOverdue:
		fmt.Fprintf(&b, "it was due on %s and is %s.", c.Due, state)
		if c.DueDefaulted {
			fmt.Fprintf(&b, " (It has no due date of its own; %s items are due %s after the postmortem's sign-off.)",
				item.Priority, days(cfg.Stall.Policy().DefaultDueFor(item.Priority)))
		}
	default:
		fmt.Fprintf(&b, "there has been no activity on it since %s (%s items stall after %s without activity).",
			c.InactiveSince.UTC().Format(time.DateOnly), item.Priority, days(cfg.Stall.Policy().InactiveAfterFor(item.Priority)))
	}
	fmt.Fprintf(&b, "\n\nPostmortem %s %q is reopened until its stalled action items move again.", pm.ID, pm.Title)
	link := cfg.PostmortemPage(pm.ID)
	if link == "" {
		link = pm.URL
	}
	if link != "" {
		fmt.Fprintf(&b, "\nStatus: %s", link)
	}
	return b.String()
}

const day = 24 * time.Hour

// days writes a duration of whole days as "14 days", anything else as Go does.
func days(d time.Duration) string {
	if d > 0 && d%day == 0 {
		if d == day {
			return "1 day"
		}
		return fmt.Sprintf("%d days", d/day)
	}
	return d.String()
}
