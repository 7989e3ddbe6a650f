package sync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/connectors/github"
	"github.com/followthrough/followthrough/connectors/githubfake"
	"github.com/followthrough/followthrough/internal/pgtest"
	"github.com/followthrough/followthrough/store"
	"github.com/followthrough/followthrough/sync"
)

// benchGitHub is a configuration with GitHub on a stand-in (closed with b), its tracker, and a
// logger that drops everything. As ftload runs the stand-in: no rate limits there, and no
// pacing of creates here, so that a benchmark making tickets measures followthrough.
func benchGitHub(b *testing.B) (*config.Config, ft.Tracker, *slog.Logger) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	gh := githubfake.New(githubfake.Options{RateLimit: 1 << 30, SearchRateLimit: 1 << 30})
	b.Cleanup(gh.Close)
	cfg := config.Default()
	cfg.GitHub = config.DefaultGitHub()
	cfg.GitHub.APIURL, cfg.GitHub.Token = gh.URL(), config.Secret(githubfake.DefaultToken)
	cfg.GitHub.WriteInterval, cfg.GitHub.WritesPerHour = 0, 1_000_000_000
	tr, err := github.New(cfg.GitHub, nil, github.Options{Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	return cfg, tr, logger
}

// BenchmarkUnfollowedWebhooks sends signed-and-verified GitHub deliveries (11 KB each, as
// GitHub sends them) about issues followthrough does not follow, 16 at a time as an
// organisation's webhook does, and reports what each left in the database (bytes-per-delivery:
// the database file's growth, checkpointed, over the deliveries) and how long a claim of the
// webhook lane takes before and after (claim-µs-before, claim-µs-after: the median of 50).
func BenchmarkUnfollowedWebhooks(b *testing.B) {
	ctx := context.Background()
	cfg, tr, logger := benchGitHub(b)
	path := filepath.Join(b.TempDir(), "ft.db")
	open := func() *store.Store {
		st, err := store.Open(ctx, path, logger)
		if err != nil {
			b.Fatal(err)
		}
		return st
	}
	st := open()
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	st.Close()
	sizeBefore := fileSize(b, path)

	st = open()
	defer func() { st.Close() }()
	eng := sync.New(sync.Options{Store: st, Config: cfg, Logger: logger,
		Trackers: map[ft.TrackerKind]ft.Tracker{ft.GitHub: tr}})
	// As a running server does once its first job has asked GitHub: deliveries are applied
	// as they are recorded.
	if err := eng.LearnSelf(ctx, ft.GitHub); err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "issues.closed.json"))
	if err != nil {
		b.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		b.Fatal(err)
	}
	claimBefore := medianClaim(b, st)

	var n atomic.Int64
	b.SetParallelism(8) // 16 senders on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mine := map[string]any{}
		for k, v := range doc {
			mine[k] = v
		}
		issue := map[string]any{}
		for k, v := range doc["issue"].(map[string]any) {
			issue[k] = v
		}
		mine["issue"] = issue
		for pb.Next() {
			i := n.Add(1)
			issue["number"] = 100000 + i
			payload, err := json.Marshal(mine)
			if err != nil {
				b.Error(err)
				return
			}
			ignored, err := eng.RecordWebhook(ctx, "github", fmt.Sprintf("bench-%d", i), "issues", payload)
			if err != nil || ignored != ft.WebhookNotFollowed {
				b.Errorf("delivery %d: %q, %v", i, ignored, err)
				return
			}
		}
	})
	b.StopTimer()
	claimAfter := medianClaim(b, st)
	stats, err := st.InboundStats(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if stats.Events != 0 || stats.WebhookJobs != 0 {
		b.Fatalf("unfollowed deliveries left %+v", stats)
	}
	st.Close()
	st = open() // for the deferred Close
	grew := fileSize(b, path) - sizeBefore
	b.ReportMetric(float64(grew)/float64(n.Load()), "bytes-per-delivery")
	b.ReportMetric(float64(claimBefore.Microseconds()), "claim-µs-before")
	b.ReportMetric(float64(claimAfter.Microseconds()), "claim-µs-after")
}

// medianClaim is the median time of 50 claims of the webhook lane.
func medianClaim(b *testing.B, st *store.Store) time.Duration {
	b.Helper()
	var took []time.Duration
	for range 50 {
		start := time.Now()
		if _, err := st.ClaimJobs(context.Background(), "bench", "", time.Now(), time.Minute, 16, nil); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	return took[len(took)/2]
}

// fileSize is the size of the database file with its WAL (none after a clean close).
func fileSize(b *testing.B, path string) int64 {
	b.Helper()
	var total int64
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err == nil {
			total += fi.Size()
		} else if !os.IsNotExist(err) {
			b.Fatal(err)
		}
	}
	return total
}

