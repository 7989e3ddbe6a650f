package markdown

import (
	"fmt"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"

	ft "github.com/followthrough/followthrough"
)

// sectionHeadings start the heading of the action-item section (compared case-insensitively).
var sectionHeadings = []string{
	"Action Items", "Action Plan", "Follow-ups", "Followups", "Follow-up Actions", "Corrective Actions", "Remediation",
}

// gfm parses GitHub Flavored Markdown: tables, task lists, strikethrough and bare links.
var gfm = goldmark.New(goldmark.WithExtensions(extension.GFM))

// body reads the action items from the Markdown after the front matter.
type body struct {
	p      *Parsed
	src    []byte // the body; goldmark's offsets are into it
	base   int    // offset of src in the document
	owners owners
	sites  ft.TicketSites
	// notTickets are the link destinations found to name no ticket.
	notTickets map[string]bool

	items   []ft.ActionItem
	lines   []int
	derived []bool // the item's id comes from its title
}

// line is the document line of an offset into the body.
func (b *body) line(offset int) int { return b.p.lineAt(b.base + offset) }

// nodeLine is the document line where a block starts.
func (b *body) nodeLine(n ast.Node) int { return b.line(blockStart(n)) }

// blockStart is the offset where a block starts, or -1 when it holds nothing to say where.
func blockStart(n ast.Node) int {
	if n.Pos() >= 0 {
		return n.Pos()
	}
	if n.Type() == ast.TypeBlock && n.Lines().Len() > 0 {
		return n.Lines().At(0).Start
	}
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if s := blockStart(c); s >= 0 {
			return s
		}
	}
	return -1
}

// read finds the section and its items and puts them into the document.
func (b *body) read() {
	switch deep, wide := deepNesting(b.src); {
	case deep >= 0 && wide:
		b.p.problem(b.line(deep), "document", "more than %d columns of white space, block quotes and list markers at the start of a line: "+
			"intake does not read Markdown nested or indented that deep", maxIndent)
		return
	case deep >= 0:
		b.p.problem(b.line(deep), "document", "more than %d block quotes or list items opened on one line: "+
			"intake does not read Markdown nested that deep", maxNesting)
		return
	}
	defused := defuse(b.src)
	if defused.tooManyReferences >= 0 {
		b.p.problem(b.line(defused.tooManyReferences), "document", "more link reference definitions (\"[label]: url\") than intake reads, "+
			"by this paragraph: it reads one block of 2,000 at most, fewer when more lines follow them; "+
			"a postmortem needs a few dozen, and a log whose lines start with \"[\" belongs in a code block")
		return
	}
	if defused.tooLong >= 0 {
		b.p.problem(b.line(defused.tooLong), "document", "more than %d bytes in one heading, table cell or first paragraph of a list item: "+
			"intake does not read Markdown text that long; shorten it, or move the details into a paragraph of their own", maxItemText)
		return
	}
	// The tree's offsets are the same in both; text is read from the source as written.
	doc := gfm.Parser().Parse(text.NewReader(defused.src))
	heading, blocks, end := b.section(doc)
	if heading == nil {
		b.p.problem(1, "action_items", "no action-item section: no heading starts with %s", quoteList(sectionHeadings))
		return
	}
	name := plainText(b.src, heading)
	headingLine := b.nodeLine(heading)
	b.p.lines["action_items"] = headingLine
	if len(blocks) == 0 {
		b.p.problem(headingLine, "action_items", "nothing under the heading %q: add a table or a list of action items", name)
		return
	}
	for _, n := range blocks {
		if t, ok := n.(*east.Table); ok {
			b.table(t)
			b.finish()
			return
		}
	}
	lists := 0
	for i, n := range blocks {
		if l, ok := n.(*ast.List); ok {
			lists++
			next := end
			if i+1 < len(blocks) && blockStart(blocks[i+1]) >= 0 {
				next = blockStart(blocks[i+1])
			}
			b.list(l, next)
		}
	}
	if lists == 0 {
		b.p.problem(headingLine, "action_items", "no table and no list under the heading %q: add a table or a list of action items", name)
	}
	b.finish()
}

// section returns the first action-item heading, the blocks of its section (subsections
// included) and the offset where the section ends.
func (b *body) section(doc ast.Node) (heading *ast.Heading, blocks []ast.Node, end int) {
	for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
		h, ok := n.(*ast.Heading)
		if heading == nil {
			if ok && isSectionHeading(plainText(b.src, h)) {
				heading = h
			}
			continue
		}
		if ok && h.Level <= heading.Level {
			return heading, blocks, blockStart(h)
		}
		blocks = append(blocks, n)
	}
	return heading, blocks, len(b.src)
}

func isSectionHeading(s string) bool {
	for _, h := range sectionHeadings {
		if len(s) >= len(h) && strings.EqualFold(s[:len(h)], h) {
			return true
		}
	}
	return false
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// add appends an item read from the line; its id is derived from its title when it has none
// of its own.
func (b *body) add(it ft.ActionItem, line int, derived bool) {
	if it.Owner == "" {
		it.Owner = b.owners.fallback
	}
	b.p.lines[fmt.Sprintf("action_items[%d]", len(b.items))] = line
	b.items = append(b.items, it)
	b.lines = append(b.lines, line)
	b.derived = append(b.derived, derived)
}

// full reports whether the document has more items than intake takes: one more is enough for
// the validator to say so, and reading on would only cost time.
func (b *body) full() bool { return len(b.items) > ft.MaxActionItems }

// finish derives ids, warns about them, and puts the items into the document.
func (b *body) finish() {
	used := map[string]bool{}
	for i := range b.items {
		if !b.derived[i] {
			used[b.items[i].ID] = true
		}
	}
	next := map[string]int{} // the next repeat number to try for each derived id
	for i := range b.items {
		if !b.derived[i] {
			continue
		}
		base := deriveID(b.items[i].Title)
		id := base
		for used[id] {
			n := max(next[base], 2)
			next[base] = n + 1
			id = fmt.Sprintf("%s-%d", base, n)
		}
		used[id] = true
		b.items[i].ID = id
		b.p.warn(b.lines[i], "id %q is derived from the title: renaming the item closes its ticket and opens a new one (an ID column keeps ids stable)", id)
	}
	if b.items != nil {
		b.p.Document.ActionItems = b.items
	}
	b.p.ItemLines = b.lines
}

// deriveID makes an id of a title: ASCII letters and digits lower-cased, every other run of
// characters one '-', cut to 64 characters, '-' trimmed at both ends; "item" when nothing is
// left.
func deriveID(title string) string {
	var sb strings.Builder
	dash := false
	for _, r := range title {
		switch {
		case r >= 'A' && r <= 'Z':
			sb.WriteRune(r + 'a' - 'A')
			dash = false
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			sb.WriteRune(r)
			dash = false
		case !dash:
			sb.WriteByte('-')
			dash = true
		}
	}
	id := sb.String()
	if len(id) > 64 {
		id = id[:64]
	}
	id = strings.Trim(id, "-")
	if id == "" {
		return "item"
	}
	return id
}
