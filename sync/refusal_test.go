package sync_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/connectors/github"
	"github.com/followthrough/followthrough/connectors/githubfake"
	"github.com/followthrough/followthrough/connectors/jirafake"
	"github.com/followthrough/followthrough/internal/pgtest"
	"github.com/followthrough/followthrough/sync"
)

// trackerCall is one call a stand-in received, whichever the stand-in.
type trackerCall struct {
	method, path string
	at           time.Time
}

func (c trackerCall) String() string { return c.method + " " + c.path }

// calls are the calls the stand-in of kind received, in order.
func (e *twEnv) calls(kind ft.TrackerKind) []trackerCall {
	var out []trackerCall
	if kind == ft.GitHub {
		for _, c := range e.gh.CallLog() {
			out = append(out, trackerCall{c.Method, c.Path, c.Time})
		}
		return out
	}
	for _, c := range e.jf.Requests() {
		out = append(out, trackerCall{c.Method, c.Path, c.Time})
	}
	return out
}

// refusalCase is one tracker's create path and search.
type refusalCase struct {
	kind   ft.TrackerKind
	target ft.Target
	create string // the create's path
	search string // the path FindByMarker reads first
	// afterCreate are the calls a ticket costs after its create (Jira's remote link).
	afterCreate []string
}

var refusalCases = []refusalCase{
	{kind: ft.GitHub, target: ft.Target{Kind: ft.GitHub, Repo: twRepo},
		create: "/repos/" + twRepo + "/issues", search: "/repos/" + twRepo + "/issues"},
	{kind: ft.Jira, target: ft.Target{Kind: ft.Jira, Project: twProject},
		create: "/rest/api/2/issue", search: "/rest/api/3/search/jql",
		afterCreate: []string{"POST /rest/api/2/issue/" + twProject + "-1/remotelink"}},
}

// fail makes the stand-in answer the next create with status (and Retry-After when given).
func (e *twEnv) failCreate(c refusalCase, status int, retryAfter time.Duration) {
	if c.kind == ft.GitHub {
		e.gh.InjectFault(githubfake.Fault{Method: http.MethodPost, PathPrefix: c.create, Status: status, RetryAfter: retryAfter})
		return
	}
	e.jf.AddFault(jirafake.Fault{Method: http.MethodPost, PathPrefix: c.create, Status: status, RetryAfter: retryAfter})
}

// intakeOne takes a postmortem of one item for target, without waiting for its ticket.
func (e *twEnv) intakeOne(pmID string, target ft.Target) {
	e.t.Helper()
	signed := twStart
	doc := &ft.Document{ID: pmID, Title: "Outage " + pmID, Status: "finalized", SignedOffBy: []string{"carol@acme.com"},
		SignedOffAt: &signed, ActionItems: []ft.ActionItem{{ID: "AI-1", Title: "Action 1", Owner: "bob@acme.com", Priority: "P1"}}}
	if _, err := e.eng.Intake(e.ctx, sync.WithTargets(doc, []ft.Target{target})); err != nil {
		e.t.Fatal(err)
	}
}

// TestRefusedCreateIsSentAgainAtOnce is the refusal rule on both trackers, through the engine:
// a create refused with 429 and Retry-After: 2 made no ticket, so 2 s later (not before) the
// create is sent again, with no search for a lost create in between, no settle wait and no
// attempt counted; while it waits the item says why and until when.
func TestRefusedCreateIsSentAgainAtOnce(t *testing.T) {
	pgtest.ForEach(t, testRefusedCreateIsSentAgainAtOnce)
}

func testRefusedCreateIsSentAgainAtOnce(t *testing.T, db pgtest.Backend) {
	for _, c := range refusalCases {
		t.Run(string(c.kind), func(t *testing.T) {
			e := newTWEnv(t, db)
			e.cfg.PublicURL = "https://ft.example.com" // so that Jira's ticket gets its remote link
			e.failCreate(c, http.StatusTooManyRequests, 2*time.Second)
			e.intakeOne("PM-429", c.target)
			e.run()
			refusedAt := e.clock.Now()
			calls := e.calls(c.kind)
			if len(calls) == 0 || calls[len(calls)-1].String() != "POST "+c.create {
				t.Fatalf("calls %v, want the refused create last", calls)
			}
			it := e.item("PM-429", "AI-1")
			if it.Sync != ft.SyncPending || it.LastError != nil || it.Waiting == nil ||
				!it.Waiting.Until.Equal(refusedAt.Add(2*time.Second)) || !strings.Contains(it.Waiting.Reason, "429") {
				t.Fatalf("item while refused: sync %s, error %v, waiting %+v", it.Sync, it.LastError, it.Waiting)
			}

			e.clock.Advance(2*time.Second - time.Millisecond)
			e.run()
			if got := e.calls(c.kind); len(got) != len(calls) {
				t.Fatalf("calls before Retry-After passed: %v", got[len(calls):])
			}
			e.clock.Advance(time.Millisecond)
			e.run()
			after := e.calls(c.kind)[len(calls):]
			want := append([]string{"POST " + c.create}, c.afterCreate...)
			if fmt.Sprint(after) != fmt.Sprint(want) {
				t.Fatalf("calls after the refusal: %v, want %v (the create again, no search)", after, want)
			}
			if got := after[0].at.Sub(refusedAt); got < 2*time.Second {
				t.Errorf("create sent again %v after the refusal, want at least Retry-After (2s)", got)
			}
			it = e.item("PM-429", "AI-1")
			if it.Sync != ft.SyncLinked || it.Ticket == nil || it.Waiting != nil {
				t.Fatalf("item after the retry: sync %s, ticket %v, waiting %+v", it.Sync, it.Ticket, it.Waiting)
			}
		})
	}
}

