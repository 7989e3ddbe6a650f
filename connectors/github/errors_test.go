package github

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v60/github"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/connectors/githubfake"
)

// TestClassification runs every status class and the network failures through a real call
// and checks the one classification.
func TestClassification(t *testing.T) {
	cases := []struct {
		name       string
		fault      githubfake.Fault
		op         string // get or create
		status     int
		retryable  bool
		retryAfter time.Duration
		notFound   bool
		inMessage  string
		// refused: GitHub answered that it did nothing (every 4xx); else the outcome is unknown.
		refused bool
	}{
		{name: "400", fault: githubfake.Fault{Status: 400, Message: "Problems parsing JSON"}, op: "create", status: 400, inMessage: "Problems parsing JSON", refused: true},
		{name: "401", fault: githubfake.Fault{Status: 401, Message: "Bad credentials"}, op: "create", status: 401, inMessage: "credentials", refused: true},
		{name: "403 permission", fault: githubfake.Fault{Status: 403, Message: "Resource not accessible by integration"}, op: "create", status: 403, inMessage: "Resource not accessible", refused: true},
		{name: "403 primary limit", fault: githubfake.Fault{PrimaryRateLimit: true, ResetAfter: 90 * time.Second}, op: "create", status: 403, retryable: true, retryAfter: 90 * time.Second, refused: true},
		{name: "403 secondary limit", fault: githubfake.Fault{SecondaryRateLimit: true, RetryAfter: 42 * time.Second}, op: "create", status: 403, retryable: true, retryAfter: 42 * time.Second, inMessage: "secondary rate limit", refused: true},
		{name: "403 secondary limit by message only", fault: githubfake.Fault{Status: 403, Message: "You have exceeded a secondary rate limit."}, op: "create", status: 403, retryable: true, refused: true},
		{name: "404 repo on create", fault: githubfake.Fault{Status: 404}, op: "create", status: 404, inMessage: "acme/checkout", refused: true},
		{name: "404 issue on get", fault: githubfake.Fault{Status: 404}, op: "get", status: 404, notFound: true, inMessage: "acme/checkout#1", refused: true},
		{name: "408", fault: githubfake.Fault{Status: 408}, op: "get", status: 408, retryable: true, refused: true},
		{name: "409", fault: githubfake.Fault{Status: 409, Message: "Conflict"}, op: "create", status: 409, refused: true},
		{name: "410 issue on get", fault: githubfake.Fault{Status: 410, Message: "This issue was deleted"}, op: "get", status: 410, notFound: true, refused: true},
		{name: "422", fault: githubfake.Fault{Status: 422, Message: "Validation Failed"}, op: "create", status: 422, inMessage: "Validation Failed", refused: true},
		{name: "429", fault: githubfake.Fault{Status: 429, RetryAfter: 7 * time.Second}, op: "create", status: 429, retryable: true, retryAfter: 7 * time.Second, refused: true},
		{name: "429 secondary", fault: githubfake.Fault{Status: 429, SecondaryRateLimit: true, RetryAfter: 5 * time.Second}, op: "create", status: 429, retryable: true, retryAfter: 5 * time.Second, refused: true},
		{name: "500", fault: githubfake.Fault{Status: 500}, op: "create", status: 500, retryable: true},
		{name: "502", fault: githubfake.Fault{Status: 502}, op: "get", status: 502, retryable: true},
		{name: "503 with Retry-After", fault: githubfake.Fault{Status: 503, RetryAfter: 30 * time.Second}, op: "get", status: 503, retryable: true, retryAfter: 30 * time.Second},
		{name: "504", fault: githubfake.Fault{Status: 504}, op: "get", status: 504, retryable: true},
		{name: "lost response", fault: githubfake.Fault{LoseResponse: true, Method: "POST"}, op: "create", status: 0, retryable: true, inMessage: "no answer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newFake(t, githubfake.Options{})
			// Each case gets its own tracker: go-github remembers rate limits per client.
			tr := newTracker(t, s, nil)
			ctx := context.Background()
			if c.op == "get" {
				if _, err := tr.Create(ctx, newTicket("AI-1", "bob@acme.com")); err != nil {
					t.Fatal(err)
				}
			}
			s.InjectFault(c.fault)
			var err error
			if c.op == "get" {
				_, err = tr.Get(ctx, "acme/checkout#1")
			} else {
				_, err = tr.Create(ctx, newTicket("AI-1", "bob@acme.com"))
			}
			te := asTrackerError(t, err)
			if te.Tracker != ft.GitHub || te.Op != c.op || te.StatusCode != c.status || te.Retryable != c.retryable {
				t.Errorf("got %+v", te)
			}
			if c.retryAfter != 0 && (te.RetryAfter < c.retryAfter-2*time.Second || te.RetryAfter > c.retryAfter) {
				t.Errorf("RetryAfter = %v, want about %v", te.RetryAfter, c.retryAfter)
			}
			if errors.Is(err, ft.ErrTicketNotFound) != c.notFound {
				t.Errorf("not found = %v, want %v", !c.notFound, c.notFound)
			}
			if !strings.Contains(te.Message, c.inMessage) {
				t.Errorf("message %q lacks %q", te.Message, c.inMessage)
			}
			if ok, after := ft.Retryable(err); ok != c.retryable || after != te.RetryAfter {
				t.Errorf("ft.Retryable = %v %v", ok, after)
			}
			if got := ft.Refused(err); got != c.refused {
				t.Errorf("ft.Refused = %v, want %v (outcome %v)", got, c.refused, te.Outcome)
			}
			_, asked := ft.AskedToWait(err, time.Now())
			if want := c.refused && c.retryable && te.RetryAfter > 0; asked != want {
				t.Errorf("ft.AskedToWait = %v, want %v", asked, want)
			}
		})
	}
}

