package cli

import (
	"slices"
	"testing"
)

// TestLintRoutesItemsAsIntakeDoes: an item that names an existing ticket needs no route, and one
// naming a ticket of a tracker the configuration lacks is a problem on its line, as intake
// would answer it (the router decides both, for intake and lint alike).
func TestLintRoutesItemsAsIntakeDoes(t *testing.T) {
	cfg := files(t, "followthrough.yaml", testConfigYAML)[0]
	doc := files(t, "tickets.md", `---
id: PM-CLI-T
title: Search outage
status: finalized
team: search
signed_off_by: carol@acme.com
---
## Action Items

| ID | Action Item | Owner | Bug |
|----|-------------|-------|-----|
| AI-1 | Page on error rate | bob-gh | acme/search#88 |
| AI-2 | Rotate the keys | bob-gh | PAY-12 |
| AI-3 | Write a runbook | bob-gh | |
`)[0]
	code, stdout, stderr := run(LintCommand, map[string]string{}, "--config", cfg, doc)
	want := []string{
		doc + `:13: action_items[1].ticket: action item "AI-2": PAY-12 is a jira ticket, and jira is not configured`,
		doc + `:14: action_items[2].tracker: no route for action item "AI-3": give it a tracker, or add a route for team "search", severity "" or its labels`,
	}
	if code != 2 || !slices.Equal(lines(stdout), want) {
		t.Errorf("exit %d, stdout:\n%s\nwant exit 2 and\n%s\nstderr: %s", code, stdout, want, stderr)
	}
}
