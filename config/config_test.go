package config

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// unsetEnv makes sure name is not set for the test and restored after it.
func unsetEnv(t *testing.T, name string) {
	t.Helper()
	t.Setenv(name, "")
	os.Unsetenv(name)
}

// TestURLProblemsShowNoCredentials: a URL that is not an http(s) URL is quoted in its problem
// without the user info and query that may hold a password or a token.
func TestURLProblemsShowNoCredentials(t *testing.T) {
	_, err := Parse("ft.yaml", []byte(`
public_url: "ftp://ft:pw-public@ft.example.com/?key=key-public"
github:
  token: ghp_x
  api_url: "ftp://bot:pw-github@github.example/api/v3/?token=token-github"
jira:
  url: "jira:pw-jira@jira.example.com"
  email: bot@acme.com
  api_token: x
`))
	if err == nil {
		t.Fatal("want problems")
	}
	for _, want := range []string{
		`public_url: must be an absolute http(s) URL, got "ftp://ft.example.com/"`,
		`github.api_url: must be an absolute http(s) URL, got "ftp://github.example/api/v3/"`,
		`jira.url: must be an absolute http(s) URL`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
	for _, secret := range []string{"pw-public", "key-public", "pw-github", "token-github", "pw-jira"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("problems show %q:\n%v", secret, err)
		}
	}
}

