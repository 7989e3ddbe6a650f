// Package config reads and validates followthrough's YAML configuration: strict keys, ${ENV}
// expansion, <secret>_file for every secret, Go durations plus whole days, defaults, and every
// problem reported at once as "FILE: key.path: what is wrong".
package config

import (
	"strings"
	"time"

	ft "github.com/followthrough/followthrough"
)

// Config is the whole configuration file, after defaults and validation.
type Config struct {
	Listen string `yaml:"listen"`
	// Database is a SQLite file's path or a PostgreSQL URL, which may hold a password: it is
	// a secret (database_file works), given to the store with Value.
	Database   Secret     `yaml:"database"`
	PublicURL  string     `yaml:"public_url"`
	Intake     Intake     `yaml:"intake"`
	GitHub     *GitHub    `yaml:"github"` // nil: not configured
	Jira       *Jira      `yaml:"jira"`   // nil: not configured
	Routes     []Route    `yaml:"routes"`
	People     []Person   `yaml:"people"`
	Reconcile  Reconcile  `yaml:"reconcile"`
	Stall      Stall      `yaml:"stall"`
	Notify     []Notify   `yaml:"notify"`
	StatusPage StatusPage `yaml:"status_page"`
	File       string     `yaml:"-"` // the file it was read from, for messages
}

// Intake holds the API's credentials.
type Intake struct {
	Secret Secret   `yaml:"secret"` // Standard Webhooks secret, whsec_<base64>
	Tokens []Secret `yaml:"tokens"` // bearer tokens
}

// GitHub configures the GitHub tracker: a token or an App.
type GitHub struct {
	APIURL        string     `yaml:"api_url"` // default https://api.github.com/
	Token         Secret     `yaml:"token"`
	App           *GitHubApp `yaml:"app"`
	WebhookSecret Secret     `yaml:"webhook_secret"`
	// RequestTimeout bounds one call to GitHub; a create whose outcome was lost is only
	// taken as not made once this long has passed since it was sent. Default 30s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	WriteInterval  time.Duration `yaml:"write_interval"`  // default 1s; 0 = none
	WritesPerHour  int           `yaml:"writes_per_hour"` // default 500
}

// GitHubApp is a GitHub App installation used instead of a token.
type GitHubApp struct {
	AppID          int64  `yaml:"app_id"`
	InstallationID int64  `yaml:"installation_id"`
	PrivateKey     Secret `yaml:"private_key"` // PEM; usually private_key_file
}

// Jira configures the Jira tracker, Cloud or Data Center.
type Jira struct {
	URL           string            `yaml:"url"`
	Deployment    string            `yaml:"deployment"` // cloud | datacenter
	Email         string            `yaml:"email"`
	APIToken      Secret            `yaml:"api_token"` // Cloud, with email
	PAT           Secret            `yaml:"pat"`       // Data Center
	WebhookSecret Secret            `yaml:"webhook_secret"`
	Statuses      map[string]string `yaml:"statuses"` // Jira status name -> item status
	// RequestTimeout bounds one call to Jira, like github.request_timeout. Default 30s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	SearchLag      time.Duration `yaml:"search_lag"` // default 30s: how long search may lag behind a create
}

// Deployment values.
const (
	JiraCloud      = "cloud"
	JiraDataCenter = "datacenter"
)

// Route sends items that match When to a tracker target. No When: matches everything.
type Route struct {
	When RouteWhen   `yaml:"when"`
	To   RouteTarget `yaml:"to"`
}

// RouteWhen: every key given must match.
type RouteWhen struct {
	Team     string `yaml:"team"`
	Severity string `yaml:"severity"`
	Label    string `yaml:"label"`
}

// RouteTarget is where a route sends tickets.
type RouteTarget struct {
	Kind      string `yaml:"kind"` // github | jira
	Repo      string `yaml:"repo"`
	Project   string `yaml:"project"`
	IssueType string `yaml:"issue_type"` // Jira, default Task
}

// Person maps an owner's email to their tracker identities.
type Person struct {
	Email  string `yaml:"email"`
	GitHub string `yaml:"github"`
	Jira   string `yaml:"jira"` // accountId (Cloud) or username (Data Center)
}

// Reconcile configures polling for what webhooks missed.
type Reconcile struct {
	Every time.Duration `yaml:"every"` // default 5m
}

// Stall configures when items stall. The maps are keyed by priority P0..P3 and always complete
// after loading (a partial map merges with the defaults).
type Stall struct {
	ScanEvery     time.Duration            `yaml:"scan_every"`    // default 1h
	OverdueGrace  time.Duration            `yaml:"overdue_grace"` // default 1d
	InactiveAfter map[string]time.Duration `yaml:"inactive_after"`
	DefaultDue    map[string]time.Duration `yaml:"default_due"`
}

// Notify is one outbound webhook receiver.
type Notify struct {
	URL    string   `yaml:"url"`
	Secret Secret   `yaml:"secret"` // whsec_<base64>
	Events []string `yaml:"events"`
}

// StatusPage configures the HTML pages.
type StatusPage struct {
	Public *bool `yaml:"public"` // default true
}

// IsPublic reports whether the status pages are served without a bearer token. Unset means true.
func (s StatusPage) IsPublic() bool { return s.Public == nil || *s.Public }

// Secret is a string that never prints itself. Its value comes from the file, the environment
// (${VAR}) or a <key>_file.
type Secret string

// String hides the value, so a Secret in a log or an error shows nothing.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// Value is the secret itself, for the one place that needs it.
func (s Secret) Value() string { return string(s) }

// PostmortemPage is a postmortem's page on the status page, as links in tickets and comments
// give it; "" without public_url.
func (c *Config) PostmortemPage(pmID string) string {
	if c.PublicURL == "" {
		return ""
	}
	return strings.TrimRight(c.PublicURL, "/") + "/postmortems/" + pmID
}

// Policy is the stall configuration as the stall rules (ft.StallOf and friends) read it.
func (s Stall) Policy() ft.StallPolicy {
	return ft.StallPolicy{OverdueGrace: s.OverdueGrace, InactiveAfter: s.InactiveAfter, DefaultDue: s.DefaultDue}
}
