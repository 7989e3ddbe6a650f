package github

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/connectors/githubfake"
)

var target = ft.Target{Kind: ft.GitHub, Repo: repo}

// loseCreate makes the tracker create the item's ticket with the answer lost, as a crash or a
// timeout would, and checks that the issue exists.
func loseCreate(t *testing.T, s *githubfake.Server, tr *Tracker, itemID string) int {
	t.Helper()
	s.LoseNextResponse("POST", "/repos/acme/checkout/issues")
	if _, err := tr.Create(context.Background(), newTicket(itemID, "bob@acme.com")); err == nil {
		t.Fatal("a lost create succeeded")
	}
	list := s.Issues(repo)
	if len(list) == 0 || list[len(list)-1].Title != newTicket(itemID, "").Title {
		t.Fatalf("the lost create made no issue: %+v", list)
	}
	return list[len(list)-1].Number
}

// bury has the bot create n more issues in the repository, each with another item's marker,
// as later postmortems would.
func bury(t *testing.T, s *githubfake.Server, n int) {
	t.Helper()
	for i := range n {
		body := fmt.Sprintf("Later work.\n\n<!-- followthrough:PM-2027-%03d/AI-%d -->", i/10, i%10)
		if _, err := s.CreateIssue(repo, githubfake.NewIssue{Title: "later", Body: body, User: githubfake.DefaultLogin, Labels: []string{"postmortem"}}); err != nil {
			t.Fatal(err)
		}
	}
}

// searchQueries returns the q of every search call made.
func searchQueries(t *testing.T, s *githubfake.Server) []string {
	t.Helper()
	var out []string
	for _, c := range s.CallLog() {
		if c.Method == "GET" && c.Path == "/search/issues" {
			v, err := url.ParseQuery(c.Query)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v.Get("q"))
		}
	}
	return out
}

// TestFindByMarkerBeyondTheListingWindow: the lost ticket has more than findPages pages of the
// bot's issues on top of it (a retry days later); the listing gives up and search finds it.
func TestFindByMarkerBeyondTheListingWindow(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, nil)
	num := loseCreate(t, s, tr, "AI-1")
	bury(t, s, findPages*100+5)
	s.ResetCalls()

	tk, found, err := tr.FindByMarker(context.Background(), target, ft.Marker("PM-2026-042", "AI-1"))
	if err != nil || !found {
		t.Fatalf("FindByMarker: %v %v", found, err)
	}
	if tk.Ref.Key != Key(repo, num) || tk.Marker != "followthrough:PM-2026-042/AI-1" || tk.Assignee != "bob-gh" || tk.Status != ft.StatusOpen {
		t.Errorf("found %+v", tk)
	}
	if n := s.Calls("GET", "/repos/acme/checkout/issues"); n != findPages {
		t.Errorf("listed %d pages, want %d", n, findPages)
	}
	qs := searchQueries(t, s)
	if len(qs) != 1 || qs[0] != `"followthrough:PM-2026-042/AI-1" repo:acme/checkout in:body is:issue` {
		t.Errorf("searches = %q", qs)
	}
	for _, c := range s.CallLog() {
		if c.Path == "/repos/acme/checkout/issues" && strings.Contains(c.Query, "labels=") {
			t.Errorf("find filtered on labels: %s", c.Query)
		}
	}

	// Absent: the listing is cut off again, search pages through its few results, no ticket.
	s.ResetCalls()
	if _, found, err := tr.FindByMarker(context.Background(), target, ft.Marker("PM-2026-042", "AI-2")); err != nil || found {
		t.Errorf("absent marker: %v %v", found, err)
	}
	if n := len(searchQueries(t, s)); n != 1 {
		t.Errorf("%d searches for an absent marker, want 1", n)
	}
}

// TestFindByMarkerSearchPages: search results are read page by page, and the bound holds.
func TestFindByMarkerSearchPages(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, nil)
	num := loseCreate(t, s, tr, "AI-1")
	// 150 look-alikes newer than the ticket push it to the second page of search results.
	for i := range 150 {
		body := fmt.Sprintf("<!-- followthrough:PM-2026-042/AI-1%d -->", i)
		_, _ = s.CreateIssue(repo, githubfake.NewIssue{Title: "alike", Body: body, User: githubfake.DefaultLogin})
	}
	bury(t, s, findPages*100)
	s.ResetCalls()
	tk, found, err := tr.FindByMarker(context.Background(), target, ft.Marker("PM-2026-042", "AI-1"))
	if err != nil || !found || tk.Ref.Key != Key(repo, num) {
		t.Fatalf("FindByMarker: %+v %v %v", tk, found, err)
	}
	if n := s.Calls("GET", "/search/issues"); n != 2 {
		t.Errorf("%d search pages read, want 2", n)
	}

	// With more matches than searchPages pages hold, the search stops at the bound.
	s.ResetCalls()
	for i := range searchPages*100 + 50 {
		body := fmt.Sprintf("<!-- followthrough:PM-2026-042/AI-2%d -->", i)
		_, _ = s.CreateIssue(repo, githubfake.NewIssue{Title: "alike", Body: body, User: githubfake.DefaultLogin})
	}
	if _, found, err := tr.FindByMarker(context.Background(), target, ft.Marker("PM-2026-042", "AI-2")); err != nil || found {
		t.Fatalf("FindByMarker AI-2: %v %v", found, err)
	}
	if n := s.Calls("GET", "/search/issues"); n != searchPages {
		t.Errorf("%d search pages read, want %d", n, searchPages)
	}
}

