package store

import (
	"context"
	"strings"
	"testing"

	ft "github.com/followthrough/followthrough"
)

// TestExistingTicketsMigrationKeepsItemsAndWidensSync migrates a database holding items of
// every earlier sync state: they keep their states, 'none' becomes allowed, and anything else
// is still refused.
func TestExistingTicketsMigrationKeepsItemsAndWidensSync(t *testing.T) {
	forEachBackend(t, testExistingTicketsMigrationKeepsItemsAndWidensSync)
}

func testExistingTicketsMigrationKeepsItemsAndWidensSync(t *testing.T, db backend) {
	ctx := context.Background()
	s := db.openAtVersion(t, 5)
	now := formatTime(t0)
	if _, err := s.writeDB.ExecContext(ctx, `INSERT INTO postmortems (id, title, accepted_at, sort_at, revision, updated_at)
		VALUES ('PM-1', 't', ?, ?, 1, ?)`, now, now, now); err != nil {
		t.Fatal(err)
	}
	for i, sync := range []string{"pending", "linked", "failed"} {
		if _, err := s.writeDB.ExecContext(ctx, `INSERT INTO items (postmortem_id, item_id, position, title, owner,
			target_kind, target_scope, sync, last_error, created_at, updated_at)
			VALUES ('PM-1', ?, ?, 't', 'o', 'github', 'acme/x', ?, ?, ?, ?)`,
			"AI-"+sync, i, sync, map[bool]any{true: "it broke", false: nil}[sync == "failed"], now, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	items, err := loadItems(ctx, s.readDB, `i.postmortem_id = 'PM-1'`)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 3 {
		t.Fatalf("%d items after the migration; want 3", len(items))
	}
	for _, it := range items {
		if string(it.Sync) != strings.TrimPrefix(it.ID, "AI-") || it.NamedTicket != "" {
			t.Errorf("%s: sync %q, named ticket %q; want its sync kept and no ticket named", it.ID, it.Sync, it.NamedTicket)
		}
		if it.Sync == ft.SyncFailed && it.LastError != "it broke" {
			t.Errorf("%s: last_error %q; want it kept", it.ID, it.LastError)
		}
	}
	err = s.Write(ctx, func(tx *Tx) error { return SetItemSync(ctx, tx, "PM-1", "AI-pending", ft.SyncNone, t0) })
	if err != nil {
		t.Errorf("sync none refused: %v", err)
	}
	err = s.Write(ctx, func(tx *Tx) error { return SetItemSync(ctx, tx, "PM-1", "AI-linked", "sideways", t0) })
	if err == nil || !strings.Contains(strings.ToUpper(err.Error()), "CHECK") {
		t.Errorf("sync %q: %v; want the CHECK constraint to refuse it", "sideways", err)
	}
}

// TestReservedTicketIsFollowedByTheItemThatNamesIt: a reservation keeps the ticket from other
// items while the item names it, without making it current; a removed item follows nothing.
func TestReservedTicketIsFollowedByTheItemThatNamesIt(t *testing.T) {
	forEachBackend(t, testReservedTicketIsFollowedByTheItemThatNamesIt)
}

func testReservedTicketIsFollowedByTheItemThatNamesIt(t *testing.T, db backend) {
	ctx := context.Background()
	s := db.open(t)
	ref := ft.TicketRef{Kind: ft.GitHub, Key: "acme/legacy#3", URL: "https://github.com/acme/legacy/issues/3"}
	if err := s.Write(ctx, func(tx *Tx) error {
		return ApplyIntake(ctx, tx, IntakePlan{
			Postmortem: PostmortemRow{ID: "PM-1", Title: "t"},
			Revision:   Revision{Number: 1, Hash: "h", Document: []byte("{}")},
			Items: []ItemChange{
				{Row: ItemRow{PostmortemID: "PM-1", ID: "AI-1", Title: "One", Owner: "o", Target: ref.Target(), Status: ft.StatusOpen, NamedTicket: ref.Key}, New: true},
				{Row: ItemRow{PostmortemID: "PM-1", ID: "AI-2", Title: "Two", Owner: "o", Target: ref.Target(), Status: ft.StatusOpen, NamedTicket: ref.Key, Removed: true}, New: true},
			},
		}, t0)
	}); err != nil {
		t.Fatal(err)
	}
	follower := func() (string, bool) {
		t.Helper()
		var id string
		var ok bool
		if err := s.Write(ctx, func(tx *Tx) error {
			var err error
			_, id, ok, err = TicketFollower(ctx, tx, ft.TicketRef{Kind: ft.GitHub, Key: "ACME/Legacy#3"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return id, ok
	}
	if _, ok := follower(); ok {
		t.Fatal("a ticket nobody holds is followed")
	}
	write := func(fn func(tx *Tx) error) {
		t.Helper()
		if err := s.Write(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	// The removed item holds it: nobody follows it.
	write(func(tx *Tx) error { return ReserveTicket(ctx, tx, "PM-1", "AI-2", ft.Ticket{Ref: ref}, t0) })
	if id, ok := follower(); ok {
		t.Errorf("followed by %s, a removed item", id)
	}
	// Reserved by the item that names it: followed by it, not its current ticket yet.
	write(func(tx *Tx) error { return ReserveTicket(ctx, tx, "PM-1", "AI-1", ft.Ticket{Ref: ref}, t0) })
	if id, ok := follower(); !ok || id != "AI-1" {
		t.Errorf("follower = %q, %v; want AI-1", id, ok)
	}
	it, err := s.LoadItem(ctx, "PM-1", "AI-1")
	if err != nil || it.Ticket != nil {
		t.Fatalf("AI-1 = %+v, %v; want no current ticket while only reserved", it, err)
	}
	write(func(tx *Tx) error {
		_, err := AdoptTicket(ctx, tx, "PM-1", "AI-1", ft.Ticket{Ref: ref}, t0.Add(1))
		return err
	})
	it, err = s.LoadItem(ctx, "PM-1", "AI-1")
	if err != nil || it.Ticket == nil || it.Ticket.Key != ref.Key || !it.Adopted() || !it.TicketSince().Equal(t0.Add(1)) {
		t.Fatalf("AI-1 = %+v, %v; want %s adopted at %s", it, err, ref.Key, t0.Add(1))
	}
}
