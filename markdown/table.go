package markdown

import (
	"regexp"
	"strings"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"

	ft "github.com/followthrough/followthrough"
)

// column is the item field a table column fills.
type column int

const (
	colNone column = iota
	colID
	colTitle
	colDescription
	colOwner
	colPriority
	colDue
	colType
	colLabels
	colTracker
	colTicket
	colStatus
)

// columnNames are the headers each field's column may have; a header matches a name when the
// name's words are its leading words, the longest name winning.
var columnNames = []struct {
	name string
	col  column
}{
	{"id", colID},
	{"action item", colTitle}, {"action", colTitle}, {"item", colTitle}, {"title", colTitle},
	{"description", colDescription}, {"details", colDescription}, {"notes", colDescription},
	{"owner", colOwner}, {"assignee", colOwner}, {"who", colOwner},
	{"priority", colPriority},
	{"due", colDue}, {"due date", colDue},
	{"type", colType},
	{"labels", colLabels},
	{"tracker", colTracker}, {"repo", colTracker}, {"project", colTracker},
	{"bug", colTicket}, {"ticket", colTicket}, {"issue", colTicket},
	{"status", colStatus},
}

var (
	parenthesesRE = regexp.MustCompile(`\([^)]*(\)|$)`)
	repoCellRE    = regexp.MustCompile(`^[^\s/]+/[^\s/]+$`)
)

// headerColumn matches a header to its field, ignoring case, anything in parentheses and
// trailing punctuation: "Type (Mitigate/ Prevent/ Process/ Other)" is Type, "Bug #" is Bug.
func headerColumn(header string) column {
	h := parenthesesRE.ReplaceAllString(strings.ToLower(header), " ")
	h = strings.TrimRightFunc(h, func(r rune) bool { return r == ' ' || strings.ContainsRune("#:.?!*-_", r) })
	words := strings.Fields(h)
	best, bestLen := colNone, 0
	for _, c := range columnNames {
		name := strings.Fields(c.name)
		if len(name) > bestLen && len(name) <= len(words) && equalWords(name, words[:len(name)]) {
			best, bestLen = c.col, len(name)
		}
	}
	return best
}

func equalWords(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// table reads one item from every row of the table that has a cell with something in it.
func (b *body) table(t *east.Table) {
	header, ok := t.FirstChild().(*east.TableHeader)
	if !ok {
		return
	}
	headerLine := b.nodeLine(header)
	var cols []column
	var names []string
	seen := map[column]bool{}
	for c := header.FirstChild(); c != nil; c = c.NextSibling() {
		name := plainText(b.src, c)
		col := headerColumn(name)
		if seen[col] {
			col = colNone // the first column of a field wins
		}
		seen[col] = true
		cols = append(cols, col)
		names = append(names, name)
	}
	if !seen[colTitle] {
		b.p.problem(headerLine, "action_items", "the table has no title column: name one Action Item, Action, Item or Title")
		return
	}
	for row := header.NextSibling(); row != nil && !b.full(); row = row.NextSibling() {
		var cells []ast.Node
		empty := true
		for c := row.FirstChild(); c != nil; c = c.NextSibling() {
			cells = append(cells, c)
			empty = empty && strings.TrimSpace(b.source(c)) == ""
		}
		if !empty {
			b.row(cells, cols, names, b.nodeLine(row), seen[colID])
		}
	}
	if len(b.items) == 0 {
		b.p.problem(b.nodeLine(t), "action_items", "the table holds no items: every row is empty")
	}
}

// source is a cell's Markdown source, an escaped pipe read as a pipe.
func (b *body) source(cell ast.Node) string {
	var sb strings.Builder
	lines := cell.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		sb.Write(seg.Value(b.src))
	}
	return collapse(strings.ReplaceAll(sb.String(), `\|`, "|"))
}

func (b *body) row(cells []ast.Node, cols []column, names []string, line int, hasID bool) {
	var it ft.ActionItem
	var rest, description, ticketText string
	for i, cell := range cells {
		if i >= len(cols) {
			break // cells beyond the header belong to no column
		}
		text := plainText(b.src, cell)
		switch cols[i] {
		case colID:
			it.ID = text
		case colTitle:
			title, done := cutDoneMark(text)
			if done {
				it.Status = ft.StatusDone
			}
			it.Title, rest = cutTitle(title)
		case colDescription:
			description = b.source(cell)
		case colOwner:
			it.Owner = b.owners.resolve(text)
		case colPriority:
			it.Priority = text
		case colDue:
			it.Due = text
		case colType:
			it.Type = text
		case colLabels:
			for _, l := range strings.Split(text, ",") {
				if l = strings.TrimSpace(l); l != "" {
					it.Labels = append(it.Labels, l)
				}
			}
		case colTracker:
			switch {
			case text == "":
			case repoCellRE.MatchString(text):
				it.Tracker = &ft.Target{Kind: ft.GitHub, Repo: text}
			default:
				it.Tracker = &ft.Target{Kind: ft.Jira, Project: text}
			}
		case colTicket:
			ticketText = b.ticketCell(&it, cell, names[i], line)
		case colStatus:
			if st := cellStatus(text); st != "" {
				it.Status = st
			}
		}
	}
	it.Description = joinParagraphs(rest, description, ticketText)
	b.add(it, line, !hasID)
}

// ticketCell takes the ticket a cell names: a link to a ticket, or the whole text as a
// reference. Other text in the cell is returned, for the description, with a warning.
func (b *body) ticketCell(it *ft.ActionItem, cell ast.Node, header string, line int) (other string) {
	x := inline{src: b.src, sites: &b.sites, notTickets: b.notTickets}
	x.children(cell)
	text := x.text()
	if x.ticket == nil && text != "" {
		if ref, err := b.sites.ParseTicket(text); err == nil {
			x.ticket, text = &ref, ""
		}
	}
	if x.ticket != nil {
		it.Ticket = x.ticket.Key
		text = collapse(strings.ReplaceAll(text, tokenMark, " "))
	}
	if text == "" {
		return ""
	}
	b.p.warn(line, "the %s cell %q names no ticket: it is kept in the description", header, text)
	return b.source(cell)
}

// cellStatus reads a Status cell: done, wont_do or won't do (any case) finish the item at
// sign-off; anything else leaves it open.
func cellStatus(s string) ft.Status {
	switch strings.ToLower(strings.ReplaceAll(s, "’", "'")) {
	case "done":
		return ft.StatusDone
	case "wont_do", "won't do":
		return ft.StatusWontDo
	}
	return ""
}
