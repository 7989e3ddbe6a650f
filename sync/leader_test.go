package sync_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/internal/pgtest"
	"github.com/followthrough/followthrough/store"
	"github.com/followthrough/followthrough/sync"
)

// TestPeriodicWorkHasOneLeader: two engines on one PostgreSQL schema, reconciling and
// scanning every 20 ms: only one of them runs the periodic work; when it stops, the other
// takes over.
func TestPeriodicWorkHasOneLeader(t *testing.T) {
	url := pgtest.URL(t)
	cfg := config.Default()
	cfg.Reconcile.Every = 20 * time.Millisecond
	cfg.Stall.ScanEvery = 20 * time.Millisecond
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	type process struct {
		eng  *sync.Engine
		stop context.CancelFunc
		done chan struct{}
	}
	start := func() process {
		st, err := store.Open(t.Context(), url, logger)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		eng := sync.New(sync.Options{Store: st, Config: cfg, Logger: logger, LeaderEvery: 50 * time.Millisecond})
		ctx, stop := context.WithCancel(t.Context())
		p := process{eng: eng, stop: stop, done: make(chan struct{})}
		go func() {
			defer close(p.done)
			_ = eng.Run(ctx)
		}()
		t.Cleanup(func() { stop(); <-p.done })
		return p
	}
	runs := func(p process) int64 {
		r, s := p.eng.PeriodicRuns()
		return r + s
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("not within 10s: %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	a := start()
	waitFor("a leads", func() bool { return a.eng.Leading() && runs(a) > 0 })
	b := start()
	// Both run for many periods: b never runs the periodic work.
	aBefore := runs(a)
	waitFor("a reconciles and scans 20 more times", func() bool { return runs(a) >= aBefore+20 })
	if b.eng.Leading() || runs(b) != 0 {
		t.Fatalf("b leads (%v) or ran the periodic work %d times while a leads", b.eng.Leading(), runs(b))
	}

	a.stop()
	<-a.done
	if a.eng.Leading() {
		t.Fatal("a stopped but says it leads")
	}
	waitFor("b takes over, reconciling and scanning", func() bool {
		reconciles, scans := b.eng.PeriodicRuns()
		return b.eng.Leading() && reconciles > 0 && scans > 0
	})
}

// TestPeriodicWorkKeepsItsCadenceAcrossProcesses: a process that takes the lead (here the next
// one started on the database, after the first stopped) runs each piece of periodic work when
// its period has passed since it last finished on any process, not at once: stall scans every
// hour are not run again, reconciliation every 1.5 s runs when it is due.
func TestPeriodicWorkKeepsItsCadenceAcrossProcesses(t *testing.T) {
	pgtest.ForEach(t, testPeriodicWorkKeepsItsCadenceAcrossProcesses)
}

func testPeriodicWorkKeepsItsCadenceAcrossProcesses(t *testing.T, db pgtest.Backend) {
	database := db.Database(t)
	cfg := config.Default()
	cfg.Reconcile.Every = 1500 * time.Millisecond
	cfg.Stall.ScanEvery = time.Hour
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	run := func() (eng *sync.Engine, st *store.Store, stop func()) {
		st, err := store.Open(t.Context(), database, logger)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		eng = sync.New(sync.Options{Store: st, Config: cfg, Logger: logger, LeaderEvery: 50 * time.Millisecond})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = eng.Run(ctx)
		}()
		stopped := false
		stop = func() {
			if !stopped {
				stopped = true
				cancel()
				<-done
				st.Close()
			}
		}
		t.Cleanup(stop)
		return eng, st, stop
	}
	_, aStore, stopA := run()
	// Both runs have finished (a run cut short by the stop would count as not run).
	finishedAt := func(work string) time.Time {
		at, err := aStore.PeriodicFinished(t.Context(), work)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	deadline := time.Now().Add(10 * time.Second)
	for finishedAt("reconcile").IsZero() || finishedAt("stall").IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("the first process did not finish a reconcile and a scan within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	finished := finishedAt("reconcile")
	stopA()

	b, _, _ := run()
	due := finished.Add(cfg.Reconcile.Every)
	for time.Until(due) > 200*time.Millisecond {
		if r, s := b.PeriodicRuns(); r != 0 || s != 0 {
			t.Fatalf("the next process reconciled %d times and scanned %d times %s before reconciliation was due", r, s, time.Until(due).Round(time.Millisecond))
		}
		time.Sleep(20 * time.Millisecond)
	}
	deadline = due.Add(5 * time.Second)
	for r, _ := b.PeriodicRuns(); r == 0; r, _ = b.PeriodicRuns() {
		if time.Now().After(deadline) {
			t.Fatal("the next process did not reconcile within 5 s of it being due")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, s := b.PeriodicRuns(); s != 0 {
		t.Fatalf("the next process scanned for stalls %d times, an hour after the last scan not yet past", s)
	}
}

// A finish time ahead of the leader's clock (another process's clock was a day ahead) delays
// the periodic work by one period at most, not until that time.
func TestPeriodicWorkAfterAClockAhead(t *testing.T) {
	pgtest.ForEach(t, testPeriodicWorkAfterAClockAhead)
}

func testPeriodicWorkAfterAClockAhead(t *testing.T, db pgtest.Backend) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(t.Context(), db.Database(t), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, work := range []string{"reconcile", "stall"} {
		if err := st.RecordPeriodicFinish(t.Context(), work, time.Now().Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Default()
	cfg.Reconcile.Every = 500 * time.Millisecond
	cfg.Stall.ScanEvery = 500 * time.Millisecond
	eng := sync.New(sync.Options{Store: st, Config: cfg, Logger: logger, LeaderEvery: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = eng.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(5 * time.Second)
	for r, s := eng.PeriodicRuns(); r == 0 || s == 0; r, s = eng.PeriodicRuns() {
		if time.Now().After(deadline) {
			t.Fatalf("no reconcile (%d) or stall scan (%d) within 5 s of a 0.5 s period, after a finish time a day ahead", r, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
