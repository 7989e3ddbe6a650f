package config

import (
	"net/url"
	"strings"

	ft "github.com/followthrough/followthrough"
)

// Router is the routing of this configuration: its routes, in order, to the trackers it
// configures.
func (c *Config) Router() ft.Router {
	r := ft.Router{}
	if c.GitHub != nil {
		r.Trackers = append(r.Trackers, ft.GitHub)
	}
	if c.Jira != nil {
		r.Trackers = append(r.Trackers, ft.Jira)
	}
	for _, rt := range c.Routes {
		r.Rules = append(r.Rules, ft.RouteRule{Team: rt.When.Team, Severity: rt.When.Severity, Label: rt.When.Label,
			To: ft.Target{Kind: ft.TrackerKind(rt.To.Kind), Repo: rt.To.Repo, Project: rt.To.Project, IssueType: rt.To.IssueType}})
	}
	return r
}

// Person finds the people entry for an owner's email, ignoring case.
func (c *Config) Person(email string) (Person, bool) {
	for _, p := range c.People {
		if strings.EqualFold(p.Email, email) {
			return p, true
		}
	}
	return Person{}, false
}

// Status maps a Jira status name to an item status through jira.statuses, ignoring case. ok is
// false when the name is not overridden and the status category decides.
func (j *Jira) Status(name string) (status string, ok bool) {
	if s, ok := j.Statuses[name]; ok {
		return s, true
	}
	for k, s := range j.Statuses {
		if strings.EqualFold(k, name) {
			return s, true
		}
	}
	return "", false
}

// TicketSites are the configured trackers' web addresses, for reading references to existing
// tickets. GitHub's web host is github.com when api_url is https://api.github.com/, else the
// host of api_url (GitHub Enterprise serves the API under /api/v3 of its web host).
func (c *Config) TicketSites() ft.TicketSites {
	var s ft.TicketSites
	if c.GitHub != nil {
		s.GitHub = ft.DefaultGitHubWeb
		if u, err := url.Parse(c.GitHub.APIURL); err == nil && u.Host != "" && !strings.EqualFold(u.Host, "api.github.com") {
			s.GitHub = u.Scheme + "://" + u.Host
		}
	}
	if c.Jira != nil {
		s.Jira = strings.TrimRight(c.Jira.URL, "/")
	}
	return s
}
