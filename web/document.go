package web

import (
	"fmt"
	"unicode/utf8"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/markdown"
)

// mimeMarkdown is the content type of a postmortem written in Markdown (RFC 7763).
const mimeMarkdown = "text/markdown"

// intakeDocument is an intake body read as its content type says: the normalized document and
// every problem the validator (and, for Markdown, the document's structure) has with it.
type intakeDocument struct {
	doc      *ft.Document
	problems []ft.FieldError
	markdown *markdown.Parsed // nil for JSON
}

// readDocument decodes, normalizes and validates an intake body. A body that cannot be read at
// all is an error (400, or 422 for JSON of the wrong shape). A Markdown document is answered as
// the JSON it becomes, each message starting with the line of its field ("line N: ").
func (s *Server) readDocument(mediaType string, body []byte) (intakeDocument, error) {
	if mediaType != mimeMarkdown {
		doc, err := ft.DecodeDocument(body)
		if err != nil {
			return intakeDocument{}, err
		}
		doc.Normalize(s.cfg.TicketSites())
		return intakeDocument{doc: doc, problems: doc.Validate()}, nil
	}
	if !utf8.Valid(body) {
		return intakeDocument{}, fmt.Errorf("%w: the body is not valid UTF-8", ft.ErrMalformed)
	}
	parsed := markdown.Parse(body, markdown.OptionsFor(s.cfg))
	in := intakeDocument{doc: parsed.Document, markdown: parsed}
	for _, p := range parsed.Check() {
		in.problems = append(in.problems, p.FieldError())
	}
	return in, nil
}

// locate gives problems found after reading (routing) the lines of their fields, for Markdown.
func (in intakeDocument) locate(fields []ft.FieldError) []ft.FieldError {
	if in.markdown == nil {
		return fields
	}
	return in.markdown.Locate(fields)
}
