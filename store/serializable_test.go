package store

import (
	"context"
	"fmt"
	"strings"
	"testing"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/internal/pgtest"
)

// TestWritesLockOnlyTheirRows: on PostgreSQL a write that reads one postmortem with its items
// and tickets, and links a ticket, as making a ticket does, must read through indexes. A table
// read whole inside a SERIALIZABLE transaction is locked whole, so that it conflicts with every
// concurrent write to that table, and PostgreSQL then aborts one of the two. It went wrong two
// ways, both on the analyzed database: the planner read the list of postmortem ids (a JSON
// array) as a hundred rows and scanned items and tickets for one postmortem; and, with a
// thousand tickets, it still read tickets whole to join the postmortem's five items (hence
// SERIALIZABLE writes prefer index scans). The new database, whose tables are small, is
// checked too.
func TestWritesLockOnlyTheirRows(t *testing.T) {
	for _, tc := range []struct {
		name        string
		postmortems int
		analyzed    bool
	}{
		{"a new database", 3, false},
		{"300 postmortems, analyzed", 300, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openAt(t, pgtest.URL(t))
			ctx := context.Background()
			for i := range tc.postmortems {
				id := fmt.Sprintf("PM-%d", i)
				doc := testDoc(id, item("AI-1", "a"), item("AI-2", "b"), item("AI-3", "c"), item("AI-4", "d"), item("AI-5", "e"))
				if err := intakeNew(ctx, s, doc, targets(5, repoA), t0); err != nil {
					t.Fatal(err)
				}
			}
			link := func(tx *Tx, pm, n int) error {
				ref := ft.TicketRef{Kind: ft.GitHub, Key: fmt.Sprintf("acme/a#%d", pm*5+n)}
				_, err := LinkTicket(ctx, tx, fmt.Sprintf("PM-%d", pm), fmt.Sprintf("AI-%d", n), ft.Ticket{Ref: ref, Status: ft.StatusOpen}, ref.Scope(), t0)
				return err
			}
			if err := s.Write(ctx, func(tx *Tx) error {
				for i := range tc.postmortems {
					for n := 1; n <= 4; n++ {
						if err := link(tx, i, n); err != nil {
							return err
						}
					}
				}
				if tc.analyzed {
					_, err := tx.exec(ctx, `ANALYZE`)
					return err
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			var whole []string
			if err := s.Write(ctx, func(tx *Tx) error {
				pm, err := LoadPostmortemTx(ctx, tx, "PM-1")
				if err != nil {
					return err
				}
				if len(pm.Items) != 5 || pm.Items[3].Ticket == nil || pm.Items[4].Ticket != nil {
					return fmt.Errorf("read %d items of PM-1, want 5, the first 4 with their tickets: %+v", len(pm.Items), pm.Items)
				}
				if err := link(tx, 1, 5); err != nil {
					return err
				}
				// This transaction's locks only: those of a transaction committed earlier on
				// the same connection are kept while transactions that overlapped it run.
				rows, err := tx.query(ctx, `SELECT CAST(CAST(relation AS regclass) AS text) FROM pg_locks
					WHERE mode = 'SIReadLock' AND locktype = 'relation' AND virtualtransaction =
						(SELECT virtualxid FROM pg_locks WHERE locktype = 'virtualxid' AND pid = pg_backend_pid())`)
				if err != nil {
					return err
				}
				whole, err = collect(rows, scanString)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if len(whole) > 0 {
				t.Errorf("the write locked whole tables (read them whole): %s", strings.Join(whole, ", "))
			}
		})
	}
}
