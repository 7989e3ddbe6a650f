package github

import (
	"context"
	"crypto/rsa"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/connectors/githubfake"
	"github.com/followthrough/followthrough/connectors/internal/selftest"
	"github.com/followthrough/followthrough/internal/testclock"
)

const repo = "acme/checkout"

var people = []config.Person{
	{Email: "Bob@Acme.com", GitHub: "bob-gh"},
	{Email: "carol@acme.com", GitHub: "carol-gh"},
	{Email: "bad@acme.com", GitHub: "not a login"},
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fakeClock is a clock that Sleep advances instead of waiting, recording each wait.
type fakeClock struct {
	*testclock.Clock
	mu     sync.Mutex
	sleeps []time.Duration
}

func newClock() *fakeClock {
	return &fakeClock{Clock: testclock.New(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))}
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	c.Advance(d)
	return nil
}

// newTracker connects a token-authenticated tracker to the fake, with no pacing unless cfg
// says otherwise.
func newTracker(t testing.TB, s *githubfake.Server, mod func(*config.GitHub, *Options)) *Tracker {
	t.Helper()
	cfg := &config.GitHub{APIURL: s.URL(), Token: config.Secret(githubfake.DefaultToken)}
	opts := Options{Logger: quiet}
	if mod != nil {
		mod(cfg, &opts)
	}
	tr, err := New(cfg, people, opts)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func newFake(t *testing.T, opts githubfake.Options) *githubfake.Server {
	t.Helper()
	s := githubfake.New(opts)
	t.Cleanup(s.Close)
	return s
}

func newTicket(itemID, owner string) ft.NewTicket {
	return ft.NewTicket{
		Target: ft.Target{Kind: ft.GitHub, Repo: repo},
		Marker: ft.Marker("PM-2026-042", itemID),
		Title:  "Add a circuit breaker to the tax client " + itemID,
		Body:   "The tax client has no breaker.\n\nPostmortem: Checkout outage\nDue: 2026-12-15",
		Labels: []string{"reliability"}, Owner: owner, Priority: "P1", Due: "2026-12-15",
		PostmortemID: "PM-2026-042",
	}
}

func asTrackerError(t *testing.T, err error) *ft.TrackerError {
	t.Helper()
	var te *ft.TrackerError
	if !errors.As(err, &te) {
		t.Fatalf("error %v (%T) is not a *ft.TrackerError", err, err)
	}
	return te
}

func TestCreateOneCallWithAssigneeLabelsAndMarker(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, nil)
	ctx := context.Background()
	nt := newTicket("AI-1", "bob@ACME.com")
	tk, err := tr.Create(ctx, nt)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Ref.Key != "acme/checkout#1" || tk.Ref.URL != "https://github.example/acme/checkout/issues/1" || tk.Ref.Kind != ft.GitHub {
		t.Errorf("ref = %+v", tk.Ref)
	}
	if tk.Assignee != "bob-gh" || tk.Status != ft.StatusOpen || tk.Marker != nt.Marker || tk.Title != nt.Title {
		t.Errorf("ticket = %+v", tk)
	}
	if s.Calls("POST", "/repos/acme/checkout/issues") != 1 || len(s.CallLog()) != 1 {
		t.Errorf("calls = %+v", s.CallLog())
	}
	is, _ := s.Issue(repo, 1)
	if want := nt.Body + "\n\n<!-- " + nt.Marker + " -->"; is.Body != want {
		t.Errorf("body = %q, want %q", is.Body, want)
	}
	if strings.Join(is.Labels, ",") != "postmortem,reliability" || strings.Join(is.Assignees, ",") != "bob-gh" {
		t.Errorf("labels %v assignees %v", is.Labels, is.Assignees)
	}
	if is.User != githubfake.DefaultLogin {
		t.Errorf("creator = %q", is.User)
	}

	got, err := tr.Get(ctx, tk.Ref.Key)
	if err != nil {
		t.Fatal(err)
	}
	if got.Ref != tk.Ref || got.Marker != nt.Marker || got.Status != ft.StatusOpen || got.UpdatedAt.IsZero() || got.CreatedAt.IsZero() {
		t.Errorf("get = %+v", got)
	}
}

