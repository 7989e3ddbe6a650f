package markdown

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary documents to the parser and the validator: nothing panics, every
// problem, warning and item names a line within the document, and every problem names a field.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.md"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte(teamFrontMatter), b...))
	}
	f.Add([]byte(teamFrontMatter + "## Action Items\n\n| ID | Title | Owner | Bug | Status |\n|--|--|--|--|--|\n| a | ✅ x `a\\|b` | @jennifer | [#1](https://github.com/a/b/issues/1) | won't do |\n"))
	f.Add([]byte(teamFrontMatter + "# Remediation\n\n- [x] a @bob P1 due 2027-01-01 ([#2](https://acme.atlassian.net/browse/PAY-2))\n  - nested\n-\n"))
	f.Add([]byte("\ufeff---\r\nid: x\r\nsigned_off_by: [a, *b]\r\nincident: &b {id: 1}\r\n---\r\n## Action Plan\r\n\r\n* one\r\n"))
	f.Add([]byte("---\nid: [\n---\n"))
	f.Add([]byte("---\n"))
	f.Add([]byte("\xff\xfe"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, src []byte) {
		p := Parse(src, testOptions)
		problems := p.Check()
		lines := documentLines(src)
		for _, pr := range problems {
			if pr.Line < 1 || pr.Line > lines || pr.Field == "" || pr.Message == "" {
				t.Fatalf("problem %+v in a document of %d lines", pr, lines)
			}
		}
		for _, w := range p.Warnings {
			if w.Line < 1 || w.Line > lines || w.Message == "" {
				t.Fatalf("warning %+v in a document of %d lines", w, lines)
			}
		}
		if len(p.ItemLines) != len(p.Document.ActionItems) {
			t.Fatalf("%d item lines for %d items", len(p.ItemLines), len(p.Document.ActionItems))
		}
		for _, l := range p.ItemLines {
			if l < 1 || l > lines {
				t.Fatalf("an item on line %d of %d", l, lines)
			}
		}
		if p.Document.ActionItems == nil {
			t.Fatal("action items are nil: JSON would say they are missing")
		}
	})
}

// documentLines counts lines as an editor shows them: LF, CRLF and a lone CR each end one.
func documentLines(src []byte) int {
	src = bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n"))
	src = bytes.ReplaceAll(src, []byte("\r"), []byte("\n"))
	return max(1, bytes.Count(bytes.TrimSuffix(src, []byte("\n")), []byte("\n"))+1)
}

// BenchmarkParseLarge parses documents near intake's 1 MiB limit: a table of long rows and a
// list of many short, repeated items (the worst case for derived ids).
func BenchmarkParseLarge(b *testing.B) {
	row := "| Fix the " + string(bytes.Repeat([]byte("thing "), 30)) + "| jennifer | P1 | 2027-01-01 | [PAY-1](https://acme.atlassian.net/browse/PAY-1) |\n"
	table := teamFrontMatter + "## Action Items\n\n| Action Item | Owner | Priority | Due | Bug |\n|---|---|---|---|---|\n" +
		string(bytes.Repeat([]byte(row), (1<<20)/len(row)))
	list := teamFrontMatter + "## Action Items\n\n" + string(bytes.Repeat([]byte("- a\n"), (1<<20)/4))
	for name, src := range map[string]string{"table": table, "list": list} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				Parse([]byte(src), testOptions).Check()
			}
		})
	}
}

// BenchmarkParseHostile parses 1 MiB documents made of inputs on which goldmark's inline
// parsing is slow, each just under the size that is read inline: list items, table cells and
// prose paragraphs; then documents whose block structure or links cost goldmark or the
// reading of items more than their size (see hostileBlocks).
func BenchmarkParseHostile(b *testing.B) {
	for name, body := range hostileBlocks() {
		src := []byte(teamFrontMatter + body)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				Parse(src, testOptions)
			}
		})
	}
	for _, unit := range []string{"[a](", "*a_b*c_d**e_f*g**h*i_j**", "![a]("} {
		item := "- " + strings.Repeat(unit, (maxItemText-8)/len(unit)) + "\n"
		cell := "| " + strings.Repeat(unit, (maxItemText-8)/len(unit)) + " |\n"
		prose := strings.Repeat(unit, (maxProse-8)/len(unit)) + "\n\n"
		docs := map[string]string{
			"items": "## Action Items\n\n" + strings.Repeat(item, (1<<20)/len(item)),
			"cells": "## Action Items\n\n| Title |\n|---|\n" + strings.Repeat(cell, (1<<20)/len(cell)),
			"prose": strings.Repeat(prose, (1<<20)/len(prose)) + "## Action Items\n\n- x\n",
		}
		for name, body := range docs {
			src := []byte(teamFrontMatter + body)
			b.Run(name+"/"+unit[:3], func(b *testing.B) {
				b.SetBytes(int64(len(src)))
				for b.Loop() {
					Parse(src, testOptions)
				}
			})
		}
	}
}

// hostileBlocks are bodies of 1 MiB whose cost grew faster than their size before it was
// bounded: link reference definitions (one block, refused; or many blocks of 20, read),
// lists nested by indentation (ever deeper, refused; or as deep as is read) and a long link
// destination that items use 1,300 times each.
func hostileBlocks() map[string]string {
	const size = 1 << 20
	var nested, bounded, blocks strings.Builder
	for i := 0; nested.Len() < size; i++ {
		nested.WriteString(strings.Repeat("  ", i) + "- x\n")
	}
	for i := 0; i < maxIndent/2-1; i++ {
		bounded.WriteString(strings.Repeat("  ", i) + "- x\n")
	}
	for bounded.Len() < size {
		bounded.WriteString(strings.Repeat(" ", maxIndent-2) + "x\n")
	}
	for blocks.Len() < size {
		blocks.WriteString(definitions(20) + "\n")
	}
	refs := "- " + strings.Repeat("[x]", 1300) + "\n"
	return map[string]string{
		"references/one-block":   "## Action Items\n\n- x\n\n" + definitions(size/13),
		"references/blocks":      "## Action Items\n\n- x\n\n" + blocks.String(),
		"indented/ever-deeper":   "## Action Items\n\n" + nested.String(),
		"indented/deepest-read":  "## Action Items\n\n" + bounded.String(),
		"ticket-link/used-often": "## Action Items\n\n" + strings.Repeat(refs, size/2/len(refs)) + "\n[x]: https://github.com/" + strings.Repeat("a", size/2) + "\n",
	}
}
