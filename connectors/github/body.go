package github

import (
	"regexp"
	"strings"

	ft "github.com/followthrough/followthrough"
)

// The body of a ticket is the text followthrough gives, then (when the owner has no GitHub
// login) a line saying the issue is unassigned, then the marker in an HTML comment:
//
//	<text>
//
//	> **Unassigned:** no GitHub login is mapped for bob@acme.com in followthrough's people.
//
//	<!-- followthrough:PM-1/AI-1 -->

var (
	markerRE = regexp.MustCompile(`<!--\s*(followthrough:\S+?)\s*-->`)
	noteRE   = regexp.MustCompile(`(?m)^> \*\*Unassigned:\*\*.*$`)
	dueRE    = regexp.MustCompile(`(?mi)^[ \t>*_-]*due(?: date)?[*_]*[ \t]*:.*$`)
	dateRE   = regexp.MustCompile(`\d{4}-\d{2}-\d{2}`)
)

// bodyText is the ticket's text without its due date, which GitHub, having no due date field,
// keeps in a line of its own (setDueLine).
func bodyText(description string, t *ft.TicketText) string {
	if t != nil {
		withoutDue := *t
		withoutDue.Due = ""
		t = &withoutDue
	}
	return ft.TicketBody(description, t)
}

// ownerNote is the line saying why an issue is unassigned; "" when the owner has a login.
func ownerNote(owner, login string) string {
	if login != "" || owner == "" {
		return ""
	}
	return "> **Unassigned:** no GitHub login is mapped for " + owner + " in followthrough's people."
}

// composeBody puts text, the unassigned note and the marker together.
func composeBody(text, note, marker string) string {
	b := text
	if note != "" {
		b = joinPara(b, note)
	}
	if marker != "" {
		b = joinPara(b, "<!-- "+marker+" -->")
	}
	return b
}

func joinPara(a, b string) string {
	if a == "" {
		return b
	}
	return a + "\n\n" + b
}

// parsedBody is a ticket body taken apart.
type parsedBody struct {
	text   string // without note and marker
	note   string
	marker string
	due    string // the date of the due line, if any
}

// parseBody finds the marker, the unassigned note and the due line in a body.
func parseBody(body string) parsedBody {
	var p parsedBody
	if m := markerRE.FindStringSubmatch(body); m != nil {
		p.marker = m[1]
	}
	text := markerRE.ReplaceAllString(body, "")
	if n := noteRE.FindString(text); n != "" {
		p.note = n
		text = noteRE.ReplaceAllString(text, "")
	}
	p.text = strings.TrimRight(collapseBlank(text), " \t\r\n")
	if line := dueRE.FindString(p.text); line != "" {
		p.due = dateRE.FindString(line)
	}
	return p
}

// collapseBlank turns the runs of blank lines left by removed parts into one blank line.
func collapseBlank(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	for strings.Contains(s, "\n\n\n") {
		s = strings.ReplaceAll(s, "\n\n\n", "\n\n")
	}
	return s
}

// commentIDRE finds the id at the end of a comment followthrough wrote (see Comment).
var commentIDRE = regexp.MustCompile(`<!--\s*(\S+?)\s*-->\s*$`)

// withCommentID puts a comment's id at its end, in an HTML comment that github.com does not
// show.
func withCommentID(body, id string) string {
	return joinPara(strings.TrimRight(body, " \t\r\n"), "<!-- "+id+" -->")
}

// CommentIDOf returns the id at the end of a comment written by Comment, or "".
func CommentIDOf(body string) string {
	if m := commentIDRE.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// MarkerOf returns the followthrough marker in an issue body, or "".
func MarkerOf(body string) string { return parseBody(body).marker }

func hasDueLine(text string) bool { return dueRE.MatchString(text) }

// setDueLine writes the due date into the text's due line, or adds a "Due: <date>" line.
func setDueLine(text, due string) string {
	loc := dueRE.FindStringIndex(text)
	if loc == nil {
		if text == "" {
			return "Due: " + due
		}
		return text + "\n\nDue: " + due
	}
	line := text[loc[0]:loc[1]]
	if dateRE.MatchString(line) {
		line = dateRE.ReplaceAllLiteralString(line, due)
	} else {
		line = "Due: " + due
	}
	return text[:loc[0]] + line + text[loc[1]:]
}

// removeDueLine drops the text's due line.
func removeDueLine(text string) string {
	loc := dueRE.FindStringIndex(text)
	if loc == nil {
		return text
	}
	return strings.TrimRight(collapseBlank(text[:loc[0]]+strings.TrimPrefix(text[loc[1]:], "\n")), " \t\r\n")
}