func TestBadConfigs(t *testing.T) {
	tests := []struct {
		file string
		want []string // problem lines without the "FILE: " prefix
	}{
		{"unknown_key", []string{"github.tokn: unknown key"}},
		{"unknown_top_key", []string{"listn: unknown key"}},
		{"env_unset", []string{"github.webhook_secret: environment variable FT_TEST_UNSET is not set"}},
		{"env_bad_ref", []string{
			"database: invalid environment variable reference (write ${NAME} with letters, digits and _, or $${ for a literal ${)",
			"public_url: unterminated ${ (write $${ for a literal ${)",
		}},
		{"secret_both", []string{"github.token: give token or token_file, not both"}},
		{"database_both", []string{"database: give database or database_file, not both"}},
		{"database_url", []string{"database: not a PostgreSQL URL that can be read (postgres://user:password@host:5432/database?sslmode=require; percent-encode special characters in the password)"}},
		{"database_scheme", []string{"database: must be a SQLite file's path, or a PostgreSQL URL starting with postgres:// or postgresql://"}},
		{"secret_file_missing", []string{"jira.pat_file: cannot read testdata/does-not-exist: no such file or directory"}},
		{"route_jira_no_project", []string{"routes[1].to.project: required for a jira route"}},
		{"route_unconfigured", []string{"routes[0].to.kind: github is not configured"}},
		{"route_bad_kind", []string{`routes[0].to.kind: must be github or jira, got "gitlab"`}},
		{"route_when_unknown", []string{"routes[0].when.priority: unknown key"}},
		{"route_repo", []string{`routes[0].to.repo: must be owner/name, got "acme"`}},
		{"route_wrong_fields", []string{
			"routes[0].to.project: only for a jira route",
			"routes[0].to.issue_type: only for a jira route",
			"routes[1].to.repo: only for a github route",
		}},
		{"route_unreachable", []string{"routes[1]: never used: routes[0] before it matches everything"}},
		{"duration_bad", []string{`reconcile.every: invalid duration "5x" (use a Go duration such as 90m, or days such as 14d or 1d12h)`}},
		{"duration_negative", []string{"stall.overdue_grace: must not be negative"}},
		{"duration_zero", []string{"reconcile.every: must be positive", "stall.scan_every: must be positive"}},
		{"stall_priority", []string{
			"stall.inactive_after.P5: unknown priority (use P0, P1, P2 or P3)",
			"stall.default_due.P1: must be positive",
		}},
		{"github_none", []string{"github: needs token or app"}},
		{"github_token_and_app", []string{"github: give token or app, not both"}},
		{"github_app", []string{
			"github.app.installation_id: required",
			"github.app.private_key: not an RSA private key in PEM form: not a PEM block",
			"github.writes_per_hour: must be positive",
		}},
		{"github_api_url", []string{`github.api_url: must be an absolute http(s) URL, got "api.github.com"`}},
		{"jira_cloud_missing", []string{
			"jira.email: required for a cloud deployment",
			"jira.api_token: required for a cloud deployment",
		}},
		{"jira_datacenter_missing", []string{
			"jira.pat: required for a datacenter deployment",
			"jira.api_token: only for a cloud deployment (datacenter uses pat)",
		}},
		{"jira_deployment", []string{`jira.deployment: must be cloud or datacenter, got "server"`}},
		{"jira_no_url", []string{"jira.url: required"}},
		{"jira_statuses", []string{`jira.statuses["Won't Do"]: must be open, in_progress, done or wont_do, got "wontdo"`}},
		{"listen", []string{`listen: must be host:port such as :8080 or 127.0.0.1:8080, got "8080"`}},
		{"public_url", []string{`public_url: must be an absolute http(s) URL, got "ftp://ft.example.com"`}},
		{"intake_secret", []string{"intake.secret: must be whsec_ followed by base64"}},
		{"intake_secret_base64", []string{
			"intake.secret: must be whsec_ followed by base64, and the part after whsec_ is not base64",
			"intake.tokens[0]: empty token",
		}},
		{"notify", []string{
			`notify[0].url: must be an absolute http(s) URL`,
			"notify[0].secret: required (whsec_ followed by base64)",
			`notify[0].events[0]: unknown event "postmortem.created" (use postmortem.reopened, postmortem.resumed, postmortem.completed, item.status_changed)`,
			"notify[1].events: required: one or more of postmortem.reopened, postmortem.resumed, postmortem.completed, item.status_changed",
		}},
		{"notify_duplicate", []string{
			"notify[1].url: the same URL as notify[0]: give it one entry with all its events",
		}},
		{"people", []string{
			"people[0].email: required",
			`people[1].email: not an email address: "bob"`,
			"people[3].email: same as people[2].email",
		}},
		{"type_list", []string{"routes: expected a list, got a mapping"}},
		{"type_scalar", []string{
			"github.token: expected a string, got a list",
			`github.writes_per_hour: expected an integer, got "lots"`,
			`status_page.public: expected true or false, got "maybe"`,
		}},
		{"duplicate_key", []string{"listen: given twice (first on line 1)"}},
		{"yaml_syntax", []string{"line 1: did not find expected key"}},
		{"two_documents", []string{"only one YAML document is allowed"}},
		// Every kind of problem at once, in the order of the file.
		{"multiple", []string{
			`listen: must be host:port such as :8080 or 127.0.0.1:8080, got "nope"`,
			"github.webhook_secret: environment variable FT_TEST_UNSET is not set",
			"github.tokn: unknown key",
			"routes[0].to.kind: jira is not configured",
			`reconcile.every: invalid duration "1w" (use a Go duration such as 90m, or days such as 14d or 1d12h)`,
			`notify[0].events[0]: unknown event "everything" (use postmortem.reopened, postmortem.resumed, postmortem.completed, item.status_changed)`,
		}},
	}
	unsetEnv(t, "FT_TEST_UNSET")
	unsetEnv(t, "FT_TEST_HOST")
	covered := map[string]bool{}
	for _, tt := range tests {
		path := filepath.Join("testdata", tt.file+".bad.yml")
		covered[path] = true
		t.Run(tt.file, func(t *testing.T) {
			c, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%s) = %+v, want an error", path, c)
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error is %T, want Problems", err)
			}
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = path + ": " + w
			}
			if got := err.Error(); got != strings.Join(want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
		})
	}
	fixtures, err := filepath.Glob("testdata/*.bad.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fixtures {
		if !covered[f] {
			t.Errorf("fixture %s has no test case", f)
		}
	}
}

