package githubfake

import (
	"encoding/json"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/followthrough/followthrough/internal/testclock"
)

type searchAnswer struct {
	Total      int  `json:"total_count"`
	Incomplete bool `json:"incomplete_results"`
	Items      []struct {
		Number int    `json:"number"`
		Title  string `json:"title"`
	} `json:"items"`
}

func search(t *testing.T, s *Server, q string, params ...string) (int, searchAnswer, string, []byte) {
	t.Helper()
	v := url.Values{"q": {q}}
	for i := 0; i+1 < len(params); i += 2 {
		v.Set(params[i], params[i+1])
	}
	code, hdr, body := call(t, s, "GET", "/search/issues?"+v.Encode(), "")
	var ans searchAnswer
	if code == 200 {
		if err := json.Unmarshal(body, &ans); err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
	}
	return code, ans, hdr.Get("Link"), body
}

func titles(a searchAnswer) string {
	var out []string
	for _, it := range a.Items {
		out = append(out, it.Title)
	}
	return strings.Join(out, ",")
}

// TestSearchShapeMatchesGitHub: the answer and its items carry every field of the real answer.
func TestSearchShapeMatchesGitHub(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	_, _ = s.CreateIssue("acme/x", NewIssue{Title: "one", Body: "open sesame", Labels: []string{"postmortem"}, Assignees: []string{"bob"}})
	code, hdr, body := call(t, s, "GET", "/search/issues?q="+url.QueryEscape("sesame repo:acme/x"), "")
	if code != 200 {
		t.Fatalf("search: %d %s", code, body)
	}
	if hdr.Get("X-RateLimit-Resource") != "search" || hdr.Get("X-RateLimit-Limit") != "30" || hdr.Get("X-RateLimit-Remaining") != "29" {
		t.Errorf("rate-limit headers: %v", hdr)
	}
	fixture, err := os.ReadFile("testdata/search-issues.200.response.json")
	if err != nil {
		t.Fatal(err)
	}
	for k := range keysOf(t, fixture) {
		if !keysOf(t, body)[k] {
			t.Errorf("answer lacks field %q", k)
		}
	}
	var want, got struct{ Items []json.RawMessage }
	_ = json.Unmarshal(fixture, &want)
	_ = json.Unmarshal(body, &got)
	if len(got.Items) != 1 {
		t.Fatalf("items: %s", body)
	}
	have := keysOf(t, got.Items[0])
	for k := range keysOf(t, want.Items[0]) {
		if !have[k] {
			t.Errorf("item lacks field %q", k)
		}
	}
	if n := s.Calls("GET", "/search/issues"); n != 1 {
		t.Errorf("search calls = %d", n)
	}
}

// TestSearchQualifiers: repo:, in:body, is:issue and a quoted phrase, matched as GitHub would
// (case-insensitive, within the body only, issues only, this repository only).
func TestSearchQualifiers(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	for _, in := range []NewIssue{
		{Title: "exact", Body: "x\n\n<!-- followthrough:PM-1/AI-1 -->"},
		{Title: "longer", Body: "<!-- FOLLOWTHROUGH:pm-1/ai-10 -->"},
		{Title: "followthrough:PM-1/AI-1 in title", Body: "nothing"},
		{Title: "pr", Body: "<!-- followthrough:PM-1/AI-1 -->", PullRequest: true},
		{Title: "split", Body: "followthrough:PM-1 and AI-1"},
	} {
		_, _ = s.CreateIssue("acme/x", in)
	}
	_, _ = s.CreateIssue("acme/other", NewIssue{Title: "elsewhere", Body: "<!-- followthrough:PM-1/AI-1 -->"})
	_, _ = s.CreateIssue("acme/x", NewIssue{Title: "deleted", Body: "<!-- followthrough:PM-1/AI-1 -->"})
	if err := s.DeleteIssue("acme/x", 6); err != nil {
		t.Fatal(err)
	}

	code, ans, _, body := search(t, s, `"followthrough:PM-1/AI-1" repo:acme/x in:body is:issue`)
	if code != 200 || ans.Total != 2 || titles(ans) != "longer,exact" || ans.Incomplete {
		t.Errorf("in:body is:issue: %d %+v %s", code, ans, body)
	}
	// Without in: the title counts too; without is:issue pull requests do.
	if _, ans, _, _ := search(t, s, `"followthrough:PM-1/AI-1" repo:acme/x`); ans.Total != 4 {
		t.Errorf("no in:, no is: %+v", ans)
	}
	// Bare words each match on their own.
	if _, ans, _, _ := search(t, s, `followthrough AI-1 repo:acme/x in:body is:issue`); ans.Total != 3 {
		t.Errorf("bare words: %+v", ans)
	}
	if _, ans, _, _ := search(t, s, `"followthrough:PM-1/AI-1" repo:acme/x repo:acme/other is:issue`); ans.Total != 4 {
		t.Errorf("two repos: %+v", ans)
	}
	if _, ans, _, _ := search(t, s, `"followthrough:PM-1/AI-1" repo:acme/x is:pr author:octocat is:open`); ans.Total != 1 || titles(ans) != "pr" {
		t.Errorf("is:pr: %+v", ans)
	}
}

