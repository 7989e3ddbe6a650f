package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	ft "github.com/followthrough/followthrough"
)

// Validate checks a configuration built in code (Parse calls it for files) and fills in what is
// derived from other settings: jira.deployment from the URL, a route's issue_type, the trailing
// slash of github.api_url and the lack of one on jira.url. Its error is Problems.
func (c *Config) Validate() error {
	return c.validate(nil, nil, true).err()
}

// RequireIntakeAuth returns a problem when the API would be open: neither intake.tokens nor
// intake.secret is set. `serve` without --dev refuses to start then.
func (c *Config) RequireIntakeAuth() error {
	if len(c.Intake.Tokens) > 0 || c.Intake.Secret != "" {
		return nil
	}
	return Problems{{File: c.File, Path: "intake", Msg: "set tokens or secret: the API is never open outside --dev"}}
}

// validator collects problems, with the line of each path when the file told it.
type validator struct {
	c      *Config
	lines  map[string]int
	failed []string // paths whose value could not be decoded
	probs  Problems
	// credentials: missing tracker credentials are problems (everywhere but lint).
	credentials bool
}

func (v *validator) add(path, format string, args ...any) {
	for _, f := range v.failed {
		// A value that could not be read is unknown, so judging it, its section or its parts
		// would only repeat that problem in other words.
		if related(f, path) || related(path, f) {
			return
		}
	}
	v.probs = append(v.probs, Problem{File: v.c.File, Path: path, Line: v.line(path), Msg: fmt.Sprintf(format, args...)})
}

// line is the line of path, or of the nearest enclosing key that the file gave.
func (v *validator) line(path string) int {
	for path != "" {
		if l, ok := v.lines[path]; ok {
			return l
		}
		path = path[:max(0, strings.LastIndexAny(path, ".["))]
	}
	return 0
}

// related reports whether path a is b or inside it.
func related(a, b string) bool {
	if b == "" || a == b {
		return true
	}
	return strings.HasPrefix(a, b) && (a[len(b)] == '.' || a[len(b)] == '[')
}

func (c *Config) validate(lines map[string]int, failed []string, credentials bool) Problems {
	v := &validator{c: c, lines: lines, failed: failed, credentials: credentials}
	v.listen()
	v.database()
	if c.PublicURL != "" {
		v.httpURL("public_url", c.PublicURL)
	}
	v.intake()
	if c.GitHub != nil {
		v.github(c.GitHub)
	}
	if c.Jira != nil {
		v.jira(c.Jira)
	}
	v.routes()
	v.people()
	if c.Reconcile.Every <= 0 {
		v.add("reconcile.every", "must be positive")
	}
	v.stall()
	v.notify()
	return v.probs
}

// database checks that database is a SQLite file's path or a PostgreSQL URL that pgx can read.
func (v *validator) database() {
	if p := DatabaseProblem(v.c.Database.Value()); p != "" {
		v.add("database", "%s", p)
	}
}

// DatabaseProblem says what is wrong with a database (the database key, or a --db, --from or
// --to flag): "" for a SQLite file's path or a PostgreSQL URL that pgx can read. It never quotes
// the value: a URL may hold a password.
func DatabaseProblem(db string) string {
	switch {
	case db == "":
		return "required"
	case ft.IsPostgresURL(db):
		if _, err := pgconn.ParseConfig(db); err != nil {
			return "not a PostgreSQL URL that can be read (postgres://user:password@host:5432/database?sslmode=require; percent-encode special characters in the password)"
		}
	case strings.Contains(db, "://"):
		return "must be a SQLite file's path, or a PostgreSQL URL starting with postgres:// or postgresql://"
	}
	return ""
}

func (v *validator) listen() {
	_, port, err := net.SplitHostPort(v.c.Listen)
	if err != nil {
		v.add("listen", "must be host:port such as :8080 or 127.0.0.1:8080, got %q", v.c.Listen)
		return
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		v.add("listen", "port must be a number from 0 to 65535, got %q", port)
	}
}

// httpURL checks that s is an absolute http or https URL.
func (v *validator) httpURL(path, s string) bool {
	if !isHTTPURL(s) {
		if shown := shownURL(s); shown != "" {
			v.add(path, "must be an absolute http(s) URL, got %q", shown)
		} else {
			v.add(path, "must be an absolute http(s) URL")
		}
		return false
	}
	return true
}

// shownURL is s as a problem may quote it: without its user info and query, which can carry
// a credential; "" when s is no URL at all, or an opaque one ("user:password@host" reads as
// one, of scheme "user").
func shownURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" {
		return ""
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment = nil, "", false, ""
	return u.String()
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func (v *validator) webhookSecret(path string, s Secret) {
	if _, err := s.WebhookKey(); err != nil {
		v.add(path, "%v", err)
	}
}

func (v *validator) intake() {
	in := v.c.Intake
	if in.Secret != "" {
		v.webhookSecret("intake.secret", in.Secret)
	}
	for i, t := range in.Tokens {
		if t == "" {
			v.add(indexPath("intake.tokens", i), "empty token")
		}
	}
}

