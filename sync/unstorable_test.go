package sync_test

import (
	"encoding/json"
	"testing"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/connectors/jira"
	"github.com/followthrough/followthrough/internal/pgtest"
)

// TestWebhookWithNULInTextIsApplied: a followed ticket's delivery whose JSON holds "\u0000" in
// text followthrough keeps (the sender's login, a Jira account id) and in text it does not (a
// label, the title) is applied on both databases: the status changes once, the history keeps
// the actor without the NUL, and nothing is left to retry. PostgreSQL cannot store a NUL in
// text (22021), so the delivery's job failed there and was retried for ever. A delivery whose
// ticket key holds a NUL is about no followed ticket, on both databases.
func TestWebhookWithNULInTextIsApplied(t *testing.T) {
	pgtest.ForEach(t, testWebhookWithNULInTextIsApplied)
}

func testWebhookWithNULInTextIsApplied(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	pm := env.intake("PM-N", ft.Target{Kind: ft.GitHub, Repo: twRepo}, ft.Target{Kind: ft.Jira, Project: twProject})

	// GitHub: closed as completed by a sender whose login holds a NUL, with a label that does.
	ghKey := pm.Items[0].Ticket.Key
	repo, num := splitGitHubKey(t, ghKey)
	env.tick()
	if err := env.gh.CloseIssue(repo, num, "completed", twPerson); err != nil {
		t.Fatal(err)
	}
	var payload map[string]any
	raw := env.githubPayload("issues.closed.json", "closed", ghKey, "octo\x00person")
	mustUnmarshal(t, raw, &payload)
	issue := payload["issue"].(map[string]any)
	issue["title"] = "Action\x00 1"
	issue["labels"] = []any{map[string]any{"name": "post\x00mortem", "color": "ededed"}}
	env.deliver("github", nextDelivery(), "issues", mustJSON(t, payload))

	// Jira: resolved by an account whose id holds a NUL.
	jiraKey := pm.Items[1].Ticket.Key
	env.tick()
	if err := env.jf.Transition(jiraKey, "Done", "Done"); err != nil {
		t.Fatal(err)
	}
	env.deliver("jira", nextDelivery(), jira.EventIssueUpdated,
		env.jiraPayload("webhook-issue-updated-resolved.json", jiraKey, "acc\x00-nul"))
	env.run()

	// A repository name with a NUL names no ticket that followthrough follows.
	raw = env.githubPayload("issues.closed.json", "closed", ghKey, twPerson)
	mustUnmarshal(t, raw, &payload)
	payload["repository"].(map[string]any)["full_name"] = twRepo + "\x00"
	ignored, err := env.eng.RecordWebhook(env.ctx, "github", nextDelivery(), "issues", mustJSON(t, payload))
	if err != nil || ignored != ft.WebhookNotFollowed {
		t.Errorf("a delivery about %q: ignored %q, %v; want %q", twRepo+"\x00", ignored, err, ft.WebhookNotFollowed)
	}

	for _, c := range []struct{ item, actor string }{{"AI-1", "octoperson"}, {"AI-2", "acc-nul"}} {
		wantStatus(t, env.item("PM-N", c.item), ft.StatusDone)
		h := env.history("PM-N", c.item)
		if len(h) != 1 || h[0].To != ft.StatusDone || h[0].Actor != c.actor {
			t.Errorf("%s history %+v; want one change to done by %q", c.item, h, c.actor)
		}
	}
	pending, failed, err := env.st.JobCounts(env.ctx)
	if err != nil || pending != 0 || failed != 0 {
		t.Errorf("after the deliveries: %d jobs pending, %d failed (%v); want none", pending, failed, err)
	}
	if st := env.pm("PM-N").State; st != ft.StateCompleted {
		t.Errorf("state %s; want completed", st)
	}
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}