func TestCreateUnmappedOwnerIsUnassigned(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, nil)
	tk, err := tr.Create(context.Background(), newTicket("AI-2", "dave@acme.com"))
	if err != nil {
		t.Fatal(err)
	}
	is, _ := s.Issue(repo, 1)
	if tk.Assignee != "" || len(is.Assignees) != 0 {
		t.Errorf("assigned: %q %v", tk.Assignee, is.Assignees)
	}
	if !strings.Contains(is.Body, "no GitHub login is mapped for dave@acme.com") || !strings.HasSuffix(is.Body, "<!-- followthrough:PM-2026-042/AI-2 -->") {
		t.Errorf("body = %q", is.Body)
	}
}

func TestGetMissingAndDeleted(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, nil)
	ctx := context.Background()
	tk, err := tr.Create(ctx, newTicket("AI-1", "bob@acme.com"))
	if err != nil {
		t.Fatal(err)
	}
	_ = s.DeleteIssue(repo, 1)
	for _, key := range []string{tk.Ref.Key, "acme/checkout#99"} {
		_, err := tr.Get(ctx, key)
		if !errors.Is(err, ft.ErrTicketNotFound) {
			t.Errorf("%s: %v, want ErrTicketNotFound", key, err)
		}
		if te := asTrackerError(t, err); te.Retryable || !strings.Contains(te.Message, key) {
			t.Errorf("%s: %+v", key, te)
		}
	}
	_, err = tr.Get(ctx, "not-a-key")
	if te := asTrackerError(t, err); te.Retryable {
		t.Errorf("bad key: %+v", te)
	}
	// Comments and status changes on a deleted issue say so too.
	if err := tr.Comment(ctx, tk.Ref.Key, "followthrough-comment:1", "x", time.Time{}); !errors.Is(err, ft.ErrTicketNotFound) {
		t.Errorf("comment on deleted: %v", err)
	}
}

func TestUpdate(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, nil)
	ctx := context.Background()
	nt := newTicket("AI-1", "bob@acme.com")
	tk, err := tr.Create(ctx, nt)
	if err != nil {
		t.Fatal(err)
	}

	// Only the due date: the due line in the body changes, the rest stays.
	if _, err := tr.Update(ctx, tk.Ref.Key, ft.TicketUpdate{Due: "2027-01-31"}); err != nil {
		t.Fatal(err)
	}
	is, _ := s.Issue(repo, 1)
	if !strings.Contains(is.Body, "Due: 2027-01-31") || strings.Contains(is.Body, "2026-12-15") || !strings.HasSuffix(is.Body, "<!-- "+nt.Marker+" -->") {
		t.Errorf("body after due = %q", is.Body)
	}

	// A new owner without a login: unassigned, and the body says so.
	got, err := tr.Update(ctx, tk.Ref.Key, ft.TicketUpdate{Owner: "dave@acme.com"})
	if err != nil {
		t.Fatal(err)
	}
	is, _ = s.Issue(repo, 1)
	if got.Assignee != "" || len(is.Assignees) != 0 || !strings.Contains(is.Body, "dave@acme.com") {
		t.Errorf("after unmapped owner: %q %v %q", got.Assignee, is.Assignees, is.Body)
	}

	// Title, body and a mapped owner; the marker is kept without being passed.
	got, err = tr.Update(ctx, tk.Ref.Key, ft.TicketUpdate{Title: "New title", Body: "New description.", Owner: "carol@acme.com"})
	if err != nil {
		t.Fatal(err)
	}
	is, _ = s.Issue(repo, 1)
	want := "New description.\n\nDue: 2027-01-31\n\n<!-- " + nt.Marker + " -->"
	if got.Title != "New title" || got.Assignee != "carol-gh" || is.Body != want || got.Marker != nt.Marker {
		t.Errorf("after edit: %+v\nbody %q\nwant %q", got, is.Body, want)
	}

	// ClearDue drops the line.
	if _, err := tr.Update(ctx, tk.Ref.Key, ft.TicketUpdate{ClearDue: true}); err != nil {
		t.Fatal(err)
	}
	is, _ = s.Issue(repo, 1)
	if is.Body != "New description.\n\n<!-- "+nt.Marker+" -->" {
		t.Errorf("after clear due: %q", is.Body)
	}

	// Nothing to change: no PATCH.
	before := s.Calls("PATCH", "/repos/acme/checkout/issues/1")
	if _, err := tr.Update(ctx, tk.Ref.Key, ft.TicketUpdate{Body: "New description."}); err != nil {
		t.Fatal(err)
	}
	if s.Calls("PATCH", "/repos/acme/checkout/issues/1") != before {
		t.Errorf("an unchanged update was sent")
	}
}