// TestRetryAfterThenRecovery: after a secondary limit the tracker says how long to wait, and
// once that time has passed the same call goes through.
func TestRetryAfterThenRecovery(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, nil)
	ctx := context.Background()
	s.SecondaryRateLimitNext(403, time.Second)
	_, err := tr.Create(ctx, newTicket("AI-1", "bob@acme.com"))
	ok, after := ft.Retryable(err)
	if !ok || after != time.Second {
		t.Fatalf("Retryable = %v %v (%v)", ok, after, err)
	}
	// A call made before the time is refused without reaching GitHub.
	before := len(s.CallLog())
	if _, err := tr.Create(ctx, newTicket("AI-1", "bob@acme.com")); err == nil {
		t.Fatal("a call inside the Retry-After window went through")
	} else if ok, _ := ft.Retryable(err); !ok {
		t.Fatalf("inside the window: %v", err)
	}
	if len(s.CallLog()) != before {
		t.Errorf("GitHub was called inside the Retry-After window")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err = tr.Create(ctx, newTicket("AI-1", "bob@acme.com"))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling for the window to pass, with a deadline
	}
	if err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestValidationErrorInWords(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, nil)
	// bad@acme.com maps to "not a login", which GitHub refuses.
	_, err := tr.Create(context.Background(), newTicket("AI-1", "bad@acme.com"))
	te := asTrackerError(t, err)
	if te.Retryable || te.StatusCode != 422 || !strings.Contains(te.Message, "Validation Failed") || !strings.Contains(te.Message, "assignees invalid") || !strings.Contains(te.Error(), "acme/checkout") {
		t.Errorf("422: %+v / %s", te, te.Error())
	}
}

func TestDescribeRealValidationError(t *testing.T) {
	data, err := os.ReadFile("testdata/create-label.422.response.json")
	if err != nil {
		t.Fatal(err)
	}
	er := &gh.ErrorResponse{Response: &http.Response{StatusCode: 422, Header: http.Header{}}}
	if err := json.Unmarshal(data, er); err != nil {
		t.Fatal(err)
	}
	tr := &Tracker{now: time.Now}
	te := asTrackerError(t, tr.classify("label", "acme/x#1", er))
	if te.Retryable || te.Message != "GitHub (acme/x#1) rejected the request: Validation Failed (Label color invalid)" {
		t.Errorf("got %q", te.Message)
	}
}