// TestFindByMarkerLabelRemoved: a person took the postmortem label off the ticket; it is still
// ours, found by the listing when recent and by search when old.
func TestFindByMarkerLabelRemoved(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, nil)
	ctx := context.Background()
	num := loseCreate(t, s, tr, "AI-1")
	if err := s.RemoveLabel(repo, num, "postmortem"); err != nil {
		t.Fatal(err)
	}
	s.ResetCalls()
	tk, found, err := tr.FindByMarker(ctx, target, ft.Marker("PM-2026-042", "AI-1"))
	if err != nil || !found || tk.Ref.Key != Key(repo, num) {
		t.Fatalf("recent, unlabelled: %+v %v %v", tk, found, err)
	}
	if n := s.Calls("GET", "/search/issues"); n != 0 {
		t.Errorf("searched %d times for a recent ticket", n)
	}

	bury(t, s, findPages*100)
	tk, found, err = tr.FindByMarker(ctx, target, ft.Marker("PM-2026-042", "AI-1"))
	if err != nil || !found || tk.Ref.Key != Key(repo, num) {
		t.Fatalf("old, unlabelled: %+v %v %v", tk, found, err)
	}
	if n := s.Calls("GET", "/search/issues"); n != 1 {
		t.Errorf("searched %d times for an old ticket, want 1", n)
	}
}