func TestSetStatus(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, nil)
	ctx := context.Background()
	tk, err := tr.Create(ctx, newTicket("AI-1", "bob@acme.com"))
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		status      ft.Status
		state       string
		reason      string
		inProgLabel bool
	}{
		{ft.StatusInProgress, "open", "", true},
		{ft.StatusDone, "closed", "completed", true},
		{ft.StatusInProgress, "open", "reopened", true},
		{ft.StatusOpen, "open", "reopened", false},
		{ft.StatusWontDo, "closed", "not_planned", false},
		{ft.StatusOpen, "open", "reopened", false},
		{ft.StatusOpen, "open", "reopened", false},
	}
	for i, st := range steps {
		got, err := tr.SetStatus(ctx, tk.Ref.Key, st.status)
		if err != nil {
			t.Fatalf("step %d %s: %v", i, st.status, err)
		}
		is, _ := s.Issue(repo, 1)
		hasLabel := false
		for _, l := range is.Labels {
			hasLabel = hasLabel || l == LabelInProgress
		}
		if got.Status != st.status || is.State != st.state || is.StateReason != st.reason || hasLabel != st.inProgLabel {
			t.Errorf("step %d %s: ticket %s, issue %s/%s labels %v", i, st.status, got.Status, is.State, is.StateReason, is.Labels)
		}
		if !got.UpdatedAt.Equal(is.UpdatedAt) || strings.Join(got.Labels, ",") != strings.Join(is.Labels, ",") {
			t.Errorf("step %d: ticket updated %v labels %v, issue %v %v", i, got.UpdatedAt, got.Labels, is.UpdatedAt, is.Labels)
		}
		if read, _ := tr.Get(ctx, tk.Ref.Key); read.Status != st.status {
			t.Errorf("step %d: read back %s", i, read.Status)
		}
	}
	if _, err := tr.SetStatus(ctx, tk.Ref.Key, "bogus"); err == nil {
		t.Error("unknown status accepted")
	}
}

func TestStatusFromPeople(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, nil)
	ctx := context.Background()
	tk, _ := tr.Create(ctx, newTicket("AI-1", "bob@acme.com"))
	for _, c := range []struct {
		act  func() error
		want ft.Status
	}{
		{func() error { return s.AddLabel(repo, 1, "In Progress") }, ft.StatusInProgress},
		{func() error { return s.CloseIssue(repo, 1, "duplicate", "carol") }, ft.StatusWontDo},
		{func() error { return s.ReopenIssue(repo, 1) }, ft.StatusInProgress},
		{func() error { return s.CloseIssue(repo, 1, "", "carol") }, ft.StatusDone},
		{func() error { return s.ReopenIssue(repo, 1) }, ft.StatusInProgress},
		{func() error { return s.RemoveLabel(repo, 1, "in progress") }, ft.StatusOpen},
		{func() error { return s.CloseIssue(repo, 1, "not_planned", "carol") }, ft.StatusWontDo},
	} {
		if err := c.act(); err != nil {
			t.Fatal(err)
		}
		got, err := tr.Get(ctx, tk.Ref.Key)
		if err != nil || got.Status != c.want {
			t.Errorf("status %s (%v), want %s", got.Status, err, c.want)
		}
	}
}

