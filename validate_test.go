package followthrough

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

const validJSON = `{
  "id": "PM-2026-042",
  "title": "Checkout outage 2026-11-20",
  "url": "https://wiki.acme.com/pm/42",
  "status": "finalized",
  "severity": "SEV1",
  "team": "payments",
  "incident": { "id": "INC-981", "started_at": "2026-11-20T09:12:00Z", "resolved_at": "2026-11-20T11:40:00Z" },
  "signed_off_by": ["carol@acme.com"],
  "signed_off_at": "2026-11-22T10:00:00Z",
  "tracker": { "kind": "jira", "key": "PIR-12" },
  "action_items": [
    { "id": "AI-1", "title": "Add a circuit breaker to the tax client",
      "description": "...", "owner": "bob@acme.com", "priority": "P1", "due": "2026-12-15",
      "type": "prevent",
      "tracker": { "kind": "github", "repo": "acme/checkout" },
      "labels": ["reliability"] },
    { "id": "AI-2", "title": "Alert on tax latency", "owner": "dave@acme.com",
      "tracker": { "kind": "jira", "project": "PAY", "issue_type": "Story" } },
    { "id": "AI-3", "title": "Runbook", "owner": "erin@acme.com" }
  ]
}`

func decodeValid(t *testing.T) *Document {
	t.Helper()
	d, err := DecodeDocument([]byte(validJSON))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	d.Normalize(TicketSites{})
	return d
}

func fieldNames(errs []FieldError) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field)
	}
	return out
}

func TestValidateValid(t *testing.T) {
	d := decodeValid(t)
	if errs := d.Validate(); len(errs) != 0 {
		t.Fatalf("valid document has problems: %v", errs)
	}
	if d.ActionItems[1].Priority != "P2" || d.ActionItems[2].Priority != "P2" {
		t.Errorf("default priority not applied: %+v", d.ActionItems)
	}
}

