package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
)

func TestOwners(t *testing.T) { forEachBackend(t, testOwners) }

func testOwners(t *testing.T, db backend) {
	s := db.open(t)
	seedInsights(t, s)
	date := func(d string) *string { return &d }
	tests := []struct {
		name string
		now  time.Time
		want []ft.OwnerSummary
	}{
		// Erin has only finished items; BOB@acme.com is bob. Overdue owners by their oldest
		// overdue due date, then the rest by email.
		{"now", insightsNow, []ft.OwnerSummary{
			{Email: "bob@acme.com", Open: 1, Overdue: 1, OldestOverdueDue: date("2026-08-01")},
			{Email: "dave@acme.com", Open: 3, Overdue: 2, OldestOverdueDue: date("2026-09-01")},
			{Email: "carol@acme.com", Open: 4, Overdue: 4, Stalled: 1, OldestOverdueDue: date("2026-10-29")},
			{Email: "alice@acme.com", Open: 2},
		}},
		{"before anything was due", at("2026-07-01T00:00:00Z"), []ft.OwnerSummary{
			{Email: "alice@acme.com", Open: 2}, {Email: "bob@acme.com", Open: 1},
			{Email: "carol@acme.com", Open: 4, Stalled: 1}, {Email: "dave@acme.com", Open: 3},
		}},
		// A4's default due date, 2026-12-28, has passed.
		{"alice overdue too", at("2026-12-29T00:00:00Z"), []ft.OwnerSummary{
			{Email: "bob@acme.com", Open: 1, Overdue: 1, OldestOverdueDue: date("2026-08-01")},
			{Email: "dave@acme.com", Open: 3, Overdue: 3, OldestOverdueDue: date("2026-09-01")},
			{Email: "carol@acme.com", Open: 4, Overdue: 4, Stalled: 1, OldestOverdueDue: date("2026-10-29")},
			{Email: "alice@acme.com", Open: 2, Overdue: 1, OldestOverdueDue: date("2026-12-28")},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Owners(context.Background(), testPolicy, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := jsonText(t, got), jsonText(t, tc.want); g != w {
				t.Fatalf("owners\n%s\nwant\n%s", g, w)
			}
		})
	}
}

func TestOwnersOfNobody(t *testing.T) { forEachBackend(t, testOwnersOfNobody) }

func testOwnersOfNobody(t *testing.T, db backend) {
	s := db.open(t)
	got, err := s.Owners(context.Background(), testPolicy, insightsNow)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("owners of an empty store = %v, %v; want none", got, err)
	}
}

func TestOwnerItems(t *testing.T) { forEachBackend(t, testOwnerItems) }