func TestCommentAndLabels(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, nil)
	ctx := context.Background()
	tk, _ := tr.Create(ctx, newTicket("AI-1", "bob@acme.com"))
	if err := tr.Comment(ctx, tk.Ref.Key, "followthrough-comment:1", "This item is overdue.", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := tr.AddLabel(ctx, tk.Ref.Key, "stalled"); err != nil {
		t.Fatal(err)
	}
	is, _ := s.Issue(repo, 1)
	if len(is.Comments) != 1 || is.Comments[0].Body != "This item is overdue.\n\n<!-- followthrough-comment:1 -->" || is.Comments[0].User != githubfake.DefaultLogin {
		t.Errorf("comments = %+v", is.Comments)
	}
	if strings.Join(is.Labels, ",") != "postmortem,reliability,stalled" {
		t.Errorf("labels = %v", is.Labels)
	}
	if err := tr.RemoveLabel(ctx, tk.Ref.Key, "stalled"); err != nil {
		t.Fatal(err)
	}
	if err := tr.RemoveLabel(ctx, tk.Ref.Key, "stalled"); err != nil {
		t.Errorf("removing an absent label: %v", err)
	}
	if err := tr.RemoveLabel(ctx, "acme/checkout#42", "stalled"); !errors.Is(err, ft.ErrTicketNotFound) {
		t.Errorf("removing a label from a missing issue: %v", err)
	}
	is, _ = s.Issue(repo, 1)
	if strings.Join(is.Labels, ",") != "postmortem,reliability" {
		t.Errorf("labels = %v", is.Labels)
	}
}

func TestSelfToken(t *testing.T) {
	s := newFake(t, githubfake.Options{Tokens: map[string]string{"tok": "ft-bot"}})
	tr := newTracker(t, s, func(c *config.GitHub, _ *Options) { c.Token = "tok" })
	for range 2 {
		got, err := tr.Self(context.Background())
		if err != nil || got != "ft-bot" {
			t.Fatalf("Self = %q, %v", got, err)
		}
	}
	if n := s.Calls("GET", "/user"); n != 1 {
		t.Errorf("GET /user made %d times, want 1 (cached)", n)
	}
}

// TestSelfOnceUnderConcurrency: workers that need Self at the same moment share one GET /user;
// a failed read is not kept, so the next caller reads again.
func TestSelfOnceUnderConcurrency(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, nil)
	s.InjectFault(githubfake.Fault{Method: "GET", PathPrefix: "/user", Status: 502})
	if _, err := tr.Self(context.Background()); err == nil {
		t.Fatal("Self succeeded through a 502")
	}
	s.InjectFault(githubfake.Fault{Method: "GET", PathPrefix: "/user", Latency: 20 * time.Millisecond})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if got, err := tr.Self(context.Background()); err != nil || got != githubfake.DefaultLogin {
				t.Errorf("Self = %q, %v", got, err)
			}
		})
	}
	wg.Wait()
	if n := s.Calls("GET", "/user"); n != 2 {
		t.Errorf("GET /user made %d times, want 2 (the failed one, then one for eight callers)", n)
	}
}

// TestKnownSelfDoesNotWaitForSelf: while the first Self's GET /user is in flight, KnownSelf
// answers at once that the identity is not known yet (the engine asks it as a webhook
// delivery arrives, where it must not wait on GitHub); once Self has read it, KnownSelf tells
// it without a call.
func TestKnownSelfDoesNotWaitForSelf(t *testing.T) {
	selftest.CheckKnownSelfDoesNotWait(t, "/user", `{"login":"ft-bot"}`, "ft-bot", func(url string) (selftest.Tracker, error) {
		return New(&config.GitHub{APIURL: url, Token: "tok"}, nil, Options{Logger: quiet})
	})
}

var (
	appKeyOnce sync.Once
	appPEM     []byte
	appPub     *rsa.PublicKey
)

func appKey(t *testing.T) ([]byte, *rsa.PublicKey) {
	appKeyOnce.Do(func() {
		var err error
		appPEM, appPub, err = githubfake.GenerateAppKey()
		if err != nil {
			t.Fatal(err)
		}
	})
	return appPEM, appPub
}

