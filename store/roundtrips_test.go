package store

import (
	"context"
	"testing"

	"github.com/followthrough/followthrough/internal/pgtest"
)

// TestWriteRoundTrips: on PostgreSQL a write of one statement costs three round trips, its
// BEGIN (which also makes it prefer index scans: indexFirstConn), the statement and the
// COMMIT. Setting the planner apart cost a fourth.
func TestWriteRoundTrips(t *testing.T) {
	relay, database := pgtest.NewRoundTripRelay(t, pgtest.URL(t))
	s := openAt(t, database)
	ctx := context.Background()
	if err := s.Write(ctx, func(tx *Tx) error {
		return Enqueue(ctx, tx, Job{Kind: "step", PostmortemID: "PM-1", ItemID: "AI-1", Tracker: "github"}, t0)
	}); err != nil {
		t.Fatal(err)
	}
	// The fewest of a few writes: the first on a connection prepares its statement, and a
	// connection idle for a second is pinged before it is used again.
	fewest := int64(-1)
	for range 5 {
		before := relay.RoundTrips()
		if err := s.Write(ctx, func(tx *Tx) error { return RescheduleJob(ctx, tx, 1, t0) }); err != nil {
			t.Fatal(err)
		}
		if n := relay.RoundTrips() - before; fewest < 0 || n < fewest {
			fewest = n
		}
	}
	if fewest != 3 {
		t.Errorf("a write of one statement took %d round trips; want 3 (begin, statement, commit)", fewest)
	}
}

// TestOnlyWritesPreferIndexScans: a SERIALIZABLE write plans with enable_seqscan off
// (TestWritesLockOnlyTheirRows says why); the reads, and the claims, on the same connections
// plan as usual.
func TestOnlyWritesPreferIndexScans(t *testing.T) {
	s := openAt(t, pgtest.URL(t))
	ctx := context.Background()
	show := func(q querier) string {
		t.Helper()
		var v string
		if err := q.QueryRowContext(ctx, `SHOW enable_seqscan`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	var inWrite string
	if err := s.Write(ctx, func(tx *Tx) error {
		inWrite = show(tx.reader())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The pool hands out the connection freed last: the write's.
	read := show(s.readDB)
	if inWrite != "off" {
		t.Errorf("enable_seqscan is %s in a write; want off", inWrite)
	}
	if read != "on" {
		t.Errorf("enable_seqscan is %s in a read after a write; want on", read)
	}
}
