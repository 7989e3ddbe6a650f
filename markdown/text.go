package markdown

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/util"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
)

// inline collects the plain text of inline Markdown: emphasis, code and links give their text.
type inline struct {
	src []byte
	// sites, when set, make the first link that names a ticket a token: it is taken as the
	// ticket and gives no text.
	sites *ft.TicketSites
	// notTickets are the document's link destinations found to name no ticket (shared by its
	// texts): a reference link repeats its definition's destination at every use.
	notTickets map[string]bool
	ticket     *ft.TicketRef
	checked    bool // a checked task-list box
	sb         strings.Builder
}

func (x *inline) children(n ast.Node) {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		x.node(c)
	}
}

func (x *inline) node(n ast.Node) {
	switch n := n.(type) {
	case *ast.Text:
		x.sb.Write(unescape(n.Value(x.src)))
		if n.SoftLineBreak() || n.HardLineBreak() {
			x.sb.WriteByte(' ')
		}
	case *ast.String:
		x.sb.Write(n.Value)
	case *ast.CodeSpan:
		// Code is text as written: no escapes, no entities.
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			switch t := c.(type) {
			case *ast.Text:
				x.sb.Write(t.Value(x.src))
				if t.SoftLineBreak() {
					x.sb.WriteByte(' ')
				}
			case *ast.String:
				x.sb.Write(t.Value)
			}
		}
	case *ast.Link:
		if !x.takeTicket(n.Destination) {
			x.children(n)
		}
	case *ast.AutoLink:
		if !x.takeTicket(n.URL(x.src)) {
			x.sb.Write(n.Label(x.src))
		}
	case *ast.RawHTML:
		x.sb.WriteByte(' ')
	case *east.TaskCheckBox:
		x.checked = n.IsChecked
	default:
		x.children(n)
	}
}

// maxTicketLink bounds the links read as tickets: a ticket's URL is short. A reference link
// repeats its definition's destination at every use: without the bound, 64 KiB made of a
// 32 KiB destination and items using it 1,300 times each took 1.3 s to read, four times as
// long for twice the size. notTickets keeps each destination from being read more than once.
const maxTicketLink = ft.MaxTextLength

// takeTicket takes the link as the item's ticket when tickets are looked for, none was found
// yet, and it names one.
func (x *inline) takeTicket(dest []byte) bool {
	if x.sites == nil || x.ticket != nil || len(dest) > maxTicketLink || x.notTickets[string(dest)] {
		return false
	}
	ref, err := x.sites.ParseTicket(string(dest))
	if err != nil {
		if x.notTickets != nil {
			x.notTickets[string(dest)] = true
		}
		return false
	}
	x.ticket = &ref
	// The link leaves a mark where it was, so that brackets around it count as left empty.
	x.sb.WriteString(tokenMark)
	return true
}

func (x *inline) text() string { return collapse(x.sb.String()) }

// tokenMark stands where a token was taken out of a text, until the text is tidied.
const tokenMark = "\x00"

func unescape(b []byte) []byte {
	return util.ResolveEntityNames(util.ResolveNumericReferences(util.UnescapePunctuations(b)))
}

// plainText is the text of a block's inline content.
func plainText(src []byte, n ast.Node) string {
	x := inline{src: src}
	x.children(n)
	return x.text()
}

