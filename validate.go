package followthrough

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// FieldError is one problem with one field of an intake document. Field is a path such as
// "action_items[2].owner"; Message says what is wrong, in words.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error makes a FieldError usable as an error.
func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// ErrMalformed is returned (wrapped) by DecodeDocument for a body that is not one well-formed
// UTF-8 JSON value: the API answers it with 400.
var ErrMalformed = errors.New("malformed JSON")

// ShapeError is returned by DecodeDocument for well-formed JSON that is not a postmortem
// document: not an object, or values of the wrong type in known fields (a number for "id", an
// object for "signed_off_by", a time that is not RFC 3339). The API answers it with 422.
type ShapeError struct {
	Message string
	Fields  []FieldError // every field with a value of the wrong type, in document order
}

// Error says what is wrong, naming the first field.
func (e *ShapeError) Error() string {
	if len(e.Fields) > 0 {
		return e.Message + ": " + e.Fields[0].Error()
	}
	return e.Message
}

// Bounds of an intake document. Item titles are capped at Jira's summary limit and descriptions
// leave room for the summary the connectors append within Jira's 32767 characters; labels fit
// GitHub's 50.
const (
	MaxIDLength          = 128
	MaxTitleLength       = 255
	MaxTextLength        = 1024 // postmortem title, owner, team, severity, url, type
	MaxDescriptionLength = 30000
	MaxLabelLength       = 50
	MaxActionItems       = 1000
)

// DecodeDocument decodes an intake body into a Document. Invalid UTF-8, malformed JSON and data
// after the first JSON value are ErrMalformed (wrapped); valid JSON that is not an object, or
// holds a value of the wrong type in a known field, is *ShapeError. Call Normalize and Validate
// on the result.
//
// Unknown fields are ignored rather than rejected: postmortem tools send extra keys, and the
// contract lets the document grow. They never reach the Document, hence neither its Hash nor
// storage, so a redelivery that differs only in unknown fields is "the same postmortem". Keys
// match without regard to case, as encoding/json does ("ID" fills id); the canonical form is
// what was understood, which is what "equal after parsing" asks.
func DecodeDocument(body []byte) (*Document, error) {
	raw, err := DecodeJSON(body)
	if err != nil {
		return nil, err
	}
	if raw[0] != '{' {
		return nil, &ShapeError{Message: "the body must be a JSON object"}
	}
	// Decoding succeeds only when every value fits its field (encoding/json checks every key,
	// duplicates and case variants too, before it reports the first misfit), which is what the
	// shape check finds: the shape check, which reads the body once per level, runs only to
	// name every misfit of a document that does not decode.
	var doc Document
	err = json.Unmarshal(raw, &doc)
	if err == nil {
		return &doc, nil
	}
	var fields []FieldError
	documentShape.check(raw, "", &fields)
	if len(fields) > 0 {
		return nil, &ShapeError{Message: "wrong type of value", Fields: fields}
	}
	// The shape check mirrors the Document type; this is a backstop.
	return nil, &ShapeError{Message: JSONMessage(err)}
}

// DecodeJSON reads body as exactly one JSON value, for request bodies: invalid UTF-8, an empty
// body, malformed JSON and data after the first value are ErrMalformed (wrapped, with the reason
// in words). The value returned is not empty and starts with its first character.
func DecodeJSON(body []byte) (json.RawMessage, error) {
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: the body is not valid UTF-8", ErrMalformed)
	}
	// One value with only JSON's white space around it: the common case, without a decoder.
	if json.Valid(body) {
		return bytes.Trim(body, " \t\r\n"), nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: the body is empty", ErrMalformed)
		}
		return nil, fmt.Errorf("%w: %s", ErrMalformed, JSONMessage(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: unexpected data after the JSON object", ErrMalformed)
	}
	return raw, nil
}