func TestAppAuth(t *testing.T) {
	for _, prefix := range []string{"", "/api/v3"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			pemKey, pub := appKey(t)
			s := newFake(t, githubfake.Options{PathPrefix: prefix, App: &githubfake.App{ID: 42, Slug: "followthrough", InstallationID: 7, PublicKey: pub}})
			tr := newTracker(t, s, func(c *config.GitHub, _ *Options) {
				c.Token = ""
				c.App = &config.GitHubApp{AppID: 42, InstallationID: 7, PrivateKey: config.Secret(pemKey)}
			})
			ctx := context.Background()
			self, err := tr.Self(ctx)
			if err != nil || self != "followthrough[bot]" {
				t.Fatalf("Self = %q, %v", self, err)
			}
			tk, err := tr.Create(ctx, newTicket("AI-1", "bob@acme.com"))
			if err != nil {
				t.Fatal(err)
			}
			if err := tr.Comment(ctx, tk.Ref.Key, "followthrough-comment:1", "hello", time.Time{}); err != nil {
				t.Fatal(err)
			}
			is, _ := s.Issue(repo, 1)
			if is.User != "followthrough[bot]" || is.Comments[0].User != "followthrough[bot]" {
				t.Errorf("acted as %q / %q", is.User, is.Comments[0].User)
			}
			// Found again by the bot's own listing.
			if _, found, err := tr.FindByMarker(ctx, ft.Target{Kind: ft.GitHub, Repo: repo}, ft.Marker("PM-2026-042", "AI-1")); err != nil || !found {
				t.Errorf("FindByMarker as the App: %v %v", found, err)
			}
			if _, err := tr.Self(ctx); err != nil {
				t.Fatal(err)
			}
			if n := s.Calls("GET", "/app"); n != 1 {
				t.Errorf("GET /app made %d times, want 1", n)
			}
			if n := s.Calls("POST", "/app/installations/7/access_tokens"); n != 1 {
				t.Errorf("installation tokens fetched %d times, want 1", n)
			}
		})
	}
}

func TestAppWrongKeyIsFinal(t *testing.T) {
	_, pub := appKey(t)
	otherPEM, _, err := githubfake.GenerateAppKey()
	if err != nil {
		t.Fatal(err)
	}
	s := newFake(t, githubfake.Options{App: &githubfake.App{ID: 42, Slug: "ft", InstallationID: 7, PublicKey: pub}})
	tr := newTracker(t, s, func(c *config.GitHub, _ *Options) {
		c.Token = ""
		c.App = &config.GitHubApp{AppID: 42, InstallationID: 7, PrivateKey: config.Secret(otherPEM)}
	})
	_, err = tr.Create(context.Background(), newTicket("AI-1", "bob@acme.com"))
	te := asTrackerError(t, err)
	if te.Retryable || te.StatusCode != 401 || !strings.Contains(te.Message, "installation") {
		t.Errorf("wrong key: %+v", te)
	}
	if len(s.Issues(repo)) != 0 {
		t.Error("an issue was created with a bad key")
	}
}

