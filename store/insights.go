package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	ft "github.com/followthrough/followthrough"
)

// The figures of the status page's /insights (ft.Insights), each computed by one SQL query over
// items, their postmortems and the status history, so that only the figures leave the database.
//
// Portability: the SQL is standard (CTEs, window functions, NULLS LAST, integer arithmetic)
// but for unixepoch(), which turns stored time text into numbers (epochSeconds): SQLite has
// it, and the PostgreSQL migrations define it with the same meaning.

// Insights computes the four figures at now, one after the other in one read transaction:
// the figures agree with each other (one snapshot of the database), and the pages of the
// indexes they share are read once, where one connection per figure would read each of them
// again after every commit.
func (s *Store) Insights(ctx context.Context, f ft.InsightsFilter, policy ft.StallPolicy, now time.Time) (out ft.Insights, err error) {
	tx, err := s.readSnapshot(ctx)
	if err != nil {
		return out, fmt.Errorf("insights: %w", err)
	}
	defer tx.tx.Rollback()
	if out.Burndown, err = burndown(ctx, tx.reader(), f, now); err != nil {
		return out, err
	}
	if out.OnTime, err = onTimeByTeam(ctx, tx.reader(), f, policy); err != nil {
		return out, err
	}
	if out.DaysToDone, err = daysToDone(ctx, tx.reader(), f); err != nil {
		return out, err
	}
	out.Overdue, err = overdueByAge(ctx, tx.reader(), f, policy, now)
	return out, err
}

// sqlText is SQL with its arguments, appended in the order their placeholders appear.
type sqlText struct {
	sql  strings.Builder
	args []any
}

func (q *sqlText) add(sql string, args ...any) *sqlText {
	q.sql.WriteString(sql)
	q.args = append(q.args, args...)
	return q
}

// itemTeam is SQL for an item's team: its own, else its postmortem's.
const itemTeam = "COALESCE(NULLIF(i.team, ''), p.team)"

// Status sets as SQL lists.
const (
	finishedStatuses   = "('done', 'wont_do')"
	unfinishedStatuses = "('open', 'in_progress')"
)

// inScope appends the FROM and WHERE that select the items f counts, as i (the item) and p (its
// postmortem), with join (if any) joined to them, leaving the WHERE open for more conditions.
func (q *sqlText) inScope(f ft.InsightsFilter, join ...string) *sqlText {
	return q.scope(f, true, join...)
}

// itemsInScope is inScope for a query that reads nothing of the postmortems: they are joined
// only when the filter needs them.
func (q *sqlText) itemsInScope(f ft.InsightsFilter, join ...string) *sqlText {
	return q.scope(f, f.Severity != "" || !f.Since.IsZero() || f.Team != "", join...)
}

func (q *sqlText) scope(f ft.InsightsFilter, postmortems bool, join ...string) *sqlText {
	from := " FROM items i "
	if postmortems {
		from = " FROM postmortems p JOIN items i ON i.postmortem_id = p.id "
	}
	q.add(from + strings.Join(join, " ") + " WHERE i.removed = 0")
	if f.Severity != "" {
		q.add(" AND p.severity = ?", f.Severity)
	}
	if !f.Since.IsZero() {
		q.add(" AND p.sort_at >= ?", formatTime(f.Since))
	}
	if f.Team != "" {
		q.add(" AND "+itemTeam+" = ?", f.Team)
	}
	return q
}

// epochSeconds is SQL for the Unix time, in whole seconds (the fraction dropped), of a stored
// time or YYYY-MM-DD text: SQLite's unixepoch(), or the PostgreSQL function of that name
// (migrations/postgres/0005_insights.sql).
func epochSeconds(expr string) string { return "unixepoch(" + expr + ")" }

// epochDay is SQL for the day number (days since 1970-01-01, UTC) of a stored time or date.
func epochDay(expr string) string { return "(" + epochSeconds(expr) + " / 86400)" }

// weekOf is SQL for the day number of the Monday that starts the week (UTC) of a stored time.
// Day 0, 1970-01-01, was a Thursday: the Monday of day d is (d + 3) / 7 * 7 - 3.
func weekOf(expr string) string { return "((" + epochSeconds(expr) + " / 86400 + 3) / 7 * 7 - 3)" }

