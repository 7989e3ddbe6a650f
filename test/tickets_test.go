package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/followthrough/followthrough/connectors/githubfake"
	"github.com/followthrough/followthrough/connectors/jirafake"
)

// The tests in this file check the contract's "Tickets written to trackers": one ticket per
// action item with the contract's fields, whatever fails on the way, across a SIGKILL, and
// through every kind of revision. They run the real binary against both stand-ins.

// post sends a postmortem and checks the status code.
func (e *trackerEnv) post(doc pmDoc, want int) {
	e.t.Helper()
	e.postRaw(mustJSON(e.t, doc), want)
}

func (e *trackerEnv) postRaw(body []byte, want int) {
	e.t.Helper()
	code, resp := e.s.do(http.MethodPost, "/v1/postmortems", testToken, body)
	if code != want {
		e.t.Fatalf("POST /v1/postmortems = %d, want %d: %s", code, want, resp)
	}
}

func (e *trackerEnv) get(id string) pmView {
	e.t.Helper()
	var v pmView
	e.s.getJSON("/v1/postmortems/"+id, testToken, &v)
	return v
}

// waitLinked waits until every item that is not removed is linked, and returns the postmortem.
func (e *trackerEnv) waitLinked(id string, within time.Duration) pmView {
	e.t.Helper()
	var v pmView
	eventually(e.t, within, id+": every item linked", func() bool {
		v = e.get(id)
		for _, it := range v.Items {
			if it.Sync == "failed" {
				e.t.Fatalf("%s/%s: sync failed: %v", id, it.ID, deref(it.LastError))
			}
			if !it.Removed && (it.Sync != "linked" || it.Ticket == nil) {
				return false
			}
		}
		return true
	})
	// Linked is not the end of the work: links back and the like follow. Wait for all of it.
	e.s.waitIdle(within)
	return e.get(id)
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// ghIssue is the stand-in's issue behind a key "owner/repo#N".
func (e *trackerEnv) ghIssue(key string) githubfake.Issue {
	e.t.Helper()
	repo, n := ghRef(e.t, key)
	is, found := e.gh.Issue(repo, n)
	if !found {
		e.t.Fatalf("GitHub stand-in has no issue %s", key)
	}
	return is
}

func (e *trackerEnv) jiraIssue(key string) jirafake.Issue {
	e.t.Helper()
	is, found := e.jr.Issue(key)
	if !found {
		e.t.Fatalf("Jira stand-in has no issue %s", key)
	}
	return is
}

// callsOn counts the tracker calls about one ticket: its own path and everything under it.
func (e *trackerEnv) callsOn(key string) int {
	n := 0
	if repo, num, ok := strings.Cut(key, "#"); ok {
		p := "/repos/" + repo + "/issues/" + num
		for _, c := range e.gh.CallLog() {
			if c.Path == p || strings.HasPrefix(c.Path, p+"/") {
				n++
			}
		}
		return n
	}
	for _, c := range e.jr.Requests() {
		if strings.HasSuffix(c.Path, "/issue/"+key) || strings.Contains(c.Path, "/issue/"+key+"/") {
			n++
		}
	}
	return n
}

func (e *trackerEnv) resetCalls() {
	e.gh.ResetCalls()
	e.jr.ResetCalls()
}

// describeCalls lists the calls both stand-ins received, for failure messages.
func (e *trackerEnv) describeCalls() string {
	var b strings.Builder
	for _, c := range e.gh.CallLog() {
		fmt.Fprintf(&b, "  github %s %s %d\n", c.Method, c.Path, c.Status)
	}
	for _, c := range e.jr.Requests() {
		fmt.Fprintf(&b, "  jira %s %s\n", c.Method, c.Path)
	}
	return b.String()
}

// ---- documents and views ------------------------------------------------------------------

type pmDoc struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	URL         string   `json:"url,omitempty"`
	Status      string   `json:"status"`
	Severity    string   `json:"severity,omitempty"`
	Team        string   `json:"team,omitempty"`
	SignedOffBy []string `json:"signed_off_by"`
	SignedOffAt string   `json:"signed_off_at,omitempty"`
	ActionItems []aiDoc  `json:"action_items"`
}

type aiDoc struct {
	ID          string      `json:"id"`
	Title       string      `json:"title"`
	Description string      `json:"description,omitempty"`
	Owner       string      `json:"owner"`
	Priority    string      `json:"priority,omitempty"`
	Due         string      `json:"due,omitempty"`
	Team        string      `json:"team,omitempty"`
	Tracker     *trackerDoc `json:"tracker,omitempty"`
	Labels      []string    `json:"labels,omitempty"`
}

