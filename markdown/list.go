package markdown

import (
	"bytes"
	"strings"

	"github.com/yuin/goldmark/ast"

	ft "github.com/followthrough/followthrough"
)

// list reads one item from each top-level item of the list; end is where the list's last item
// ends at the latest (the next block of the section, or the section's end).
func (b *body) list(l *ast.List, end int) {
	for li := l.FirstChild(); li != nil && !b.full(); li = li.NextSibling() {
		itemEnd := end
		if next := li.NextSibling(); next != nil && blockStart(next) >= 0 {
			itemEnd = blockStart(next)
		}
		b.listItem(li, itemEnd)
	}
}

// listItem reads an item: owner, priority, due date and ticket from its first paragraph, the
// rest of that paragraph as its title, and anything nested as its description.
func (b *body) listItem(li ast.Node, end int) {
	line := b.nodeLine(li)
	if s := blockStart(li); s < 0 {
		line = b.line(end) // an empty item at the end of the document
	}
	var it ft.ActionItem
	x := inline{src: b.src, sites: &b.sites, notTickets: b.notTickets}
	nested := li.FirstChild()
	if p := nested; p != nil && (p.Kind() == ast.KindParagraph || p.Kind() == ast.KindTextBlock) {
		x.children(p)
		nested = p.NextSibling()
	}
	text, tok := takeTokens(x.text())
	title, done := cutDoneMark(tidy(text))
	if done || x.checked {
		it.Status = ft.StatusDone
	}
	if x.ticket != nil {
		it.Ticket = x.ticket.Key
	}
	it.Owner = b.owners.resolve(tok.owner)
	it.Priority = tok.priority
	it.Due = tok.due
	var rest string
	it.Title, rest = cutTitle(title)
	if nested != nil && blockStart(nested) >= 0 {
		it.Description = joinParagraphs(rest, b.nestedSource(blockStart(nested), end))
	} else {
		it.Description = rest
	}
	b.add(it, line, true)
}

// nestedSource is the Markdown source from the line of start to end, without the indentation
// its lines share, with white space normalised: no trailing spaces, one blank line at most
// between blocks.
func (b *body) nestedSource(start, end int) string {
	start = bytes.LastIndexByte(b.src[:start], '\n') + 1
	end = max(start, min(end, len(b.src)))
	lines := strings.Split(string(b.src[start:end]), "\n")
	indent := -1
	for i, l := range lines {
		lines[i] = strings.TrimRight(strings.ReplaceAll(l, "\t", "    "), " ")
		if lines[i] != "" {
			n := len(lines[i]) - len(strings.TrimLeft(lines[i], " "))
			if indent < 0 || n < indent {
				indent = n
			}
		}
	}
	var out []string
	for _, l := range lines {
		if l == "" {
			if len(out) > 0 && out[len(out)-1] != "" {
				out = append(out, "")
			}
			continue
		}
		out = append(out, l[indent:])
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n")
}