// JSONMessage is an encoding/json error in words, without the package prefix that users need
// not see.
func JSONMessage(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of JSON input"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// shape is the JSON type expected of one value of the document, so that a wrong type is
// reported with its exact path (encoding/json's errors name neither array indexes nor the field
// of a bad time) and every such problem at once.
type shape struct {
	kind   shapeKind
	fields []namedShape // objects, in document order
	elem   *shape       // arrays
}

type namedShape struct {
	name  string
	shape *shape
}

type shapeKind int

const (
	shapeString shapeKind = iota
	shapeInt
	shapeTime
	shapeObject
	shapeArray
)

var (
	str = &shape{kind: shapeString}
	tim = &shape{kind: shapeTime}

	documentShape = &shape{kind: shapeObject, fields: []namedShape{
		{"id", str}, {"title", str}, {"url", str}, {"status", str}, {"severity", str}, {"team", str},
		{"incident", &shape{kind: shapeObject, fields: []namedShape{
			{"id", str}, {"started_at", tim}, {"resolved_at", tim},
		}}},
		{"signed_off_by", &shape{kind: shapeArray, elem: str}},
		{"signed_off_at", tim},
		{"tracker", &shape{kind: shapeObject, fields: []namedShape{
			{"kind", str}, {"repo", str}, {"number", &shape{kind: shapeInt}}, {"key", str},
		}}},
		{"action_items", &shape{kind: shapeArray, elem: &shape{kind: shapeObject, fields: []namedShape{
			{"id", str}, {"title", str}, {"description", str}, {"owner", str}, {"priority", str},
			{"due", str}, {"type", str}, {"team", str},
			{"tracker", &shape{kind: shapeObject, fields: []namedShape{
				{"kind", str}, {"repo", str}, {"project", str}, {"issue_type", str},
			}}},
			{"labels", &shape{kind: shapeArray, elem: str}},
			{"ticket", str}, {"status", str},
		}}}},
	}}
)

// check appends a FieldError for every value in raw (valid JSON) that does not fit s. null fits
// everything: it leaves the Go zero value, and Validate decides whether that is acceptable.
func (s *shape) check(raw json.RawMessage, path string, errs *[]FieldError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return
	}
	bad := func(msg string) { *errs = append(*errs, FieldError{Field: path, Message: msg}) }
	switch s.kind {
	case shapeString:
		if raw[0] != '"' {
			bad("must be a string")
		}
	case shapeInt:
		if _, err := strconv.Atoi(string(raw)); err != nil {
			bad("must be an integer")
		}
	case shapeTime:
		var t time.Time
		if raw[0] != '"' || t.UnmarshalJSON(raw) != nil {
			bad("must be an RFC 3339 time such as 2026-11-22T10:00:00Z")
		}
	case shapeArray:
		var elems []json.RawMessage
		if raw[0] != '[' || json.Unmarshal(raw, &elems) != nil {
			bad("must be an array")
			return
		}
		for i, e := range elems {
			s.elem.check(e, fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case shapeObject:
		// Go maps keep the last of duplicate keys, as encoding/json does for struct fields.
		var obj map[string]json.RawMessage
		if raw[0] != '{' || json.Unmarshal(raw, &obj) != nil {
			bad("must be an object")
			return
		}
		keys := slices.Sorted(maps.Keys(obj))
		for _, f := range s.fields {
			p := f.name
			if path != "" {
				p = path + "." + f.name
			}
			for _, k := range keys {
				if strings.EqualFold(k, f.name) {
					f.shape.check(obj[k], p, errs)
				}
			}
		}
	}
}

// Normalize prepares a decoded document for Validate and storage: it trims the spaces around
// every string, converts times to UTC (a zero sign-off time, year 1, is none), gives items
// without a priority the default P2, lower-cases an owner that is an email (IsEmail), and
// rewrites each item's ticket reference that names a ticket of sites as that ticket's key (a
// reference that names none is left for Validate to report). Two documents that differ only
// in these ways hash the same afterwards: a ticket named by its URL or by its key is the same
// document, and so is an owner's email in any case (as Markdown reads it and the owner pages
// compare it), so that a postmortem sent as Markdown and as JSON is one document.
func (d *Document) Normalize(sites TicketSites) {
	d.ID = strings.TrimSpace(d.ID)
	d.Title = strings.TrimSpace(d.Title)
	d.URL = strings.TrimSpace(d.URL)
	d.Status = strings.TrimSpace(d.Status)
	d.Severity = strings.TrimSpace(d.Severity)
	d.Team = strings.TrimSpace(d.Team)
	for i := range d.SignedOffBy {
		d.SignedOffBy[i] = strings.TrimSpace(d.SignedOffBy[i])
	}
	d.SignedOffAt = utc(d.SignedOffAt)
	if d.SignedOffAt != nil && d.SignedOffAt.IsZero() {
		d.SignedOffAt = nil // year 1 is no sign-off: the store keeps a zero time as none
	}
	if d.Incident != nil {
		d.Incident.ID = strings.TrimSpace(d.Incident.ID)
		d.Incident.StartedAt = utc(d.Incident.StartedAt)
		d.Incident.ResolvedAt = utc(d.Incident.ResolvedAt)
		if *d.Incident == (Incident{}) {
			d.Incident = nil
		}
	}
	if d.Tracker != nil {
		d.Tracker.Kind = TrackerKind(strings.TrimSpace(string(d.Tracker.Kind)))
		d.Tracker.Repo = strings.TrimSpace(d.Tracker.Repo)
		d.Tracker.Key = strings.TrimSpace(d.Tracker.Key)
	}
	for i := range d.ActionItems {
		it := &d.ActionItems[i]
		it.ID = strings.TrimSpace(it.ID)
		it.Title = strings.TrimSpace(it.Title)
		it.Description = strings.TrimSpace(it.Description)
		it.Owner = strings.TrimSpace(it.Owner)
		if IsEmail(it.Owner) {
			it.Owner = strings.ToLower(it.Owner) // ASCII only: IsEmail takes no other letter
		}
		it.Priority = strings.TrimSpace(it.Priority)
		if it.Priority == "" {
			it.Priority = DefaultPriority
		}
		it.Due = strings.TrimSpace(it.Due)
		it.Type = strings.TrimSpace(it.Type)
		it.Team = strings.TrimSpace(it.Team)
		if it.Tracker != nil {
			it.Tracker.Kind = TrackerKind(strings.TrimSpace(string(it.Tracker.Kind)))
			it.Tracker.Repo = strings.TrimSpace(it.Tracker.Repo)
			it.Tracker.Project = strings.TrimSpace(it.Tracker.Project)
			it.Tracker.IssueType = strings.TrimSpace(it.Tracker.IssueType)
		}
		for j := range it.Labels {
			it.Labels[j] = strings.TrimSpace(it.Labels[j])
		}
		if len(it.Labels) == 0 {
			// An empty list and no list are the same document.
			it.Labels = nil
		}
		it.Ticket = strings.TrimSpace(it.Ticket)
		if ref, err := sites.ParseTicket(it.Ticket); it.Ticket != "" && err == nil {
			it.Ticket = ref.Key
		}
		it.Status = Status(strings.TrimSpace(string(it.Status)))
		if it.Status == StatusOpen || it.Status == StatusInProgress {
			// Unfinished at sign-off is what an item without a status is.
			it.Status = ""
		}
	}
}

// emailRE is an email address as the owner rule reads one: ASCII only.
var emailRE = regexp.MustCompile(`^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$`)

// IsEmail reports whether an owner is an email address, as the contract's owner rule reads
// one: anything else (an @login, a name, an address with letters beyond ASCII) is kept as
// written, and its ticket gets no assignee.
func IsEmail(owner string) bool { return emailRE.MatchString(owner) }

// StorableText reports whether s is text that both databases can store: valid UTF-8 without
// a NUL, which PostgreSQL's text cannot hold. Every stored id, owner, team and severity is
// (intake refuses anything else), so a value that is not matches nothing stored.
func StorableText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

var (
	idRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	// GitHub owners are letters, digits and hyphens; repository names add '.' and '_'.
	repoRE        = regexp.MustCompile(`^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$`)
	jiraProjectRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,254}$`)
	jiraKeyRE     = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,254}-[1-9][0-9]{0,17}$`)
)

