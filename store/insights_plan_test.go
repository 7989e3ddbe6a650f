package store

import (
	"regexp"
	"strings"
	"testing"

	ft "github.com/followthrough/followthrough"
)

// TestInsightsQueryPlans checks, with EXPLAIN QUERY PLAN, that the figures read the indexes of
// migration 0015, which hold the numbers the figures compute with in the order they group by:
// items (i) and the status history (h) are never scanned as tables, the history is read only
// through its crossing index (and only by the burn-down), no postmortem is read, and no
// automatic index is built per query. Run with -v to see the plans.
func TestInsightsQueryPlans(t *testing.T) {
	s := openTest(t)
	seedInsights(t, s)
	today := dayNumber(insightsNow)
	all := ft.InsightsFilter{Team: "payments", Severity: "SEV1", Since: insightsNow}
	tests := []struct {
		name  string
		query *sqlText
		uses  []string // indexes the plan must use
	}{
		{"burn-down", burndownQuery(ft.InsightsFilter{}), []string{"COVERING INDEX items_by_created_week", "COVERING INDEX status_history_crossings"}},
		// With filters, the planner may take a team's range of another figure's index instead.
		{"burn-down, filtered", burndownQuery(all), []string{"COVERING INDEX", "COVERING INDEX status_history_crossings"}},
		{"on time", onTimeQuery(ft.InsightsFilter{}, testPolicy), []string{"COVERING INDEX items_by_figure_team"}},
		{"on time, filtered", onTimeQuery(all, testPolicy), []string{"COVERING INDEX items_by_figure_team (figure_team=?)"}},
		{"done per priority", doneCountQuery(ft.InsightsFilter{}), []string{"COVERING INDEX items_days_to_done"}},
		{"done per priority, filtered", doneCountQuery(all), []string{"COVERING INDEX"}},
		{"middle done", middleDoneQuery(ft.InsightsFilter{}, "P1", 3, 2), []string{"COVERING INDEX items_days_to_done (priority=?)"}},
		{"middle done, filtered", middleDoneQuery(all, "P1", 3, 2), []string{"COVERING INDEX items_days_to_done (priority=?)"}},
		{"overdue", overdueQuery(ft.InsightsFilter{}, testPolicy, today), []string{"COVERING INDEX items_unfinished"}},
		{"overdue, filtered", overdueQuery(all, testPolicy, today), []string{"COVERING INDEX"}},
		{"owners", ownersQuery(testPolicy, today), []string{"COVERING INDEX items_owed"}},
		{"owner's items", ownerItemsQuery("bob@acme.com", testPolicy, today), []string{"SEARCH i USING INDEX items_owed (<expr>=?)"}},
	}
	tableScan := regexp.MustCompile(`\bSCAN [ih]\b( |$)`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := plan(t, s, tc.query.sql.String(), tc.query.args...)
			t.Logf("plan of %s:\n%s", tc.name, text)
			for _, step := range strings.Split(text, "\n") {
				if (tableScan.MatchString(step) && !strings.Contains(step, "INDEX")) || strings.Contains(step, "AUTOMATIC") {
					t.Errorf("step %q reads a table or builds an index", step)
				}
				if strings.Contains(step, " h ") && !strings.Contains(step, "status_history_crossings") {
					t.Errorf("step %q reads the history but through its crossing index", step)
				}
				if strings.Contains(step, " p ") && tc.name != "owner's items" {
					t.Errorf("step %q reads the postmortems", step)
				}
				// The on-time share groups, and the median reads, in the index's order.
				if strings.Contains(step, "TEMP B-TREE") && (strings.HasPrefix(tc.name, "on time") || strings.HasPrefix(tc.name, "middle done")) {
					t.Errorf("step %q sorts", step)
				}
			}
			for _, index := range tc.uses {
				if !strings.Contains(text, index) {
					t.Errorf("plan does not use %s", index)
				}
			}
		})
	}
}
