package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkClaimWithDoneHistory claims 16 jobs of a lane of 1,000 open jobs, behind a history of
// done jobs (none, then 200,000: a busy service's few weeks). A claim reads the lane's open jobs
// only, so both take about the same time.
func BenchmarkClaimWithDoneHistory(b *testing.B) {
	for _, done := range []int{0, 200_000} {
		b.Run(fmt.Sprintf("done=%d", done), func(b *testing.B) {
			s := openTest(b)
			ctx := context.Background()
			if err := s.Write(ctx, func(tx *Tx) error {
				at := formatTime(t0)
				if _, err := tx.exec(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
					INSERT INTO outbox (kind, postmortem_id, item_id, tracker, next_attempt_at, created_at, done_at)
					SELECT 'create_ticket', 'PM-' || (i / 5), 'AI-' || (i % 5), 'github', ?, ?, ? FROM n`,
					done, at, at, at); err != nil {
					return err
				}
				_, err := tx.exec(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
					INSERT INTO outbox (kind, postmortem_id, item_id, tracker, next_attempt_at, created_at)
					SELECT 'update_ticket', 'PM-open-' || i, 'AI-1', 'github', ?, ? FROM n`, at, at)
				return err
			}); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				// Each claim comes after the previous one's lease ran out, so it finds the same jobs.
				now := t0.Add(time.Duration(i+1) * 2 * time.Minute)
				jobs, err := s.ClaimJobs(ctx, "bench", "github", now, time.Minute, 16, nil)
				if err != nil || len(jobs) != 16 {
					b.Fatalf("claimed %d, %v", len(jobs), err)
				}
			}
		})
	}
}
