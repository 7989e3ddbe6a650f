package markdown

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	ft "github.com/followthrough/followthrough"
)

// frontMatter is the YAML between the "---" lines at the very top of a document.
type frontMatter struct {
	yaml      []byte
	firstLine int // the document line of the first line of yaml
	bodyStart int // byte offset where the Markdown body starts
	problem   *Problem
}

const frontMatterHelp = "the document must start with YAML front matter between --- lines, holding id, title, status and signed_off_by"

// splitFrontMatter finds the front matter. Without it, the whole document is the body.
func splitFrontMatter(src []byte) frontMatter {
	first, rest, found := bytes.Cut(src, []byte("\n"))
	if !found || !isFence(first) {
		return frontMatter{problem: &Problem{Line: 1, Field: "front_matter", Message: "required: " + frontMatterHelp}}
	}
	offset := len(first) + 1
	for len(rest) > 0 {
		line, next, _ := bytes.Cut(rest, []byte("\n"))
		if isFence(line) {
			end := offset + len(line) + 1
			return frontMatter{yaml: src[len(first)+1 : offset], firstLine: 2, bodyStart: min(end, len(src))}
		}
		offset += len(line) + 1
		rest = next
	}
	return frontMatter{problem: &Problem{Line: 1, Field: "front_matter",
		Message: "the front matter that starts here has no closing --- line"}}
}

func isFence(line []byte) bool { return string(bytes.TrimRight(line, " \t")) == "---" }

// yamlLineRE finds the line that a YAML syntax error names (relative to the front matter).
var yamlLineRE = regexp.MustCompile(`line (\d+): `)

// readFrontMatter fills the document's fields from the front matter and returns its owner, the
// owner of items that name none. Keys match without regard to case, as JSON's do; unknown keys
// are ignored; scalars are read as the text written.
func (p *Parsed) readFrontMatter(fm frontMatter) (owner string) {
	var root yaml.Node
	if err := yaml.Unmarshal(fm.yaml, &root); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := fm.firstLine
		if m := yamlLineRE.FindStringSubmatchIndex(msg); m != nil {
			n, _ := strconv.Atoi(msg[m[2]:m[3]])
			line = fm.firstLine + n - 1
			msg = msg[:m[0]] + msg[m[1]:]
		}
		p.problem(line, "front_matter", "not valid YAML: %s", msg)
		return ""
	}
	if len(root.Content) == 0 {
		p.problem(1, "front_matter", "empty: "+frontMatterHelp)
		return ""
	}
	r := fmReader{p: p, offset: fm.firstLine - 1}
	top := resolve(root.Content[0])
	if top.Kind != yaml.MappingNode {
		p.problem(r.line(top), "front_matter", "must be a mapping of keys to values, such as id: PM-42")
		return ""
	}
	d := p.Document
	r.each(top, "", func(key, path string, v *yaml.Node) {
		switch key {
		case "id":
			d.ID = r.text(v, path)
		case "title":
			d.Title = r.text(v, path)
		case "url":
			d.URL = r.text(v, path)
		case "status":
			d.Status = r.text(v, path)
		case "severity":
			d.Severity = r.text(v, path)
		case "team":
			d.Team = r.text(v, path)
		case "owner":
			owner = r.text(v, path)
		case "signed_off_by":
			d.SignedOffBy = r.list(v, path)
		case "signed_off_at":
			d.SignedOffAt = r.time(v, path)
		case "incident":
			d.Incident = r.incident(v, path)
		case "tracker":
			d.Tracker = r.ownTicket(v, path)
		}
	})
	return owner
}

// fmReader reads front matter values, recording each field's line and every value of the
// wrong kind as a problem named like the JSON field.
type fmReader struct {
	p      *Parsed
	offset int // front matter line 1 is document line 1+offset
}

func (r fmReader) line(n *yaml.Node) int { return n.Line + r.offset }

// resolve follows aliases, so that an anchored value reads as the value.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// each calls f for every key of a mapping, lower-cased, with the JSON path of its value.
func (r fmReader) each(m *yaml.Node, prefix string, f func(key, path string, v *yaml.Node)) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := resolve(m.Content[i]), resolve(m.Content[i+1])
		key := strings.ToLower(strings.TrimSpace(k.Value))
		path := key
		if prefix != "" {
			path = prefix + "." + key
		}
		r.p.lines[path] = r.line(k)
		f(key, path, v)
	}
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// text reads a scalar as the text written: an unquoted date or number stays as it was typed.
func (r fmReader) text(n *yaml.Node, path string) string {
	switch {
	case isNull(n):
		return ""
	case n.Kind == yaml.ScalarNode:
		return n.Value
	}
	r.p.problem(r.line(n), path, "must be text, not a list or a mapping")
	return ""
}

// list reads a list of texts; one text is a list of one.
func (r fmReader) list(n *yaml.Node, path string) []string {
	if n.Kind == yaml.SequenceNode {
		out := make([]string, 0, len(n.Content))
		for i, e := range n.Content {
			e = resolve(e)
			p := path + "[" + strconv.Itoa(i) + "]"
			r.p.lines[p] = r.line(e)
			out = append(out, r.text(e, p))
		}
		return out
	}
	if s := r.text(n, path); s != "" {
		return []string{s}
	}
	return nil
}

func (r fmReader) time(n *yaml.Node, path string) *time.Time {
	s := strings.TrimSpace(r.text(n, path))
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		r.p.problem(r.line(n), path, "must be an RFC 3339 time such as 2026-11-22T10:00:00Z, not %q", s)
		return nil
	}
	return &t
}

func (r fmReader) mapping(n *yaml.Node, path string) bool {
	if isNull(n) {
		return false
	}
	if n.Kind != yaml.MappingNode {
		r.p.problem(r.line(n), path, "must be a mapping")
		return false
	}
	return true
}

func (r fmReader) incident(n *yaml.Node, path string) *ft.Incident {
	if !r.mapping(n, path) {
		return nil
	}
	var in ft.Incident
	r.each(n, path, func(key, p string, v *yaml.Node) {
		switch key {
		case "id":
			in.ID = r.text(v, p)
		case "started_at":
			in.StartedAt = r.time(v, p)
		case "resolved_at":
			in.ResolvedAt = r.time(v, p)
		}
	})
	return &in
}

func (r fmReader) ownTicket(n *yaml.Node, path string) *ft.OwnTicket {
	if !r.mapping(n, path) {
		return nil
	}
	var t ft.OwnTicket
	r.each(n, path, func(key, p string, v *yaml.Node) {
		switch key {
		case "kind":
			t.Kind = ft.TrackerKind(r.text(v, p))
		case "repo":
			t.Repo = r.text(v, p)
		case "key":
			t.Key = r.text(v, p)
		case "number":
			s := strings.TrimSpace(r.text(v, p))
			if s == "" {
				return
			}
			num, err := strconv.Atoi(s)
			if err != nil {
				r.p.problem(r.line(v), p, "must be an integer, not %q", s)
				return
			}
			t.Number = num
		}
	})
	return &t
}
