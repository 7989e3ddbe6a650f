package jira

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/connectors/jirafake"
)

// TestAdoptAddsLabelsAndAssigneeInOneEdit: an issue people opened gets the postmortem's labels
// and, when nobody has it, the owner, in one edit that leaves summary and description alone;
// adopting again writes nothing.
func TestAdoptAddsLabelsAndAssigneeInOneEdit(t *testing.T) {
	bothModes(t, func(t *testing.T, mode jirafake.Mode) {
		e := newEnv(t, mode, nil)
		ctx := context.Background()
		owner, id := ownerFor(mode)
		created := e.fake.CreateIssue(jirafake.NewIssue{Project: "OPS", Summary: "Theirs", Description: "Their words.", Labels: []string{"infra"}})
		adopt := func() {
			t.Helper()
			tk, err := e.tr.Get(ctx, created.Key)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.tr.Adopt(ctx, tk, ft.Adoption{PostmortemID: "PM-1", Owner: owner}); err != nil {
				t.Fatal(err)
			}
		}
		adopt()
		path := "/rest/api/2/issue/" + created.Key
		if n := e.fake.Calls("PUT", path); n != 1 {
			t.Errorf("%d edits; want 1", n)
		}
		is, _ := e.fake.Issue(created.Key)
		if is.Summary != "Theirs" || is.Description != "Their words." || is.Assignee != id ||
			!slices.Equal(is.Labels, []string{"infra", "postmortem", "pm-pm-1"}) {
			t.Errorf("issue = %+v; want summary and description kept, labels infra, postmortem, pm-pm-1, assignee %s", is, id)
		}
		adopt()
		if n := e.fake.Calls("PUT", path); n != 1 {
			t.Errorf("adopting again edited %d more times; want none", n-1)
		}
	})
}

func TestAdoptKeepsTheAssignee(t *testing.T) {
	e := newEnv(t, jirafake.Cloud, nil)
	ctx := context.Background()
	created := e.fake.CreateIssue(jirafake.NewIssue{Project: "OPS", Summary: "Theirs", Assignee: "acc-carol"})
	tk, err := e.tr.Get(ctx, created.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.tr.Adopt(ctx, tk, ft.Adoption{PostmortemID: "PM-1", Owner: "bob@acme.com"}); err != nil {
		t.Fatal(err)
	}
	if is, _ := e.fake.Issue(created.Key); is.Assignee != "acc-carol" || !slices.Contains(is.Labels, "postmortem") {
		t.Errorf("issue = %+v; want acc-carol kept and the label added", is)
	}
}

// TestAdoptInAReadOnlyProject: Jira refuses the edit naming the fields (400), final.
func TestAdoptInAReadOnlyProject(t *testing.T) {
	e := newEnv(t, jirafake.Cloud, func(o *jirafake.Options) { o.ReadOnlyProjects = []string{"OPS"} })
	ctx := context.Background()
	created := e.fake.CreateIssue(jirafake.NewIssue{Project: "OPS", Summary: "Theirs"})
	tk, err := e.tr.Get(ctx, created.Key)
	if err != nil {
		t.Fatalf("a read-only project can be read: %v", err)
	}
	err = e.tr.Adopt(ctx, tk, ft.Adoption{PostmortemID: "PM-1", Owner: "bob@acme.com"})
	te, ok := err.(*ft.TrackerError)
	if !ok || te.Retryable || te.StatusCode != http.StatusBadRequest || !strings.Contains(te.Message, "labels: Field 'labels' cannot be set") ||
		!strings.Contains(te.Message, "linking Jira ticket "+created.Key) {
		t.Errorf("Adopt = %v; want a final 400 naming the labels field", err)
	}
	if is, _ := e.fake.Issue(created.Key); len(is.Labels) != 0 {
		t.Errorf("labels %v written to a read-only project", is.Labels)
	}
}
