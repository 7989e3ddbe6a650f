package sync_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/connectors/github"
	"github.com/followthrough/followthrough/connectors/githubfake"
	"github.com/followthrough/followthrough/internal/pgtest"
	"github.com/followthrough/followthrough/store"
	"github.com/followthrough/followthrough/sync"
)

// TestReconcileTenThousandUnchangedTickets: with 10,000 linked tickets in three repositories
// and two Jira projects and nothing changed, a reconcile cycle makes at most one call per
// repository or project (a 304 on GitHub, one search page on Jira), cycle after cycle.
func TestReconcileTenThousandUnchangedTickets(t *testing.T) {
	pgtest.ForEach(t, testReconcileTenThousandUnchangedTickets)
}

func testReconcileTenThousandUnchangedTickets(t *testing.T, db pgtest.Backend) {
	if testing.Short() {
		t.Skip("10,000 tickets: not in -short")
	}
	env := newTWEnv(t, db)
	scopes := []ft.Target{
		{Kind: ft.GitHub, Repo: "acme/one"}, {Kind: ft.GitHub, Repo: "acme/two"}, {Kind: ft.GitHub, Repo: "acme/three"},
		{Kind: ft.Jira, Project: "PAY"}, {Kind: ft.Jira, Project: "OPS"},
	}
	const postmortems, perPostmortem = 100, 100
	var tickets []ft.Ticket
	var linkTo []struct{ pm, item, scope string }
	for p := range postmortems {
		doc := &ft.Document{ID: fmt.Sprintf("PM-%03d", p), Title: "Big", Status: "finalized", SignedOffBy: []string{"carol@acme.com"}}
		targets := make([]ft.Target, perPostmortem)
		for i := range perPostmortem {
			doc.ActionItems = append(doc.ActionItems, ft.ActionItem{ID: fmt.Sprintf("AI-%d", i), Title: fmt.Sprintf("Item %d", i),
				Owner: "bob@acme.com", Priority: "P2"})
			targets[i] = scopes[(p*perPostmortem+i)%len(scopes)]
		}
		if _, err := env.eng.Intake(env.ctx, sync.WithTargets(doc, targets)); err != nil {
			t.Fatal(err)
		}
		// The tickets are made at the stand-ins directly (Jira through the connector: one
		// call each), as the worker would have, a second apart: the test is about
		// reconciling, not creating.
		for i, target := range targets {
			marker := ft.Marker(doc.ID, doc.ActionItems[i].ID)
			var tk ft.Ticket
			if target.Kind == ft.GitHub {
				is, err := env.gh.CreateIssue(target.Repo, githubfake.NewIssue{Title: doc.ActionItems[i].Title, User: twBot,
					Body: "<!-- " + marker + " -->", Labels: []string{github.LabelPostmortem}})
				if err != nil {
					t.Fatal(err)
				}
				tk = ft.Ticket{Ref: ft.TicketRef{Kind: ft.GitHub, Key: github.Key(target.Repo, is.Number), URL: "https://github.example/" + target.Repo},
					Status: ft.StatusOpen, CreatedAt: is.CreatedAt, UpdatedAt: is.UpdatedAt}
			} else {
				var err error
				if tk, err = env.jiraTr.Create(env.ctx, ft.NewTicket{Target: target, Marker: marker, Title: doc.ActionItems[i].Title, PostmortemID: doc.ID}); err != nil {
					t.Fatal(err)
				}
			}
			tickets = append(tickets, tk)
			linkTo = append(linkTo, struct{ pm, item, scope string }{doc.ID, doc.ActionItems[i].ID, target.Scope()})
			env.clock.Advance(time.Second)
		}
	}
	err := env.st.Write(env.ctx, func(tx *store.Tx) error {
		for i, tk := range tickets {
			if _, err := store.LinkTicket(env.ctx, tx, linkTo[i].pm, linkTo[i].item, tk, linkTo[i].scope, env.clock.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The first cycle learns where each scope stands.
	env.clock.Advance(time.Minute)
	if err := env.eng.Reconcile(env.ctx); err != nil {
		t.Fatal(err)
	}
	for cycle := range 3 {
		env.clock.Advance(5 * time.Minute)
		env.gh.ResetCalls()
		env.jf.ResetCalls()
		if err := env.eng.Reconcile(env.ctx); err != nil {
			t.Fatal(err)
		}
		for _, sc := range scopes {
			var n int
			if sc.Kind == ft.GitHub {
				n = env.gh.Calls(http.MethodGet, "/repos/"+sc.Repo+"/issues")
				if nm := env.gh.NotModifiedCalls(http.MethodGet, "/repos/"+sc.Repo+"/issues"); nm != n {
					t.Errorf("cycle %d, %s: %d calls, %d of them 304", cycle, sc.Repo, n, nm)
				}
			} else {
				for _, c := range env.jf.Requests() {
					if c.Path == "/rest/api/3/search/jql" && strings.Contains(c.Query, "%22"+sc.Project+"%22") {
						n++
					}
				}
			}
			if n != 1 {
				t.Errorf("cycle %d, %s %s: %d calls, want one", cycle, sc.Kind, sc.Scope(), n)
			}
		}
		if all := len(env.gh.CallLog()) + len(env.jf.Requests()); all != len(scopes) {
			t.Errorf("cycle %d: %d calls for %d tickets in %d scopes, nothing changed; want one per scope", cycle, all, len(tickets), len(scopes))
		}
	}
}
