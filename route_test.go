package followthrough

import (
	"strings"
	"testing"
)

func TestRoute(t *testing.T) {
	r := Router{Trackers: []TrackerKind{GitHub, Jira}, Rules: []RouteRule{
		{Team: "payments", Severity: "SEV1", To: Target{Kind: Jira, Project: "PAYSEV"}},
		{Team: "payments", To: Target{Kind: Jira, Project: "PAY"}},
		{Label: "security", To: Target{Kind: GitHub, Repo: "acme/security"}},
		{Severity: "SEV0", To: Target{Kind: GitHub, Repo: "acme/sev0"}},
		{To: Target{Kind: GitHub, Repo: "acme/all"}},
	}}
	route := func(r Router, team, severity string, labels []string) (Target, error) {
		doc := &Document{Team: team, Severity: severity}
		return r.Route(doc, ActionItem{ID: "AI-1", Labels: labels})
	}
	for _, tt := range []struct {
		name           string
		team, severity string
		labels         []string
		want           string
	}{
		{"team and severity", "payments", "SEV1", nil, "PAYSEV"},
		{"team only", "payments", "SEV2", nil, "PAY"},
		{"case-insensitive", "Payments", "sev1", nil, "PAYSEV"},
		{"label", "search", "SEV2", []string{"reliability", "security"}, "acme/security"},
		{"team beats later label", "payments", "SEV3", []string{"security"}, "PAY"},
		{"severity", "", "SEV0", nil, "acme/sev0"},
		{"default", "search", "SEV3", []string{"docs"}, "acme/all"},
		{"nothing known", "", "", nil, "acme/all"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := route(r, tt.team, tt.severity, tt.labels)
			if err != nil || got.Project+got.Repo != tt.want {
				t.Errorf("Route = %+v, %v; want %s", got, err, tt.want)
			}
		})
	}
	r.Rules = r.Rules[:2]
	if got, err := route(r, "search", "SEV1", nil); err == nil {
		t.Errorf("Route without default = %+v, want no match", got)
	}
	if _, err := route(Router{}, "payments", "SEV1", nil); err == nil {
		t.Error("Route with no routes matched")
	}
}

func TestRouteCompletesAndChecksTheTarget(t *testing.T) {
	r := Router{Trackers: []TrackerKind{Jira}, Rules: []RouteRule{{To: Target{Kind: Jira, Project: "PAY"}}}}
	doc := &Document{Team: "payments"}
	for _, tt := range []struct {
		name string
		item ActionItem
		want Target
		err  string // part of the error; empty: none
	}{
		{"routed: default issue type", ActionItem{ID: "AI-1"}, Target{Kind: Jira, Project: "PAY", IssueType: DefaultIssueType}, ""},
		{"own tracker: its issue type", ActionItem{ID: "AI-2", Tracker: &Target{Kind: Jira, Project: "OPS", IssueType: "Story"}},
			Target{Kind: Jira, Project: "OPS", IssueType: "Story"}, ""},
		{"own tracker not configured", ActionItem{ID: "AI-3", Tracker: &Target{Kind: GitHub, Repo: "acme/a"}},
			Target{}, `action item "AI-3": goes to GitHub, which is not configured`},
		{"named ticket: its project, whatever the routes", ActionItem{ID: "AI-4", Ticket: "OPS-7", Tracker: &Target{Kind: Jira, Project: "PAY"}},
			Target{Kind: Jira, Project: "OPS", IssueType: DefaultIssueType}, ""},
		{"named ticket not configured", ActionItem{ID: "AI-5", Ticket: "acme/a#3"},
			Target{}, `action item "AI-5": acme/a#3 is a github ticket, and github is not configured`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Route(doc, tt.item)
			if tt.err == "" && (err != nil || got != tt.want) {
				t.Errorf("Route = %+v, %v; want %+v", got, err, tt.want)
			}
			if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("Route error = %v; want %q", err, tt.err)
			}
		})
	}
}

// TestRouteProblemNamesTheField: the field at fault is the item's ticket when the ticket is
// in a tracker that is not configured, else its tracker; Problems skips references that name
// no ticket (Validate reports those).
func TestRouteProblemNamesTheField(t *testing.T) {
	r := Router{Trackers: []TrackerKind{GitHub}}
	doc := &Document{ActionItems: []ActionItem{
		{ID: "AI-1", Ticket: "PAY-12"},
		{ID: "AI-2"},
		{ID: "AI-3", Ticket: "acme/a#1"},
		{ID: "AI-4", Ticket: "not a ticket"},
	}}
	got := r.Problems(doc)
	want := []string{"action_items[0].ticket", "action_items[1].tracker"}
	if len(got) != len(want) {
		t.Fatalf("Problems = %+v; want fields %v", got, want)
	}
	for i, f := range got {
		if f.Field != want[i] || !strings.Contains(f.Message, doc.ActionItems[i].ID) {
			t.Errorf("problem %d = %+v; want field %s naming %s", i, f, want[i], doc.ActionItems[i].ID)
		}
	}
}
