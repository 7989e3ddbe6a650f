package load

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	ft "github.com/followthrough/followthrough"
)

// Jira webhook bodies are built from these Jira Cloud deliveries of
// ../shared/fixtures/jira-webhooks (byte copies; see SOURCES.md there): the "resolved" delivery
// is the template; the other two lend their To Do and In Progress status objects.
var (
	//go:embed payloads/webhook-issue-updated-resolved.json
	jiraResolvedFixture []byte
	//go:embed payloads/webhook-issue-updated-started-working.json
	jiraStartedFixture []byte
	//go:embed payloads/webhook-issue-updated-reopened.json
	jiraReopenedFixture []byte
)

// JiraTimeFormat is how Jira writes times in webhook bodies.
const JiraTimeFormat = "2006-01-02T15:04:05.000-0700"

// JiraEventIssueUpdated is the webhookEvent of an issue change.
const JiraEventIssueUpdated = "jira:issue_updated"

// JiraIssueEvent is one jira:issue_updated delivery about an issue.
type JiraIssueEvent struct {
	Key       string // "PROJ-N"
	Prev      ft.Status
	Status    ft.Status
	UpdatedAt time.Time
	Summary   string
}

// JiraPayloads builds Jira webhook bodies in the fixtures' shape.
type JiraPayloads struct {
	tmpl       *jsonTemplate
	base       string                  // the fixtures' site
	status     map[ft.Status][]byte    // fields.status
	resolution map[ft.Status][]byte    // fields.resolution
	statusRef  map[ft.Status][2]string // status id and name, for the changelog
}

// fixtureIssue is the part of a Jira fixture read to take its status and resolution objects.
type fixtureIssue struct {
	Issue struct {
		Self   string `json:"self"`
		Fields struct {
			Status     json.RawMessage `json:"status"`
			Resolution json.RawMessage `json:"resolution"`
		} `json:"fields"`
	} `json:"issue"`
}

// NewJiraPayloads reads the embedded fixtures.
func NewJiraPayloads() (*JiraPayloads, error) {
	read := func(name string, raw []byte) (fixtureIssue, error) {
		var f fixtureIssue
		if err := json.Unmarshal(raw, &f); err != nil || len(f.Issue.Fields.Status) == 0 {
			return f, fmt.Errorf("jira fixture %s: no issue status: %v", name, err)
		}
		return f, nil
	}
	resolved, err := read("resolved", jiraResolvedFixture)
	if err != nil {
		return nil, err
	}
	started, err := read("started-working", jiraStartedFixture)
	if err != nil {
		return nil, err
	}
	reopened, err := read("reopened", jiraReopenedFixture)
	if err != nil {
		return nil, err
	}
	base, _, ok := strings.Cut(resolved.Issue.Self, "/rest/")
	if !ok {
		return nil, fmt.Errorf("jira fixture: issue self %q has no /rest/", resolved.Issue.Self)
	}
	var done map[string]any
	if err := json.Unmarshal(resolved.Issue.Fields.Resolution, &done); err != nil {
		return nil, fmt.Errorf("jira fixture: resolution: %w", err)
	}
	// A won't-do resolution in the shape of the fixture's Done (Jira Cloud's default scheme has
	// "Won't Do" with id 10001).
	wontDo := map[string]any{}
	for k, v := range done {
		wontDo[k] = v
	}
	wontDo["id"], wontDo["name"] = "10001", "Won't Do"
	wontDo["description"] = "This issue won't be actioned."
	wontDo["self"] = base + "/rest/api/2/resolution/10001"
	wontDoJSON, err := json.Marshal(wontDo)
	if err != nil {
		return nil, err
	}
	p := &JiraPayloads{
		base: base,
		status: map[ft.Status][]byte{
			ft.StatusOpen: reopened.Issue.Fields.Status, ft.StatusInProgress: started.Issue.Fields.Status,
			ft.StatusDone: resolved.Issue.Fields.Status, ft.StatusWontDo: resolved.Issue.Fields.Status,
		},
		resolution: map[ft.Status][]byte{
			ft.StatusOpen: []byte("null"), ft.StatusInProgress: []byte("null"),
			ft.StatusDone: resolved.Issue.Fields.Resolution, ft.StatusWontDo: wontDoJSON,
		},
		statusRef: map[ft.Status][2]string{},
	}
	for s, raw := range p.status {
		var st struct{ ID, Name string }
		if err := json.Unmarshal(raw, &st); err != nil {
			return nil, fmt.Errorf("jira fixture: status: %w", err)
		}
		p.statusRef[s] = [2]string{st.ID, st.Name}
	}
	var doc map[string]any
	if err := json.Unmarshal(jiraResolvedFixture, &doc); err != nil {
		return nil, fmt.Errorf("jira fixture: %w", err)
	}
	if err := setPaths(doc, map[string]any{
		"timestamp": slot("timestamp"), "webhookEvent": JiraEventIssueUpdated,
		"issue.id": slot("id"), "issue.self": slot("self"), "issue.key": slot("key"),
		"issue.fields.status": slot("status"), "issue.fields.resolution": slot("resolution"),
		"issue.fields.resolutiondate": slot("resolutiondate"), "issue.fields.updated": slot("updated"),
		"issue.fields.project.key": slot("project"), "issue.fields.summary": slot("summary"),
		"changelog": slot("changelog"),
	}); err != nil {
		return nil, err
	}
	if p.tmpl, err = compileTemplate(doc); err != nil {
		return nil, err
	}
	return p, nil
}