// collapse makes every run of white space one space and trims both ends.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// The tokens of a list item's first paragraph. Only plain text is searched: the Markdown
// structure has been parsed already.
var (
	ownerRE    = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}|(?:^|[^A-Za-z0-9_.@/-])(@[A-Za-z0-9][A-Za-z0-9-]{0,38})\b`)
	priorityRE = regexp.MustCompile(`\bP[0-3]\b`)
	dueRE      = regexp.MustCompile(`(?i)\bdue(?::\s*|\s+)(\d{4}-\d{2}-\d{2})\b`)
)

// tokens are what a list item's text says besides its title.
type tokens struct {
	owner, priority, due string
}

// takeTokens finds the first owner, priority and due date in s (the first match of each wins)
// and returns s with a mark where each was.
func takeTokens(s string) (string, tokens) {
	var t tokens
	var spans [][2]int
	free := func(a, b int) bool {
		for _, sp := range spans {
			if a < sp[1] && sp[0] < b {
				return false
			}
		}
		return true
	}
	// take finds the first match of re that overlaps no token taken before; the token spans
	// submatch span (0: the whole match) and its value is submatch value.
	take := func(re *regexp.Regexp, span, value int) string {
		for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
			sp, val := span, value
			if m[2*sp] < 0 {
				sp = 0 // the owner's email alternative has no login group
			}
			if m[2*val] < 0 {
				val = 0
			}
			if a, b := m[2*sp], m[2*sp+1]; free(a, b) {
				spans = append(spans, [2]int{a, b})
				return s[m[2*val]:m[2*val+1]]
			}
		}
		return ""
	}
	t.owner = take(ownerRE, 1, 1)
	t.priority = take(priorityRE, 0, 0)
	t.due = take(dueRE, 0, 1)
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	var sb strings.Builder
	last := 0
	for _, sp := range spans {
		sb.WriteString(s[last:sp[0]])
		sb.WriteString(tokenMark)
		last = sp[1]
	}
	sb.WriteString(s[last:])
	return sb.String(), t
}

var (
	// emptyBracketsRE matches brackets that hold nothing but the marks of taken tokens, spaces
	// and separators.
	emptyBracketsRE = regexp.MustCompile(`\(\s*[\x00\s,;:/|-]*\)|\[\s*[\x00\s,;:/|-]*\]|\{\s*[\x00\s,;:/|-]*\}`)
	// strandedSeparatorRE matches a separator that only separated taken tokens from what
	// precedes them: "Page on lag: @bob P0, see" leaves "Page on lag: see".
	strandedSeparatorRE = regexp.MustCompile(`(^|[:;,(\[])((?:\s*\x00)+)\s*[,;]`)
)

// tidy removes the marks of taken tokens, brackets left empty, separators left at either end
// and spaces left before punctuation.
func tidy(s string) string {
	for {
		t := emptyBracketsRE.ReplaceAllStringFunc(s, func(m string) string {
			if strings.Contains(m, tokenMark) || strings.TrimSpace(m[1:len(m)-1]) == "" {
				return " "
			}
			return m
		})
		t = strandedSeparatorRE.ReplaceAllString(t, "$1$2")
		if t == s {
			break
		}
		s = t
	}
	s = collapse(strings.ReplaceAll(s, tokenMark, " "))
	for _, p := range []string{" .", " ,", " ;", " :", " !", " ?", " )"} {
		s = strings.ReplaceAll(s, p, p[1:])
	}
	return strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(",;:-–—|/", r)
	})
}

// doneMark at the start of a title marks an item finished at sign-off.
const doneMark = "✅"

// cutDoneMark removes a leading ✅ (and the emoji variation selector that may follow it).
func cutDoneMark(s string) (string, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), doneMark)
	if !ok {
		return s, false
	}
	return strings.TrimSpace(strings.TrimPrefix(rest, "\ufe0f")), true
}

// cutTitle keeps a title within ft.MaxTitleLength characters, cutting at the last space that
// allows it; the rest starts the description.
func cutTitle(s string) (title, rest string) {
	if utf8.RuneCountInString(s) <= ft.MaxTitleLength {
		return s, ""
	}
	r := []rune(s)
	for i := ft.MaxTitleLength; i > 0; i-- {
		if r[i] == ' ' {
			return strings.TrimSpace(string(r[:i])), strings.TrimSpace(string(r[i+1:]))
		}
	}
	return string(r[:ft.MaxTitleLength]), string(r[ft.MaxTitleLength:])
}

// joinParagraphs joins the non-empty parts of a description with a blank line.
func joinParagraphs(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "\n\n")
}

// owners maps how documents name people to the owner an item gets.
type owners struct {
	people   []config.Person
	fallback string // the front matter's owner, for items that name nobody
}

// resolve is the contract's owner rule: an email (lower-cased); else an @login matched against
// people[].github; else the text matched against people[].jira, then people[].github, ignoring
// case. Anything else stays as written.
func (o owners) resolve(raw string) string {
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
		return ""
	case ft.IsEmail(raw):
		return strings.ToLower(raw)
	case strings.HasPrefix(raw, "@"):
		if p, ok := o.find(raw[1:], func(p config.Person) string { return p.GitHub }); ok {
			return p
		}
		return raw
	}
	if p, ok := o.find(raw, func(p config.Person) string { return p.Jira }); ok {
		return p
	}
	if p, ok := o.find(raw, func(p config.Person) string { return p.GitHub }); ok {
		return p
	}
	return raw
}

func (o owners) find(name string, field func(config.Person) string) (string, bool) {
	for _, p := range o.people {
		if f := field(p); f != "" && p.Email != "" && strings.EqualFold(f, name) {
			return strings.ToLower(p.Email), true
		}
	}
	return "", false
}