func TestEnterpriseBasePath(t *testing.T) {
	s := newFake(t, githubfake.Options{PathPrefix: "/api/v3", HTMLBase: "https://ghe.example.com"})
	tr := newTracker(t, s, nil)
	ctx := context.Background()
	tk, err := tr.Create(ctx, newTicket("AI-1", "bob@acme.com"))
	if err != nil {
		t.Fatal(err)
	}
	if tk.Ref.URL != "https://ghe.example.com/acme/checkout/issues/1" {
		t.Errorf("url = %s", tk.Ref.URL)
	}
	if _, err := tr.ListChanged(ctx, ft.ChangeQuery{Target: ft.Target{Kind: ft.GitHub, Repo: repo}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range s.CallLog() {
		if c.Status >= 400 {
			t.Errorf("call %+v failed", c)
		}
	}
	// Without the trailing slash it works the same.
	tr2 := newTracker(t, s, func(c *config.GitHub, _ *Options) { c.APIURL = strings.TrimSuffix(s.URL(), "/") })
	if _, err := tr2.Get(ctx, tk.Ref.Key); err != nil {
		t.Fatal(err)
	}
}

func TestLostResponseThenFindByMarker(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, nil)
	ctx := context.Background()
	target := ft.Target{Kind: ft.GitHub, Repo: repo}
	// Noise: an issue by someone else carrying the same marker, a PR, and other tickets.
	_, _ = s.CreateIssue(repo, githubfake.NewIssue{Title: "copy", User: "mallory", Labels: []string{"postmortem"}, Body: "<!-- followthrough:PM-2026-042/AI-7 -->"})
	_, _ = s.CreateIssue(repo, githubfake.NewIssue{Title: "pr", User: githubfake.DefaultLogin, PullRequest: true, Labels: []string{"postmortem"}, Body: "<!-- followthrough:PM-2026-042/AI-7 -->"})
	for _, id := range []string{"AI-70", "AI-1"} {
		if _, err := tr.Create(ctx, newTicket(id, "bob@acme.com")); err != nil {
			t.Fatal(err)
		}
	}

	s.LoseNextResponse("POST", "/repos/acme/checkout/issues")
	_, err := tr.Create(ctx, newTicket("AI-7", "bob@acme.com"))
	te := asTrackerError(t, err)
	if !te.Retryable || te.StatusCode != 0 {
		t.Fatalf("lost response: %+v", te)
	}
	tk, found, err := tr.FindByMarker(ctx, target, ft.Marker("PM-2026-042", "AI-7"))
	if err != nil || !found {
		t.Fatalf("FindByMarker: %v %v", found, err)
	}
	if tk.Ref.Key != "acme/checkout#5" || tk.Marker != "followthrough:PM-2026-042/AI-7" || tk.Assignee != "bob-gh" {
		t.Errorf("found %+v", tk)
	}
	if _, found, err := tr.FindByMarker(ctx, target, ft.Marker("PM-2026-042", "AI-8")); err != nil || found {
		t.Errorf("absent marker: %v %v", found, err)
	}
	for _, c := range s.CallLog() {
		if c.Path == "/repos/acme/checkout/issues" && c.Method == "GET" && !strings.Contains(c.Query, "creator=") {
			t.Errorf("find listed without creator: %s", c.Query)
		}
	}
}

func TestFindByMarkerReadsOnlyAFewPages(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, nil)
	for range 600 {
		_, _ = s.CreateIssue(repo, githubfake.NewIssue{Title: "x", User: githubfake.DefaultLogin, Labels: []string{"postmortem"}})
	}
	_, found, err := tr.FindByMarker(context.Background(), ft.Target{Kind: ft.GitHub, Repo: repo}, "followthrough:none/none")
	if err != nil || found {
		t.Fatalf("%v %v", found, err)
	}
	if n := s.Calls("GET", "/repos/acme/checkout/issues"); n != findPages {
		t.Errorf("read %d pages, want %d", n, findPages)
	}
}

func TestListChangedETagAndPaging(t *testing.T) {
	clock := newClock()
	s := newFake(t, githubfake.Options{Now: clock.Now})
	tr := newTracker(t, s, func(_ *config.GitHub, o *Options) { o.Now = clock.Now })
	ctx := context.Background()
	target := ft.Target{Kind: ft.GitHub, Repo: repo}
	path := "/repos/acme/checkout/issues"

	// 150 tickets a minute apart, one PR and one issue without the label.
	for i := range 150 {
		_, _ = s.CreateIssue(repo, githubfake.NewIssue{Title: "t", User: githubfake.DefaultLogin, Labels: []string{"postmortem"},
			Body: "x\n\n<!-- followthrough:PM-1/AI-" + string(rune('a'+i%26)) + " -->"})
		clock.Advance(time.Minute)
	}
	_, _ = s.CreateIssue(repo, githubfake.NewIssue{Title: "pr", PullRequest: true, Labels: []string{"postmortem"}})
	_, _ = s.CreateIssue(repo, githubfake.NewIssue{Title: "other"})

	all, err := tr.ListChanged(ctx, ft.ChangeQuery{Target: target})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 150 || all[0].Ref.Key != "acme/checkout#150" || all[149].Ref.Key != "acme/checkout#1" || all[0].Marker == "" {
		t.Fatalf("all: %d tickets, first %+v", len(all), all[0])
	}
	for i := 1; i < len(all); i++ {
		if all[i].UpdatedAt.After(all[i-1].UpdatedAt) {
			t.Fatalf("not newest first at %d", i)
		}
	}
	if n := s.Calls("GET", path); n != 2 {
		t.Errorf("pages read = %d, want 2", n)
	}

	// Nothing changed: one conditional call answered 304, nothing returned.
	s.ResetCalls()
	got, err := tr.ListChanged(ctx, ft.ChangeQuery{Target: target, Since: all[0].UpdatedAt})
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("unchanged: %v %v", got, err)
	}
	if s.Calls("GET", path) != 1 || s.NotModifiedCalls("GET", path) != 1 {
		t.Errorf("calls = %+v", s.CallLog())
	}

	// A person closes an old ticket: it comes back alone, and only page one is read.
	clock.Advance(time.Hour)
	_ = s.CloseIssue(repo, 3, "not_planned", "carol")
	s.ResetCalls()
	got, err = tr.ListChanged(ctx, ft.ChangeQuery{Target: target, Since: all[0].UpdatedAt})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Ref.Key != "acme/checkout#3" || got[0].Status != ft.StatusWontDo || got[1].Ref.Key != "acme/checkout#150" {
		t.Errorf("changed = %+v", got)
	}
	if s.Calls("GET", path) != 1 || s.NotModifiedCalls("GET", path) != 0 {
		t.Errorf("calls = %+v", s.CallLog())
	}
}

