package jirafake

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

type client struct {
	t    *testing.T
	s    *Server
	auth func(*http.Request)
}

func newClient(t *testing.T, opts Options) *client {
	s := New(opts)
	t.Cleanup(s.Close)
	c := &client{t: t, s: s}
	if s.Mode() == Cloud {
		c.auth = func(r *http.Request) { r.SetBasicAuth("bot@example.com", "cloud-token") }
	} else {
		c.auth = func(r *http.Request) { r.Header.Set("Authorization", "Bearer dc-pat") }
	}
	return c
}

// do makes a request and decodes a JSON answer into out (when not nil).
func (c *client) do(method, path string, body any, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, c.s.URL()+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if c.auth != nil {
		c.auth(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

type jiraErr struct {
	ErrorMessages []string          `json:"errorMessages"`
	Errors        map[string]string `json:"errors"`
}

func (c *client) create(project, summary string) string {
	c.t.Helper()
	var out struct{ ID, Key, Self string }
	code := c.do("POST", "/rest/api/2/issue", map[string]any{"fields": map[string]any{
		"project": map[string]string{"key": project}, "issuetype": map[string]string{"name": "Task"},
		"summary": summary, "description": "line 1\nline 2\n\nfollowthrough:PM-1/AI-1", "labels": []string{"postmortem", "pm-pm-1"},
	}}, &out)
	if code != 201 || out.ID == "" || out.Key == "" || !strings.HasSuffix(out.Self, "/rest/api/2/issue/"+out.ID) {
		c.t.Fatalf("create: %d %+v", code, out)
	}
	return out.Key
}

func TestAuth(t *testing.T) {
	for _, mode := range []Mode{Cloud, DataCenter} {
		c := newClient(t, Options{Mode: mode})
		if code := c.do("GET", "/rest/api/2/myself", nil, nil); code != 200 {
			t.Errorf("%s: good credentials: %d", mode, code)
		}
		for name, auth := range map[string]func(*http.Request){
			"none":        func(*http.Request) {},
			"wrong basic": func(r *http.Request) { r.SetBasicAuth("bot@example.com", "nope") },
			"wrong kind": func(r *http.Request) {
				if mode == Cloud {
					r.Header.Set("Authorization", "Bearer cloud-token")
				} else {
					r.SetBasicAuth("bot@example.com", "dc-pat")
				}
			},
		} {
			c.auth = auth
			var e jiraErr
			if code := c.do("GET", "/rest/api/2/myself", nil, &e); code != 401 || len(e.ErrorMessages) == 0 {
				t.Errorf("%s %s: %d %+v", mode, name, code, e)
			}
		}
	}
}

func TestIssueShape(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)
	c := newClient(t, Options{Now: func() time.Time { return now }, Self: User{AccountID: "me", TimeZone: "Europe/Berlin"}})
	key := c.create("PAY", "First")
	var is map[string]any
	if code := c.do("GET", "/rest/api/2/issue/"+key, nil, &is); code != 200 {
		t.Fatalf("get: %d", code)
	}
	f := is["fields"].(map[string]any)
	st := f["status"].(map[string]any)
	if st["name"] != "To Do" || st["statusCategory"].(map[string]any)["key"] != "new" || f["resolution"] != nil {
		t.Errorf("status %v resolution %v", st, f["resolution"])
	}
	if f["created"] != "2026-11-23T10:30:00.000+0100" || f["updated"] != "2026-11-23T10:30:00.000+0100" {
		t.Errorf("times %v %v", f["created"], f["updated"])
	}
	if f["description"] != "line 1\nline 2\n\nfollowthrough:PM-1/AI-1" || f["priority"].(map[string]any)["name"] != "Medium" || f["duedate"] != nil {
		t.Errorf("fields %v", f)
	}
	var e jiraErr
	if code := c.do("GET", "/rest/api/2/issue/PAY-99", nil, &e); code != 404 || len(e.ErrorMessages) != 1 {
		t.Errorf("missing issue: %d %+v", code, e)
	}
	if code := c.do("POST", "/rest/api/2/issue", map[string]any{"fields": map[string]any{
		"project": map[string]string{"key": "PAY"}, "issuetype": map[string]string{"name": "Nope"},
		"labels": []string{"two words"}, "duedate": "15/12/2026", "priority": map[string]string{"name": "P1"},
	}}, &e); code != 400 || len(e.Errors) != 5 {
		t.Errorf("bad create: %d %+v", code, e)
	}
}

func TestTransitionsAndResolutionScreen(t *testing.T) {
	wf := TwoStepWorkflow()
	c := newClient(t, Options{Mode: DataCenter, Workflow: &wf})
	key := c.create("PAY", "x")
	type list struct {
		Transitions []struct {
			ID     string         `json:"id"`
			To     map[string]any `json:"to"`
			Fields map[string]any `json:"fields"`
		} `json:"transitions"`
	}
	var l list
	c.do("GET", "/rest/api/2/issue/"+key+"/transitions", nil, &l)
	if len(l.Transitions) != 1 || l.Transitions[0].To["name"] != "In Progress" || l.Transitions[0].Fields != nil {
		t.Fatalf("from To Do: %+v", l)
	}
	var e jiraErr
	if code := c.do("POST", "/rest/api/2/issue/"+key+"/transitions", map[string]any{"transition": map[string]string{"id": "21"}}, &e); code != 400 {
		t.Errorf("a transition not offered: %d", code)
	}
	if code := c.do("POST", "/rest/api/2/issue/"+key+"/transitions", map[string]any{"transition": map[string]string{"id": "11"}}, nil); code != 204 {
		t.Errorf("start progress: %d", code)
	}
	l = list{}
	c.do("GET", "/rest/api/2/issue/"+key+"/transitions?expand=transitions.fields", nil, &l)
	var resolve map[string]any
	for _, tr := range l.Transitions {
		if tr.ID == "21" {
			resolve = tr.Fields
		}
	}
	if res, ok := resolve["resolution"].(map[string]any); !ok || res["required"] != true || len(res["allowedValues"].([]any)) == 0 {
		t.Fatalf("resolve screen: %+v", resolve)
	}
	e = jiraErr{}
	if code := c.do("POST", "/rest/api/2/issue/"+key+"/transitions", map[string]any{"transition": map[string]string{"id": "21"}}, &e); code != 400 || len(e.ErrorMessages) == 0 {
		t.Errorf("resolve without resolution: %d %+v", code, e)
	}
	if code := c.do("POST", "/rest/api/2/issue/"+key+"/transitions", map[string]any{"transition": map[string]string{"id": "21"},
		"fields": map[string]any{"resolution": map[string]string{"name": "Won't Fix"}}}, nil); code != 204 {
		t.Errorf("resolve: %d", code)
	}
	if is, _ := c.s.Issue(key); is.Status != "Done" || is.Resolution != "Won't Fix" {
		t.Errorf("issue %+v", is)
	}
	// A resolution on a screen without the field is refused, as Jira does.
	if code := c.do("POST", "/rest/api/2/issue/"+key+"/transitions", map[string]any{"transition": map[string]string{"id": "41"},
		"fields": map[string]any{"resolution": map[string]string{"name": "Done"}}}, nil); code != 400 {
		t.Errorf("resolution off screen: %d", code)
	}
}

// TestIssueExpandTransitions: GET issue with expand=transitions carries the transitions
// offered from its status, as Atlassian's description of the expand says ("Returns all
// possible transitions for the issue"); transitions.fields adds their screens' fields; without
// the expand there are none.
func TestIssueExpandTransitions(t *testing.T) {
	wf := TwoStepWorkflow()
	c := newClient(t, Options{Mode: Cloud, Workflow: &wf})
	key := c.create("PAY", "x")
	if code := c.do("POST", "/rest/api/2/issue/"+key+"/transitions", map[string]any{"transition": map[string]string{"id": "11"}}, nil); code != 204 {
		t.Fatalf("start progress: %d", code)
	}
	type issue struct {
		Key    string         `json:"key"`
		Fields map[string]any `json:"fields"`
		// Absent unless expanded.
		Transitions *[]struct {
			ID     string          `json:"id"`
			To     map[string]any  `json:"to"`
			Fields *map[string]any `json:"fields"`
		} `json:"transitions"`
	}
	tests := []struct {
		query       string
		transitions bool
		fields      bool
	}{
		{"", false, false},
		{"?expand=transitions", true, false},
		{"?expand=transitions.fields", true, true},
		{"?fields=summary,status&expand=names," + url.QueryEscape("transitions,transitions.fields"), true, true},
		{"?expand=changelog", false, false},
	}
	for _, tt := range tests {
		var is issue
		if code := c.do("GET", "/rest/api/2/issue/"+key+tt.query, nil, &is); code != 200 || is.Key != key || is.Fields["status"] == nil {
			t.Fatalf("%q: %d %+v", tt.query, code, is)
		}
		if (is.Transitions != nil) != tt.transitions {
			t.Errorf("%q: transitions present = %v, want %v", tt.query, is.Transitions != nil, tt.transitions)
			continue
		}
		if !tt.transitions {
			continue
		}
		byID := map[string]bool{}
		for _, tr := range *is.Transitions {
			byID[tr.ID] = true
			if (tr.Fields != nil) != tt.fields {
				t.Errorf("%q: transition %s fields present = %v, want %v", tt.query, tr.ID, tr.Fields != nil, tt.fields)
			}
			if tt.fields && tr.ID == "21" {
				if res, ok := (*tr.Fields)["resolution"].(map[string]any); !ok || res["required"] != true {
					t.Errorf("%q: resolve screen %+v", tt.query, *tr.Fields)
				}
			}
		}
		// The same transitions as GET .../transitions offers from In Progress.
		var l struct {
			Transitions []struct {
				ID string `json:"id"`
			} `json:"transitions"`
		}
		c.do("GET", "/rest/api/2/issue/"+key+"/transitions", nil, &l)
		if len(l.Transitions) != len(byID) {
			t.Errorf("%q: %d transitions, GET transitions offers %d", tt.query, len(byID), len(l.Transitions))
		}
		for _, tr := range l.Transitions {
			if !byID[tr.ID] {
				t.Errorf("%q: transition %s missing", tt.query, tr.ID)
			}
		}
	}
}

func TestSearch(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	c := newClient(t, Options{Now: clock, SearchLag: time.Minute, PageSize: 2, Projects: []string{"PAY"}})
	for i := range 3 {
		c.create("PAY", "issue")
		if i == 0 {
			advance(10 * time.Minute)
		}
	}
	type page struct {
		Issues []struct {
			Key    string         `json:"key"`
			Fields map[string]any `json:"fields"`
		} `json:"issues"`
		NextPageToken string `json:"nextPageToken"`
		IsLast        bool   `json:"isLast"`
	}
	q := func(jql string, extra string) string {
		return "/rest/api/3/search/jql?jql=" + url.QueryEscape(jql) + extra
	}
	var p page
	c.do("GET", q(`project = PAY AND labels = "pm-pm-1"`, "&fields=summary,description"), nil, &p)
	if len(p.Issues) != 1 || !p.IsLast {
		t.Fatalf("during the lag: %+v", p)
	}
	desc := p.Issues[0].Fields["description"].(map[string]any)
	if desc["type"] != "doc" {
		t.Errorf("v3 description is not a document: %v", desc)
	}
	advance(time.Minute)
	p = page{}
	c.do("GET", q(`project = "PAY" AND labels = "postmortem" ORDER BY updated DESC`, ""), nil, &p)
	if len(p.Issues) != 2 || p.IsLast || p.NextPageToken == "" || p.Issues[0].Key != "PAY-3" || len(p.Issues[0].Fields) != 0 {
		t.Fatalf("page 1: %+v", p)
	}
	tok := p.NextPageToken
	p = page{}
	c.do("GET", q(`project = "PAY" AND labels = "postmortem" ORDER BY updated DESC`, "&nextPageToken="+tok), nil, &p)
	if len(p.Issues) != 1 || !p.IsLast || p.Issues[0].Key != "PAY-1" {
		t.Fatalf("page 2: %+v", p)
	}
	// updated >= with minute precision, in the user's zone (UTC here).
	p = page{}
	c.do("GET", q(`project = PAY AND updated >= "2026/11/23 09:40"`, ""), nil, &p)
	if len(p.Issues) != 2 {
		t.Errorf("updated >=: %+v", p)
	}
	for _, bad := range []string{`status = Done`, `project = PAY OR labels = x`, `project = PAY ORDER BY priority`, `project = NOPE`, `updated >= "yesterday"`, `project in (PAY)`} {
		var e jiraErr
		if code := c.do("GET", q(bad, ""), nil, &e); code != 400 || len(e.ErrorMessages) == 0 {
			t.Errorf("%s: %d %+v", bad, code, e)
		}
	}
	for _, gone := range []string{"/rest/api/2/search", "/rest/api/3/search"} {
		if code := c.do("GET", gone+"?jql=project%3DPAY", nil, nil); code != 410 {
			t.Errorf("%s on Cloud: %d", gone, code)
		}
	}
}

func TestSearchDataCenter(t *testing.T) {
	c := newClient(t, Options{Mode: DataCenter, PageSize: 2})
	for range 3 {
		c.create("OPS", "x")
	}
	var p struct {
		StartAt, MaxResults, Total int
		Issues                     []struct {
			Key    string         `json:"key"`
			Fields map[string]any `json:"fields"`
		}
	}
	c.do("GET", "/rest/api/2/search?jql="+url.QueryEscape(`project = OPS`)+"&startAt=2&maxResults=100", nil, &p)
	if p.Total != 3 || p.StartAt != 2 || p.MaxResults != 2 || len(p.Issues) != 1 || p.Issues[0].Key != "OPS-1" {
		t.Errorf("%+v", p)
	}
	if p.Issues[0].Fields["description"] != "line 1\nline 2\n\nfollowthrough:PM-1/AI-1" {
		t.Errorf("v2 description: %v", p.Issues[0].Fields["description"])
	}
	if code := c.do("GET", "/rest/api/3/search/jql?jql=x", nil, nil); code != 404 {
		t.Errorf("search/jql on Data Center: %d", code)
	}
}

func TestFaultsAndPeople(t *testing.T) {
	c := newClient(t, Options{})
	key := c.create("PAY", "x")
	c.s.FailNext(2, 502, "GET", "/rest/api/2/issue/")
	for range 2 {
		if code := c.do("GET", "/rest/api/2/issue/"+key, nil, nil); code != 502 {
			t.Errorf("fault: %d", code)
		}
	}
	if code := c.do("GET", "/rest/api/2/issue/"+key, nil, nil); code != 200 {
		t.Errorf("after the fault: %d", code)
	}
	c.s.RateLimit(1, 3*time.Second)
	req, _ := http.NewRequest("GET", c.s.URL()+"/rest/api/2/myself", nil)
	c.auth(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
		t.Errorf("429: %v %v", resp, err)
	}
	resp.Body.Close()
	c.s.LoseNextResponse("POST", "/rest/api/2/issue")
	req, _ = http.NewRequest("POST", c.s.URL()+"/rest/api/2/issue", strings.NewReader(`{"fields":{"project":{"key":"PAY"},"issuetype":{"name":"Task"},"summary":"lost"}}`))
	c.auth(req)
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Error("lost response answered")
	}
	if n := len(c.s.Issues("PAY")); n != 2 {
		t.Errorf("%d issues after a lost create", n)
	}
	if n := c.s.Calls("POST", "/rest/api/2/issue"); n != 2 {
		t.Errorf("%d creates counted", n)
	}
	if err := c.s.Transition(key, "Nope", ""); err == nil {
		t.Error("unknown status accepted")
	}
	if err := c.s.Delete("PAY-77"); !errors.Is(err, ErrNoIssue) {
		t.Errorf("delete unknown: %v", err)
	}
	// Faults are safe to arm while requests run.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(2)
		go func() { defer wg.Done(); c.s.FailNext(1, 503, "GET", "/nothing") }()
		go func() { defer wg.Done(); c.do("GET", "/rest/api/2/issue/"+key, nil, nil) }()
	}
	wg.Wait()
}

