package followthrough

import "time"

// The figures of the status page's /owners and /insights: who owes what, and whether action
// items get done on time. The store computes them; the status page shows them.

// OwnerSummary is what one owner owes.
type OwnerSummary struct {
	Email   string `json:"email"` // lower-cased
	Open    int    `json:"open"`  // unfinished items
	Overdue int    `json:"overdue"`
	Stalled int    `json:"stalled"`
	// OldestOverdueDue is the earliest effective due date of their overdue items, YYYY-MM-DD;
	// nil when none is overdue.
	OldestOverdueDue *string `json:"oldest_overdue_due"`
}

// OwedItem is one unfinished item of an owner.
type OwedItem struct {
	ItemView
	PostmortemID    string `json:"postmortem_id"`
	PostmortemTitle string `json:"postmortem_title"`
	// DueDate is the effective due date: the item's own, else the one default_due gives.
	DueDate string `json:"due_date"`
	Overdue bool   `json:"overdue"`
	// DaysOverdue counts the days from the due date to today (UTC): 1 on the day after it; 0
	// when the item is not overdue.
	DaysOverdue int `json:"days_overdue"`
}

// InsightsFilter selects the items that the figures of /insights count. Removed items never
// count.
type InsightsFilter struct {
	Team     string    // the item's own team, else its postmortem's; empty: any
	Severity string    // the postmortem's severity; empty: any
	Since    time.Time // postmortems signed off (accepted, when there is no sign-off time) at or after; zero: any
}

// Insights are the four figures of /insights.
type Insights struct {
	Burndown   []WeekCount    `json:"burndown"`
	OnTime     []TeamOnTime   `json:"on_time"`
	DaysToDone []PriorityDays `json:"days_to_done"`
	Overdue    []AgeBucket    `json:"overdue_by_age"`
}

// WeekCount is one week of the burn-down. Weeks run Monday to Sunday, UTC.
type WeekCount struct {
	Week string `json:"week"` // its Monday, YYYY-MM-DD
	// Created counts the items accepted in the week.
	Created int `json:"created"`
	// Finished counts the changes into done or wont_do in the week; an item that was already
	// finished at sign-off counts in the week it was accepted.
	Finished int `json:"finished"`
	// Reopened counts the changes from done or wont_do back to open or in_progress.
	Reopened int `json:"reopened"`
	// Unfinished counts the items not finished at the end of the week (for the current week:
	// now).
	Unfinished int `json:"unfinished"`
}

// TeamOnTime is one team's share of items finished by their due date.
type TeamOnTime struct {
	Team     string `json:"team"`     // "" for items with no team, nor one on their postmortem
	Items    int    `json:"items"`    // every item of the team
	Finished int    `json:"finished"` // done or wont_do
	// OnTime counts the finished items that were finished in time: done by the end of the
	// due day (UTC), won't-do before the due day began.
	OnTime int `json:"on_time"`
}

// PriorityDays is the median time from sign-off to done of one priority's done items.
type PriorityDays struct {
	Priority   string   `json:"priority"`
	Done       int      `json:"done"`
	MedianDays *float64 `json:"median_days"` // nil when no item of the priority is done
}

// AgeBucket counts the overdue items whose age, in whole days since the end of their due day,
// is at least FromDays and less than ToDays (no upper bound when ToDays is 0).
type AgeBucket struct {
	FromDays int `json:"from_days"`
	ToDays   int `json:"to_days,omitempty"`
	Items    int `json:"items"`
}

// OverdueAges are the empty buckets of the overdue figure: under a week, 1–4 weeks, 1–3 months,
// older.
func OverdueAges() []AgeBucket {
	return []AgeBucket{{FromDays: 0, ToDays: 7}, {FromDays: 7, ToDays: 28}, {FromDays: 28, ToDays: 90}, {FromDays: 90}}
}
