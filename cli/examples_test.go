package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestExamplesRepository keeps examples/postmortems-repo true: its template and sample lint
// with its configuration (the template only as a draft), and its workflow is YAML that lints on
// pull requests and submits on pushes with the token from a secret.
func TestExamplesRepository(t *testing.T) {
	repo := filepath.Join("..", "examples", "postmortems-repo")
	samples, err := filepath.Glob(filepath.Join(repo, "postmortems", "*.md"))
	if err != nil || len(samples) == 0 {
		t.Fatalf("no sample postmortems: %v", err)
	}
	template := filepath.Join(repo, "postmortem-template.md")
	args := append([]string{"--config", filepath.Join(repo, "followthrough-lint.yaml"), template}, samples...)
	code, stdout, stderr := run(LintCommand, nil, args...)
	if code != 0 || stderr != "" {
		t.Fatalf("lint: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, l := range lines(stdout) {
		if !strings.HasPrefix(l, template+":") || !strings.Contains(l, "warning: status") && !strings.Contains(l, "warning: signed_off_by") {
			t.Errorf("more than the template's draft warnings: %s", l)
		}
	}
	if code, stdout, _ := run(submitCmd, nil, append([]string{"--dry-run"}, samples...)...); code != 0 || len(lines(stdout)) != len(samples) {
		t.Errorf("dry run of the samples: exit %d\n%s", code, stdout)
	}

	b, err := os.ReadFile(filepath.Join(repo, ".github", "workflows", "postmortems.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		On   map[string]any `yaml:"on"`
		Jobs map[string]struct {
			If    string           `yaml:"if"`
			Steps []map[string]any `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatalf("workflow: %v", err)
	}
	if wf.On["pull_request"] == nil || wf.On["push"] == nil {
		t.Errorf("workflow triggers: %v", wf.On)
	}
	lint, submit := wf.Jobs["lint"], wf.Jobs["submit"]
	if !strings.Contains(lint.If, "pull_request") || !strings.Contains(submit.If, "push") {
		t.Errorf("jobs: lint if %q, submit if %q", lint.If, submit.If)
	}
	if s := string(b); !strings.Contains(s, "followthrough lint --config followthrough-lint.yaml") ||
		!strings.Contains(s, "followthrough submit") || !strings.Contains(s, "${{ secrets.FOLLOWTHROUGH_TOKEN }}") {
		t.Error("the workflow does not lint, submit, or take the token from a secret")
	}
}
