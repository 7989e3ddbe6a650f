package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadForLint: lint reads the service's configuration format, and the trackers'
// credentials may be left out; every other problem still counts.
func TestLoadForLint(t *testing.T) {
	dir := t.TempDir()
	write := func(name, yaml string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noSecrets := write("lint.yaml", `
github:
  api_url: https://ghe.example.com/api/v3/
jira:
  url: https://acme.atlassian.net
routes:
  - when: { team: payments }
    to: { kind: jira, project: PAY }
  - to: { kind: github, repo: acme/postmortem-actions }
people:
  - { email: bob@acme.com, github: bob-gh, jira: 5b10ac8d82e05b22cc7d4ef5 }
`)
	cfg, err := LoadForLint(noSecrets)
	if err != nil {
		t.Fatalf("LoadForLint: %v", err)
	}
	if s := cfg.TicketSites(); s.GitHub != "https://ghe.example.com" || s.Jira != "https://acme.atlassian.net" {
		t.Errorf("ticket sites %+v", s)
	}
	if _, err := Load(noSecrets); err == nil || !strings.Contains(err.Error(), "github: needs token or app") ||
		!strings.Contains(err.Error(), "jira.api_token: required") {
		t.Errorf("Load without credentials: %v", err)
	}
	bad := write("bad.yaml", "routes:\n  - to: { kind: jira, project: PAY }\n")
	if _, err := LoadForLint(bad); err == nil || !strings.Contains(err.Error(), "routes[0]") {
		t.Errorf("LoadForLint lets a route to an unconfigured tracker through: %v", err)
	}
	dotcom, err := LoadForLint(write("dotcom.yaml", "github: {}\nroutes:\n  - to: { kind: github, repo: a/b }\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s := dotcom.TicketSites(); s.GitHub != "https://github.com" || s.Jira != "" {
		t.Errorf("github.com's ticket sites %+v", s)
	}
}