func TestValidateRules(t *testing.T) {
	long := strings.Repeat("a", 129)
	tests := []struct {
		name   string
		mutate func(d *Document)
		fields []string // the exact fields with problems, in order
		msg    string   // a part of the first message, when it matters
	}{
		{"missing id", func(d *Document) { d.ID = "" }, []string{"id"}, "required"},
		{"id bad characters", func(d *Document) { d.ID = "PM 42" }, []string{"id"}, "A-Z"},
		{"id slash", func(d *Document) { d.ID = "PM/42" }, []string{"id"}, ""},
		{"id too long", func(d *Document) { d.ID = long }, []string{"id"}, "128"},
		{"id 128 ok", func(d *Document) { d.ID = long[:128] }, nil, ""},
		{"id one char ok", func(d *Document) { d.ID = "x" }, nil, ""},
		{"id unicode", func(d *Document) { d.ID = "PM-é" }, []string{"id"}, ""},
		{"missing title", func(d *Document) { d.Title = "" }, []string{"title"}, "required"},
		{"draft", func(d *Document) { d.Status = "draft" }, []string{"status"}, `"draft"`},
		{"missing status", func(d *Document) { d.Status = "" }, []string{"status"}, "required"},
		{"status case", func(d *Document) { d.Status = "Finalized" }, []string{"status"}, ""},
		{"relative url", func(d *Document) { d.URL = "/pm/42" }, []string{"url"}, "http"},
		{"ftp url", func(d *Document) { d.URL = "ftp://x/y" }, []string{"url"}, ""},
		{"no url ok", func(d *Document) { d.URL = "" }, nil, ""},
		{"unsigned nil", func(d *Document) { d.SignedOffBy = nil }, []string{"signed_off_by"}, "required"},
		{"unsigned empty", func(d *Document) { d.SignedOffBy = []string{} }, []string{"signed_off_by"}, ""},
		{"empty signer", func(d *Document) { d.SignedOffBy = []string{"a", ""} }, []string{"signed_off_by[1]"}, "required"},
		{"action_items missing", func(d *Document) { d.ActionItems = nil }, []string{"action_items"}, "required"},
		{"action_items empty ok", func(d *Document) { d.ActionItems = []ActionItem{} }, nil, ""},
		{"too many items", func(d *Document) {
			d.ActionItems = make([]ActionItem, MaxActionItems+1)
			for i := range d.ActionItems {
				d.ActionItems[i] = ActionItem{ID: fmt.Sprintf("AI-%d", i), Title: "t", Owner: "o"}
			}
		}, []string{"action_items"}, "at most"},
		{"item id missing", func(d *Document) { d.ActionItems[2].ID = "" }, []string{"action_items[2].id"}, "required"},
		{"item id bad", func(d *Document) { d.ActionItems[0].ID = "AI#1" }, []string{"action_items[0].id"}, ""},
		{"item id duplicate", func(d *Document) { d.ActionItems[2].ID = "AI-1" }, []string{"action_items[2].id"}, "action_items[0]"},
		{"item title missing", func(d *Document) { d.ActionItems[1].Title = "" }, []string{"action_items[1].title"}, "required"},
		{"item title too long", func(d *Document) { d.ActionItems[1].Title = strings.Repeat("é", 256) }, []string{"action_items[1].title"}, "255"},
		{"item title 255 ok", func(d *Document) { d.ActionItems[1].Title = strings.Repeat("é", 255) }, nil, ""},
		{"item owner missing", func(d *Document) { d.ActionItems[2].Owner = "" }, []string{"action_items[2].owner"}, "required"},
		{"priority P4", func(d *Document) { d.ActionItems[0].Priority = "P4" }, []string{"action_items[0].priority"}, "P0"},
		{"priority lower", func(d *Document) { d.ActionItems[0].Priority = "p1" }, []string{"action_items[0].priority"}, ""},
		{"priority empty ok", func(d *Document) { d.ActionItems[0].Priority = "" }, nil, ""},
		{"due not a date", func(d *Document) { d.ActionItems[0].Due = "next week" }, []string{"action_items[0].due"}, "YYYY-MM-DD"},
		{"due impossible day", func(d *Document) { d.ActionItems[0].Due = "2026-02-30" }, []string{"action_items[0].due"}, ""},
		{"due short", func(d *Document) { d.ActionItems[0].Due = "2026-2-3" }, []string{"action_items[0].due"}, ""},
		{"due with time", func(d *Document) { d.ActionItems[0].Due = "2026-12-15T00:00:00Z" }, []string{"action_items[0].due"}, ""},
		{"item tracker no kind", func(d *Document) { d.ActionItems[0].Tracker = &Target{Repo: "a/b"} }, []string{"action_items[0].tracker.kind"}, "required"},
		{"item tracker bad kind", func(d *Document) { d.ActionItems[0].Tracker = &Target{Kind: "gitlab"} }, []string{"action_items[0].tracker.kind"}, "gitlab"},
		{"github no repo", func(d *Document) { d.ActionItems[0].Tracker = &Target{Kind: GitHub} }, []string{"action_items[0].tracker.repo"}, "owner/name"},
		{"github bad repo", func(d *Document) { d.ActionItems[0].Tracker = &Target{Kind: GitHub, Repo: "checkout"} }, []string{"action_items[0].tracker.repo"}, ""},
		{"github repo three parts", func(d *Document) { d.ActionItems[0].Tracker = &Target{Kind: GitHub, Repo: "a/b/c"} }, []string{"action_items[0].tracker.repo"}, ""},
		{"github with project", func(d *Document) { d.ActionItems[0].Tracker = &Target{Kind: GitHub, Repo: "a/b", Project: "X"} }, []string{"action_items[0].tracker.project"}, ""},
		{"jira no project", func(d *Document) { d.ActionItems[1].Tracker = &Target{Kind: Jira} }, []string{"action_items[1].tracker.project"}, "required"},
		{"jira bad project", func(d *Document) { d.ActionItems[1].Tracker = &Target{Kind: Jira, Project: "pay-1"} }, []string{"action_items[1].tracker.project"}, ""},
		{"jira with repo", func(d *Document) { d.ActionItems[1].Tracker = &Target{Kind: Jira, Project: "PAY", Repo: "a/b"} }, []string{"action_items[1].tracker.repo"}, ""},
		{"jira no issue type ok", func(d *Document) { d.ActionItems[1].Tracker = &Target{Kind: Jira, Project: "PAY"} }, nil, ""},
		{"empty label", func(d *Document) { d.ActionItems[0].Labels = []string{"x", ""} }, []string{"action_items[0].labels[1]"}, "required"},
		{"long label", func(d *Document) { d.ActionItems[0].Labels = []string{strings.Repeat("l", 51)} }, []string{"action_items[0].labels[0]"}, "50"},
		{"own tracker no kind", func(d *Document) { d.Tracker = &OwnTicket{Key: "PIR-1"} }, []string{"tracker.kind"}, "required"},
		{"own github no number", func(d *Document) { d.Tracker = &OwnTicket{Kind: GitHub, Repo: "a/b"} }, []string{"tracker.number"}, "greater than 0"},
		{"own github negative number", func(d *Document) { d.Tracker = &OwnTicket{Kind: GitHub, Repo: "a/b", Number: -1} }, []string{"tracker.number"}, ""},
		{"own github ok", func(d *Document) { d.Tracker = &OwnTicket{Kind: GitHub, Repo: "a/b", Number: 7} }, nil, ""},
		{"own github no repo", func(d *Document) { d.Tracker = &OwnTicket{Kind: GitHub, Number: 7} }, []string{"tracker.repo"}, ""},
		{"own jira no key", func(d *Document) { d.Tracker = &OwnTicket{Kind: Jira} }, []string{"tracker.key"}, "required"},
		{"own jira bad key", func(d *Document) { d.Tracker = &OwnTicket{Kind: Jira, Key: "PIR12"} }, []string{"tracker.key"}, ""},
		{"own jira with number", func(d *Document) { d.Tracker = &OwnTicket{Kind: Jira, Key: "PIR-1", Number: 3} }, []string{"tracker.number"}, ""},
		{"time out of range", func(d *Document) {
			t := time.Date(0, 12, 31, 23, 0, 0, 0, time.UTC)
			d.SignedOffAt = &t
		}, []string{"signed_off_at"}, "9999"},
		{"NUL in title", func(d *Document) { d.Title = "a\x00b" }, []string{"title"}, "NUL"},
		{"every problem at once", func(d *Document) {
			d.ID, d.Status, d.SignedOffBy = "", "draft", nil
			d.ActionItems[0].Owner, d.ActionItems[1].Title, d.ActionItems[2].Due = "", "", "soon"
		}, []string{"id", "status", "signed_off_by", "action_items[0].owner", "action_items[1].title", "action_items[2].due"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decodeValid(t)
			tt.mutate(d)
			errs := d.Validate()
			if got := fieldNames(errs); !slices.Equal(got, tt.fields) {
				t.Fatalf("fields = %q, want %q (%v)", got, tt.fields, errs)
			}
			if tt.msg != "" && !strings.Contains(errs[0].Message, tt.msg) {
				t.Errorf("message %q does not mention %q", errs[0].Message, tt.msg)
			}
		})
	}
}

