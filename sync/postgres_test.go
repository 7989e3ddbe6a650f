package sync

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	gosync "sync"
	"testing"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/internal/pgtest"
	"github.com/followthrough/followthrough/internal/testclock"
	"github.com/followthrough/followthrough/store"
)

// TestSamePostmortemToTwoProcessesAtOnce: two engines on two stores sharing one PostgreSQL
// schema, as two `serve` processes would, get the same postmortems at the same moment. For each
// postmortem one intake creates it and the other finds it unchanged (the API's one 202 and one
// 200), and each item has one create job: the SERIALIZABLE writes, retried, behave as SQLite's
// single writer.
func TestSamePostmortemToTwoProcessesAtOnce(t *testing.T) {
	database := pgtest.URL(t)
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.Default()
	cfg.GitHub = config.DefaultGitHub()
	cfg.GitHub.Token = "ghp_test"
	cfg.Routes = []config.Route{{To: config.RouteTarget{Kind: "github", Repo: repoA.Repo}}}
	var engines []*Engine
	var stores []*store.Store
	for range 2 {
		st, err := store.Open(ctx, database, logger)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		stores = append(stores, st)
		engines = append(engines, New(Options{Store: st, Config: cfg, Clock: testclock.New(t0), Logger: logger}))
	}

	const postmortems = 20
	outcomes := make([][2]ft.IntakeOutcome, postmortems)
	errs := make([][2]error, postmortems)
	var wg gosync.WaitGroup
	for i := range postmortems {
		doc := testDoc(fmt.Sprintf("PM-%d", i), item("AI-1", "one"), item("AI-2", "two"))
		for p, e := range engines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outcomes[i][p], errs[i][p] = e.Intake(ctx, doc)
			}()
		}
	}
	wg.Wait()
	for i := range postmortems {
		if errs[i][0] != nil || errs[i][1] != nil {
			t.Errorf("PM-%d: intake errors %v, %v", i, errs[i][0], errs[i][1])
			continue
		}
		got := map[ft.IntakeOutcome]int{outcomes[i][0]: 1}
		got[outcomes[i][1]]++
		if got[ft.IntakeCreated] != 1 || got[ft.IntakeUnchanged] != 1 {
			t.Errorf("PM-%d: outcomes %v; want one created and one unchanged", i, outcomes[i])
		}
	}
	pending, _, err := stores[1].JobCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Each postmortem queued a create for each of its two items, and nothing else but
	// notifications (none are configured).
	if pending != 2*postmortems {
		t.Errorf("%d jobs queued; want %d, one create per item", pending, 2*postmortems)
	}
	for i := range postmortems {
		view, err := stores[1].Postmortem(ctx, fmt.Sprintf("PM-%d", i))
		if err != nil || len(view.Items) != 2 {
			t.Errorf("PM-%d: %d items, %v; want 2", i, len(view.Items), err)
		}
	}
}