// TestUnknownCreateOutcomeIsLookedFor: after a 502 the create may have been made, so the retry
// looks for it by its marker first, and creates only once its absence outlasted the tracker's
// settle time: one ticket, never two.
func TestUnknownCreateOutcomeIsLookedFor(t *testing.T) {
	pgtest.ForEach(t, testUnknownCreateOutcomeIsLookedFor)
}

func testUnknownCreateOutcomeIsLookedFor(t *testing.T, db pgtest.Backend) {
	for _, c := range refusalCases {
		t.Run(string(c.kind), func(t *testing.T) {
			e := newTWEnv(t, db)
			e.failCreate(c, http.StatusBadGateway, 0)
			e.intakeOne("PM-502", c.target)
			e.run()
			failedAt := e.clock.Now()
			calls := e.calls(c.kind)
			if it := e.item("PM-502", "AI-1"); it.Waiting != nil {
				t.Errorf("a 502 is not a wait for the tracker's limits: %+v", it.Waiting)
			}

			e.clock.Advance(2 * time.Second) // past the first backoff
			e.run()
			var after []trackerCall
			for _, call := range e.calls(c.kind)[len(calls):] {
				// Our own identity, read once, is part of the search.
				if call.path != "/user" && call.path != "/rest/api/2/myself" {
					after = append(after, call)
				}
			}
			if len(after) == 0 || after[0].method != http.MethodGet || after[0].path != c.search {
				t.Fatalf("calls after the 502: %v, want the search for a lost create first", after)
			}
			for _, call := range after {
				if call.String() == "POST "+c.create {
					t.Fatalf("created again before the settle time passed: %v", after)
				}
			}
			settle := e.cfg.GitHub.RequestTimeout
			if c.kind == ft.Jira {
				settle = max(e.cfg.Jira.SearchLag, e.cfg.Jira.RequestTimeout)
			}
			e.clock.Set(failedAt.Add(settle))
			e.settle()
			created := 0
			for _, call := range e.calls(c.kind)[len(calls):] {
				if call.String() == "POST "+c.create {
					created++
				}
			}
			it := e.item("PM-502", "AI-1")
			if created != 1 || it.Sync != ft.SyncLinked {
				t.Fatalf("%d creates after the 502, item sync %s: want one create once the absence settled", created, it.Sync)
			}
		})
	}
}