func testOwnerItems(t *testing.T, db backend) {
	s := db.open(t)
	seedInsights(t, s)
	ctx := context.Background()
	err := s.Write(ctx, func(tx *Tx) error {
		_, err := LinkTicket(ctx, tx, "PM-C", "C2", ft.Ticket{Ref: ft.TicketRef{Kind: ft.GitHub, Key: "acme/a#7",
			URL: "https://github.com/acme/a/issues/7"}}, "acme/a", insightsNow)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// item is "PM/ID due-date days-overdue".
	tests := []struct {
		email, want string
		items       []string
	}{
		// Overdue first by due date (A9 and B1 are both due 2026-10-29: PM-A first).
		{"carol@acme.com", "carol@acme.com", []string{"PM-A/A9 2026-10-29 28", "PM-B/B1 2026-10-29 28",
			"PM-C/C2 2026-11-18 8", "PM-B/B2 2026-11-25 1"}},
		{"CAROL@Acme.COM", "carol@acme.com", []string{"PM-A/A9 2026-10-29 28", "PM-B/B1 2026-10-29 28",
			"PM-C/C2 2026-11-18 8", "PM-B/B2 2026-11-25 1"}},
		// B3 is due today: not overdue.
		{"dave@acme.com", "dave@acme.com", []string{"PM-C/C1 2026-09-01 86", "PM-C/C3 2026-11-19 7", "PM-B/B3 2026-11-26 0"}},
		// None overdue: by their own due date, the undated A4 (due by default on 2026-12-28) last.
		{"alice@acme.com", "alice@acme.com", []string{"PM-C/C4 2027-01-15 0", "PM-A/A4 2026-12-28 0"}},
		{"bob@acme.com", "bob@acme.com", []string{"PM-B/B4 2026-08-01 117"}},
		// Only finished items, or none at all: nothing owed.
		{"erin@acme.com", "erin@acme.com", nil},
		{"nobody@acme.com", "nobody@acme.com", nil},
	}
	for _, tc := range tests {
		t.Run(tc.email, func(t *testing.T) {
			email, items, err := s.OwnerItems(ctx, tc.email, testPolicy, insightsNow)
			if err != nil {
				t.Fatal(err)
			}
			if email != tc.want {
				t.Errorf("email %q, want %q", email, tc.want)
			}
			if items == nil {
				t.Fatal("items is nil; want an empty list")
			}
			var got []string
			for _, it := range items {
				got = append(got, fmt.Sprintf("%s/%s %s %d", it.PostmortemID, it.ID, it.DueDate, it.DaysOverdue))
				if it.Overdue != (it.DaysOverdue > 0) {
					t.Errorf("%s: overdue %v with %d days", it.ID, it.Overdue, it.DaysOverdue)
				}
				if it.Status.Finished() || it.Removed {
					t.Errorf("%s: finished or removed item owed: %+v", it.ID, it.ItemView)
				}
			}
			if !slices.Equal(got, tc.items) {
				t.Fatalf("items %q, want %q", got, tc.items)
			}
		})
	}

	// What the page shows of an item: its postmortem, own due date, stall and ticket.
	_, items, err := s.OwnerItems(ctx, "carol@acme.com", testPolicy, insightsNow)
	if err != nil {
		t.Fatal(err)
	}
	b1, c2 := items[1], items[2]
	if b1.PostmortemTitle != "Outage PM-B" || b1.Due != nil || !b1.Stalled || b1.StalledReason == nil ||
		*b1.StalledReason != ft.StallOverdue || b1.Ticket != nil {
		t.Errorf("B1: %+v", b1)
	}
	if c2.Due == nil || *c2.Due != "2026-11-18" || c2.Ticket == nil || c2.Ticket.URL != "https://github.com/acme/a/issues/7" ||
		c2.Stalled || c2.Owner != "carol@acme.com" {
		t.Errorf("C2: %+v", c2)
	}
}

func TestOwnerPageOfAnOwnerTheListNames(t *testing.T) {
	forEachBackend(t, testOwnerPageOfAnOwnerTheListNames)
}

// An owner written with a capital letter beyond ASCII (an internationalised address): the
// owners' list names them as the database folds them, and their page, asked for that email or
// for the email as written, lists their items. PostgreSQL folded the column under collation
// "C" (ASCII letters only) and the asked-for email under the database's collation (every
// letter), so on most servers the page of such an owner was empty.
func testOwnerPageOfAnOwnerTheListNames(t *testing.T, db backend) {
	s := db.open(t)
	ctx := context.Background()
	doc := &ft.Document{ID: "PM-U", Title: "Outage PM-U", Status: "finalized", ActionItems: []ft.ActionItem{
		{ID: "U1", Title: "item U1", Owner: "Élodie.Durand@Acme.com", Priority: "P2", Due: "2026-12-15"},
	}}
	if err := intakeItems(ctx, s, doc, at("2026-11-02T11:00:00Z"), nil); err != nil {
		t.Fatal(err)
	}
	owners, err := s.Owners(ctx, testPolicy, insightsNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(owners) != 1 || owners[0].Open != 1 {
		t.Fatalf("owners %+v; want one owner of one item", owners)
	}
	for _, email := range []string{owners[0].Email, "Élodie.Durand@Acme.com", "Élodie.durand@acme.COM"} {
		folded, items, err := s.OwnerItems(ctx, email, testPolicy, insightsNow)
		if err != nil {
			t.Fatal(err)
		}
		if folded != owners[0].Email {
			t.Errorf("OwnerItems(%q) names %q; the owners' list %q", email, folded, owners[0].Email)
		}
		if len(items) != 1 || items[0].ID != "U1" {
			t.Errorf("OwnerItems(%q) = %d items; want U1, which the owners' list counts", email, len(items))
		}
	}
}
