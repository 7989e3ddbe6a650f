package markdown

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
)

// The documents in testdata/ are real postmortems as teams wrote them (see
// ../shared/fixtures/SOURCES.md), copied byte for byte; only the front matter is added here.

// teamFrontMatter is what a team adds to a postmortem to send it.
const teamFrontMatter = "---\nid: PM-465\ntitle: Shakespeare Sonnet++\nstatus: finalized\nsigned_off_by: carol@acme.com\n---\n"

// testOptions are a configuration with github.com, a Jira site and a few people.
var testOptions = Options{
	Sites: ft.TicketSites{GitHub: "https://github.com", Jira: "https://acme.atlassian.net"},
	People: []config.Person{
		{Email: "Jennifer@acme.com", GitHub: "jennifer"},
		{Email: "marty@acme.com", GitHub: "marty-gh", Jira: "martym"},
		{Email: "astonm@usdr.org", GitHub: "astonm"},
	},
}

// fixture is a testdata document with front matter put before it.
func fixture(t *testing.T, name, front string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(front), b...)
}

// lineOf is the line of src where needle first appears.
func lineOf(t *testing.T, src []byte, needle string) int {
	t.Helper()
	i := bytes.Index(src, []byte(needle))
	if i < 0 {
		t.Fatalf("%q is not in the document", needle)
	}
	return bytes.Count(src[:i], []byte("\n")) + 1
}

// parseOK parses and checks a document that must have no problem.
func parseOK(t *testing.T, src []byte, opts Options) *Parsed {
	t.Helper()
	p := Parse(src, opts)
	if problems := p.Check(); len(problems) != 0 {
		t.Fatalf("problems: %+v", problems)
	}
	if len(p.ItemLines) != len(p.Document.ActionItems) {
		t.Fatalf("%d item lines for %d items", len(p.ItemLines), len(p.Document.ActionItems))
	}
	return p
}

func warningsOn(p *Parsed, line int) []string {
	var out []string
	for _, w := range p.Warnings {
		if w.Line == line {
			out = append(out, w.Message)
		}
	}
	return out
}

func hasWarning(p *Parsed, line int, part string) bool {
	return slices.ContainsFunc(warningsOn(p, line), func(m string) bool { return strings.Contains(m, part) })
}

func TestShakespeareTable(t *testing.T) {
	src := fixture(t, "sre-book-example-postmortem-shakespeare.md", teamFrontMatter)
	p := parseOK(t, src, testOptions)
	d := p.Document
	if d.ID != "PM-465" || d.Title != "Shakespeare Sonnet++" || !slices.Equal(d.SignedOffBy, []string{"carol@acme.com"}) {
		t.Fatalf("front matter = %+v", d)
	}
	// The table `Action Item | Type | Owner | Bug` has 9 rows; the timeline's table further down
	// is not action items.
	if len(d.ActionItems) != 9 {
		t.Fatalf("%d items, want 9", len(d.ActionItems))
	}
	tests := []struct {
		row, title, typ, owner, description string
	}{
		{"| Update playbook", "Update playbook with instructions for responding to cascading failure", "mitigate", "jennifer@acme.com", "n/a **DONE**"},
		{"| Use flux capacitor", "Use flux capacitor to balance load between clusters", "prevent", "marty@acme.com", "Bug 5554823 **TODO**"},
		{"| Schedule cascading", "Schedule cascading failure test during next DiRT", "process", "docbrown", "n/a **TODO**"},
		{"| Build regression", "Build regression tests to ensure servers respond sanely to queries of death", "prevent", "clarac", "Bug 5554827 **TODO**"},
		{"| Freeze production", "Freeze production until 2015-11-20 due to error budget exhaustion, or seek exception due to grotesque, unbelievable, bizarre, and unprecedented circumstances", "other", "docbrown", "n/a **TODO**"},
	}
	for _, tt := range tests {
		line := lineOf(t, src, tt.row)
		i := slices.Index(p.ItemLines, line)
		if i < 0 {
			t.Fatalf("no item on line %d (%s); items are on %v", line, tt.row, p.ItemLines)
		}
		it := d.ActionItems[i]
		if it.Title != tt.title || it.Type != tt.typ || it.Owner != tt.owner || it.Description != tt.description ||
			it.Ticket != "" || it.Status != "" || it.Priority != "P2" {
			t.Errorf("line %d: %+v\nwant title %q, type %s, owner %s, description %q, no ticket, open, P2", line, it, tt.title, tt.typ, tt.owner, tt.description)
		}
		// The Bug cell names no ticket: kept as text, with a warning on the row; and the id is
		// derived from the title, with a warning too.
		if !hasWarning(p, line, "names no ticket") || !hasWarning(p, line, `id "`+it.ID+`" is derived from the title`) {
			t.Errorf("line %d: warnings %q", line, warningsOn(p, line))
		}
	}
	if id := d.ActionItems[0].ID; id != "update-playbook-with-instructions-for-responding-to-cascading-fa" {
		t.Errorf("derived id %q", id)
	}
	// Owners no one in people knows are kept as written.
	if got := d.ActionItems[4].Owner; got != "agoogler" {
		t.Errorf("owner %q, want agoogler as written", got)
	}
}

