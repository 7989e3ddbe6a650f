package followthrough

import "time"

// StallPolicy is the `stall` configuration as the stall rules use it (config.Stall.Policy
// builds it). The maps are keyed by priority; a priority missing from a map is read as P2.
type StallPolicy struct {
	OverdueGrace  time.Duration
	InactiveAfter map[string]time.Duration
	DefaultDue    map[string]time.Duration
}

// DefaultDueFor is default_due for a priority (P2's for one the map lacks): how long after
// sign-off an item without a due date is due.
func (p StallPolicy) DefaultDueFor(priority string) time.Duration {
	return lookup(p.DefaultDue, priority)
}

// InactiveAfterFor is inactive_after for a priority (P2's for one the map lacks): how long an
// item may go without activity before it stalls.
func (p StallPolicy) InactiveAfterFor(priority string) time.Duration {
	return lookup(p.InactiveAfter, priority)
}

func lookup(m map[string]time.Duration, priority string) time.Duration {
	if d, ok := m[priority]; ok {
		return d
	}
	return m[DefaultPriority]
}

// StallInput is what the stall rules need to know about one action item.
type StallInput struct {
	Priority string // P0..P3; empty is P2
	Status   Status // finished items never stall
	Due      string // YYYY-MM-DD, or empty: default_due applies
	// SignedOffAt is the postmortem's signed_off_at, or its acceptance when absent: where
	// default_due counts from.
	SignedOffAt time.Time
	// AcceptedAt is when followthrough accepted the item: inactivity counts from it while the
	// item has no ticket.
	AcceptedAt time.Time
	// RestoredAt is when a revision last brought the item back after one removed it; zero:
	// never. Inactivity counts from no earlier: what happened before (or was quiet since) the
	// removal is not what the item asks of people now.
	RestoredAt time.Time
	// TicketCreated is the tracker's creation time of the item's ticket, or when followthrough
	// adopted it for a ticket that people opened; zero: no ticket yet.
	TicketCreated time.Time
	// LastActivity is people's last activity on the ticket; zero: none yet.
	LastActivity time.Time
}

const day = 24 * time.Hour

// DueDate is the item's due date, YYYY-MM-DD: its own, else the day default_due[priority]
// after sign-off ends in (UTC). defaulted says the date came from default_due.
func DueDate(in StallInput, p StallPolicy) (date string, defaulted bool) {
	if in.Due != "" {
		return in.Due, false
	}
	return in.SignedOffAt.UTC().Add(p.DefaultDueFor(in.EffectivePriority())).Format(time.DateOnly), true
}

// DueEnd is the end of the due day (UTC): the moment from which the item is overdue. It is
// zero when the due date cannot be read.
func DueEnd(in StallInput, p StallPolicy) time.Time {
	date, _ := DueDate(in, p)
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return time.Time{}
	}
	return d.Add(day)
}

// Overdue reports whether an unfinished item's due day has ended at now (what the status page
// counts as overdue): from the first instant of the next day, UTC. Finished items are never
// overdue.
func Overdue(in StallInput, p StallPolicy, now time.Time) bool {
	if in.Status.Finished() {
		return false
	}
	end := DueEnd(in, p)
	return !end.IsZero() && !now.Before(end)
}

// InactiveSince is when the item's current quiet period began: the latest of people's last
// activity, the ticket's creation (the item's acceptance while it has no ticket) and the
// item's return when a revision brought it back.
func InactiveSince(in StallInput) time.Time {
	since := in.TicketCreated
	if since.IsZero() {
		since = in.AcceptedAt
	}
	for _, t := range []time.Time{in.RestoredAt, in.LastActivity} {
		if t.After(since) {
			since = t
		}
	}
	return since
}

// StallOf says whether and why the item is stalled at now. Finished items never stall. An item
// stalls as overdue once overdue_grace has passed after the end of its due day, and as
// inactive once inactive_after[priority] has passed since InactiveSince. "Once d has passed"
// includes the instant itself. When both apply it is overdue.
func StallOf(in StallInput, p StallPolicy, now time.Time) StallReason {
	if in.Status.Finished() {
		return StallNone
	}
	if end := DueEnd(in, p); !end.IsZero() && !now.Before(end.Add(p.OverdueGrace)) {
		return StallOverdue
	}
	if since := InactiveSince(in); !since.IsZero() && !now.Before(since.Add(p.InactiveAfterFor(in.EffectivePriority()))) {
		return StallInactive
	}
	return StallNone
}

// ItemStallInput is the stall input of an item as the API shows it, for the status page's
// overdue counts. It knows no ticket creation time nor activity: use it for Overdue only.
func ItemStallInput(pm PostmortemView, it ItemView) StallInput {
	in := StallInput{Priority: it.Priority, Status: it.Status, SignedOffAt: pm.AcceptedAt, AcceptedAt: it.CreatedAt}
	if pm.SignedOffAt != nil {
		in.SignedOffAt = *pm.SignedOffAt
	}
	if it.Due != nil {
		in.Due = *it.Due
	}
	if it.LastActivity != nil {
		in.LastActivity = *it.LastActivity
	}
	return in
}

// EffectivePriority is the item's priority, P2 when it names none.
func (in StallInput) EffectivePriority() string {
	if in.Priority == "" {
		return DefaultPriority
	}
	return in.Priority
}