// Validate returns every problem with the document, in field order; none means it can be
// accepted. Call Normalize first: Validate treats an empty priority as the default, and takes
// an item's ticket only as the key Normalize made of it.
//
// A document whose ActionItems is nil had no "action_items" (or null) and is invalid; an empty,
// non-nil slice is a postmortem without action items, which is allowed.
func (d *Document) Validate() []FieldError {
	v := &fieldErrors{}
	v.id("id", d.ID)
	v.text("title", d.Title, MaxTextLength, true)
	if d.URL != "" {
		v.url("url", d.URL)
	}
	switch d.Status {
	case "finalized":
	case "":
		v.add("status", `required: must be "finalized"`)
	default:
		v.add("status", fmt.Sprintf(`must be "finalized", not %q: only finalized postmortems are accepted`, truncate(d.Status)))
	}
	v.text("severity", d.Severity, MaxTextLength, false)
	v.text("team", d.Team, MaxTextLength, false)
	if d.Incident != nil {
		v.text("incident.id", d.Incident.ID, MaxTextLength, false)
		v.time("incident.started_at", d.Incident.StartedAt)
		v.time("incident.resolved_at", d.Incident.ResolvedAt)
	}
	if len(d.SignedOffBy) == 0 {
		v.add("signed_off_by", "required: at least one person must sign off")
	}
	for i, s := range d.SignedOffBy {
		v.text(fmt.Sprintf("signed_off_by[%d]", i), s, MaxTextLength, true)
	}
	v.time("signed_off_at", d.SignedOffAt)
	if d.Tracker != nil {
		v.ownTracker("tracker", d.Tracker)
	}
	switch {
	case d.ActionItems == nil:
		v.add("action_items", "required: an array, empty when there are no action items")
	case len(d.ActionItems) > MaxActionItems:
		v.add("action_items", fmt.Sprintf("at most %d action items", MaxActionItems))
	}
	seen := make(map[string]int, len(d.ActionItems))
	for i, it := range d.ActionItems {
		p := fmt.Sprintf("action_items[%d]", i)
		v.id(p+".id", it.ID)
		if first, dup := seen[it.ID]; dup && it.ID != "" {
			v.add(p+".id", fmt.Sprintf("duplicate: %q is also the id of action_items[%d]", it.ID, first))
		} else if it.ID != "" {
			seen[it.ID] = i
		}
		v.text(p+".title", it.Title, MaxTitleLength, true)
		v.text(p+".description", it.Description, MaxDescriptionLength, false)
		v.text(p+".owner", it.Owner, MaxTextLength, true)
		if it.Priority != "" && !slices.Contains(Priorities, it.Priority) {
			v.add(p+".priority", fmt.Sprintf("must be one of %s, not %q", strings.Join(Priorities, ", "), truncate(it.Priority)))
		}
		if it.Due != "" {
			if _, err := time.Parse(time.DateOnly, it.Due); err != nil {
				v.add(p+".due", fmt.Sprintf("must be a date as YYYY-MM-DD, not %q", truncate(it.Due)))
			}
		}
		v.text(p+".type", it.Type, MaxTextLength, false)
		v.text(p+".team", it.Team, MaxTextLength, false)
		if it.Tracker != nil {
			v.itemTracker(p+".tracker", it.Tracker)
		}
		for j, l := range it.Labels {
			v.text(fmt.Sprintf("%s.labels[%d]", p, j), l, MaxLabelLength, true)
		}
		if it.Ticket != "" {
			v.ticket(p+".ticket", it.Ticket)
		}
		if it.Status != "" && !it.Status.Finished() {
			v.add(p+".status", fmt.Sprintf(`must be "done" or "wont_do" (finished at sign-off), or "open" or left out, not %q`, truncate(string(it.Status))))
		}
	}
	return v.errs
}