func TestAddUser(t *testing.T) {
	c := newClient(t, Options{Users: []User{{AccountID: "a1", Email: "a@x.com"}}})
	body := map[string]any{"fields": map[string]any{"project": map[string]string{"key": "PAY"},
		"issuetype": map[string]string{"name": "Task"}, "summary": "s", "assignee": map[string]string{"accountId": "b2"}}}
	if code := c.do("POST", "/rest/api/2/issue", body, nil); code != 400 {
		t.Errorf("unknown assignee: %d", code)
	}
	c.s.AddUser(User{AccountID: "b2", Email: "b@x.com"})
	if code := c.do("POST", "/rest/api/2/issue", body, nil); code != 201 {
		t.Errorf("added assignee: %d", code)
	}
	var found []map[string]any
	c.do("GET", "/rest/api/3/user/search?query=B%40x.com", nil, &found)
	if len(found) != 1 || found[0]["accountId"] != "b2" {
		t.Errorf("user search: %v", found)
	}
}

// TestListComments: GET .../comment pages by startAt and maxResults (capped by PageSize), with
// the total, oldest first or by orderBy.
func TestListComments(t *testing.T) {
	c := newClient(t, Options{Mode: Cloud, PageSize: 2})
	key := c.create("PAY", "Comments")
	for _, b := range []string{"one", "two", "three"} {
		if err := c.s.AddComment(key, "acc-carol", b); err != nil {
			t.Fatal(err)
		}
	}
	type page struct {
		StartAt, MaxResults, Total int
		Comments                   []struct {
			ID, Body, Created string
			Author            struct{ AccountID string }
		}
	}
	bodies := func(p page) string {
		var out []string
		for _, c := range p.Comments {
			out = append(out, c.Body)
		}
		return strings.Join(out, ",")
	}
	var p page
	if code := c.do("GET", "/rest/api/2/issue/"+key+"/comment?maxResults=100", nil, &p); code != 200 ||
		p.StartAt != 0 || p.MaxResults != 2 || p.Total != 3 || bodies(p) != "one,two" || p.Comments[0].Author.AccountID != "acc-carol" || p.Comments[0].Created == "" {
		t.Errorf("first page: %d %+v", code, p)
	}
	p = page{}
	if code := c.do("GET", "/rest/api/2/issue/"+key+"/comment?startAt=2", nil, &p); code != 200 || p.StartAt != 2 || p.Total != 3 || bodies(p) != "three" {
		t.Errorf("second page: %d %+v", code, p)
	}
	p = page{}
	if code := c.do("GET", "/rest/api/2/issue/"+key+"/comment?orderBy=-created", nil, &p); code != 200 || bodies(p) != "three,two" {
		t.Errorf("newest first: %d %+v", code, p)
	}
	if code := c.do("GET", "/rest/api/2/issue/"+key+"/comment?orderBy=nonsense", nil, nil); code != 400 {
		t.Errorf("bad orderBy: %d", code)
	}
}
