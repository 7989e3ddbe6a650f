package sync_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/connectors/github"
	"github.com/followthrough/followthrough/connectors/githubfake"
	"github.com/followthrough/followthrough/internal/pgtest"
	"github.com/followthrough/followthrough/store"
	"github.com/followthrough/followthrough/sync"
)

func TestReconcileSeesChangesMadeWithoutWebhooks(t *testing.T) {
	pgtest.ForEach(t, testReconcileSeesChangesMadeWithoutWebhooks)
}

func testReconcileSeesChangesMadeWithoutWebhooks(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	pm := env.intake("PM-R", ft.Target{Kind: ft.GitHub, Repo: twRepo}, ft.Target{Kind: ft.Jira, Project: twProject})
	ghKey, jiraKey := pm.Items[0].Ticket.Key, pm.Items[1].Ticket.Key
	repo, num := splitGitHubKey(t, ghKey)
	if err := env.eng.Reconcile(env.ctx); err != nil {
		t.Fatal(err)
	}
	env.run()
	if n := len(env.recv.statusEvents()); n != 0 {
		t.Fatalf("%d events from a reconcile with nothing changed", n)
	}

	// People change both tickets; no webhook arrives.
	env.clock.Advance(time.Minute)
	if err := env.gh.CloseIssue(repo, num, "not_planned", twPerson); err != nil {
		t.Fatal(err)
	}
	if err := env.jf.Transition(jiraKey, "In Progress", ""); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(time.Minute)
	if err := env.eng.Reconcile(env.ctx); err != nil {
		t.Fatal(err)
	}
	env.run()
	for _, c := range []struct {
		item string
		want ft.Status
	}{{"AI-1", ft.StatusWontDo}, {"AI-2", ft.StatusInProgress}} {
		it := env.item("PM-R", c.item)
		wantStatus(t, it, c.want)
		h := env.history("PM-R", c.item)
		if len(h) != 1 || h[0].Source != "reconcile" || h[0].To != c.want {
			t.Fatalf("%s: history %+v", c.item, h)
		}
		if it.LastActivity == nil {
			t.Fatalf("%s: a person's status change is activity", c.item)
		}
	}
	events := env.recv.statusEvents()
	if len(events) != 2 {
		t.Fatalf("%d status events, want 2", len(events))
	}
	for _, ev := range events {
		if ev.Change.Source != "reconcile" {
			t.Fatalf("event %+v has source %s", ev, ev.Change.Source)
		}
	}

	// Nothing new: GitHub answers 304, Jira one search, no event.
	env.gh.ResetCalls()
	env.jf.ResetCalls()
	env.clock.Advance(5 * time.Minute)
	if err := env.eng.Reconcile(env.ctx); err != nil {
		t.Fatal(err)
	}
	env.run()
	path := "/repos/" + repo + "/issues"
	if n, nm := env.gh.Calls("GET", path), env.gh.NotModifiedCalls("GET", path); n != 1 || nm != 1 {
		t.Fatalf("github: %d list calls, %d of them 304; want one 304", n, nm)
	}
	if n := env.jf.Calls("GET", "/rest/api/3/search/jql"); n != 1 {
		t.Fatalf("jira: %d searches, want 1", n)
	}
	if n := len(env.recv.statusEvents()); n != 2 {
		t.Fatalf("%d status events after a quiet reconcile, want 2", n)
	}

	// A webhook that arrives late (older than what reconcile saw) changes nothing.
	env.deliver("jira", nextDelivery(), "jira:issue_updated",
		[]byte(fmt.Sprintf(`{"timestamp":%d,"webhookEvent":"jira:issue_updated","user":{"accountId":%q},
		"issue":{"key":%q,"fields":{"updated":%q,"status":{"name":"To Do","statusCategory":{"key":"new"}}}},
		"changelog":{"items":[{"field":"status"}]}}`, twStart.UnixMilli(), twJiraAcc, jiraKey,
			twStart.Format("2006-01-02T15:04:05.000-0700"))))
	wantStatus(t, env.item("PM-R", "AI-2"), ft.StatusInProgress)
}

