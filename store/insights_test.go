package store

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
)

// insightsNow is the clock of the insights tests: Thursday 2026-11-26 12:00 UTC, in the week
// that starts on Monday 2026-11-23.
var insightsNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// testPolicy is the configuration's default default_due: P0 and P1 28 days, P2 and P3 56.
var testPolicy = ft.StallPolicy{DefaultDue: map[string]time.Duration{
	"P0": 28 * 24 * time.Hour, "P1": 28 * 24 * time.Hour, "P2": 56 * 24 * time.Hour, "P3": 56 * 24 * time.Hour}}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// seedInsights stores a history whose figures are worked out by hand in the tests below.
//
//	PM-A payments SEV1, signed off Mon 2026-11-02 10:00, accepted 11:00
//	  A1 bob   P1 due 11-10  done 11-09 10:00                 early: on time, 7 days
//	  A2 bob   P1 due 11-10  done 11-10 22:00                 on the due day: on time, 8.5 days
//	  A3 bob   P1 due 11-10  done 11-11 10:00                 late, 9 days
//	  A4 alice P2 no due (default 12-28)  open                not overdue
//	  A5 bob   P1 due 11-10  won't do 11-09 10:00             before the due date: on time
//	  A6 bob   P1 due 11-10  won't do 11-10 01:00             on the due day: not on time
//	  A7 bob   P0 due 11-05  done 11-04, reopened 11-06, done 11-12 10:00   late, 10 days
//	  A8 bob   P3 due 11-20  done 11-03, removed 11-20        left out everywhere
//	  A9 carol P1 due 10-29  open                             overdue, 27 days past the due day
//	PM-B search SEV2, signed off Thu 2026-10-01 08:00, accepted 09:00
//	  B1 carol P0 no due (default 10-29)  open, stalled       overdue 27 days
//	  B2 carol P2 due 11-25  in progress                      overdue 0 days
//	  B3 dave  P2 due 11-26  open                             due today: not overdue
//	  B4 BOB   P3 due 08-01  open                             overdue 116 days
//	  B5 erin  P1 no due     done at sign-off (no history)    on time, 0 days
//	  B6 erin  P1 due 10-15, team platform, done 10-20 08:00  late, 19 days
//	  B7 erin  P0 no due     done 10-03 08:00                 on time, 2 days
//	  B8 erin  P3 no due (default 11-26)  won't do at sign-off, unchecked 10-10, done 10-14 08:00
//	                                                          on time, 13 days
//	PM-C no team, SEV3, no sign-off time, accepted Tue 2026-11-24 09:00
//	  C1 dave  P2 due 09-01  open                             overdue 85 days
//	  C2 carol P2 due 11-18  open                             overdue 7 days
//	  C3 dave  P2 due 11-19  open                             overdue 6 days
//	  C4 alice P2 due 2027-01-15  open                        not overdue
func seedInsights(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	it := func(id, owner, priority, due string) ft.ActionItem {
		return ft.ActionItem{ID: id, Title: "item " + id, Owner: owner, Priority: priority, Due: due}
	}
	doc := func(id, team, severity string, signed *time.Time, items ...ft.ActionItem) *ft.Document {
		return &ft.Document{ID: id, Title: "Outage " + id, Status: "finalized", Team: team, Severity: severity,
			SignedOffBy: []string{"carol@acme.com"}, SignedOffAt: signed, ActionItems: items}
	}
	intake := func(d *ft.Document, now time.Time, finished map[string]ft.Status) {
		t.Helper()
		if err := intakeItems(ctx, s, d, now, finished); err != nil {
			t.Fatalf("intake %s: %v", d.ID, err)
		}
	}
	type change struct {
		pm, item string
		to       ft.Status
		source   string
		at       string
	}
	apply := func(changes ...change) {
		t.Helper()
		err := s.Write(ctx, func(tx *Tx) error {
			for _, c := range changes {
				if _, err := SetItemStatus(ctx, tx, c.pm, c.item, c.to, c.source, "", at(c.at)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	signedB := at("2026-10-01T08:00:00Z")
	b6 := it("B6", "erin@acme.com", "P1", "2026-10-15")
	b6.Team = "platform"
	intake(doc("PM-B", "search", "SEV2", &signedB,
		it("B1", "carol@acme.com", "P0", ""), it("B2", "carol@acme.com", "P2", "2026-11-25"),
		it("B3", "dave@acme.com", "P2", "2026-11-26"), it("B4", "BOB@acme.com", "P3", "2026-08-01"),
		it("B5", "erin@acme.com", "P1", ""), b6, it("B7", "erin@acme.com", "P0", ""),
		// B5 and B8 were finished at sign-off: stored so, with no status change.
		it("B8", "erin@acme.com", "P3", "")), at("2026-10-01T09:00:00Z"), map[string]ft.Status{"B5": ft.StatusDone, "B8": ft.StatusWontDo})
	err := s.Write(ctx, func(tx *Tx) error {
		return SetItemStall(ctx, tx, "PM-B", "B1", ItemStall{Reason: ft.StallOverdue, Episode: 1, Since: at("2026-10-31T00:00:00Z")})
	})
	if err != nil {
		t.Fatal(err)
	}
	apply(change{"PM-B", "B7", ft.StatusDone, "github", "2026-10-03T08:00:00Z"},
		change{"PM-B", "B8", ft.StatusOpen, "revision", "2026-10-10T08:00:00Z"},
		change{"PM-B", "B8", ft.StatusDone, "github", "2026-10-14T08:00:00Z"},
		change{"PM-B", "B6", ft.StatusInProgress, "github", "2026-10-16T08:00:00Z"},
		change{"PM-B", "B6", ft.StatusDone, "github", "2026-10-20T08:00:00Z"},
		change{"PM-B", "B2", ft.StatusInProgress, "github", "2026-11-20T08:00:00Z"})

	signedA := at("2026-11-02T10:00:00Z")
	pmA := doc("PM-A", "payments", "SEV1", &signedA,
		it("A1", "bob@acme.com", "P1", "2026-11-10"), it("A2", "bob@acme.com", "P1", "2026-11-10"),
		it("A3", "bob@acme.com", "P1", "2026-11-10"), it("A4", "alice@acme.com", "P2", ""),
		it("A5", "bob@acme.com", "P1", "2026-11-10"), it("A6", "bob@acme.com", "P1", "2026-11-10"),
		it("A7", "bob@acme.com", "P0", "2026-11-05"), it("A8", "bob@acme.com", "P3", "2026-11-20"),
		it("A9", "carol@acme.com", "P1", "2026-10-29"))
	intake(pmA, at("2026-11-02T11:00:00Z"), nil)
	apply(change{"PM-A", "A8", ft.StatusDone, "github", "2026-11-03T10:00:00Z"},
		change{"PM-A", "A7", ft.StatusDone, "github", "2026-11-04T10:00:00Z"},
		change{"PM-A", "A7", ft.StatusOpen, "github", "2026-11-06T10:00:00Z"},
		change{"PM-A", "A1", ft.StatusDone, "jira", "2026-11-09T10:00:00Z"},
		change{"PM-A", "A5", ft.StatusWontDo, "jira", "2026-11-09T10:00:00Z"},
		change{"PM-A", "A6", ft.StatusWontDo, "api", "2026-11-10T01:00:00Z"},
		change{"PM-A", "A2", ft.StatusInProgress, "jira", "2026-11-10T09:00:00Z"},
		change{"PM-A", "A2", ft.StatusDone, "jira", "2026-11-10T22:00:00Z"},
		change{"PM-A", "A3", ft.StatusDone, "jira", "2026-11-11T10:00:00Z"},
		change{"PM-A", "A7", ft.StatusInProgress, "github", "2026-11-11T10:00:00Z"},
		change{"PM-A", "A7", ft.StatusDone, "github", "2026-11-12T10:00:00Z"},
		// Done changed to won't do: still finished, and finished since the first.
		change{"PM-A", "A1", ft.StatusWontDo, "jira", "2026-11-13T10:00:00Z"},
		change{"PM-A", "A1", ft.StatusDone, "jira", "2026-11-13T11:00:00Z"})
	// Revision 2 drops A8: removed and won't do, as a revision stores it.
	err = s.Write(ctx, func(tx *Tx) error {
		a8, err := LoadItemTx(ctx, tx, "PM-A", "A8")
		if err != nil {
			return err
		}
		from := a8.Status
		a8.Removed, a8.Status = true, ft.StatusWontDo
		return ApplyIntake(ctx, tx, IntakePlan{
			Postmortem: PostmortemRow{ID: pmA.ID, Title: pmA.Title, Team: pmA.Team, Severity: pmA.Severity, SignedOffAt: pmA.SignedOffAt},
			Revision:   Revision{Number: 2, Hash: "revision-2", Document: []byte("{}")},
			Items:      []ItemChange{{Row: a8.ItemRow, From: from}},
		}, at("2026-11-20T10:00:00Z"))
	})
	if err != nil {
		t.Fatal(err)
	}

	intake(doc("PM-C", "", "SEV3", nil,
		it("C1", "dave@acme.com", "P2", "2026-09-01"), it("C2", "carol@acme.com", "P2", "2026-11-18"),
		it("C3", "dave@acme.com", "P2", "2026-11-19"), it("C4", "alice@acme.com", "P2", "2027-01-15")),
		at("2026-11-24T09:00:00Z"), nil)
}

// intakeItems stores a new postmortem and its items as a first intake does, accepted at now,
// each item open unless finished says how it was finished at sign-off.
func intakeItems(ctx context.Context, s *Store, doc *ft.Document, now time.Time, finished map[string]ft.Status) error {
	plan := IntakePlan{
		Postmortem: PostmortemRow{ID: doc.ID, Title: doc.Title, URL: doc.URL, Severity: doc.Severity, Team: doc.Team,
			SignedOffAt: doc.SignedOffAt},
		Revision: Revision{Number: 1, Hash: doc.Hash(), Document: []byte("{}")},
	}
	for i, it := range doc.ActionItems {
		status := ft.StatusOpen
		if st, ok := finished[it.ID]; ok {
			status = st
		}
		plan.Items = append(plan.Items, ItemChange{New: true, Row: ItemRow{PostmortemID: doc.ID, ID: it.ID, Position: i,
			Title: it.Title, Owner: it.Owner, Priority: it.Priority, Due: it.Due, Team: it.Team, Labels: []string{},
			Target: repoA, Status: status}})
	}
	return s.Write(ctx, func(tx *Tx) error { return ApplyIntake(ctx, tx, plan, now) })
}

func TestBurndown(t *testing.T) { forEachBackend(t, testBurndown) }

func testBurndown(t *testing.T, db backend) {
	s := db.open(t)
	seedInsights(t, s)
	w := func(week string, created, finished, reopened, unfinished int) ft.WeekCount {
		return ft.WeekCount{Week: week, Created: created, Finished: finished, Reopened: reopened, Unfinished: unfinished}
	}
	all := []ft.WeekCount{
		// PM-B's 8 items; B5 and B8 finished at sign-off, B7 done on Saturday.
		w("2026-09-28", 8, 3, 0, 5),
		w("2026-10-05", 0, 0, 1, 6), // B8 unchecked
		w("2026-10-12", 0, 1, 0, 5), // B8 done
		w("2026-10-19", 0, 1, 0, 4), // B6 done
		w("2026-10-26", 0, 0, 0, 4),
		// PM-A's items but the removed A8; A7 done and reopened.
		w("2026-11-02", 8, 1, 1, 12),
		// A1, A5, A2, A6, A3 and A7 finished; A1's done → won't do → done is no crossing.
		w("2026-11-09", 0, 6, 0, 6),
		w("2026-11-16", 0, 0, 0, 6),
		w("2026-11-23", 4, 0, 0, 10), // PM-C; the current week
	}
	tests := []struct {
		name string
		f    ft.InsightsFilter
		now  time.Time
		want []ft.WeekCount
	}{
		{"everything", ft.InsightsFilter{}, insightsNow, all},
		{"weeks without changes run to now", ft.InsightsFilter{}, insightsNow.Add(14 * 24 * time.Hour),
			append(slices.Clone(all), w("2026-11-30", 0, 0, 0, 10), w("2026-12-07", 0, 0, 0, 10))},
		{"severity", ft.InsightsFilter{Severity: "SEV1"}, insightsNow, []ft.WeekCount{
			w("2026-11-02", 8, 1, 1, 8), w("2026-11-09", 0, 6, 0, 2), w("2026-11-16", 0, 0, 0, 2), w("2026-11-23", 0, 0, 0, 2)}},
		{"team is the item's own first", ft.InsightsFilter{Team: "platform"}, insightsNow, []ft.WeekCount{
			w("2026-09-28", 1, 0, 0, 1), w("2026-10-05", 0, 0, 0, 1), w("2026-10-12", 0, 0, 0, 1), w("2026-10-19", 0, 1, 0, 0),
			w("2026-10-26", 0, 0, 0, 0), w("2026-11-02", 0, 0, 0, 0), w("2026-11-09", 0, 0, 0, 0), w("2026-11-16", 0, 0, 0, 0),
			w("2026-11-23", 0, 0, 0, 0)}},
		{"since filters on sign-off, else acceptance", ft.InsightsFilter{Since: at("2026-11-03T00:00:00Z")}, insightsNow, []ft.WeekCount{
			w("2026-11-23", 4, 0, 0, 4)}},
		{"nothing matches", ft.InsightsFilter{Team: "nobody"}, insightsNow, []ft.WeekCount{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := figures(t, s, tc.f, tc.now).Burndown
			if !slices.Equal(got, tc.want) {
				t.Fatalf("burn-down\n%v\nwant\n%v", got, tc.want)
			}
		})
	}
}

func TestOnTimeByTeam(t *testing.T) { forEachBackend(t, testOnTimeByTeam) }

func testOnTimeByTeam(t *testing.T, db backend) {
	s := db.open(t)
	seedInsights(t, s)
	tests := []struct {
		name string
		f    ft.InsightsFilter
		want []ft.TeamOnTime
	}{
		{"everything", ft.InsightsFilter{}, []ft.TeamOnTime{
			{Team: "", Items: 4},
			// A1, A2 (on its due day) and A5 (won't do before the due date) in time; A3 a day
			// late, A6 won't do on the due day, A7 finished last after its due date.
			{Team: "payments", Items: 8, Finished: 6, OnTime: 3},
			{Team: "platform", Items: 1, Finished: 1, OnTime: 0},
			// B5 at sign-off, B7 and B8 before their default due dates.
			{Team: "search", Items: 7, Finished: 3, OnTime: 3},
		}},
		{"team", ft.InsightsFilter{Team: "search"}, []ft.TeamOnTime{{Team: "search", Items: 7, Finished: 3, OnTime: 3}}},
		{"severity", ft.InsightsFilter{Severity: "SEV2"}, []ft.TeamOnTime{
			{Team: "platform", Items: 1, Finished: 1}, {Team: "search", Items: 7, Finished: 3, OnTime: 3}}},
		{"nothing matches", ft.InsightsFilter{Severity: "SEV9"}, []ft.TeamOnTime{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := figures(t, s, tc.f, insightsNow).OnTime
			if !slices.Equal(got, tc.want) {
				t.Fatalf("on time\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestDaysToDone(t *testing.T) { forEachBackend(t, testDaysToDone) }

func testDaysToDone(t *testing.T, db backend) {
	s := db.open(t)
	seedInsights(t, s)
	days := func(d float64) *float64 { return &d }
	tests := []struct {
		name string
		f    ft.InsightsFilter
		want []ft.PriorityDays
	}{
		// P0: B7 2 days, A7 10 (its last finish): the mean of the middle two. P1: B5 0 (at
		// sign-off), A1 7, A2 8.5, A3 9, B6 19; won't-do A5 and A6 are not done. P3: B8 13;
		// the removed A8 is left out.
		{"everything", ft.InsightsFilter{}, []ft.PriorityDays{
			{Priority: "P0", Done: 2, MedianDays: days(6)}, {Priority: "P1", Done: 5, MedianDays: days(8.5)},
			{Priority: "P2"}, {Priority: "P3", Done: 1, MedianDays: days(13)}}},
		{"team", ft.InsightsFilter{Team: "payments"}, []ft.PriorityDays{
			{Priority: "P0", Done: 1, MedianDays: days(10)}, {Priority: "P1", Done: 3, MedianDays: days(8.5)},
			{Priority: "P2"}, {Priority: "P3"}}},
		{"nothing matches", ft.InsightsFilter{Team: "nobody"}, []ft.PriorityDays{
			{Priority: "P0"}, {Priority: "P1"}, {Priority: "P2"}, {Priority: "P3"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := figures(t, s, tc.f, insightsNow).DaysToDone
			if g, w := jsonText(t, got), jsonText(t, tc.want); g != w {
				t.Fatalf("days to done\n%s\nwant\n%s", g, w)
			}
		})
	}
}

func TestOverdueByAge(t *testing.T) { forEachBackend(t, testOverdueByAge) }

func testOverdueByAge(t *testing.T, db backend) {
	s := db.open(t)
	seedInsights(t, s)
	b := func(under7, under28, under90, older int) []ft.AgeBucket {
		return []ft.AgeBucket{{FromDays: 0, ToDays: 7, Items: under7}, {FromDays: 7, ToDays: 28, Items: under28},
			{FromDays: 28, ToDays: 90, Items: under90}, {FromDays: 90, Items: older}}
	}
	tests := []struct {
		name string
		f    ft.InsightsFilter
		now  time.Time
		want []ft.AgeBucket
	}{
		// B2 (due yesterday) and C3 are under a week past their due day, C2 exactly 7 days;
		// A9 and B1 (default due) 27; C1 85; B4 116. B3 is due today; finished items never
		// count.
		{"everything", ft.InsightsFilter{}, insightsNow, b(2, 3, 1, 1)},
		{"the last instant of a due day", ft.InsightsFilter{}, at("2026-11-26T23:59:59Z"), b(2, 3, 1, 1)},
		{"the first instant after", ft.InsightsFilter{}, at("2026-11-27T00:00:00Z"), b(2, 2, 3, 1)},
		{"team", ft.InsightsFilter{Team: "search"}, insightsNow, b(1, 1, 0, 1)},
		{"since", ft.InsightsFilter{Since: at("2026-11-01T00:00:00Z")}, insightsNow, b(1, 2, 1, 0)},
		{"nothing matches", ft.InsightsFilter{Team: "nobody"}, insightsNow, b(0, 0, 0, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := figures(t, s, tc.f, tc.now).Overdue
			if !slices.Equal(got, tc.want) {
				t.Fatalf("overdue by age %v, want %v", got, tc.want)
			}
		})
	}
}

// figures are the insights of f at now under testPolicy, as the status page reads them: each
// figure's test checks its own.
func figures(t *testing.T, s *Store, f ft.InsightsFilter, now time.Time) ft.Insights {
	t.Helper()
	got, err := s.Insights(context.Background(), f, testPolicy, now)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