// followedWebhooks is an engine on database with 50 GitHub tickets it follows, the items of 10
// five-item postmortems (as ftload's are), and a GitHub delivery (11 KB, closed) about each.
func followedWebhooks(b *testing.B, database string) (*sync.Engine, [][]byte) {
	ctx := context.Background()
	cfg, tr, logger := benchGitHub(b)
	st, err := store.Open(ctx, database, logger)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	eng := sync.New(sync.Options{Store: st, Config: cfg, Logger: logger,
		Trackers: map[ft.TrackerKind]ft.Tracker{ft.GitHub: tr}})
	const tickets, perPostmortem = 50, 5
	now := time.Now()
	pmOf := func(i int) string { return fmt.Sprintf("PM-B%d", i/perPostmortem) }
	for first := 0; first < tickets; first += perPostmortem {
		doc := &ft.Document{ID: pmOf(first), Title: "Outage", Status: "finalized", SignedOffBy: []string{"carol@acme.com"}, SignedOffAt: &now}
		targets := make([]ft.Target, perPostmortem)
		for i := range perPostmortem {
			doc.ActionItems = append(doc.ActionItems, ft.ActionItem{ID: fmt.Sprintf("AI-%d", first+i+1), Title: "Action", Owner: "bob@acme.com", Priority: "P2"})
			targets[i] = ft.Target{Kind: ft.GitHub, Repo: "codinasion/codinasion-bot"}
		}
		if _, err := eng.Intake(ctx, sync.WithTargets(doc, targets)); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.Write(ctx, func(tx *store.Tx) error {
		for i := range tickets {
			ref := ft.TicketRef{Kind: ft.GitHub, Key: github.Key("codinasion/codinasion-bot", i+1)}
			if _, err := store.LinkTicket(ctx, tx, pmOf(i), fmt.Sprintf("AI-%d", i+1), ft.Ticket{Ref: ref, Status: ft.StatusOpen}, ref.Scope(), now); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "issues.closed.json"))
	if err != nil {
		b.Fatal(err)
	}
	var base map[string]any
	if err := json.Unmarshal(raw, &base); err != nil {
		b.Fatal(err)
	}
	payloads := make([][]byte, tickets)
	for i := range tickets {
		issue := map[string]any{}
		for k, v := range base["issue"].(map[string]any) {
			issue[k] = v
		}
		issue["number"] = i + 1
		base["issue"] = issue
		if payloads[i], err = json.Marshal(base); err != nil {
			b.Fatal(err)
		}
	}
	return eng, payloads
}

// BenchmarkFollowedWebhooks sends GitHub deliveries (11 KB) about 50 tickets followthrough
// follows, 8 at a time: each is recorded and applied in the group commit, as a running server
// does on SQLite once its first job has asked GitHub who it is.
func BenchmarkFollowedWebhooks(b *testing.B) {
	ctx := context.Background()
	eng, payloads := followedWebhooks(b, filepath.Join(b.TempDir(), "ft.db"))
	if err := eng.LearnSelf(ctx, ft.GitHub); err != nil {
		b.Fatal(err)
	}
	tickets := int64(len(payloads))
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			ignored, err := eng.RecordWebhook(ctx, "github", fmt.Sprintf("bench-%d", i), "issues", payloads[i%tickets])
			if err != nil || ignored != "" {
				b.Errorf("delivery %d: %q, %v", i, ignored, err)
				return
			}
		}
	})
}

// BenchmarkFollowedWebhooksChangingStatus is BenchmarkFollowedWebhooks with deliveries that
// each move their ticket, as ftload's do: a ticket's deliveries alternate closed and reopened,
// so each one is applied in full (the item's status and history, the postmortem's evaluation).
func BenchmarkFollowedWebhooksChangingStatus(b *testing.B) {
	ctx := context.Background()
	eng, closed := followedWebhooks(b, filepath.Join(b.TempDir(), "ft.db"))
	if err := eng.LearnSelf(ctx, ft.GitHub); err != nil {
		b.Fatal(err)
	}
	reopened := make([][]byte, len(closed))
	for i, payload := range closed {
		reopened[i] = reopen(b, payload)
	}
	tickets := int64(len(closed))
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1) - 1
			payload := closed[i%tickets]
			if (i/tickets)%2 == 1 {
				payload = reopened[i%tickets]
			}
			ignored, err := eng.RecordWebhook(ctx, "github", fmt.Sprintf("bench-%d", i), "issues", payload)
			if err != nil || ignored != "" {
				b.Errorf("delivery %d: %q, %v", i, ignored, err)
				return
			}
		}
	})
}

// reopen is a closed delivery turned into the same issue's reopened one.
func reopen(b *testing.B, closed []byte) []byte {
	var v map[string]any
	if err := json.Unmarshal(closed, &v); err != nil {
		b.Fatal(err)
	}
	issue := v["issue"].(map[string]any)
	v["action"] = "reopened"
	issue["state"], issue["state_reason"], issue["closed_at"] = "open", "reopened", nil
	out, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkQueuedWebhooksApplied is the worker applying deliveries stored for it, on each
// database (PostgreSQL queues every delivery; SQLite before the engine knows who it is): b.N
// deliveries about 50 tickets are recorded, then the worker applies them all, timed.
func BenchmarkQueuedWebhooksApplied(b *testing.B) {
	for _, db := range pgtest.Backends {
		b.Run(db.Name, func(b *testing.B) {
			ctx := context.Background()
			eng, payloads := followedWebhooks(b, db.Database(b))
			b.StopTimer()
			for i := range b.N {
				if ignored, err := eng.RecordWebhook(ctx, "github", fmt.Sprintf("queued-%d", i), "issues", payloads[i%len(payloads)]); err != nil || ignored != "" {
					b.Fatalf("delivery %d: %q, %v", i, ignored, err)
				}
			}
			b.StartTimer()
			if _, err := eng.RunDue(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}