func TestParseShapes(t *testing.T) {
	for _, tt := range []struct{ yaml, want string }{
		{"- a\n- b\n", "ft.yaml: expected a mapping, got a list"},
		{"listen: [\n", "ft.yaml: line 1: did not find expected node content"},
		{"base: &b { team: x }", "ft.yaml: base: unknown key"},
		{"stall: { <<: { scan_every: 1h } }", `ft.yaml: stall["<<"]: merge keys are not supported`},
	} {
		_, err := Parse("ft.yaml", []byte(tt.yaml))
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q):\n got %v\nwant %s", tt.yaml, err, tt.want)
		}
	}
}

func TestAliases(t *testing.T) {
	c, err := Parse("ft.yaml", []byte(`
github: { token: t }
routes:
  - when: &pay { team: payments }
    to: &gh { kind: github, repo: acme/pay }
  - when: { label: x }
    to: *gh
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Routes[1].To.Repo != "acme/pay" {
		t.Errorf("alias: routes[1].to = %+v", c.Routes[1].To)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/nope.yml")
	if got, want := fmt.Sprint(err), "testdata/nope.yml: cannot read: no such file or directory"; got != want {
		t.Errorf("Load = %q, want %q", got, want)
	}
}

const (
	intakeSecret = "whsec_aW50YWtlLXNlY3JldC12YWx1ZS0x" // "intake-secret-value-1"
	notifySecret = "whsec_bm90aWZ5LXNlY3JldC12YWx1ZS0y" // "notify-secret-value-2"
)

// setGoodEnv sets the variables that testdata/good.yml uses, each to a recognisable secret.
func setGoodEnv(t *testing.T) map[string]string {
	env := map[string]string{
		"FT_INTAKE_SECRET":      intakeSecret,
		"FT_API_TOKEN":          "api-token-value-3",
		"GITHUB_TOKEN":          "github-token-value-4",
		"GITHUB_WEBHOOK_SECRET": "github-webhook-value-5",
		"JIRA_API_TOKEN":        "jira-api-token-value-6",
		"JIRA_WEBHOOK_SECRET":   "jira-webhook-value-7",
		"FT_NOTIFY_SECRET":      notifySecret,
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	return env
}

func TestGoodContractExample(t *testing.T) {
	setGoodEnv(t)
	c, err := Load("testdata/good.yml")
	if err != nil {
		t.Fatal(err)
	}
	public := true
	want := &Config{
		Listen:    "127.0.0.1:8080",
		Database:  "/var/lib/followthrough/ft.db",
		PublicURL: "https://ft.example.com",
		Intake:    Intake{Secret: intakeSecret, Tokens: []Secret{"api-token-value-3"}},
		GitHub: &GitHub{
			APIURL:         "https://api.github.com/",
			Token:          "github-token-value-4",
			WebhookSecret:  "github-webhook-value-5",
			WriteInterval:  time.Second,
			RequestTimeout: 30 * time.Second,
			WritesPerHour:  500,
		},
		Jira: &Jira{
			URL:            "https://acme.atlassian.net",
			Deployment:     JiraCloud,
			Email:          "bot@acme.com",
			APIToken:       "jira-api-token-value-6",
			WebhookSecret:  "jira-webhook-value-7",
			Statuses:       map[string]string{"Blocked": "in_progress", "Won't Do": "wont_do"},
			SearchLag:      30 * time.Second,
			RequestTimeout: 30 * time.Second,
		},
		Routes: []Route{
			{When: RouteWhen{Team: "payments"}, To: RouteTarget{Kind: "jira", Project: "PAY", IssueType: "Task"}},
			{To: RouteTarget{Kind: "github", Repo: "acme/postmortem-actions"}},
		},
		People:    []Person{{Email: "bob@acme.com", GitHub: "bob-gh", Jira: "5b10ac8d82e05b22cc7d4ef5"}},
		Reconcile: Reconcile{Every: 5 * time.Minute},
		Stall: Stall{
			ScanEvery:     time.Hour,
			OverdueGrace:  24 * time.Hour,
			InactiveAfter: map[string]time.Duration{"P0": 7 * day, "P1": 14 * day, "P2": 30 * day, "P3": 60 * day},
			DefaultDue:    map[string]time.Duration{"P0": 28 * day, "P1": 28 * day, "P2": 56 * day, "P3": 56 * day},
		},
		Notify: []Notify{{
			URL:    "https://hooks.acme.com/postmortems",
			Secret: notifySecret,
			Events: []string{"postmortem.reopened", "postmortem.completed", "item.status_changed"},
		}},
		StatusPage: StatusPage{Public: &public},
		File:       "testdata/good.yml",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load:\n got %s\nwant %s", dump(c), dump(want))
	}
	if err := c.RequireIntakeAuth(); err != nil {
		t.Errorf("RequireIntakeAuth = %v", err)
	}
	key, err := c.Intake.Secret.WebhookKey()
	if err != nil || string(key) != "intake-secret-value-1" {
		t.Errorf("WebhookKey = %q, %v", key, err)
	}
}

// dump shows a Config with its secrets, for test failures only.
func dump(c *Config) string {
	b, _ := json.Marshal(c) // secrets redacted, but everything else is there
	return string(b) + fmt.Sprintf(" secrets: %q %q", c.Intake.Secret.Value(), c.Intake.Tokens)
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func rsaPEM(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

func TestGoodSecretFiles(t *testing.T) {
	dir := t.TempDir()
	key := rsaPEM(t)
	writeFile(t, dir, "intake_secret", intakeSecret+"\n")
	writeFile(t, dir, "tokens", "token-a\n\n  token-b  \r\n")
	writeFile(t, dir, "app.pem", key)
	writeFile(t, dir, "github_webhook", "gh-hook\n")
	writeFile(t, dir, "jira_pat", "the-pat\r\n")
	writeFile(t, dir, "jira_webhook", "jira-hook")
	writeFile(t, dir, "notify_secret", notifySecret+"\n")
	t.Setenv("SECRETS", dir)

	c, err := Load("testdata/good_files.yml")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"intake.secret", c.Intake.Secret.Value(), intakeSecret},
		{"intake.tokens", c.Intake.Tokens, []Secret{"token-a", "token-b"}},
		{"github.api_url", c.GitHub.APIURL, "https://ghe.example.com/api/v3/"},
		{"github.app", [2]int64{c.GitHub.App.AppID, c.GitHub.App.InstallationID}, [2]int64{12345, 678}},
		{"github.app.private_key", c.GitHub.App.PrivateKey.Value(), strings.TrimRight(key, "\n")},
		{"github.webhook_secret", c.GitHub.WebhookSecret.Value(), "gh-hook"},
		{"github.write_interval", c.GitHub.WriteInterval, time.Duration(0)},
		{"github.writes_per_hour", c.GitHub.WritesPerHour, 500},
		{"jira.url", c.Jira.URL, "https://jira.example.com"},
		{"jira.deployment", c.Jira.Deployment, JiraDataCenter},
		{"jira.pat", c.Jira.PAT.Value(), "the-pat"},
		{"jira.webhook_secret", c.Jira.WebhookSecret.Value(), "jira-hook"},
		{"jira.search_lag", c.Jira.SearchLag, time.Minute},
		{"routes[0].to", c.Routes[0].To, RouteTarget{Kind: "jira", Project: "SEC", IssueType: "Task"}},
		{"stall.inactive_after", c.Stall.InactiveAfter, map[string]time.Duration{"P0": 7 * day, "P1": 36 * time.Hour, "P2": 30 * day, "P3": 60 * day}},
		{"stall.default_due", c.Stall.DefaultDue, map[string]time.Duration{"P0": 28 * day, "P1": 28 * day, "P2": 56 * day, "P3": 90 * day}},
		{"notify[0].secret", c.Notify[0].Secret.Value(), notifySecret},
		{"status_page.public", c.StatusPage.IsPublic(), false},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("empty.yml", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.File = "empty.yml"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("empty file = %+v, want %+v", c, want)
	}
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
	d := Default()
	if d.Listen != ":8080" || d.Database != "followthrough.db" || d.Reconcile.Every != 5*time.Minute ||
		d.Stall.ScanEvery != time.Hour || d.Stall.OverdueGrace != day || !d.StatusPage.IsPublic() ||
		d.GitHub != nil || d.Jira != nil || len(d.Routes) != 0 {
		t.Errorf("Default() = %+v", d)
	}
	if d.Stall.InactiveAfter["P2"] != 30*day || d.Stall.DefaultDue["P3"] != 56*day {
		t.Errorf("Default() stall maps = %v %v", d.Stall.InactiveAfter, d.Stall.DefaultDue)
	}
	// Default maps are fresh each time: changing one Config does not change the next.
	d.Stall.InactiveAfter["P0"] = time.Minute
	if Default().Stall.InactiveAfter["P0"] != 7*day {
		t.Error("Default() shares its maps")
	}
	if err := Default().RequireIntakeAuth(); err == nil ||
		err.Error() != "intake: set tokens or secret: the API is never open outside --dev" {
		t.Errorf("RequireIntakeAuth = %v", err)
	}

	// Sections given with only what they need take the rest from the defaults.
	c, err = Parse("ft.yaml", []byte(`
github: { token: t }
jira: { url: "https://acme.atlassian.net/", email: a@acme.com, api_token: x }
`))
	if err != nil {
		t.Fatal(err)
	}
	if g := c.GitHub; g.APIURL != DefaultGitHubAPIURL || g.WriteInterval != time.Second || g.WritesPerHour != 500 {
		t.Errorf("github defaults = %+v", g)
	}
	if j := c.Jira; j.Deployment != JiraCloud || j.SearchLag != 30*time.Second || j.URL != "https://acme.atlassian.net" {
		t.Errorf("jira defaults = %+v", j)
	}
}

func TestStatusPagePublic(t *testing.T) {
	for _, tt := range []struct {
		yaml string
		want bool
	}{
		{"", true},
		{"status_page: {}", true},
		{"status_page: { public: true }", true},
		{"status_page: { public: false }", false},
	} {
		c, err := Parse("ft.yaml", []byte(tt.yaml))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.StatusPage.IsPublic(); got != tt.want {
			t.Errorf("%q: IsPublic = %v, want %v", tt.yaml, got, tt.want)
		}
	}
}

func TestWriteInterval(t *testing.T) {
	for _, tt := range []struct {
		yaml string
		want time.Duration
	}{
		{"github: { token: t }", time.Second},
		{"github: { token: t, write_interval: 0 }", 0},
		{"github: { token: t, write_interval: 250ms }", 250 * time.Millisecond},
		{"github: { token: t, write_interval: ~ }", time.Second},
	} {
		c, err := Parse("ft.yaml", []byte(tt.yaml))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.GitHub.WriteInterval; got != tt.want {
			t.Errorf("%q: write_interval = %v, want %v", tt.yaml, got, tt.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"14d", 14 * day, false},
		{"1d12h", 36 * time.Hour, false},
		{"0d", 0, false},
		{"0", 0, false},
		{"90m", 90 * time.Minute, false},
		{"1h30m", 90 * time.Minute, false},
		{"500ms", 500 * time.Millisecond, false},
		{" 2d ", 2 * day, false},
		{"1.5d", 0, true},
		{"-1d", 0, true},
		{"-1h", 0, true},
		{"1d-1h", 0, true},
		{"d", 0, true},
		{"5", 0, true},
		{"1w", 0, true},
		{"", 0, true},
		{"99999999999d", 0, true},
	} {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestEnvExpansion(t *testing.T) {
	t.Setenv("FT_HOST", "ft.example.com")
	t.Setenv("FT_PORT", "8443")
	t.Setenv("FT_EMPTY", "")
	c, err := Parse("ft.yaml", []byte(`
public_url: https://${FT_HOST}:${FT_PORT}/x
database: "$${literal}${FT_EMPTY}$HOME"
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.PublicURL != "https://ft.example.com:8443/x" {
		t.Errorf("public_url = %q", c.PublicURL)
	}
	if c.Database != "${literal}$HOME" {
		t.Errorf("database = %q", c.Database)
	}
}

func TestSecretBothForms(t *testing.T) {
	const app = `app: { app_id: 1, installation_id: 2, %s }`
	for _, tt := range []struct {
		yaml, path, key string
	}{
		{"intake: { secret: a, secret_file: f }", "intake.secret", "secret"},
		{"intake: { tokens: [a], tokens_file: f }", "intake.tokens", "tokens"},
		{"github: { token: a, token_file: f }", "github.token", "token"},
		{"github: { " + fmt.Sprintf(app, "private_key: a, private_key_file: f") + " }", "github.app.private_key", "private_key"},
		{"github: { token: a, webhook_secret: a, webhook_secret_file: f }", "github.webhook_secret", "webhook_secret"},
		{"jira: { url: 'https://acme.atlassian.net', email: e@x, api_token: a, api_token_file: f }", "jira.api_token", "api_token"},
		{"jira: { url: 'https://jira.example.com', pat: a, pat_file: f }", "jira.pat", "pat"},
		{"jira: { url: 'https://jira.example.com', pat: a, webhook_secret: a, webhook_secret_file: f }", "jira.webhook_secret", "webhook_secret"},
		{"notify: [ { url: 'https://h.example.com', events: [item.status_changed], secret: a, secret_file: f } ]", "notify[0].secret", "secret"},
	} {
		_, err := Parse("ft.yaml", []byte(tt.yaml))
		want := fmt.Sprintf("ft.yaml: %s: give %s or %s_file, not both", tt.path, tt.key, tt.key)
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", tt.yaml, err, want)
		}
	}
	// A _file key next to something that is not a secret is just unknown.
	_, err := Parse("ft.yaml", []byte("public_url_file: x"))
	if want := "ft.yaml: public_url_file: unknown key"; err == nil || err.Error() != want {
		t.Errorf("public_url_file: got %v, want %s", err, want)
	}
}

func TestSecretFileRelative(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "token", "ghp_from_file\n")
	writeFile(t, dir, "ft.yaml", "github: { token_file: token }\n")
	c, err := Load(filepath.Join(dir, "ft.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.GitHub.Token.Value(); got != "ghp_from_file" {
		t.Errorf("token = %q", got)
	}
}

// TestNoSecretInOutput checks every way a Config or its problems reach a person.
func TestNoSecretInOutput(t *testing.T) {
	env := setGoodEnv(t)
	c, err := Load("testdata/good.yml")
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"intake-secret", "aW50YWtl", "bm90aWZ5"}
	for _, v := range env {
		secrets = append(secrets, v)
	}

	var text, jsonOut bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "config", c, "value", *c, "secret", c.GitHub.Token)
	slog.New(slog.NewJSONHandler(&jsonOut, nil)).Info("config", "config", c, "value", *c, "secret", c.GitHub.Token)
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	ys, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v":     fmt.Sprintf("%v %v %v %v", c, *c, c.GitHub, c.Jira),
		"%+v":    fmt.Sprintf("%+v %+v %+v %+v %+v", c, *c, *c.GitHub, *c.Jira, c.Intake),
		"%#v":    fmt.Sprintf("%#v %#v %#v %#v %#v", c, *c, *c.GitHub, *c.Jira, c.Notify),
		"%s":     fmt.Sprintf("%s %s", c.GitHub.Token, c.Intake.Tokens),
		"slog":   text.String(),
		"slog j": jsonOut.String(),
		"json":   string(js),
		"yaml":   string(ys),
	}
	if !strings.Contains(outputs["%+v"], "[redacted]") || !strings.Contains(outputs["json"], "[redacted]") {
		t.Errorf("no [redacted] in output: %s", outputs["%+v"])
	}

	// Secrets in a config with problems: none of them may show in the messages.
	_, err = Parse("ft.yaml", []byte(`
intake:
  secret: whsec_intake-secret!!
  tokens: [ "intake-secret-token", { a: intake-secret-map } ]
github:
  token: [ intake-secret-list ]
  app: { app_id: 1, installation_id: 2, private_key: "intake-secret-key" }
jira:
  url: https://jira.example.com
  pat: "intake-secret${ unterminated"
  api_token: "intake-secret${bad name}"
notify:
  - url: https://h.example.com
    secret: intake-secret-notify
    events: [ item.status_changed ]
`))
	if err == nil {
		t.Fatal("want problems")
	}
	outputs["problems"] = err.Error()
	if n := strings.Count(err.Error(), "\n") + 1; n < 7 {
		t.Errorf("want at least 7 problems, got %d:\n%v", n, err)
	}

	for name, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s output contains secret %q:\n%s", name, s, out)
			}
		}
	}
}

