package jira

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/connectors/internal/selftest"
	"github.com/followthrough/followthrough/connectors/jirafake"
	"github.com/followthrough/followthrough/internal/testclock"
)

type env struct {
	fake  *jirafake.Server
	tr    *Tracker
	clock *testclock.Clock
	cfg   *config.Jira
}

var people = []config.Person{
	{Email: "Bob@Acme.com", Jira: "acc-bob"},
	{Email: "dave@acme.com", Jira: "dave"},
}

func users(mode jirafake.Mode) []jirafake.User {
	if mode == jirafake.Cloud {
		return []jirafake.User{
			{AccountID: "acc-bob", Email: "bob@acme.com", DisplayName: "Bob"},
			{AccountID: "acc-carol", Email: "carol@acme.com", DisplayName: "Carol"},
		}
	}
	return []jirafake.User{{Name: "dave", Email: "dave@acme.com", DisplayName: "Dave"}}
}

func newEnv(t testing.TB, mode jirafake.Mode, configure func(*jirafake.Options)) *env {
	t.Helper()
	c := testclock.New(time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC))
	opts := jirafake.Options{
		Mode: mode, Now: c.Now, Users: users(mode), Projects: []string{"PAY", "OPS"},
		Self: jirafake.User{AccountID: "acc-bot", Name: "ftbot", Email: "bot@acme.com", TimeZone: "America/Los_Angeles"},
	}
	if mode == jirafake.DataCenter {
		opts.Self.AccountID = ""
	}
	if configure != nil {
		configure(&opts)
	}
	fake := jirafake.New(opts)
	t.Cleanup(fake.Close)
	cfg := &config.Jira{URL: fake.URL(), Deployment: string(mode), Email: "bot@example.com",
		APIToken: "cloud-token", PAT: "dc-pat"}
	if mode == jirafake.Cloud {
		cfg.PAT = ""
	} else {
		cfg.Email, cfg.APIToken = "", ""
	}
	tr, err := New(cfg, people, Options{Now: c.Now, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &env{fake: fake, tr: tr, clock: c, cfg: cfg}
}

func bothModes(t *testing.T, f func(t *testing.T, mode jirafake.Mode)) {
	for _, m := range []jirafake.Mode{jirafake.Cloud, jirafake.DataCenter} {
		t.Run(string(m), func(t *testing.T) { f(t, m) })
	}
}

func newTicket(pm, item, owner string) ft.NewTicket {
	return ft.NewTicket{
		Target: ft.Target{Kind: ft.Jira, Project: "PAY"},
		Marker: ft.Marker(pm, item), Title: "Add a circuit breaker to the tax client",
		Body:   "Wrap the tax client.\n\nPostmortem: Checkout outage",
		Labels: []string{"reliability", "tax client"}, Owner: owner, Priority: "P1", Due: "2026-12-15",
		PostmortemID: pm,
	}
}

func ownerFor(mode jirafake.Mode) (email, id string) {
	if mode == jirafake.Cloud {
		return "bob@acme.com", "acc-bob"
	}
	return "DAVE@acme.com", "dave"
}

func TestCreate(t *testing.T) {
	bothModes(t, func(t *testing.T, mode jirafake.Mode) {
		e := newEnv(t, mode, nil)
		ctx := context.Background()
		owner, id := ownerFor(mode)
		tk, err := e.tr.Create(ctx, newTicket("PM-2026.042_X", "AI-1", owner))
		if err != nil {
			t.Fatal(err)
		}
		if tk.Ref.Key != "PAY-1" || tk.Ref.URL != e.fake.URL()+"/browse/PAY-1" || tk.Ref.Kind != ft.Jira {
			t.Errorf("ref = %+v", tk.Ref)
		}
		if tk.Status != ft.StatusOpen || tk.Assignee != id || tk.Marker != "followthrough:PM-2026.042_X/AI-1" {
			t.Errorf("ticket = %+v", tk)
		}
		// Built from what was sent and Jira's answer, not read back: Jira's own times come
		// later (webhooks, reconciliation).
		if !tk.UpdatedAt.IsZero() || !tk.CreatedAt.Equal(e.clock.Now()) || tk.Title != "Add a circuit breaker to the tax client" {
			t.Errorf("ticket = %+v, want no updated time and created now", tk)
		}
		if calls := e.fake.Requests(); len(calls) != 1 || calls[0].Method != http.MethodPost || calls[0].Path != "/rest/api/2/issue" {
			t.Errorf("calls = %+v, want the one POST", calls)
		}
		if got := strings.Join(tk.Labels, ","); got != "postmortem,pm-pm-2026.042_x,reliability,tax-client" {
			t.Errorf("ticket labels = %s", got)
		}
		is, _ := e.fake.Issue("PAY-1")
		wantLabels := "postmortem,pm-pm-2026.042_x,reliability,tax-client"
		if strings.Join(is.Labels, ",") != wantLabels {
			t.Errorf("labels = %v, want %s", is.Labels, wantLabels)
		}
		lines := strings.Split(is.Description, "\n")
		if lines[len(lines)-1] != "followthrough:PM-2026.042_X/AI-1" || !strings.HasPrefix(is.Description, "Wrap the tax client.\n\nPostmortem") {
			t.Errorf("description = %q", is.Description)
		}
		if is.Priority != "High" || is.DueDate != "2026-12-15" || is.Assignee != id || is.IssueType != "Task" {
			t.Errorf("issue = %+v", is)
		}
		if n := e.fake.Calls(http.MethodPost, "/rest/api/2/issue"); n != 1 {
			t.Errorf("create calls = %d", n)
		}
		// The link back is its own call; made twice, it is still one link.
		link := ft.PostmortemLink{ID: "PM-2026.042_X", Title: "Checkout outage", URL: "https://wiki.acme.com/pm/42"}
		for range 2 {
			if err := e.tr.LinkPostmortem(ctx, "PAY-1", link); err != nil {
				t.Fatal(err)
			}
		}
		is, _ = e.fake.Issue("PAY-1")
		if len(is.RemoteLinks) != 1 || is.RemoteLinks[0].URL != "https://wiki.acme.com/pm/42" || is.RemoteLinks[0].Title != "Checkout outage" {
			t.Errorf("remote links = %+v", is.RemoteLinks)
		}
	})
}

func TestCreatePriorities(t *testing.T) {
	e := newEnv(t, jirafake.Cloud, nil)
	for i, c := range []struct{ prio, want string }{{"P0", "Highest"}, {"P1", "High"}, {"P2", "Medium"}, {"P3", "Low"}, {"", "Medium"}} {
		nt := newTicket("PM-1", "AI-"+c.prio, "bob@acme.com")
		nt.Priority = c.prio
		nt.Target.IssueType = "Bug"
		tk, err := e.tr.Create(context.Background(), nt)
		if err != nil {
			t.Fatal(err)
		}
		is, _ := e.fake.Issue(tk.Ref.Key)
		if is.Priority != c.want || is.IssueType != "Bug" {
			t.Errorf("%d: priority %q → %q (type %s), want %q", i, c.prio, is.Priority, is.IssueType, c.want)
		}
	}
}

func TestCreateOwnerLookup(t *testing.T) {
	e := newEnv(t, jirafake.Cloud, nil)
	ctx := context.Background()
	// carol is not in people: found by a user search, then cached.
	for i := range 2 {
		tk, err := e.tr.Create(ctx, newTicket("PM-1", "AI-"+string(rune('1'+i)), "Carol@acme.com"))
		if err != nil {
			t.Fatal(err)
		}
		if tk.Assignee != "acc-carol" {
			t.Errorf("assignee = %q", tk.Assignee)
		}
	}
	if n := e.fake.Calls(http.MethodGet, "/rest/api/3/user/search"); n != 1 {
		t.Errorf("user searches = %d, want 1", n)
	}
	// Nobody: unassigned, with a note, and no failure.
	tk, err := e.tr.Create(ctx, newTicket("PM-1", "AI-9", "nobody@acme.com"))
	if err != nil {
		t.Fatal(err)
	}
	is, _ := e.fake.Issue(tk.Ref.Key)
	if tk.Assignee != "" || is.Assignee != "" {
		t.Errorf("assignee = %q", is.Assignee)
	}
	if !strings.Contains(is.Description, "nobody@acme.com has no Jira account") || !strings.HasSuffix(is.Description, "\n\nfollowthrough:PM-1/AI-9") {
		t.Errorf("description = %q", is.Description)
	}
}

func TestCreateUnmappedOwnerDataCenter(t *testing.T) {
	e := newEnv(t, jirafake.DataCenter, nil)
	tk, err := e.tr.Create(context.Background(), newTicket("PM-1", "AI-1", "carol@acme.com"))
	if err != nil {
		t.Fatal(err)
	}
	is, _ := e.fake.Issue(tk.Ref.Key)
	if is.Assignee != "" || !strings.Contains(is.Description, "carol@acme.com has no Jira account") {
		t.Errorf("issue = %+v", is)
	}
	if n := e.fake.Calls(http.MethodGet, "/rest/api/3/user/search"); n != 0 {
		t.Errorf("user searches on Data Center = %d", n)
	}
}

func TestUpdate(t *testing.T) {
	bothModes(t, func(t *testing.T, mode jirafake.Mode) {
		e := newEnv(t, mode, nil)
		ctx := context.Background()
		owner, _ := ownerFor(mode)
		tk, err := e.tr.Create(ctx, newTicket("PM-1", "AI-1", ""))
		if err != nil {
			t.Fatal(err)
		}
		if tk.Assignee != "" {
			t.Errorf("assignee without owner = %q", tk.Assignee)
		}
		e.clock.Advance(time.Minute)
		got, err := e.tr.Update(ctx, tk.Ref.Key, ft.TicketUpdate{Title: "New title", Body: "New body", Owner: owner, Due: "2027-01-31"})
		if err != nil {
			t.Fatal(err)
		}
		is, _ := e.fake.Issue(tk.Ref.Key)
		if got.Title != "New title" || is.Description != "New body\n\nfollowthrough:PM-1/AI-1" || is.DueDate != "2027-01-31" || got.Assignee == "" {
			t.Errorf("after update: ticket %+v, issue %+v", got, is)
		}
		if !got.UpdatedAt.Equal(e.clock.Now()) || got.Marker != "followthrough:PM-1/AI-1" {
			t.Errorf("updated = %v marker = %q", got.UpdatedAt, got.Marker)
		}
		got, err = e.tr.Update(ctx, tk.Ref.Key, ft.TicketUpdate{ClearDue: true, Owner: "nobody@acme.com"})
		if err != nil {
			t.Fatal(err)
		}
		is, _ = e.fake.Issue(tk.Ref.Key)
		if is.DueDate != "" || is.Assignee != "" || got.Assignee != "" {
			t.Errorf("after clearing: %+v", is)
		}
		if _, err := e.tr.Update(ctx, "PAY-99", ft.TicketUpdate{Title: "x"}); !errors.Is(err, ft.ErrTicketNotFound) {
			t.Errorf("update of a missing ticket: %v", err)
		}
	})
}

func TestCommentAndLabels(t *testing.T) {
	bothModes(t, func(t *testing.T, mode jirafake.Mode) {
		e := newEnv(t, mode, nil)
		ctx := context.Background()
		tk, err := e.tr.Create(ctx, newTicket("PM-1", "AI-1", ""))
		if err != nil {
			t.Fatal(err)
		}
		key := tk.Ref.Key
		if err := e.tr.Comment(ctx, key, "followthrough-comment:1", "This item is stalled.", time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := e.tr.AddLabel(ctx, key, "stalled"); err != nil {
			t.Fatal(err)
		}
		if err := e.tr.AddLabel(ctx, key, "stalled"); err != nil {
			t.Fatal(err)
		}
		is, _ := e.fake.Issue(key)
		if len(is.Comments) != 1 || is.Comments[0].Body != "This item is stalled.\n\nfollowthrough-comment:1" || !slices.Contains(is.Labels, "stalled") {
			t.Errorf("issue = %+v", is)
		}
		self, err := e.tr.Self(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if is.Comments[0].Author != self {
			t.Errorf("comment author %q, self %q", is.Comments[0].Author, self)
		}
		for range 2 { // removing an absent label is fine
			if err := e.tr.RemoveLabel(ctx, key, "stalled"); err != nil {
				t.Fatal(err)
			}
		}
		got, err := e.tr.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(got.Labels, "stalled") || !slices.Contains(got.Labels, "postmortem") {
			t.Errorf("labels = %v", got.Labels)
		}
		if err := e.tr.Comment(ctx, "PAY-99", "followthrough-comment:1", "x", time.Time{}); !errors.Is(err, ft.ErrTicketNotFound) {
			t.Errorf("comment on a missing ticket: %v", err)
		}
	})
}

func TestSelf(t *testing.T) {
	bothModes(t, func(t *testing.T, mode jirafake.Mode) {
		e := newEnv(t, mode, nil)
		want := "acc-bot"
		if mode == jirafake.DataCenter {
			want = "ftbot"
		}
		for range 3 {
			got, err := e.tr.Self(context.Background())
			if err != nil || got != want {
				t.Fatalf("self = %q, %v; want %q", got, err, want)
			}
		}
		if n := e.fake.Calls(http.MethodGet, "/rest/api/2/myself"); n != 1 {
			t.Errorf("myself calls = %d, want 1 (cached)", n)
		}
	})
}

// TestSelfOnceUnderConcurrency: workers that need Self at the same moment share one GET
// myself; a failed read is not kept, so the next caller reads again.
func TestSelfOnceUnderConcurrency(t *testing.T) {
	e := newEnv(t, jirafake.Cloud, nil)
	e.fake.SetLatency(20 * time.Millisecond)
	e.fake.FailNext(1, http.StatusBadGateway, http.MethodGet, "/rest/api/2/myself")
	if _, err := e.tr.Self(context.Background()); err == nil {
		t.Fatal("self succeeded through a 502")
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, err := e.tr.Self(context.Background()); err != nil || got != "acc-bot" {
				t.Errorf("self = %q, %v", got, err)
			}
		}()
	}
	wg.Wait()
	if n := e.fake.Calls(http.MethodGet, "/rest/api/2/myself"); n != 2 {
		t.Errorf("myself calls = %d, want 2 (the failed one, then one for eight callers)", n)
	}
}

// TestKnownSelfDoesNotWaitForSelf: while the first Self's GET myself is in flight, KnownSelf
// answers at once that the identity is not known yet (the engine asks it as a webhook
// delivery arrives, where it must not wait on Jira); once Self has read it, KnownSelf tells
// it without a call.
func TestKnownSelfDoesNotWaitForSelf(t *testing.T) {
	selftest.CheckKnownSelfDoesNotWait(t, "/rest/api/2/myself", `{"accountId":"acc-bot","timeZone":"UTC"}`, "acc-bot", func(url string) (selftest.Tracker, error) {
		return New(&config.Jira{URL: url, Deployment: config.JiraCloud, Email: "bot@example.com",
			APIToken: "cloud-token"}, nil, Options{Timeout: 5 * time.Second})
	})
}

func TestGetAfterPeopleActions(t *testing.T) {
	bothModes(t, func(t *testing.T, mode jirafake.Mode) {
		e := newEnv(t, mode, nil)
		ctx := context.Background()
		tk, err := e.tr.Create(ctx, newTicket("PM-1", "AI-1", ""))
		if err != nil {
			t.Fatal(err)
		}
		key := tk.Ref.Key
		cases := []struct {
			status, resolution string
			want               ft.Status
		}{
			{"In Progress", "", ft.StatusInProgress},
			{"Done", "", ft.StatusDone},
			{"Done", "Duplicate", ft.StatusWontDo},
			{"Done", "Cannot Reproduce", ft.StatusWontDo},
			{"Won't Do", "", ft.StatusWontDo},
			{"To Do", "", ft.StatusOpen},
		}
		for _, c := range cases {
			e.clock.Advance(time.Minute)
			if err := e.fake.Transition(key, c.status, c.resolution); err != nil {
				t.Fatal(err)
			}
			got, err := e.tr.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != c.want || !got.UpdatedAt.Equal(e.clock.Now()) {
				t.Errorf("%s/%s: status %s updated %v, want %s", c.status, c.resolution, got.Status, got.UpdatedAt, c.want)
			}
		}
		e.clock.Advance(time.Minute)
		if err := e.fake.AddComment(key, "acc-bob", "on it"); err != nil {
			t.Fatal(err)
		}
		if err := e.fake.Edit(key, func(is *jirafake.Issue) { is.Summary = "Edited by a person" }); err != nil {
			t.Fatal(err)
		}
		got, err := e.tr.Get(ctx, key)
		if err != nil || got.Title != "Edited by a person" || !got.UpdatedAt.Equal(e.clock.Now()) {
			t.Errorf("after edit: %+v, %v", got, err)
		}
		if err := e.fake.Delete(key); err != nil {
			t.Fatal(err)
		}
		_, err = e.tr.Get(ctx, key)
		var te *ft.TrackerError
		if !errors.Is(err, ft.ErrTicketNotFound) || !errors.As(err, &te) || te.Retryable || te.StatusCode != 404 || !strings.Contains(te.Message, key) {
			t.Errorf("get deleted: %v", err)
		}
	})
}

func TestMapStatus(t *testing.T) {
	tr, err := New(&config.Jira{URL: "https://acme.atlassian.net", Email: "a@b.c", APIToken: "x",
		Statuses: map[string]string{"Blocked": "in_progress", "Parked": "wont_do", "done": "done"}}, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.cloud {
		t.Error("*.atlassian.net is Cloud by default")
	}
	cases := []struct {
		name, cat, res string
		want           ft.Status
	}{
		{"To Do", "new", "", ft.StatusOpen},
		{"Backlog", "new", "", ft.StatusOpen},
		{"In Review", "indeterminate", "", ft.StatusInProgress},
		{"Done", "done", "Done", ft.StatusDone},
		{"Closed", "done", "Fixed", ft.StatusDone},
		{"Closed", "done", "Won't Fix", ft.StatusWontDo},
		{"Resolved", "done", "Declined", ft.StatusWontDo},
		{"Resolved", "done", "Duplicate", ft.StatusWontDo},
		{"Resolved", "done", "Cannot Reproduce", ft.StatusWontDo},
		{"Won't Do", "done", "", ft.StatusWontDo},
		{"Won’t do", "done", "", ft.StatusWontDo},
		{"Blocked", "new", "", ft.StatusInProgress},      // jira.statuses wins over the category
		{"Parked", "indeterminate", "", ft.StatusWontDo}, // likewise
		{"DONE", "done", "Duplicate", ft.StatusDone},     // and over the resolution (name matched case-insensitively)
		{"Closed", "", "Fixed", ft.StatusDone},           // no category (old Jira)
		{"Open", "", "", ft.StatusOpen},
	}
	for _, c := range cases {
		if got := tr.MapStatus(c.name, c.cat, c.res); got != c.want {
			t.Errorf("MapStatus(%q, %q, %q) = %s, want %s", c.name, c.cat, c.res, got, c.want)
		}
	}
	if _, err := New(&config.Jira{URL: "https://jira.acme.com", PAT: "x", Statuses: map[string]string{"X": "closed"}}, nil, Options{}); err == nil {
		t.Error("an invalid item status in statuses must be refused")
	}
}

func TestNewRefusesMissingCredentials(t *testing.T) {
	for _, cfg := range []*config.Jira{
		nil,
		{URL: "https://acme.atlassian.net", Email: "a@b.c"},
		{URL: "https://jira.acme.com", Deployment: "datacenter", APIToken: "x", Email: "a@b.c"},
		{URL: "ftp://jira.acme.com", PAT: "x"},
		{URL: "https://jira.acme.com", PAT: "x", Deployment: "server"},
	} {
		if _, err := New(cfg, nil, Options{}); err == nil {
			t.Errorf("New(%+v) did not fail", cfg)
		}
	}
}

func TestPMLabel(t *testing.T) {
	for in, want := range map[string]string{
		"PM-2026-042": "pm-pm-2026-042", "pm_1.2": "pm-pm_1.2", "A b/c#Ü": "pm-a-b-c--",
	} {
		if got := PMLabel(in); got != want {
			t.Errorf("PMLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTrackerSpecifics(t *testing.T) {
	for _, tt := range []struct {
		mode              jirafake.Mode
		bob, dave, nobody string
	}{
		{jirafake.Cloud, "[~accountid:acc-bob]", "[~accountid:dave]", "nobody@acme.com"},
		{jirafake.DataCenter, "[~acc-bob]", "[~dave]", "nobody@acme.com"},
	} {
		t.Run(string(tt.mode), func(t *testing.T) {
			e := newEnv(t, tt.mode, nil)
			for owner, want := range map[string]string{"bob@acme.com": tt.bob, "dave@acme.com": tt.dave, "nobody@acme.com": tt.nobody} {
				if got := e.tr.Mention(owner); got != want {
					t.Errorf("Mention(%s) = %q, want %q", owner, got, want)
				}
			}
			// A lost create shows once both the request and the search have caught up.
			e.cfg.RequestTimeout, e.cfg.SearchLag = 30*time.Second, time.Minute
			if e.tr.SettleTime() != time.Minute || e.tr.SearchLag() != time.Minute {
				t.Errorf("settle %v, search lag %v; want 1m and 1m", e.tr.SettleTime(), e.tr.SearchLag())
			}
			e.cfg.SearchLag = 10 * time.Second
			if e.tr.SettleTime() != 30*time.Second {
				t.Errorf("settle %v with a short search lag; want the 30s timeout", e.tr.SettleTime())
			}
		})
	}
}

// TestDescriptionCarriesTheTicketText: Jira writes the ticket's text, due date included, under
// the description, and the marker last.
func TestDescriptionCarriesTheTicketText(t *testing.T) {
	e := newEnv(t, jirafake.Cloud, nil)
	nt := newTicket("PM-1", "AI-1", "bob@acme.com")
	nt.Body = "Wrap the tax client."
	nt.Text = &ft.TicketText{ItemID: "AI-1", Postmortem: ft.PostmortemLink{ID: "PM-1", Title: "Checkout outage", URL: "https://wiki.acme.com/pm/1"},
		Owner: "bob@acme.com", Priority: "P1", Due: "2026-12-15"}
	tk, err := e.tr.Create(context.Background(), nt)
	if err != nil {
		t.Fatal(err)
	}
	is, _ := e.fake.Issue(tk.Ref.Key)
	want := "Wrap the tax client.\n\nAction item AI-1 of postmortem \"Checkout outage\": https://wiki.acme.com/pm/1\n" +
		"Owner: bob@acme.com\nPriority: P1\nDue: 2026-12-15\n\nfollowthrough:PM-1/AI-1"
	if is.Description != want {
		t.Errorf("description\n%q\nwant\n%q", is.Description, want)
	}
}
