package sync_test

import (
	"errors"
	"slices"
	"testing"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/connectors/github"
	"github.com/followthrough/followthrough/connectors/jirafake"
	"github.com/followthrough/followthrough/internal/pgtest"
	"github.com/followthrough/followthrough/sync"
)

func TestSetItemStatusMovesTheTicket(t *testing.T) {
	pgtest.ForEach(t, testSetItemStatusMovesTheTicket)
}

func testSetItemStatusMovesTheTicket(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	pm := env.intake("PM-S", ft.Target{Kind: ft.GitHub, Repo: twRepo}, ft.Target{Kind: ft.Jira, Project: twProject})
	repo, num := splitGitHubKey(t, pm.Items[0].Ticket.Key)
	jiraKey := pm.Items[1].Ticket.Key

	steps := []struct {
		status      ft.Status
		ghState     string
		ghReason    string
		ghLabel     bool
		jiraStatus  string
		jiraResolve string
	}{
		{ft.StatusInProgress, "open", "", true, "In Progress", ""},
		{ft.StatusDone, "closed", "completed", true, "Done", "Done"},
		{ft.StatusOpen, "open", "reopened", false, "To Do", ""},
		{ft.StatusWontDo, "closed", "not_planned", false, "Won't Do", "Won't Do"},
		{ft.StatusInProgress, "open", "reopened", true, "In Progress", ""},
	}
	prev := ft.StatusOpen
	for i, step := range steps {
		env.tick()
		for _, item := range []string{"AI-1", "AI-2"} {
			view, err := env.eng.SetItemStatus(env.ctx, "PM-S", item, step.status)
			if err != nil {
				t.Fatalf("%s -> %s: %v", item, step.status, err)
			}
			if view.ID != item || view.Status != step.status {
				t.Fatalf("%s -> %s: answered %+v", item, step.status, view)
			}
		}
		env.run()
		is, _ := env.gh.Issue(repo, num)
		if is.State != step.ghState || (is.State == "closed" && is.StateReason != step.ghReason) ||
			slices.Contains(is.Labels, github.LabelInProgress) != step.ghLabel {
			t.Fatalf("%s: github issue %s/%s labels %v", step.status, is.State, is.StateReason, is.Labels)
		}
		ji, _ := env.jf.Issue(jiraKey)
		if ji.Status != step.jiraStatus || ji.Resolution != step.jiraResolve {
			t.Fatalf("%s: jira issue %q resolution %q", step.status, ji.Status, ji.Resolution)
		}
		for _, item := range []string{"AI-1", "AI-2"} {
			h := env.history("PM-S", item)
			if len(h) != i+1 || h[i] != (ft.HistoryEntry{From: prev, To: step.status, Source: "api", At: h[i].At}) {
				t.Fatalf("%s: history %+v", item, h)
			}
		}
		events := env.recv.statusEvents()
		if len(events) != 2*(i+1) {
			t.Fatalf("%s: %d events, want %d", step.status, len(events), 2*(i+1))
		}
		for _, ev := range events[2*i:] {
			if *ev.Change != (sync.StatusChange{From: prev, To: step.status, Source: "api"}) {
				t.Fatalf("%s: event change %+v", step.status, ev.Change)
			}
		}
		prev = step.status
	}

	// The same status again: 200 with no change, no event, no tracker call.
	env.gh.ResetCalls()
	if view, err := env.eng.SetItemStatus(env.ctx, "PM-S", "AI-1", prev); err != nil || view.Status != prev {
		t.Fatalf("same status: %+v, %v", view, err)
	}
	env.run()
	if n := len(env.gh.CallLog()); n != 0 {
		t.Fatalf("%d tracker calls for no change", n)
	}
	if n := len(env.recv.statusEvents()); n != 2*len(steps) {
		t.Fatalf("%d events after no change, want %d", n, 2*len(steps))
	}
	if it := env.item("PM-S", "AI-1"); it.LastActivity != nil {
		t.Fatalf("API changes counted as people's activity: %v", it.LastActivity)
	}
}

func TestSetItemStatusCompletesThePostmortem(t *testing.T) {
	pgtest.ForEach(t, testSetItemStatusCompletesThePostmortem)
}

