// Package cli carries out the commands that work on postmortem files: lint checks them as intake
// would, with no server; submit sends them to a running service, as a repository's CI does after
// a postmortem is merged. cmd/followthrough only hands them its arguments.
package cli

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/markdown"
)

// Exit codes of the contract.
const (
	ExitOK      = 0
	ExitFailed  = 1 // submit: a file was refused or could not be sent
	ExitProblem = 2 // usage errors, configuration errors and problems in a document
)

// maxDocument is the largest document intake takes (the API's body limit).
const maxDocument = 1 << 20

// Format is how a postmortem file is written.
type Format string

// The formats lint and submit read, by file name.
const (
	Markdown Format = "markdown"
	JSON     Format = "json"
)

// FormatOf tells a file's format by its name: .md and .markdown are Markdown, .json is JSON;
// any other name is an error (a usage error).
func FormatOf(name string) (Format, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".md", ".markdown":
		return Markdown, nil
	case ".json":
		return JSON, nil
	}
	return "", fmt.Errorf("%s: not a postmortem file: name it .md, .markdown or .json", name)
}

// ContentType is what intake is told the file is.
func (f Format) ContentType() string {
	if f == Markdown {
		return "text/markdown; charset=utf-8"
	}
	return "application/json"
}

// Finding is one problem or warning, where it is. Field is named as in JSON, or "warning".
type Finding struct {
	Line    int
	Field   string
	Message string
}

// Report is what lint found in one file.
type Report struct {
	File     string
	Format   Format
	Body     []byte
	Document *ft.Document // nil when the file could not be read as a postmortem
	Problems []Finding
	Warnings []Finding
	line     func(field string) int
}

// Line is the line of a field of the document, 1 when it has none.
func (r *Report) Line(field string) int {
	if r.line == nil {
		return 1
	}
	return r.line(field)
}

// Lines are the report as lint prints it, in the order of the file: "FILE:LINE: field: what
// is wrong" for a problem and "FILE:LINE: warning: ..." for a warning.
func (r *Report) Lines() []string { return r.format(slices.Concat(r.Problems, r.Warnings)) }

func (r *Report) format(findings []Finding) []string {
	findings = slices.Clone(findings)
	slices.SortStableFunc(findings, func(a, b Finding) int { return cmp.Compare(a.Line, b.Line) })
	out := make([]string, len(findings))
	for i, f := range findings {
		out[i] = fmt.Sprintf("%s:%d: %s: %s", r.File, f.Line, f.Field, f.Message)
	}
	return out
}

// writeLines writes lines, one per line.
func writeLines(w io.Writer, lines []string) {
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}

// Linter checks documents as intake would, without a server.
type Linter struct {
	// Config maps owners through people, says which tracker hosts name tickets, and routes
	// items; nil skips those checks.
	Config *config.Config
}

// Lint reads one file's body as its name says and returns every problem and warning. A draft or
// a missing sign-off is a warning here: a document under review is a draft.
func (l Linter) Lint(name string, format Format, body []byte) *Report {
	r := &Report{File: name, Format: format, Body: body}
	if len(body) > maxDocument {
		r.problem(1, "document", fmt.Sprintf("larger than %d bytes, the most intake takes", maxDocument))
		return r
	}
	if format == Markdown {
		l.lintMarkdown(r)
	} else {
		l.lintJSON(r)
	}
	if r.Document == nil {
		return r
	}
	if l.Config == nil {
		return r
	}
	for i, it := range r.Document.ActionItems {
		field := fmt.Sprintf("action_items[%d]", i)
		if it.Owner != "" && !ft.IsEmail(it.Owner) {
			r.warn(r.Line(field), fmt.Sprintf("owner %q is not an email and not in people: the ticket gets no assignee", it.Owner))
		}
	}
	for _, fe := range l.Config.Router().Problems(r.Document) {
		r.problem(r.Line(fe.Field), fe.Field, fe.Message)
	}
	return r
}

func (r *Report) problem(line int, field, msg string) {
	r.Problems = append(r.Problems, Finding{Line: line, Field: field, Message: msg})
}

func (r *Report) warn(line int, msg string) {
	r.Warnings = append(r.Warnings, Finding{Line: line, Field: "warning", Message: msg})
}

// add records the problems of a document, except that a draft or a missing sign-off is only a
// warning here.
func (r *Report) add(problems []Finding) {
	for _, p := range problems {
		switch p.Field {
		case "status", "signed_off_by":
			r.warn(p.Line, fmt.Sprintf("%s: %s (intake refuses the document until it is finalized and signed off)", p.Field, p.Message))
		default:
			r.problem(p.Line, p.Field, p.Message)
		}
	}
}

func (l Linter) sites() ft.TicketSites { return markdown.OptionsFor(l.Config).Sites }

func (l Linter) lintMarkdown(r *Report) {
	parsed := markdown.Parse(r.Body, markdown.OptionsFor(l.Config))
	r.line = parsed.Line
	var problems []Finding
	for _, p := range parsed.Check() {
		problems = append(problems, Finding(p))
	}
	r.add(problems)
	for _, w := range parsed.Warnings {
		r.warn(w.Line, w.Message)
	}
	r.Document = parsed.Document
}

func (l Linter) lintJSON(r *Report) {
	lines := jsonLines(r.Body)
	r.line = lines.line
	doc, err := ft.DecodeDocument(r.Body)
	var se *ft.ShapeError
	switch {
	case errors.As(err, &se):
		if len(se.Fields) == 0 {
			r.problem(1, "document", se.Message)
		}
		for _, fe := range se.Fields {
			r.problem(r.Line(fe.Field), fe.Field, fe.Message)
		}
		return
	case err != nil:
		r.problem(lines.syntaxErrorLine(r.Body), "document", err.Error())
		return
	}
	doc.Normalize(l.sites())
	var problems []Finding
	for _, fe := range doc.Validate() {
		problems = append(problems, Finding{Line: r.Line(fe.Field), Field: fe.Field, Message: fe.Message})
	}
	r.add(problems)
	r.Document = doc
}

// LintCommand is `followthrough lint [--config FILE] FILE...`: every problem and warning of
// every file on stdout; exit 2 when any file has a problem (or the command line or the
// configuration is wrong), else 0.
func LintCommand(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := newFlagSet("lint", stderr)
	configPath := fs.String("config", "", "configuration file (or FOLLOWTHROUGH_CONFIG): maps owners and checks routes")
	files, formats, ok := parseFiles(fs, args, stderr)
	if !ok {
		return ExitProblem
	}
	cfg, ok := loadConfig(*configPath, getenv, stderr)
	if !ok {
		return ExitProblem
	}
	l := Linter{Config: cfg}
	code := ExitOK
	for i, name := range files {
		r := l.lintFile(name, formats[i])
		if cfg == nil {
			r.warn(1, "no configuration (--config): owners are not mapped through people, ticket URLs are not checked against the trackers' hosts, and routes are not checked")
		}
		writeLines(stdout, r.Lines())
		if len(r.Problems) > 0 {
			code = ExitProblem
		}
	}
	return code
}

// lintFile reads and lints one file; a file that cannot be read is a problem of that file.
func (l Linter) lintFile(name string, format Format) *Report {
	body, err := readFile(name)
	if err != nil {
		r := &Report{File: name, Format: format}
		r.problem(1, "document", err.Error())
		return r
	}
	return l.Lint(name, format, body)
}

// JSONLine is the document a file becomes, as submit --dry-run prints it.
func (r *Report) JSONLine() ([]byte, error) {
	return json.Marshal(r.Document)
}
