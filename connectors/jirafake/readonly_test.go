package jirafake

import (
	"net/http"
	"testing"
)

// TestPeoplesIssuesAndReadOnlyProjects: CreateIssue makes an issue as a person would; in a
// read-only project every write is refused as Jira refuses a user without the permission,
// while reads work.
func TestPeoplesIssuesAndReadOnlyProjects(t *testing.T) {
	c := newClient(t, Options{ReadOnlyProjects: []string{"ops"}})
	is := c.s.CreateIssue(NewIssue{Project: "OPS", Summary: "Theirs", Labels: []string{"infra"}})
	if is.Key != "OPS-1" || is.Status != "To Do" || is.Reporter == "ft-bot-account" {
		t.Fatalf("created %+v; want OPS-1 in To Do, reported by someone else", is)
	}
	path := "/rest/api/2/issue/OPS-1"
	for _, w := range []struct {
		method, path string
		body         any
		status       int
		field        string // the field named, for an edit
	}{
		{"PUT", path, map[string]any{"update": map[string]any{"labels": []any{map[string]string{"add": "postmortem"}}}}, http.StatusBadRequest, "labels"},
		{"PUT", path, map[string]any{"fields": map[string]any{"assignee": map[string]string{"accountId": "x"}}}, http.StatusBadRequest, "assignee"},
		{"POST", path + "/comment", map[string]string{"body": "hi"}, http.StatusBadRequest, ""},
		{"POST", path + "/transitions", map[string]any{"transition": map[string]string{"id": "21"}}, http.StatusBadRequest, ""},
		{"POST", path + "/remotelink", map[string]any{"object": map[string]string{"url": "https://x", "title": "x"}}, http.StatusForbidden, ""},
	} {
		var e jiraErr
		if status := c.do(w.method, w.path, w.body, &e); status != w.status || (w.field != "" && e.Errors[w.field] == "") ||
			(w.field == "" && len(e.ErrorMessages) == 0) {
			t.Errorf("%s %s = %d %+v; want %d in Jira's words", w.method, w.path, status, e, w.status)
		}
	}
	if status := c.do("GET", path, nil, nil); status != http.StatusOK {
		t.Errorf("GET = %d; want reads to work", status)
	}
	c.s.SetReadOnly("OPS", false)
	if status := c.do("POST", path+"/comment", map[string]string{"body": "hi"}, nil); status != http.StatusCreated {
		t.Errorf("comment after SetReadOnly(false) = %d", status)
	}
	if got, _ := c.s.Issue("OPS-1"); len(got.Labels) != 1 || len(got.Comments) != 1 {
		t.Errorf("issue = %+v; want only the comment made once writable", got)
	}
}
