package githubfake

import (
	"net/http"
	"strings"
	"testing"
)

// TestReadOnlyRepository answers every write to its issues with GitHub's 403 and reads as
// usual, until it is made writable again.
func TestReadOnlyRepository(t *testing.T) {
	s := New(Options{ReadOnlyRepos: []string{"Acme/Legacy"}})
	t.Cleanup(s.Close)
	if _, err := s.CreateIssue("acme/legacy", NewIssue{Title: "Theirs"}); err != nil {
		t.Fatal(err)
	}
	writes := []struct{ method, path, body string }{
		{"POST", "/repos/acme/legacy/issues", `{"title": "t"}`},
		{"PATCH", "/repos/acme/legacy/issues/1", `{"assignees": ["bob"]}`},
		{"POST", "/repos/acme/legacy/issues/1/labels", `{"labels": ["postmortem"]}`},
		{"POST", "/repos/acme/legacy/issues/1/comments", `{"body": "hi"}`},
		{"DELETE", "/repos/acme/legacy/issues/1/labels/bug", ""},
	}
	for _, w := range writes {
		status, _, body := call(t, s, w.method, w.path, w.body)
		if status != http.StatusForbidden || !strings.Contains(string(body), "Resource not accessible by personal access token") {
			t.Errorf("%s %s = %d %s; want 403 in GitHub's words", w.method, w.path, status, body)
		}
	}
	if status, _, _ := call(t, s, "GET", "/repos/acme/legacy/issues/1", ""); status != http.StatusOK {
		t.Errorf("GET = %d; want reads to work", status)
	}
	s.SetReadOnly("acme/legacy", false)
	if status, _, body := call(t, s, "POST", "/repos/acme/legacy/issues/1/labels", `{"labels": ["postmortem"]}`); status != http.StatusOK {
		t.Errorf("label after SetReadOnly(false) = %d %s", status, body)
	}
}
