package sync_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/internal/pgtest"
	"github.com/followthrough/followthrough/store"
	"github.com/followthrough/followthrough/sync"
)

// gatedCreate holds every create until the test lets one through: a tracker slower than the
// worker.
type gatedCreate struct {
	ft.Tracker
	entered chan struct{}
	release chan struct{}
}

func (g *gatedCreate) Create(ctx context.Context, nt ft.NewTicket) (ft.Ticket, error) {
	g.entered <- struct{}{}
	select {
	case <-g.release:
	case <-ctx.Done():
		return ft.Ticket{}, ctx.Err()
	}
	return g.Tracker.Create(ctx, nt)
}

// TestLaneLeasesOnlyWhatItRuns: on PostgreSQL, where two processes may share the database, a
// tracker lane that runs Concurrency calls at once holds no more leases than that, as its
// calls finish and it claims more: a job it cannot start yet is left to another process (and
// is not stuck behind this one's lease if it dies). It used to lease four rounds at once.
func TestLaneLeasesOnlyWhatItRuns(t *testing.T) {
	const concurrency, items = 2, 12
	e := newTWEnv(t, pgtest.Backend{Name: "postgres", Database: pgtest.URL})
	gate := &gatedCreate{Tracker: e.engTracker(t), entered: make(chan struct{}, items), release: make(chan struct{})}
	e.eng = sync.New(sync.Options{Store: e.st, Config: e.cfg, Clock: e.clock, Concurrency: concurrency,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Trackers: map[ft.TrackerKind]ft.Tracker{ft.GitHub: gate}})
	targets := make([]ft.Target, items)
	for i := range targets {
		targets[i] = ft.Target{Kind: ft.GitHub, Repo: twRepo}
	}
	doc := &ft.Document{ID: "PM-L", Title: "Outage", Status: "finalized"}
	for i := range items {
		doc.ActionItems = append(doc.ActionItems, ft.ActionItem{ID: fmt.Sprintf("AI-%d", i+1), Title: "Action",
			Owner: "bob@acme.com", Priority: "P1"})
	}
	if _, err := e.eng.Intake(e.ctx, sync.WithTargets(doc, targets)); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", e.database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The lane's unfinished jobs, and those of them leased.
	count := func() (open, leased int) {
		t.Helper()
		if err := db.QueryRowContext(e.ctx, `SELECT COUNT(*), COUNT(lease_owner) FROM outbox
			WHERE tracker = 'github' AND done_at IS NULL AND failed_at IS NULL`).Scan(&open, &leased); err != nil {
			t.Fatal(err)
		}
		return open, leased
	}

	ctx, stop := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.eng.Run(ctx)
	}()
	defer func() { stop(); <-done }()
	inside := 0 // creates waiting at the gate
	// Let the creates through one at a time, each time the lane has refilled its slots, until
	// half the items have tickets; the other half stay queued.
	for finished := 0; finished < items/2; finished++ {
		for inside < concurrency {
			select {
			case <-gate.entered:
				inside++
			case <-time.After(10 * time.Second):
				t.Fatalf("%d creates started, %d finished; want %d running", inside, finished, concurrency)
			}
		}
		if _, leased := count(); leased > concurrency {
			t.Fatalf("after %d creates, the lane running %d holds %d leases; want at most %d", finished, inside, leased, concurrency)
		}
		gate.release <- struct{}{}
		inside--
	}
	// Another process sharing the database takes every job this one is not running (the rest
	// of the creates, and the links to the postmortem that the finished ones queued).
	other, err := store.Open(e.ctx, e.database, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for inside < concurrency { // the lane has refilled the slot freed last
		<-gate.entered
		inside++
	}
	open, _ := count()
	taken, err := other.ClaimJobs(e.ctx, "other", "github", e.clock.Now(), time.Minute, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := open - concurrency; len(taken) != want {
		t.Errorf("another process claimed %d of %d unfinished jobs; want the %d this one is not running", len(taken), open, want)
	}
}