type fieldErrors struct {
	errs []FieldError
}

func (v *fieldErrors) add(field, msg string) {
	v.errs = append(v.errs, FieldError{Field: field, Message: msg})
}

func (v *fieldErrors) id(field, s string) {
	switch {
	case s == "":
		v.add(field, "required")
	case !idRE.MatchString(s):
		v.add(field, fmt.Sprintf("must be 1 to %d characters of A-Z, a-z, 0-9, '.', '_' and '-'", MaxIDLength))
	}
}

func (v *fieldErrors) text(field, s string, max int, required bool) {
	switch {
	case s == "" && required:
		v.add(field, "required")
	case utf8.RuneCountInString(s) > max:
		v.add(field, fmt.Sprintf("at most %d characters", max))
	case strings.ContainsRune(s, 0):
		v.add(field, "must not contain NUL characters")
	}
}

// time rejects what JSON cannot carry back: years outside 1–9999 once in UTC.
func (v *fieldErrors) time(field string, t *time.Time) {
	if t != nil && (t.UTC().Year() < 1 || t.UTC().Year() > 9999) {
		v.add(field, "must be between the years 1 and 9999")
	}
}

func (v *fieldErrors) url(field, s string) {
	u, err := url.Parse(s)
	switch {
	case len(s) > MaxTextLength:
		v.add(field, fmt.Sprintf("at most %d characters", MaxTextLength))
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		v.add(field, "must be an absolute http or https URL")
	}
}

