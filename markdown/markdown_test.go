package markdown

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	ft "github.com/followthrough/followthrough"
)

// doc is a document with the test front matter and body.
func doc(body string) []byte { return []byte(teamFrontMatter + body) }

func TestTables(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		want  []ft.ActionItem // after Check (normalized)
		lines []int           // of the items
	}{
		{"escaped pipes, inline code and links in cells",
			"## Action Items\n\n| ID | Action Item | Owner | Notes |\n|---|---|---|---|\n" +
				"| AI-1 | Split `a\\|b` reads \\| writes | jennifer | see [the runbook](https://wiki/rb) and `x\\|y` |\n",
			[]ft.ActionItem{{ID: "AI-1", Title: "Split a|b reads | writes", Owner: "jennifer@acme.com", Priority: "P2",
				Description: "see [the runbook](https://wiki/rb) and `x|y`"}},
			[]int{11}},
		{"empty cells, empty rows and extra columns",
			"## Action Items\n\n| Action Item | Owner | Priority | Due | Whatever |\n|---|---|---|---|---|\n" +
				"| Add alerts | | | | ignored |\n|  |  |  |  |  |\n| Fix it | @marty-gh | P1 | 2027-01-02 | x | beyond the header |\n",
			[]ft.ActionItem{
				{ID: "add-alerts", Title: "Add alerts", Owner: "", Priority: "P2"},
				{ID: "fix-it", Title: "Fix it", Owner: "marty@acme.com", Priority: "P1", Due: "2027-01-02"},
			},
			[]int{11, 13}},
		{"only the first table of the section; headings in other cases",
			"## ACTION ITEMS\n\n| Title |\n|---|\n| First |\n\n### details\n\n| Title |\n|---|\n| Second |\n",
			[]ft.ActionItem{{ID: "first", Title: "First", Priority: "P2"}},
			[]int{11}},
		{"every column",
			"# Follow-up actions\n\n| id | Title | Description | Assignee | Priority | Due date | Type (Mitigate/ Prevent) | Labels | Repo | Ticket # | Status |\n" +
				"|---|---|---|---|---|---|---|---|---|---|---|\n" +
				"| a | One | Some *detail* | bob@ACME.com | P0 | 2027-02-01 | prevent | db, alerting | acme/api | [PAY-7](https://acme.atlassian.net/browse/PAY-7) | Won't do |\n" +
				"| b | ✅ Two | | martym | P3 | | | | OPS | https://github.com/acme/api/issues/3 | |\n" +
				"| c | Three | | jennifer | | | | | | acme/api#4 | DONE |\n",
			[]ft.ActionItem{
				{ID: "a", Title: "One", Description: "Some *detail*", Owner: "bob@acme.com", Priority: "P0", Due: "2027-02-01",
					Type: "prevent", Labels: []string{"db", "alerting"}, Tracker: &ft.Target{Kind: ft.GitHub, Repo: "acme/api"},
					Ticket: "PAY-7", Status: ft.StatusWontDo},
				{ID: "b", Title: "Two", Owner: "marty@acme.com", Priority: "P3", Tracker: &ft.Target{Kind: ft.Jira, Project: "OPS"},
					Ticket: "acme/api#3", Status: ft.StatusDone},
				{ID: "c", Title: "Three", Owner: "jennifer@acme.com", Priority: "P2", Ticket: "acme/api#4", Status: ft.StatusDone},
			},
			[]int{11, 12, 13}},
		{"a long title is cut and its rest starts the description",
			"## Action Items\n\n| Action | Details |\n|---|---|\n| " + strings.Repeat("word ", 60) + "end | more |\n",
			[]ft.ActionItem{{ID: strings.TrimSuffix(strings.Repeat("word-", 13), "-"), Title: strings.TrimSpace(strings.Repeat("word ", 51)),
				Description: strings.TrimSpace(strings.Repeat("word ", 9)) + " end\n\nmore", Priority: "P2"}},
			[]int{11}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Parse(doc(tt.body), testOptions)
			for _, pr := range p.Check() {
				// An empty owner is the validator's problem, on the row's line.
				if pr.Field != "action_items[0].owner" || pr.Line != tt.lines[0] {
					t.Errorf("problem %+v", pr)
				}
			}
			if got := p.Document.ActionItems; !equalItems(got, tt.want) {
				t.Errorf("items:\n%+v\nwant\n%+v", got, tt.want)
			}
			if !slices.Equal(p.ItemLines, tt.lines) {
				t.Errorf("lines %v, want %v", p.ItemLines, tt.lines)
			}
		})
	}
}