func testSetItemStatusCompletesThePostmortem(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	env.intake("PM-F", ft.Target{Kind: ft.GitHub, Repo: twRepo}, ft.Target{Kind: ft.GitHub, Repo: twRepo})
	for _, item := range []string{"AI-1", "AI-2"} {
		if _, err := env.eng.SetItemStatus(env.ctx, "PM-F", item, ft.StatusDone); err != nil {
			t.Fatal(err)
		}
	}
	env.run()
	pm := env.pm("PM-F")
	if pm.State != ft.StateCompleted || pm.Completion.Percent != 100 {
		t.Fatalf("state %s, %d%%", pm.State, pm.Completion.Percent)
	}
	env.recv.mu.Lock()
	defer env.recv.mu.Unlock()
	var types []string
	for _, ev := range env.recv.events {
		types = append(types, ev.Type)
	}
	want := []string{ft.EventStatusChanged, ft.EventStatusChanged, ft.EventCompleted}
	if !slices.Equal(types, want) {
		t.Fatalf("events %v, want %v", types, want)
	}
}

func TestSetItemStatusTwoStepJiraWorkflow(t *testing.T) {
	pgtest.ForEach(t, testSetItemStatusTwoStepJiraWorkflow)
}

func testSetItemStatusTwoStepJiraWorkflow(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	env.jf.SetWorkflow(jirafake.TwoStepWorkflow())
	pm := env.intake("PM-W", ft.Target{Kind: ft.Jira, Project: twProject}, ft.Target{Kind: ft.Jira, Project: twProject})
	for i, c := range []struct {
		status     ft.Status
		resolution string
	}{{ft.StatusDone, "Done"}, {ft.StatusWontDo, "Won't Do"}} {
		item := pm.Items[i]
		if _, err := env.eng.SetItemStatus(env.ctx, "PM-W", item.ID, c.status); err != nil {
			t.Fatal(err)
		}
		env.run()
		ji, _ := env.jf.Issue(item.Ticket.Key)
		if ji.Status != "Done" || ji.Resolution == "" {
			t.Fatalf("%s: jira issue %q resolution %q", c.status, ji.Status, ji.Resolution)
		}
		if c.status == ft.StatusWontDo && ji.Resolution == "Done" {
			t.Fatalf("won't do resolved as Done")
		}
		if it := env.item("PM-W", item.ID); it.Sync != ft.SyncLinked || it.Status != c.status {
			t.Fatalf("%s: sync %s error %v status %s", item.ID, it.Sync, it.LastError, it.Status)
		}
	}
}

func TestSetItemStatusRefusals(t *testing.T) { pgtest.ForEach(t, testSetItemStatusRefusals) }

func testSetItemStatusRefusals(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	env.intake("PM-Q", ft.Target{Kind: ft.GitHub, Repo: twRepo}, ft.Target{Kind: ft.GitHub, Repo: twRepo})
	// A revision removes AI-2 and adds AI-3, whose ticket does not exist until the worker runs.
	signed := env.clock.Now()
	doc := &ft.Document{ID: "PM-Q", Title: "Outage PM-Q", Status: "finalized", SignedOffBy: []string{"carol@acme.com"},
		SignedOffAt: &signed, ActionItems: []ft.ActionItem{
			{ID: "AI-1", Title: "Action 1", Owner: "bob@acme.com", Priority: "P1"},
			{ID: "AI-3", Title: "Action 3", Owner: "bob@acme.com", Priority: "P1"},
		}}
	target := ft.Target{Kind: ft.GitHub, Repo: twRepo}
	if _, err := env.eng.Intake(env.ctx, sync.WithTargets(doc, []ft.Target{target, target})); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		pm, item string
		status   ft.Status
		want     error
	}{
		{"PM-NONE", "AI-1", ft.StatusDone, ft.ErrNotFound},
		{"PM-Q", "AI-9", ft.StatusDone, ft.ErrNotFound},
		{"PM-Q", "AI-2", ft.StatusDone, ft.ErrConflict},
		{"PM-Q", "AI-3", ft.StatusDone, ft.ErrConflict},
		{"PM-Q", "AI-1", "finished", sync.ErrInvalidStatus},
	}
	for _, c := range cases {
		_, err := env.eng.SetItemStatus(env.ctx, c.pm, c.item, c.status)
		if !errors.Is(err, c.want) {
			t.Errorf("%s/%s -> %s: %v, want %v", c.pm, c.item, c.status, err, c.want)
		}
	}
	if h := env.history("PM-Q", "AI-3"); len(h) != 0 {
		t.Fatalf("a refused change left history: %+v", h)
	}
	env.run()
	if _, err := env.eng.SetItemStatus(env.ctx, "PM-Q", "AI-3", ft.StatusInProgress); err != nil {
		t.Fatalf("once its ticket exists: %v", err)
	}
}
