package sync

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/store"
)

// StalledLabel is the label a stalled item's ticket carries while it is stalled.
const StalledLabel = "stalled"

// stateChange is a postmortem's move from one state to another.
type stateChange struct {
	From, To ft.State
	// ReopenedCount and CompletedCount are the postmortem's entries into reopened and into
	// completed so far, this change included: they number the episodes that work is keyed by.
	ReopenedCount  int
	CompletedCount int
}

// Changed reports whether the state moved.
func (c stateChange) Changed() bool { return c.From != c.To }

// itemStatusChange is a change of an item's status that subscribers hear of.
type itemStatusChange struct {
	ItemID string
	Change StatusChange
}

// evaluate brings a postmortem up to date inside the caller's transaction, after any change to
// its items (a status change from any side, a revision) and on every stall scan. It reads the
// postmortem once and builds everything from that read: item.status_changed for each of
// changes (showing the postmortem as the change left it); then each item's stall at now, and
// the postmortem's state, with what their changes need, queued in the same transaction. An
// item that newly stalls gets one comment on its ticket and the `stalled` label; the label
// comes off when it is no longer stalled. Entering reopened reopens the postmortem's own
// ticket with a comment listing the stalled items and sends postmortem.reopened; leaving
// reopened for tracking sends postmortem.resumed; entering completed sends
// postmortem.completed and closes the own ticket with a summary comment; leaving completed for
// tracking reopens the own ticket with a comment. Every piece of work is queued once per
// episode: the stall's or the state's number is in its dedupe key.
func (e *Engine) evaluate(ctx context.Context, tx *store.Tx, pmID string, now time.Time, changes ...itemStatusChange) (stateChange, error) {
	change, _, err := e.evaluateRecord(ctx, tx, pmID, now, changes...)
	return change, err
}

// evaluateRecord is evaluate, and also returns the postmortem as it is once evaluated: what the
// transaction wrote, so that an answer needs no reading back.
func (e *Engine) evaluateRecord(ctx context.Context, tx *store.Tx, pmID string, now time.Time, changes ...itemStatusChange) (stateChange, store.PostmortemRecord, error) {
	pm, err := store.LoadPostmortemTx(ctx, tx, pmID)
	if err != nil {
		return stateChange{}, pm, fmt.Errorf("evaluate %s: %w", pmID, err)
	}
	return e.evaluateLoaded(ctx, tx, pm, now, changes...)
}

// evaluateLoaded is evaluateRecord for a postmortem the caller has as stored in this
// transaction.
func (e *Engine) evaluateLoaded(ctx context.Context, tx *store.Tx, pm store.PostmortemRecord, now time.Time, changes ...itemStatusChange) (stateChange, store.PostmortemRecord, error) {
	cfg := e.opts.Config
	pmID := pm.ID
	if len(changes) > 0 {
		view := pm.View()
		for _, c := range changes {
			if err := queueEvent(ctx, tx, cfg.Notify, ft.EventStatusChanged, view, c.ItemID, &c.Change, now); err != nil {
				return stateChange{}, pm, fmt.Errorf("evaluate %s: %w", pmID, err)
			}
		}
	}
	if err := applyStalls(ctx, tx, cfg, &pm, now); err != nil {
		return stateChange{}, pm, fmt.Errorf("evaluate %s: %w", pmID, err)
	}
	change := stateChange{From: pm.State, To: stateOf(pm.Items), ReopenedCount: pm.ReopenedCount, CompletedCount: pm.CompletedCount}
	if !change.Changed() {
		return change, pm, nil
	}
	switch change.To {
	case ft.StateReopened:
		change.ReopenedCount++
	case ft.StateCompleted:
		change.CompletedCount++
	}
	pm.State, pm.ReopenedCount, pm.CompletedCount = change.To, change.ReopenedCount, change.CompletedCount
	if err := store.SetState(ctx, tx, pm, now); err != nil {
		return change, pm, err
	}
	if err := queueStateWork(ctx, tx, cfg, pm, change, now); err != nil {
		return change, pm, fmt.Errorf("evaluate %s: %w", pmID, err)
	}
	return change, pm, nil
}

// stateOf is a postmortem's state from its items: completed when every item is finished,
// reopened when an unfinished item is stalled, tracking otherwise.
func stateOf(items []store.Item) ft.State {
	finished, stalled := 0, 0
	for _, it := range items {
		switch {
		case it.Status.Finished():
			finished++
		case it.Stall.Reason != ft.StallNone:
			stalled++
		}
	}
	switch {
	case finished == len(items):
		return ft.StateCompleted
	case stalled > 0:
		return ft.StateReopened
	}
	return ft.StateTracking
}

// stallInput is the rules' view of one stored item.
func stallInput(f store.PostmortemRecord, it store.Item) ft.StallInput {
	status := it.Status
	if it.Removed {
		status = ft.StatusWontDo
	}
	return ft.StallInput{
		Priority: it.Priority, Status: status, Due: it.Due, SignedOffAt: f.DueFrom(),
		AcceptedAt: it.CreatedAt, RestoredAt: it.RestoredAt, TicketCreated: it.TicketSince(), LastActivity: it.LastActivity,
	}
}