// TestSearchRejectsWhatItCannotRun: a query the fake cannot honour in full is 422, never a
// search that silently ignores part of it.
func TestSearchRejectsWhatItCannotRun(t *testing.T) {
	s := New(Options{Repos: []string{"acme/x"}})
	defer s.Close()
	for _, q := range []string{
		`"followthrough:PM-1/AI-1" in:body`,   // no repo:
		`followthrough:PM-1/AI-1 repo:acme/x`, // an unquoted marker reads as a qualifier
		`"x" repo:acme/x label:postmortem`,    // unsupported qualifier
		`"x" repo:acme/x in:comments`,         // unsupported in:
		`"x" repo:acme/x is:locked`,           // unsupported is:
		`"x" repo:acme/x -label:bug`,          // exclusion
		`"x" OR "y" repo:acme/x`,              // operator
		`"x repo:acme/x`,                      // open quote
		`"x" repo:acme/nope`,                  // a repository that does not exist
		`"x" repo:acme`,                       // not owner/name
	} {
		code, _, _, body := search(t, s, q)
		if code != 422 || !strings.Contains(string(body), "Validation Failed") {
			t.Errorf("%s: %d %s", q, code, body)
		}
	}
	if code, _, body := call(t, s, "GET", "/search/issues", ""); code != 422 || !strings.Contains(string(body), `"missing"`) {
		t.Errorf("no q: %d %s", code, body)
	}
	if code, _, _, body := search(t, s, `"x" repo:acme/x`, "sort", "stars"); code != 422 {
		t.Errorf("sort=stars: %d %s", code, body)
	}
	if code, _, _, body := search(t, s, `"x" repo:acme/x`, "page", "11", "per_page", "100"); code != 422 || !strings.Contains(string(body), "first 1000") {
		t.Errorf("beyond 1000: %d %s", code, body)
	}
}

// TestSearchPagingAndSort: Link headers as on list calls, newest first by default.
func TestSearchPagingAndSort(t *testing.T) {
	clock := testclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := New(Options{Now: clock.Now, PathPrefix: "/api/v3"})
	defer s.Close()
	for _, title := range []string{"a", "b", "c", "d", "e"} {
		_, _ = s.CreateIssue("acme/x", NewIssue{Title: title, Body: "needle"})
		clock.Advance(time.Second)
	}
	get := func(params ...string) (searchAnswer, string) {
		t.Helper()
		v := url.Values{"q": {"needle repo:acme/x"}}
		for i := 0; i+1 < len(params); i += 2 {
			v.Set(params[i], params[i+1])
		}
		code, hdr, body := call(t, s, "GET", "/api/v3/search/issues?"+v.Encode(), "")
		var ans searchAnswer
		if code != 200 || json.Unmarshal(body, &ans) != nil {
			t.Fatalf("search: %d %s", code, body)
		}
		return ans, hdr.Get("Link")
	}
	ans, link := get("per_page", "2")
	if ans.Total != 5 || titles(ans) != "e,d" {
		t.Errorf("page 1: %+v", ans)
	}
	if !strings.Contains(link, `rel="next"`) || !strings.Contains(link, "page=3") || !strings.Contains(link, "/api/v3/search/issues?") {
		t.Errorf("Link = %s", link)
	}
	ans, link = get("per_page", "2", "page", "3")
	if titles(ans) != "a" || strings.Contains(link, `rel="next"`) || !strings.Contains(link, `rel="prev"`) {
		t.Errorf("page 3: %+v %s", ans, link)
	}
	if ans, _ := get("sort", "created", "order", "asc", "per_page", "2"); titles(ans) != "a,b" {
		t.Errorf("created asc: %+v", ans)
	}
}

