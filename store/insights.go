package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	ft "github.com/followthrough/followthrough"
)

// The figures of the status page's /insights (ft.Insights), each computed by SQL over the
// numbers kept on items and their status history as they change (figures.go), so that only the
// figures leave the database. The SQL is standard (CTEs, window functions, integer arithmetic).

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

// Status sets as SQL lists.
const (
	finishedStatuses   = "('done', 'wont_do')"
	unfinishedStatuses = "('open', 'in_progress')"
)

// filter appends the conditions that select what f counts, on the figure numbers of the rows
// of alias (an item, or a status change, which carries its item's).
func (q *sqlText) filter(f ft.InsightsFilter, alias string) *sqlText {
	if f.Severity != "" {
		q.add(" AND "+alias+".severity = ?", f.Severity)
	}
	if !f.Since.IsZero() {
		// Since is a midnight: a sign-off in whole seconds is at or after it exactly when the
		// sign-off is.
		q.add(" AND "+alias+".signed_off_unix >= ?", f.Since.Unix())
	}
	if f.Team != "" {
		q.add(" AND "+alias+".figure_team = ?", f.Team)
	}
	return q
}

// dayNumber is the day number of t's UTC date.
func dayNumber(t time.Time) int64 { return t.Unix() / 86400 }

// dayDate is the YYYY-MM-DD of a day number.
func dayDate(day int64) string { return time.Unix(day*86400, 0).UTC().Format(time.DateOnly) }

// dueDay appends SQL for the day number of an item's effective due date, as ft.DueDate decides
// it: the item's own due date, else the day that the policy's default_due for its priority
// after sign-off (acceptance when there is none) falls in. default_due is taken in whole
// seconds; adding them to the whole seconds of the sign-off finds the same day as adding them
// to the exact time, since midnights fall on whole seconds.
func (q *sqlText) dueDay(policy ft.StallPolicy) *sqlText {
	q.add("COALESCE(i.due_day, (i.signed_off_unix + CASE i.priority")
	for _, p := range ft.Priorities {
		q.add(" WHEN ? THEN CAST(? AS BIGINT)", p, int64(policy.DefaultDueFor(p)/time.Second))
	}
	return q.add(" ELSE CAST(? AS BIGINT) END) / 86400)", int64(policy.DefaultDueFor(ft.DefaultPriority)/time.Second))
}

// finishedUnix is SQL for when a finished item finished, in Unix seconds: its latest change
// from unfinished into done or wont_do (kept on the item as its status changes), or, with none,
// its sign-off (it was finished at sign-off).
const finishedUnix = `COALESCE(i.finished_unix, i.signed_off_unix)`

// doneSeconds is SQL for a done item's seconds from sign-off to done, 0 when done at or before
// sign-off: the expression of the index items_days_to_done, which the median reads in order.
const doneSeconds = `(CASE WHEN i.finished_unix > i.signed_off_unix THEN i.finished_unix - i.signed_off_unix ELSE 0 END)`

// burndown counts, per week, the items created, finished and reopened and the items unfinished
// at its end, from the first week with an item to now's week; weeks without changes are
// included.
//
// Finished and reopened come from the status history's crossings between unfinished and
// finished. An item that was finished at sign-off has no crossing into finished: what an item
// is now, undone by its crossings, is what it was when it was created, so those items count as
// finished in the week they were created.
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
	last := max(weeks[len(weeks)-1].day, weekOf(today))
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
// finished and reopened in it, and the items unfinished at its end. Each row is counted into
// its week as it is read from an index in week order: the items by creation week (with those
// finished at creation), and the status history's crossings by week.
func burndownQuery(f ft.InsightsFilter) *sqlText {
	q := &sqlText{}
	q.add(`WITH events (week, created, finished, reopened) AS (
		SELECT i.created_week, COUNT(*), SUM(i.born_finished), 0 FROM items i WHERE i.removed = 0`).filter(f, "i").
		add(` GROUP BY i.created_week
		UNION ALL
		SELECT h.week, 0, SUM(CASE WHEN h.crossing = 1 THEN 1 ELSE 0 END), SUM(CASE WHEN h.crossing = -1 THEN 1 ELSE 0 END)
		FROM status_history h WHERE h.crossing <> 0 AND h.removed = 0`).filter(f, "h").add(` GROUP BY h.week),
	weeks (week, created, finished, reopened) AS (
		SELECT week, SUM(created), SUM(finished), SUM(reopened) FROM events GROUP BY week)
	SELECT week, created, finished, reopened,
		SUM(created - finished + reopened) OVER (ORDER BY week ROWS UNBOUNDED PRECEDING)
	FROM weeks ORDER BY week`)
	return q
}

