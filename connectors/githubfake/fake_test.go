package githubfake

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// call makes one API request with the default token and returns status, headers and body.
func call(t *testing.T, s *Server, method, path, body string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+DefaultToken)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

func keysOf(t *testing.T, data []byte) map[string]bool {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

// TestShapesMatchGitHub checks that the fake's issue, user and label objects carry every field
// of the real answers in testdata.
func TestShapesMatchGitHub(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	code, hdr, body := call(t, s, "POST", "/repos/acme/x/issues", `{"title":"Issue","labels":["postmortem"],"assignees":["bob"]}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	if hdr.Get("Location") == "" || hdr.Get("X-RateLimit-Limit") != "5000" || hdr.Get("X-RateLimit-Remaining") != "4999" {
		t.Errorf("headers: %v", hdr)
	}
	fixture, err := os.ReadFile("testdata/create-issue.201.response.json")
	if err != nil {
		t.Fatal(err)
	}
	got := keysOf(t, body)
	for k := range keysOf(t, fixture) {
		if !got[k] {
			t.Errorf("issue lacks field %q", k)
		}
	}
	var issue struct {
		User   json.RawMessage   `json:"user"`
		Labels []json.RawMessage `json:"labels"`
		HTML   string            `json:"html_url"`
	}
	_ = json.Unmarshal(body, &issue)
	var fx struct {
		User json.RawMessage `json:"user"`
	}
	_ = json.Unmarshal(fixture, &fx)
	gotUser := keysOf(t, issue.User)
	for k := range keysOf(t, fx.User) {
		if !gotUser[k] {
			t.Errorf("user lacks field %q", k)
		}
	}
	labelsFx, _ := os.ReadFile("testdata/add-labels.200.response.json")
	var lf []json.RawMessage
	_ = json.Unmarshal(labelsFx, &lf)
	gotLabel := keysOf(t, issue.Labels[0])
	for k := range keysOf(t, lf[0]) {
		if !gotLabel[k] {
			t.Errorf("label lacks field %q", k)
		}
	}
	if issue.HTML != "https://github.example/acme/x/issues/1" {
		t.Errorf("html_url = %q", issue.HTML)
	}
}

func TestAuthRequired(t *testing.T) {
	s := New(Options{Tokens: map[string]string{"good": "alice"}})
	defer s.Close()
	for _, auth := range []string{"", "token bad", "Bearer nope"} {
		req, _ := http.NewRequest("GET", s.URL()+"user", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(string(data), "Bad credentials") {
			t.Errorf("%q: %d %s", auth, resp.StatusCode, data)
		}
	}
	req, _ := http.NewRequest("GET", s.URL()+"user", nil)
	req.Header.Set("Authorization", "Bearer good")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var u struct{ Login string }
	_ = json.NewDecoder(resp.Body).Decode(&u)
	resp.Body.Close()
	if u.Login != "alice" {
		t.Errorf("login = %q", u.Login)
	}
}

func TestListPaginationETagAndFilters(t *testing.T) {
	s := New(Options{PathPrefix: "/api/v3"})
	defer s.Close()
	if !strings.HasSuffix(s.URL(), "/api/v3/") {
		t.Fatalf("URL = %s", s.URL())
	}
	for i := range 5 {
		labels := []string{"postmortem"}
		if i == 4 {
			labels = nil
		}
		if _, err := s.CreateIssue("acme/x", NewIssue{Title: "t" + strconv.Itoa(i), Labels: labels}); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = s.CreateIssue("acme/x", NewIssue{Title: "pr", Labels: []string{"postmortem"}, PullRequest: true})
	code, hdr, body := call(t, s, "GET", "/api/v3/repos/acme/x/issues?labels=postmortem&state=all&per_page=2", "")
	if code != 200 {
		t.Fatalf("list: %d %s", code, body)
	}
	var page []struct{ Number int }
	_ = json.Unmarshal(body, &page)
	if len(page) != 2 || page[0].Number != 6 {
		t.Errorf("page 1 = %+v", page)
	}
	link := hdr.Get("Link")
	if !strings.Contains(link, `page=2&per_page=2&state=all>; rel="next"`) || !strings.Contains(link, `page=3&per_page=2&state=all>; rel="last"`) || !strings.Contains(link, "/api/v3/repos/acme/x/issues") {
		t.Errorf("Link = %s", link)
	}
	etag := hdr.Get("ETag")
	code, hdr2, body := call(t, s, "GET", "/api/v3/repos/acme/x/issues?labels=postmortem&state=all&per_page=2", "", "If-None-Match", etag)
	if code != 304 || len(body) != 0 {
		t.Errorf("conditional: %d %s", code, body)
	}
	if hdr2.Get("X-RateLimit-Remaining") != hdr.Get("X-RateLimit-Remaining") {
		t.Errorf("304 spent rate limit: %s -> %s", hdr.Get("X-RateLimit-Remaining"), hdr2.Get("X-RateLimit-Remaining"))
	}
	if n := s.NotModifiedCalls("GET", "/repos/acme/x/issues"); n != 1 {
		t.Errorf("304 count = %d", n)
	}
	if n := s.Calls("GET", "/repos/acme/x/issues"); n != 2 {
		t.Errorf("call count = %d", n)
	}
	if err := s.CloseIssue("acme/x", 6, "not_planned", "carol"); err != nil {
		t.Fatal(err)
	}
	code, _, _ = call(t, s, "GET", "/api/v3/repos/acme/x/issues?labels=postmortem&state=all&per_page=2", "", "If-None-Match", etag)
	if code != 200 {
		t.Errorf("after a change: %d, want 200", code)
	}
	// The default state is open; the closed one drops out.
	_, _, body = call(t, s, "GET", "/api/v3/repos/acme/x/issues?labels=postmortem", "")
	_ = json.Unmarshal(body, &page)
	if len(page) != 4 {
		t.Errorf("open postmortem issues = %d, want 4", len(page))
	}
	// Unprefixed paths are not the API.
	code, _, _ = call(t, s, "GET", "/repos/acme/x/issues", "")
	if code != 404 {
		t.Errorf("unprefixed: %d", code)
	}
}

func TestIssueLifecycle(t *testing.T) {
	s := New(Options{Repos: []string{"acme/x"}})
	defer s.Close()
	code, _, body := call(t, s, "POST", "/repos/other/y/issues", `{"title":"x"}`)
	if code != 404 {
		t.Errorf("unknown repo: %d %s", code, body)
	}
	code, _, body = call(t, s, "POST", "/repos/acme/x/issues", `{"body":"no title"}`)
	if code != 422 || !strings.Contains(string(body), "missing_field") {
		t.Errorf("no title: %d %s", code, body)
	}
	code, _, body = call(t, s, "POST", "/repos/acme/x/issues", `{"title":"x","assignees":["not a login"]}`)
	if code != 422 || !strings.Contains(string(body), "assignees") {
		t.Errorf("bad assignee: %d %s", code, body)
	}
	call(t, s, "POST", "/repos/acme/x/issues", `{"title":"x","labels":["postmortem"]}`)
	for path, resource := range map[string]string{"/repos/acme/x/issues": `"Issue"`, "/repos/acme/x/issues/1/comments": `"IssueComment"`} {
		code, _, body = call(t, s, "GET", path+"?since=yesterday", "")
		if code != 422 || !strings.Contains(string(body), resource) || !strings.Contains(string(body), `"since"`) {
			t.Errorf("GET %s with a bad since: %d %s", path, code, body)
		}
	}
	code, _, body = call(t, s, "PATCH", "/repos/acme/x/issues/1", `{"state":"closed","state_reason":"not_planned"}`)
	if code != 200 || !strings.Contains(string(body), `"state_reason":"not_planned"`) || !strings.Contains(string(body), `"closed_by":{`) {
		t.Errorf("close: %d %s", code, body)
	}
	code, _, body = call(t, s, "PATCH", "/repos/acme/x/issues/1", `{"state":"open"}`)
	if code != 200 || !strings.Contains(string(body), `"state_reason":"reopened"`) || !strings.Contains(string(body), `"closed_at":null`) {
		t.Errorf("reopen: %d %s", code, body)
	}
	code, _, body = call(t, s, "POST", "/repos/acme/x/issues/1/labels", `{"labels":["in progress"]}`)
	if code != 200 || !strings.Contains(string(body), `"in progress"`) {
		t.Errorf("add label: %d %s", code, body)
	}
	// A bare array is not in GitHub's description of adding labels: 422, as GitHub answers.
	code, _, body = call(t, s, "POST", "/repos/acme/x/issues/1/labels", `["stalled"]`)
	if code != 422 || !strings.Contains(string(body), "is not an object") {
		t.Errorf("add labels as a bare array: %d %s", code, body)
	}
	if is, _ := s.Issue("acme/x", 1); slices.Contains(is.Labels, "stalled") {
		t.Errorf("a refused label was added: %v", is.Labels)
	}
	code, _, _ = call(t, s, "DELETE", "/repos/acme/x/issues/1/labels/in%20progress", "")
	if code != 200 {
		t.Errorf("remove label: %d", code)
	}
	code, _, body = call(t, s, "DELETE", "/repos/acme/x/issues/1/labels/in%20progress", "")
	if code != 404 || !strings.Contains(string(body), "Label does not exist") {
		t.Errorf("remove absent label: %d %s", code, body)
	}
	code, _, body = call(t, s, "POST", "/repos/acme/x/issues/1/comments", `{"body":"hi"}`)
	if code != 201 || !strings.Contains(string(body), `"login":"followthrough-bot"`) {
		t.Errorf("comment: %d %s", code, body)
	}
	if is, _ := s.Issue("acme/x", 1); len(is.Comments) != 1 || is.Comments[0].Body != "hi" {
		t.Errorf("comments = %+v", is.Comments)
	}
	if err := s.DeleteIssue("acme/x", 1); err != nil {
		t.Fatal(err)
	}
	code, _, _ = call(t, s, "GET", "/repos/acme/x/issues/1", "")
	if code != 410 {
		t.Errorf("deleted: %d", code)
	}
	code, _, _ = call(t, s, "GET", "/repos/acme/x/issues/7", "")
	if code != 404 {
		t.Errorf("missing: %d", code)
	}
}

func TestPeopleActionsMoveUpdatedAt(t *testing.T) {
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tick := func() { mu.Lock(); now = now.Add(time.Minute); mu.Unlock() }
	s := New(Options{Now: clock})
	defer s.Close()
	is, _ := s.CreateIssue("acme/x", NewIssue{Title: "a"})
	for _, act := range []func() error{
		func() error { return s.CloseIssue("acme/x", is.Number, "duplicate", "carol") },
		func() error { return s.ReopenIssue("acme/x", is.Number) },
		func() error { return s.AddLabel("acme/x", is.Number, "in progress") },
		func() error { return s.RemoveLabel("acme/x", is.Number, "in progress") },
		func() error { return s.AddComment("acme/x", is.Number, "carol", "done yet?") },
		func() error { return s.Assign("acme/x", is.Number, "carol") },
		func() error { return s.EditIssue("acme/x", is.Number, "b", "") },
	} {
		before, _ := s.Issue("acme/x", is.Number)
		tick()
		if err := act(); err != nil {
			t.Fatal(err)
		}
		after, _ := s.Issue("acme/x", is.Number)
		if !after.UpdatedAt.After(before.UpdatedAt) {
			t.Errorf("updated_at did not move: %v -> %v", before.UpdatedAt, after.UpdatedAt)
		}
	}
	got, _ := s.Issue("acme/x", is.Number)
	if got.Title != "b" || got.State != "open" || got.StateReason != "reopened" || len(got.Assignees) != 1 {
		t.Errorf("issue = %+v", got)
	}
}

func TestFaults(t *testing.T) {
	s := New(Options{})
	defer s.Close()

	s.FailNextMatching(2, "GET", "/user", 502)
	for i := range 2 {
		if code, _, _ := call(t, s, "GET", "/user", ""); code != 502 {
			t.Errorf("call %d: %d", i, code)
		}
	}
	if code, _, _ := call(t, s, "GET", "/user", ""); code != 200 {
		t.Errorf("after the fault: %d", code)
	}

	s.SecondaryRateLimitNext(403, 42*time.Second)
	code, hdr, body := call(t, s, "GET", "/user", "")
	if code != 403 || hdr.Get("Retry-After") != "42" || !strings.Contains(string(body), "secondary rate limit") {
		t.Errorf("secondary: %d %v %s", code, hdr, body)
	}
	s.InjectFault(Fault{Status: 429, RetryAfter: 3 * time.Second})
	if code, hdr, _ := call(t, s, "GET", "/user", ""); code != 429 || hdr.Get("Retry-After") != "3" {
		t.Errorf("429: %d %v", code, hdr)
	}
	s.InjectFault(Fault{PrimaryRateLimit: true})
	if code, hdr, _ := call(t, s, "GET", "/user", ""); code != 403 || hdr.Get("X-RateLimit-Remaining") != "0" || hdr.Get("X-RateLimit-Reset") == "" {
		t.Errorf("primary: %d %v", code, hdr)
	}

	// Latency: the client gives up; the server does not hang on to it.
	s.SetLatency(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL()+"user", nil)
	req.Header.Set("Authorization", "token "+DefaultToken)
	_, err := http.DefaultClient.Do(req)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("latency: %v", err)
	}
	s.ClearFaults()

	// A lost response: the issue exists, the client got no answer.
	s.LoseNextResponse("POST", "/repos/acme/x/issues")
	req, _ = http.NewRequest("POST", s.URL()+"repos/acme/x/issues", strings.NewReader(`{"title":"lost"}`))
	req.Header.Set("Authorization", "token "+DefaultToken)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("lost response answered %d", resp.StatusCode)
	}
	if list := s.Issues("acme/x"); len(list) != 1 || list[0].Title != "lost" {
		t.Errorf("issues after lost response = %+v", list)
	}
	var lost int
	for _, c := range s.CallLog() {
		if c.Lost {
			lost++
		}
	}
	if lost != 1 {
		t.Errorf("lost calls = %d", lost)
	}
}

func TestRateLimitExhausted(t *testing.T) {
	s := New(Options{RateLimit: 2})
	defer s.Close()
	call(t, s, "GET", "/user", "")
	call(t, s, "GET", "/user", "")
	code, hdr, body := call(t, s, "GET", "/user", "")
	if code != 403 || hdr.Get("X-RateLimit-Remaining") != "0" || !strings.Contains(string(body), "rate limit exceeded") {
		t.Errorf("over the limit: %d %v %s", code, hdr, body)
	}
}

func TestAppTokens(t *testing.T) {
	pemKey, pub, err := GenerateAppKey()
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{App: &App{ID: 42, Slug: "followthrough", InstallationID: 7, PublicKey: pub}})
	defer s.Close()
	key, err := jwt.ParseRSAPrivateKeyFromPEM(pemKey)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(iss string) string {
		now := time.Now()
		tok, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
			Issuer: iss, IssuedAt: jwt.NewNumericDate(now.Add(-30 * time.Second)), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
		}).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	do := func(method, path, auth string) (int, []byte) {
		req, _ := http.NewRequest(method, s.URL()+path, nil)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, data
	}
	if code, _ := do("GET", "app", "Bearer "+sign("43")); code != 401 {
		t.Errorf("wrong issuer: %d", code)
	}
	code, body := do("GET", "app", "Bearer "+sign("42"))
	if code != 200 || !strings.Contains(string(body), `"slug":"followthrough"`) {
		t.Errorf("GET /app: %d %s", code, body)
	}
	code, body = do("POST", "app/installations/7/access_tokens", "Bearer "+sign("42"))
	if code != 201 {
		t.Fatalf("access token: %d %s", code, body)
	}
	// The request's body is optional, and an object when there is one (GitHub's description).
	for body, want := range map[string]int{"{}": 201, `{"repositories":["x"]}`: 201, "null": 422, `["x"]`: 422, "{": 400} {
		req, _ := http.NewRequest("POST", s.URL()+"app/installations/7/access_tokens", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+sign("42"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("access token with body %s: %d, want %d", body, resp.StatusCode, want)
		}
	}
	var tok struct{ Token string }
	_ = json.Unmarshal(body, &tok)
	if code, _ := do("GET", "repos/acme/x/issues", "token "+tok.Token); code != 200 {
		t.Errorf("installation token: %d", code)
	}
	if code, _ := do("GET", "user", "token "+tok.Token); code != 403 {
		t.Errorf("GET /user as an installation: %d", code)
	}
	if code, _ := do("GET", "repos/acme/x/issues", "token "+DefaultToken); code != 401 {
		t.Errorf("default token with an App configured: %d", code)
	}
}

// TestListComments: an issue's comments, oldest first, by page with GitHub's Link header.
func TestListComments(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	is, err := s.CreateIssue("acme/x", NewIssue{Title: "t", User: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := s.AddComment("acme/x", is.Number, "carol", "c"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	path := "/repos/acme/x/issues/" + strconv.Itoa(is.Number) + "/comments"
	code, hdr, body := call(t, s, "GET", path+"?per_page=2", "")
	var list []struct {
		ID   int64
		Body string
		User struct{ Login string }
	}
	if err := json.Unmarshal(body, &list); err != nil || code != 200 || len(list) != 2 || list[0].Body != "c0" || list[0].User.Login != "carol" {
		t.Fatalf("page 1: %d %s", code, body)
	}
	if link := hdr.Get("Link"); !strings.Contains(link, `?page=2&per_page=2>; rel="next"`) || !strings.Contains(link, `?page=3&per_page=2>; rel="last"`) {
		t.Errorf("Link = %s", link)
	}
	code, _, body = call(t, s, "GET", path+"?per_page=2&page=3", "")
	if err := json.Unmarshal(body, &list); err != nil || code != 200 || len(list) != 1 || list[0].Body != "c4" {
		t.Errorf("page 3: %d %s", code, body)
	}
	var raw []map[string]any
	if err := json.Unmarshal(body, &raw); err != nil || len(raw) != 1 {
		t.Fatalf("page 3: %s", body)
	}
	for _, k := range []string{"id", "node_id", "url", "html_url", "issue_url", "body", "user", "created_at", "updated_at", "author_association", "reactions"} {
		if _, ok := raw[0][k]; !ok {
			t.Errorf("comment has no %s: %v", k, raw[0])
		}
	}
}