type trackerDoc struct {
	Kind    string `json:"kind"`
	Repo    string `json:"repo,omitempty"`
	Project string `json:"project,omitempty"`
}

func newPM(id, title string, items ...aiDoc) pmDoc {
	return pmDoc{ID: id, Title: title, URL: "https://wiki.acme.com/pm/" + strings.ToLower(id),
		Status: "finalized", Severity: "SEV1", Team: "core", SignedOffBy: []string{"carol@acme.com"},
		SignedOffAt: "2026-11-22T10:00:00Z", ActionItems: items}
}

// without returns the postmortem without the items with these ids.
func (d pmDoc) without(ids ...string) pmDoc {
	d.ActionItems = slices.DeleteFunc(slices.Clone(d.ActionItems), func(a aiDoc) bool { return slices.Contains(ids, a.ID) })
	return d
}

// with returns the postmortem with item id changed by fn.
func (d pmDoc) with(id string, fn func(*aiDoc)) pmDoc {
	d.ActionItems = slices.Clone(d.ActionItems)
	for i := range d.ActionItems {
		if d.ActionItems[i].ID == id {
			fn(&d.ActionItems[i])
		}
	}
	return d
}

func (d pmDoc) item(id string) aiDoc {
	for _, a := range d.ActionItems {
		if a.ID == id {
			return a
		}
	}
	panic("no item " + id)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type pmView struct {
	ID    string
	State string
	Items []itemView
}

type itemView struct {
	ID        string
	Title     string
	Owner     string
	Priority  string
	Due       string
	Status    string
	Sync      string
	Removed   bool
	LastError *string `json:"last_error"`
	Ticket    *ticketView
}

type ticketView struct{ Kind, Key, URL string }

func (v pmView) item(t *testing.T, id string) itemView {
	t.Helper()
	for _, it := range v.Items {
		if it.ID == id {
			return it
		}
	}
	t.Fatalf("%s has no item %s", v.ID, id)
	return itemView{}
}

func marker(pm, item string) string { return "followthrough:" + pm + "/" + item }

// htmlMarker matches the marker inside an HTML comment, as GitHub bodies carry it.
func htmlMarker(pm, item string) *regexp.Regexp {
	return regexp.MustCompile(`<!--\s*` + regexp.QuoteMeta(marker(pm, item)) + `\s*-->`)
}

// lastLine is the last non-empty line of a text.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\r\n\t "), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// ---- 1. the contract's fields -------------------------------------------------------------

// TestTicketsCarryContractFields sends one postmortem with items for two GitHub repositories
// (one by its own tracker, one by the default route) and a Jira project (one by a team route,
// one by its own tracker) and checks every field the contract puts on the tickets.
func TestTicketsCarryContractFields(t *testing.T) { forEachBackend(t, testTicketsCarryContractFields) }

func testTicketsCarryContractFields(t *testing.T, b backend) {
	e := newTrackerEnv(t, envOptions{backend: b})
	e.start()
	const pm = "PM-2026-101"
	doc := newPM(pm, "Checkout outage 2026-11-20",
		aiDoc{ID: "AI-1", Title: "Add a circuit breaker to the tax client", Description: "Tax calls hung for 40 minutes.",
			Owner: "bob@acme.com", Priority: "P1", Due: "2027-01-15",
			Tracker: &trackerDoc{Kind: "github", Repo: "acme/checkout"}, Labels: []string{"reliability", "tax"}},
		aiDoc{ID: "AI-2", Title: "Alert on checkout error rate", Description: "Nobody was paged.",
			Owner: "alice@acme.com", Priority: "P2", Due: "2027-02-01"},
		aiDoc{ID: "AI-3", Title: "Retry card captures", Description: "Captures failed silently.",
			Owner: "bob@acme.com", Priority: "P1", Due: "2027-01-20", Team: "payments", Labels: []string{"reliability"}},
		aiDoc{ID: "AI-4", Title: "Game day for the tax provider", Owner: "alice@acme.com", Priority: "P0", Due: "2027-03-01",
			Tracker: &trackerDoc{Kind: "jira", Project: "OPS"}},
	)
	e.post(doc, http.StatusAccepted)
	v := e.waitLinked(pm, 20*time.Second)

	// Exactly those tickets, where the item's tracker or the routes say.
	for scope, want := range map[string]int{"acme/checkout": 1, defaultRepo: 1} {
		if got := len(e.gh.Issues(scope)); got != want {
			t.Errorf("GitHub %s has %d issues, want %d", scope, got, want)
		}
	}
	for project, want := range map[string]int{jiraProject: 1, "OPS": 1} {
		if got := len(e.jr.Issues(project)); got != want {
			t.Errorf("Jira %s has %d issues, want %d", project, got, want)
		}
	}
	wantKey := map[string]string{"AI-1": "acme/checkout#1", "AI-2": defaultRepo + "#1", "AI-3": "PAY-1", "AI-4": "OPS-1"}
	for _, it := range v.Items {
		if it.Ticket.Key != wantKey[it.ID] {
			t.Errorf("%s: ticket key %q, want %q", it.ID, it.Ticket.Key, wantKey[it.ID])
		}
	}

	// GitHub: title, body, marker in an HTML comment, labels, assignee; key and url in the API.
	ghWant := map[string]struct {
		login  string
		labels []string
	}{
		"AI-1": {"bob-gh", []string{"postmortem", "reliability", "tax"}},
		"AI-2": {"alice-gh", []string{"postmortem"}},
	}
	for id, want := range ghWant {
		it, ai := v.item(t, id), doc.item(id)
		is := e.ghIssue(it.Ticket.Key)
		if it.Ticket.Kind != "github" {
			t.Errorf("%s: ticket kind %q", id, it.Ticket.Kind)
		}
		if wantURL := githubfake.DefaultHTMLBase + "/" + is.Repo + "/issues/" + strconv.Itoa(is.Number); it.Ticket.URL != wantURL {
			t.Errorf("%s: ticket url %q, want the html_url %q", id, it.Ticket.URL, wantURL)
		}
		if is.Title != ai.Title {
			t.Errorf("%s: title %q, want %q", id, is.Title, ai.Title)
		}
		for _, part := range []string{ai.Description, doc.Title, doc.URL, doc.Severity, ai.Owner, ai.Priority, ai.Due} {
			if !strings.Contains(is.Body, part) {
				t.Errorf("%s: body lacks %q:\n%s", id, part, is.Body)
			}
		}
		if !htmlMarker(pm, id).MatchString(is.Body) {
			t.Errorf("%s: body lacks the marker in an HTML comment:\n%s", id, is.Body)
		}
		if !sameSet(is.Labels, want.labels) {
			t.Errorf("%s: labels %v, want %v", id, is.Labels, want.labels)
		}
		if !slices.Equal(is.Assignees, []string{want.login}) {
			t.Errorf("%s: assignees %v, want [%s]", id, is.Assignees, want.login)
		}
		if is.State != "open" || is.User != githubfake.DefaultLogin {
			t.Errorf("%s: state %q by %q, want open by %s", id, is.State, is.User, githubfake.DefaultLogin)
		}
	}

	// Jira: summary, description ending in the marker, labels, due date, priority, assignee,
	// remote link; key and url in the API.
	jiraWant := map[string]struct{ priority, account string }{
		"AI-3": {"High", "acc-bob"},
		"AI-4": {"Highest", "acc-alice"},
	}
	for id, want := range jiraWant {
		it, ai := v.item(t, id), doc.item(id)
		is := e.jiraIssue(it.Ticket.Key)
		if it.Ticket.Kind != "jira" || it.Ticket.URL != e.jr.URL()+"/browse/"+is.Key {
			t.Errorf("%s: ticket %+v, want kind jira and url %s/browse/%s", id, *it.Ticket, e.jr.URL(), is.Key)
		}
		if is.Summary != ai.Title {
			t.Errorf("%s: summary %q, want %q", id, is.Summary, ai.Title)
		}
		for _, part := range []string{ai.Description, doc.Title, doc.URL, doc.Severity, ai.Owner, ai.Priority, ai.Due} {
			if !strings.Contains(is.Description, part) {
				t.Errorf("%s: description lacks %q:\n%s", id, part, is.Description)
			}
		}
		if got := lastLine(is.Description); got != marker(pm, id) {
			t.Errorf("%s: description's last line %q, want the plain marker %q", id, got, marker(pm, id))
		}
		wantLabels := []string{"postmortem", "pm-pm-2026-101"}
		wantLabels = append(wantLabels, ai.Labels...)
		if !sameSet(is.Labels, wantLabels) {
			t.Errorf("%s: labels %v, want %v", id, is.Labels, wantLabels)
		}
		if is.DueDate != ai.Due || is.Priority != want.priority || is.Assignee != want.account {
			t.Errorf("%s: duedate %q priority %q assignee %q, want %q %q %q",
				id, is.DueDate, is.Priority, is.Assignee, ai.Due, want.priority, want.account)
		}
		if is.IssueType != "Task" {
			t.Errorf("%s: issue type %q, want the default Task", id, is.IssueType)
		}
		if !hasRemoteLink(is, doc.URL) {
			t.Errorf("%s: remote links %+v, want one to %s", id, is.RemoteLinks, doc.URL)
		}
	}
}

func sameSet(got, want []string) bool {
	a, b := slices.Clone(got), slices.Clone(want)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func hasRemoteLink(is jirafake.Issue, url string) bool {
	for _, l := range is.RemoteLinks {
		if l.URL == url && l.Title != "" {
			return true
		}
	}
	return false
}

// ---- 2. faults ----------------------------------------------------------------------------

// faultPM has two items for GitHub acme/actions and two for Jira PAY.
func faultPM(id string) pmDoc {
	return newPM(id, "Fault drill "+id,
		aiDoc{ID: "AI-1", Title: id + " github one", Owner: "bob@acme.com", Priority: "P1", Due: "2027-01-15"},
		aiDoc{ID: "AI-2", Title: id + " github two", Owner: "alice@acme.com", Priority: "P2", Due: "2027-01-16"},
		aiDoc{ID: "AI-3", Title: id + " jira one", Owner: "bob@acme.com", Priority: "P1", Due: "2027-01-17", Team: "payments"},
		aiDoc{ID: "AI-4", Title: id + " jira two", Owner: "alice@acme.com", Priority: "P3", Due: "2027-01-18", Team: "payments"},
	)
}

// TestTicketsExactlyOnceUnderFaults arms one fault per case at the stand-ins and checks that
// each item still ends with exactly one ticket, linked, with its marker.
func TestTicketsExactlyOnceUnderFaults(t *testing.T) {
	forEachBackend(t, testTicketsExactlyOnceUnderFaults)
}

func testTicketsExactlyOnceUnderFaults(t *testing.T, b backend) {
	const ghCreate = "/repos/" + defaultRepo + "/issues"
	const jiraCreate = "/rest/api/2/issue"
	cases := []struct {
		name      string
		jiraOpts  jirafake.Options
		arm       func(e *trackerEnv)
		retryWait time.Duration // GitHub's Retry-After: the last create comes at least this long after the fault
		check     func(t *testing.T, e *trackerEnv, doc pmDoc, v pmView)
	}{
		{name: "github 502 burst", arm: func(e *trackerEnv) { e.gh.FailNextMatching(3, http.MethodPost, ghCreate, http.StatusBadGateway) }},
		{name: "jira 502 burst", arm: func(e *trackerEnv) { e.jr.FailNext(3, http.StatusBadGateway, http.MethodPost, jiraCreate) }},
		{name: "github 429 with Retry-After", retryWait: 3 * time.Second, arm: func(e *trackerEnv) {
			e.gh.InjectFault(githubfake.Fault{Method: http.MethodPost, PathPrefix: ghCreate, Times: 2,
				Status: http.StatusTooManyRequests, RetryAfter: 3 * time.Second})
		}},
		{name: "github secondary rate limit", retryWait: 3 * time.Second, arm: func(e *trackerEnv) {
			e.gh.InjectFault(githubfake.Fault{Method: http.MethodPost, PathPrefix: ghCreate,
				Status: http.StatusForbidden, SecondaryRateLimit: true, RetryAfter: 3 * time.Second})
		}},
		{name: "jira 429 with Retry-After", arm: func(e *trackerEnv) {
			e.jr.AddFault(jirafake.Fault{Method: http.MethodPost, PathPrefix: jiraCreate, Times: 2,
				Status: http.StatusTooManyRequests, RetryAfter: 2 * time.Second})
		}},
		{name: "jira 502 on the remote link", arm: func(e *trackerEnv) {
			e.jr.FailNext(2, http.StatusBadGateway, http.MethodPost, jiraCreate+"/"+jiraProject+"-")
		}, check: func(t *testing.T, e *trackerEnv, doc pmDoc, v pmView) {
			// The remote link is part of the ticket: a failed one is tried again, not dropped.
			for _, id := range []string{"AI-3", "AI-4"} {
				key := v.item(t, id).Ticket.Key
				eventually(t, 10*time.Second, id+" ("+key+") links back to the postmortem", func() bool {
					return hasRemoteLink(e.jiraIssue(key), doc.URL)
				})
			}
		}},
		{name: "github lost responses", arm: func(e *trackerEnv) {
			e.gh.InjectFault(githubfake.Fault{Method: http.MethodPost, PathPrefix: ghCreate, Times: 2, LoseResponse: true})
		}},
		{name: "jira lost responses with search lag", jiraOpts: jirafake.Options{SearchLag: 1500 * time.Millisecond}, arm: func(e *trackerEnv) {
			e.jr.AddFault(jirafake.Fault{Method: http.MethodPost, PathPrefix: jiraCreate, Times: 2, LoseResponse: true})
		}, check: func(t *testing.T, e *trackerEnv, doc pmDoc, v pmView) {
			// A ticket found again by its marker is still the contract's ticket: it links back
			// to the postmortem.
			for _, id := range []string{"AI-3", "AI-4"} {
				if is := e.jiraIssue(v.item(t, id).Ticket.Key); !hasRemoteLink(is, doc.URL) {
					t.Errorf("%s (%s, created by a create whose answer was lost): remote links %+v, want one to %s",
						id, is.Key, is.RemoteLinks, doc.URL)
				}
			}
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTrackerEnv(t, envOptions{backend: b, jira: tc.jiraOpts})
			e.start()
			tc.arm(e)
			doc := faultPM(fmt.Sprintf("PM-FAULT-%d", i))
			e.post(doc, http.StatusAccepted)
			v := e.waitLinked(doc.ID, 40*time.Second)

			ghIssues, jiraIssues := e.gh.Issues(defaultRepo), e.jr.Issues(jiraProject)
			if len(ghIssues) != 2 || len(jiraIssues) != 2 {
				t.Fatalf("%d GitHub and %d Jira issues, want 2 and 2\ncalls:\n%s", len(ghIssues), len(jiraIssues), e.describeCalls())
			}
			for _, ai := range doc.ActionItems {
				it := v.item(t, ai.ID)
				if it.Ticket.Kind == "github" {
					is := e.ghIssue(it.Ticket.Key)
					if is.Title != ai.Title || !htmlMarker(doc.ID, ai.ID).MatchString(is.Body) || len(is.Assignees) != 1 {
						t.Errorf("%s linked to %s titled %q, assignees %v, body:\n%s", ai.ID, it.Ticket.Key, is.Title, is.Assignees, is.Body)
					}
				} else {
					is := e.jiraIssue(it.Ticket.Key)
					if is.Summary != ai.Title || lastLine(is.Description) != marker(doc.ID, ai.ID) || is.Assignee == "" {
						t.Errorf("%s linked to %s titled %q, assignee %q, description:\n%s", ai.ID, it.Ticket.Key, is.Summary, is.Assignee, is.Description)
					}
				}
			}
			if tc.check != nil {
				tc.check(t, e, doc, v)
			}
			faulted, creates := 0, 0
			var faultAt, lastCreate time.Time
			for _, c := range e.gh.CallLog() {
				if c.Method != http.MethodPost || c.Path != ghCreate {
					continue
				}
				switch {
				case c.Lost || c.Status >= 400:
					faulted++
					faultAt = c.Time
				case c.Status == http.StatusCreated:
					creates++
					lastCreate = c.Time
				}
			}
			// Jira's calls carry no status: a failed call shows as one more POST than the two
			// creates and two remote links of a clean run, a lost create as a marker search.
			jiraPosts := 0
			for _, c := range e.jr.Requests() {
				if c.Method == http.MethodPost {
					jiraPosts++
				}
			}
			jiraFired := jiraPosts > 4 || e.jr.Calls(http.MethodGet, "/rest/api/3/search/jql") > 0
			if faulted == 0 && !jiraFired {
				t.Fatalf("the fault never fired\ncalls:\n%s", e.describeCalls())
			}
			if tc.retryWait > 0 && lastCreate.Sub(faultAt) < tc.retryWait-100*time.Millisecond {
				t.Errorf("a create was retried %s after GitHub asked to wait %s", lastCreate.Sub(faultAt), tc.retryWait)
			}
		})
	}
}

// ---- 3. SIGKILL while creating ------------------------------------------------------------

// TestTicketsExactlyOnceAcrossKill SIGKILLs the server while 200 tickets are being created on
// slow stand-ins, restarts it, and checks that every item has exactly one ticket.
func TestTicketsExactlyOnceAcrossKill(t *testing.T) {
	forEachBackend(t, testTicketsExactlyOnceAcrossKill)
}

func testTicketsExactlyOnceAcrossKill(t *testing.T, b backend) {
	e := newTrackerEnv(t, envOptions{backend: b, jira: jirafake.Options{SearchLag: 500 * time.Millisecond}})
	e.gh.SetLatency(30 * time.Millisecond)
	e.jr.SetLatency(20 * time.Millisecond)
	// Jira makes each issue at once but answers its create 200 ms later, so Jira jobs spend
	// most of their time between "issue created" and "ticket recorded" and the kill lands
	// there: the restart must find those tickets by their marker.
	e.jr.AddFault(jirafake.Fault{Method: http.MethodPost, PathPrefix: "/rest/api/2/issue",
		Times: 1 << 20, LatencyAfter: 200 * time.Millisecond})
	s := e.start()
	const pm, n = "PM-KILL-200", 200
	var items []aiDoc
	for i := 1; i <= n; i++ {
		it := aiDoc{ID: fmt.Sprintf("AI-%d", i), Title: fmt.Sprintf("Kill drill action %03d", i), Owner: "bob@acme.com",
			Priority: "P2", Due: "2027-02-01"}
		if i%2 == 0 {
			it.Team = "payments"
		}
		items = append(items, it)
	}
	doc := newPM(pm, "Kill drill", items...)
	e.post(doc, http.StatusAccepted)
	made := func() int { return len(e.gh.Issues(defaultRepo)) + len(e.jr.Issues(jiraProject)) }
	eventually(t, 20*time.Second, "some tickets made", func() bool { return made() >= 40 })
	s.kill()
	atKill := made()
	if atKill >= n {
		t.Fatalf("all %d tickets were made before the kill; slow the stand-ins down", atKill)
	}
	linked := linkedInDB(t, e.db)
	t.Logf("killed with %d of %d tickets made, %d of them recorded", atKill, n, linked)
	if linked >= atKill {
		t.Fatalf("the kill found no ticket made but not yet recorded (%d made, %d linked)", atKill, linked)
	}

	e.jr.ClearFaults()
	e.jr.SetLatency(20 * time.Millisecond)
	e.start()
	v := e.waitLinked(pm, 60*time.Second)
	ghIssues, jiraIssues := e.gh.Issues(defaultRepo), e.jr.Issues(jiraProject)
	if len(ghIssues) != n/2 || len(jiraIssues) != n/2 {
		t.Errorf("%d GitHub and %d Jira issues, want %d each", len(ghIssues), len(jiraIssues), n/2)
	}
	titles := map[string]int{}
	for _, is := range ghIssues {
		titles[is.Title]++
	}
	for _, is := range jiraIssues {
		titles[is.Summary]++
	}
	for title, k := range titles {
		if k != 1 {
			t.Errorf("%d tickets titled %q", k, title)
		}
	}
	keys := map[string]string{}
	for _, it := range v.Items {
		if prev, dup := keys[it.Ticket.Key]; dup {
			t.Errorf("%s and %s both linked to %s", prev, it.ID, it.Ticket.Key)
		}
		keys[it.Ticket.Key] = it.ID
		want := doc.item(it.ID)
		wantKind := "github"
		if want.Team == "payments" {
			wantKind = "jira"
		}
		if it.Ticket.Kind != wantKind {
			t.Errorf("%s: ticket %s in %s, want %s", it.ID, it.Ticket.Key, it.Ticket.Kind, wantKind)
			continue
		}
		if wantKind == "github" {
			if is := e.ghIssue(it.Ticket.Key); is.Title != want.Title || !htmlMarker(pm, it.ID).MatchString(is.Body) {
				t.Errorf("%s linked to %s, which is %q", it.ID, it.Ticket.Key, is.Title)
			}
		} else if is := e.jiraIssue(it.Ticket.Key); is.Summary != want.Title || lastLine(is.Description) != marker(pm, it.ID) {
			t.Errorf("%s linked to %s, which is %q", it.ID, it.Ticket.Key, is.Summary)
		}
	}
	if len(v.Items) != n {
		t.Errorf("%d items, want %d", len(v.Items), n)
	}
}

// linkedInDB counts the items with a ticket recorded, straight from the database that a killed
// process left.
func linkedInDB(t *testing.T, db string) int {
	t.Helper()
	conn := openDatabase(t, db)
	defer conn.Close()
	var n int
	if err := conn.QueryRow(`SELECT COUNT(*) FROM items WHERE sync = 'linked'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