// applyStalls stores each item's stall at now and queues the comment and label work of the
// stalls that begin and end.
func applyStalls(ctx context.Context, tx *store.Tx, cfg *config.Config, f *store.PostmortemRecord, now time.Time) error {
	policy := cfg.Stall.Policy()
	for i := range f.Items {
		it := &f.Items[i]
		in := stallInput(*f, *it)
		reason := ft.StallOf(in, policy, now)
		st := it.Stall
		switch {
		case reason != ft.StallNone && st.Reason == ft.StallNone:
			st.Episode++
			st.Since = now.UTC() // as it is stored, and read back
			st.Label = true
			c := stallComment{Episode: st.Episode, Reason: reason}
			if reason == ft.StallOverdue {
				c.Due, c.DueDefaulted = ft.DueDate(in, policy)
			} else {
				c.InactiveSince = ft.InactiveSince(in).UTC()
			}
			if err := queueItemJob(ctx, tx, *f, *it, jobComment,
				fmt.Sprintf("stall-comment:%s/%s:%d", f.ID, it.ID, st.Episode),
				commentJob{Stall: &c}, now); err != nil {
				return err
			}
			if err := queueItemJob(ctx, tx, *f, *it, jobLabel,
				fmt.Sprintf("stall-label:%s/%s:%d:add", f.ID, it.ID, st.Episode),
				labelJob{Label: StalledLabel, Add: true, Episode: st.Episode}, now); err != nil {
				return err
			}
		case reason == ft.StallNone && st.Label:
			st.Label = false
			if err := queueItemJob(ctx, tx, *f, *it, jobLabel,
				fmt.Sprintf("stall-label:%s/%s:%d:remove", f.ID, it.ID, st.Episode),
				labelJob{Label: StalledLabel, Add: false, Episode: st.Episode}, now); err != nil {
				return err
			}
		}
		st.Reason = reason
		if st != it.Stall {
			if err := store.SetItemStall(ctx, tx, f.ID, it.ID, st); err != nil {
				return err
			}
			it.Stall = st
		}
	}
	return nil
}

func queueItemJob(ctx context.Context, tx *store.Tx, f store.PostmortemRecord, it store.Item, kind, key string, payload any, now time.Time) error {
	raw, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	tracker := it.Target.Kind
	if it.Ticket != nil {
		tracker = it.Ticket.Kind
	}
	return store.Enqueue(ctx, tx, store.Job{Kind: kind, PostmortemID: f.ID, ItemID: it.ID,
		Tracker: string(tracker), DedupeKey: key, Payload: raw}, now)
}

// queueStateWork queues the events and own-ticket work of a change of state.
func queueStateWork(ctx context.Context, tx *store.Tx, cfg *config.Config, f store.PostmortemRecord, change stateChange, now time.Time) error {
	event := ""
	switch {
	case change.To == ft.StateReopened:
		event = ft.EventReopened
		episode := fmt.Sprintf("reopened:%d", change.ReopenedCount)
		if err := queueOwnStatus(ctx, tx, cfg, f, episode, ft.StatusOpen, now); err != nil {
			return err
		}
		if err := queueOwnComment(ctx, tx, cfg, f, episode, reopenedText(cfg, f), now); err != nil {
			return err
		}
	case change.To == ft.StateCompleted:
		event = ft.EventCompleted
		episode := fmt.Sprintf("completed:%d", change.CompletedCount)
		if err := queueOwnComment(ctx, tx, cfg, f, episode, completedText(cfg, f), now); err != nil {
			return err
		}
		if err := queueOwnStatus(ctx, tx, cfg, f, episode, ft.StatusDone, now); err != nil {
			return err
		}
	case change.From == ft.StateReopened && change.To == ft.StateTracking:
		event = ft.EventResumed
	case change.From == ft.StateCompleted && change.To == ft.StateTracking:
		// Not in the contract's list, but a closed ticket for a postmortem with open items
		// again would say the opposite of the status page.
		episode := fmt.Sprintf("uncompleted:%d", change.CompletedCount)
		if err := queueOwnStatus(ctx, tx, cfg, f, episode, ft.StatusOpen, now); err != nil {
			return err
		}
		if err := queueOwnComment(ctx, tx, cfg, f, episode, uncompletedText(cfg, f), now); err != nil {
			return err
		}
	}
	if event == "" {
		return nil
	}
	return queueEvent(ctx, tx, cfg.Notify, event, f.View(), "", nil, now)
}

// ownConfigured reports whether the postmortem has an own ticket in a configured tracker: a
// job for an unconfigured tracker would wait in a lane that no worker reads.
func ownConfigured(cfg *config.Config, f store.PostmortemRecord) bool {
	if f.Own == nil {
		return false
	}
	switch f.Own.Kind {
	case ft.GitHub:
		return cfg.GitHub != nil
	case ft.Jira:
		return cfg.Jira != nil
	}
	return false
}