func TestUnivafDatabaseFullList(t *testing.T) {
	src := fixture(t, "2021-06-03--database-full.md", strings.Replace(teamFrontMatter, "---\n", "---\nowner: \"@astonm\"\n", 1))
	p := parseOK(t, src, testOptions)
	want := []string{
		"Set up CloudWatch alarms for database resources. (Done during this incident)",
		"Set up Sentry alarms for high error rates.",
		"Set up Slack integrations so alerts are highly visible to the team.",
		"Set up automatic deletion of old logs before we hit database problems again.",
	}
	var titles []string
	for i, it := range p.Document.ActionItems {
		titles = append(titles, it.Title)
		// Nobody is named in the items: the front matter's owner, mapped through people.
		if it.Owner != "astonm@usdr.org" || it.Status != "" || it.Ticket != "" {
			t.Errorf("item %d: %+v", i, it)
		}
	}
	if !slices.Equal(titles, want) {
		t.Fatalf("titles:\n%q\nwant\n%q", titles, want)
	}
	if line := lineOf(t, src, "- Set up Sentry"); p.ItemLines[1] != line {
		t.Errorf("item 1 on line %d, want %d", p.ItemLines[1], line)
	}
	// The Responders list further down is another section: not items.
	for _, it := range p.Document.ActionItems {
		if strings.Contains(it.Title, "Mr0grog") {
			t.Errorf("a responder became an item: %+v", it)
		}
	}
}

func TestUnivafTerraformNestedListsAndReferenceLinks(t *testing.T) {
	src := fixture(t, "2021-06-29--actions-budget-terraform-state.md", strings.Replace(teamFrontMatter, "---\n", "---\nowner: mr0grog\n", 1))
	p := parseOK(t, src, testOptions)
	items := p.Document.ActionItems
	if len(items) != 4 {
		t.Fatalf("%d items, want 4", len(items))
	}
	first := items[0]
	if first.Title != "Work with USDR ops team to fund GitHub effectively." ||
		first.Description != "- Turn actions back on for this project. **(Done as of 2021-06-30)**\n- Raise need for USDR to develop real budgeting, plans, and response process around usage of paid GitHub features. (Actually developing those is outside the scope of this project.)" {
		t.Errorf("nested bullets do not make the description: %+v", first)
	}
	// Reference-style links to issues name the items' tickets; the brackets they leave are gone.
	for i, want := range []struct{ title, ticket string }{
		{"Document how to build manually.", "usdigitalresponse/univaf#294"},
		{"Document how to reset Terraform Cloud state.", "usdigitalresponse/univaf#295"},
	} {
		if it := items[i+1]; it.Title != want.title || it.Ticket != want.ticket {
			t.Errorf("item %d: title %q ticket %q; want %q, %q", i+1, it.Title, it.Ticket, want.title, want.ticket)
		}
	}
	// Over 255 characters: cut at the last space before, the rest starts the description.
	last := items[3]
	if last.Ticket != "usdigitalresponse/univaf#296" || len([]rune(last.Title)) > ft.MaxTitleLength ||
		!strings.HasSuffix(last.Title, "and ensure that team") || last.Description != "members are notified about situation ahead of time." {
		t.Errorf("long item: %+v", last)
	}
	// No one maps "mr0grog": kept as written.
	if first.Owner != "mr0grog" {
		t.Errorf("owner %q", first.Owner)
	}
}

