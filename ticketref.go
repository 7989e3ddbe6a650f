package followthrough

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// TicketSites are where the configured trackers show their tickets, so that a reference to an
// existing ticket (an item's "ticket") can be read: GitHub's web address and Jira's URL.
type TicketSites struct {
	// GitHub is GitHub's web address ("https://github.com", or "https://ghe.example.com" for
	// Enterprise); empty when GitHub is not configured.
	GitHub string
	// Jira is jira.url ("https://acme.atlassian.net"); empty when Jira is not configured.
	Jira string
	// AnyHost takes the URL of a GitHub issue or a Jira issue on any host at its word. It is for
	// checking documents without a configuration (lint): the host cannot be checked there.
	AnyHost bool
}

// DefaultGitHubWeb is the web address of github.com, whose API is https://api.github.com/.
const DefaultGitHubWeb = "https://github.com"

var githubKeyRE = regexp.MustCompile(`^([A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100})#([1-9][0-9]{0,9})$`)

// ParseTicket reads a reference to an existing ticket: "owner/repo#N", "PROJ-N", the URL of a
// GitHub issue on the configured web host, or <jira.url>/browse/PROJ-N. The reference it
// returns has the contract's key and URL, whichever way the ticket was named. A pull request is
// not a ticket. The error says in words what was expected.
func (s TicketSites) ParseTicket(ref string) (TicketRef, error) {
	ref = strings.TrimSpace(ref)
	if m := githubKeyRE.FindStringSubmatch(ref); m != nil {
		return githubRef(m[1], m[2], s.GitHub), nil
	}
	if jiraKeyRE.MatchString(ref) {
		return jiraRef(ref, s.Jira), nil
	}
	u, err := url.Parse(ref)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return TicketRef{}, fmt.Errorf("%q names no ticket: give owner/repo#N, PROJ-N or the ticket's URL", truncate(ref))
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) == 4 && (parts[2] == "pull" || parts[2] == "pulls") {
		return TicketRef{}, fmt.Errorf("%q is a pull request, not a ticket: name an issue", truncate(ref))
	}
	if len(parts) == 4 && parts[2] == "issues" && s.isGitHub(u) {
		if m := githubKeyRE.FindStringSubmatch(parts[0] + "/" + parts[1] + "#" + parts[3]); m != nil {
			web := s.GitHub
			if s.AnyHost {
				web = u.Scheme + "://" + u.Host
			}
			return githubRef(m[1], m[2], web), nil
		}
	}
	if n := len(parts); n >= 2 && parts[n-2] == "browse" && jiraKeyRE.MatchString(parts[n-1]) {
		base := u.Scheme + "://" + u.Host + strings.TrimSuffix("/"+strings.Join(parts[:n-2], "/"), "/")
		if s.AnyHost || (s.Jira != "" && sameSite(base, s.Jira)) {
			return jiraRef(parts[n-1], base), nil
		}
	}
	return TicketRef{}, fmt.Errorf("%q is not a ticket of a configured tracker: %s", truncate(ref), s.describe())
}

// githubRef is the reference of an issue on GitHub's web address web (github.com when empty).
func githubRef(repo, number, web string) TicketRef {
	if web == "" {
		web = DefaultGitHubWeb
	}
	return TicketRef{Kind: GitHub, Key: repo + "#" + number, URL: web + "/" + repo + "/issues/" + number}
}

// jiraRef is the reference of an issue of the Jira at base (no URL when base is unknown).
func jiraRef(key, base string) TicketRef {
	ref := TicketRef{Kind: Jira, Key: key}
	if base != "" {
		ref.URL = base + "/browse/" + key
	}
	return ref
}

// isGitHub reports whether u is on the configured GitHub's web host.
func (s TicketSites) isGitHub(u *url.URL) bool {
	if s.AnyHost {
		return true
	}
	if s.GitHub == "" {
		return false
	}
	web, err := url.Parse(s.GitHub)
	return err == nil && strings.EqualFold(web.Host, u.Host)
}

// sameSite compares two base URLs by host and path, ignoring the scheme and a trailing slash.
func sameSite(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	return errA == nil && errB == nil && strings.EqualFold(ua.Host, ub.Host) &&
		strings.TrimSuffix(ua.Path, "/") == strings.TrimSuffix(ub.Path, "/")
}

// describe names the URLs that would have been tickets, for error messages.
func (s TicketSites) describe() string {
	var forms []string
	if s.GitHub != "" {
		forms = append(forms, s.GitHub+"/<owner>/<repo>/issues/<n>")
	}
	if s.Jira != "" {
		forms = append(forms, s.Jira+"/browse/<KEY-n>")
	}
	if len(forms) == 0 {
		return "give owner/repo#N, PROJ-N or the URL of an issue in the configured GitHub or Jira"
	}
	return "give owner/repo#N, PROJ-N or " + strings.Join(forms, " or ")
}