func TestSecretFormatting(t *testing.T) {
	s := Secret("hunter2")
	for _, got := range []string{
		s.String(), fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q", s, s, s, s, s), s.LogValue().String(),
	} {
		if strings.Contains(got, "hunter2") {
			t.Errorf("%q shows the secret", got)
		}
	}
	if got := fmt.Sprintf("%#v", s); got != `config.Secret("[redacted]")` {
		t.Errorf("%%#v = %s", got)
	}
	if b, _ := json.Marshal(struct{ A, B Secret }{s, ""}); string(b) != `{"A":"[redacted]","B":""}` {
		t.Errorf("json = %s", b)
	}
	if s.Value() != "hunter2" {
		t.Errorf("Value = %q", s.Value())
	}
}

func TestWebhookKey(t *testing.T) {
	for _, tt := range []struct {
		in      Secret
		want    string
		wantErr bool
	}{
		{"whsec_c2VjcmV0", "secret", false},
		{"whsec_c2VjcmV0IQ==", "secret!", false},
		{"whsec_c2VjcmV0IQ", "secret!", false}, // padding dropped
		{"whsec_", "", true},
		{"c2VjcmV0", "", true},
		{"whsec_***", "", true},
	} {
		got, err := tt.in.WebhookKey()
		if (err != nil) != tt.wantErr || string(got) != tt.want {
			t.Errorf("WebhookKey(%s) = %q, %v", tt.in.Value(), got, err)
		}
		if err != nil && strings.Contains(err.Error(), strings.TrimPrefix(tt.in.Value(), "whsec_")) && tt.in != "whsec_" {
			t.Errorf("error %q shows the secret", err)
		}
	}
}

