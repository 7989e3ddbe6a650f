package store

import (
	"context"
	"testing"
	"time"
)

// TestReleaseLeasesOf: a stopping process gives back its own leases, not another's, and the
// jobs it gave back can be claimed at once.
func TestReleaseLeasesOf(t *testing.T) { forEachBackend(t, testReleaseLeasesOf) }

func testReleaseLeasesOf(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	if err := intakeNew(ctx, s, testDoc("PM-1", item("AI-1", "a")), targets(1, repoA), t0); err != nil {
		t.Fatal(err)
	}
	if err := intakeNew(ctx, s, testDoc("PM-2", item("AI-1", "b")), targets(1, repoA), t0); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Minute)
	stopping, _ := s.ClaimJobs(ctx, "stopping", "github", now, time.Hour, 1)
	staying, _ := s.ClaimJobs(ctx, "staying", "github", now, time.Hour, 1)
	if len(stopping) != 1 || len(staying) != 1 {
		t.Fatalf("claimed %v and %v", stopping, staying)
	}
	if err := s.ReleaseLeasesOf(ctx, "stopping"); err != nil {
		t.Fatal(err)
	}
	next, err := s.ClaimJobs(ctx, "next", "github", now, time.Hour, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(next) != 1 || next[0].ID != stopping[0].ID {
		t.Fatalf("after the release, claimed %+v; want the given-back job %d only", next, stopping[0].ID)
	}
}
