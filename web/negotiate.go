package web

import (
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// How a page request picks its format: ?format= when given, else the Accept header read as RFC
// 9110 (sections 12.4.2 and 12.5.1) says, among the formats that page offers.

// Formats of the pages.
const (
	formatHTML = "html"
	formatJSON = "json"
	formatCSV  = "csv"
)

// The formats each kind of page offers, the default (taken when Accept is absent) first.
var (
	listFormats = []string{formatHTML, formatJSON, formatCSV} // GET /
	pageFormats = []string{formatHTML, formatJSON}            // every other page
)

// mediaTypes are the types the formats are answered as.
var mediaTypes = map[string]string{
	formatHTML: "text/html",
	formatJSON: "application/json",
	formatCSV:  "text/csv",
}

// mediaRange is one element of an Accept header.
type mediaRange struct {
	typ, subtype string // either may be "*"
	q            float64
	otherCharset bool // it asks for a charset other than UTF-8, so it matches no page
}

// specificity orders the ranges that match a type: text/html over text/* over */*.
func (m mediaRange) specificity() int {
	switch {
	case m.typ == "*":
		return 0
	case m.subtype == "*":
		return 1
	}
	return 2
}

func (m mediaRange) matches(mediaType string) bool {
	typ, subtype, _ := strings.Cut(mediaType, "/")
	return !m.otherCharset && (m.typ == "*" || m.typ == typ) && (m.subtype == "*" || m.subtype == subtype)
}

// pageFormat is the format, one of offers, that r asks for: ?format= when given (400 when the
// page has no such format), else the best of offers by Accept, else offers[0]. When Accept
// allows none of offers, the page is answered as if it were not negotiated (RFC 9110 allows
// that in place of a 406), as it always was: a monitor sending Accept: text/plain still gets
// the page.
func pageFormat(r *http.Request, offers []string) (string, error) {
	if f := r.URL.Query().Get("format"); f != "" {
		for _, o := range offers {
			if f == o {
				return f, nil
			}
		}
		return "", badRequest("format must be %s", orList(offers))
	}
	ranges := parseAccept(strings.Join(r.Header.Values(echo.HeaderAccept), ","))
	if len(ranges) == 0 {
		// No Accept (or none that parses) means any type, as for curl's */*.
		return offers[0], nil
	}
	best, bestQ, bestSpec, bestPos := "", 0.0, 0, 0
	for _, o := range offers {
		q, spec, pos := quality(ranges, mediaTypes[o])
		// Ties go to the type the client named rather than reached by a wildcard, then to the
		// one it named first (application/json, */* is JSON), then to the page's order.
		if q > bestQ || q == bestQ && q > 0 && (spec > bestSpec || spec == bestSpec && pos < bestPos) {
			best, bestQ, bestSpec, bestPos = o, q, spec, pos
		}
	}
	if best == "" {
		return offers[0], nil
	}
	return best, nil
}

// quality is the q that ranges give mediaType: that of the most specific range matching it (the
// highest of equally specific ones), with that range's specificity and position; q is 0 when
// none matches.
func quality(ranges []mediaRange, mediaType string) (q float64, spec, pos int) {
	spec = -1
	for i, m := range ranges {
		if !m.matches(mediaType) {
			continue
		}
		if s := m.specificity(); s > spec || s == spec && m.q > q {
			q, spec, pos = m.q, s, i
		}
	}
	return q, spec, pos
}

// parseAccept reads an Accept header's media ranges, leaving out the elements it cannot read.
// Type, subtype and parameter names are compared without case. A charset other than UTF-8 (the
// only one pages are written in) matches nothing; other parameters neither narrow nor widen a
// range. application/xhtml+xml is read as text/html.
func parseAccept(header string) []mediaRange {
	var out []mediaRange
	for _, element := range strings.Split(header, ",") {
		if strings.TrimSpace(element) == "" {
			continue // the list syntax allows empty elements
		}
		mt, params, err := mime.ParseMediaType(element)
		if err != nil {
			continue
		}
		if mt == "*" {
			mt = "*/*" // older Java clients send a bare *
		}
		typ, subtype, ok := strings.Cut(mt, "/")
		if !ok || typ == "*" && subtype != "*" {
			continue
		}
		m := mediaRange{typ: typ, subtype: subtype, q: 1}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			m.otherCharset = true
		}
		if v, ok := params["q"]; ok {
			q, err := strconv.ParseFloat(v, 64)
			if err != nil || !(q >= 0 && q <= 1) {
				continue
			}
			m.q = q
		}
		if mt == "application/xhtml+xml" {
			m.typ, m.subtype = "text", "html"
		}
		out = append(out, m)
	}
	return out
}

// orList is "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
