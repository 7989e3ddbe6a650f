package config

import (
	"net/url"
	"strings"

	ft "github.com/followthrough/followthrough"
)

// Route picks the tracker target for an item with no tracker of its own: the first route whose
// every given `when` key matches. team and severity compare equal ignoring case; label matches
// when labels holds it (ignoring case). A route with no `when` matches everything. ok is false
// when no route matches.
func (c *Config) Route(team, severity string, labels []string) (target RouteTarget, ok bool) {
	for _, r := range c.Routes {
		if r.When.matches(team, severity, labels) {
			return r.To, true
		}
	}
	return RouteTarget{}, false
}

func (w RouteWhen) matches(team, severity string, labels []string) bool {
	if w.Team != "" && !strings.EqualFold(w.Team, team) {
		return false
	}
	if w.Severity != "" && !strings.EqualFold(w.Severity, severity) {
		return false
	}
	if w.Label != "" {
		found := false
		for _, l := range labels {
			if strings.EqualFold(w.Label, l) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
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
