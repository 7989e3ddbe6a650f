package web

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/store"
)

// Scale of the insights benchmark: as many postmortems as a large organisation writes in
// years, each with five action items.
const (
	benchPostmortems = 10_000
	benchItems       = 5
)

// BenchmarkInsightsAndOwners requests /insights and /owners over loopback from a real server
// whose SQLite database holds 10,000 postmortems (50,000 items) signed off over two years, with
// their status history, and reports each request's p50 and p99 in milliseconds. A status change
// is committed before every request, so each answer must show the latest write (nothing is kept
// between requests: right after a write is the same as any other time). Run with a fixed count
// (-benchtime 100x) for percentiles over enough requests; BENCHMARKS.md has the figures.
func BenchmarkInsightsAndOwners(b *testing.B) {
	e := newEnv(b, testConfig)
	seedStart := time.Now()
	seedBenchHistory(b, e)
	b.Logf("seeded %d postmortems in %s", benchPostmortems, time.Since(seedStart).Round(time.Second))
	ctx := context.Background()
	flip := ft.StatusDone
	write := func(b *testing.B) {
		// A reopened or finished item: a commit the figures must show.
		err := e.store.Write(ctx, func(tx *store.Tx) error {
			_, err := store.SetItemStatus(ctx, tx, "PM-00000", "AI-1", flip, "github", "", pageNow)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		if flip == ft.StatusDone {
			flip = ft.StatusOpen
		} else {
			flip = ft.StatusDone
		}
	}
	for _, bc := range []struct{ name, path string }{
		{"insights", "/insights"},
		{"insights-team", "/insights?team=team-07"},
		{"insights-json", "/insights?format=json"},
		{"owners", "/owners"},
		{"owner", "/owners/owner-042@acme.com"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if r := e.page(bc.path); r.status != http.StatusOK {
				b.Fatalf("%s: %d %s", bc.path, r.status, r.body)
			}
			took := make([]time.Duration, 0, b.N)
			var cpu time.Duration
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				write(b)
				b.StartTimer()
				start, cpuStart := time.Now(), processCPU(b)
				r := e.page(bc.path)
				took = append(took, time.Since(start))
				cpu += processCPU(b) - cpuStart
				if r.status != http.StatusOK {
					b.Fatalf("%s: %d", bc.path, r.status)
				}
			}
			b.StopTimer()
			slices.Sort(took)
			ms := func(q float64) float64 {
				return float64(took[min(len(took)-1, int(q*float64(len(took))))].Microseconds()) / 1000
			}
			b.ReportMetric(ms(0.50), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
			// The CPU the process (server and client) spent per request: what the request costs,
			// less the wait for a core that other work on the machine adds to the wall time.
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// seedBenchHistory stores benchPostmortems postmortems with the store's intake statements and
// their items' status changes: about 70% finished (one in seven of those won't do), a tenth
// of the finished reopened and finished again, some stalled, and one postmortem in fifty
// revised to drop an item.
func seedBenchHistory(b *testing.B, e *env) {
	b.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 11))
	start := pageNow.Add(-730 * 24 * time.Hour)
	type change struct {
		pm, item string
		to       ft.Status
		at       time.Time
	}
	var (
		docs     []*ft.Document
		accepted []time.Time
		changes  []change
		stalls   [][2]string
	)
	for p := range benchPostmortems {
		signed := start.Add(time.Duration(r.Int64N(int64(720 * 24 * time.Hour))))
		doc := &ft.Document{ID: fmt.Sprintf("PM-%05d", p), Title: fmt.Sprintf("Outage %d", p), Status: "finalized",
			Team: fmt.Sprintf("team-%02d", r.IntN(20)), Severity: fmt.Sprintf("SEV%d", 1+r.IntN(3)),
			SignedOffBy: []string{"carol@acme.com"}, SignedOffAt: &signed}
		for i := range benchItems {
			it := ft.ActionItem{ID: fmt.Sprintf("AI-%d", i+1), Title: "Action item", Priority: ft.Priorities[r.IntN(4)],
				Owner: fmt.Sprintf("owner-%03d@acme.com", r.IntN(500))}
			if r.IntN(10) < 6 {
				it.Due = signed.Add(time.Duration(7+r.IntN(80)) * 24 * time.Hour).Format(time.DateOnly)
			}
			if r.IntN(10) == 0 {
				it.Team = fmt.Sprintf("team-%02d", r.IntN(20))
			}
			doc.ActionItems = append(doc.ActionItems, it)
			at, status := signed.Add(time.Hour), ft.StatusOpen
			step := func(to ft.Status) {
				at = at.Add(time.Duration(r.Int64N(int64(40 * 24 * time.Hour))))
				if at.Before(pageNow) {
					changes = append(changes, change{doc.ID, it.ID, to, at})
					status = to
				}
			}
			if r.IntN(2) == 0 {
				step(ft.StatusInProgress)
			}
			if r.IntN(10) < 7 {
				if r.IntN(7) == 0 {
					step(ft.StatusWontDo)
				} else {
					step(ft.StatusDone)
				}
				if r.IntN(10) == 0 {
					step(ft.StatusOpen)
					step(ft.StatusDone)
				}
			}
			if !status.Finished() && r.IntN(3) == 0 {
				stalls = append(stalls, [2]string{doc.ID, it.ID})
			}
		}
		docs, accepted = append(docs, doc), append(accepted, signed.Add(time.Hour))
	}

	// Stored as intake stores a first revision, from many goroutines at once, so that the
	// store's group commit shares the fsyncs.
	var wg sync.WaitGroup
	work := make(chan int)
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			for i := range work {
				plan := benchPlan(docs[i])
				if err := e.store.Write(ctx, func(tx *store.Tx) error { return store.ApplyIntake(ctx, tx, plan, accepted[i]) }); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := range docs {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}

	slices.SortFunc(changes, func(x, y change) int { return x.at.Compare(y.at) })
	for batch := range slices.Chunk(changes, 2000) {
		err := e.store.Write(ctx, func(tx *store.Tx) error {
			for _, c := range batch {
				if _, err := store.SetItemStatus(ctx, tx, c.pm, c.item, c.to, "github", "", c.at); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	err := e.store.Write(ctx, func(tx *store.Tx) error {
		for _, s := range stalls {
			if err := store.SetItemStall(ctx, tx, s[0], s[1], store.ItemStall{Reason: ft.StallOverdue, Episode: 1, Since: pageNow}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	// One postmortem in fifty drops its last item in a revision: removed, and won't do.
	for i := 0; i < len(docs); i += 50 {
		err := e.store.Write(ctx, func(tx *store.Tx) error {
			last, err := store.LoadItemTx(ctx, tx, docs[i].ID, docs[i].ActionItems[benchItems-1].ID)
			if err != nil {
				return err
			}
			from := last.Status
			last.Removed, last.Status = true, ft.StatusWontDo
			plan := benchPlan(docs[i])
			plan.Revision.Number = 2
			plan.Items = []store.ItemChange{{Row: last.ItemRow, From: from}}
			return store.ApplyIntake(ctx, tx, plan, accepted[i].Add(24*time.Hour))
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// benchPlan is what a first intake of doc writes, every item going to acme/actions.
func benchPlan(doc *ft.Document) store.IntakePlan {
	plan := store.IntakePlan{
		Postmortem: store.PostmortemRow{ID: doc.ID, Title: doc.Title, Severity: doc.Severity, Team: doc.Team, SignedOffAt: doc.SignedOffAt},
		Revision:   store.Revision{Number: 1, Hash: doc.Hash(), Document: []byte("{}")},
	}
	for i, it := range doc.ActionItems {
		plan.Items = append(plan.Items, store.ItemChange{New: true, Row: store.ItemRow{PostmortemID: doc.ID, ID: it.ID,
			Position: i, Title: it.Title, Owner: it.Owner, Priority: it.Priority, Due: it.Due, Team: it.Team,
			Labels: []string{}, Target: ft.Target{Kind: ft.GitHub, Repo: "acme/actions"}, Status: ft.StatusOpen}})
		plan.Jobs = append(plan.Jobs, store.Job{Kind: "create_ticket", PostmortemID: doc.ID, ItemID: it.ID, Tracker: string(ft.GitHub)})
	}
	return plan
}

// processCPU is the CPU time, user and system, the process has used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