// onTimeByTeam counts, per team, the items, the finished ones, and those finished in time: done
// by the end of the effective due day (UTC), or won't-do before the due day began (deciding not
// to do something on the day it is due is not doing it on time). An item finished at sign-off
// finished then. Teams are in name order.
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
	q.add(`SELECT i.figure_team, COUNT(*), SUM(CASE WHEN i.status IN `+finishedStatuses+` THEN 1 ELSE 0 END),
		SUM(CASE WHEN i.status IN `+finishedStatuses+` AND `+finishedUnix+` / 86400
			+ CASE WHEN i.status = 'wont_do' THEN 1 ELSE 0 END <= `).dueDay(policy).add(` THEN 1 ELSE 0 END)
		FROM items i WHERE i.removed = 0`).filter(f, "i").add(` GROUP BY i.figure_team ORDER BY i.figure_team`)
	return q
}

// daysToDone is, per priority (P0 to P3, each listed), the median time in days from sign-off
// (acceptance, when there is none) to done, over done items; an item done at sign-off, or
// before it, took 0 days. Won't-do items are not done and do not count.
func daysToDone(ctx context.Context, db querier, f ft.InsightsFilter) ([]ft.PriorityDays, error) {
	sq := doneCountQuery(f)
	rows, err := db.QueryContext(ctx, sq.sql.String(), sq.args...)
	if err != nil {
		return nil, fmt.Errorf("days to done: %w", err)
	}
	type count struct {
		priority string
		done     int
	}
	counts, err := collect(rows, func(rows *sql.Rows) (count, error) {
		var c count
		err := rows.Scan(&c.priority, &c.done)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("days to done: %w", err)
	}
	out := make([]ft.PriorityDays, 0, len(ft.Priorities))
	for _, priority := range ft.Priorities {
		p := ft.PriorityDays{Priority: priority}
		for _, c := range counts {
			if c.priority != priority || c.done == 0 {
				continue
			}
			// The median: the middle one, or the mean of the middle two, read in order from the
			// index items_days_to_done.
			first, last := (c.done+1)/2, (c.done+2)/2
			mq := middleDoneQuery(f, priority, first-1, last-first+1)
			seconds, err := middleSeconds(ctx, db, mq)
			if err != nil {
				return nil, fmt.Errorf("days to done: %w", err)
			}
			var sum float64
			for _, s := range seconds {
				sum += float64(s)
			}
			days := sum / float64(len(seconds)) / 86400
			p.Done, p.MedianDays = c.done, &days
		}
		out = append(out, p)
	}
	return out, nil
}

// middleSeconds runs a middleDoneQuery and reads its seconds.
func middleSeconds(ctx context.Context, db querier, q *sqlText) ([]int64, error) {
	rows, err := db.QueryContext(ctx, q.sql.String(), q.args...)
	if err != nil {
		return nil, err
	}
	out, err := collect(rows, func(rows *sql.Rows) (int64, error) {
		var n int64
		err := rows.Scan(&n)
		return n, err
	})
	if err == nil && len(out) == 0 {
		err = errors.New("no middle item")
	}
	return out, err
}

// doneCountQuery selects, per priority with a done item, how many are done.
func doneCountQuery(f ft.InsightsFilter) *sqlText {
	q := &sqlText{}
	return q.add(`SELECT i.priority, COUNT(*) FROM items i WHERE i.removed = 0 AND i.status = 'done'`).filter(f, "i").
		add(` GROUP BY i.priority`)
}

// middleDoneQuery selects the seconds from sign-off to done of n done items of a priority,
// after the first skip in that order.
func middleDoneQuery(f ft.InsightsFilter, priority string, skip, n int) *sqlText {
	q := &sqlText{}
	return q.add(`SELECT `+doneSeconds+` FROM items i WHERE i.removed = 0 AND i.status = 'done' AND i.priority = ?`, priority).
		filter(f, "i").add(` ORDER BY `+doneSeconds+` LIMIT ? OFFSET ?`, n, skip)
}

// overdueByAge counts the unfinished items whose effective due day has ended, by whole days
// since its end at now: under 7, 7–27, 28–89, 90 or more.
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
		SELECT ? - due_day - 1 AS age, COUNT(*) AS items FROM (SELECT `, len(ft.OverdueAges())-1, today).dueDay(policy).add(` AS due_day
		FROM items i WHERE i.removed = 0 AND i.status IN `+unfinishedStatuses).filter(f, "i").add(`) AS unfinished
		WHERE due_day < ? GROUP BY due_day) AS days) AS ages GROUP BY bucket`, today)
	return q
}