// dayNumber is the day number of t's UTC date.
func dayNumber(t time.Time) int64 { return t.Unix() / 86400 }

// dayDate is the YYYY-MM-DD of a day number.
func dayDate(day int64) string { return time.Unix(day*86400, 0).UTC().Format(time.DateOnly) }

// dueDay appends SQL for the day number of an item's effective due date, as ft.DueDate decides
// it: the item's own due date, else the day that the policy's default_due for its priority
// after sign-off (acceptance when there is none: sort_at) falls in. default_due is taken in
// whole seconds; adding them to the whole seconds of sort_at finds the same day as adding them
// to the exact time, since midnights fall on whole seconds.
func (q *sqlText) dueDay(policy ft.StallPolicy) *sqlText {
	q.add("CASE WHEN i.due IS NOT NULL THEN " + epochDay("i.due") + " ELSE (" + epochSeconds("p.sort_at") + " + CASE i.priority")
	for _, p := range ft.Priorities {
		q.add(" WHEN ? THEN CAST(? AS BIGINT)", p, int64(policy.DefaultDueFor(p)/time.Second))
	}
	return q.add(" ELSE CAST(? AS BIGINT) END) / 86400 END", int64(policy.DefaultDueFor(ft.DefaultPriority)/time.Second))
}

// finishedAt is SQL for when a finished item finished: its latest change from unfinished into
// done or wont_do, which the store keeps on the item (finished_at, set as its status changes),
// or, with none, its postmortem's sign-off (it was finished at sign-off).
const finishedAt = `COALESCE(i.finished_at, p.sort_at)`

// Burndown counts, per week, the items created, finished and reopened and the items unfinished
// at its end, from the first week with an item to now's week; weeks without changes are
// included.
//
// Finished and reopened come from the status history's crossings between unfinished and
// finished. An item that was finished at sign-off has no crossing into finished: what an item
// is now, undone by its crossings, is what it was when it was created, so those items count as
// finished in the week they were created.
func (s *Store) Burndown(ctx context.Context, f ft.InsightsFilter, now time.Time) ([]ft.WeekCount, error) {
	return burndown(ctx, s.readDB, f, now)
}

