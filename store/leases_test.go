package store

import (
	"context"
	"slices"
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
	stopping, _ := s.ClaimJobs(ctx, "stopping", "github", now, time.Hour, 1, nil)
	staying, _ := s.ClaimJobs(ctx, "staying", "github", now, time.Hour, 1, nil)
	if len(stopping) != 1 || len(staying) != 1 {
		t.Fatalf("claimed %v and %v", stopping, staying)
	}
	if err := s.ReleaseLeasesOf(ctx, "stopping"); err != nil {
		t.Fatal(err)
	}
	next, err := s.ClaimJobs(ctx, "next", "github", now, time.Hour, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(next) != 1 || next[0].ID != stopping[0].ID {
		t.Fatalf("after the release, claimed %+v; want the given-back job %d only", next, stopping[0].ID)
	}
}

// TestClaimJobsOfAWorkerHolding: a worker claiming while it runs some of its lane's jobs claims none of
// those again, but does take back a job of its own whose lease outlived it (its outcome was
// not written); and a given-up job queued again waits while a later job of its item is among
// those the worker runs, in the same lane as in another.
func TestClaimJobsOfAWorkerHolding(t *testing.T) { forEachBackend(t, testClaimJobsOfAWorkerHolding) }

func testClaimJobsOfAWorkerHolding(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	err := s.Write(ctx, func(tx *Tx) error {
		return enqueueAll(ctx, tx, []Job{
			{Kind: "create_ticket", PostmortemID: "PM-1", ItemID: "AI-1", Tracker: "github"},
			{Kind: "create_ticket", PostmortemID: "PM-1", ItemID: "AI-2", Tracker: "github"},
			{Kind: "label", PostmortemID: "PM-1", ItemID: "AI-2", Tracker: "github"},
		}, t0)
	})
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Second)
	claim := func(held ...int64) []int64 {
		t.Helper()
		jobs, err := s.ClaimJobs(ctx, "w", "github", now, time.Hour, 10, held)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, j := range jobs {
			ids = append(ids, j.ID)
		}
		return ids
	}
	if got := claim(); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("first claim %v; want the two creates", got)
	}
	if got := claim(1, 2); len(got) != 0 {
		t.Fatalf("claimed %v while holding jobs 1 and 2; want nothing", got)
	}
	// Job 1 finished but its outcome was not written: still leased to w, not held.
	if got := claim(2); !slices.Equal(got, []int64{1}) {
		t.Fatalf("claimed %v holding job 2; want job 1 back", got)
	}
	// AI-2's create is given up, its label job runs, then the create is queued again.
	if err := s.Write(ctx, func(tx *Tx) error { return FailJob(ctx, tx, 2, 5, now, "gave up") }); err != nil {
		t.Fatal(err)
	}
	if got := claim(1); !slices.Equal(got, []int64{3}) {
		t.Fatalf("claimed %v after AI-2's create was given up; want its label job", got)
	}
	if err := s.Write(ctx, func(tx *Tx) error { return RequeueFailedJobs(ctx, tx, "PM-1", "AI-2", now) }); err != nil {
		t.Fatal(err)
	}
	if got := claim(1, 3); len(got) != 0 {
		t.Fatalf("claimed %v while AI-2's label job runs; want nothing", got)
	}
	if got := claim(1); !slices.Equal(got, []int64{2}) {
		t.Fatalf("claimed %v once AI-2's label job was no longer held; want the create", got)
	}
}