// TestReconcileCostGrowsWithChangesNotTickets counts tracker calls: 1,000 linked tickets in
// three repositories, ten of them changed, cost one list call per repository; with nothing
// changed, one 304 per repository.
func TestReconcileCostGrowsWithChangesNotTickets(t *testing.T) {
	pgtest.ForEach(t, testReconcileCostGrowsWithChangesNotTickets)
}

func testReconcileCostGrowsWithChangesNotTickets(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	repos := []string{"acme/one", "acme/two", "acme/three"}
	const total = 1000
	doc := &ft.Document{ID: "PM-BIG", Title: "Big", Status: "finalized", SignedOffBy: []string{"carol@acme.com"}}
	targets := make([]ft.Target, total)
	for i := range total {
		doc.ActionItems = append(doc.ActionItems, ft.ActionItem{ID: fmt.Sprintf("AI-%d", i), Title: fmt.Sprintf("Item %d", i),
			Owner: "bob@acme.com", Priority: "P2"})
		targets[i] = ft.Target{Kind: ft.GitHub, Repo: repos[i%len(repos)]}
	}
	if _, err := env.eng.Intake(env.ctx, sync.WithTargets(doc, targets)); err != nil {
		t.Fatal(err)
	}
	// The tickets are made at the stand-in directly and linked through the store, as the
	// worker would have: the test is about reconciling, not creating.
	tickets := make([]ft.Ticket, total)
	for i := range total {
		repo := targets[i].Repo
		is, err := env.gh.CreateIssue(repo, githubfake.NewIssue{Title: doc.ActionItems[i].Title, User: twBot,
			Body: "<!-- " + ft.Marker(doc.ID, doc.ActionItems[i].ID) + " -->", Labels: []string{github.LabelPostmortem}})
		if err != nil {
			t.Fatal(err)
		}
		// followthrough creates at most about one ticket a second (github.write_interval).
		env.clock.Advance(time.Second)
		tickets[i] = ft.Ticket{Ref: ft.TicketRef{Kind: ft.GitHub, Key: github.Key(repo, is.Number),
			URL: env.gh.HTMLBase() + "/" + repo + "/issues/" + fmt.Sprint(is.Number)},
			Status: ft.StatusOpen, CreatedAt: is.CreatedAt, UpdatedAt: is.UpdatedAt}
	}
	err := env.st.Write(env.ctx, func(tx *store.Tx) error {
		for i, tk := range tickets {
			if _, err := store.LinkTicket(env.ctx, tx, doc.ID, doc.ActionItems[i].ID, tk, targets[i].Repo, env.clock.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The first cycle learns where each repository stands.
	env.clock.Advance(time.Minute)
	if err := env.eng.Reconcile(env.ctx); err != nil {
		t.Fatal(err)
	}

	// Ten tickets change, spread over the repositories.
	env.clock.Advance(time.Minute)
	want := map[string]ft.Status{}
	for n := range 10 {
		i := n * 97
		repo, num := splitGitHubKey(t, tickets[i].Ref.Key)
		var err error
		switch n % 3 {
		case 0:
			err = env.gh.CloseIssue(repo, num, "completed", twPerson)
			want[doc.ActionItems[i].ID] = ft.StatusDone
		case 1:
			err = env.gh.AddLabel(repo, num, github.LabelInProgress)
			want[doc.ActionItems[i].ID] = ft.StatusInProgress
		default:
			err = env.gh.CloseIssue(repo, num, "not_planned", twPerson)
			want[doc.ActionItems[i].ID] = ft.StatusWontDo
		}
		if err != nil {
			t.Fatal(err)
		}
		env.clock.Advance(time.Second)
	}
	env.clock.Advance(time.Minute)
	env.gh.ResetCalls()
	if err := env.eng.Reconcile(env.ctx); err != nil {
		t.Fatal(err)
	}
	all := 0
	for _, repo := range repos {
		n := env.gh.Calls("GET", "/repos/"+repo+"/issues")
		if n > 2 {
			t.Errorf("%s: %d list calls for a few changed tickets, want at most 2", repo, n)
		}
		all += n
	}
	if got := len(env.gh.CallLog()); got != all {
		t.Errorf("%d calls in all, %d of them lists: want only lists", got, all)
	}
	t.Logf("reconcile with 10 of %d tickets changed: %d calls over %d repositories", total, all, len(repos))
	pm := env.pm(doc.ID)
	changed := 0
	for _, it := range pm.Items {
		w, ok := want[it.ID]
		if !ok {
			w = ft.StatusOpen
		} else {
			changed++
		}
		if it.Status != w {
			t.Fatalf("%s: status %s, want %s", it.ID, it.Status, w)
		}
	}
	if changed != 10 {
		t.Fatalf("%d items changed, want 10", changed)
	}

	// Nothing changed: only 304s, one per repository.
	env.clock.Advance(5 * time.Minute)
	env.gh.ResetCalls()
	if err := env.eng.Reconcile(env.ctx); err != nil {
		t.Fatal(err)
	}
	for _, repo := range repos {
		path := "/repos/" + repo + "/issues"
		if n, nm := env.gh.Calls("GET", path), env.gh.NotModifiedCalls("GET", path); n != 1 || nm != 1 {
			t.Errorf("%s: %d calls, %d of them 304; want exactly one 304", repo, n, nm)
		}
	}
	if got := len(env.gh.CallLog()); got != len(repos) {
		t.Errorf("%d calls with nothing changed, want %d", got, len(repos))
	}
}

// TestRunReconcilesAndAppliesWebhooks runs the engine as the server does: reconciliation on its
// interval catches a change made without a webhook, and a recorded webhook is applied at once.
func TestRunReconcilesAndAppliesWebhooks(t *testing.T) {
	pgtest.ForEach(t, testRunReconcilesAndAppliesWebhooks)
}

func testRunReconcilesAndAppliesWebhooks(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	pm := env.intake("PM-RUN", ft.Target{Kind: ft.GitHub, Repo: twRepo}, ft.Target{Kind: ft.Jira, Project: twProject})
	repo, num := splitGitHubKey(t, pm.Items[0].Ticket.Key)
	jiraKey := pm.Items[1].Ticket.Key
	env.cfg.Reconcile.Every = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(env.ctx)
	done := make(chan error, 1)
	go func() { done <- env.eng.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	if err := env.gh.CloseIssue(repo, num, "completed", twPerson); err != nil {
		t.Fatal(err)
	}
	// Reconciliation runs when its period has passed on the engine's clock, which only the
	// test moves: each poll moves it on. A single tick before the close let a busy machine run
	// reconciliation between the two, and then never again (seen in CI).
	waitFor("reconcile to see the closed issue", func() bool {
		env.tick()
		return env.item("PM-RUN", "AI-1").Status == ft.StatusDone
	})

	// Jira's search does not show this change yet, so only the webhook can tell.
	env.jf.SetSearchLag(time.Hour)
	env.tick()
	if err := env.jf.Transition(jiraKey, "In Progress", ""); err != nil {
		t.Fatal(err)
	}
	ignored, err := env.eng.RecordWebhook(env.ctx, "jira", nextDelivery(), "jira:issue_updated",
		env.jiraPayload("webhook-issue-updated-started-working.json", jiraKey, twJiraAcc))
	if err != nil || ignored != "" {
		t.Fatalf("record: %q, %v", ignored, err)
	}
	waitFor("the webhook to be applied", func() bool { return env.item("PM-RUN", "AI-2").Status == ft.StatusInProgress })
	waitFor("both events delivered", func() bool {
		env.recv.mu.Lock()
		defer env.recv.mu.Unlock()
		return len(env.recv.events) >= 2
	})
	if events := env.recv.statusEvents(); len(events) != 2 {
		t.Fatalf("%d status events, want 2", len(events))
	}
	if h := env.history("PM-RUN", "AI-2"); len(h) != 1 || h[0].Source != "jira" {
		t.Fatalf("history %+v", h)
	}
}
