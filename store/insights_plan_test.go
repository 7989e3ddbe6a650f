package store

import (
	"regexp"
	"strings"
	"testing"

	ft "github.com/followthrough/followthrough"
)

// TestInsightsQueryPlans checks, with EXPLAIN QUERY PLAN, that the figures read the indexes of
// migrations 0005 and 0009: items (i) and the status history (h) are never scanned as tables, the
// history is read only through its crossing indexes (and only by the burn-down: when an item
// finished is on the item), and no automatic index is built per query. Run with
// -v to see the plans.
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
		{"burn-down", burndownQuery(ft.InsightsFilter{}), []string{"items_insights", "status_history_finishes", "status_history_reopens"}},
		{"burn-down, filtered", burndownQuery(all), []string{"items_insights", "status_history_finishes", "status_history_reopens"}},
		{"on time", onTimeQuery(ft.InsightsFilter{}, testPolicy), []string{"COVERING INDEX items_insights"}},
		{"on time, filtered", onTimeQuery(all, testPolicy), []string{"COVERING INDEX items_insights"}},
		{"days to done", daysToDoneQuery(ft.InsightsFilter{}), []string{"COVERING INDEX items_insights"}},
		{"days to done, filtered", daysToDoneQuery(all), []string{"COVERING INDEX items_insights"}},
		{"overdue", overdueQuery(ft.InsightsFilter{}, testPolicy, today), []string{"COVERING INDEX items_owed"}},
		// With the status page's filter indexes (migration 0008), the severity and since filter
		// is a range of postmortems_by_severity, whose items are read through items_insights.
		{"overdue, filtered", overdueQuery(all, testPolicy, today), []string{"INDEX postmortems_by_severity (severity=? AND sort_at>?)", "COVERING INDEX items_insights"}},
		{"owners", ownersQuery(testPolicy, today), []string{"COVERING INDEX items_owed"}},
		{"owner's items", ownerItemsQuery("bob@acme.com", testPolicy, today), []string{"SEARCH i USING INDEX items_owed (<expr>=?)"}},
	}
	tableScan := regexp.MustCompile(`\bSCAN [ih]\b( |$)`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := s.readDB.Query("EXPLAIN QUERY PLAN "+tc.query.sql.String(), tc.query.args...)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			text := strings.Join(plan, "\n")
			t.Logf("plan of %s:\n%s", tc.name, text)
			for _, step := range plan {
				if (tableScan.MatchString(step) && !strings.Contains(step, "INDEX")) || strings.Contains(step, "AUTOMATIC") {
					t.Errorf("step %q reads a table or builds an index", step)
				}
				if strings.Contains(step, " h ") && !strings.Contains(step, "status_history_finishes") &&
					!strings.Contains(step, "status_history_reopens") {
					t.Errorf("step %q reads the history but through a crossing index", step)
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
