package store

import (
	"context"
	"errors"
	"testing"

	ft "github.com/followthrough/followthrough"
)

// TestLinkTicket: linking makes a ticket the item's current one and returns the one it
// replaces; a ticket linked again (the item moved back) is current again, the same row; and a
// ticket that is another item's is never taken from it (ft.ErrConflict, nothing written).
func TestLinkTicket(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db backend) {
		s := db.open(t)
		ctx := context.Background()
		if err := intakeNew(ctx, s, testDoc("PM-1", item("AI-1", "a"), item("AI-2", "b")), targets(2, repoA), t0); err != nil {
			t.Fatal(err)
		}
		one, two := ft.TicketRef{Kind: ft.GitHub, Key: "acme/a#1"}, ft.TicketRef{Kind: ft.GitHub, Key: "acme/a#2"}
		link := func(itemID string, ref ft.TicketRef) (*ft.TicketRef, error) {
			var previous *ft.TicketRef
			err := s.Write(ctx, func(tx *Tx) error {
				var err error
				previous, err = LinkTicket(ctx, tx, "PM-1", itemID, ft.Ticket{Ref: ref, Status: ft.StatusOpen}, ref.Scope(), t0)
				return err
			})
			return previous, err
		}
		current := func(itemID string) string {
			t.Helper()
			var key string
			if err := s.Write(ctx, func(tx *Tx) error {
				it, err := LoadItemTx(ctx, tx, "PM-1", itemID)
				if it.Ticket != nil {
					key = it.Ticket.Key
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return key
		}
		if previous, err := link("AI-1", one); err != nil || previous != nil {
			t.Fatalf("first link: previous %v, %v", previous, err)
		}
		if previous, err := link("AI-1", two); err != nil || previous == nil || previous.Key != one.Key {
			t.Fatalf("second link: previous %v, %v; want %s", previous, err, one.Key)
		}
		if previous, err := link("AI-1", one); err != nil || previous == nil || previous.Key != two.Key {
			t.Fatalf("linked again: previous %v, %v; want %s", previous, err, two.Key)
		}
		if got := current("AI-1"); got != one.Key {
			t.Errorf("AI-1's ticket is %q after it moved back, want %s", got, one.Key)
		}
		if _, err := link("AI-2", one); !errors.Is(err, ft.ErrConflict) {
			t.Errorf("linking AI-1's ticket to AI-2: %v, want ft.ErrConflict", err)
		}
		if a1, a2 := current("AI-1"), current("AI-2"); a1 != one.Key || a2 != "" {
			t.Errorf("after the refused link AI-1 has %q and AI-2 %q; want %s and none", a1, a2, one.Key)
		}
		var rows int
		if err := s.readDB.QueryRowContext(ctx, `SELECT COUNT(*) FROM tickets`).Scan(&rows); err != nil || rows != 2 {
			t.Errorf("%d ticket rows (%v), want 2: a ticket linked again is the same row", rows, err)
		}
	})
}

// TestFindTicketFoldsASCIIOnly: a key looked up without case matches a stored key that
// differs only in the case of ASCII letters, and nothing else, on both databases: SQLite's
// NOCASE folds ASCII letters only, and so must PostgreSQL, where lower(?) once folded the
// asked-for key under the database's collation (every letter) while the key column, of
// collation "C", folds ASCII only.
func TestFindTicketFoldsASCIIOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db backend) {
		s := db.open(t)
		ctx := context.Background()
		if err := intakeNew(ctx, s, testDoc("PM-1", item("AI-1", "a"), item("AI-2", "b")), targets(2, repoA), t0); err != nil {
			t.Fatal(err)
		}
		stored := map[string]string{"AI-1": "Écho/Repo#1", "AI-2": "élan/repo#2"}
		if err := s.Write(ctx, func(tx *Tx) error {
			for itemID, key := range stored {
				ref := ft.TicketRef{Kind: ft.GitHub, Key: key}
				if _, err := LinkTicket(ctx, tx, "PM-1", itemID, ft.Ticket{Ref: ref, Status: ft.StatusOpen}, ref.Scope(), t0); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			key  string
			want string // the key found, "" for none
		}{
			{"Écho/Repo#1", "Écho/Repo#1"},
			{"ÉCHO/repo#1", "Écho/Repo#1"}, // ASCII letters differ: the same ticket
			{"écho/repo#1", ""},            // É is not é to a key that folds ASCII only
			{"élan/repo#2", "élan/repo#2"},
			{"ÉLAN/REPO#2", ""},
			{"éLAN/REPO#2", "élan/repo#2"},
		}
		for _, tc := range tests {
			var got TicketRecord
			var found bool
			if err := s.Write(ctx, func(tx *Tx) error {
				var err error
				got, found, err = FindTicket(ctx, tx, ft.TicketRef{Kind: ft.GitHub, Key: tc.key}, true)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if found != (tc.want != "") || found && got.Ref.Key != tc.want {
				t.Errorf("FindTicket(%q) = %q, found %v; want %q", tc.key, got.Ref.Key, found, tc.want)
			}
		}
	})
}