// TestSearchLag: GitHub's index lags behind new issues; so does the fake's, by its clock.
func TestSearchLag(t *testing.T) {
	clock := testclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := New(Options{Now: clock.Now, SearchLag: 30 * time.Second})
	defer s.Close()
	_, _ = s.CreateIssue("acme/x", NewIssue{Title: "old", Body: "needle"})
	clock.Advance(30 * time.Second)
	_, _ = s.CreateIssue("acme/x", NewIssue{Title: "new", Body: "needle"})
	if _, ans, _, _ := search(t, s, "needle repo:acme/x"); titles(ans) != "old" || ans.Total != 1 {
		t.Errorf("with the lag: %+v", ans)
	}
	// The listing has no lag.
	if _, _, body := call(t, s, "GET", "/repos/acme/x/issues", ""); !strings.Contains(string(body), `"title":"new"`) {
		t.Errorf("list lacks the new issue")
	}
	clock.Advance(29 * time.Second)
	if _, ans, _, _ := search(t, s, "needle repo:acme/x"); ans.Total != 1 {
		t.Errorf("just before the lag ends: %+v", ans)
	}
	clock.Advance(time.Second)
	if _, ans, _, _ := search(t, s, "needle repo:acme/x"); ans.Total != 2 {
		t.Errorf("after the lag: %+v", ans)
	}
	_, _ = s.CreateIssue("acme/x", NewIssue{Title: "newest", Body: "needle"})
	s.SetSearchLag(0)
	if _, ans, _, _ := search(t, s, "needle repo:acme/x"); ans.Total != 3 {
		t.Errorf("without a lag: %+v", ans)
	}
}

// TestSearchRateLimit: search has its own per-minute budget, apart from the core one.
func TestSearchRateLimit(t *testing.T) {
	s := New(Options{SearchRateLimit: 2})
	defer s.Close()
	search(t, s, "x repo:acme/x")
	search(t, s, "x repo:acme/x")
	code, hdr, body := call(t, s, "GET", "/search/issues?q="+url.QueryEscape("x repo:acme/x"), "")
	if code != 403 || hdr.Get("X-RateLimit-Remaining") != "0" || hdr.Get("X-RateLimit-Resource") != "search" || !strings.Contains(string(body), "rate limit exceeded") {
		t.Errorf("over the limit: %d %v %s", code, hdr, body)
	}
	reset := hdr.Get("X-RateLimit-Reset")
	if reset == "" {
		t.Errorf("no reset")
	}
	if code, hdr, _ := call(t, s, "GET", "/user", ""); code != 200 || hdr.Get("X-RateLimit-Resource") != "core" || hdr.Get("X-RateLimit-Remaining") != "4999" {
		t.Errorf("core after search ran out: %d %v", code, hdr)
	}
	// A rate-limit fault on search speaks of search's budget.
	s.InjectFault(Fault{PathPrefix: "/search/", PrimaryRateLimit: true})
	if code, hdr, _ := call(t, s, "GET", "/search/issues?q=x", ""); code != 403 || hdr.Get("X-RateLimit-Resource") != "search" || hdr.Get("X-RateLimit-Limit") != "2" {
		t.Errorf("fault: %d %v", code, hdr)
	}
	if n := s.Calls("GET", "/search/issues"); n != 4 {
		t.Errorf("search calls = %d, want 4", n)
	}
}