func TestNetworkErrors(t *testing.T) {
	ctx := context.Background()
	// Nothing listens: connection refused.
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL + "/"
	dead.Close()
	tr, err := New(&config.GitHub{APIURL: url, Token: "t"}, nil, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.Get(ctx, "acme/x#1")
	te := asTrackerError(t, err)
	if !te.Retryable || te.StatusCode != 0 || !strings.Contains(te.Message, "no answer") {
		t.Errorf("refused: %+v", te)
	}

	// Latency beyond the caller's deadline: retryable; the caller's own cancel: final.
	s := newFake(t, githubfake.Options{})
	tr = newTracker(t, s, nil)
	s.SetLatency(time.Minute)
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = tr.Get(tctx, "acme/x#1")
	cancel()
	if ok, _ := ft.Retryable(err); !ok {
		t.Errorf("timeout: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		deadline := time.Now().Add(5 * time.Second)
		for len(s.CallLog()) == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	_, err = tr.Get(cctx, "acme/x#2")
	if ok, _ := ft.Retryable(err); ok || err == nil {
		t.Errorf("canceled: %v", err)
	}
	s.ClearFaults()
}

func TestFaultThenSuccess(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, nil)
	ctx := context.Background()
	s.FailNextMatching(2, "POST", "/repos/acme/checkout/issues", 502)
	for i := range 2 {
		_, err := tr.Create(ctx, newTicket("AI-1", "bob@acme.com"))
		if ok, _ := ft.Retryable(err); !ok {
			t.Fatalf("try %d: %v", i, err)
		}
	}
	// Reads are not affected by a fault on POST.
	if _, err := tr.ListChanged(ctx, ft.ChangeQuery{Target: ft.Target{Kind: ft.GitHub, Repo: repo}}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Create(ctx, newTicket("AI-1", "bob@acme.com")); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Issues(repo)); n != 1 {
		t.Errorf("issues = %d", n)
	}
}

func TestPacing(t *testing.T) {
	clock := newClock()
	s := newFake(t, githubfake.Options{Now: clock.Now})
	tr := newTracker(t, s, func(c *config.GitHub, o *Options) {
		c.WriteInterval = time.Second
		c.WritesPerHour = 3
		o.Now = clock.Now
		o.Sleep = clock.Sleep
	})
	ctx := context.Background()
	start := clock.Now()
	tk, err := tr.Create(ctx, newTicket("AI-1", "bob@acme.com"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := tr.Comment(ctx, tk.Ref.Key, "followthrough-comment:"+strconv.Itoa(i), "comment "+strconv.Itoa(i), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	// Reads are not paced.
	for range 3 {
		if _, err := tr.Get(ctx, tk.Ref.Key); err != nil {
			t.Fatal(err)
		}
	}
	var writes []time.Time
	for _, c := range s.CallLog() {
		if c.Method == "POST" {
			writes = append(writes, c.Time)
		}
	}
	if len(writes) != 6 {
		t.Fatalf("writes = %d", len(writes))
	}
	for i := 1; i < len(writes); i++ {
		if writes[i].Sub(writes[i-1]) < time.Second {
			t.Errorf("writes %d and %d only %v apart", i-1, i, writes[i].Sub(writes[i-1]))
		}
	}
	for i := range writes {
		n := 0
		for _, w := range writes {
			if !w.Before(writes[i]) && w.Before(writes[i].Add(time.Hour)) {
				n++
			}
		}
		if n > 3 {
			t.Errorf("%d writes in the hour from %v", n, writes[i])
		}
	}
	// Six writes at three an hour: the last two waited for the first hour to pass.
	if got := writes[5].Sub(start); got < time.Hour+time.Second || got > time.Hour+3*time.Second {
		t.Errorf("last write at +%v", got)
	}
}

func TestPacingRespectsContext(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, func(c *config.GitHub, _ *Options) { c.WriteInterval = time.Hour })
	ctx := context.Background()
	tk, err := tr.Create(ctx, newTicket("AI-1", "bob@acme.com"))
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	err = tr.Comment(cctx, tk.Ref.Key, "followthrough-comment:1", "waits an hour", time.Time{})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
	if n := s.Calls("POST", "/repos/acme/checkout/issues/1/comments"); n != 0 {
		t.Errorf("comment sent despite pacing")
	}
}

func TestPacerUnit(t *testing.T) {
	clock := newClock()
	p := newPacer(0, 2, clock.Now, clock.Sleep)
	ctx := context.Background()
	for range 2 {
		if err := p.wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(clock.sleeps) != 0 {
		t.Fatalf("slept %v before the limit", clock.sleeps)
	}
	clock.Advance(10 * time.Minute)
	if err := p.wait(ctx); err != nil {
		t.Fatal(err)
	}
	if len(clock.sleeps) != 1 || clock.sleeps[0] != 50*time.Minute {
		t.Errorf("sleeps = %v, want [50m]", clock.sleeps)
	}
	// No limits: never sleeps.
	free := newPacer(0, 0, clock.Now, clock.Sleep)
	for range 100 {
		_ = free.wait(ctx)
	}
	if len(clock.sleeps) != 1 {
		t.Errorf("unpaced pacer slept")
	}
}