func TestPerson(t *testing.T) {
	c := &Config{People: []Person{{Email: "Bob@Acme.com", GitHub: "bob-gh"}, {Email: "carol@acme.com", Jira: "carol"}}}
	if p, ok := c.Person("bob@acme.COM"); !ok || p.GitHub != "bob-gh" {
		t.Errorf("Person(bob) = %+v, %v", p, ok)
	}
	if p, ok := c.Person("dave@acme.com"); ok {
		t.Errorf("Person(dave) = %+v", p)
	}
}

func TestJiraStatus(t *testing.T) {
	j := &Jira{Statuses: map[string]string{"Won't Do": "wont_do", "Blocked": "in_progress"}}
	if s, ok := j.Status("won't do"); !ok || s != "wont_do" {
		t.Errorf("Status(won't do) = %q, %v", s, ok)
	}
	if s, ok := j.Status("Done"); ok {
		t.Errorf("Status(Done) = %q", s)
	}
}

func TestProblemsFormat(t *testing.T) {
	ps := Problems{
		{File: "ft.yaml", Path: "a.b", Msg: "wrong"},
		{File: "ft.yaml", Msg: "whole file"},
		{Path: "c", Msg: "in code"},
	}
	if got, want := ps.Error(), "ft.yaml: a.b: wrong\nft.yaml: whole file\nc: in code"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestLoadForServeCountsAnOpenAPI(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "open.yaml")
	if err := os.WriteFile(path, []byte("listen: 127.0.0.1:0\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadForServe(path)
	want := path + ": bogus: unknown key\n" + path + ": intake: set tokens or secret: the API is never open outside --dev"
	if err == nil || !strings.Contains(err.Error(), path+": intake: set tokens or secret") || !strings.Contains(err.Error(), path+": bogus") {
		t.Fatalf("err = %v; want both problems, like\n%s", err, want)
	}
	if _, err := Load(path); err == nil || strings.Contains(err.Error(), "intake") {
		t.Fatalf("Load err = %v; want only the unknown key (migrate needs no credentials)", err)
	}
}
