package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/internal/pgtest"
)

// TestReadingAPostmortemLocksOnlyItsRows: on PostgreSQL a write that reads one postmortem with
// its items and tickets must read them through their indexes. A whole table read inside a
// SERIALIZABLE transaction makes it conflict with every concurrent write to that table, and
// PostgreSQL then aborts one of the two. The planner read the list of postmortem ids (a JSON
// array) as a hundred rows, and scanned items and tickets whole for one postmortem.
func TestReadingAPostmortemLocksOnlyItsRows(t *testing.T) {
	s := openAt(t, pgtest.URL(t))
	ctx := context.Background()
	for i := range 300 {
		id := fmt.Sprintf("PM-%d", i)
		doc := testDoc(id, item("AI-1", "a"), item("AI-2", "b"), item("AI-3", "c"), item("AI-4", "d"), item("AI-5", "e"))
		if err := intakeNew(ctx, s, doc, targets(5, repoA), t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Write(ctx, func(tx *Tx) error {
		for i := range 300 {
			for n := 1; n <= 5; n++ {
				ref := ft.TicketRef{Kind: ft.GitHub, Key: fmt.Sprintf("acme/a#%d", i*5+n)}
				if _, err := LinkTicket(ctx, tx, fmt.Sprintf("PM-%d", i), fmt.Sprintf("AI-%d", n), ft.Ticket{Ref: ref, Status: ft.StatusOpen}, ref.Scope(), t0); err != nil {
					return err
				}
			}
		}
		_, err := tx.exec(ctx, `ANALYZE`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var whole []string
	if err := s.Write(ctx, func(tx *Tx) error {
		pm, err := LoadPostmortemTx(ctx, tx, "PM-7")
		if err != nil {
			return err
		}
		if len(pm.Items) != 5 || pm.Items[4].Ticket == nil {
			return fmt.Errorf("read %d items of PM-7, want 5 with their tickets: %+v", len(pm.Items), pm.Items)
		}
		// This transaction's locks only: those of a transaction committed earlier on the same
		// connection are kept while transactions that overlapped it run.
		rows, err := tx.query(ctx, `SELECT CAST(CAST(relation AS regclass) AS text) FROM pg_locks
			WHERE mode = 'SIReadLock' AND locktype = 'relation' AND virtualtransaction =
				(SELECT virtualxid FROM pg_locks WHERE locktype = 'virtualxid' AND pid = pg_backend_pid())`)
		if err != nil {
			return err
		}
		whole, err = collect(rows, func(rows *sql.Rows) (string, error) {
			var table string
			err := rows.Scan(&table)
			return table, err
		})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(whole) > 0 {
		t.Errorf("reading one postmortem locked whole tables (read them whole): %s", strings.Join(whole, ", "))
	}
}
