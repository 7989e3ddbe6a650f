package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
)

// TestEffectiveDueIsTheStallRules: the due dates the store works out in SQL are those of the
// stall rules (ft.DueDate), for every priority, sign-off times around midnight and
// default_due durations that are not whole days; and an item is overdue from the first instant
// after its due day, as ft.Overdue says.
func TestEffectiveDueIsTheStallRules(t *testing.T) {
	forEachBackend(t, testEffectiveDueIsTheStallRules)
}

func testEffectiveDueIsTheStallRules(t *testing.T, db backend) {
	ctx := context.Background()
	s := db.open(t)
	policy := ft.StallPolicy{DefaultDue: map[string]time.Duration{
		"P0": 28 * 24 * time.Hour, "P1": 36 * time.Hour, "P2": 56 * 24 * time.Hour, "P3": 24*time.Hour + 90*time.Minute + 7*time.Second,
	}}
	accepted := time.Date(2026, 3, 1, 23, 59, 59, 999_999_999, time.UTC)
	signOffs := []*time.Time{nil} // none: default_due counts from acceptance
	for _, s := range []string{"2026-01-05T00:00:00Z", "2026-01-05T23:59:59.999999999Z", "2026-01-05T12:00:00.5Z",
		"2026-02-28T22:28:53Z", "2026-02-28T22:28:52.999Z", "2025-12-31T23:59:59Z", "2026-01-05T20:00:00-05:00"} {
		at, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		signOffs = append(signOffs, &at)
	}
	type want struct {
		due   string
		start time.Time // where default_due counts from
	}
	wants := map[string]want{}
	for i, signed := range signOffs {
		doc := &ft.Document{ID: fmt.Sprintf("PM-%d", i), Title: "t", Status: "finalized", SignedOffBy: []string{"carol@acme.com"},
			SignedOffAt: signed}
		start := accepted
		if signed != nil {
			start = *signed
		}
		for _, p := range ft.Priorities {
			doc.ActionItems = append(doc.ActionItems, ft.ActionItem{ID: p, Title: p, Owner: "bob@acme.com", Priority: p})
			due, defaulted := ft.DueDate(ft.StallInput{Priority: p, SignedOffAt: start}, policy)
			if !defaulted {
				t.Fatalf("%s/%s: not a default due date", doc.ID, p)
			}
			wants[doc.ID+"/"+p] = want{due, start}
		}
		if err := intakeItems(ctx, s, doc, accepted, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, now := range []time.Time{accepted, time.Date(2026, 1, 7, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 6, 23, 59, 59, 0, time.UTC)} {
		_, items, err := s.OwnerItems(ctx, "bob@acme.com", policy, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != len(wants) {
			t.Fatalf("%d items, want %d", len(items), len(wants))
		}
		for _, it := range items {
			w := wants[it.PostmortemID+"/"+it.ID]
			if it.DueDate != w.due {
				t.Errorf("%s/%s signed off %s: due %s, the stall rules say %s", it.PostmortemID, it.ID, w.start, it.DueDate, w.due)
			}
			in := ft.StallInput{Priority: it.Priority, Status: it.Status, SignedOffAt: w.start}
			if overdue := ft.Overdue(in, policy, now); it.Overdue != overdue {
				t.Errorf("%s/%s at %s: overdue %v, the stall rules say %v", it.PostmortemID, it.ID, now, it.Overdue, overdue)
			}
		}
	}
}