// IssueUpdated is the body of a jira:issue_updated delivery for e: the issue's status (and
// resolution) as e.Status, with a changelog from e.Prev, updated at e.UpdatedAt.
func (p *JiraPayloads) IssueUpdated(e JiraIssueEvent) ([]byte, error) {
	i := strings.LastIndexByte(e.Key, '-')
	if i <= 0 {
		return nil, fmt.Errorf("jira payload: %q is not a PROJ-N key", e.Key)
	}
	num, err := strconv.Atoi(e.Key[i+1:])
	if err != nil {
		return nil, fmt.Errorf("jira payload: %q is not a PROJ-N key", e.Key)
	}
	id := strconv.Itoa(10000 + num)
	updated := jsonText(e.UpdatedAt.Format(JiraTimeFormat))
	resolutionDate := []byte("null")
	if e.Status.Finished() {
		resolutionDate = updated
	}
	v := map[string][]byte{
		"timestamp": []byte(strconv.FormatInt(e.UpdatedAt.UnixMilli(), 10)),
		"id":        jsonText(id), "self": jsonText(p.base + "/rest/api/2/issue/" + id), "key": jsonText(e.Key),
		"status": p.status[e.Status], "resolution": p.resolution[e.Status],
		"resolutiondate": resolutionDate, "updated": updated,
		"project": jsonText(e.Key[:i]), "summary": jsonText(e.Summary),
		"changelog": p.changelog(e.Prev, e.Status, e.UpdatedAt),
	}
	if v["status"] == nil {
		return nil, fmt.Errorf("jira payload: unknown status %q", e.Status)
	}
	return p.tmpl.render(nil, v), nil
}

// changelog is the changelog of a status change, with the resolution's change when it has one.
func (p *JiraPayloads) changelog(prev, next ft.Status, at time.Time) []byte {
	type item struct {
		Field      string  `json:"field"`
		FieldType  string  `json:"fieldtype"`
		FieldID    string  `json:"fieldId"`
		From       *string `json:"from"`
		FromString *string `json:"fromString"`
		To         *string `json:"to"`
		ToString   *string `json:"toString"`
	}
	resName := func(s ft.Status) *string {
		switch s {
		case ft.StatusDone:
			n := "Done"
			return &n
		case ft.StatusWontDo:
			n := "Won't Do"
			return &n
		}
		return nil
	}
	var items []item
	if r0, r1 := resName(prev), resName(next); (r0 == nil) != (r1 == nil) || (r0 != nil && *r0 != *r1) {
		items = append(items, item{Field: "resolution", FieldType: "jira", FieldID: "resolution", FromString: r0, ToString: r1})
	}
	from, to := p.statusRef[prev], p.statusRef[next]
	items = append(items, item{Field: "status", FieldType: "jira", FieldID: "status",
		From: &from[0], FromString: &from[1], To: &to[0], ToString: &to[1]})
	b, _ := json.Marshal(map[string]any{"id": strconv.FormatInt(at.UnixMilli()%1000000, 10), "items": items})
	return b
}
