package cli

import (
	"slices"
	"strings"
	"testing"
)

// An @login that people does not know is kept as written, and the ticket gets no assignee:
// lint warns about it as about any other owner it cannot map (the contract's "Owners").
func TestLintWarnsAboutAnUnknownLogin(t *testing.T) {
	cfg := files(t, "followthrough.yaml", testConfigYAML)[0]
	md := files(t, "list.md", "---\nid: PM-L\ntitle: t\nstatus: finalized\nsigned_off_by: c@acme.com\nteam: payments\n---\n## Action Items\n\n| ID | Action Item | Owner |\n|---|---|---|\n| AI-1 | Fix it | @nobody |\n| AI-2 | Fix that | @bob-gh |\n| AI-3 | And this | bob@ |\n")[0]
	code, stdout, stderr := run(LintCommand, nil, "--config", cfg, md)
	want := []string{
		md + `:12: warning: owner "@nobody" is not an email and not in people: the ticket gets no assignee`,
		md + `:14: warning: owner "bob@" is not an email and not in people: the ticket gets no assignee`,
	}
	if code != 0 || !slices.Equal(lines(stdout), want) {
		t.Errorf("exit %d, stdout:\n%s\nwant\n%s\nstderr: %s", code, stdout, strings.Join(want, "\n"), stderr)
	}
}