func (v *validator) github(g *GitHub) {
	if g.APIURL == "" {
		g.APIURL = DefaultGitHubAPIURL
	}
	if v.httpURL("github.api_url", g.APIURL) && !strings.HasSuffix(g.APIURL, "/") {
		g.APIURL += "/"
	}
	switch {
	case g.Token == "" && g.App == nil:
		if v.credentials {
			v.add("github", "needs token or app")
		}
	case g.Token != "" && g.App != nil:
		v.add("github", "give token or app, not both")
	case g.App != nil:
		a := g.App
		if a.AppID <= 0 {
			v.add("github.app.app_id", "required")
		}
		if a.InstallationID <= 0 {
			v.add("github.app.installation_id", "required")
		}
		if a.PrivateKey == "" {
			v.add("github.app.private_key", "required")
		} else if _, err := parseRSAKey([]byte(a.PrivateKey)); err != nil {
			v.add("github.app.private_key", "not an RSA private key in PEM form: %v", err)
		}
	}
	if g.WritesPerHour <= 0 {
		v.add("github.writes_per_hour", "must be positive")
	}
	if g.RequestTimeout <= 0 {
		v.add("github.request_timeout", "must be positive")
	}
}

func (v *validator) jira(j *Jira) {
	if j.RequestTimeout <= 0 {
		v.add("jira.request_timeout", "must be positive")
	}
	if j.URL == "" {
		v.add("jira.url", "required")
	} else if v.httpURL("jira.url", j.URL) {
		j.URL = strings.TrimRight(j.URL, "/")
		if j.Deployment == "" {
			j.Deployment = JiraDataCenter
			if u, _ := url.Parse(j.URL); strings.HasSuffix(strings.ToLower(u.Hostname()), ".atlassian.net") {
				j.Deployment = JiraCloud
			}
		}
	}
	switch j.Deployment {
	case JiraCloud:
		if j.Email == "" && v.credentials {
			v.add("jira.email", "required for a cloud deployment")
		}
		if j.APIToken == "" && v.credentials {
			v.add("jira.api_token", "required for a cloud deployment")
		}
		if j.PAT != "" {
			v.add("jira.pat", "only for a datacenter deployment (cloud uses email and api_token)")
		}
	case JiraDataCenter:
		if j.PAT == "" && v.credentials {
			v.add("jira.pat", "required for a datacenter deployment")
		}
		if j.APIToken != "" {
			v.add("jira.api_token", "only for a cloud deployment (datacenter uses pat)")
		}
	case "":
		// No URL to derive it from; that problem is already reported.
	default:
		v.add("jira.deployment", "must be cloud or datacenter, got %q", j.Deployment)
	}
	names := make([]string, 0, len(j.Statuses))
	for name := range j.Statuses {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if s := j.Statuses[name]; !ft.Status(s).Valid() {
			v.add(keyPath("jira.statuses", name), "must be open, in_progress, done or wont_do, got %q", s)
		}
	}
}

func (v *validator) routes() {
	for _, p := range v.c.Router().Check() {
		path := indexPath("routes", p.Rule)
		if p.Field != "" {
			path += "." + p.Field
		}
		v.add(path, "%s", p.Message)
	}
	for i := range v.c.Routes {
		if to := &v.c.Routes[i].To; to.Kind == string(ft.Jira) && to.IssueType == "" {
			to.IssueType = ft.DefaultIssueType
		}
	}
}

func (v *validator) people() {
	seen := map[string]int{}
	for i, p := range v.c.People {
		path := indexPath("people", i) + ".email"
		switch {
		case p.Email == "":
			v.add(path, "required")
		case !strings.Contains(p.Email, "@"):
			v.add(path, "not an email address: %q", p.Email)
		default:
			k := strings.ToLower(p.Email)
			if j, dup := seen[k]; dup {
				v.add(path, "same as people[%d].email", j)
			} else {
				seen[k] = i
			}
		}
	}
}

func (v *validator) stall() {
	s := v.c.Stall
	if s.ScanEvery <= 0 {
		v.add("stall.scan_every", "must be positive")
	}
	for _, m := range []struct {
		name string
		m    map[string]time.Duration
	}{{"stall.inactive_after", s.InactiveAfter}, {"stall.default_due", s.DefaultDue}} {
		keys := make([]string, 0, len(m.m))
		for k := range m.m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := keyPath(m.name, k)
			if !slices.Contains(ft.Priorities, k) {
				v.add(p, "unknown priority (use P0, P1, P2 or P3)")
			} else if m.m[k] <= 0 {
				v.add(p, "must be positive")
			}
		}
	}
}

func (v *validator) notify() {
	seen := map[string]int{}
	for i, n := range v.c.Notify {
		p := indexPath("notify", i)
		switch first, dup := seen[n.URL]; {
		case n.URL == "":
			v.add(p+".url", "required")
		case !isHTTPURL(n.URL):
			// Not echoed: a receiver's URL often carries its credential.
			v.add(p+".url", "must be an absolute http(s) URL")
		case dup:
			v.add(p+".url", "the same URL as notify[%d]: give it one entry with all its events", first)
		default:
			seen[n.URL] = i
		}
		if n.Secret == "" {
			v.add(p+".secret", "required (whsec_ followed by base64)")
		} else {
			v.webhookSecret(p+".secret", n.Secret)
		}
		if len(n.Events) == 0 {
			v.add(p+".events", "required: one or more of %s", strings.Join(ft.Events, ", "))
		}
		for j, e := range n.Events {
			if !slices.Contains(ft.Events, e) {
				v.add(indexPath(p+".events", j), "unknown event %q (use %s)", e, strings.Join(ft.Events, ", "))
			}
		}
	}
}
