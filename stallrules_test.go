package followthrough_test

import (
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
)

func TestStallOf(t *testing.T) {
	p := config.Default().Stall.Policy()
	signed := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	ticket := signed.Add(time.Hour)
	recent := func(at time.Time) time.Time { return at.Add(-time.Hour) } // activity an hour ago
	// Item due 2026-01-20: the day ends 2026-01-21T00:00Z; with a day of grace it stalls at
	// 2026-01-22T00:00Z.
	dueEnd := time.Date(2026, 1, 21, 0, 0, 0, 0, time.UTC)
	stallAt := dueEnd.Add(24 * time.Hour)
	due := func(priority string, now time.Time) ft.StallInput {
		return ft.StallInput{Priority: priority, Status: ft.StatusOpen, Due: "2026-01-20", SignedOffAt: signed,
			AcceptedAt: signed, TicketCreated: ticket, LastActivity: recent(now)}
	}
	noDue := func(priority string, now time.Time) ft.StallInput {
		in := due(priority, now)
		in.Due = ""
		return in
	}
	quiet := func(priority string) ft.StallInput {
		return ft.StallInput{Priority: priority, Status: ft.StatusInProgress, Due: "2027-01-01", SignedOffAt: signed,
			AcceptedAt: signed, TicketCreated: ticket}
	}
	// default_due from the 10:00 sign-off: P0/P1 28 days (due 2026-02-02, stall 2026-02-04),
	// P2/P3 56 days (due 2026-03-02, stall 2026-03-04).
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, time.UTC) }
	type tc struct {
		name    string
		in      ft.StallInput
		now     time.Time
		want    ft.StallReason
		overdue bool
	}
	cases := []tc{
		{"due day not over", due("P1", dueEnd.Add(-1)), dueEnd.Add(-1), ft.StallNone, false},
		{"due day over, in grace", due("P1", dueEnd), dueEnd, ft.StallNone, true},
		{"one ns before the grace ends", due("P1", stallAt.Add(-1)), stallAt.Add(-1), ft.StallNone, true},
		{"exactly at the grace", due("P1", stallAt), stallAt, ft.StallOverdue, true},
		{"one ns after the grace", due("P1", stallAt.Add(1)), stallAt.Add(1), ft.StallOverdue, true},
		{"in progress stalls too", func() ft.StallInput { in := due("P1", stallAt); in.Status = ft.StatusInProgress; return in }(), stallAt, ft.StallOverdue, true},
		{"done never stalls", func() ft.StallInput { in := quiet("P1"); in.Status = ft.StatusDone; in.Due = "2026-01-06"; return in }(), day(12, 1), ft.StallNone, false},
		{"won't do never stalls", func() ft.StallInput { in := quiet("P0"); in.Status = ft.StatusWontDo; return in }(), day(12, 1), ft.StallNone, false},
		{"both apply: overdue first", func() ft.StallInput { in := quiet("P1"); in.Due = "2026-01-20"; return in }(), stallAt, ft.StallOverdue, true},
		{"no priority is P2", func() ft.StallInput { in := noDue("", day(3, 4)); return in }(), day(3, 4), ft.StallOverdue, true},
		{"no priority is P2, before", func() ft.StallInput { in := noDue("", day(3, 4).Add(-1)); return in }(), day(3, 4).Add(-1), ft.StallNone, true},
		{"no due, no sign-off time: from acceptance", func() ft.StallInput {
			in := noDue("P0", day(2, 4))
			in.SignedOffAt = signed.Add(24 * time.Hour) // acceptance a day later
			return in
		}(), day(2, 4), ft.StallNone, true},
	}
	for _, pr := range []struct {
		priority string
		stall    time.Time
		inactive time.Duration
	}{
		{"P0", day(2, 4), 7 * 24 * time.Hour},
		{"P1", day(2, 4), 14 * 24 * time.Hour},
		{"P2", day(3, 4), 30 * 24 * time.Hour},
		{"P3", day(3, 4), 60 * 24 * time.Hour},
	} {
		cases = append(cases,
			tc{pr.priority + " no due date, one ns before", noDue(pr.priority, pr.stall.Add(-1)), pr.stall.Add(-1), ft.StallNone, true},
			tc{pr.priority + " no due date, at the grace", noDue(pr.priority, pr.stall), pr.stall, ft.StallOverdue, true},
			tc{pr.priority + " quiet, one ns before", quiet(pr.priority), ticket.Add(pr.inactive - 1), ft.StallNone, false},
			tc{pr.priority + " quiet, exactly", quiet(pr.priority), ticket.Add(pr.inactive), ft.StallInactive, false},
			tc{pr.priority + " quiet, one ns after", quiet(pr.priority), ticket.Add(pr.inactive + 1), ft.StallInactive, false},
			tc{pr.priority + " activity restarts the count", func() ft.StallInput {
				in := quiet(pr.priority)
				in.LastActivity = ticket.Add(pr.inactive / 2)
				return in
			}(), ticket.Add(pr.inactive), ft.StallNone, false},
			tc{pr.priority + " counted from the last activity", func() ft.StallInput {
				in := quiet(pr.priority)
				in.LastActivity = ticket.Add(pr.inactive / 2)
				return in
			}(), ticket.Add(pr.inactive/2 + pr.inactive), ft.StallInactive, false},
			tc{pr.priority + " no ticket: from acceptance", func() ft.StallInput {
				in := quiet(pr.priority)
				in.TicketCreated = time.Time{}
				in.AcceptedAt = signed.Add(-time.Hour)
				return in
			}(), ticket.Add(pr.inactive - 2*time.Hour), ft.StallInactive, false},
			tc{pr.priority + " brought back: from its return", func() ft.StallInput {
				in := quiet(pr.priority)
				in.LastActivity = ticket.Add(time.Hour)
				in.RestoredAt = ticket.Add(2 * pr.inactive)
				return in
			}(), ticket.Add(3*pr.inactive - 1), ft.StallNone, false},
			tc{pr.priority + " brought back, quiet since", func() ft.StallInput {
				in := quiet(pr.priority)
				in.RestoredAt = ticket.Add(2 * pr.inactive)
				return in
			}(), ticket.Add(3 * pr.inactive), ft.StallInactive, false},
			tc{pr.priority + " brought back without a ticket: from its return", func() ft.StallInput {
				in := quiet(pr.priority)
				in.TicketCreated = time.Time{}
				in.RestoredAt = ticket.Add(2 * pr.inactive)
				return in
			}(), ticket.Add(3*pr.inactive - 1), ft.StallNone, false},
			tc{pr.priority + " activity after the return counts", func() ft.StallInput {
				in := quiet(pr.priority)
				in.RestoredAt = ticket.Add(2 * pr.inactive)
				in.LastActivity = ticket.Add(2*pr.inactive + time.Hour)
				return in
			}(), ticket.Add(3 * pr.inactive), ft.StallNone, false},
		)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ft.StallOf(c.in, p, c.now); got != c.want {
				t.Errorf("StallOf at %s = %q; want %q", c.now.Format(time.RFC3339Nano), got, c.want)
			}
			if got := ft.Overdue(c.in, p, c.now); got != c.overdue {
				t.Errorf("Overdue at %s = %v; want %v", c.now.Format(time.RFC3339Nano), got, c.overdue)
			}
		})
	}
}