// Own-ticket jobs carry no item id: they run in order among the postmortem's own work and
// never mark an item as failed.
func queueOwnComment(ctx context.Context, tx *store.Tx, cfg *config.Config, f store.PostmortemRecord, episode, body string, now time.Time) error {
	if !ownConfigured(cfg, f) {
		return nil
	}
	raw, _ := json.Marshal(commentJob{Ticket: f.Own, Body: body})
	return store.Enqueue(ctx, tx, store.Job{Kind: jobComment, PostmortemID: f.ID,
		Tracker: string(f.Own.Kind), DedupeKey: "own-comment:" + f.ID + ":" + episode, Payload: raw}, now)
}

func queueOwnStatus(ctx context.Context, tx *store.Tx, cfg *config.Config, f store.PostmortemRecord, episode string, status ft.Status, now time.Time) error {
	if !ownConfigured(cfg, f) {
		return nil
	}
	raw, _ := json.Marshal(ownTicketJob{Ticket: *f.Own, Status: status})
	return store.Enqueue(ctx, tx, store.Job{Kind: jobOwnTicket, PostmortemID: f.ID,
		Tracker: string(f.Own.Kind), DedupeKey: "own-status:" + f.ID + ":" + episode, Payload: raw}, now)
}

// reopenedText is the comment on the own ticket when the postmortem is reopened.
func reopenedText(cfg *config.Config, f store.PostmortemRecord) string {
	policy := cfg.Stall.Policy()
	var b strings.Builder
	var stalled []store.Item
	for _, it := range f.Items {
		if it.Stall.Reason != ft.StallNone {
			stalled = append(stalled, it)
		}
	}
	fmt.Fprintf(&b, "followthrough reopened postmortem %s: %s stalled.\n\n", f.ID, countItems(len(stalled), "action item"))
	for _, it := range stalled {
		fmt.Fprintf(&b, "- %s %s%s: %s\n", it.ID, it.Title, ticketSuffix(it.Ticket), stallDetail(f, it, policy))
	}
	writeStatusLink(&b, cfg, f.ID)
	return strings.TrimRight(b.String(), "\n")
}

// completedText is the summary comment on the own ticket when every item is finished.
func completedText(cfg *config.Config, f store.PostmortemRecord) string {
	var b strings.Builder
	done, wontDo := 0, 0
	for _, it := range f.Items {
		if it.Status == ft.StatusDone {
			done++
		} else {
			wontDo++
		}
	}
	fmt.Fprintf(&b, "Every action item of postmortem %s is finished (%d done, %d won't do), so followthrough closed this ticket.\n\n",
		f.ID, done, wontDo)
	for _, it := range f.Items {
		status := string(it.Status)
		if it.Removed {
			status = "removed"
		}
		fmt.Fprintf(&b, "- %s %s%s: %s\n", it.ID, it.Title, ticketSuffix(it.Ticket), strings.ReplaceAll(status, "_", " "))
	}
	writeStatusLink(&b, cfg, f.ID)
	return strings.TrimRight(b.String(), "\n")
}

// uncompletedText is the comment on the own ticket when a completed postmortem has unfinished
// items again.
func uncompletedText(cfg *config.Config, f store.PostmortemRecord) string {
	var b strings.Builder
	var open []store.Item
	for _, it := range f.Items {
		if !it.Status.Finished() && !it.Removed {
			open = append(open, it)
		}
	}
	fmt.Fprintf(&b, "Postmortem %s is no longer complete: %s unfinished again, so followthrough reopened this ticket.\n\n",
		f.ID, countItems(len(open), "action item is", "action items are"))
	for _, it := range open {
		fmt.Fprintf(&b, "- %s %s%s: %s\n", it.ID, it.Title, ticketSuffix(it.Ticket), strings.ReplaceAll(string(it.Status), "_", " "))
	}
	writeStatusLink(&b, cfg, f.ID)
	return strings.TrimRight(b.String(), "\n")
}

func stallDetail(f store.PostmortemRecord, it store.Item, policy ft.StallPolicy) string {
	in := stallInput(f, it)
	if it.Stall.Reason == ft.StallOverdue {
		due, defaulted := ft.DueDate(in, policy)
		if defaulted {
			return fmt.Sprintf("overdue (due %s by default for %s)", due, in.EffectivePriority())
		}
		return "overdue (due " + due + ")"
	}
	return "inactive (no activity since " + ft.InactiveSince(in).UTC().Format(time.DateOnly) + ")"
}

func ticketSuffix(t *ft.TicketRef) string {
	if t == nil {
		return ""
	}
	if t.URL != "" {
		return " (" + t.Key + ", " + t.URL + ")"
	}
	return " (" + t.Key + ")"
}

// countItems writes "1 action item" or "3 action items"; with two forms, the second is the
// plural.
func countItems(n int, forms ...string) string {
	one, many := forms[0], forms[0]+"s"
	if len(forms) > 1 {
		many = forms[1]
	}
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func writeStatusLink(b *strings.Builder, cfg *config.Config, pmID string) {
	if link := cfg.PostmortemPage(pmID); link != "" {
		fmt.Fprintf(b, "\nStatus: %s\n", link)
	}
}