// pacedEnv is a twEnv whose GitHub connector paces its writes on the driven clock, with one
// job at a time so that turns go in the order of the items.
func pacedEnv(t *testing.T, on pgtest.Backend, interval time.Duration, perHour int) *twEnv {
	e := newTWEnv(t, on)
	e.cfg.GitHub.WriteInterval, e.cfg.GitHub.WritesPerHour = interval, perHour
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ghTr, err := github.New(e.cfg.GitHub, nil, github.Options{Logger: logger, Now: e.clock.Now,
		Sleep: func(ctx context.Context, d time.Duration) error { e.clock.Advance(d); return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	e.eng = sync.New(sync.Options{Store: e.st, Config: e.cfg, Clock: e.clock, Logger: logger, Concurrency: 1,
		Trackers: map[ft.TrackerKind]ft.Tracker{ft.GitHub: ghTr, ft.Jira: e.jiraTr}})
	return e
}

// TestPacingSaysWhyItemsWait: items whose creates GitHub pacing holds back say so, each with
// its own turn, on the API and in the count the metrics read; at its turn each is made, with
// no search (nothing was sent) and no attempt counted.
func TestPacingSaysWhyItemsWait(t *testing.T) { pgtest.ForEach(t, testPacingSaysWhyItemsWait) }

func testPacingSaysWhyItemsWait(t *testing.T, db pgtest.Backend) {
	tests := []struct {
		name     string
		interval time.Duration
		perHour  int
		turns    []time.Duration // of items 2..5, from the first create
		reason   string
	}{
		{"write_interval", 10 * time.Second, 500, []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second, 40 * time.Second}, "github.write_interval"},
		{"hourly budget", 0, 2, []time.Duration{0, time.Hour, time.Hour, 2 * time.Hour}, "hourly write budget is spent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := pacedEnv(t, db, tt.interval, tt.perHour)
			t0 := e.clock.Now()
			targets := make([]ft.Target, 5)
			for i := range targets {
				targets[i] = ft.Target{Kind: ft.GitHub, Repo: twRepo}
			}
			signed := twStart
			doc := &ft.Document{ID: "PM-PACE", Title: "Burst", Status: "finalized", SignedOffBy: []string{"carol@acme.com"}, SignedOffAt: &signed}
			for i := range targets {
				doc.ActionItems = append(doc.ActionItems, ft.ActionItem{ID: fmt.Sprintf("AI-%d", i+1), Title: fmt.Sprintf("Action %d", i+1),
					Owner: "bob@acme.com", Priority: "P1"})
			}
			if _, err := e.eng.Intake(e.ctx, sync.WithTargets(doc, targets)); err != nil {
				t.Fatal(err)
			}
			e.run()
			turns := map[string]time.Time{"AI-1": t0}
			for i, d := range tt.turns {
				turns[fmt.Sprintf("AI-%d", i+2)] = t0.Add(d)
			}
			last := t0
			for _, it := range e.pm("PM-PACE").Items {
				turn := turns[it.ID]
				if !turn.After(e.clock.Now()) {
					if it.Sync != ft.SyncLinked || it.Waiting != nil {
						t.Errorf("%s: sync %s, waiting %+v; want linked (its turn came)", it.ID, it.Sync, it.Waiting)
					}
					continue
				}
				if it.Sync != ft.SyncPending || it.Waiting == nil || !it.Waiting.Until.Equal(turn) || !strings.Contains(it.Waiting.Reason, tt.reason) {
					t.Errorf("%s: sync %s, waiting %+v; want pending until %v because of %s", it.ID, it.Sync, it.Waiting, turn, tt.reason)
				}
				last = turn
			}
			waiting, err := e.st.ItemsWaiting(e.ctx, e.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			if len(waiting) != 1 || waiting[0].Tracker != ft.GitHub || !waiting[0].Last.Equal(last) {
				t.Errorf("items waiting = %+v, want GitHub's until %v", waiting, last)
			}

			// Each turn in order: the held creates go without a search.
			for _, d := range tt.turns {
				if e.clock.Now().Before(t0.Add(d)) {
					e.clock.Set(t0.Add(d))
				}
				e.run()
			}
			for _, it := range e.pm("PM-PACE").Items {
				if it.Sync != ft.SyncLinked || it.Waiting != nil {
					t.Errorf("%s after its turn: sync %s, waiting %+v", it.ID, it.Sync, it.Waiting)
				}
			}
			if n := e.gh.Calls("POST", "/repos/"+twRepo+"/issues"); n != 5 || len(e.gh.CallLog()) != 5 {
				t.Errorf("calls %d (%d creates), want only the five creates", len(e.gh.CallLog()), n)
			}
		})
	}
}

// TestPacedCommentIsWrittenAtItsTurn: a comment that GitHub pacing held back was never sent, so
// it is written at its turn, not treated as one whose answer was lost (which waits the
// tracker's settle time before it is tried again).
func TestPacedCommentIsWrittenAtItsTurn(t *testing.T) {
	pgtest.ForEach(t, testPacedCommentIsWrittenAtItsTurn)
}

func testPacedCommentIsWrittenAtItsTurn(t *testing.T, db pgtest.Backend) {
	const interval = 10 * time.Second
	e := pacedEnv(t, db, interval, 500)
	if settle := e.cfg.GitHub.RequestTimeout; settle <= interval {
		t.Fatalf("GitHub's settle time %v is not longer than the write interval %v: the test would not tell", settle, interval)
	}
	e.revise("PM-P", [2]string{"AI-1"}, [2]string{"AI-2"})
	for range 3 { // a turn for each create
		e.run()
		e.clock.Advance(interval)
	}
	it := e.item("PM-P", "AI-1")
	if it.Ticket == nil || e.item("PM-P", "AI-2").Ticket == nil {
		t.Fatalf("AI-1 = %+v; want both items linked first", it)
	}
	_, numText, _ := strings.Cut(it.Ticket.Key, "#")
	var num int
	fmt.Sscan(numText, &num)
	e.revise("PM-P", [2]string{"AI-2"}) // AI-1 removed: its ticket is closed, then commented on
	e.run()                             // the close takes this turn; the comment waits for the next
	closedAt := e.clock.Now()
	if is, _ := e.gh.Issue(twRepo, num); is.State != "closed" || len(is.Comments) != 0 {
		t.Fatalf("removed item's ticket %s with %d comments; want closed, its comment held back", is.State, len(is.Comments))
	}
	e.clock.Set(closedAt.Add(interval))
	e.run()
	if is, _ := e.gh.Issue(twRepo, num); len(is.Comments) != 1 {
		t.Fatalf("%d comments at the comment's turn, want the removal comment (a held comment was never sent)", len(is.Comments))
	}
}