func equalItems(a, b []ft.ActionItem) bool {
	return slices.EqualFunc(a, b, func(x, y ft.ActionItem) bool {
		if (x.Tracker == nil) != (y.Tracker == nil) || x.Tracker != nil && *x.Tracker != *y.Tracker {
			return false
		}
		x.Tracker, y.Tracker = nil, nil
		return slices.Equal(x.Labels, y.Labels) && x.ID == y.ID && x.Title == y.Title && x.Description == y.Description &&
			x.Owner == y.Owner && x.Priority == y.Priority && x.Due == y.Due && x.Type == y.Type && x.Team == y.Team &&
			x.Ticket == y.Ticket && x.Status == y.Status
	})
}

func TestHeaderColumns(t *testing.T) {
	tests := map[string]column{
		"Action Item": colTitle, "Action Items": colTitle, "action": colTitle, "Item": colTitle, "Title": colTitle,
		"Type (Mitigate/ Prevent/ Process/ Other)": colType, "Bug #": colTicket, "Bug": colTicket, "Issue": colTicket,
		"Ticket:": colTicket, "Who": colOwner, "Owner(s)": colOwner, "Assignee": colOwner, "Due Date": colDue,
		"Due": colDue, "ID": colID, "Notes": colDescription, "Details": colDescription, "Labels": colLabels,
		"Repo": colTracker, "Project": colTracker, "Tracker": colTracker, "Status": colStatus, "Priority": colPriority,
		"Date/Time": colNone, "Who/What": colNone, "Impact": colNone, "": colNone,
	}
	for header, want := range tests {
		if got := headerColumn(header); got != want {
			t.Errorf("headerColumn(%q) = %d, want %d", header, got, want)
		}
	}
}

func TestTableProblemsNameTheirLines(t *testing.T) {
	src := doc("## Action Items\n\n| ID | Title | Owner | Priority | Due |\n|---|---|---|---|---|\n" +
		"| a | One | bob@acme.com | High | 2027-01-01 |\n" +
		"|   | Two | bob@acme.com | P1 | TBD |\n" +
		"| c |     | bob@acme.com |  |  |\n")
	problems := Parse(src, testOptions).Check()
	want := []Problem{
		{Line: 11, Field: "action_items[0].priority", Message: `must be one of P0, P1, P2, P3, not "High"`},
		{Line: 12, Field: "action_items[1].id", Message: "required"},
		{Line: 12, Field: "action_items[1].due", Message: `must be a date as YYYY-MM-DD, not "TBD"`},
		{Line: 13, Field: "action_items[2].title", Message: "required"},
	}
	if !slices.Equal(problems, want) {
		t.Fatalf("problems:\n%+v\nwant\n%+v", problems, want)
	}
	p := Parse(src, testOptions)
	p.Check()
	if fe := p.Locate([]ft.FieldError{{Field: "action_items[2].tracker", Message: "no route"}}); fe[0].Message != "line 13: no route" {
		t.Errorf("located %+v", fe)
	}
	if p := Parse(doc("## Action Items\n\n| Owner | Bug |\n|---|---|\n| bob | x |\n"), testOptions).Check(); len(p) != 1 ||
		p[0].Line != 9 || !strings.Contains(p[0].Message, "no title column") {
		t.Errorf("no title column: %+v", p)
	}
}