func burndown(ctx context.Context, db querier, f ft.InsightsFilter, now time.Time) ([]ft.WeekCount, error) {
	sq := burndownQuery(f)
	rows, err := db.QueryContext(ctx, sq.sql.String(), sq.args...)
	if err != nil {
		return nil, fmt.Errorf("burn-down: %w", err)
	}
	type week struct {
		day    int64
		counts ft.WeekCount
	}
	weeks, err := collect(rows, func(rows *sql.Rows) (week, error) {
		var w week
		err := rows.Scan(&w.day, &w.counts.Created, &w.counts.Finished, &w.counts.Reopened, &w.counts.Unfinished)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("burn-down: %w", err)
	}
	out := []ft.WeekCount{}
	if len(weeks) == 0 {
		return out, nil
	}
	// Weeks without a change carry the count of the week before.
	today := dayNumber(now)
	last := max(weeks[len(weeks)-1].day, today-(today+3)%7)
	next := 0
	unfinished := 0
	for day := weeks[0].day; day <= last; day += 7 {
		w := ft.WeekCount{Week: dayDate(day), Unfinished: unfinished}
		if next < len(weeks) && weeks[next].day == day {
			w = weeks[next].counts
			w.Week = dayDate(day)
			next++
		}
		unfinished = w.Unfinished
		out = append(out, w)
	}
	return out, nil
}

// burndownQuery selects, per week with a change, its Monday's day number, the items created,
// finished and reopened in it, and the items unfinished at its end.
func burndownQuery(f ft.InsightsFilter) *sqlText {
	const history = "JOIN status_history h ON h.postmortem_id = i.postmortem_id AND h.item_id = i.item_id"
	q := &sqlText{}
	// Every row is counted into its week as early as possible: sorting rows to group them is
	// what these queries spend most on.
	q.add(`WITH crossings (created_week, week, finishing, n) AS MATERIALIZED (
		SELECT `+weekOf("i.created_at")+`, `+weekOf("h.at")+`, 1, COUNT(*)`).itemsInScope(f, history).
		add(" AND h.from_status IN "+unfinishedStatuses+" AND h.to_status IN "+finishedStatuses+" GROUP BY 1, 2").
		add(" UNION ALL SELECT "+weekOf("i.created_at")+", "+weekOf("h.at")+", 0, COUNT(*)").itemsInScope(f, history).
		add(" AND h.from_status IN " + finishedStatuses + " AND h.to_status IN " + unfinishedStatuses + ` GROUP BY 1, 2),
	events (week, created, finished, reopened) AS (
		SELECT ` + weekOf("i.created_at") + `, COUNT(*), SUM(CASE WHEN i.status IN ` + finishedStatuses + ` THEN 1 ELSE 0 END), 0`).
		itemsInScope(f).add(` GROUP BY 1
		UNION ALL
		SELECT created_week, 0, CASE WHEN finishing = 1 THEN -n ELSE n END, 0 FROM crossings
		UNION ALL
		SELECT week, 0, finishing * n, (1 - finishing) * n FROM crossings),
	weeks (week, created, finished, reopened) AS (
		SELECT week, SUM(created), SUM(finished), SUM(reopened) FROM events GROUP BY week)
	SELECT week, created, finished, reopened,
		SUM(created - finished + reopened) OVER (ORDER BY week ROWS UNBOUNDED PRECEDING)
	FROM weeks ORDER BY week`)
	return q
}

// OnTimeByTeam counts, per team, the items, the finished ones, and those finished in time: done
// by the end of the effective due day (UTC), or won't-do before the due day began (deciding not
// to do something on the day it is due is not doing it on time). An item finished at sign-off
// finished then. Teams are in name order.
func (s *Store) OnTimeByTeam(ctx context.Context, f ft.InsightsFilter, policy ft.StallPolicy) ([]ft.TeamOnTime, error) {
	return onTimeByTeam(ctx, s.readDB, f, policy)
}

func onTimeByTeam(ctx context.Context, db querier, f ft.InsightsFilter, policy ft.StallPolicy) ([]ft.TeamOnTime, error) {
	sq := onTimeQuery(f, policy)
	rows, err := db.QueryContext(ctx, sq.sql.String(), sq.args...)
	if err != nil {
		return nil, fmt.Errorf("on-time share: %w", err)
	}
	teams, err := collect(rows, func(rows *sql.Rows) (ft.TeamOnTime, error) {
		var t ft.TeamOnTime
		err := rows.Scan(&t.Team, &t.Items, &t.Finished, &t.OnTime)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("on-time share: %w", err)
	}
	if teams == nil {
		teams = []ft.TeamOnTime{}
	}
	return teams, nil
}

// onTimeQuery selects, per team, its items, finished items and items finished in time.
func onTimeQuery(f ft.InsightsFilter, policy ft.StallPolicy) *sqlText {
	q := &sqlText{}
	q.add(`SELECT team, COUNT(*), SUM(finished), SUM(on_time) FROM (
		SELECT ` + itemTeam + ` AS team,
			CASE WHEN i.status IN ` + finishedStatuses + ` THEN 1 ELSE 0 END AS finished,
			CASE WHEN i.status IN ` + finishedStatuses + ` AND ` + epochDay(finishedAt) + `
				+ CASE WHEN i.status = 'wont_do' THEN 1 ELSE 0 END <= `).dueDay(policy).add(` THEN 1 ELSE 0 END AS on_time`).
		inScope(f).add(`) AS items GROUP BY team ORDER BY team`)
	return q
}

// DaysToDone is, per priority (P0 to P3, each listed), the median time in days from sign-off
// (acceptance, when there is none) to done, over done items; an item done at sign-off, or
// before it, took 0 days. Won't-do items are not done and do not count.
func (s *Store) DaysToDone(ctx context.Context, f ft.InsightsFilter) ([]ft.PriorityDays, error) {
	return daysToDone(ctx, s.readDB, f)
}

func daysToDone(ctx context.Context, db querier, f ft.InsightsFilter) ([]ft.PriorityDays, error) {
	sq := daysToDoneQuery(f)
	rows, err := db.QueryContext(ctx, sq.sql.String(), sq.args...)
	if err != nil {
		return nil, fmt.Errorf("days to done: %w", err)
	}
	medians, err := collect(rows, func(rows *sql.Rows) (ft.PriorityDays, error) {
		var p ft.PriorityDays
		var seconds float64
		if err := rows.Scan(&p.Priority, &p.Done, &seconds); err != nil {
			return p, err
		}
		days := seconds / 86400
		p.MedianDays = &days
		return p, nil
	})
	if err != nil {
		return nil, fmt.Errorf("days to done: %w", err)
	}
	out := make([]ft.PriorityDays, 0, len(ft.Priorities))
	for _, priority := range ft.Priorities {
		p := ft.PriorityDays{Priority: priority}
		for _, m := range medians {
			if m.Priority == priority {
				p = m
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// daysToDoneQuery selects, per priority with a done item, how many are done and the median of
// their seconds from sign-off to done: the middle one, or the mean of the middle two.
func daysToDoneQuery(f ft.InsightsFilter) *sqlText {
	q := &sqlText{}
	q.add(`WITH done (priority, seconds) AS (
		SELECT i.priority, ` + epochSeconds(finishedAt) + ` - ` + epochSeconds("p.sort_at")).inScope(f).add(` AND i.status = 'done'),
	ranked (priority, seconds, n, total) AS (
		SELECT priority, CASE WHEN seconds < 0 THEN 0 ELSE seconds END,
			ROW_NUMBER() OVER (PARTITION BY priority ORDER BY seconds),
			COUNT(*) OVER (PARTITION BY priority)
		FROM done)
	SELECT priority, total, AVG(seconds) FROM ranked
	WHERE n IN ((total + 1) / 2, (total + 2) / 2) GROUP BY priority, total`)
	return q
}

// OverdueByAge counts the unfinished items whose effective due day has ended, by whole days
// since its end at now: under 7, 7–27, 28–89, 90 or more.
func (s *Store) OverdueByAge(ctx context.Context, f ft.InsightsFilter, policy ft.StallPolicy, now time.Time) ([]ft.AgeBucket, error) {
	return overdueByAge(ctx, s.readDB, f, policy, now)
}

func overdueByAge(ctx context.Context, db querier, f ft.InsightsFilter, policy ft.StallPolicy, now time.Time) ([]ft.AgeBucket, error) {
	sq := overdueQuery(f, policy, dayNumber(now))
	rows, err := db.QueryContext(ctx, sq.sql.String(), sq.args...)
	if err != nil {
		return nil, fmt.Errorf("overdue by age: %w", err)
	}
	out := ft.OverdueAges()
	_, err = collect(rows, func(rows *sql.Rows) (struct{}, error) {
		var bucket, items int
		if err := rows.Scan(&bucket, &items); err != nil {
			return struct{}{}, err
		}
		if bucket < 0 || bucket >= len(out) {
			return struct{}{}, fmt.Errorf("no age bucket %d", bucket)
		}
		out[bucket].Items = items
		return struct{}{}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("overdue by age: %w", err)
	}
	return out, nil
}

// overdueQuery selects, per age bucket (its index in ft.OverdueAges) with an overdue item, how
// many items are in it on the day today.
func overdueQuery(f ft.InsightsFilter, policy ft.StallPolicy, today int64) *sqlText {
	q := &sqlText{}
	q.add("SELECT bucket, SUM(items) FROM (SELECT CASE")
	for i, b := range ft.OverdueAges() {
		if b.ToDays != 0 {
			q.add(" WHEN age < ? THEN CAST(? AS BIGINT)", b.ToDays, i)
		}
	}
	// Items are counted per due day first, so that each item's due day is worked out once.
	q.add(` ELSE CAST(? AS BIGINT) END AS bucket, items FROM (
		SELECT ? - due_day - 1 AS age, COUNT(*) AS items FROM (SELECT `, len(ft.OverdueAges())-1, today).dueDay(policy).add(` AS due_day`).
		inScope(f).add(` AND i.status IN `+unfinishedStatuses+`) AS unfinished
		WHERE due_day < ? GROUP BY due_day) AS days) AS ages GROUP BY bucket`, today)
	return q
}