func TestDueDate(t *testing.T) {
	p := config.Default().Stall.Policy()
	signed := time.Date(2026, 1, 5, 23, 30, 0, 0, time.FixedZone("X", -3*3600)) // 2026-01-06T02:30Z
	cases := []struct {
		in        ft.StallInput
		want      string
		defaulted bool
	}{
		{ft.StallInput{Priority: "P1", Due: "2026-02-01", SignedOffAt: signed}, "2026-02-01", false},
		{ft.StallInput{Priority: "P0", SignedOffAt: signed}, "2026-02-03", true},
		{ft.StallInput{Priority: "P1", SignedOffAt: signed}, "2026-02-03", true},
		{ft.StallInput{Priority: "P2", SignedOffAt: signed}, "2026-03-03", true},
		{ft.StallInput{Priority: "P3", SignedOffAt: signed}, "2026-03-03", true},
		{ft.StallInput{SignedOffAt: signed}, "2026-03-03", true},
	}
	for _, c := range cases {
		got, defaulted := ft.DueDate(c.in, p)
		if got != c.want || defaulted != c.defaulted {
			t.Errorf("ft.DueDate(%+v) = %s, %v; want %s, %v", c.in, got, defaulted, c.want, c.defaulted)
		}
	}
}

func TestPolicyPartialMapsFallBackToP2(t *testing.T) {
	p := ft.StallPolicy{OverdueGrace: 0, InactiveAfter: map[string]time.Duration{"P2": time.Hour}, DefaultDue: map[string]time.Duration{"P2": 24 * time.Hour}}
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	in := ft.StallInput{Priority: "P9", Status: ft.StatusOpen, SignedOffAt: start, AcceptedAt: start}
	if got := ft.StallOf(in, p, start.Add(time.Hour)); got != ft.StallInactive {
		t.Errorf("unknown priority after an hour = %q; want inactive", got)
	}
	if got := ft.StallOf(in, p, time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)); got != ft.StallOverdue {
		t.Errorf("unknown priority after its default due = %q; want overdue", got)
	}
}
