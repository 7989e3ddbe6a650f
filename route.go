package followthrough

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// DefaultIssueType is the Jira issue type of a target that names none.
const DefaultIssueType = "Task"

// RouteRule sends the action items that match it to a target. Every condition given must
// match, ignoring case: Team the item's team (else the postmortem's), Severity the
// postmortem's, Label one of the item's labels. A rule with no condition matches every item.
type RouteRule struct {
	Team     string
	Severity string
	Label    string
	To       Target
}

func (r RouteRule) matchesAll() bool { return r.Team == "" && r.Severity == "" && r.Label == "" }

func (r RouteRule) matches(team, severity string, labels []string) bool {
	if r.Team != "" && !strings.EqualFold(r.Team, team) {
		return false
	}
	if r.Severity != "" && !strings.EqualFold(r.Severity, severity) {
		return false
	}
	return r.Label == "" || slices.ContainsFunc(labels, func(l string) bool { return strings.EqualFold(l, r.Label) })
}

// Router decides where each action item's ticket goes. It is the one place of routing: intake
// routes new items with it, and configuration validation and `lint` check with it.
type Router struct {
	Rules    []RouteRule   // first match wins
	Trackers []TrackerKind // the configured trackers: a target in another is refused
}

// RouteProblem is why an action item has nowhere to go. Field is the item's field at fault,
// relative to the item: "tracker", or "ticket" for an existing ticket in a tracker that is not
// configured. Message says why, naming the item.
type RouteProblem struct {
	Field   string
	Message string
}

func (p *RouteProblem) Error() string { return p.Message }

// FieldError is the problem as a field of the document whose item number i it is about.
func (p *RouteProblem) FieldError(i int) FieldError {
	return FieldError{Field: fmt.Sprintf("action_items[%d].%s", i, p.Field), Message: p.Message}
}

// Route is where the item's ticket goes: where the existing ticket it names is, else the
// item's own tracker, else the first rule that matches it. The target comes back complete (a
// Jira target without an issue type gets DefaultIssueType). The error, a *RouteProblem, says
// why the item has nowhere to go, naming it: no rule matches, or its target or ticket is in a
// tracker that is not configured.
func (r Router) Route(doc *Document, it ActionItem) (Target, error) {
	if it.Ticket != "" {
		return r.ticketTarget(it)
	}
	var t Target
	if it.Tracker != nil {
		t = *it.Tracker
	} else {
		team := it.Team
		if team == "" {
			team = doc.Team
		}
		i := slices.IndexFunc(r.Rules, func(rule RouteRule) bool { return rule.matches(team, doc.Severity, it.Labels) })
		if i < 0 {
			return Target{}, &RouteProblem{Field: "tracker", Message: fmt.Sprintf(
				"no route for action item %q: give it a tracker, or add a route for team %q, severity %q or its labels",
				it.ID, team, doc.Severity)}
		}
		t = r.Rules[i].To
	}
	if msg := r.unusable(t); msg != "" {
		return Target{}, &RouteProblem{Field: "tracker", Message: fmt.Sprintf("action item %q: %s", it.ID, msg)}
	}
	return t.Complete(), nil
}

// ticketTarget is the repository or project of the existing ticket an item names (its key,
// as Normalize left it): the ticket says where it is, so no route is needed.
func (r Router) ticketTarget(it ActionItem) (Target, error) {
	ref, err := TicketSites{}.ParseTicket(it.Ticket)
	if err != nil {
		return Target{}, &RouteProblem{Field: "ticket", Message: fmt.Sprintf("action item %q: %s", it.ID, err)}
	}
	if !slices.Contains(r.Trackers, ref.Kind) {
		return Target{}, &RouteProblem{Field: "ticket", Message: fmt.Sprintf(
			"action item %q: %s is a %s ticket, and %s is not configured", it.ID, ref.Key, ref.Kind, ref.Kind)}
	}
	return ref.Target().Complete(), nil
}

// Problems returns a FieldError for every item of the document that has nowhere to go, as
// intake would refuse it: what `lint` checks. A ticket reference that names no ticket is
// Validate's to report, not a routing problem.
func (r Router) Problems(doc *Document) []FieldError {
	var fields []FieldError
	for i, it := range doc.ActionItems {
		if _, err := (TicketSites{}).ParseTicket(it.Ticket); it.Ticket != "" && err != nil {
			continue
		}
		if _, err := r.Route(doc, it); err != nil {
			fields = append(fields, routeProblem(err).FieldError(i))
		}
	}
	return fields
}

// routeProblem is err as Route returns it.
func routeProblem(err error) *RouteProblem {
	var p *RouteProblem
	if errors.As(err, &p) {
		return p
	}
	return &RouteProblem{Field: "tracker", Message: err.Error()}
}

// unusable says why no ticket can be made in t, or "" when one can.
func (r Router) unusable(t Target) string {
	switch t.Kind {
	case GitHub:
		if !slices.Contains(r.Trackers, GitHub) {
			return "goes to GitHub, which is not configured"
		}
		if t.Repo == "" {
			return "its GitHub route names no repository"
		}
	case Jira:
		if !slices.Contains(r.Trackers, Jira) {
			return "goes to Jira, which is not configured"
		}
		if t.Project == "" {
			return "its Jira route names no project"
		}
	default:
		return fmt.Sprintf("unknown tracker kind %q", t.Kind)
	}
	return ""
}

// Complete is the target with the defaults filled in (a Jira issue type) and the fields of the
// other tracker dropped.
func (t Target) Complete() Target {
	switch t.Kind {
	case GitHub:
		t.Project, t.IssueType = "", ""
	case Jira:
		t.Repo = ""
		if t.IssueType == "" {
			t.IssueType = DefaultIssueType
		}
	}
	return t
}

// RuleProblem is what is wrong with one rule of a Router: Field is relative to the rule
// ("to.repo"), empty for the rule as a whole.
type RuleProblem struct {
	Rule    int
	Field   string
	Message string
}

// Check returns every problem with the rules, in order: a target that names no tracker or
// one that is not configured, misses what its tracker needs or carries the other tracker's
// fields, and a rule that can never match because an earlier one matches everything.
func (r Router) Check() []RuleProblem {
	var probs []RuleProblem
	add := func(i int, field, format string, args ...any) {
		probs = append(probs, RuleProblem{Rule: i, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	catchAll := -1
	for i, rule := range r.Rules {
		if catchAll >= 0 {
			add(i, "", "never used: routes[%d] before it matches everything", catchAll)
		} else if rule.matchesAll() {
			catchAll = i
		}
		to := rule.To
		if to.Kind != "" && (to.Kind == GitHub || to.Kind == Jira) && !slices.Contains(r.Trackers, to.Kind) {
			add(i, "to.kind", "%s is not configured", to.Kind)
		}
		switch to.Kind {
		case "":
			add(i, "to.kind", "required (github or jira)")
		case GitHub:
			if to.Repo == "" {
				add(i, "to.repo", "required for a github route")
			} else if !ValidRepo(to.Repo) {
				add(i, "to.repo", "must be owner/name, got %q", to.Repo)
			}
			if to.Project != "" {
				add(i, "to.project", "only for a jira route")
			}
			if to.IssueType != "" {
				add(i, "to.issue_type", "only for a jira route")
			}
		case Jira:
			if to.Project == "" {
				add(i, "to.project", "required for a jira route")
			}
			if to.Repo != "" {
				add(i, "to.repo", "only for a github route")
			}
		default:
			add(i, "to.kind", "must be github or jira, got %q", to.Kind)
		}
	}
	return probs
}
