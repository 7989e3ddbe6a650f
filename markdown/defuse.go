package markdown

import (
	"bytes"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// goldmark's inline parsing takes time that grows with the square of a paragraph's length on
// some inputs (a paragraph of "[a](" repeated: 32 KiB take 2 s), so an intake body of 1 MiB
// could hold a request for minutes. Block structure alone parses in time proportional to the
// document, so it is parsed first, and text too long to be worth reading inline is kept from
// the inline parser.
const (
	// maxItemText bounds the text that items are read from: a heading, a table cell, the first
	// paragraph of a list item. Longer is a problem.
	maxItemText = 4 << 10
	// maxProse bounds any other paragraph. Longer ones are defused before inline parsing:
	// followthrough never reads their inline text (a description is taken from the source).
	maxProse = 2 << 10
)

// blockParser parses block structure only: no inline parser, so every text is plain text.
var blockParser = parser.NewParser(
	parser.WithBlockParsers(parser.DefaultBlockParsers()...),
	parser.WithParagraphTransformers(
		util.Prioritized(parser.LinkReferenceParagraphTransformer, 100),
		util.Prioritized(extension.NewTableParagraphTransformer(), 200),
	),
)

// defuse returns the source to give goldmark: src itself, or a copy with the text of long
// paragraphs replaced by x's, which are plain text to the inline parser and keep the block
// structure, the offsets and the lines as they were. tooLong is the offset of a text that
// items are read from and that is longer than maxItemText, or -1.
func defuse(src []byte) (out []byte, tooLong int) {
	out, tooLong = src, -1
	copied := false
	doc := blockParser.Parse(text.NewReader(src))
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		item := false
		switch n.(type) {
		case *ast.Heading, *east.TableCell:
			item = true
		case *ast.Paragraph, *ast.TextBlock:
			_, inList := n.Parent().(*ast.ListItem)
			item = inList && n.Parent().FirstChild() == n
		default:
			return ast.WalkContinue, nil
		}
		lines := n.Lines()
		size := 0
		for i := 0; i < lines.Len(); i++ {
			seg := lines.At(i)
			size += seg.Stop - seg.Start
		}
		switch {
		case item && size > maxItemText:
			tooLong = blockStart(n)
			return ast.WalkStop, nil
		case !item && size > maxProse:
			if !copied {
				out, copied = bytes.Clone(src), true
			}
			for i := 0; i < lines.Len(); i++ {
				seg := lines.At(i)
				for j := seg.Start; j < seg.Stop; j++ {
					if out[j] != '\n' {
						out[j] = 'x'
					}
				}
			}
		}
		return ast.WalkSkipChildren, nil
	})
	return out, tooLong
}
