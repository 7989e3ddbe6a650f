package jira

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/connectors/jirafake"
)

// roundTripFunc answers requests in the test, for status classes the fake has no reason to
// produce.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func answer(status int, header http.Header, body string) roundTripFunc {
	return func(r *http.Request) (*http.Response, error) {
		if header == nil {
			header = http.Header{}
		}
		return &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	}
}

func TestErrorClassification(t *testing.T) {
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	jiraBody := `{"errorMessages":["Issue does not exist or you do not have permission to see it."],"errors":{"summary":"You must specify a summary of the issue.","assignee":"User 'x' does not exist."}}`
	now := time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)
	cases := []struct {
		name       string
		rt         roundTripFunc
		status     int
		retryable  bool
		retryAfter time.Duration
		notFound   bool
		words      []string
	}{
		{"400", answer(400, jsonHeader, jiraBody), 400, false, 0, false,
			[]string{"PAY-7", "Issue does not exist", "assignee: User 'x' does not exist.", "summary: You must specify"}},
		{"401", answer(401, nil, "Client must be authenticated"), 401, false, 0, false, []string{"PAY-7", "credentials"}},
		{"403", answer(403, jsonHeader, `{"errorMessages":["You do not have the permission to see the specified issue."]}`), 403, false, 0, false, []string{"PAY-7", "permission"}},
		{"404", answer(404, jsonHeader, jiraBody), 404, false, 0, true, []string{"PAY-7", "does not exist"}},
		{"409", answer(409, jsonHeader, `{"errorMessages":["conflict"]}`), 409, false, 0, false, []string{"PAY-7", "conflict"}},
		{"410", answer(410, jsonHeader, `{"errorMessages":["The requested API has been removed."]}`), 410, false, 0, false, []string{"removed"}},
		{"422", answer(422, nil, "<html>nope</html>"), 422, false, 0, false, []string{"<html>nope</html>"}},
		{"408", answer(408, nil, ""), 408, true, 0, false, nil},
		{"429 seconds", answer(429, http.Header{"Retry-After": {"7"}}, ""), 429, true, 7 * time.Second, false, []string{"rate limiting"}},
		{"429 date", answer(429, http.Header{"Retry-After": {now.Add(time.Minute).Format(http.TimeFormat)}}, ""), 429, true, time.Minute, false, nil},
		{"500", answer(500, jsonHeader, `{"errorMessages":["Internal server error"]}`), 500, true, 0, false, []string{"Internal server error"}},
		{"502", answer(502, nil, "Bad gateway"), 502, true, 0, false, nil},
		{"503 retry-after", answer(503, http.Header{"Retry-After": {"30"}}, ""), 503, true, 30 * time.Second, false, nil},
		{"504", answer(504, nil, ""), 504, true, 0, false, nil},
		{"network", func(*http.Request) (*http.Response, error) {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
		}, 0, true, 0, false, []string{"no answer", "connection refused"}},
		{"broken body", answer(200, jsonHeader, `{"id":"1","key":`), 0, true, 0, false, []string{"no answer"}},
		{"not json", answer(200, jsonHeader, `<html>`), 200, false, 0, false, []string{"could not be read"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, err := New(&config.Jira{URL: "https://jira.acme.com", Deployment: "datacenter", PAT: "secret-pat"}, nil,
				Options{Transport: c.rt, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			_, err = tr.Get(context.Background(), "PAY-7")
			var te *ft.TrackerError
			if !errors.As(err, &te) {
				t.Fatalf("err = %v (%T), want a *TrackerError", err, err)
			}
			if te.Tracker != ft.Jira || te.Op != "get" || te.Ticket != "PAY-7" || te.StatusCode != c.status ||
				te.Retryable != c.retryable || te.RetryAfter != c.retryAfter {
				t.Errorf("got %+v", te)
			}
			if retry, after := ft.Retryable(err); retry != c.retryable || after != c.retryAfter {
				t.Errorf("Retryable = %v, %v", retry, after)
			}
			if wantAt := now.Add(c.retryAfter); c.retryAfter > 0 && !te.RetryAt.Equal(wantAt) || c.retryAfter == 0 && !te.RetryAt.IsZero() {
				t.Errorf("RetryAt = %v, want %v", te.RetryAt, wantAt)
			}
			if errors.Is(err, ft.ErrTicketNotFound) != c.notFound {
				t.Errorf("ErrTicketNotFound = %v", !c.notFound)
			}
			// Jira answered 4xx: it did nothing. No answer, a 5xx or a body broken off: it may have.
			if refused := c.status >= 400 && c.status < 500; ft.Refused(err) != refused {
				t.Errorf("Refused = %v, want %v", !refused, refused)
			}
			for _, w := range c.words {
				if !strings.Contains(te.Message, w) {
					t.Errorf("message %q lacks %q", te.Message, w)
				}
			}
			if strings.Contains(te.Error(), "secret-pat") {
				t.Error("the token leaked into the error")
			}
		})
	}
}

func TestFaults(t *testing.T) {
	bothModes(t, func(t *testing.T, mode jirafake.Mode) {
		e := newEnv(t, mode, nil)
		ctx := context.Background()
		tk, err := e.tr.Create(ctx, newTicket("PM-1", "AI-1", ""))
		if err != nil {
			t.Fatal(err)
		}
		key := tk.Ref.Key

		// Fail the next two reads with 503, then succeed.
		e.fake.FailNext(2, http.StatusServiceUnavailable, http.MethodGet, "/rest/api/2/issue/")
		for range 2 {
			_, err := e.tr.Get(ctx, key)
			var te *ft.TrackerError
			if !errors.As(err, &te) || !te.Retryable || te.StatusCode != 503 {
				t.Fatalf("503: %v", err)
			}
		}
		if _, err := e.tr.Get(ctx, key); err != nil {
			t.Fatalf("after the faults: %v", err)
		}

		// A fault on another path leaves this one alone.
		e.fake.FailNext(1, http.StatusInternalServerError, http.MethodPost, "/rest/api/2/issue/"+key+"/comment")
		if err := e.tr.AddLabel(ctx, key, "x"); err != nil {
			t.Fatalf("label: %v", err)
		}
		if err := e.tr.Comment(ctx, key, "followthrough-comment:1", "x", time.Time{}); err == nil {
			t.Fatal("the comment fault did not fire")
		}

		// 429 with Retry-After.
		e.fake.RateLimit(1, 9*time.Second)
		err = e.tr.Comment(ctx, key, "followthrough-comment:2", "hello", time.Time{})
		if retry, after := ft.Retryable(err); !retry || after != 9*time.Second {
			t.Fatalf("429: %v (retry %v after %v)", err, retry, after)
		}

		// Latency past our deadline: a retryable network error.
		e.fake.SetLatency(2 * time.Second)
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		_, err = e.tr.Get(short, key)
		cancel()
		if retry, _ := ft.Retryable(err); !retry {
			t.Fatalf("latency: %v", err)
		}
		e.fake.ClearFaults()
		// Latency within the deadline only slows things down.
		e.fake.AddFault(jirafake.Fault{Latency: 20 * time.Millisecond, Times: 1})
		if _, err := e.tr.Get(ctx, key); err != nil {
			t.Fatalf("short latency: %v", err)
		}

		// A lost response on a comment: the comment is made, we see a retryable error.
		e.fake.LoseNextResponse(http.MethodPost, "/rest/api/2/issue/"+key+"/comment")
		err = e.tr.Comment(ctx, key, "followthrough-comment:3", "lost", time.Time{})
		if retry, _ := ft.Retryable(err); !retry {
			t.Fatalf("lost response: %v", err)
		}
		is, _ := e.fake.Issue(key)
		if last := is.Comments[len(is.Comments)-1]; last.Body != "lost\n\nfollowthrough-comment:3" {
			t.Errorf("the lost comment was not made: %+v", is.Comments)
		}

		// A 400 from Jira names the ticket and carries Jira's words.
		err = e.tr.AddLabel(ctx, key, "")
		var te *ft.TrackerError
		if !errors.As(err, &te) || te.Retryable || te.StatusCode != 400 || !strings.Contains(te.Message, key) || !strings.Contains(te.Message, "labels: Labels cannot be empty.") {
			t.Errorf("400: %v", err)
		}
	})
}

func TestBadCredentials(t *testing.T) {
	bothModes(t, func(t *testing.T, mode jirafake.Mode) {
		e := newEnv(t, mode, nil)
		cfg := *e.cfg
		cfg.APIToken, cfg.PAT = "wrong", "wrong"
		if mode == jirafake.Cloud {
			cfg.PAT = ""
		} else {
			cfg.APIToken = ""
		}
		tr, err := New(&cfg, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = tr.Self(context.Background())
		var te *ft.TrackerError
		if !errors.As(err, &te) || te.StatusCode != 401 || te.Retryable || !strings.Contains(te.Message, "credentials") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestCloudOldSearchIsGone(t *testing.T) {
	// The reason the connector does not use go-jira's Issue.Search on Cloud.
	e := newEnv(t, jirafake.Cloud, nil)
	_, _, err := e.tr.client.Issue.SearchWithContext(context.Background(), `project = "PAY"`, nil)
	if err == nil || !strings.Contains(err.Error(), "410") {
		t.Errorf("err = %v, want a 410", err)
	}
}

func TestCreateAfterTheIssueExists(t *testing.T) {
	e := newEnv(t, jirafake.Cloud, nil)
	ctx := context.Background()
	// Reads of the new issue would fail: Create does not need one, so it succeeds.
	e.fake.FailNext(1, http.StatusServiceUnavailable, http.MethodGet, "/rest/api/2/issue/PAY-1")
	nt := newTicket("PM-1", "AI-1", "bob@acme.com")
	tk, err := e.tr.Create(ctx, nt)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Ref.Key != "PAY-1" || tk.Marker != nt.Marker || tk.Status != ft.StatusOpen || tk.Assignee != "acc-bob" {
		t.Errorf("ticket %+v", tk)
	}
	if n := len(e.fake.Issues("PAY")); n != 1 {
		t.Errorf("%d issues", n)
	}
	if n := e.fake.Calls(http.MethodGet, "/rest/api/2/issue/PAY-1"); n != 0 {
		t.Errorf("%d reads of the new issue, want none", n)
	}
}

func TestLinkPostmortemFailureIsRetryable(t *testing.T) {
	e := newEnv(t, jirafake.Cloud, nil)
	ctx := context.Background()
	if _, err := e.tr.Create(ctx, newTicket("PM-1", "AI-1", "bob@acme.com")); err != nil {
		t.Fatal(err)
	}
	e.fake.FailNext(1, http.StatusBadGateway, http.MethodPost, "/rest/api/2/issue/PAY-1/remotelink")
	link := ft.PostmortemLink{ID: "PM-1", Title: "Outage", URL: "https://wiki.acme.com/pm/1"}
	err := e.tr.LinkPostmortem(ctx, "PAY-1", link)
	var te *ft.TrackerError
	if !errors.As(err, &te) || !te.Retryable || te.Ticket != "PAY-1" {
		t.Fatalf("err = %v, want a retryable error naming PAY-1", err)
	}
	if err := e.tr.LinkPostmortem(ctx, "PAY-1", link); err != nil {
		t.Fatal(err)
	}
	if is, _ := e.fake.Issue("PAY-1"); len(is.RemoteLinks) != 1 {
		t.Fatalf("remote links = %+v", is.RemoteLinks)
	}
}

func TestCreateUserSearchFailures(t *testing.T) {
	e := newEnv(t, jirafake.Cloud, nil)
	ctx := context.Background()
	// A retryable failure of the lookup fails the create before anything is created.
	e.fake.FailNext(1, http.StatusBadGateway, http.MethodGet, "/rest/api/3/user/search")
	_, err := e.tr.Create(ctx, newTicket("PM-1", "AI-1", "carol@acme.com"))
	var te *ft.TrackerError
	if !errors.As(err, &te) || !te.Retryable || te.Op != "create" || te.Ticket != "PAY" {
		t.Fatalf("err = %v", err)
	}
	if n := len(e.fake.Issues("PAY")); n != 0 {
		t.Fatalf("%d issues", n)
	}
	// No permission to browse users: unassigned, with the note.
	e.fake.FailNext(1, http.StatusForbidden, http.MethodGet, "/rest/api/3/user/search")
	tk, err := e.tr.Create(ctx, newTicket("PM-1", "AI-1", "carol@acme.com"))
	if err != nil || tk.Assignee != "" {
		t.Fatalf("ticket %+v, %v", tk, err)
	}
}
