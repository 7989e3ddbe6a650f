package githubfake

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// get fetches a URL without any credentials.
func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(data)
}

func TestIssuePage(t *testing.T) {
	s := New(Options{ServeHTML: true})
	defer s.Close()
	if s.HTMLBase() != s.srv.URL {
		t.Fatalf("HTMLBase = %q, want the fake's own address %q", s.HTMLBase(), s.srv.URL)
	}
	code, _, body := call(t, s, "POST", "/repos/acme/x/issues",
		`{"title":"<script>x</script>","body":"line 1\n<b>line 2</b>","labels":["postmortem","a&b"],"assignees":["bob"]}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var issue struct {
		HTMLURL string `json:"html_url"`
	}
	if err := json.Unmarshal(body, &issue); err != nil {
		t.Fatal(err)
	}
	if want := s.srv.URL + "/acme/x/issues/1"; issue.HTMLURL != want {
		t.Fatalf("html_url = %q, want %q", issue.HTMLURL, want)
	}
	if code, _, body := call(t, s, "POST", "/repos/acme/x/issues/1/comments", `{"body":"looking <i>now</i>"}`); code != http.StatusCreated {
		t.Fatalf("comment: %d %s", code, body)
	}
	if err := s.CloseIssue("acme/x", 1, "not_planned", "alice"); err != nil {
		t.Fatal(err)
	}
	s.ResetCalls()

	code, hdr, page := get(t, issue.HTMLURL)
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("page = %d %q:\n%s", code, hdr.Get("Content-Type"), page)
	}
	for _, want := range []string{
		"&lt;script&gt;x&lt;/script&gt;", "acme/x", "closed", "not_planned", "postmortem", "a&amp;b", "bob",
		"line 1\n&lt;b&gt;line 2&lt;/b&gt;", DefaultLogin, "looking &lt;i&gt;now&lt;/i&gt;",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	for _, bad := range []string{"<script>x", "<b>line", "<i>now"} {
		if strings.Contains(page, bad) {
			t.Errorf("page has unescaped %q", bad)
		}
	}
	if n := len(s.CallLog()); n != 0 {
		t.Errorf("page view in the call log: %v", s.CallLog())
	}

	// Unknown issues and repositories are 404 pages; the API answers as before.
	for _, path := range []string{"/acme/x/issues/2", "/acme/nope/issues/1"} {
		if code, hdr, _ := get(t, s.srv.URL+path); code != http.StatusNotFound || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s = %d %q, want a 404 page", path, code, hdr.Get("Content-Type"))
		}
	}
	if code, _, _ := get(t, s.srv.URL+"/repos/acme/x/issues/1"); code != http.StatusUnauthorized {
		t.Errorf("API without a token = %d, want 401", code)
	}
	if code, hdr, _ := call(t, s, "GET", "/repos/acme/x/issues/1", ""); code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Errorf("API = %d %q", code, hdr.Get("Content-Type"))
	}
	// An owner named like a top-level API path has no page.
	if code, hdr, _ := get(t, s.srv.URL+"/search/x/issues/1"); code != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Errorf("GET /search/x/issues/1 = %d %q, want the API's 401", code, hdr.Get("Content-Type"))
	}
}

func TestIssuePageUnderPathPrefix(t *testing.T) {
	s := New(Options{ServeHTML: true, PathPrefix: "/api/v3"})
	defer s.Close()
	if _, err := s.CreateIssue("acme/x", NewIssue{Title: "Under a prefix"}); err != nil {
		t.Fatal(err)
	}
	if code, _, page := get(t, s.srv.URL+"/acme/x/issues/1"); code != http.StatusOK || !strings.Contains(page, "Under a prefix") {
		t.Errorf("page = %d:\n%s", code, page)
	}
	// Paths under the prefix are the API's, even when shaped like a page.
	if code, hdr, _ := get(t, s.srv.URL+"/api/v3/issues/1"); code != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Errorf("GET /api/v3/issues/1 = %d %q, want the API's 401", code, hdr.Get("Content-Type"))
	}
}

func TestIssuePageOff(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	if s.HTMLBase() != DefaultHTMLBase {
		t.Errorf("HTMLBase = %q, want %q", s.HTMLBase(), DefaultHTMLBase)
	}
	if _, err := s.CreateIssue("acme/x", NewIssue{Title: "No page"}); err != nil {
		t.Fatal(err)
	}
	code, hdr, body := call(t, s, "GET", "/acme/x/issues/1", "")
	if code != http.StatusNotFound || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Errorf("GET /acme/x/issues/1 = %d %q %s, want the API's 404", code, hdr.Get("Content-Type"), body)
	}
	if code, _, _ := get(t, s.srv.URL+"/acme/x/issues/1"); code != http.StatusUnauthorized {
		t.Errorf("without a token = %d, want the API's 401", code)
	}
}
