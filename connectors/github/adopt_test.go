package github

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/connectors/githubfake"
)

// TestAdoptWritesLabelAndAssigneeOnly: an issue people opened gets the postmortem label and,
// when nobody has it, the owner; its title and body stay; adopting again writes nothing.
func TestAdoptWritesLabelAndAssigneeOnly(t *testing.T) {
	for _, tt := range []struct {
		name      string
		in        githubfake.NewIssue
		owner     string
		labels    []string
		assignees []string
		writes    int // POST labels and PATCH calls
	}{
		{"unassigned", githubfake.NewIssue{Labels: []string{"bug"}}, "bob@acme.com", []string{"bug", LabelPostmortem}, []string{"bob-gh"}, 2},
		{"assigned already", githubfake.NewIssue{Assignees: []string{"dana"}}, "bob@acme.com", []string{LabelPostmortem}, []string{"dana"}, 1},
		{"owner nobody maps", githubfake.NewIssue{}, "erin@acme.com", []string{LabelPostmortem}, nil, 1},
		{"labelled already", githubfake.NewIssue{Labels: []string{"Postmortem"}, Assignees: []string{"dana"}}, "bob@acme.com", []string{"Postmortem"}, []string{"dana"}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newFake(t, githubfake.Options{})
			tr := newTracker(t, s, nil)
			ctx := context.Background()
			tt.in.Title, tt.in.Body, tt.in.User = "Theirs", "Their words.", "octocat"
			if _, err := s.CreateIssue("acme/legacy", tt.in); err != nil {
				t.Fatal(err)
			}
			adopt := func() {
				t.Helper()
				tk, err := tr.Get(ctx, "acme/legacy#1")
				if err != nil {
					t.Fatal(err)
				}
				if err := tr.Adopt(ctx, tk, ft.Adoption{PostmortemID: "PM-1", Owner: tt.owner}); err != nil {
					t.Fatal(err)
				}
			}
			adopt()
			writes := func() int {
				return s.Calls("POST", "/repos/acme/legacy/issues/1/labels") + s.Calls("PATCH", "/repos/acme/legacy/issues/1")
			}
			if n := writes(); n != tt.writes {
				t.Errorf("%d writes; want %d", n, tt.writes)
			}
			is, _ := s.Issue("acme/legacy", 1)
			if is.Title != "Theirs" || is.Body != "Their words." || !slices.Equal(is.Labels, tt.labels) || !slices.Equal(is.Assignees, tt.assignees) {
				t.Errorf("issue = %+v; want title and body kept, labels %v, assignees %v", is, tt.labels, tt.assignees)
			}
			adopt()
			if n := writes(); n != tt.writes {
				t.Errorf("adopting again wrote %d more times; want nothing", n-tt.writes)
			}
		})
	}
}

// TestAdoptOfWhatCannotBeFollowed: a pull request is not a ticket, and a repository the token
// may not write to refuses in GitHub's words; both are final.
func TestAdoptOfWhatCannotBeFollowed(t *testing.T) {
	s := newFake(t, githubfake.Options{ReadOnlyRepos: []string{"acme/legacy"}})
	tr := newTracker(t, s, nil)
	ctx := context.Background()
	if _, err := s.CreateIssue("acme/legacy", githubfake.NewIssue{Title: "Theirs"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateIssue("acme/legacy", githubfake.NewIssue{Title: "A fix", PullRequest: true}); err != nil {
		t.Fatal(err)
	}
	_, err := tr.Get(ctx, "acme/legacy#2")
	if te := asTrackerError(t, err); te.Retryable || errors.Is(err, ft.ErrTicketNotFound) || !strings.Contains(te.Message, "pull request") {
		t.Errorf("Get of a pull request: %v; want a final error saying it is a pull request", err)
	}
	tk, err := tr.Get(ctx, "acme/legacy#1")
	if err != nil {
		t.Fatalf("a read-only repository can be read: %v", err)
	}
	err = tr.Adopt(ctx, tk, ft.Adoption{PostmortemID: "PM-1", Owner: "bob@acme.com"})
	te := asTrackerError(t, err)
	if te.Retryable || te.StatusCode != http.StatusForbidden || !strings.Contains(te.Message, "Resource not accessible") {
		t.Errorf("Adopt in a read-only repository: %v; want a final 403 in GitHub's words", err)
	}
	if is, _ := s.Issue("acme/legacy", 1); len(is.Labels) != 0 {
		t.Errorf("labels %v written to a read-only repository", is.Labels)
	}
}
