package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/followthrough/followthrough/internal/pgtest"
)

// Several processes on one PostgreSQL database: these tests open two stores on one schema, as
// two `serve` processes would, and check the claims between them.

// queueItemJobs queues jobs jobs for each of items items of postmortem PM-1, in the order an
// item's work must run.
func queueItemJobs(t *testing.T, s *Store, items, jobs int) {
	t.Helper()
	ctx := context.Background()
	if err := s.Write(ctx, func(tx *Tx) error {
		for j := range jobs {
			for i := range items {
				if err := Enqueue(ctx, tx, Job{Kind: fmt.Sprintf("step_%d", j), PostmortemID: "PM-1",
					ItemID: fmt.Sprintf("AI-%d", i), Tracker: "github"}, t0); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestClaimsOfTwoProcessesNeverShareAJobNorAnItem: two stores on one PostgreSQL schema claim
// and finish jobs as fast as they can, several workers each. Every job is handed out once, no
// item is worked by two workers at once, and each item's jobs finish in the order queued.
func TestClaimsOfTwoProcessesNeverShareAJobNorAnItem(t *testing.T) {
	database := pgtest.URL(t)
	stores := []*Store{openAt(t, database), openAt(t, database)}
	const items, steps = 12, 6
	queueItemJobs(t, stores[0], items, steps)

	var mu sync.Mutex
	claimed := map[int64]string{}  // job -> the worker that claimed it
	working := map[string]string{} // item -> the worker working it now
	finished := map[string][]string{}
	var problems []string
	problem := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}

	ctx := context.Background()
	var wg sync.WaitGroup
	for p, s := range stores {
		for w := range 3 {
			worker := fmt.Sprintf("process-%d-worker-%d", p, w)
			wg.Add(1)
			go func() {
				defer wg.Done()
				idle := 0
				for idle < 20 {
					jobs, err := s.ClaimJobs(ctx, worker, "github", t0, time.Hour, 2, nil)
					if err != nil {
						mu.Lock()
						problem("%s: claim: %v", worker, err)
						mu.Unlock()
						return
					}
					if len(jobs) == 0 {
						idle++
						time.Sleep(time.Millisecond)
						continue
					}
					idle = 0
					mu.Lock()
					for _, j := range jobs {
						if other, ok := claimed[j.ID]; ok {
							problem("job %d claimed by %s and by %s", j.ID, other, worker)
						}
						claimed[j.ID] = worker
						if other, ok := working[j.ItemID]; ok {
							problem("%s claimed %s of %s while %s works it", worker, j.Kind, j.ItemID, other)
						}
						working[j.ItemID] = worker
					}
					mu.Unlock()
					for _, j := range jobs {
						time.Sleep(time.Millisecond) // the tracker call
						mu.Lock()
						// The item is let go before the job is marked done: once done, the next
						// job of the item may be claimed at once.
						delete(working, j.ItemID)
						finished[j.ItemID] = append(finished[j.ItemID], j.Kind)
						mu.Unlock()
						if err := s.CompleteJob(ctx, j.ID, t0, nil); err != nil {
							mu.Lock()
							problem("%s: complete job %d: %v", worker, j.ID, err)
							mu.Unlock()
						}
					}
				}
			}()
		}
	}
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}
	if len(claimed) != items*steps {
		t.Errorf("%d jobs claimed; want %d", len(claimed), items*steps)
	}
	for i := range items {
		item := fmt.Sprintf("AI-%d", i)
		var want []string
		for j := range steps {
			want = append(want, fmt.Sprintf("step_%d", j))
		}
		if fmt.Sprint(finished[item]) != fmt.Sprint(want) {
			t.Errorf("%s finished %v; want %v", item, finished[item], want)
		}
	}
	byProcess := map[byte]int{}
	for _, w := range claimed {
		byProcess[w[len("process-")]]++
	}
	if byProcess['0'] == 0 || byProcess['1'] == 0 {
		t.Logf("jobs per process: %v (one process did all the work)", byProcess)
	}
}

// TestLeaseOfADeadProcessPassesToAnother: jobs claimed by a process that then stops are
// claimed by another once their lease has run out, and not before; a lease that is renewed
// does not run out.
func TestLeaseOfADeadProcessPassesToAnother(t *testing.T) {
	database := pgtest.URL(t)
	dead, alive := openAt(t, database), openAt(t, database)
	queueItemJobs(t, dead, 2, 1)
	ctx := context.Background()
	const lease = 30 * time.Second
	claimed, err := dead.ClaimJobs(ctx, "dead", "github", t0, lease, 10, nil)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claimed %d jobs, %v; want 2", len(claimed), err)
	}
	dead.Close()

	if jobs, err := alive.ClaimJobs(ctx, "alive", "github", t0.Add(lease-time.Second), lease, 10, nil); err != nil || len(jobs) != 0 {
		t.Fatalf("before the lease ran out: claimed %d jobs, %v; want none", len(jobs), err)
	}
	jobs, err := alive.ClaimJobs(ctx, "alive", "github", t0.Add(lease+time.Millisecond), lease, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || jobs[0].ID != claimed[0].ID || jobs[1].ID != claimed[1].ID {
		t.Fatalf("after the lease ran out: claimed %v; want the dead process's jobs %v", jobs, claimed)
	}

	// The new owner renews its lease: another claim after the first lease would have run out
	// finds nothing.
	later := t0.Add(lease + time.Millisecond)
	if err := alive.RenewLeases(ctx, "alive", "github", later.Add(2*lease)); err != nil {
		t.Fatal(err)
	}
	if jobs, err := alive.ClaimJobs(ctx, "third", "github", later.Add(lease+time.Second), lease, 10, nil); err != nil || len(jobs) != 0 {
		t.Fatalf("after a renewal: claimed %d jobs, %v; want none", len(jobs), err)
	}
}

// TestProcessesStartingTogetherMigrateOnce: several stores migrating one new PostgreSQL schema
// at the same moment take turns under the migration lock; every one of them succeeds.
func TestProcessesStartingTogetherMigrateOnce(t *testing.T) {
	database := pgtest.URL(t)
	ctx := context.Background()
	var stores []*Store
	for range 4 {
		s, err := Open(ctx, database, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	errs := make([]error, len(stores))
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Migrate(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("store %d: %v", i, err)
		}
	}
	if err := intakeNew(ctx, stores[3], testDoc("PM-1", item("AI-1", "x")), targets(1, repoA), t0); err != nil {
		t.Fatal(err)
	}
}

// An item's given-up job queued again (POST .../retry) while a later job of the item, which
// went ahead of it, runs (at another process, or in another lane of the same one) waits for
// that one to finish: two jobs of one item never run at once. A lease that ran out (its
// process died) holds nothing back.
func TestARequeuedJobWaitsForTheItemsRunningJob(t *testing.T) {
	forEachBackend(t, testARequeuedJobWaitsForTheItemsRunningJob)
}

func testARequeuedJobWaitsForTheItemsRunningJob(t *testing.T, db backend) {
	s := db.open(t)
	ctx := context.Background()
	err := s.Write(ctx, func(tx *Tx) error {
		return enqueueAll(ctx, tx, []Job{
			{Kind: "create_ticket", PostmortemID: "PM-1", ItemID: "AI-1", Tracker: "jira"},
			{Kind: "label", PostmortemID: "PM-1", ItemID: "AI-1", Tracker: "github"},
		}, t0)
	})
	if err != nil {
		t.Fatal(err)
	}
	claim := func(owner, lane string, now time.Time) []Job {
		t.Helper()
		jobs, err := s.ClaimJobs(ctx, owner, lane, now, time.Minute, 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		return jobs
	}
	jobs := claim("A", "jira", t0)
	if len(jobs) != 1 || jobs[0].Kind != "create_ticket" {
		t.Fatalf("first claim %+v; want the create", jobs)
	}
	create := jobs[0]
	if err := s.Write(ctx, func(tx *Tx) error { return FailJob(ctx, tx, create.ID, 5, t0, "gave up") }); err != nil {
		t.Fatal(err)
	}
	if jobs = claim("A", "github", t0); len(jobs) != 1 || jobs[0].Kind != "label" {
		t.Fatalf("second claim %+v; want the label job, the create given up", jobs)
	}
	// The label job runs at A, leased until t0+1m; the create is queued again.
	if err := s.Write(ctx, func(tx *Tx) error { return RequeueFailedJobs(ctx, tx, "PM-1", "AI-1", t0) }); err != nil {
		t.Fatal(err)
	}
	for _, owner := range []string{"A", "B"} {
		if jobs := claim(owner, "jira", t0.Add(time.Second)); len(jobs) != 0 {
			t.Errorf("%s claimed %+v while the item's label job runs at A", owner, jobs)
		}
	}
	// A dies: its lease runs out, and the create is B's to run.
	if jobs := claim("B", "jira", t0.Add(2*time.Minute)); len(jobs) != 1 || jobs[0].ID != create.ID {
		t.Fatalf("claim after A's lease ran out: %+v; want the create", jobs)
	}
}