func (v *fieldErrors) itemTracker(p string, t *Target) {
	switch t.Kind {
	case GitHub:
		v.repo(p+".repo", t.Repo)
		if t.Project != "" {
			v.add(p+".project", "not allowed with kind github")
		}
		if t.IssueType != "" {
			v.add(p+".issue_type", "not allowed with kind github")
		}
	case Jira:
		switch {
		case t.Project == "":
			v.add(p+".project", "required with kind jira")
		case !jiraProjectRE.MatchString(t.Project):
			v.add(p+".project", "must be a Jira project key such as PAY (upper-case letters, digits, '_')")
		}
		if t.Repo != "" {
			v.add(p+".repo", "not allowed with kind jira")
		}
		v.text(p+".issue_type", t.IssueType, MaxTextLength, false)
	default:
		v.kind(p+".kind", t.Kind)
	}
}

func (v *fieldErrors) ownTracker(p string, t *OwnTicket) {
	switch t.Kind {
	case GitHub:
		v.repo(p+".repo", t.Repo)
		if t.Number <= 0 {
			v.add(p+".number", "required with kind github: the issue number, greater than 0")
		}
		if t.Key != "" {
			v.add(p+".key", "not allowed with kind github: use repo and number")
		}
	case Jira:
		switch {
		case t.Key == "":
			v.add(p+".key", "required with kind jira")
		case !jiraKeyRE.MatchString(t.Key):
			v.add(p+".key", "must be a Jira issue key such as PIR-12")
		}
		if t.Repo != "" {
			v.add(p+".repo", "not allowed with kind jira")
		}
		if t.Number != 0 {
			v.add(p+".number", "not allowed with kind jira")
		}
	default:
		v.kind(p+".kind", t.Kind)
	}
}

// ticket accepts only a ticket's key: Normalize has rewritten every reference that names a
// ticket of the configured trackers as its key, so anything else names none.
func (v *fieldErrors) ticket(field, ref string) {
	if githubKeyRE.MatchString(ref) || jiraKeyRE.MatchString(ref) {
		return
	}
	_, err := TicketSites{}.ParseTicket(ref)
	v.add(field, err.Error())
}

// kind reports a tracker kind that is neither github nor jira.
func (v *fieldErrors) kind(field string, k TrackerKind) {
	if k == "" {
		v.add(field, `required: "github" or "jira"`)
		return
	}
	v.add(field, fmt.Sprintf(`must be "github" or "jira", not %q`, truncate(string(k))))
}

func (v *fieldErrors) repo(field, s string) {
	switch {
	case s == "":
		v.add(field, `required with kind github: "owner/name"`)
	case !ValidRepo(s):
		v.add(field, `must be a GitHub repository as "owner/name"`)
	}
}

// ValidRepo reports whether s names a GitHub repository as "owner/name".
func ValidRepo(s string) bool { return repoRE.MatchString(s) }

// NearestField looks a field path up in m, else the nearest enclosing field that is there:
// "action_items[2].tracker.repo", then "action_items[2].tracker", "action_items[2]" and
// "action_items". It is how a problem of a field finds where the field is in a document.
func NearestField[T any](m map[string]T, field string) (T, bool) {
	for field != "" {
		if v, ok := m[field]; ok {
			return v, true
		}
		i := strings.LastIndexAny(field, ".[")
		if i < 0 {
			break
		}
		field = field[:i]
	}
	var zero T
	return zero, false
}

// truncate keeps echoed user values short in messages.
func truncate(s string) string {
	const max = 64
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max]) + "…"
}