func TestLineEndingsAndBOM(t *testing.T) {
	src := doc("## Action Items\n\n| Action Item | Owner |\n|---|---|\n| One | jennifer |\n| Two | jennifer |\n")
	want := Parse(src, testOptions)
	want.Check()
	for name, variant := range map[string][]byte{
		"CRLF":         bytes.ReplaceAll(src, []byte("\n"), []byte("\r\n")),
		"BOM":          append([]byte("\ufeff"), src...),
		"BOM and CRLF": append([]byte("\ufeff"), bytes.ReplaceAll(src, []byte("\n"), []byte("\r\n"))...),
	} {
		p := Parse(variant, testOptions)
		if problems := p.Check(); len(problems) != 0 {
			t.Fatalf("%s: problems %+v", name, problems)
		}
		if p.Document.Hash() != want.Document.Hash() || !slices.Equal(p.ItemLines, want.ItemLines) || p.Document.ID != "PM-465" {
			t.Errorf("%s: %+v lines %v, want %+v lines %v", name, p.Document, p.ItemLines, want.Document, want.ItemLines)
		}
	}
}

func TestLists(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []ft.ActionItem
	}{
		{"tokens from the first paragraph",
			"## Action Items\n\n" +
				"- Add a circuit breaker (@marty-gh, P1, due 2027-01-15) [#12](https://github.com/acme/api/issues/12)\n" +
				"- Page on lag: bob@Acme.com P0 due: 2027-02-01, see [the doc](https://wiki/x) and [PR](https://github.com/acme/api/pull/3)\n" +
				"- Write the runbook @nobody P3 P2\n",
			[]ft.ActionItem{
				{ID: "add-a-circuit-breaker", Title: "Add a circuit breaker", Owner: "marty@acme.com", Priority: "P1", Due: "2027-01-15", Ticket: "acme/api#12"},
				{ID: "page-on-lag-see-the-doc-and-pr", Title: "Page on lag: see the doc and PR", Owner: "bob@acme.com", Priority: "P0", Due: "2027-02-01"},
				{ID: "write-the-runbook-p2", Title: "Write the runbook P2", Owner: "@nobody", Priority: "P3"},
			}},
		{"done items, task lists, nested content and repeated titles",
			"# Corrective actions\n\n" +
				"- [x] Rotate keys\n" +
				"- [ ] Rotate keys\n  continued on a second line\n\n  A second paragraph\n  with **bold** text.\n\n  - nested one\n    - deeper\n" +
				"- ✅ Rotate keys\n" +
				"1. Numbered *item*\n",
			[]ft.ActionItem{
				{ID: "rotate-keys", Title: "Rotate keys", Status: ft.StatusDone},
				{ID: "rotate-keys-continued-on-a-second-line", Title: "Rotate keys continued on a second line",
					Description: "A second paragraph\nwith **bold** text.\n\n- nested one\n  - deeper"},
				{ID: "rotate-keys-2", Title: "Rotate keys", Status: ft.StatusDone},
				{ID: "numbered-item", Title: "Numbered item"},
			}},
		{"lists under subheadings, not past the section",
			"## Remediation\n\n### Now\n\n- One\n\n### Later\n\nIntro text.\n\n* Two\n\n## Lessons\n\n- Not an item\n",
			[]ft.ActionItem{{ID: "one", Title: "One"}, {ID: "two", Title: "Two"}}},
		{"a Setext heading",
			"Action Plan\n-----------\n\n+ Only\n",
			[]ft.ActionItem{{ID: "only", Title: "Only"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Parse(doc(tt.body), Options{Sites: testOptions.Sites, People: testOptions.People})
			for i := range tt.want {
				tt.want[i].Priority = cmpOr(tt.want[i].Priority, "P2")
				tt.want[i].Owner = cmpOr(tt.want[i].Owner, "")
			}
			for _, pr := range p.Check() {
				if !strings.HasSuffix(pr.Field, ".owner") {
					t.Errorf("problem %+v", pr)
				}
			}
			if got := p.Document.ActionItems; !equalItems(got, tt.want) {
				t.Errorf("items:\n%+v\nwant\n%+v", got, tt.want)
			}
			for i, it := range p.Document.ActionItems {
				if !hasWarning(p, p.ItemLines[i], `id "`+it.ID+`" is derived`) {
					t.Errorf("no warning about the derived id of %s on line %d", it.ID, p.ItemLines[i])
				}
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestListItemLines(t *testing.T) {
	src := doc("## Action Items\n\n- One @bob\n\n- Two\n  more\n-\n- [ ] \n")
	p := Parse(src, testOptions)
	if !slices.Equal(p.ItemLines, []int{9, 11, 13, 14}) {
		t.Errorf("lines %v", p.ItemLines)
	}
	var titleless []int
	for _, pr := range p.Check() {
		if strings.HasSuffix(pr.Field, ".title") {
			titleless = append(titleless, pr.Line)
		}
	}
	if !slices.Equal(titleless, []int{13, 14}) {
		t.Errorf("items without a title reported on %v, want [13 14]", titleless)
	}
}

func TestDerivedIDs(t *testing.T) {
	tests := map[string]string{
		"Add a circuit-breaker!":  "add-a-circuit-breaker",
		"  --Ünïcode über alles ": "n-code-ber-alles",
		"!!!":                     "item",
		"":                        "item",
		strings.Repeat("ab ", 40): strings.TrimSuffix(strings.Repeat("ab-", 22)[:64], "-"),
	}
	for title, want := range tests {
		if got := deriveID(title); got != want {
			t.Errorf("deriveID(%q) = %q, want %q", title, got, want)
		}
	}
	p := Parse(doc("## Action Items\n\n- Foo\n- Foo\n- Foo 2\n- Foo\n"), testOptions)
	var ids []string
	for _, it := range p.Document.ActionItems {
		ids = append(ids, it.ID)
	}
	if !slices.Equal(ids, []string{"foo", "foo-2", "foo-2-2", "foo-3"}) {
		t.Errorf("ids %q", ids)
	}
}

func TestFrontMatter(t *testing.T) {
	body := "\n## Action Items\n\n- Fix it\n"
	tests := []struct {
		name     string
		front    string
		check    func(t *testing.T, d *ft.Document)
		problems []string // "LINE FIELD"
	}{
		{"scalars are text; one signer; unknown keys ignored; keys in any case",
			"ID: 2026-11-20\ntitle: 42\nstatus: finalized\nsigned_off_by: carol@acme.com\nsigned_off_at: 2026-11-22T10:00:00+01:00\n" +
				"severity: SEV1\nteam: payments\nurl: https://wiki/pm\nowner: jennifer\nreviewers: [a, b]\n" +
				"incident: {id: INC-9, started_at: '2026-11-20T09:12:00Z'}\ntracker: {kind: github, repo: acme/pm, number: 7}\n",
			func(t *testing.T, d *ft.Document) {
				if d.ID != "2026-11-20" || d.Title != "42" || !slices.Equal(d.SignedOffBy, []string{"carol@acme.com"}) ||
					d.SignedOffAt.Format("15:04Z07:00") != "09:00Z" || d.Severity != "SEV1" || d.Team != "payments" ||
					d.URL != "https://wiki/pm" || d.Incident.ID != "INC-9" || d.Incident.StartedAt == nil ||
					*d.Tracker != (ft.OwnTicket{Kind: ft.GitHub, Repo: "acme/pm", Number: 7}) {
					t.Errorf("document %+v", d)
				}
				if d.ActionItems[0].Owner != "jennifer@acme.com" {
					t.Errorf("the front matter's owner is not mapped: %q", d.ActionItems[0].Owner)
				}
			}, nil},
		{"signers as a list",
			"id: PM-1\ntitle: t\nstatus: finalized\nsigned_off_by:\n  - a@acme.com\n  - b@acme.com\nowner: x@acme.com\n",
			func(t *testing.T, d *ft.Document) {
				if !slices.Equal(d.SignedOffBy, []string{"a@acme.com", "b@acme.com"}) {
					t.Errorf("signers %q", d.SignedOffBy)
				}
			}, nil},
		{"values of the wrong kind name their lines",
			"id: [x]\ntitle: t\nstatus: finalized\nsigned_off_by: {a: b}\nsigned_off_at: 2026-11-22\nowner: x@acme.com\n" +
				"tracker:\n  kind: github\n  repo: a/b\n  number: seven\nincident: 3\n",
			// Then the validator: the id and the signers are missing, and so is the number.
			nil, []string{"2 id", "5 signed_off_by", "6 signed_off_at", "11 tracker.number", "12 incident",
				"2 id", "5 signed_off_by", "11 tracker.number"}},
		{"a draft without signers is the validator's",
			"id: PM-1\ntitle: t\nstatus: draft\nsigned_off_by: ~\nowner: x@acme.com\n",
			nil, []string{"4 status", "5 signed_off_by"}},
		{"YAML that does not parse",
			"id: PM-1\ntitle: a: b\nstatus: finalized\nowner: x@acme.com\n",
			nil, []string{"3 front_matter", "1 id", "1 title", "1 status", "1 signed_off_by", "10 action_items[0].owner"}},
		{"empty front matter", "", nil,
			[]string{"1 front_matter", "1 id", "1 title", "1 status", "1 signed_off_by", "6 action_items[0].owner"}},
		{"a list instead of a mapping", "- a\n- b\n", nil,
			[]string{"2 front_matter", "1 id", "1 title", "1 status", "1 signed_off_by", "8 action_items[0].owner"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Parse([]byte("---\n"+tt.front+"---\n"+body), testOptions)
			var got []string
			for _, pr := range p.Check() {
				got = append(got, fmt.Sprintf("%d %s", pr.Line, pr.Field))
			}
			if !slices.Equal(got, tt.problems) {
				t.Errorf("problems %q, want %q", got, tt.problems)
			}
			if tt.check != nil {
				tt.check(t, p.Document)
			}
		})
	}
}

// TestSameAgain checks "the same postmortem again" on the parsed document: edits to prose and
// white space change nothing; a changed title changes the document.
func TestSameAgain(t *testing.T) {
	src := fixture(t, "sre-book-example-postmortem-shakespeare.md", teamFrontMatter)
	base := parseOK(t, src, testOptions).Document.Hash()
	edited := bytes.Replace(src, []byte("Estimated 1.21B queries lost"), []byte("Estimated   1.21B\nqueries lost"), 1)
	edited = bytes.Replace(edited, []byte("| mitigate | jennifer |"), []byte("|   mitigate   |   jennifer |"), 1)
	edited = append(edited, []byte("\n\nA closing remark.\n")...)
	if got := parseOK(t, edited, testOptions).Document.Hash(); got != base {
		t.Error("edits to prose and white space made a different document")
	}
	renamed := bytes.Replace(src, []byte("Use flux capacitor"), []byte("Use the flux capacitor"), 1)
	if got := parseOK(t, renamed, testOptions).Document.Hash(); got == base {
		t.Error("a renamed item is the same document")
	}
}

// TestLongText: text too long to read inline is a problem where items are read from it, and is
// kept from the inline parser elsewhere, the description still taking it from the source.
func TestLongText(t *testing.T) {
	long := strings.Repeat("[a](", 1500) // 6000 bytes on which goldmark's inline parsing is slow
	src := []byte(strings.Replace(teamFrontMatter, "---\n", "---\nowner: x@acme.com\n", 1) +
		"# Summary\n\n" + long + "\n\n## Action Items\n\n- Fix it\n\n  " + long + "\n- Then this\n")
	p := parseOK(t, src, testOptions)
	if items := p.Document.ActionItems; len(items) != 2 || items[0].Title != "Fix it" || items[0].Description != long || items[1].Title != "Then this" {
		t.Errorf("items %+v", items)
	}
	for body, line := range map[string]int{
		"## Action Items\n\n- " + long + "\n":                     9,
		"## Action Items\n\n| Title |\n|---|\n| " + long + " |\n": 11,
		"## " + long + "\n\n- x\n":                                7,
	} {
		problems := Parse(doc(body), testOptions).Check()
		if len(problems) != 1 || problems[0].Field != "document" || problems[0].Line != line ||
			!strings.Contains(problems[0].Message, "more than 4096 bytes") {
			t.Errorf("%.40q: problems %+v, want one on line %d", body, problems, line)
		}
	}
}

// A line that opens block quotes or list items thousands deep is a problem on its line, found
// before goldmark reads the body: its block parser takes time growing with the square of the
// depth (a line of 1 MiB of ">" took minutes, past the test's own time limit), and intake takes
// bodies of 1 MiB.
func TestDeepNestingIsRefusedQuickly(t *testing.T) {
	const fm = "---\nid: PM-1\ntitle: t\nstatus: finalized\nsigned_off_by: a@b.co\n---\n# Action Items\n\n- Fix it @bob\n\n"
	for name, line := range map[string]string{
		"block quotes": strings.Repeat(">", 1<<20-200),
		"list items":   strings.Repeat("- ", (1<<20-200)/2),
		"both":         strings.Repeat("> 1. ", (1<<20-200)/5),
	} {
		p := Parse([]byte(fm+line+" x\n"), Options{})
		if len(p.Problems) != 1 || p.Problems[0].Line != 11 || p.Problems[0].Field != "document" {
			t.Errorf("%s: problems %v, want one of the document on line 11", name, p.Problems)
		}
	}
	// Nesting as deep as a document may go is read as before.
	p := Parse([]byte(fm+strings.Repeat("> ", 20)+"x\n"), Options{})
	if len(p.Problems) != 0 || len(p.Document.ActionItems) != 1 {
		t.Errorf("shallow nesting: %v, %d items", p.Problems, len(p.Document.ActionItems))
	}
}

// hostileFrontMatter and its section end on line 10: a hostile body starts on line 11.
const hostileFrontMatter = "---\nid: PM-1\ntitle: t\nstatus: finalized\nsigned_off_by: a@b.co\n---\n# Action Items\n\n- Fix it @bob\n\n"

// definitions is n link reference definitions, one a line.
func definitions(n int) string {
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "[l%d]: /u%d\n", i, i)
	}
	return sb.String()
}

// goldmark reads the link reference definitions that start a paragraph in time growing with
// their number times the paragraph's lines (1 MiB of them took 7 s, and intake takes bodies of
// 1 MiB), so a document with more than intake reads is a problem on the paragraph where they go
// over, found before the rest is read.
func TestManyLinkReferenceDefinitionsAreRefused(t *testing.T) {
	for name, tt := range map[string]struct {
		body string
		line int
	}{
		"one block of 1 MiB":          {definitions(80_000), 11},
		"a few, then many lines":      {definitions(100) + strings.Repeat("a\n", 500_000), 11},
		"blocks of 2,000: the second": {definitions(2000) + "\n" + definitions(2000), 11 + 2001},
		"in a list item":              {"- " + strings.ReplaceAll(definitions(10_000), "\n", "\n  "), 11},
	} {
		p := Parse([]byte(hostileFrontMatter+tt.body), Options{})
		if len(p.Problems) != 1 || p.Problems[0].Line != tt.line || p.Problems[0].Field != "document" ||
			!strings.Contains(p.Problems[0].Message, "link reference definitions") {
			t.Errorf("%s: problems %v, want one of the document on line %d", name, p.Problems, tt.line)
		}
	}
}

// A postmortem's references, and lines that start with "[" but define nothing (a timeline,
// a log), are read as before.
func TestLinkReferencesAsPostmortemsHaveThem(t *testing.T) {
	src := hostileFrontMatter + "- Grow the pool [#12][i12] @bob\n\n" + strings.Repeat("[09:12] paged\n", 5000) + "\n" +
		definitions(500) + "[i12]: https://github.com/acme/api/issues/12\n"
	p := parseOK(t, []byte(src), testOptions)
	if items := p.Document.ActionItems; len(items) != 2 || items[1].Title != "Grow the pool" || items[1].Ticket != "acme/api#12" {
		t.Errorf("items %+v", items)
	}
}

// Lists nest across lines too, each indented under the last, and goldmark gives every line
// time growing with the lists open times its indentation (1 MiB of them took 3.4 s), so a line
// indented further than any postmortem is a problem on its line.
func TestDeepIndentationIsRefused(t *testing.T) {
	var lists strings.Builder
	for i := 0; lists.Len() < 1<<20; i++ {
		lists.WriteString(strings.Repeat("  ", i) + "- x\n")
	}
	for name, tt := range map[string]struct {
		body string
		line int
	}{
		// "- x" at 200 columns is at 202 once its marker is counted: the 101st line.
		"lists under lists": {lists.String(), 111},
		"tabs":              {"- x\n" + strings.Repeat("\t", 50) + "x\n" + strings.Repeat("\t", 51) + "x\n", 13},
		"in block quotes":   {strings.Repeat("> ", 40) + strings.Repeat(" ", 121) + "x\n", 11},
	} {
		p := Parse([]byte(hostileFrontMatter+tt.body), Options{})
		if len(p.Problems) != 1 || p.Problems[0].Line != tt.line || p.Problems[0].Field != "document" ||
			!strings.Contains(p.Problems[0].Message, "columns") {
			t.Errorf("%s: problems %v, want one of the document on line %d", name, p.Problems, tt.line)
		}
	}
	// Indented code and lines of white space only are read as before.
	src := hostileFrontMatter + "```\n" + strings.Repeat(" ", 150) + "}\n```\n" + strings.Repeat(" ", 1000) + "\n- Then this @bob\n"
	if p := parseOK(t, []byte(src), testOptions); len(p.Document.ActionItems) != 2 {
		t.Errorf("items %+v", p.Document.ActionItems)
	}
}

// A link longer than any ticket's URL names no ticket: a reference link repeats its
// definition's destination at every use, and reading a long one again at each (1 MiB of uses)
// took minutes.
func TestLongLinksNameNoTicket(t *testing.T) {
	issue := "https://github.com/acme/api/issues/12"
	long := issue + "?q=" + strings.Repeat("a", ft.MaxTextLength)
	src := hostileFrontMatter + "- Grow the pool [#12][long] [#12][long] @bob\n- Shrink it [#12][short] @bob\n\n" +
		"[long]: " + long + "\n[short]: " + issue + "?q=a\n"
	items := parseOK(t, []byte(src), testOptions).Document.ActionItems
	if len(items) != 3 || items[1].Ticket != "" || items[1].Title != "Grow the pool #12 #12" || items[2].Ticket != "acme/api#12" {
		t.Errorf("items %+v", items)
	}
}

// TestSameAsJSON: a postmortem sent as Markdown and as JSON is the same document (the same
// hash, so that sending the other form is no revision), whatever the case of its owners' emails.
func TestSameAsJSON(t *testing.T) {
	md := "---\nid: PM-1\ntitle: T\nstatus: finalized\nsigned_off_by: Carol@Acme.com\nowner: Dana@Acme.com\n---\n" +
		"## Action Items\n\n| ID | Title | Owner |\n|---|---|---|\n| AI-1 | Fix it | Bob@Acme.com |\n| AI-2 | Then this | |\n| AI-3 | And this | Platform Team |\n"
	js := `{"id": "PM-1", "title": "T", "status": "finalized", "signed_off_by": ["Carol@Acme.com"], "action_items": [
		{"id": "AI-1", "title": "Fix it", "owner": "BOB@acme.com"},
		{"id": "AI-2", "title": "Then this", "owner": "Dana@Acme.com"},
		{"id": "AI-3", "title": "And this", "owner": "Platform Team"}]}`
	p := Parse([]byte(md), testOptions)
	if problems := p.Check(); len(problems) != 0 {
		t.Fatalf("problems %+v", problems)
	}
	d, err := ft.DecodeDocument([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	d.Normalize(testOptions.Sites)
	if errs := d.Validate(); len(errs) != 0 {
		t.Fatalf("JSON problems %+v", errs)
	}
	if p.Document.Hash() != d.Hash() {
		a, _, _ := p.Document.Canonical()
		b, _, _ := d.Canonical()
		t.Errorf("the forms differ:\nMarkdown %s\nJSON     %s", a, b)
	}
}