// TestFindByMarkerSearchTakesExactMarkerOnly: search matches loosely; a look-alike marker, the
// marker in someone else's issue, or in a pull request is not the ticket.
func TestFindByMarkerSearchTakesExactMarkerOnly(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, nil)
	for _, in := range []githubfake.NewIssue{
		{Title: "ten", User: githubfake.DefaultLogin, Body: "<!-- followthrough:PM-1/AI-10 -->"},
		{Title: "quoted", User: githubfake.DefaultLogin, Body: "As in followthrough:PM-1/AI-1 we did."},
		{Title: "copy", User: "mallory", Body: "<!-- followthrough:PM-1/AI-1 -->"},
		{Title: "pr", User: githubfake.DefaultLogin, PullRequest: true, Body: "<!-- followthrough:PM-1/AI-1 -->"},
	} {
		if _, err := s.CreateIssue(repo, in); err != nil {
			t.Fatal(err)
		}
	}
	bury(t, s, findPages*100+1)

	// The fake's search does return the look-alikes: rejecting them is the connector's doing.
	req, _ := http.NewRequest("GET", s.URL()+"search/issues?q="+url.QueryEscape(`"followthrough:PM-1/AI-1" repo:acme/checkout in:body is:issue`), nil)
	req.Header.Set("Authorization", "token "+githubfake.DefaultToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Total int `json:"total_count"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if res.Total != 3 {
		t.Fatalf("the fake's search found %d, want the 3 issues", res.Total)
	}

	s.ResetCalls()
	tk, found, err := tr.FindByMarker(context.Background(), target, "followthrough:PM-1/AI-1")
	if err != nil || found {
		t.Fatalf("a look-alike was taken: %+v %v %v", tk, found, err)
	}
	if n := s.Calls("GET", "/search/issues"); n != 1 {
		t.Errorf("%d searches, want 1", n)
	}
	if _, _, err := tr.FindByMarker(context.Background(), target, ""); err == nil {
		t.Error("an empty marker was looked for")
	}
}

// TestFindByMarkerSearchRateLimited: search has its own small budget; its limits are retryable
// with the wait GitHub gave, as everywhere else.
func TestFindByMarkerSearchRateLimited(t *testing.T) {
	cases := []struct {
		name       string
		fault      githubfake.Fault
		status     int
		retryAfter time.Duration
	}{
		{name: "403 primary", fault: githubfake.Fault{PrimaryRateLimit: true, ResetAfter: 40 * time.Second}, status: 403, retryAfter: 40 * time.Second},
		{name: "403 secondary", fault: githubfake.Fault{SecondaryRateLimit: true, RetryAfter: 20 * time.Second}, status: 403, retryAfter: 20 * time.Second},
		{name: "429", fault: githubfake.Fault{Status: 429, RetryAfter: 9 * time.Second}, status: 429, retryAfter: 9 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newFake(t, githubfake.Options{})
			tr := newTracker(t, s, nil)
			bury(t, s, findPages*100+1)
			f := c.fault
			f.Method, f.PathPrefix = "GET", "/search/issues"
			s.InjectFault(f)
			_, found, err := tr.FindByMarker(context.Background(), target, ft.Marker("PM-2026-042", "AI-1"))
			if found {
				t.Fatal("found")
			}
			te := asTrackerError(t, err)
			if !te.Retryable || te.StatusCode != c.status || te.Op != "find" || te.Ticket != repo {
				t.Errorf("got %+v", te)
			}
			if te.RetryAfter < c.retryAfter-2*time.Second || te.RetryAfter > c.retryAfter {
				t.Errorf("RetryAfter = %v, want about %v", te.RetryAfter, c.retryAfter)
			}
		})
	}

	t.Run("budget spent", func(t *testing.T) {
		s := newFake(t, githubfake.Options{SearchRateLimit: 1})
		tr := newTracker(t, s, nil)
		bury(t, s, findPages*100+1)
		ctx := context.Background()
		if _, _, err := tr.FindByMarker(ctx, target, ft.Marker("PM-2026-042", "AI-1")); err != nil {
			t.Fatalf("first search: %v", err)
		}
		_, _, err := tr.FindByMarker(ctx, target, ft.Marker("PM-2026-042", "AI-1"))
		te := asTrackerError(t, err)
		if !te.Retryable || te.StatusCode != 403 || te.RetryAfter <= 0 || te.RetryAfter > time.Minute {
			t.Errorf("got %+v", te)
		}
		// The listing's own budget is untouched: it was not what ran out.
		if _, err := tr.Get(ctx, Key(repo, 1)); err != nil {
			t.Errorf("core call after search ran out: %v", err)
		}
	})
}

// TestFindByMarkerSearchLag: GitHub's index has not caught up with a brand-new issue, so search
// cannot see it; the listing, which comes first, still finds it.
func TestFindByMarkerSearchLag(t *testing.T) {
	clock := newClock()
	s := newFake(t, githubfake.Options{Now: clock.Now, SearchLag: time.Minute})
	tr := newTracker(t, s, nil)
	num := loseCreate(t, s, tr, "AI-1")
	marker := ft.Marker("PM-2026-042", "AI-1")

	q := `"` + marker + `" repo:acme/checkout in:body is:issue`
	searchTotal := func() int {
		t.Helper()
		req, _ := http.NewRequest("GET", s.URL()+"search/issues?q="+url.QueryEscape(q), nil)
		req.Header.Set("Authorization", "token "+githubfake.DefaultToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var res struct {
			Total int `json:"total_count"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != 200 {
			t.Fatalf("search: %d %v", resp.StatusCode, err)
		}
		return res.Total
	}
	if n := searchTotal(); n != 0 {
		t.Fatalf("search sees the brand-new issue (%d)", n)
	}
	tk, found, err := tr.FindByMarker(context.Background(), target, marker)
	if err != nil || !found || tk.Ref.Key != Key(repo, num) {
		t.Fatalf("FindByMarker: %+v %v %v", tk, found, err)
	}
	clock.Advance(time.Minute)
	if n := searchTotal(); n != 1 {
		t.Errorf("search after the lag found %d, want 1", n)
	}
}

// incompleteSearch makes every search answer say its results are incomplete.
type incompleteSearch struct{ base http.RoundTripper }

func (is incompleteSearch) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := is.base.RoundTrip(req)
	if err != nil || !strings.HasSuffix(req.URL.Path, "/search/issues") {
		return resp, err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	data = bytes.Replace(data, []byte(`"incomplete_results":false`), []byte(`"incomplete_results":true`), 1)
	resp.Body = io.NopCloser(bytes.NewReader(data))
	resp.ContentLength = int64(len(data))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// TestFindByMarkerIncompleteSearch: a search that timed out on GitHub's side and found nothing
// is no proof of absence; a hit in it still counts.
func TestFindByMarkerIncompleteSearch(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, func(_ *config.GitHub, o *Options) {
		o.Transport = incompleteSearch{base: http.DefaultTransport}
	})
	num := loseCreate(t, s, tr, "AI-1")
	bury(t, s, findPages*100+1)
	_, found, err := tr.FindByMarker(context.Background(), target, ft.Marker("PM-2026-042", "AI-9"))
	if found {
		t.Fatal("found")
	}
	if te := asTrackerError(t, err); !te.Retryable || !strings.Contains(te.Message, "incomplete") {
		t.Errorf("got %+v", te)
	}
	tk, found, err := tr.FindByMarker(context.Background(), target, ft.Marker("PM-2026-042", "AI-1"))
	if err != nil || !found || tk.Ref.Key != Key(repo, num) {
		t.Errorf("hit in incomplete results: %+v %v %v", tk, found, err)
	}
}
