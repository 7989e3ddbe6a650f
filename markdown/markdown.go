// Package markdown reads postmortems kept as Markdown files, as the contract's "Postmortems in
// Markdown" describes them: YAML front matter for the postmortem's fields, and the action items
// as the rows of a table or the items of lists in the section under an "Action Items" heading
// (or one of its synonyms). It produces the same ft.Document that JSON intake takes, so one
// validator serves both formats; what Markdown adds is a line number for every problem and every
// item, and warnings for what a person may want to fix before merging.
//
// The body is parsed with goldmark and its GFM extensions: Markdown structure is never matched
// with regular expressions. Only the plain text of an item is searched for tokens (an owner, a
// priority, a due date).
package markdown

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"unicode/utf8"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
)

// Options are what reading a document takes from the configuration.
type Options struct {
	// Sites say which links and cells name existing tickets.
	Sites ft.TicketSites
	// People map owners written as logins or names to their emails; nil keeps owners as written.
	People []config.Person
}

// OptionsFor takes the options from a configuration. Without one (cfg nil: lint with no
// --config), ticket URLs on any host are taken at their word and owners are kept as written.
func OptionsFor(cfg *config.Config) Options {
	if cfg == nil {
		return Options{Sites: ft.TicketSites{AnyHost: true}}
	}
	return Options{Sites: cfg.TicketSites(), People: cfg.People}
}

// Problem is one reason the document cannot be accepted. Field is named as in JSON
// ("action_items[2].owner"), or "front_matter", "action_items" or "document" for a problem of
// the document's structure; Line is where it is (1 for a problem of the whole document).
type Problem struct {
	Line    int
	Field   string
	Message string
}

// FieldError is the problem as the API answers it: the message starts with "line N: ".
func (p Problem) FieldError() ft.FieldError {
	return ft.FieldError{Field: p.Field, Message: fmt.Sprintf("line %d: %s", p.Line, p.Message)}
}

// Warning is something the document's authors may want to know before it is merged; it does
// not stop the document from being accepted.
type Warning struct {
	Line    int
	Message string
}

// Parsed is a document as read: the postmortem, the problems of its structure (the validator's
// come with Check), warnings, and the line of every field.
type Parsed struct {
	Document *ft.Document
	Problems []Problem
	Warnings []Warning
	// ItemLines[i] is the line of Document.ActionItems[i]: its table row or list item.
	ItemLines []int

	sites    ft.TicketSites
	lines    map[string]int // field path -> line
	newlines []int          // offsets of the document's line ends, to find the line of an offset
	lastLine int
}

// Parse reads a Markdown postmortem. It never fails: whatever is wrong is in Problems (and,
// after Check, the validator's problems too). A leading UTF-8 BOM is skipped and CRLF line
// endings read as LF.
func Parse(src []byte, opts Options) *Parsed {
	src = normalizeLineEndings(bytes.TrimPrefix(src, []byte("\ufeff")))
	p := &Parsed{
		Document: &ft.Document{ActionItems: []ft.ActionItem{}},
		sites:    opts.Sites,
		lines:    map[string]int{},
		lastLine: max(1, bytes.Count(bytes.TrimSuffix(src, []byte("\n")), []byte("\n"))+1),
	}
	for i, c := range src {
		if c == '\n' {
			p.newlines = append(p.newlines, i)
		}
	}
	if !utf8.Valid(src) {
		bad := 0
		for bad < len(src) {
			r, size := utf8.DecodeRune(src[bad:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			bad += size
		}
		p.problem(p.lineAt(bad), "document", "not valid UTF-8")
		return p
	}
	fm := splitFrontMatter(src)
	owner := ""
	if fm.problem != nil {
		p.Problems = append(p.Problems, *fm.problem)
	} else {
		owner = p.readFrontMatter(fm)
	}
	b := &body{
		p:          p,
		src:        src[fm.bodyStart:],
		base:       fm.bodyStart,
		owners:     owners{people: opts.People},
		sites:      opts.Sites,
		notTickets: map[string]bool{},
	}
	b.owners.fallback = b.owners.resolve(owner)
	b.read()
	return p
}

// normalizeLineEndings turns CRLF and lone CR into LF, as CommonMark reads them, so that line
// numbers count the same lines an editor shows.
func normalizeLineEndings(src []byte) []byte {
	if !bytes.ContainsRune(src, '\r') {
		return src
	}
	src = bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(src, []byte("\r"), []byte("\n"))
}

// lineAt is the 1-based line of a byte offset into the document.
func (p *Parsed) lineAt(offset int) int {
	return sort.SearchInts(p.newlines, offset) + 1
}

func (p *Parsed) problem(line int, field, format string, args ...any) {
	p.Problems = append(p.Problems, Problem{Line: p.clamp(line), Field: field, Message: fmt.Sprintf(format, args...)})
}

func (p *Parsed) warn(line int, format string, args ...any) {
	p.Warnings = append(p.Warnings, Warning{Line: p.clamp(line), Message: fmt.Sprintf(format, args...)})
}

// clamp keeps a line within the document, so that every problem names a line that exists.
func (p *Parsed) clamp(line int) int { return min(max(line, 1), p.lastLine) }

// Line is the line of a field, named as in JSON: the line of its key in the front matter, the
// line of the item it belongs to, or 1 for what the document lacks.
func (p *Parsed) Line(field string) int {
	if line, ok := ft.NearestField(p.lines, field); ok {
		return p.clamp(line)
	}
	return 1
}

// Check normalizes the document, validates it as JSON intake does, and returns every problem:
// those of its structure first, then the validator's, each with its line.
func (p *Parsed) Check() []Problem {
	p.Document.Normalize(p.sites)
	problems := slices.Clone(p.Problems)
	for _, fe := range p.Document.Validate() {
		problems = append(problems, Problem{Line: p.Line(fe.Field), Field: fe.Field, Message: fe.Message})
	}
	return problems
}

// Locate gives field errors found later (routing, by the server) the lines of their fields, as
// the API answers them.
func (p *Parsed) Locate(fields []ft.FieldError) []ft.FieldError {
	out := make([]ft.FieldError, len(fields))
	for i, fe := range fields {
		out[i] = Problem{Line: p.Line(fe.Field), Field: fe.Field, Message: fe.Message}.FieldError()
	}
	return out
}