func TestListChangedFailedPageKeepsOldETag(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	ctx := context.Background()
	target := ft.Target{Kind: ft.GitHub, Repo: repo}
	for range 120 {
		_, _ = s.CreateIssue(repo, githubfake.NewIssue{Title: "t", Labels: []string{"postmortem"}})
	}
	failer := &pageTwoFailer{}
	tr := newTracker(t, s, func(_ *config.GitHub, o *Options) { o.Transport = failer })
	// Page one answers, page two fails: the error is retryable...
	_, err := tr.ListChanged(ctx, ft.ChangeQuery{Target: target})
	if ok, _ := ft.Retryable(err); !ok {
		t.Fatalf("failed page two: %v", err)
	}
	// ...and page one's ETag was not kept, so the next call reads everything again.
	got, err := tr.ListChanged(ctx, ft.ChangeQuery{Target: target})
	if err != nil || len(got) != 120 {
		t.Fatalf("after the failure: %d %v (a 304 would hide the changes)", len(got), err)
	}
	if n := s.NotModifiedCalls("GET", "/repos/acme/checkout/issues"); n != 0 {
		t.Errorf("304s = %d", n)
	}
}

// pageTwoFailer fails the first request for page two with a network error.
type pageTwoFailer struct {
	mu     sync.Mutex
	failed bool
}