func TestDecodeDocument(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		malformed bool
		shape     []string // fields of a *ShapeError; non-nil with no entries: ShapeError without fields
		check     func(t *testing.T, d *Document)
	}{
		{name: "empty", body: "", malformed: true},
		{name: "spaces", body: "  \n", malformed: true},
		{name: "truncated", body: `{"id": "x"`, malformed: true},
		{name: "trailing object", body: `{} {}`, malformed: true},
		{name: "trailing garbage", body: `{"id":"x"}x`, malformed: true},
		{name: "trailing whitespace ok", body: "{\"action_items\": []}\n\t "},
		{name: "invalid utf-8", body: "{\"id\": \"\xff\"}", malformed: true},
		{name: "array", body: `[]`, shape: []string{}},
		{name: "string", body: `"x"`, shape: []string{}},
		{name: "id number", body: `{"id": 5}`, shape: []string{"id"}},
		{name: "item owner number", body: `{"action_items": [{"id": "a"}, {"owner": 1}]}`, shape: []string{"action_items[1].owner"}},
		{name: "labels not strings", body: `{"action_items": [{"labels": ["a", 2, {}]}]}`, shape: []string{"action_items[0].labels[1]", "action_items[0].labels[2]"}},
		{name: "signed_off_by string", body: `{"signed_off_by": "carol"}`, shape: []string{"signed_off_by"}},
		{name: "action_items object", body: `{"action_items": {}}`, shape: []string{"action_items"}},
		{name: "bad time", body: `{"signed_off_at": "yesterday"}`, shape: []string{"signed_off_at"}},
		{name: "time number", body: `{"incident": {"started_at": 5}}`, shape: []string{"incident.started_at"}},
		{name: "number fraction", body: `{"tracker": {"kind": "github", "number": 1.5}}`, shape: []string{"tracker.number"}},
		{name: "number huge", body: `{"tracker": {"number": 1e400}}`, shape: []string{"tracker.number"}},
		{name: "several", body: `{"id": 1, "title": [], "action_items": [{"tracker": "a/b"}]}`, shape: []string{"id", "title", "action_items[0].tracker"}},
		{name: "nulls fit", body: `{"id": null, "signed_off_by": null, "action_items": null, "tracker": null}`, check: func(t *testing.T, d *Document) {
			if d.ActionItems != nil || d.SignedOffBy != nil || d.Tracker != nil {
				t.Errorf("nulls decoded as %+v", d)
			}
		}},
		{name: "empty items kept apart from missing", body: `{"action_items": []}`, check: func(t *testing.T, d *Document) {
			if d.ActionItems == nil {
				t.Error("empty action_items decoded as nil")
			}
		}},
		{name: "unknown fields ignored", body: `{"id": "a", "extra": {"deep": [1, 2]}, "action_items": [{"id": "x", "weird": true}]}`, check: func(t *testing.T, d *Document) {
			if d.ID != "a" || d.ActionItems[0].ID != "x" {
				t.Errorf("decoded %+v", d)
			}
		}},
		{name: "keys ignore case", body: `{"ID": "a"}`, check: func(t *testing.T, d *Document) {
			if d.ID != "a" {
				t.Errorf("ID = %q", d.ID)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := DecodeDocument([]byte(tt.body))
			var se *ShapeError
			switch {
			case tt.malformed:
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
			case tt.shape != nil:
				if !errors.As(err, &se) {
					t.Fatalf("err = %v, want *ShapeError", err)
				}
				if got := fieldNames(se.Fields); !slices.Equal(got, tt.shape) && len(got)+len(tt.shape) > 0 {
					t.Fatalf("fields = %q, want %q", got, tt.shape)
				}
			default:
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if tt.check != nil {
					tt.check(t, d)
				}
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	body := `{"id": " PM-1 ", "title": " T ", "status": "finalized ", "signed_off_by": [" a "],
		"signed_off_at": "2026-11-22T11:00:00+01:00", "incident": {},
		"action_items": [{"id": "A", "title": "t", "owner": " o ", "labels": []}]}`
	d, err := DecodeDocument([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	d.Normalize(TicketSites{})
	if errs := d.Validate(); len(errs) != 0 {
		t.Fatalf("problems: %v", errs)
	}
	if d.ID != "PM-1" || d.Title != "T" || d.SignedOffBy[0] != "a" || d.ActionItems[0].Owner != "o" {
		t.Errorf("not trimmed: %+v", d)
	}
	if d.SignedOffAt.Location() != time.UTC || d.SignedOffAt.Hour() != 10 {
		t.Errorf("signed_off_at = %v, want 10:00 UTC", d.SignedOffAt)
	}
	if d.Incident != nil || d.ActionItems[0].Labels != nil {
		t.Errorf("empty incident or labels kept: %+v", d)
	}
	if d.ActionItems[0].Priority != DefaultPriority {
		t.Errorf("priority = %q", d.ActionItems[0].Priority)
	}

	// The same postmortem in other bytes: equal after parsing, so the same hash.
	other := `{"action_items":[{"owner":"o","priority":"P2","title":"t","id":"A"}],"signed_off_at":"2026-11-22T10:00:00Z",
		"signed_off_by":["a"],"status":"finalized","title":"T","id":"PM-1","unknown":1}`
	d2, err := DecodeDocument([]byte(other))
	if err != nil {
		t.Fatal(err)
	}
	d2.Normalize(TicketSites{})
	if d.Hash() != d2.Hash() {
		t.Error("equal documents hash differently")
	}
	d2.ActionItems[0].Owner = "p"
	if d.Hash() == d2.Hash() {
		t.Error("a changed owner hashes the same")
	}
}

// TestNormalizeOwnerEmail: an owner's email names the same person whatever the case of its
// ASCII letters (the owner pages compare them so), and Markdown intake lower-cases it; JSON
// intake does too, so that the two forms of one postmortem hash the same. Owners that are not
// emails are kept as written.
func TestNormalizeOwnerEmail(t *testing.T) {
	for owner, want := range map[string]string{
		" Bob@Acme.COM ":         "bob@acme.com",
		"bob@acme.com":           "bob@acme.com",
		"Bob.O'Neil@Acme.com":    "Bob.O'Neil@Acme.com", // not an email as the owner rule reads one
		"Élodie.Durand@Acme.com": "Élodie.Durand@Acme.com",
		"@Bob-GH":                "@Bob-GH",
		"Platform Team":          "Platform Team",
	} {
		d := decodeValid(t)
		d.ActionItems[0].Owner = owner
		d.Normalize(TicketSites{})
		if got := d.ActionItems[0].Owner; got != want {
			t.Errorf("owner %q normalized to %q, want %q", owner, got, want)
		}
	}
	upper, lower := decodeValid(t), decodeValid(t)
	upper.ActionItems[0].Owner, lower.ActionItems[0].Owner = "Bob@Acme.com", "bob@acme.com"
	upper.Normalize(TicketSites{})
	lower.Normalize(TicketSites{})
	if upper.Hash() != lower.Hash() {
		t.Error("owner emails that differ in case hash differently")
	}
}

// TestNormalizeZeroSignOff: a sign-off at year 1, which Validate lets through, is none after
// Normalize, as the store keeps it; so it hashes like a document without one.
func TestNormalizeZeroSignOff(t *testing.T) {
	zero, none := decodeValid(t), decodeValid(t)
	zero.SignedOffAt, none.SignedOffAt = &time.Time{}, nil
	zero.Normalize(TicketSites{})
	none.Normalize(TicketSites{})
	if zero.SignedOffAt != nil {
		t.Errorf("signed_off_at = %v, want none", zero.SignedOffAt)
	}
	if zero.Hash() != none.Hash() {
		t.Error("a zero sign-off hashes unlike none")
	}
}

// FuzzDecodeShapeAgrees checks what DecodeDocument's fast path relies on: a body that
// encoding/json decodes into a Document has no value the shape check would report.
func FuzzDecodeShapeAgrees(f *testing.F) {
	for _, seed := range []string{
		`{"id": "a", "ID": 1}`, `{"id": 1, "id": "x"}`, `{"Tracker": {"Number": 3}}`,
		`{"action_items": [{"id": "a", "labels": ["x"], "tracker": {"kind": "jira"}}]}`,
		`{"incident": {"started_at": "2026-11-22T10:00:00Z"}, "signed_off_at": null}`,
		`{"tracker": {"number": -0}}`, `{"action_items": [{"STATUS": "done", "Labels": null}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var doc Document
		if json.Unmarshal(body, &doc) != nil || len(body) == 0 || bytes.TrimSpace(body)[0] != '{' {
			return
		}
		var fields []FieldError
		documentShape.check(body, "", &fields)
		if len(fields) > 0 {
			t.Fatalf("%s decodes, but the shape check reports %v", body, fields)
		}
	})
}
