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
		util.Prioritized(boundedLinkReferences{}, 100),
		util.Prioritized(extension.NewTableParagraphTransformer(), 200),
	),
)

// defused is the source to give goldmark, and what makes the document one intake does not read.
type defused struct {
	src []byte
	// tooLong is the offset of a text that items are read from and that is longer than
	// maxItemText, or -1.
	tooLong int
	// tooManyReferences is the offset of the paragraph at which the link reference
	// definitions went over maxLinkReferenceWork, or -1.
	tooManyReferences int
}

// defuse returns the source to give goldmark: src itself, or a copy with the text of long
// paragraphs replaced by x's, which are plain text to the inline parser and keep the block
// structure, the offsets and the lines as they were.
func defuse(src []byte) defused {
	out, tooLong := src, -1
	copied := false
	budget := &linkReferenceBudget{refused: -1}
	pc := parser.NewContext()
	pc.Set(linkReferenceBudgetKey, budget)
	doc := blockParser.Parse(text.NewReader(src), parser.WithContext(pc))
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
	return defused{src: out, tooLong: tooLong, tooManyReferences: budget.refused}
}

// goldmark reads the link reference definitions that start a paragraph in time that grows
// with their number times the paragraph's lines (each one found scans the lines after it, and
// is cut out of the paragraph by copying them): 80,000 definitions in 1 MiB took 7 s, and 100
// followed by 500,000 short lines 0.2 s. A postmortem has a handful (the fixtures have up to
// five, in a block of their own), so the work is bounded for the whole document and a
// document that needs more is refused.
const maxLinkReferenceWork = 4 << 20 // lines that may start a definition × the paragraph's lines

// linkReferenceBudget is the work left for link reference definitions in one parse.
type linkReferenceBudget struct {
	spent   int
	refused int // offset of the paragraph that went over maxLinkReferenceWork, or -1
}

var linkReferenceBudgetKey = parser.NewContextKey()

// boundedLinkReferences is goldmark's LinkReferenceParagraphTransformer, given a paragraph
// only while the document's definitions stay within maxLinkReferenceWork.
type boundedLinkReferences struct{}

func (boundedLinkReferences) Transform(node *ast.Paragraph, reader text.Reader, pc parser.Context) {
	lines := node.Lines()
	line := func(i int) []byte { return reader.Source()[lines.At(i).Start:lines.At(i).Stop] }
	if lines.Len() == 0 || !mayStartDefinition(line(0)) {
		// goldmark tries the first line and gives up: no definition, little work.
		parser.LinkReferenceParagraphTransformer.Transform(node, reader, pc)
		return
	}
	budget := pc.Get(linkReferenceBudgetKey).(*linkReferenceBudget) // set by defuse, blockParser's one caller
	// Every definition starts a line of its own with "[": their number times the lines is
	// what goldmark may scan.
	starts := 0
	for i := range lines.Len() {
		if bytes.HasPrefix(bytes.TrimLeft(line(i), " \t"), []byte("[")) {
			starts++
		}
	}
	budget.spent += starts * lines.Len()
	if budget.spent > maxLinkReferenceWork {
		if budget.refused < 0 {
			budget.refused = lines.At(0).Start
		}
		return // its definitions stay text: the document is refused anyway
	}
	parser.LinkReferenceParagraphTransformer.Transform(node, reader, pc)
}

// mayStartDefinition reports whether a paragraph's first line may start a link reference
// definition: "[", and either no "]" on the line (the label goes on) or "]:" after the first
// one. Other lines ("[09:12] paged", "[INFO] ...") start none, and goldmark stops there.
func mayStartDefinition(line []byte) bool {
	line = bytes.TrimLeft(line, " \t")
	if len(line) == 0 || line[0] != '[' {
		return false
	}
	for i := 1; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++ // an escaped character does not close the label
		case ']':
			return i+1 < len(line) && line[i+1] == ':'
		}
	}
	return true
}
