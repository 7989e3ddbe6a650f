package store

import (
	"context"
	"testing"

	"github.com/followthrough/followthrough/internal/pgtest"
)

// BenchmarkWriteOnePostgres is the smallest write on PostgreSQL, one UPDATE of one row in a
// SERIALIZABLE transaction, so that what every write pays besides its own statements (the
// round trips that begin and commit it) shows.
func BenchmarkWriteOnePostgres(b *testing.B) {
	ctx := context.Background()
	s := openAt(b, pgtest.URL(b))
	if err := s.Write(ctx, func(tx *Tx) error {
		return Enqueue(ctx, tx, Job{Kind: "step", PostmortemID: "PM-1", ItemID: "AI-1", Tracker: "github"}, t0)
	}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := s.Write(ctx, func(tx *Tx) error { return RescheduleJob(ctx, tx, 1, t0) }); err != nil {
			b.Fatal(err)
		}
	}
}