func (p *pageTwoFailer) RoundTrip(req *http.Request) (*http.Response, error) {
	p.mu.Lock()
	fail := !p.failed && req.URL.Query().Get("page") == "2"
	if fail {
		p.failed = true
	}
	p.mu.Unlock()
	if fail {
		return nil, errors.New("connection reset by peer")
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestListChangedAnswersInFullUntilTheCallerKeptTheChanges(t *testing.T) {
	clock := newClock()
	s := newFake(t, githubfake.Options{Now: clock.Now})
	tr := newTracker(t, s, func(_ *config.GitHub, o *Options) { o.Now = clock.Now })
	ctx := context.Background()
	target := ft.Target{Kind: ft.GitHub, Repo: repo}
	path := "/repos/acme/checkout/issues"
	for range 3 {
		_, _ = s.CreateIssue(repo, githubfake.NewIssue{Title: "t", User: githubfake.DefaultLogin, Labels: []string{"postmortem"}})
		clock.Advance(time.Minute)
	}
	first, err := tr.ListChanged(ctx, ft.ChangeQuery{Target: target})
	if err != nil || len(first) != 3 {
		t.Fatalf("first read: %d, %v", len(first), err)
	}
	// The caller failed to record them (its Since did not move): they come again in full.
	again, err := tr.ListChanged(ctx, ft.ChangeQuery{Target: target})
	if err != nil || len(again) != 3 || s.NotModifiedCalls("GET", path) != 0 {
		t.Fatalf("second read: %d tickets, %v, %d 304s; want all 3 again and no 304", len(again), err, s.NotModifiedCalls("GET", path))
	}
	// Once the caller's Since shows it kept them, the list is asked conditionally: a 304.
	got, err := tr.ListChanged(ctx, ft.ChangeQuery{Target: target, Since: first[0].UpdatedAt})
	if err != nil || len(got) != 0 || s.NotModifiedCalls("GET", path) != 1 {
		t.Fatalf("third read: %d tickets, %v, %d 304s; want a 304", len(got), err, s.NotModifiedCalls("GET", path))
	}
}

func TestTrackerSpecifics(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, func(cfg *config.GitHub, _ *Options) { cfg.RequestTimeout = 45 * time.Second })
	for owner, want := range map[string]string{
		"bob@ACME.com":  "@bob-gh",       // in people
		"dave@acme.com": "dave@acme.com", // not: the email itself
	} {
		if got := tr.Mention(owner); got != want {
			t.Errorf("Mention(%s) = %q, want %q", owner, got, want)
		}
	}
	// A lost create may land until the request times out; listing shows changes at once.
	if tr.SettleTime() != 45*time.Second || tr.SearchLag() != 0 {
		t.Errorf("settle %v, search lag %v; want 45s and 0", tr.SettleTime(), tr.SearchLag())
	}
}

// TestRequestsGitHubsDescriptionAllows is the regression test of two requests that GitHub's
// published API description does not allow, which the stand-in refuses with 422 as GitHub
// would: adding labels as a bare JSON array (go-github v60's AddLabelsToIssue) instead of
// {"labels": [...]}, and, in App mode, an installation token asked for with the body null
// instead of an object.
func TestRequestsGitHubsDescriptionAllows(t *testing.T) {
	pemKey, pub := appKey(t)
	s := newFake(t, githubfake.Options{App: &githubfake.App{ID: 42, Slug: "followthrough", InstallationID: 7, PublicKey: pub}})
	tr := newTracker(t, s, func(c *config.GitHub, _ *Options) {
		c.Token = ""
		c.App = &config.GitHubApp{AppID: 42, InstallationID: 7, PrivateKey: config.Secret(pemKey)}
	})
	ctx := context.Background()
	tk, err := tr.Create(ctx, newTicket("AI-1", "bob@acme.com"))
	if err != nil {
		t.Fatalf("create as the App (its token asked for first): %v", err)
	}
	if err := tr.AddLabel(ctx, tk.Ref.Key, "stalled"); err != nil {
		t.Fatalf("add a label: %v", err)
	}
	if _, err := tr.SetStatus(ctx, tk.Ref.Key, ft.StatusInProgress); err != nil {
		t.Fatalf("in progress (adds its label): %v", err)
	}
	is, _ := s.Issue(repo, 1)
	if !slices.Contains(is.Labels, "stalled") || !slices.Contains(is.Labels, LabelInProgress) {
		t.Errorf("labels %v; want stalled and %q", is.Labels, LabelInProgress)
	}
}

// TestBodyCarriesTheTicketText: the engine passes the ticket's text as fields; GitHub writes it
// under the description and keeps the due date in a line of its own, once, which a revision
// moves.
func TestBodyCarriesTheTicketText(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, nil)
	ctx := context.Background()
	text := &ft.TicketText{ItemID: "AI-1", Postmortem: ft.PostmortemLink{ID: "PM-1", Title: "Checkout outage", URL: "https://wiki.acme.com/pm/1"},
		Severity: "SEV1", Owner: "bob@acme.com", Priority: "P1", Due: "2026-12-15"}
	nt := newTicket("AI-1", "bob@acme.com")
	nt.Body, nt.Text = "The tax client has no breaker.", text
	tk, err := tr.Create(ctx, nt)
	if err != nil {
		t.Fatal(err)
	}
	is, _ := s.Issue(repo, 1)
	for _, part := range []string{"The tax client has no breaker.\n\nAction item AI-1 of postmortem \"Checkout outage\": https://wiki.acme.com/pm/1",
		"Severity: SEV1", "Owner: bob@acme.com", "Priority: P1", "<!-- " + nt.Marker + " -->"} {
		if !strings.Contains(is.Body, part) {
			t.Errorf("body lacks %q:\n%s", part, is.Body)
		}
	}
	if n := strings.Count(is.Body, "Due: "); n != 1 || !strings.Contains(is.Body, "Due: 2026-12-15") {
		t.Errorf("body has %d due lines, want one with 2026-12-15:\n%s", n, is.Body)
	}
	moved := *text
	moved.Due = "2027-01-31"
	if _, err := tr.Update(ctx, tk.Ref.Key, ft.TicketUpdate{Body: nt.Body, Text: &moved, Due: moved.Due}); err != nil {
		t.Fatal(err)
	}
	is, _ = s.Issue(repo, 1)
	if n := strings.Count(is.Body, "Due: "); n != 1 || !strings.Contains(is.Body, "Due: 2027-01-31") {
		t.Errorf("after the revision, %d due lines, want one with 2027-01-31:\n%s", n, is.Body)
	}
}