func TestPostHogDoneItemsAndPullRequestLinks(t *testing.T) {
	src := fixture(t, "2026-01-17-replay-sdk-fetch-wrapper-incident.md", strings.Replace(teamFrontMatter, "---\n", "---\nowner: marty-gh\n", 1))
	p := parseOK(t, src, testOptions)
	items := p.Document.ActionItems
	if len(items) != 7 {
		t.Fatalf("%d items, want 7", len(items))
	}
	done := items[0]
	if done.Title != "Adding comprehensive integration tests for fetch wrapper with FormData, ReadableStream, and chained wrappers" ||
		done.Status != ft.StatusDone || done.Ticket != "" ||
		done.Description != "- https://github.com/PostHog/posthog-js/pull/2935\n- https://github.com/PostHog/posthog-js/pull/2936" {
		t.Errorf("✅ item: %+v", done)
	}
	for _, it := range items[1:] {
		if it.Status != "" || it.Owner != "marty@acme.com" {
			t.Errorf("open item: %+v", it)
		}
	}
	// Emphasis gives its text.
	if !strings.Contains(items[1].Title, "with all past versions") {
		t.Errorf("title %q", items[1].Title)
	}
}

func TestPostHogRemediationSubsections(t *testing.T) {
	src := fixture(t, "2025-09-29-flags-is-down.md", strings.Replace(teamFrontMatter, "---\n", "---\nowner: ops@posthog.com\n", 1))
	p := parseOK(t, src, testOptions)
	var titles []string
	for _, it := range p.Document.ActionItems {
		titles = append(titles, it.Title)
	}
	want := []string{
		"Database connection timeouts moved to runtime configuration",
		"Timeout values increased to accommodate peak load scenarios",
		"Read/write path separation: Implementing distinct connection pools and failure domains for read-only operations versus write operations. Read-only flag evaluations will continue functioning during writer database issues.",
		"Circuit breaker implementation: Adding circuit breakers with exponential backoff to prevent retry amplification during connection failures.",
		"Health check optimization: Configuring aggressive liveness and readiness probes to remove failing pods from rotation within seconds rather than minutes.",
		"Rollback procedure documentation: Creating detailed runbooks for ArgoCD rollbacks with proper permission configurations and validation steps.",
		"Development of specialized tooling for rapid pod termination during incidents",
		"Comprehensive load testing to validate connection pool behavior under contention",
		"Quarterly incident response drills to ensure operational readiness",
	}
	if !slices.Equal(titles, want) {
		t.Fatalf("titles:\n%q\nwant\n%q", titles, want)
	}
	if line := lineOf(t, src, "- Quarterly incident"); p.ItemLines[8] != line {
		t.Errorf("last item on line %d, want %d", p.ItemLines[8], line)
	}
}

func TestKehoeTemplateHoldsNoItems(t *testing.T) {
	src := fixture(t, "postmortem-template-michael.kehoe.md", teamFrontMatter)
	p := Parse(src, testOptions)
	problems := p.Check()
	table := lineOf(t, src, "| Action Item | Type (Mitigate/")
	if len(problems) != 1 || problems[0].Field != "action_items" || problems[0].Line != table ||
		!strings.Contains(problems[0].Message, "the table holds no items") {
		t.Fatalf("problems = %+v; want one on line %d saying the table holds no items", problems, table)
	}
	// The empty rows are skipped, not items.
	if len(p.Document.ActionItems) != 0 {
		t.Errorf("items from empty rows: %+v", p.Document.ActionItems)
	}
}

func TestDocumentsWithoutActionItems(t *testing.T) {
	shakespeare := fixture(t, "sre-book-example-postmortem-shakespeare.md", teamFrontMatter)
	srebook := fixture(t, "postmortem-template-srebook.md", teamFrontMatter)
	tests := []struct {
		name  string
		src   []byte
		field string
		line  int
		msg   string
	}{
		{"no such heading", bytes.Replace(shakespeare, []byte("## Action Items"), []byte("## Next Steps"), 1),
			"action_items", 1, `no action-item section: no heading starts with "Action Items"`},
		{"nothing under the heading", srebook, "action_items", lineOf(t, srebook, "## Action Items"),
			`nothing under the heading "Action Items"`},
		{"no table and no list", []byte(teamFrontMatter + "## Action Items\n\nWe will do better.\n\n## Lessons\n\n- one\n"),
			"action_items", 7, "no table and no list"},
		{"no front matter", bytes.TrimPrefix(shakespeare, []byte(teamFrontMatter)), "front_matter", 1, "required"},
		{"front matter never closed", []byte("---\nid: PM-1\n\n## Action Items\n\n- x\n"), "front_matter", 1, "no closing --- line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := Parse(tt.src, testOptions).Check()
			if len(problems) == 0 || problems[0].Field != tt.field || problems[0].Line != tt.line || !strings.Contains(problems[0].Message, tt.msg) {
				t.Fatalf("problems = %+v; want first on %s, line %d, about %q", problems, tt.field, tt.line, tt.msg)
			}
		})
	}
}
